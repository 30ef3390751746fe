// futex(2): wait and wake (with bitsets). Requeue, PI and wake-op come with threads.
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>

#include "sentry/kernel/kernel.h"
#include "sentry/syscalls/table.h"

namespace sentry::syscalls {
namespace {

constexpr uint32_t kAllBits = 0xffffffff;

// The absl::Time at which a FUTEX_WAIT* timeout expires. Relative timeouts (FUTEX_WAIT) count
// on CLOCK_MONOTONIC; absolute ones (FUTEX_WAIT_BITSET) on the monotonic or realtime clock.
Result<absl::Time> Deadline(kernel::Task& t, uint64_t addr, bool absolute, bool realtime) {
  timespec ts = TRY(t.mm().CopyInObject<timespec>(UserAddr(addr)));
  if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) return Err(EINVAL);
  absl::Duration d = absl::DurationFromTimespec(ts);
  if (!absolute) return absl::Now() + d;
  timespec now;
  clock_gettime(realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC, &now);
  return absl::Now() + (d - absl::DurationFromTimespec(now));
}

Result<uint64_t> Sys_futex(kernel::Task& t, const Args& a) {
  UserAddr addr(a[0]);
  int op = ArgInt(a[1]);
  uint32_t val = static_cast<uint32_t>(a[2]);
  uint32_t val3 = static_cast<uint32_t>(a[5]);
  bool realtime = op & FUTEX_CLOCK_REALTIME;
  int cmd = op & FUTEX_CMD_MASK;
  auto& futexes = t.kernel().futexes();
  switch (cmd) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET: {
      bool bitset = cmd == FUTEX_WAIT_BITSET;
      if (bitset && val3 == 0) return Err(EINVAL);
      std::optional<absl::Time> deadline;
      if (a[3] != 0) deadline = TRY(Deadline(t, a[3], bitset, realtime));
      return futexes.Wait(t.mm(), addr, val, bitset ? val3 : kAllBits, deadline);
    }
    case FUTEX_WAKE:
    case FUTEX_WAKE_BITSET: {
      bool bitset = cmd == FUTEX_WAKE_BITSET;
      if (realtime) return Err(ENOSYS);
      if (bitset && val3 == 0) return Err(EINVAL);
      return futexes.Wake(addr, val, bitset ? val3 : kAllBits);
    }
    default:
      t.kernel().ReportUnsupported(SYS_futex);
      return Err(ENOSYS);
  }
}

}  // namespace

void RegisterFutexSyscalls(SyscallTable& t) { t.handlers[SYS_futex] = Sys_futex; }

}  // namespace sentry::syscalls
