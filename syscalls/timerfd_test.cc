// timerfd_create, timerfd_settime and timerfd_gettime on CLOCK_REALTIME, CLOCK_MONOTONIC and
// CLOCK_BOOTTIME: one-shot and interval timers, relative and absolute, disarming, the old
// value, reads (blocking, nonblocking, the 8-byte rule), readiness through poll and epoll, and
// the argument errors.
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>

#include <gtest/gtest.h>

#include "syscalls/test_util.h"

namespace {

void* const kBadAddr = reinterpret_cast<void*>(0xffff800000000000ULL);

using conformance::Fd;

itimerspec Ms(long value_ms, long interval_ms = 0) {
  itimerspec its{};
  its.it_value = {value_ms / 1000, (value_ms % 1000) * 1000000};
  its.it_interval = {interval_ms / 1000, (interval_ms % 1000) * 1000000};
  return its;
}

int64_t NowMs(clockid_t clock = CLOCK_MONOTONIC) {
  timespec ts;
  clock_gettime(clock, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

TEST(TimerfdCreate, Errors) {
  EXPECT_SYSCALL_ERRNO(EINVAL, timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, timerfd_create(CLOCK_MONOTONIC_RAW, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, timerfd_create(-1, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, timerfd_create(CLOCK_MONOTONIC, 1));
  // Flags are checked before the clock.
  EXPECT_SYSCALL_ERRNO(EINVAL, timerfd_create(-1, 1));
}

TEST(TimerfdCreate, Flags) {
  Fd a(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  ASSERT_GE(a.get(), 0);
  EXPECT_EQ(fcntl(a.get(), F_GETFD), FD_CLOEXEC);
  EXPECT_EQ(fcntl(a.get(), F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_RDWR | O_NONBLOCK);
  Fd b(timerfd_create(CLOCK_REALTIME, 0));
  EXPECT_EQ(fcntl(b.get(), F_GETFD), 0);
}

TEST(Timerfd, DisarmedAtFirst) {
  Fd fd(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK));
  itimerspec cur;
  ASSERT_EQ(timerfd_gettime(fd.get(), &cur), 0);
  EXPECT_EQ(cur.it_value.tv_sec, 0);
  EXPECT_EQ(cur.it_value.tv_nsec, 0);
  EXPECT_EQ(cur.it_interval.tv_sec, 0);
  uint64_t n;
  EXPECT_SYSCALL_ERRNO(EAGAIN, read(fd.get(), &n, 8));
  pollfd p{fd.get(), POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 0), 0);
}

TEST(Timerfd, OneShotRelative) {
  for (clockid_t clock : {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME}) {
    Fd fd(timerfd_create(clock, 0));
    ASSERT_GE(fd.get(), 0);
    itimerspec its = Ms(30);
    int64_t start = NowMs();
    ASSERT_EQ(timerfd_settime(fd.get(), 0, &its, nullptr), 0);
    uint64_t n = 0;
    ASSERT_EQ(read(fd.get(), &n, 8), 8);  // blocks until it expires
    EXPECT_EQ(n, 1u);
    EXPECT_GE(NowMs() - start, 29);
    itimerspec cur;
    ASSERT_EQ(timerfd_gettime(fd.get(), &cur), 0);
    EXPECT_EQ(cur.it_value.tv_sec, 0);
    EXPECT_EQ(cur.it_value.tv_nsec, 0);
  }
}

TEST(Timerfd, NonblockingBeforeExpiry) {
  Fd fd(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK));
  itimerspec its = Ms(10000);
  ASSERT_EQ(timerfd_settime(fd.get(), 0, &its, nullptr), 0);
  uint64_t n;
  EXPECT_SYSCALL_ERRNO(EAGAIN, read(fd.get(), &n, 8));
  itimerspec cur;
  ASSERT_EQ(timerfd_gettime(fd.get(), &cur), 0);
  EXPECT_TRUE(cur.it_value.tv_sec == 9 || cur.it_value.tv_sec == 10);
}

TEST(Timerfd, Interval) {
  Fd fd(timerfd_create(CLOCK_MONOTONIC, 0));
  itimerspec its = Ms(10, 10);
  ASSERT_EQ(timerfd_settime(fd.get(), 0, &its, nullptr), 0);
  usleep(55000);
  uint64_t n = 0;
  ASSERT_EQ(read(fd.get(), &n, 8), 8);
  EXPECT_GE(n, 2u);
  ASSERT_EQ(read(fd.get(), &n, 8), 8);  // and it keeps going
  EXPECT_GE(n, 1u);
  itimerspec cur;
  ASSERT_EQ(timerfd_gettime(fd.get(), &cur), 0);
  EXPECT_EQ(cur.it_interval.tv_nsec, 10000000);
}

TEST(Timerfd, Absolute) {
  Fd fd(timerfd_create(CLOCK_MONOTONIC, 0));
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  itimerspec its{};
  its.it_value = now;
  its.it_value.tv_nsec += 20000000;
  if (its.it_value.tv_nsec >= 1000000000) {
    its.it_value.tv_nsec -= 1000000000;
    ++its.it_value.tv_sec;
  }
  ASSERT_EQ(timerfd_settime(fd.get(), TFD_TIMER_ABSTIME, &its, nullptr), 0);
  uint64_t n = 0;
  ASSERT_EQ(read(fd.get(), &n, 8), 8);
  EXPECT_EQ(n, 1u);
  timespec after;
  clock_gettime(CLOCK_MONOTONIC, &after);
  EXPECT_TRUE(after.tv_sec > its.it_value.tv_sec ||
              (after.tv_sec == its.it_value.tv_sec && after.tv_nsec >= its.it_value.tv_nsec));

  // A time already past expires at once.
  Fd rt(timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK));
  itimerspec past{};
  past.it_value = {1, 0};
  ASSERT_EQ(timerfd_settime(rt.get(), TFD_TIMER_ABSTIME, &past, nullptr), 0);
  pollfd p{rt.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 1000), 1);
  ASSERT_EQ(read(rt.get(), &n, 8), 8);
  EXPECT_EQ(n, 1u);
}

TEST(Timerfd, OldValueAndDisarm) {
  Fd fd(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK));
  itimerspec its = Ms(10000, 2000);
  ASSERT_EQ(timerfd_settime(fd.get(), 0, &its, nullptr), 0);
  itimerspec zero{};
  itimerspec old;
  ASSERT_EQ(timerfd_settime(fd.get(), 0, &zero, &old), 0);
  EXPECT_TRUE(old.it_value.tv_sec == 9 || old.it_value.tv_sec == 10);
  EXPECT_EQ(old.it_interval.tv_sec, 2);
  itimerspec cur;
  ASSERT_EQ(timerfd_gettime(fd.get(), &cur), 0);
  EXPECT_EQ(cur.it_value.tv_sec, 0);
  EXPECT_EQ(cur.it_value.tv_nsec, 0);
  EXPECT_EQ(cur.it_interval.tv_sec, 0);  // disarming clears the interval as well
}

TEST(Timerfd, ReadSize) {
  Fd fd(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK));
  char buf[8];
  EXPECT_SYSCALL_ERRNO(EINVAL, read(fd.get(), buf, 7));
  EXPECT_SYSCALL_ERRNO(EINVAL, write(fd.get(), buf, 8));
  EXPECT_SYSCALL_ERRNO(ESPIPE, pread(fd.get(), buf, 8, 0));
}

