// What getrusage asks of an address space: the size of the resident set.
#include "sentry/mm/memory_manager.h"

namespace sentry::mm {

uint64_t MemoryManager::AccessibleBytes() {
  uint64_t total = 0;
  absl::MutexLock lock(&mu_);
  for (const Vma* v = vmas_.FindAtOrAfter(0); v != nullptr; v = vmas_.FindAtOrAfter(v->end)) {
    if (v->perms != 0 && !v->special) total += v->length();
  }
  return total;
}

}  // namespace sentry::mm
