// futex(2) and the robust-list calls. The queues live in sentry/kernel/futex.cc; this file
// decodes the operation, its timeout, and Linux's restart rules for an interrupted wait.
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/robust_list.h"
#include "sentry/syscalls/table.h"

namespace sentry::syscalls {
namespace {

using kernel::FutexRef;

constexpr int64_t kNsPerSec = 1'000'000'000;

// Which operations read a timeout through the fourth argument (for the others it is a count).
bool HasTimeout(int cmd) {
  return cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET || cmd == FUTEX_LOCK_PI ||
         cmd == FUTEX_LOCK_PI2 || cmd == FUTEX_WAIT_REQUEUE_PI;
}

// The absl::Time at which a timeout expires. FUTEX_WAIT's is relative; the others are absolute
// on CLOCK_MONOTONIC, or CLOCK_REALTIME with FUTEX_CLOCK_REALTIME (always, for FUTEX_LOCK_PI).
Result<absl::Time> Deadline(kernel::Task& t, uint64_t addr, int cmd, bool realtime) {
  timespec ts = TRY(t.mm().CopyInObject<timespec>(UserAddr(addr)));
  if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= kNsPerSec) return Err(EINVAL);
  absl::Duration d = absl::DurationFromTimespec(ts);
  if (cmd == FUTEX_WAIT) return absl::Now() + d;
  if (realtime || cmd == FUTEX_LOCK_PI) return absl::UnixEpoch() + d;
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return absl::Now() + (d - absl::DurationFromTimespec(now));
}

bool ThreadAlive(kernel::Task& t, pid_t tid) {
  // An exiting owner is alive until it has let go of its futexes: a waiter that comes before
  // then is handed the lock (or wakes to FUTEX_OWNER_DIED) when it does.
  auto task = t.kernel().FindTask(tid);
  return task != nullptr && !task->futexes_released();
}

// A FUTEX_WAIT(_BITSET). An interrupted wait with a timeout resumes through restart_syscall
// with the same deadline (or fails with EINTR if a handler runs), as Linux's futex_wait_restart;
// one without a timeout is ERESTARTSYS (restarted by SA_RESTART).
Result<uint64_t> WaitOrRestart(kernel::Task& t, UserAddr addr, bool private_op, uint32_t val,
                               uint32_t bitset, std::optional<absl::Time> deadline) {
  FutexRef f = TRY(kernel::ResolveFutex(t.mm(), addr, private_op, platform::kAccessRead));
  auto r = t.kernel().futexes().Wait(f, val, bitset, deadline);
  if (!r && r.error().value == EINTR && deadline) {
    t.set_restart_block([=](kernel::Task& self) {
      return WaitOrRestart(self, addr, private_op, val, bitset, deadline);
    });
    return Err(kernel::kErrRestartRestartBlock);
  }
  return r;
}

Result<uint64_t> Sys_futex(kernel::Task& t, const Args& a) {
  UserAddr addr(a[0]);
  int op = ArgInt(a[1]);
  uint32_t val = static_cast<uint32_t>(a[2]);
  UserAddr addr2(a[4]);
  uint32_t val3 = static_cast<uint32_t>(a[5]);
  bool private_op = op & FUTEX_PRIVATE_FLAG;
  bool realtime = op & FUTEX_CLOCK_REALTIME;
  int cmd = op & FUTEX_CMD_MASK;
  std::optional<absl::Time> deadline;
  if (a[3] != 0 && HasTimeout(cmd)) deadline = TRY(Deadline(t, a[3], cmd, realtime));
  if (realtime && cmd != FUTEX_WAIT_BITSET && cmd != FUTEX_WAIT_REQUEUE_PI &&
      cmd != FUTEX_LOCK_PI2) {
    return Err(ENOSYS);
  }
  // For the requeue and wake-op forms the timeout argument is a second count.
  int val2 = static_cast<int>(static_cast<uint32_t>(a[3]));
  auto& futexes = t.kernel().futexes();
  switch (cmd) {
    case FUTEX_WAIT:
      return WaitOrRestart(t, addr, private_op, val, FUTEX_BITSET_MATCH_ANY, deadline);
    case FUTEX_WAIT_BITSET:
      if (val3 == 0) return Err(EINVAL);
      return WaitOrRestart(t, addr, private_op, val, val3, deadline);
    case FUTEX_WAKE:
    case FUTEX_WAKE_BITSET: {
      uint32_t bitset = cmd == FUTEX_WAKE_BITSET ? val3 : FUTEX_BITSET_MATCH_ANY;
      if (bitset == 0) return Err(EINVAL);
      FutexRef f = TRY(kernel::ResolveFutex(t.mm(), addr, private_op, platform::kAccessNone));
      return futexes.Wake(f.key, static_cast<int>(val), bitset);
    }
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE: {
      bool compare = cmd == FUTEX_CMP_REQUEUE;
      FutexRef from = TRY(kernel::ResolveFutex(
          t.mm(), addr, private_op, compare ? platform::kAccessRead : platform::kAccessNone));
      FutexRef to = TRY(kernel::ResolveFutex(t.mm(), addr2, private_op, platform::kAccessNone));
      std::optional<uint32_t> cmp;
      if (compare) cmp = val3;
      return futexes.Requeue(from, to.key, static_cast<int>(val), val2, cmp);
    }
    case FUTEX_WAKE_OP: {
      FutexRef first = TRY(kernel::ResolveFutex(t.mm(), addr, private_op, platform::kAccessNone));
      FutexRef second = TRY(kernel::ResolveFutex(t.mm(), addr2, private_op,
                                                 platform::kAccessRead | platform::kAccessWrite));
      return futexes.WakeOp(first.key, second, static_cast<int>(val), val2, val3);
    }
    case FUTEX_LOCK_PI:
    case FUTEX_LOCK_PI2:
    case FUTEX_TRYLOCK_PI: {
      FutexRef f = TRY(kernel::ResolveFutex(t.mm(), addr, private_op,
                                            platform::kAccessRead | platform::kAccessWrite));
      bool trylock = cmd == FUTEX_TRYLOCK_PI;
      auto r = futexes.LockPi(f, t.tid(), trylock ? std::nullopt : deadline, trylock,
                              [&](pid_t tid) { return ThreadAlive(t, tid); });
      // Linux restarts an interrupted lock even after a handler: its deadline is absolute.
      if (!r && r.error().value == EINTR) return Err(kernel::kErrRestartNoIntr);
      return r;
    }
    case FUTEX_UNLOCK_PI: {
      FutexRef f = TRY(kernel::ResolveFutex(t.mm(), addr, private_op,
                                            platform::kAccessRead | platform::kAccessWrite));
      return futexes.UnlockPi(f, t.tid());
    }
    case FUTEX_WAIT_REQUEUE_PI:
    case FUTEX_CMP_REQUEUE_PI:
      // Only condition variables bound to PI mutexes use these (glibc's no longer do).
      t.kernel().ReportUnsupported(SYS_futex);
      return Err(ENOSYS);
    default:
      return Err(ENOSYS);
  }
}

// struct robust_list_head: the list, futex_offset, list_op_pending.
constexpr uint64_t kRobustListHeadSize = 3 * sizeof(uint64_t);

Result<uint64_t> Sys_set_robust_list(kernel::Task& t, const Args& a) {
  if (a[1] != kRobustListHeadSize) return Err(EINVAL);
  t.set_robust_list(UserAddr(a[0]));
  return 0;
}

// get_robust_list: another thread's head needs the right to ptrace it (same user, or
// CAP_SYS_PTRACE), as Linux's PTRACE_MODE_READ_REALCREDS check.
Result<uint64_t> Sys_get_robust_list(kernel::Task& t, const Args& a) {
  pid_t pid = ArgInt(a[0]);
  UserAddr head = t.robust_list();
  if (pid != 0) {
    auto target = t.kernel().FindTask(pid);
    if (!target || pid < 0) return Err(ESRCH);
    if (&target->thread_group() != &t.thread_group()) {
      const auto& me = t.creds();
      const auto& them = target->creds();
      bool same_user = me.ruid == them.euid && me.ruid == them.suid && me.ruid == them.ruid &&
                       me.rgid == them.egid && me.rgid == them.sgid && me.rgid == them.rgid;
      constexpr uint64_t kCapSysPtrace = uint64_t{1} << 19;
      if (!same_user && !(me.cap_effective & kCapSysPtrace)) return Err(EPERM);
    }
    head = target->robust_list();
  }
  TRY(t.mm().CopyOutObject(UserAddr(a[2]), kRobustListHeadSize));
  TRY(t.mm().CopyOutObject(UserAddr(a[1]), head.value));
  return 0;
}

}  // namespace

void RegisterFutexSyscalls(SyscallTable& t) {
  t.handlers[SYS_futex] = Sys_futex;
  t.handlers[SYS_set_robust_list] = Sys_set_robust_list;
  t.handlers[SYS_get_robust_list] = Sys_get_robust_list;
}

}  // namespace sentry::syscalls
