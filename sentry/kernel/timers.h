// Interval timers: setitimer/alarm and POSIX timers (timer_create). One service thread per
// kernel sleeps until the earliest expiry and sends each timer's signal; timers are owned by
// their process and die with it. A timer on a CPU-time clock (ITIMER_VIRTUAL, ITIMER_PROF, a
// CPU clock's timer_create) counts in that clock's nanoseconds; CPU time is not an event
// anyone is told about, so while such a timer is armed the thread looks at it every
// kCpuTimerTick.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "absl/synchronization/mutex.h"

namespace sentry::kernel {

class Kernel;
class ThreadGroup;

using SteadyTime = std::chrono::steady_clock::time_point;
using Nanos = std::chrono::nanoseconds;

struct IntervalTimer {
  std::weak_ptr<ThreadGroup> owner;
  pid_t tid = 0;         // SIGEV_THREAD_ID target; 0 for the process
  int signo = SIGALRM;   // 0: SIGEV_NONE (counts, sends nothing)
  int si_code = SI_TIMER;
  int id = 0;            // timer_create's id (si_timerid)
  sigval value{};
  // A CPU-time timer's clock: its value now, nullopt once its thread or process has gone.
  // Then `next` is that clock's reading (as time since the epoch of SteadyTime) to fire at.
  std::function<std::optional<Nanos>()> cpu_clock;
  // Guarded by the service's lock.
  bool armed = false;
  SteadyTime next{};
  Nanos interval{0};
  uint64_t overrun = 0;      // expiries folded into the last signal
  uint64_t last_overrun = 0; // what timer_getoverrun reports
};

class TimerService {
 public:
  static constexpr Nanos kCpuTimerTick = std::chrono::milliseconds(10);

  explicit TimerService(Kernel& kernel) : kernel_(kernel) {}
  ~TimerService();

  // Arms `t` to expire at `next` (then every `interval`, if nonzero), or disarms it when
  // `next` is nullopt. Returns the previous remaining time and interval.
  struct Setting {
    Nanos remaining{0};
    Nanos interval{0};
  };
  Setting Set(const std::shared_ptr<IntervalTimer>& t, std::optional<SteadyTime> next,
              Nanos interval);
  Setting Get(const std::shared_ptr<IntervalTimer>& t);
  uint64_t Overrun(const std::shared_ptr<IntervalTimer>& t);

 private:
  void Run();
  void StartLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Setting SettingLocked(const IntervalTimer& t, SteadyTime now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // "Now" on the timer's own clock: `wall`, or its CPU clock's reading (nullopt if gone).
  static std::optional<SteadyTime> ClockNow(const IntervalTimer& t, SteadyTime wall);

  Kernel& kernel_;
  absl::Mutex mu_;
  absl::CondVar cv_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::set<std::shared_ptr<IntervalTimer>> armed_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace sentry::kernel
