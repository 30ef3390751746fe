#include "sentry/kernel/robust_list.h"

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {
namespace {

constexpr int kRobustListLimit = 2048;  // Linux's ROBUST_LIST_LIMIT

// struct robust_list_head, as the application lays it out.
struct RobustListHead {
  uint64_t next;  // the first entry; bit 0 says it is a PI futex
  int64_t futex_offset;
  uint64_t list_op_pending;
};

// One entry; false when its word is unaligned or unmapped, which ends the walk (as Linux's).
bool HandleDeath(Task& task, uint64_t entry, int64_t offset, bool pi, bool pending) {
  UserAddr word(entry + static_cast<uint64_t>(offset));
  auto f = ResolveFutex(task.mm(), word, /*private_op=*/false,
                        platform::kAccessRead | platform::kAccessWrite);
  return f && task.kernel().futexes().OwnerDied(*f, task.tid(), pi, pending);
}

}  // namespace

void ReleaseRobustFutexes(Task& task, bool exiting) {
  // First, so that a locker that comes after the hand-over below does not wait for us.
  if (exiting) task.set_futexes_released();
  UserAddr head_addr = task.robust_list();
  task.set_robust_list(UserAddr(0));
  if (head_addr.value != 0) {
    if (auto head = task.mm().CopyInObject<RobustListHead>(head_addr); head) {
      uint64_t entry = head->next & ~1ULL;
      bool pi = head->next & 1;
      uint64_t pending = head->list_op_pending & ~1ULL;
      bool pending_pi = head->list_op_pending & 1;
      for (int left = kRobustListLimit; entry != head_addr.value && left > 0; --left) {
        // Read the link first: waking a waiter lets it free the entry.
        auto next = task.mm().CopyInObject<uint64_t>(UserAddr(entry));
        if (entry != pending && !HandleDeath(task, entry, head->futex_offset, pi, false)) break;
        if (!next) break;
        entry = *next & ~1ULL;
        pi = *next & 1;
      }
      if (pending != 0) HandleDeath(task, pending, head->futex_offset, pending_pi, true);
    }
  }
  task.kernel().futexes().ReleasePiLocksOf(task.tid());
}

}  // namespace sentry::kernel
