// Keeps the vDSO's clock lines (vdso/vdso_params.h) following the host's clocks.
//
// Everything else in the sentry reads the host's clocks (clock_gettime syscalls, sleep deadlines,
// timers, file times), so a vDSO reading must never be behind the host clock it stands for:
// after clock_nanosleep(TIMER_ABSTIME, T), served on the host clock, a vDSO read must give at
// least T. It may lead by a little (about a microsecond): any syscall costs more than ten
// microseconds of trap, so a vDSO read followed by a syscall read still goes forwards.
//
// Each refresh samples (TSC, host clock) pairs, fits the slope over a baseline of up to a few
// seconds, and publishes a line that starts where the old one is now (clocks never step back,
// except REALTIME and TAI when the host's are stepped) or at the host plus a minimum lead,
// whichever is later, and slews towards a target lead. A line is good only until its fit error
// could have eaten the minimum lead (`max_delta_cycles`); past that the vDSO makes the syscall.
#pragma once

#include <time.h>

#include <cstdint>
#include <deque>
#include <optional>

#include "sentry/loader/vdso/vdso_params.h"

namespace sentry::loader {

// The TSC, read after every earlier load (as the vDSO reads it).
uint64_t ReadTscOrdered();

// One reading of a host clock between two TSC reads.
struct ClockSample {
  uint64_t tsc = 0;    // TSC before the host read
  uint64_t width = 0;  // TSC cycles between the TSC reads around it
  int64_t ns = 0;      // the host clock's value, in nanoseconds
};

// The narrowest of a few readings of host clock `id` (the least uncertain about when it was).
ClockSample SampleHostClock(clockid_t id);

struct ClockLine {
  uint64_t base_cycles = 0;
  int64_t base_ns = 0;
  uint64_t mult = 0;  // ns per cycle << kShift
  uint64_t max_delta_cycles = 0;

  static constexpr uint32_t kShift = 32;
  int64_t ValueAt(uint64_t tsc) const;
};

// Follows one host clock. Not thread safe: one refresher owns it.
class ClockFollower {
 public:
  // The lead kept over the host: at least kMinLeadNs right after each refresh, slewing towards
  // kTargetLeadNs.
  static constexpr int64_t kMinLeadNs = 300;
  static constexpr int64_t kTargetLeadNs = 800;
  // A sample further than this from where the line says the host is means the host clock was
  // stepped (settimeofday, a resume from suspend for BOOTTIME): the line starts afresh.
  static constexpr int64_t kStepNs = 200'000;

  // `may_step_back`: the clock follows the host backwards when it is stepped (REALTIME, TAI).
  explicit ClockFollower(bool may_step_back) : may_step_back_(may_step_back) {}

  // Takes a fresh sample and returns the line to publish from TSC `now` (read after the
  // sample), or nullopt while the slope is not known well enough (the vDSO traps meanwhile).
  std::optional<ClockLine> Update(const ClockSample& sample, uint64_t now);

 private:
  bool may_step_back_;
  std::deque<ClockSample> history_;  // oldest first, spanning up to kHistoryNs
  double slope_ = 0;                 // host ns per TSC cycle, from the history
  double slope_error_ = 0;           // relative uncertainty of slope_
  std::optional<ClockLine> line_;    // what was published last
};

}  // namespace sentry::loader
