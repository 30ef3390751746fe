// What /proc and getrusage ask of an address space: forced access, as /proc/PID/mem (and a
// debugger) gets it (Linux's FOLL_FORCE, which looks past the protection the application set),
// and the size of the resident set.
#include <algorithm>
#include <cstring>

#include "sentry/mm/memory_manager.h"

namespace sentry::mm {

using platform::kAccessRead;
using platform::kAccessWrite;

Result<uint64_t> MemoryManager::ForceAccess(UserAddr addr, uint8_t* buf, uint64_t length,
                                            bool write) {
  if (length == 0) return 0;
  uint64_t cur = addr.value;
  // A range that wraps ends where the address space does.
  uint64_t end = cur > UINT64_MAX - length ? UINT64_MAX : cur + length;
  absl::MutexLock lock(&mu_);
  while (cur < end) {
    const Vma* v = vmas_.Find(cur);
    if (v == nullptr) break;
    if (write && v->IsPrivateFile()) {
      // A private file mapping's page gets its own copy first, as a store would give it.
      uint64_t stop = end >= v->end ? v->end : std::min(v->end, *PageRoundUp(end));
      if (!CopyPrivateFilePagesLocked(PageRoundDown(cur), stop)) break;
      v = vmas_.Find(cur);
      if (v == nullptr) break;
    }
    if (write) {
      // Linux forces writes only into copy-on-write (private) mappings; shared memory must
      // be writable already.
      if (!(v->perms & kAccessWrite) && !v->OwnsMemory()) break;
      if (v->OwnsMemory()) {
        // The sentry writes through its own view, so a read-only mapping needs no change in
        // the platform; memory still shared with a fork is copied first.
        uint64_t stop = end >= v->end ? v->end : std::min(v->end, *PageRoundUp(end));
        if (!BreakCowLocked(PageRoundDown(cur), stop)) break;
        v = vmas_.Find(cur);
        if (v == nullptr) break;
      }
    } else if (!((v->perms | v->max_perms) & kAccessRead)) {
      break;  // not even mprotect could make it readable (Linux's VM_MAYREAD)
    }
    auto resolved = ResolveLocked(*v, cur);
    if (!resolved) break;
    auto [p, avail] = *resolved;
    uint64_t n = std::min(end - cur, avail);
    uint8_t* at = buf + (cur - addr.value);
    if (write) {
      std::memmove(p, at, n);
    } else {
      std::memmove(at, p, n);
    }
    cur += n;
  }
  if (cur == addr.value) return Err(EFAULT);
  return cur - addr.value;
}

uint64_t MemoryManager::AccessibleBytes() {
  uint64_t total = 0;
  absl::MutexLock lock(&mu_);
  for (const Vma* v = vmas_.FindAtOrAfter(0); v != nullptr; v = vmas_.FindAtOrAfter(v->end)) {
    if (v->perms != 0) total += v->length();
  }
  return total;
}

}  // namespace sentry::mm
