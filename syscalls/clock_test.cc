// Clocks and sleeps: clock_gettime, clock_getres, gettimeofday, time, nanosleep, clock_nanosleep.
//
// glibc answers clock_gettime, gettimeofday and time from the vDSO without entering the kernel,
// so the tests use raw syscall(2) to reach the system call itself, and compare it with the
// wrappers where both should agree. Sleeps are checked only from below (a sleep lasts at least as
// long as asked); no test asserts an upper bound on time.
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>

#include <gtest/gtest.h>

#include "syscalls/test_util.h"

namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;

int64_t ToNanos(const timespec& ts) { return ts.tv_sec * kNanosPerSecond + ts.tv_nsec; }

timespec FromNanos(int64_t ns) {
  return timespec{.tv_sec = ns / kNanosPerSecond, .tv_nsec = ns % kNanosPerSecond};
}

// The clock's time by the raw system call, in nanoseconds; -1 on failure.
int64_t RawNow(clockid_t clock) {
  timespec ts{};
  if (syscall(SYS_clock_gettime, clock, &ts) != 0) return -1;
  return ToNanos(ts);
}

// Ids no kernel has defined: past MAX_CLOCKS, and CLOCK_SGI_CYCLE (10), which Linux removed.
constexpr clockid_t kInvalidClocks[] = {10, 16, 100, 0x7fffffff};

// Clocks the kernel keeps for every process.
constexpr clockid_t kValidClocks[] = {
    CLOCK_REALTIME,          CLOCK_MONOTONIC,     CLOCK_PROCESS_CPUTIME_ID,
    CLOCK_THREAD_CPUTIME_ID, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE,
    CLOCK_MONOTONIC_COARSE,  CLOCK_BOOTTIME,      CLOCK_TAI,
};

TEST(ClockGettimeTest, EveryStandardClockReadsANormalisedTime) {
  for (clockid_t clock : kValidClocks) {
    timespec ts{.tv_sec = -1, .tv_nsec = -1};
    EXPECT_SYSCALL_OK(syscall(SYS_clock_gettime, clock, &ts)) << "clock " << clock;
    EXPECT_GE(ts.tv_sec, 0) << "clock " << clock;
    EXPECT_GE(ts.tv_nsec, 0) << "clock " << clock;
    EXPECT_LT(ts.tv_nsec, kNanosPerSecond) << "clock " << clock;
  }
}

TEST(ClockGettimeTest, MonotonicNeverGoesBackwards) {
  for (clockid_t clock : {CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_BOOTTIME}) {
    int64_t prev = RawNow(clock);
    ASSERT_GE(prev, 0) << "clock " << clock;
    for (int i = 0; i < 1000; i++) {
      // Alternate the system call and the vDSO: they read the same clock.
      timespec ts{};
      int64_t now;
      if (i % 2 == 0) {
        now = RawNow(clock);
      } else {
        ASSERT_EQ(clock_gettime(clock, &ts), 0);
        now = ToNanos(ts);
      }
      ASSERT_GE(now, prev) << "clock " << clock << " went backwards at iteration " << i;
      prev = now;
    }
  }
}

TEST(ClockGettimeTest, MonotonicAdvances) {
  const int64_t start = RawNow(CLOCK_MONOTONIC);
  int64_t now = start;
  // A clock with a 1 ns resolution moves within a few thousand reads.
  for (int i = 0; i < 1'000'000 && now == start; i++) now = RawNow(CLOCK_MONOTONIC);
  EXPECT_GT(now, start);
}

TEST(ClockGettimeTest, RealtimeGettimeofdayAndTimeAgree) {
  timespec before{}, after{};
  timeval tv{};
  ASSERT_SYSCALL_OK(syscall(SYS_clock_gettime, CLOCK_REALTIME, &before));
  ASSERT_SYSCALL_OK(syscall(SYS_gettimeofday, &tv, nullptr));
  const long t = syscall(SYS_time, nullptr);
  ASSERT_SYSCALL_OK(syscall(SYS_clock_gettime, CLOCK_REALTIME, &after));

  // gettimeofday is CLOCK_REALTIME truncated to microseconds.
  const int64_t tv_us = int64_t{tv.tv_sec} * 1'000'000 + tv.tv_usec;
  EXPECT_GE(tv_us, ToNanos(before) / 1000);
  EXPECT_LE(tv_us, ToNanos(after) / 1000);
  EXPECT_GE(tv.tv_usec, 0);
  EXPECT_LT(tv.tv_usec, 1'000'000);
  // time() reads the coarse clock, which can trail CLOCK_REALTIME by up to a tick.
  EXPECT_GE(t, before.tv_sec - 1);
  EXPECT_LE(t, after.tv_sec);
  // After 2001: a clock that starts at 0 is not the real time.
  EXPECT_GT(before.tv_sec, 1'000'000'000);
}

TEST(ClockGettimeTest, TimeAlsoStoresThroughItsArgument) {
  time_t stored = 0;
  const long t = syscall(SYS_time, &stored);
  EXPECT_GT(t, 0);
  EXPECT_EQ(stored, t);
}

TEST(ClockGettimeTest, VdsoAndSyscallAgreeOnRealtime) {
  timespec before{}, vdso{}, after{};
  ASSERT_SYSCALL_OK(syscall(SYS_clock_gettime, CLOCK_REALTIME, &before));
  ASSERT_EQ(clock_gettime(CLOCK_REALTIME, &vdso), 0);
  ASSERT_SYSCALL_OK(syscall(SYS_clock_gettime, CLOCK_REALTIME, &after));
  EXPECT_GE(ToNanos(vdso), ToNanos(before));
  EXPECT_LE(ToNanos(vdso), ToNanos(after));
}

TEST(ClockGettimeTest, InvalidClockIsEINVAL) {
  for (clockid_t clock : kInvalidClocks) {
    timespec ts{};
    EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_clock_gettime, clock, &ts)) << "clock " << clock;
  }
}

