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

std::shared_ptr<Mappable> Mappable::NewWritableMapping(std::shared_ptr<Mappable> file) {
  Mappable* raw = file.get();
  raw->writable_mappings_.fetch_add(1, std::memory_order_acq_rel);
  // The deleter lets go of the file when called: the control block itself outlives it as long
  // as weak references (MemoryManager::mapped_files_) remain.
  return std::shared_ptr<Mappable>(raw, [keep = std::move(file)](Mappable* m) mutable {
    m->writable_mappings_.fetch_sub(1, std::memory_order_acq_rel);
    keep.reset();
  });
}

size_t Mappable::MapperCount() {
  absl::MutexLock lock(&mappers_mu_);
  return mappers_.size();
}

std::vector<std::shared_ptr<MemoryManager>> Mappable::LiveMappers() {
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
  return live;
}

void Mappable::InvalidateMappings(uint64_t first, uint64_t end) {
  for (const auto& mm : LiveMappers()) mm->InvalidateFilePages(*this, first, end, false);
}

void Mappable::InvalidateMappingsAndCopies(uint64_t first) {
  for (const auto& mm : LiveMappers()) mm->InvalidateFilePages(*this, first, UINT64_MAX, true);
}

}  // namespace sentry::mm