TEST(Timerfd, SettimeErrors) {
  Fd fd(timerfd_create(CLOCK_MONOTONIC, 0));
  itimerspec its = Ms(1000);
  EXPECT_SYSCALL_ERRNO(EINVAL, timerfd_settime(fd.get(), 4, &its, nullptr));
  its.it_value.tv_nsec = 1000000000;
  EXPECT_SYSCALL_ERRNO(EINVAL, timerfd_settime(fd.get(), 0, &its, nullptr));
  its = Ms(1000);
  its.it_interval.tv_nsec = -1;
  EXPECT_SYSCALL_ERRNO(EINVAL, timerfd_settime(fd.get(), 0, &its, nullptr));
  its = Ms(1000);
  its.it_value.tv_sec = -1;
  EXPECT_SYSCALL_ERRNO(EINVAL, timerfd_settime(fd.get(), 0, &its, nullptr));
  its = Ms(1000);
  EXPECT_SYSCALL_ERRNO(EFAULT,
                       timerfd_settime(fd.get(), 0, static_cast<itimerspec*>(kBadAddr), nullptr));
  EXPECT_SYSCALL_ERRNO(EBADF, timerfd_settime(-1, 0, &its, nullptr));
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  EXPECT_SYSCALL_ERRNO(EINVAL, timerfd_settime(p[0], 0, &its, nullptr));
  EXPECT_SYSCALL_ERRNO(EINVAL, timerfd_gettime(p[0], &its));
  close(p[0]);
  close(p[1]);
  EXPECT_SYSCALL_ERRNO(EBADF, timerfd_gettime(-1, &its));
  EXPECT_SYSCALL_ERRNO(EFAULT, timerfd_gettime(fd.get(), static_cast<itimerspec*>(kBadAddr)));
  // The bad old-value address faults after the timer was set.
  EXPECT_SYSCALL_ERRNO(EFAULT,
                       timerfd_settime(fd.get(), 0, &its, static_cast<itimerspec*>(kBadAddr)));
  itimerspec cur;
  ASSERT_EQ(timerfd_gettime(fd.get(), &cur), 0);
  EXPECT_NE(cur.it_value.tv_sec + cur.it_value.tv_nsec, 0);
}