TEST(ClockGettimeTest, BadPointerIsEFAULT) {
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_clock_gettime, CLOCK_MONOTONIC, nullptr));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_clock_gettime, CLOCK_REALTIME, 1));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_gettimeofday, 1, nullptr));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_time, 1));
}

TEST(ClockGettimeTest, GettimeofdayAcceptsNullArguments) {
  EXPECT_SYSCALL_OK(syscall(SYS_gettimeofday, nullptr, nullptr));
  // The timezone is obsolete but still filled in.
  struct timezone tz {
    .tz_minuteswest = -12345, .tz_dsttime = -1
  };
  EXPECT_SYSCALL_OK(syscall(SYS_gettimeofday, nullptr, &tz));
  EXPECT_NE(tz.tz_minuteswest, -12345);
}

TEST(ClockGetresTest, HighResolutionClocksTickInNanoseconds) {
  for (clockid_t clock : {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME}) {
    timespec res{.tv_sec = -1, .tv_nsec = -1};
    EXPECT_SYSCALL_OK(syscall(SYS_clock_getres, clock, &res)) << "clock " << clock;
    EXPECT_EQ(res.tv_sec, 0) << "clock " << clock;
    EXPECT_EQ(res.tv_nsec, 1) << "clock " << clock;
  }
}

TEST(ClockGetresTest, EveryStandardClockHasAResolution) {
  for (clockid_t clock : kValidClocks) {
    timespec res{.tv_sec = -1, .tv_nsec = -1};
    EXPECT_SYSCALL_OK(syscall(SYS_clock_getres, clock, &res)) << "clock " << clock;
    EXPECT_EQ(res.tv_sec, 0) << "clock " << clock;
    EXPECT_GT(res.tv_nsec, 0) << "clock " << clock;
    EXPECT_LT(res.tv_nsec, kNanosPerSecond) << "clock " << clock;
  }
}

TEST(ClockGetresTest, NullResultIsAllowed) {
  EXPECT_SYSCALL_OK(syscall(SYS_clock_getres, CLOCK_MONOTONIC, nullptr));
}

TEST(ClockGetresTest, InvalidClockIsEINVAL) {
  for (clockid_t clock : kInvalidClocks) {
    timespec res{};
    EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_clock_getres, clock, &res)) << "clock " << clock;
  }
}

TEST(ClockGetresTest, BadPointerIsEFAULT) {
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_clock_getres, CLOCK_MONOTONIC, 1));
}

