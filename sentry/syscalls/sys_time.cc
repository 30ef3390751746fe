// Clocks and sleeps. Wall and monotonic clocks are the host's; CPU clocks count the sentry's
// work for the task plus the application's own time on the platform (kernel/cpu_clocks.h).
// An interrupted relative sleep resumes through restart_syscall with what was left of it.
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "sentry/base/interrupter.h"
#include "sentry/kernel/cpu_clocks.h"
#include "sentry/kernel/kernel.h"
#include "sentry/syscalls/table.h"

namespace sentry::syscalls {
namespace {

constexpr int64_t kNsPerSec = 1000000000;

bool IsHostClock(clockid_t id) {
  switch (id) {
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
    case CLOCK_REALTIME_ALARM:
    case CLOCK_BOOTTIME_ALARM:
    case CLOCK_TAI:
      return true;
    default:
      return false;
  }
}

timespec FromNs(uint64_t ns) {
  return timespec{static_cast<time_t>(ns / kNsPerSec), static_cast<long>(ns % kNsPerSec)};
}

Result<timespec> ReadClock(kernel::Task& t, clockid_t id) {
  timespec ts{};
  if (IsHostClock(id)) {
    if (clock_gettime(id, &ts) != 0) return Err(errno);
    return ts;
  }
  if (!kernel::IsCpuClockId(id)) return Err(EINVAL);
  auto clock = TRY(kernel::ResolveCpuClock(t, id));
  auto ns = kernel::ReadCpuClock(t.kernel(), clock);
  if (!ns) return Err(EINVAL);
  return FromNs(*ns);
}

Result<uint64_t> Sys_clock_gettime(kernel::Task& t, const Args& a) {
  timespec ts = TRY(ReadClock(t, static_cast<clockid_t>(a[0])));
  TRY(t.mm().CopyOutObject(UserAddr(a[1]), ts));
  return 0;
}

Result<uint64_t> Sys_clock_getres(kernel::Task& t, const Args& a) {
  clockid_t id = static_cast<clockid_t>(a[0]);
  timespec res{};
  if (IsHostClock(id)) {
    if (clock_getres(id, &res) != 0) return Err(errno);
  } else if (kernel::IsCpuClockId(id)) {
    auto clock = TRY(kernel::ResolveCpuClock(t, id));
    // Linux: the scheduler's clock counts nanoseconds, the others ticks (CONFIG_HZ=1000 here).
    res = {0, clock.kind == kernel::CpuClockKind::kSched ? 1 : 1000000};
  } else {
    return Err(EINVAL);
  }
  if (a[1] != 0) TRY(t.mm().CopyOutObject(UserAddr(a[1]), res));
  return 0;
}

Result<uint64_t> Sys_gettimeofday(kernel::Task& t, const Args& a) {
  if (a[0] != 0) {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    timeval tv{ts.tv_sec, ts.tv_nsec / 1000};
    TRY(t.mm().CopyOutObject(UserAddr(a[0]), tv));
  }
  if (a[1] != 0) {
    struct timezone tz {
      0, 0
    };  // the sandbox runs in UTC
    TRY(t.mm().CopyOutObject(UserAddr(a[1]), tz));
  }
  return 0;
}

Result<uint64_t> Sys_time(kernel::Task& t, const Args& a) {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t now = ts.tv_sec;
  if (a[0] != 0) TRY(t.mm().CopyOutObject(UserAddr(a[0]), now));
  return static_cast<uint64_t>(now);
}

Result<timespec> CopyInTimespec(kernel::Task& t, uint64_t addr) {
  timespec ts = TRY(t.mm().CopyInObject<timespec>(UserAddr(addr)));
  if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= kNsPerSec) return Err(EINVAL);
  return ts;
}

int64_t ToNs(const timespec& ts) { return ts.tv_sec * kNsPerSec + ts.tv_nsec; }

// The clock a sleep counts on: a host clock, or a CPU clock (read, never waited on).
struct SleepClock {
  clockid_t host = CLOCK_MONOTONIC;
  std::optional<kernel::CpuClock> cpu;
};

// Now on `c` in nanoseconds; nullopt when a CPU clock's process has gone.
std::optional<int64_t> ClockNowNs(kernel::Task& t, const SleepClock& c) {
  if (c.cpu) {
    auto v = kernel::ReadCpuClock(t.kernel(), *c.cpu);
    if (!v) return std::nullopt;
    return static_cast<int64_t>(*v);
  }
  timespec now{};
  clock_gettime(c.host, &now);
  return ToNs(now);
}

// Sleeps until `c` reads `end` ns: 0, or EINTR with the time left in `*left_ns` when the task
// is interrupted. A host clock may be stepped (CLOCK_REALTIME), so it is re-read at least
// every second; CPU time is no event, so a CPU clock is looked at every 10 ms.
Result<uint64_t> SleepUntil(kernel::Task& t, const SleepClock& c, int64_t end, int64_t* left_ns) {
  // Shared with the wake-up, which may run after this sleep has ended (interrupter.h).
  auto shared = std::make_shared<std::pair<absl::Mutex, absl::CondVar>>();
  ScopedArm arm(CurrentInterrupter(), [shared] {
    absl::MutexLock l(&shared->first);
    shared->second.SignalAll();
  });
  const int64_t max_step = c.cpu ? kNsPerSec / 100 : kNsPerSec;
  absl::MutexLock inner(&shared->first);
  while (true) {
    auto now = ClockNowNs(t, c);
    if (!now) return 0;  // nothing left to count on
    int64_t left = end - *now;
    if (left <= 0) return 0;
    if (arm.Interrupted()) {
      *left_ns = left;
      return Err(EINTR);
    }
    shared->second.WaitWithTimeout(&shared->first,
                                   absl::Nanoseconds(std::min<int64_t>(left, max_step)));
  }
}

// A relative sleep until `end`: interrupted, it reports the time left in `rem_addr` and
// leaves a restart block that sleeps on to the same end (Linux's hrtimer_nanosleep_restart).
Result<uint64_t> RelativeSleep(kernel::Task& t, const SleepClock& c, int64_t end,
                               uint64_t rem_addr) {
  int64_t left = 0;
  auto r = SleepUntil(t, c, end, &left);
  if (r || r.error().value != EINTR) return r;
  if (rem_addr != 0) {
    TRY(t.mm().CopyOutObject(UserAddr(rem_addr), FromNs(static_cast<uint64_t>(left))));
  }
  t.set_restart_block(
      [c, end, rem_addr](kernel::Task& self) { return RelativeSleep(self, c, end, rem_addr); });
  return Err(kernel::kErrRestartRestartBlock);
}

// Any sleep. An absolute one interrupted is ERESTARTNOHAND (by syscall number): restarted
// as it was, with its same deadline.
Result<uint64_t> Sleep(kernel::Task& t, const SleepClock& c, int flags, const timespec& ts,
                       uint64_t rem_addr) {
  auto now = ClockNowNs(t, c);
  if (!now) return Err(EINVAL);
  if (flags & TIMER_ABSTIME) {
    int64_t unused;
    return SleepUntil(t, c, ToNs(ts), &unused);
  }
  return RelativeSleep(t, c, *now + ToNs(ts), rem_addr);
}

Result<uint64_t> Sys_nanosleep(kernel::Task& t, const Args& a) {
  timespec ts = TRY(CopyInTimespec(t, a[0]));
  return Sleep(t, SleepClock{}, 0, ts, a[1]);
}

Result<uint64_t> Sys_clock_nanosleep(kernel::Task& t, const Args& a) {
  clockid_t id = static_cast<clockid_t>(a[0]);
  int flags = ArgInt(a[1]);
  SleepClock clock{.host = id, .cpu = std::nullopt};
  if (kernel::IsFdClockId(id)) return Err(EOPNOTSUPP);  // no such clocks here, nor sleeps
  if (kernel::IsCpuClockId(id)) {
    // Linux cannot sleep on the calling thread's own clock: the fixed id has no sleep at all
    // (EOPNOTSUPP), a dynamic id naming the caller is EINVAL.
    if (id == CLOCK_THREAD_CPUTIME_ID) return Err(EOPNOTSUPP);
    if (kernel::IsThreadCpuClockId(id) &&
        (kernel::CpuClockPid(id) == 0 || kernel::CpuClockPid(id) == t.tid())) {
      return Err(EINVAL);
    }
    clock.cpu = TRY(kernel::ResolveCpuClock(t, id));
  } else if (id != CLOCK_REALTIME && id != CLOCK_MONOTONIC && id != CLOCK_BOOTTIME &&
             id != CLOCK_TAI) {
    return Err(IsHostClock(id) ? ENOTSUP : EINVAL);
  }
  timespec ts = TRY(CopyInTimespec(t, a[2]));
  return Sleep(t, clock, flags & TIMER_ABSTIME, ts, a[3]);
}

// restart_syscall(2): resumes what the last ERESTART_RESTARTBLOCK left; EINTR when nothing.
Result<uint64_t> Sys_restart_syscall(kernel::Task& t, const Args&) {
  auto fn = t.TakeRestartBlock();
  if (!fn) return Err(EINTR);
  return fn(t);
}

}  // namespace

void RegisterTimeSyscalls(SyscallTable& t) {
  t.handlers[SYS_clock_gettime] = Sys_clock_gettime;
  t.handlers[SYS_clock_getres] = Sys_clock_getres;
  t.handlers[SYS_gettimeofday] = Sys_gettimeofday;
  t.handlers[SYS_time] = Sys_time;
  t.handlers[SYS_nanosleep] = Sys_nanosleep;
  t.handlers[SYS_clock_nanosleep] = Sys_clock_nanosleep;
  t.handlers[SYS_restart_syscall] = Sys_restart_syscall;
}

}  // namespace sentry::syscalls
