// ClockFollower against a simulated host clock: the published lines must never be behind the
// host, lead it by about a microsecond at most, and never step back (unless REALTIME is stepped).
#include "sentry/loader/vdso_clock.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace sentry::loader {
namespace {

// A host clock that counts `ns_per_cycle` over the TSC, possibly changed or stepped midway.
// Integer nanoseconds at a reference TSC plus a double for the rest: a double alone cannot
// hold a realtime value to the nanosecond.
struct HostClock {
  double ns_per_cycle = 0.4;                   // a 2.5 GHz TSC
  int64_t offset = 1'700'000'000'000'000'000;  // ns at ref_tsc
  uint64_t ref_tsc = 0;
  int64_t At(uint64_t tsc) const {
    return offset +
           static_cast<int64_t>(std::floor(ns_per_cycle * static_cast<double>(tsc - ref_tsc)));
  }
  // The host read lands in the middle of a 60-cycle window.
  ClockSample Sample(uint64_t tsc) const { return {.tsc = tsc, .width = 60, .ns = At(tsc + 30)}; }
  // Keeps the value at `tsc` while the rate changes.
  void SetRate(uint64_t tsc, double rate) {
    offset = At(tsc);
    ref_tsc = tsc;
    ns_per_cycle = rate;
  }
};

constexpr uint64_t kRefreshCycles = 125'000'000;  // 50 ms

// Runs `refreshes` refreshes from `tsc` and checks each line over its interval: never behind
// the host, never more than `max_lead` ns ahead, never below what the last line gave readers.
void Follow(ClockFollower& f, HostClock& host, uint64_t& tsc, int refreshes,
            std::optional<ClockLine>& last, int64_t max_lead = 1500) {
  for (int i = 0; i < refreshes; ++i) {
    ClockSample s = host.Sample(tsc);
    uint64_t now = tsc + 200;
    auto line = f.Update(s, now);
    if (line) {
      if (last) {
        // Readers trapped past the old line's horizon: it had no value to continue from there.
        uint64_t seen = std::min(now, last->base_cycles + last->max_delta_cycles);
        ASSERT_GE(line->ValueAt(now), last->ValueAt(seen)) << "refresh " << i;
      }
      for (uint64_t t = now; t < now + kRefreshCycles; t += kRefreshCycles / 16) {
        if (t - line->base_cycles > line->max_delta_cycles) break;  // readers trap there
        int64_t lead = line->ValueAt(t) - host.At(t);
        ASSERT_GE(lead, 0) << "refresh " << i;
        ASSERT_LE(lead, max_lead) << "refresh " << i;
      }
      last = line;
    }
    tsc += kRefreshCycles;
  }
}

TEST(ClockFollowerTest, LeadsTheHostByAtMostAMicrosecondOrTwo) {
  HostClock host;
  ClockFollower f(false);
  uint64_t tsc = 1'000'000'000;
  std::optional<ClockLine> last;
  // The first sample alone gives no slope.
  EXPECT_FALSE(f.Update(host.Sample(tsc), tsc + 100));
  tsc += 5'000'000;  // 2 ms later
  Follow(f, host, tsc, 200, last);
  ASSERT_TRUE(last);
}

TEST(ClockFollowerTest, FollowsAChangeOfTheHostsRate) {
  HostClock host;
  ClockFollower f(false);
  uint64_t tsc = 1'000'000'000;
  std::optional<ClockLine> last;
  Follow(f, host, tsc, 100, last);
  // NTP makes the host 3 ppm faster, then 3 ppm slower: the fit over the last 2 s lags, so the
  // lead may grow for a while, but stays far below a trap's cost.
  host.SetRate(tsc, 0.4 * (1 + 3e-6));
  Follow(f, host, tsc, 100, last, 2500);
  host.SetRate(tsc, 0.4 * (1 - 3e-6));
  Follow(f, host, tsc, 100, last, 2500);
}

TEST(ClockFollowerTest, RealtimeFollowsAStepBackButMonotonicNever) {
  HostClock host;
  ClockFollower realtime(true), monotonic(false);
  uint64_t tsc = 1'000'000'000;
  std::optional<ClockLine> rt_last, mono_last;
  HostClock mono_host = host;
  for (int i = 0; i < 50; ++i) {
    rt_last = realtime.Update(host.Sample(tsc), tsc + 200);
    mono_last = monotonic.Update(mono_host.Sample(tsc), tsc + 200);
    tsc += kRefreshCycles;
  }
  ASSERT_TRUE(rt_last && mono_last);
  host.offset -= 1'000'000'000;  // settimeofday one second back
  auto rt = realtime.Update(host.Sample(tsc), tsc + 200);
  ASSERT_TRUE(rt);
  int64_t lead = rt->ValueAt(tsc + 200) - host.At(tsc + 200);
  EXPECT_GE(lead, 0);
  EXPECT_LE(lead, 2000);
  // A monotonic clock whose host sample lags its line by a second stays where it was.
  mono_host.offset -= 1'000'000'000;
  auto mono = monotonic.Update(mono_host.Sample(tsc), tsc + 200);
  ASSERT_TRUE(mono);
  EXPECT_GE(mono->ValueAt(tsc + 200), mono_last->ValueAt(tsc + 200));
}

TEST(ClockFollowerTest, AStaleLineIsNotContinuedPastItsHorizon) {
  HostClock host;
  ClockFollower f(false);
  uint64_t tsc = 1'000'000'000;
  std::optional<ClockLine> last;
  Follow(f, host, tsc, 50, last);
  ASSERT_TRUE(last);
  // The refresher stalls for ten seconds and the host runs slower meanwhile: the new line
  // starts from the host, not from where the old line would have got to.
  host.SetRate(tsc, 0.4 * (1 - 50e-6));
  tsc += 25'000'000'000;
  auto line = f.Update(host.Sample(tsc), tsc + 200);
  ASSERT_TRUE(line);
  int64_t lead = line->ValueAt(tsc + 200) - host.At(tsc + 200);
  EXPECT_GE(lead, 0);
  EXPECT_LE(lead, 2000);
}

}  // namespace
}  // namespace sentry::loader
