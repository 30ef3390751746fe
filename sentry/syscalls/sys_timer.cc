// Interval timers: alarm, getitimer/setitimer (ITIMER_REAL, and ITIMER_VIRTUAL/ITIMER_PROF on
// the process's CPU time) and POSIX timers (timer_create and friends) on the wall, monotonic,
// boot and CPU-time clocks. The timers themselves live in sentry/kernel/timers.cc.
#include <signal.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#include <chrono>
#include <memory>

#include "sentry/kernel/cpu_clocks.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/timers.h"
#include "sentry/syscalls/table.h"

namespace sentry::syscalls {
namespace {

using kernel::IntervalTimer;
using kernel::Nanos;
using kernel::SteadyTime;

constexpr int64_t kNsPerSec = 1000000000;

Nanos FromTimeval(const timeval& tv) { return Nanos(tv.tv_sec * kNsPerSec + tv.tv_usec * 1000); }
Nanos FromTimespec(const timespec& ts) { return Nanos(ts.tv_sec * kNsPerSec + ts.tv_nsec); }

timeval ToTimeval(Nanos n) {
  // Linux rounds a remaining time up to whole microseconds, so a live timer never reads 0.
  int64_t us = (n.count() + 999) / 1000;
  return timeval{us / 1000000, us % 1000000};
}

timespec ToTimespec(Nanos n) { return timespec{n.count() / kNsPerSec, n.count() % kNsPerSec}; }

bool ValidTimeval(const timeval& tv) {
  return tv.tv_sec >= 0 && tv.tv_usec >= 0 && tv.tv_usec < 1000000;
}

bool ValidTimespec(const timespec& ts) {
  return ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < kNsPerSec;
}

std::shared_ptr<IntervalTimer> RealTimer(kernel::Task& t) {
  auto& tg = t.thread_group();
  std::lock_guard lock(tg.mu());
  if (!tg.itimer_real()) {
    auto timer = std::make_shared<IntervalTimer>();
    timer->owner = t.thread_group_ptr();
    timer->signo = SIGALRM;
    timer->si_code = SI_KERNEL;
    tg.itimer_real() = timer;
  }
  return tg.itimer_real();
}

// A CPU timer's reading of `clock`, as its IntervalTimer wants it.
std::function<std::optional<Nanos>()> CpuClockReader(kernel::Kernel& k, kernel::CpuClock clock) {
  return [&k, clock]() -> std::optional<Nanos> {
    auto v = kernel::ReadCpuClock(k, clock);
    if (!v) return std::nullopt;
    return Nanos(static_cast<int64_t>(*v));
  };
}

// ITIMER_VIRTUAL (user time, SIGVTALRM) or ITIMER_PROF (user and system time, SIGPROF).
std::shared_ptr<IntervalTimer> CpuItimer(kernel::Task& t, int which) {
  auto& tg = t.thread_group();
  std::lock_guard lock(tg.mu());
  auto& slot = tg.itimer_cpu(which);
  if (!slot) {
    auto timer = std::make_shared<IntervalTimer>();
    timer->owner = t.thread_group_ptr();
    timer->signo = which == ITIMER_VIRTUAL ? SIGVTALRM : SIGPROF;
    timer->si_code = SI_KERNEL;
    kernel::CpuClock clock;
    clock.process = t.thread_group_ptr();
    clock.kind =
        which == ITIMER_VIRTUAL ? kernel::CpuClockKind::kVirt : kernel::CpuClockKind::kProf;
    timer->cpu_clock = CpuClockReader(t.kernel(), clock);
    slot = timer;
  }
  return slot;
}

// Arms `timer` `value` from now on its own clock (disarms it for 0).
kernel::TimerService::Setting ArmRelative(kernel::Task& t,
                                          const std::shared_ptr<IntervalTimer>& timer, Nanos value,
                                          Nanos interval) {
  std::optional<SteadyTime> next;
  if (value.count() > 0) {
    if (timer->cpu_clock) {
      auto now = timer->cpu_clock();
      next = SteadyTime(now.value_or(Nanos(0)) + value);
    } else {
      next = std::chrono::steady_clock::now() + value;
    }
  }
  return t.kernel().timers().Set(timer, next, interval);
}

kernel::TimerService::Setting SetReal(kernel::Task& t, Nanos value, Nanos interval) {
  auto timer = RealTimer(t);
  std::optional<SteadyTime> next;
  if (value.count() > 0) next = std::chrono::steady_clock::now() + value;
  return t.kernel().timers().Set(timer, next, interval);
}

Result<uint64_t> Sys_alarm(kernel::Task& t, const Args& a) {
  auto old = SetReal(t, Nanos(static_cast<int64_t>(static_cast<uint32_t>(a[0])) * kNsPerSec),
                     Nanos(0));
  timeval left = ToTimeval(old.remaining);
  // Rounded to the nearest second, and never 0 for a timer that was still running.
  uint64_t secs = static_cast<uint64_t>(left.tv_sec);
  if (left.tv_usec >= 500000 || (secs == 0 && left.tv_usec > 0)) ++secs;
  return secs;
}

Result<uint64_t> Sys_getitimer(kernel::Task& t, const Args& a) {
  int which = ArgInt(a[0]);
  if (which != ITIMER_REAL && which != ITIMER_VIRTUAL && which != ITIMER_PROF) return Err(EINVAL);
  auto s = t.kernel().timers().Get(which == ITIMER_REAL ? RealTimer(t) : CpuItimer(t, which));
  itimerval v{ToTimeval(s.interval), ToTimeval(s.remaining)};
  TRY(t.mm().CopyOutObject(UserAddr(a[1]), v));
  return 0;
}

Result<uint64_t> Sys_setitimer(kernel::Task& t, const Args& a) {
  int which = ArgInt(a[0]);
  itimerval v{};
  if (a[1] != 0) v = TRY(t.mm().CopyInObject<itimerval>(UserAddr(a[1])));
  if (which != ITIMER_REAL && which != ITIMER_VIRTUAL && which != ITIMER_PROF) return Err(EINVAL);
  if (!ValidTimeval(v.it_value) || !ValidTimeval(v.it_interval)) return Err(EINVAL);
  auto old = which == ITIMER_REAL ? SetReal(t, FromTimeval(v.it_value), FromTimeval(v.it_interval))
                                  : ArmRelative(t, CpuItimer(t, which), FromTimeval(v.it_value),
                                                FromTimeval(v.it_interval));
  if (a[2] != 0) {
    itimerval o{ToTimeval(old.interval), ToTimeval(old.remaining)};
    TRY(t.mm().CopyOutObject(UserAddr(a[2]), o));
  }
  return 0;
}

bool TimerClockSupported(clockid_t c) {
  return c == CLOCK_REALTIME || c == CLOCK_MONOTONIC || c == CLOCK_BOOTTIME;
}

struct PosixTimer : IntervalTimer {
  clockid_t clock = CLOCK_MONOTONIC;
};

// The kernel's timer_t is an int: the register's upper half is not part of the id (glibc's
// timer_t is a pointer-sized type whose upper half the kernel never wrote).
Result<std::shared_ptr<PosixTimer>> FindTimer(kernel::Task& t, uint64_t arg) {
  int id = ArgInt(arg);
  if (id < 0) return Err(EINVAL);
  std::lock_guard lock(t.thread_group().mu());
  auto& timers = t.thread_group().posix_timers();
  auto it = timers.find(static_cast<int>(id));
  if (it == timers.end()) return Err(EINVAL);
  return std::static_pointer_cast<PosixTimer>(it->second);
}

Result<uint64_t> Sys_timer_create(kernel::Task& t, const Args& a) {
  clockid_t clock = static_cast<clockid_t>(a[0]);
  auto timer = std::make_shared<PosixTimer>();
  if (kernel::IsFdClockId(clock)) return Err(EOPNOTSUPP);  // no such clocks here, nor timers
  if (kernel::IsCpuClockId(clock)) {
    timer->cpu_clock = CpuClockReader(t.kernel(), TRY(kernel::ResolveCpuClock(t, clock)));
  } else if (!TimerClockSupported(clock)) {
    // The alarm clocks need CAP_WAKE_ALARM.
    if (clock == CLOCK_REALTIME_ALARM || clock == CLOCK_BOOTTIME_ALARM) return Err(EPERM);
    return Err(EINVAL);
  }
  timer->clock = clock;
  timer->owner = t.thread_group_ptr();
  timer->si_code = SI_TIMER;
  timer->signo = SIGALRM;
  bool default_value = true;
  if (a[1] != 0) {
    auto ev = TRY(t.mm().CopyInObject<sigevent>(UserAddr(a[1])));
    switch (ev.sigev_notify) {
      case SIGEV_NONE:
        timer->signo = 0;
        break;
      case SIGEV_SIGNAL:
      case SIGEV_THREAD_ID: {
        if (ev.sigev_signo < 1 || ev.sigev_signo > kernel::kNumSignals) return Err(EINVAL);
        timer->signo = ev.sigev_signo;
        if (ev.sigev_notify == SIGEV_THREAD_ID) {
          pid_t tid = ev._sigev_un._tid;
          auto target = t.kernel().FindTask(tid);
          if (!target || &target->thread_group() != &t.thread_group()) return Err(EINVAL);
          timer->tid = tid;
        }
        break;
      }
      default:
        return Err(EINVAL);  // SIGEV_THREAD is glibc's, built on SIGEV_THREAD_ID
    }
    timer->value = ev.sigev_value;
    default_value = false;
  }
  int id;
  {
    std::lock_guard lock(t.thread_group().mu());
    id = t.thread_group().next_timer_id();
    timer->id = id;
    if (default_value) timer->value.sival_int = id;
    t.thread_group().posix_timers()[id] = timer;
  }
  if (auto r = t.mm().CopyOutObject(UserAddr(a[2]), id); !r) {
    std::lock_guard lock(t.thread_group().mu());
    t.thread_group().posix_timers().erase(id);
    return std::unexpected(r.error());
  }
  return 0;
}

Result<uint64_t> Sys_timer_settime(kernel::Task& t, const Args& a) {
  auto timer = TRY(FindTimer(t, a[0]));
  int flags = ArgInt(a[1]);
  auto v = TRY(t.mm().CopyInObject<itimerspec>(UserAddr(a[2])));
  if (!ValidTimespec(v.it_value) || !ValidTimespec(v.it_interval)) return Err(EINVAL);
  std::optional<SteadyTime> next;
  Nanos value = FromTimespec(v.it_value);
  if (value.count() > 0 && timer->cpu_clock) {
    // CPU timers count on their clock's own scale: an absolute time is a clock reading.
    auto now = timer->cpu_clock();
    next = SteadyTime((flags & TIMER_ABSTIME) ? value : now.value_or(Nanos(0)) + value);
  } else if (value.count() > 0) {
    auto now = std::chrono::steady_clock::now();
    if (flags & TIMER_ABSTIME) {
      timespec clock_now{};
      clock_gettime(timer->clock, &clock_now);
      next = now + (value - FromTimespec(clock_now));
    } else {
      next = now + value;
    }
  }
  auto old = t.kernel().timers().Set(timer, next, FromTimespec(v.it_interval));
  if (a[3] != 0) {
    itimerspec o{ToTimespec(old.interval), ToTimespec(old.remaining)};
    TRY(t.mm().CopyOutObject(UserAddr(a[3]), o));
  }
  return 0;
}

Result<uint64_t> Sys_timer_gettime(kernel::Task& t, const Args& a) {
  auto timer = TRY(FindTimer(t, a[0]));
  auto s = t.kernel().timers().Get(timer);
  itimerspec v{ToTimespec(s.interval), ToTimespec(s.remaining)};
  TRY(t.mm().CopyOutObject(UserAddr(a[1]), v));
  return 0;
}

Result<uint64_t> Sys_timer_getoverrun(kernel::Task& t, const Args& a) {
  auto timer = TRY(FindTimer(t, a[0]));
  return std::min<uint64_t>(t.kernel().timers().Overrun(timer), INT32_MAX);
}

Result<uint64_t> Sys_timer_delete(kernel::Task& t, const Args& a) {
  auto timer = TRY(FindTimer(t, a[0]));
  {
    std::lock_guard lock(t.thread_group().mu());
    t.thread_group().posix_timers().erase(timer->id);
  }
  t.kernel().timers().Set(timer, std::nullopt, Nanos(0));
  return 0;
}

}  // namespace

void RegisterTimerSyscalls(SyscallTable& t) {
  t.handlers[SYS_alarm] = Sys_alarm;
  t.handlers[SYS_getitimer] = Sys_getitimer;
  t.handlers[SYS_setitimer] = Sys_setitimer;
  t.handlers[SYS_timer_create] = Sys_timer_create;
  t.handlers[SYS_timer_settime] = Sys_timer_settime;
  t.handlers[SYS_timer_gettime] = Sys_timer_gettime;
  t.handlers[SYS_timer_getoverrun] = Sys_timer_getoverrun;
  t.handlers[SYS_timer_delete] = Sys_timer_delete;
}

}  // namespace sentry::syscalls
