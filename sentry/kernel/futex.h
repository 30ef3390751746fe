// Futexes: wait queues keyed by the address of a 32-bit word in application memory.
// Private and shared futexes are keyed alike for now: no memory is shared between address
// spaces yet.
#pragma once

#include <cstdint>
#include <list>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "sentry/base/errno.h"
#include "sentry/base/user_addr.h"
#include "sentry/mm/memory_manager.h"

namespace sentry::kernel {

class FutexTable {
 public:
  // FUTEX_WAIT(_BITSET): sleeps while *addr == expected until woken (0), the deadline passes
  // (ETIMEDOUT), or *addr differs on entry (EAGAIN).
  Result<uint64_t> Wait(mm::MemoryManager& mm, UserAddr addr, uint32_t expected, uint32_t bitset,
                        std::optional<absl::Time> deadline);
  // FUTEX_WAKE(_BITSET): wakes up to n waiters whose bitset intersects; returns how many.
  Result<uint64_t> Wake(UserAddr addr, uint32_t n, uint32_t bitset);

 private:
  struct Waiter {
    uint32_t bitset;
    bool woken = false;
  };
  absl::Mutex mu_;
  absl::CondVar cv_;
  absl::flat_hash_map<uint64_t, std::list<Waiter*>> queues_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sentry::kernel
