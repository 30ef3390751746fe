#include "sentry/kernel/futex.h"

#include <algorithm>

#include "sentry/base/interrupter.h"

namespace sentry::kernel {

Result<uint64_t> FutexTable::Wait(mm::MemoryManager& mm, UserAddr addr, uint32_t expected,
                                  uint32_t bitset, std::optional<absl::Time> deadline) {
  if (addr.value % 4 != 0) return Err(EINVAL);
  Waiter self{bitset};
  absl::MutexLock lock(&mu_);
  // Reading the word under the table lock orders it against wakers, who also take it.
  uint32_t current = TRY(mm.CopyInObject<uint32_t>(addr));
  if (current != expected) return Err(EAGAIN);
  auto& queue = queues_[addr.value];
  queue.push_back(&self);
  ScopedArm arm(CurrentInterrupter(), [this] {
    absl::MutexLock l(&mu_);
    cv_.SignalAll();
  });
  int err = 0;
  while (!self.woken) {
    if (arm.Interrupted()) {
      err = EINTR;
      break;
    }
    if (deadline) {
      if (cv_.WaitWithDeadline(&mu_, *deadline) && !self.woken) {
        err = ETIMEDOUT;
        break;
      }
    } else {
      cv_.Wait(&mu_);
    }
  }
  if (!self.woken) {
    auto& q = queues_[addr.value];
    q.remove(&self);
    if (q.empty()) queues_.erase(addr.value);
    return Err(err);
  }
  return 0;
}

Result<uint64_t> FutexTable::Wake(UserAddr addr, uint32_t n, uint32_t bitset) {
  if (addr.value % 4 != 0) return Err(EINVAL);
  absl::MutexLock lock(&mu_);
  auto it = queues_.find(addr.value);
  if (it == queues_.end()) return 0;
  uint64_t woken = 0;
  auto& q = it->second;
  for (auto w = q.begin(); w != q.end() && woken < n;) {
    if ((*w)->bitset & bitset) {
      (*w)->woken = true;
      w = q.erase(w);
      ++woken;
    } else {
      ++w;
    }
  }
  if (q.empty()) queues_.erase(it);
  if (woken > 0) cv_.SignalAll();
  return woken;
}

}  // namespace sentry::kernel
