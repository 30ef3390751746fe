#include "sentry/mm/mappable.h"

#include <vector>

#include "sentry/mm/memory_manager.h"

namespace sentry::mm {

void Mappable::AddMapper(const std::shared_ptr<MemoryManager>& mm) {
  absl::MutexLock lock(&mappers_mu_);
  mappers_.try_emplace(mm.get(), mm);
}

void Mappable::RemoveMapper(const MemoryManager* mm) {
  absl::MutexLock lock(&mappers_mu_);
  mappers_.erase(mm);
}

size_t Mappable::MapperCount() {
  absl::MutexLock lock(&mappers_mu_);
  return mappers_.size();
}

void Mappable::InvalidateMappings(uint64_t first, uint64_t end) {
  std::vector<std::shared_ptr<MemoryManager>> live;
  {
    absl::MutexLock lock(&mappers_mu_);
    for (auto it = mappers_.begin(); it != mappers_.end();) {
      if (auto mm = it->second.lock()) {
        live.push_back(std::move(mm));
        ++it;
      } else {
        it = mappers_.erase(it);
      }
    }
  }
  for (const auto& mm : live) mm->InvalidateFilePages(*this, first, end);
}

}  // namespace sentry::mm
