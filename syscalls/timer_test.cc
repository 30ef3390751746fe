// Interval timers: alarm, setitimer/getitimer(ITIMER_REAL) and POSIX timers with
// SIGEV_SIGNAL, SIGEV_THREAD_ID and SIGEV_NONE, their readings and their errors.
#include <signal.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

#include <gtest/gtest.h>

#include "syscalls/test_util.h"

namespace {

std::atomic<int> g_alarms{0};
siginfo_t g_info;

void OnSignal(int, siginfo_t* info, void*) {
  g_info = *info;
  g_alarms.fetch_add(1);
}

void Install(int sig) {
  struct sigaction sa {};
  sa.sa_sigaction = OnSignal;
  sa.sa_flags = SA_SIGINFO;
  ASSERT_EQ(sigaction(sig, &sa, nullptr), 0);
}

void WaitFor(int count) {
  for (int i = 0; i < 300 && g_alarms.load() < count; ++i) {
    timespec ts{0, 10 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
}

TEST(Timer, AlarmSendsSigalrmAndReportsWhatWasLeft) {
  g_alarms = 0;
  Install(SIGALRM);
  EXPECT_EQ(alarm(10), 0u);
  EXPECT_EQ(alarm(0), 10u);  // cancelled, with ~10 s left
  itimerval v{{0, 0}, {0, 50000}};
  ASSERT_EQ(setitimer(ITIMER_REAL, &v, nullptr), 0);
  WaitFor(1);
  EXPECT_EQ(g_alarms.load(), 1);
  EXPECT_EQ(g_info.si_signo, SIGALRM);
  EXPECT_EQ(g_info.si_code, SI_KERNEL);
  signal(SIGALRM, SIG_DFL);
}

TEST(Timer, ItimerRealRepeatsAndReads) {
  g_alarms = 0;
  Install(SIGALRM);
  itimerval v{{0, 20000}, {0, 20000}};
  itimerval old{};
  ASSERT_EQ(setitimer(ITIMER_REAL, &v, &old), 0);
  EXPECT_EQ(old.it_value.tv_sec, 0);
  EXPECT_EQ(old.it_value.tv_usec, 0);
  itimerval now{};
  ASSERT_EQ(getitimer(ITIMER_REAL, &now), 0);
  EXPECT_EQ(now.it_interval.tv_usec, 20000);
  EXPECT_LE(now.it_value.tv_usec, 20000);
  WaitFor(3);
  EXPECT_GE(g_alarms.load(), 3);
  itimerval off{};
  ASSERT_EQ(setitimer(ITIMER_REAL, &off, nullptr), 0);
  signal(SIGALRM, SIG_DFL);
}

TEST(Timer, SetitimerRejectsBadValues) {
  itimerval bad{{0, 0}, {0, 1000000}};
  EXPECT_SYSCALL_ERRNO(EINVAL, setitimer(ITIMER_REAL, &bad, nullptr));
  itimerval neg{{0, 0}, {-1, 0}};
  EXPECT_SYSCALL_ERRNO(EINVAL, setitimer(ITIMER_REAL, &neg, nullptr));
  itimerval v{};
  EXPECT_SYSCALL_ERRNO(EINVAL, setitimer(static_cast<__itimer_which>(7), &v, nullptr));
  EXPECT_SYSCALL_ERRNO(EINVAL, getitimer(static_cast<__itimer_which>(7), &v));
  EXPECT_SYSCALL_ERRNO(EFAULT,
                       syscall(SYS_setitimer, ITIMER_REAL, reinterpret_cast<void*>(8), nullptr));
}

TEST(Timer, PosixTimerDeliversItsValue) {
  g_alarms = 0;
  Install(SIGUSR1);
  sigevent ev{};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGUSR1;
  ev.sigev_value.sival_int = 4242;
  timer_t id;
  ASSERT_EQ(timer_create(CLOCK_MONOTONIC, &ev, &id), 0);
  itimerspec spec{{0, 0}, {0, 30 * 1000 * 1000}};
  ASSERT_EQ(timer_settime(id, 0, &spec, nullptr), 0);
  itimerspec left{};
  ASSERT_EQ(timer_gettime(id, &left), 0);
  EXPECT_GT(left.it_value.tv_nsec, 0);
  WaitFor(1);
  EXPECT_EQ(g_alarms.load(), 1);
  EXPECT_EQ(g_info.si_code, SI_TIMER);
  EXPECT_EQ(g_info.si_value.sival_int, 4242);
  EXPECT_EQ(timer_getoverrun(id), 0);
  ASSERT_EQ(timer_gettime(id, &left), 0);
  EXPECT_EQ(left.it_value.tv_sec, 0);
  EXPECT_EQ(left.it_value.tv_nsec, 0);  // one-shot: disarmed
  ASSERT_EQ(timer_delete(id), 0);
  EXPECT_SYSCALL_ERRNO(EINVAL, timer_delete(id));
  signal(SIGUSR1, SIG_DFL);
}

TEST(Timer, AbsoluteTimerAndSigevNone) {
  sigevent ev{};
  ev.sigev_notify = SIGEV_NONE;
  timer_t id;
  ASSERT_EQ(timer_create(CLOCK_REALTIME, &ev, &id), 0);
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  itimerspec spec{{0, 0}, {now.tv_sec + 5, now.tv_nsec}};
  ASSERT_EQ(timer_settime(id, TIMER_ABSTIME, &spec, nullptr), 0);
  itimerspec left{};
  ASSERT_EQ(timer_gettime(id, &left), 0);
  EXPECT_GE(left.it_value.tv_sec, 3);
  EXPECT_LE(left.it_value.tv_sec, 5);
  ASSERT_EQ(timer_delete(id), 0);
}

TEST(Timer, TimerCreateErrors) {
  timer_t id;
  sigevent ev{};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = 0;
  EXPECT_SYSCALL_ERRNO(EINVAL, timer_create(CLOCK_MONOTONIC, &ev, &id));
  ev.sigev_signo = 65;
  EXPECT_SYSCALL_ERRNO(EINVAL, timer_create(CLOCK_MONOTONIC, &ev, &id));
  ev.sigev_signo = SIGUSR1;
  ev.sigev_notify = 99;
  EXPECT_SYSCALL_ERRNO(EINVAL, timer_create(CLOCK_MONOTONIC, &ev, &id));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_timer_create, 12345, nullptr, &id));
  itimerspec spec{};
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_timer_settime, 9999, 0, &spec, nullptr));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_timer_gettime, 9999, &spec));
}

}  // namespace
