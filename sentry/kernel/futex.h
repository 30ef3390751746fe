// Futexes: wait queues keyed by a 32-bit word of application memory.
//
// A private futex is named by its address space and address; a shared one by the memory behind
// it: the MemoryFile offset of MAP_SHARED memory (so processes sharing it after fork meet on
// the same queue), or, for private memory, again the address space and address (as Linux keys
// anonymous private pages). The memory manager answers the lookup (LookupFutexWord).
//
// PI futexes keep Linux's protocol on the word (owner TID, FUTEX_WAITERS, FUTEX_OWNER_DIED,
// hand-over to the first waiter on unlock) but no priority inheritance: the host schedules
// the sentry's threads, so a waiter cannot lend its priority to the owner.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <list>
#include <memory>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "sentry/base/errno.h"
#include "sentry/base/user_addr.h"
#include "sentry/mm/memory_manager.h"

namespace sentry::kernel {

struct FutexKey {
  uint64_t space = 0;   // the MemoryManager for private memory; 0 for a MemoryFile offset
  uint64_t offset = 0;  // the address, or the MemoryFile offset
  bool operator==(const FutexKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const FutexKey& k) {
    return H::combine(std::move(h), k.space, k.offset);
  }
};

// A futex word resolved: its key and, when the operation touches memory, the sentry's pointer
// to it (null otherwise).
struct FutexRef {
  FutexKey key;
  uint32_t* word = nullptr;
};

// Names the futex at `addr`. A private operation that does not touch the word (a wake, a
// requeue) needs no memory behind it, as on Linux; `access` (platform access bits, 0 for none)
// says what the operation does to the word. EINVAL when unaligned, EFAULT when unmapped.
Result<FutexRef> ResolveFutex(mm::MemoryManager& mm, UserAddr addr, bool private_op,
                              uint8_t access);

class FutexTable {
 public:
  // FUTEX_WAIT(_BITSET): sleeps while the word equals `expected` until woken (0), the deadline
  // passes (ETIMEDOUT) or the task is interrupted (EINTR); EAGAIN if it differs on entry.
  Result<uint64_t> Wait(const FutexRef& f, uint32_t expected, uint32_t bitset,
                        std::optional<absl::Time> deadline);
  // FUTEX_WAKE(_BITSET): wakes up to n (at least one, as Linux) waiters whose bitset
  // intersects; returns how many. EINVAL when a PI waiter sits on the futex.
  Result<uint64_t> Wake(const FutexKey& key, int n, uint32_t bitset);
  // Wakes one waiter of the shared futex at `addr` (CLONE_CHILD_CLEARTID at exit), if any.
  void WakeOne(mm::MemoryManager& mm, UserAddr addr);
  // FUTEX_REQUEUE / FUTEX_CMP_REQUEUE (`cmp` set: EAGAIN unless *from.word == *cmp): wakes up
  // to nr_wake waiters of `from` and moves up to nr_requeue others to `to`; returns the sum.
  Result<uint64_t> Requeue(const FutexRef& from, const FutexKey& to, int nr_wake, int nr_requeue,
                           std::optional<uint32_t> cmp);
  // FUTEX_WAKE_OP: applies the encoded operation to `second`'s word atomically, wakes up to
  // nr_wake waiters of `first`, and up to nr_wake2 of `second` when the comparison of the old
  // value holds. ENOSYS for an unknown operation or comparison.
  Result<uint64_t> WakeOp(const FutexKey& first, const FutexRef& second, int nr_wake, int nr_wake2,
                          uint32_t encoded_op);

  // FUTEX_LOCK_PI(2) / FUTEX_TRYLOCK_PI for thread `tid`. `alive` says whether a TID names a
  // live thread (an owner that does not exist is ESRCH).
  Result<uint64_t> LockPi(const FutexRef& f, pid_t tid, std::optional<absl::Time> deadline,
                          bool trylock, absl::FunctionRef<bool(pid_t)> alive);
  // FUTEX_UNLOCK_PI: EPERM unless `tid` owns the word; hands the lock to the first waiter.
  Result<uint64_t> UnlockPi(const FutexRef& f, pid_t tid);

  // Robust-list clean-up for one entry of an exiting thread `tid` (Linux's handle_futex_death):
  // marks a lock it holds FUTEX_OWNER_DIED and wakes one waiter (or, for a PI lock, hands it
  // over). `pending` is the list_op_pending entry. Returns false if the word is unreadable.
  bool OwnerDied(const FutexRef& f, pid_t tid, bool pi, bool pending);
  // At exit: PI locks still owned by `tid` that have waiters go to their first waiter.
  void ReleasePiLocksOf(pid_t tid);

 private:
  struct Waiter {
    FutexKey key;  // changes on requeue
    uint32_t bitset = ~0u;
    pid_t tid = 0;             // a PI waiter: who would own the lock
    uint32_t* word = nullptr;  // a PI waiter: the lock word
    bool woken = false;
    absl::CondVar cv;
  };
  using Queue = std::list<std::shared_ptr<Waiter>>;

  // Queues `w` and sleeps until it is woken (0), the deadline (ETIMEDOUT), or an interruption
  // (EINTR); takes it off its queue unless woken.
  int BlockLocked(const std::shared_ptr<Waiter>& w, std::optional<absl::Time> deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int WakeLocked(const FutexKey& key, int n, uint32_t bitset) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveLocked(const std::shared_ptr<Waiter>& w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Gives the PI lock at `key` to its first waiter, keeping `keep_bits` of the old value.
  // Returns false when no PI waiter is queued there.
  bool HandOverPiLocked(const FutexKey& key, uint32_t* word, uint32_t keep_bits)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool HasWaitersLocked(const FutexKey& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  absl::flat_hash_map<FutexKey, Queue> queues_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sentry::kernel
