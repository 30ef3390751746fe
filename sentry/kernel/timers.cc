#include "sentry/kernel/timers.h"

#include <algorithm>
#include <vector>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {

TimerService::~TimerService() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

void TimerService::StartLocked() {
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
}

std::optional<SteadyTime> TimerService::ClockNow(const IntervalTimer& t, SteadyTime wall) {
  if (!t.cpu_clock) return wall;
  auto v = t.cpu_clock();
  if (!v) return std::nullopt;
  return SteadyTime(*v);
}

TimerService::Setting TimerService::SettingLocked(const IntervalTimer& t, SteadyTime wall) {
  if (!t.armed) return {};
  auto now = ClockNow(t, wall);
  if (!now) return {};
  return {std::max(Nanos(1), std::chrono::duration_cast<Nanos>(t.next - *now)), t.interval};
}

TimerService::Setting TimerService::Set(const std::shared_ptr<IntervalTimer>& t,
                                        std::optional<SteadyTime> next, Nanos interval) {
  absl::MutexLock lock(&mu_);
  Setting old = SettingLocked(*t, std::chrono::steady_clock::now());
  t->overrun = 0;
  if (!next) {
    t->armed = false;
    armed_.erase(t);
    return old;
  }
  t->armed = true;
  t->next = *next;
  t->interval = interval;
  armed_.insert(t);
  StartLocked();
  cv_.SignalAll();
  return old;
}

TimerService::Setting TimerService::Get(const std::shared_ptr<IntervalTimer>& t) {
  absl::MutexLock lock(&mu_);
  return SettingLocked(*t, std::chrono::steady_clock::now());
}

uint64_t TimerService::Overrun(const std::shared_ptr<IntervalTimer>& t) {
  absl::MutexLock lock(&mu_);
  return t->last_overrun;
}

void TimerService::Run() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    auto now = std::chrono::steady_clock::now();
    std::vector<std::pair<std::shared_ptr<IntervalTimer>, siginfo_t>> fire;
    std::optional<SteadyTime> earliest;
    for (auto it = armed_.begin(); it != armed_.end();) {
      const auto& t = *it;
      auto clock_now = ClockNow(*t, now);
      if (t->owner.expired() || !clock_now) {
        t->armed = false;
        it = armed_.erase(it);
        continue;
      }
      if (t->next <= *clock_now) {
        uint64_t missed = 0;
        if (t->interval.count() > 0) {
          missed = static_cast<uint64_t>((*clock_now - t->next) / t->interval);
          t->next += t->interval * static_cast<int64_t>(missed + 1);
        } else {
          t->armed = false;
        }
        t->last_overrun = t->overrun + missed;
        t->overrun = 0;
        siginfo_t info{};
        info.si_signo = t->signo;
        info.si_code = t->si_code;
        if (t->si_code == SI_TIMER) {
          // The kernel's layout: timer id, overrun, value.
          info.si_timerid = t->id;
          info.si_overrun = static_cast<int>(t->last_overrun);
          info.si_value = t->value;
        }
        if (t->signo != 0) fire.emplace_back(t, info);
        if (!t->armed) {
          it = armed_.erase(it);
          continue;
        }
      }
      SteadyTime wake = t->next;
      if (t->cpu_clock) wake = now + std::min<Nanos>(kCpuTimerTick, t->next - *clock_now);
      if (!earliest || wake < *earliest) earliest = wake;
      ++it;
    }
    if (!fire.empty()) {
      mu_.Unlock();
      for (auto& [t, info] : fire) {
        if (auto tg = t->owner.lock()) kernel_.SignalFromKernel(*tg, t->tid, info);
      }
      mu_.Lock();
      continue;
    }
    if (earliest) {
      auto wait = std::chrono::duration_cast<Nanos>(*earliest - now);
      cv_.WaitWithTimeout(&mu_, absl::Nanoseconds(wait.count()));
    } else {
      cv_.Wait(&mu_);
    }
  }
}

}  // namespace sentry::kernel
