// Clocks and sleeps. Wall and monotonic clocks are the host's; CPU clocks count the sentry's
// work for the task plus the application's own time on the platform.
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "sentry/base/interrupter.h"
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

// CPU clocks: the two fixed ids, or a dynamic id naming this process or thread
// (clock_getcpuclockid).
bool IsOwnCpuClock(kernel::Task& t, clockid_t id) {
  if (id == CLOCK_PROCESS_CPUTIME_ID || id == CLOCK_THREAD_CPUTIME_ID) return true;
  if (id >= 0 || (id & 3) == 3) return false;
  pid_t pid = static_cast<pid_t>(~(id >> 3));
  bool per_thread = id & 4;
  return pid == 0 || pid == (per_thread ? t.tid() : t.thread_group().tgid());
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
  if (IsOwnCpuClock(t, id)) return FromNs(t.CpuTimeNs());
  return Err(EINVAL);
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
  } else if (IsOwnCpuClock(t, id)) {
    res = {0, 1};
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

// Sleeps on host clock `id` until `ts` (absolute with TIMER_ABSTIME, else relative). An
// interruption ends it with EINTR and, for a relative sleep, the time left in `*rem`.
Result<uint64_t> Sleep(clockid_t id, int flags, const timespec& ts, timespec* rem) {
  timespec now{};
  clock_gettime(id, &now);
  int64_t end = (flags & TIMER_ABSTIME) ? ToNs(ts) : ToNs(now) + ToNs(ts);
  // Shared with the wake-up, which may run after this sleep has ended (interrupter.h).
  auto shared = std::make_shared<std::pair<absl::Mutex, absl::CondVar>>();
  ScopedArm arm(CurrentInterrupter(), [shared] {
    absl::MutexLock l(&shared->first);
    shared->second.SignalAll();
  });
  absl::MutexLock inner(&shared->first);
  while (true) {
    clock_gettime(id, &now);
    int64_t left = end - ToNs(now);
    if (left <= 0) return 0;
    if (arm.Interrupted()) {
      if (rem != nullptr && !(flags & TIMER_ABSTIME)) {
        *rem = timespec{left / kNsPerSec, left % kNsPerSec};
      }
      return Err(EINTR);
    }
    // The clock may be stepped (CLOCK_REALTIME): re-read it at least every second.
    shared->second.WaitWithTimeout(&shared->first,
                                   absl::Nanoseconds(std::min<int64_t>(left, kNsPerSec)));
  }
}

Result<uint64_t> SleepAndReport(kernel::Task& t, clockid_t id, int flags, const timespec& ts,
                                uint64_t rem_addr) {
  timespec rem{};
  auto r = Sleep(id, flags, ts, &rem);
  if (!r && r.error().value == EINTR && rem_addr != 0 && !(flags & TIMER_ABSTIME)) {
    TRY(t.mm().CopyOutObject(UserAddr(rem_addr), rem));
  }
  return r;
}

Result<uint64_t> Sys_nanosleep(kernel::Task& t, const Args& a) {
  timespec ts = TRY(CopyInTimespec(t, a[0]));
  return SleepAndReport(t, CLOCK_MONOTONIC, 0, ts, a[1]);
}

Result<uint64_t> Sys_clock_nanosleep(kernel::Task& t, const Args& a) {
  clockid_t id = static_cast<clockid_t>(a[0]);
  int flags = ArgInt(a[1]);
  // Linux refuses to sleep on a thread CPU clock; sleeping on a process CPU clock is not served
  // yet, and says so the same way.
  if (IsOwnCpuClock(t, id)) return Err(EOPNOTSUPP);
  if (id != CLOCK_REALTIME && id != CLOCK_MONOTONIC && id != CLOCK_BOOTTIME && id != CLOCK_TAI) {
    return Err(IsHostClock(id) ? ENOTSUP : EINVAL);
  }
  timespec ts = TRY(CopyInTimespec(t, a[2]));
  return SleepAndReport(t, id, flags & TIMER_ABSTIME, ts, a[3]);
}

}  // namespace

void RegisterTimeSyscalls(SyscallTable& t) {
  t.handlers[SYS_clock_gettime] = Sys_clock_gettime;
  t.handlers[SYS_clock_getres] = Sys_clock_getres;
  t.handlers[SYS_gettimeofday] = Sys_gettimeofday;
  t.handlers[SYS_time] = Sys_time;
  t.handlers[SYS_nanosleep] = Sys_nanosleep;
  t.handlers[SYS_clock_nanosleep] = Sys_clock_nanosleep;
}

}  // namespace sentry::syscalls