TEST(Timerfd, CancelOnSetIsAccepted) {
  Fd fd(timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK));
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  itimerspec its{};
  its.it_value = {now.tv_sec + 100, 0};
  EXPECT_SYSCALL_OK(
      timerfd_settime(fd.get(), TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, nullptr));
}

TEST(Timerfd, EpollAndPoll) {
  Fd fd(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK));
  Fd ep(epoll_create1(0));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 77;
  ASSERT_EQ(epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd.get(), &ev), 0);
  itimerspec its = Ms(30);
  ASSERT_EQ(timerfd_settime(fd.get(), 0, &its, nullptr), 0);
  epoll_event got[1];
  EXPECT_EQ(epoll_wait(ep.get(), got, 1, 0), 0);
  int64_t start = NowMs();
  ASSERT_EQ(epoll_wait(ep.get(), got, 1, 5000), 1);
  EXPECT_GE(NowMs() - start, 20);
  EXPECT_EQ(got[0].events, static_cast<uint32_t>(EPOLLIN));
  EXPECT_EQ(got[0].data.u64, 77u);
  pollfd p{fd.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 0), 1);
  uint64_t n;
  ASSERT_EQ(read(fd.get(), &n, 8), 8);
  EXPECT_EQ(poll(&p, 1, 0), 0);
  EXPECT_EQ(epoll_wait(ep.get(), got, 1, 0), 0);
}

TEST(Timerfd, EpollOneShot) {
  Fd fd(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK));
  Fd ep(epoll_create1(0));
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLONESHOT;
  ASSERT_EQ(epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd.get(), &ev), 0);
  itimerspec its = Ms(10);
  ASSERT_EQ(timerfd_settime(fd.get(), 0, &its, nullptr), 0);
  epoll_event got[1];
  ASSERT_EQ(epoll_wait(ep.get(), got, 1, 5000), 1);
  // Still expired (nobody read it), but the item is disabled until re-armed.
  int64_t start = NowMs();
  EXPECT_EQ(epoll_wait(ep.get(), got, 1, 30), 0);
  EXPECT_GE(NowMs() - start, 29);
  ASSERT_EQ(epoll_ctl(ep.get(), EPOLL_CTL_MOD, fd.get(), &ev), 0);
  EXPECT_EQ(epoll_wait(ep.get(), got, 1, 0), 1);
}

}  // namespace
