#include "sentry/loader/vdso_clock.h"

#include <algorithm>
#include <cmath>

namespace sentry::loader {
namespace {

// The slope is fitted over samples up to this far apart: long enough that two samples' timing
// uncertainty (tens of nanoseconds each) is a small fraction of it, short enough to follow the
// host's NTP frequency corrections.
constexpr int64_t kHistoryNs = 500'000'000;
// No slope is trusted from samples closer than this.
constexpr int64_t kMinBaselineNs = 2'000'000;
// A line is never used longer than this past its base, however good the fit.
constexpr double kMaxHorizonNs = 1e9;
// The most a line's rate may differ from the fitted slope while it slews its lead.
constexpr double kMaxSlew = 100e-6;
constexpr int kReadingsPerSample = 5;

}  // namespace

uint64_t ReadTscOrdered() {
  uint32_t lo, hi;
  asm volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

ClockSample SampleHostClock(clockid_t id) {
  ClockSample best{.width = UINT64_MAX};
  for (int i = 0; i < kReadingsPerSample; ++i) {
    timespec ts{};
    uint64_t before = ReadTscOrdered();
    clock_gettime(id, &ts);
    uint64_t after = ReadTscOrdered();
    if (after - before < best.width) {
      best = {.tsc = before,
              .width = after - before,
              .ns = static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec};
    }
  }
  return best;
}

int64_t ClockLine::ValueAt(uint64_t tsc) const {
  uint64_t delta = tsc - base_cycles;
  if (static_cast<int64_t>(delta) < 0) delta = 0;
  return base_ns + static_cast<int64_t>((static_cast<unsigned __int128>(delta) * mult) >> kShift);
}

std::optional<ClockLine> ClockFollower::Update(const ClockSample& sample, uint64_t now) {
  bool stepped = false;
  if (line_) {
    // The line leads the host by about a microsecond; much more, or any lag, is a step.
    int64_t gap = line_->ValueAt(sample.tsc) - sample.ns;
    if (gap > kStepNs || gap < -kStepNs) {
      stepped = true;
      history_.clear();  // a step moves the clock; its rate (slope_) stays
    }
  }
  history_.push_back(sample);
  while (history_.size() > 2 && sample.ns - history_[1].ns >= kHistoryNs) history_.pop_front();
  const ClockSample& oldest = history_.front();
  int64_t baseline_ns = sample.ns - oldest.ns;
  if (baseline_ns >= kMinBaselineNs && sample.tsc > oldest.tsc) {
    slope_ = static_cast<double>(baseline_ns) / static_cast<double>(sample.tsc - oldest.tsc);
    // Each sample's host read happened somewhere within its width.
    slope_error_ = static_cast<double>(sample.width + oldest.width) * slope_ /
                   static_cast<double>(baseline_ns);
  }
  if (slope_ <= 0) return std::nullopt;

  // The host read came after sample.tsc, so this overestimates the host now: leading it is
  // what the line must do.
  int64_t host_now =
      sample.ns + static_cast<int64_t>(std::ceil(slope_ * static_cast<double>(now - sample.tsc)));
  int64_t base;
  if (!line_ || (stepped && may_step_back_)) {
    base = host_now + kTargetLeadNs;
  } else {
    // Continue from the last value a reader can have seen (none past the old line's horizon:
    // readers trapped then), never going back.
    uint64_t seen = std::min(now, line_->base_cycles + line_->max_delta_cycles);
    base = std::max(line_->ValueAt(seen) + 1, host_now + kMinLeadNs);
  }
  // Until the fit error could have eaten the minimum lead.
  double horizon = kMaxHorizonNs;
  if (slope_error_ > 0) horizon = std::min(horizon, kMinLeadNs / slope_error_);
  // Drift from the lead we have to the target lead by the end of the horizon.
  double slew = std::clamp(static_cast<double>(kTargetLeadNs - (base - host_now)) / horizon,
                           -kMaxSlew, kMaxSlew);
  ClockLine line;
  line.base_cycles = now;
  line.base_ns = base;
  line.mult =
      static_cast<uint64_t>(std::llround(std::ldexp(slope_ * (1 + slew), ClockLine::kShift)));
  line.max_delta_cycles = static_cast<uint64_t>(horizon / slope_);
  line_ = line;
  return line;
}

}  // namespace sentry::loader