TEST(CpuClockTest, ProcessCpuTimeAdvancesUnderABusyLoop) {
  const int64_t cpu_start = RawNow(CLOCK_PROCESS_CPUTIME_ID);
  const int64_t thread_start = RawNow(CLOCK_THREAD_CPUTIME_ID);
  ASSERT_GE(cpu_start, 0);
  ASSERT_GE(thread_start, 0);
  // Spin in user space, without system calls, for 50 ms of wall time.
  const int64_t wall_start = RawNow(CLOCK_MONOTONIC);
  volatile uint64_t sink = 0;
  while (RawNow(CLOCK_MONOTONIC) - wall_start < 50'000'000) {
    for (int i = 0; i < 100'000; i++) sink = sink + i;
  }
  const int64_t cpu_end = RawNow(CLOCK_PROCESS_CPUTIME_ID);
  const int64_t thread_end = RawNow(CLOCK_THREAD_CPUTIME_ID);
  EXPECT_GT(cpu_end, cpu_start);
  EXPECT_GT(thread_end, thread_start);
}

TEST(NanosleepTest, SleepsAtLeastTheRequestedTime) {
  const int64_t start = RawNow(CLOCK_MONOTONIC);
  timespec req = FromNanos(20'000'000);
  ASSERT_SYSCALL_OK(syscall(SYS_nanosleep, &req, nullptr));
  EXPECT_GE(RawNow(CLOCK_MONOTONIC) - start, 20'000'000);
}

TEST(NanosleepTest, ZeroReturnsAtOnce) {
  timespec req{.tv_sec = 0, .tv_nsec = 0};
  timespec rem{.tv_sec = 5, .tv_nsec = 5};
  EXPECT_SYSCALL_OK(syscall(SYS_nanosleep, &req, &rem));
}

TEST(NanosleepTest, InvalidTimespecIsEINVAL) {
  for (timespec req :
       {timespec{.tv_sec = 0, .tv_nsec = kNanosPerSecond}, timespec{.tv_sec = 0, .tv_nsec = -1},
        timespec{.tv_sec = -1, .tv_nsec = 0}, timespec{.tv_sec = 1, .tv_nsec = 1'500'000'000}}) {
    EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_nanosleep, &req, nullptr))
        << req.tv_sec << "s " << req.tv_nsec << "ns";
  }
}

TEST(NanosleepTest, BadRequestPointerIsEFAULT) {
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_nanosleep, nullptr, nullptr));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_nanosleep, 1, nullptr));
}

TEST(ClockNanosleepTest, RelativeSleepLastsAtLeastTheRequestedTime) {
  for (clockid_t clock : {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME}) {
    const int64_t start = RawNow(clock);
    timespec req = FromNanos(10'000'000);
    EXPECT_SYSCALL_OK(syscall(SYS_clock_nanosleep, clock, 0, &req, nullptr)) << "clock " << clock;
    EXPECT_GE(RawNow(clock) - start, 10'000'000) << "clock " << clock;
  }
}

TEST(ClockNanosleepTest, AbsoluteSleepWakesAtOrAfterTheDeadline) {
  for (clockid_t clock : {CLOCK_MONOTONIC, CLOCK_REALTIME}) {
    const int64_t deadline = RawNow(clock) + 20'000'000;
    timespec req = FromNanos(deadline);
    EXPECT_SYSCALL_OK(syscall(SYS_clock_nanosleep, clock, TIMER_ABSTIME, &req, nullptr))
        << "clock " << clock;
    EXPECT_GE(RawNow(clock), deadline) << "clock " << clock;
  }
}

TEST(ClockNanosleepTest, AbsoluteDeadlineInThePastReturnsAtOnce) {
  timespec req = FromNanos(RawNow(CLOCK_MONOTONIC) - kNanosPerSecond);
  EXPECT_SYSCALL_OK(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &req, nullptr));
  timespec zero{.tv_sec = 0, .tv_nsec = 0};
  EXPECT_SYSCALL_OK(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &zero, nullptr));
}

TEST(ClockNanosleepTest, InvalidClockIsEINVAL) {
  timespec req = FromNanos(1000);
  for (clockid_t clock : kInvalidClocks) {
    EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_clock_nanosleep, clock, 0, &req, nullptr))
        << "clock " << clock;
  }
}

TEST(ClockNanosleepTest, ThreadCpuClockIsRefused) {
  // A sleeping thread's own CPU clock stands still, so sleeping on it is refused. The man page
  // says EINVAL, which is what glibc's wrapper returns without asking the kernel; the kernel
  // itself answers EOPNOTSUPP, as the thread CPU clock has no nsleep operation.
  timespec req = FromNanos(1000);
  EXPECT_SYSCALL_ERRNO(EOPNOTSUPP,
                       syscall(SYS_clock_nanosleep, CLOCK_THREAD_CPUTIME_ID, 0, &req, nullptr));
  EXPECT_EQ(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &req, nullptr), EINVAL);
}

TEST(ClockNanosleepTest, InvalidTimespecIsEINVAL) {
  timespec req{.tv_sec = 0, .tv_nsec = kNanosPerSecond};
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &req, nullptr));
  req = timespec{.tv_sec = -1, .tv_nsec = 0};
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &req, nullptr));
}

TEST(ClockNanosleepTest, BadPointerIsEFAULT) {
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, nullptr, nullptr));
}

TEST(ClockNanosleepTest, GlibcWrapperReturnsTheErrorInsteadOfSettingErrno) {
  // clock_nanosleep(3) is the one clock function that returns an error number.
  timespec req{.tv_sec = 0, .tv_nsec = kNanosPerSecond};
  EXPECT_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, nullptr), EINVAL);
  req = FromNanos(1000);
  EXPECT_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, nullptr), 0);
}

}  // namespace
