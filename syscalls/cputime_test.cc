// CPU-time clocks and timers (clock_gettime on CPU clocks, ITIMER_VIRTUAL/ITIMER_PROF,
// timer_create and clock_nanosleep on CPU clocks), and how interrupted sleeps resume.
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include "syscalls/test_util.h"

namespace {

constexpr int64_t kNsPerSec = 1000000000;

int64_t Ns(const timespec& ts) { return ts.tv_sec * kNsPerSec + ts.tv_nsec; }

int64_t Now(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return Ns(ts);
}

// Linux's encodings (clock_getcpuclockid / pthread_getcpuclockid): ~pid << 3 | kind, with bit 2
// for a thread's clock. Kind 2 is the scheduler's clock, 3 is no kind at all.
clockid_t ProcessClock(pid_t pid, int kind = 2) {
  return static_cast<clockid_t>((~static_cast<unsigned>(pid) << 3) | kind);
}
clockid_t ThreadClock(pid_t tid, int kind = 2) { return ProcessClock(tid, kind | 4); }

pid_t Tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// Spins until `done` or `limit_ms` of wall time have passed.
void BurnUntil(const std::atomic<bool>& done, int64_t limit_ms = 20000) {
  int64_t end = Now(CLOCK_MONOTONIC) + limit_ms * 1000000;
  volatile uint64_t x = 0;
  while (!done.load() && Now(CLOCK_MONOTONIC) < end) {
    for (int i = 0; i < 100000; ++i) x = x + i;
  }
}

void Burn(int64_t cpu_ms) {
  int64_t end = Now(CLOCK_PROCESS_CPUTIME_ID) + cpu_ms * 1000000;
  volatile uint64_t x = 0;
  while (Now(CLOCK_PROCESS_CPUTIME_ID) < end) {
    for (int i = 0; i < 100000; ++i) x = x + i;
  }
}

TEST(CpuClock, ProcessAndThreadClocksAdvance) {
  int64_t p0 = Now(CLOCK_PROCESS_CPUTIME_ID), t0 = Now(CLOCK_THREAD_CPUTIME_ID);
  Burn(50);
  EXPECT_GE(Now(CLOCK_PROCESS_CPUTIME_ID) - p0, 50 * 1000000);
  EXPECT_GT(Now(CLOCK_THREAD_CPUTIME_ID), t0);
}

TEST(CpuClock, GlibcEncodedClocks) {
  clockid_t own;
  ASSERT_EQ(0, clock_getcpuclockid(getpid(), &own));
  timespec ts{};
  EXPECT_SYSCALL_OK(syscall(SYS_clock_gettime, own, &ts));
  EXPECT_SYSCALL_OK(syscall(SYS_clock_gettime, ProcessClock(0), &ts));
  EXPECT_SYSCALL_OK(syscall(SYS_clock_gettime, ThreadClock(0), &ts));
  EXPECT_SYSCALL_OK(syscall(SYS_clock_gettime, ThreadClock(Tid()), &ts));
  clockid_t thread_clock;
  ASSERT_EQ(0, pthread_getcpuclockid(pthread_self(), &thread_clock));
  EXPECT_SYSCALL_OK(syscall(SYS_clock_gettime, thread_clock, &ts));
  // The scheduler's clock counts nanoseconds.
  timespec res{};
  ASSERT_SYSCALL_OK(syscall(SYS_clock_getres, own, &res));
  EXPECT_EQ(0, res.tv_sec);
  EXPECT_EQ(1, res.tv_nsec);
  ASSERT_SYSCALL_OK(syscall(SYS_clock_getres, CLOCK_THREAD_CPUTIME_ID, &res));
  EXPECT_EQ(1, res.tv_nsec);
}

TEST(CpuClock, AnotherThreadsClock) {
  std::atomic<bool> done{false};
  std::atomic<pid_t> tid{0};
  std::thread burner([&] {
    tid = Tid();
    BurnUntil(done);
  });
  while (tid.load() == 0) usleep(1000);
  timespec a{}, b{};
  ASSERT_SYSCALL_OK(syscall(SYS_clock_gettime, ThreadClock(tid.load()), &a));
  usleep(50000);
  ASSERT_SYSCALL_OK(syscall(SYS_clock_gettime, ThreadClock(tid.load()), &b));
  EXPECT_GT(Ns(b), Ns(a));
  done = true;
  burner.join();
}

// A thread's clock is its own CPU time: a thread that sleeps while a sibling spins stays near
// zero, however much the process clock grows.
TEST(CpuClock, ThreadClockExcludesSiblings) {
  std::atomic<bool> done{false};
  std::thread spinner([&] { BurnUntil(done); });
  std::atomic<pid_t> sleeper_tid{0};
  std::atomic<bool> measured{false};
  int64_t own_before = 0, own_after = 0;
  clockid_t sleeper_clock{};
  std::thread sleeper([&] {
    pthread_getcpuclockid(pthread_self(), &sleeper_clock);
    own_before = Now(CLOCK_THREAD_CPUTIME_ID);
    sleeper_tid = Tid();
    while (!measured.load()) usleep(5000);
    own_after = Now(CLOCK_THREAD_CPUTIME_ID);
  });
  while (sleeper_tid.load() == 0) usleep(1000);
  int64_t process_before = Now(CLOCK_PROCESS_CPUTIME_ID);
  int64_t other_before = Now(sleeper_clock);
  usleep(300000);
  int64_t process_grew = Now(CLOCK_PROCESS_CPUTIME_ID) - process_before;
  int64_t other_grew = Now(sleeper_clock) - other_before;
  measured = true;
  sleeper.join();
  done = true;
  spinner.join();
  EXPECT_GE(process_grew, 50 * 1000000);  // the host's other load may take a share
  // Sixty wake-ups cost far less than 30 ms of CPU, natively and in the sandbox.
  EXPECT_LT(other_grew, 30 * 1000000);
  EXPECT_LT(own_after - own_before, 30 * 1000000);
}

TEST(CpuClock, OtherProcesses) {
  conformance::Pipe p;
  ASSERT_TRUE(p.ok());
  pid_t child = fork();
  if (child == 0) {
    char c;
    (void)read(p.r(), &c, 1);
    _exit(0);
  }
  ASSERT_GT(child, 0);
  timespec ts{};
  // Any process's clock may be read; another process's threads' clocks may not.
  EXPECT_SYSCALL_OK(syscall(SYS_clock_gettime, ProcessClock(child), &ts));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_clock_gettime, ThreadClock(child), &ts));
  ASSERT_EQ(1, write(p.w(), "x", 1));
  ASSERT_EQ(child, waitpid(child, nullptr, 0));
  // Gone: the id names nothing.
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_clock_gettime, ProcessClock(child), &ts));
}

TEST(CpuClock, InvalidIds) {
  timespec ts{};
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_clock_gettime, ProcessClock(0, 3), &ts));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_clock_getres, ProcessClock(0, 3), &ts));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_clock_gettime, ProcessClock(0x3ffffff0), &ts));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_clock_gettime, ThreadClock(0x3ffffff0), &ts));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_clock_gettime, CLOCK_PROCESS_CPUTIME_ID, nullptr));
}

std::atomic<int> vtalrm{0}, prof{0}, usr1{0};
void OnSignal(int sig) {
  if (sig == SIGVTALRM) vtalrm++;
  if (sig == SIGPROF) prof++;
  if (sig == SIGUSR1) usr1++;
}

void Handle(int sig, int flags = SA_RESTART) {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, nullptr);
}

TEST(CpuTimer, ItimerVirtualAndProfFireAsTheProcessRuns) {
  Handle(SIGVTALRM);
  Handle(SIGPROF);
  vtalrm = prof = 0;
  itimerval v{{0, 20000}, {0, 30000}};  // 30 ms, then every 20 ms
  ASSERT_SYSCALL_OK(setitimer(ITIMER_VIRTUAL, &v, nullptr));
  ASSERT_SYSCALL_OK(setitimer(ITIMER_PROF, &v, nullptr));
  itimerval got{};
  ASSERT_SYSCALL_OK(getitimer(ITIMER_VIRTUAL, &got));
  EXPECT_EQ(20000, got.it_interval.tv_usec);
  EXPECT_GT(got.it_value.tv_sec * 1000000 + got.it_value.tv_usec, 0);
  // Linux rounds to its tick: allow one.
  EXPECT_LE(got.it_value.tv_sec * 1000000 + got.it_value.tv_usec, 30000 + 10000);
  std::atomic<bool> done{false};
  int64_t end = Now(CLOCK_MONOTONIC) + 20 * kNsPerSec;
  while ((vtalrm.load() < 3 || prof.load() < 3) && Now(CLOCK_MONOTONIC) < end) Burn(5);
  EXPECT_GE(vtalrm.load(), 3);
  EXPECT_GE(prof.load(), 3);
  itimerval off{};
  ASSERT_SYSCALL_OK(setitimer(ITIMER_VIRTUAL, &off, &got));
  EXPECT_EQ(20000, got.it_interval.tv_usec);
  ASSERT_SYSCALL_OK(setitimer(ITIMER_PROF, &off, nullptr));
  ASSERT_SYSCALL_OK(getitimer(ITIMER_PROF, &got));
  EXPECT_EQ(0, got.it_value.tv_sec + got.it_value.tv_usec);
  signal(SIGVTALRM, SIG_DFL);
  signal(SIGPROF, SIG_DFL);
}

TEST(CpuTimer, ItimerVirtualDoesNotCountSleep) {
  Handle(SIGVTALRM);
  vtalrm = 0;
  itimerval v{{0, 0}, {0, 100000}};  // 100 ms of CPU time
  ASSERT_SYSCALL_OK(setitimer(ITIMER_VIRTUAL, &v, nullptr));
  usleep(300000);
  EXPECT_EQ(0, vtalrm.load());
  itimerval off{};
  ASSERT_SYSCALL_OK(setitimer(ITIMER_VIRTUAL, &off, nullptr));
  signal(SIGVTALRM, SIG_DFL);
}

TEST(CpuTimer, ItimerErrors) {
  itimerval v{};
  EXPECT_SYSCALL_ERRNO(EINVAL, setitimer(static_cast<__itimer_which>(3), &v, nullptr));
  EXPECT_SYSCALL_ERRNO(EINVAL, getitimer(static_cast<__itimer_which>(3), &v));
  itimerval bad{{0, 0}, {0, 1000000}};
  EXPECT_SYSCALL_ERRNO(EINVAL, setitimer(ITIMER_PROF, &bad, nullptr));
  EXPECT_SYSCALL_ERRNO(EFAULT, getitimer(ITIMER_VIRTUAL, nullptr));
}

TEST(CpuTimer, TimerCreateOnCpuClocks) {
  Handle(SIGUSR1);
  usr1 = 0;
  for (clockid_t clock : {CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID}) {
    sigevent ev{};
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGUSR1;
    timer_t id;
    ASSERT_SYSCALL_OK(syscall(SYS_timer_create, clock, &ev, &id));
    int before = usr1.load();
    itimerspec its{{0, 0}, {0, 20000000}};  // 20 ms of CPU
    ASSERT_SYSCALL_OK(syscall(SYS_timer_settime, id, 0, &its, nullptr));
    itimerspec got{};
    ASSERT_SYSCALL_OK(syscall(SYS_timer_gettime, id, &got));
    EXPECT_LE(Ns(got.it_value), 20000000);
    int64_t end = Now(CLOCK_MONOTONIC) + 20 * kNsPerSec;
    while (usr1.load() == before && Now(CLOCK_MONOTONIC) < end) Burn(5);
    EXPECT_GT(usr1.load(), before) << "clock " << clock;
    // An absolute time that has passed on the clock fires at once.
    before = usr1.load();
    its.it_value = {0, 1};
    ASSERT_SYSCALL_OK(syscall(SYS_timer_settime, id, TIMER_ABSTIME, &its, nullptr));
    end = Now(CLOCK_MONOTONIC) + 20 * kNsPerSec;
    while (usr1.load() == before && Now(CLOCK_MONOTONIC) < end) Burn(1);
    EXPECT_GT(usr1.load(), before);
    ASSERT_SYSCALL_OK(syscall(SYS_timer_delete, id));
  }
  sigevent ev{};
  ev.sigev_notify = SIGEV_NONE;
  timer_t id;
  // Ids whose low three bits are 3 are Linux's fd-based clocks (CLOCKFD), which have no
  // timers or sleeps; with the thread bit, 3 is an invalid CPU clock.
  EXPECT_SYSCALL_ERRNO(EOPNOTSUPP, syscall(SYS_timer_create, ProcessClock(0, 3), &ev, &id));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_timer_create, ThreadClock(0, 3), &ev, &id));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_timer_create, ProcessClock(0x3ffffff0), &ev, &id));
  EXPECT_SYSCALL_OK(syscall(SYS_timer_create, ThreadClock(Tid()), &ev, &id));
  EXPECT_SYSCALL_OK(syscall(SYS_timer_delete, id));
  signal(SIGUSR1, SIG_DFL);
}

TEST(CpuSleep, WhichClocksCanBeSleptOn) {
  timespec ts{0, 1000000};
  EXPECT_SYSCALL_ERRNO(EOPNOTSUPP,
                       syscall(SYS_clock_nanosleep, CLOCK_THREAD_CPUTIME_ID, 0, &ts, nullptr));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_clock_nanosleep, ThreadClock(0), 0, &ts, nullptr));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_clock_nanosleep, ThreadClock(Tid()), 0, &ts, nullptr));
  EXPECT_SYSCALL_ERRNO(EOPNOTSUPP,
                       syscall(SYS_clock_nanosleep, ProcessClock(0, 3), 0, &ts, nullptr));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_clock_nanosleep, ThreadClock(0, 3), 0, &ts, nullptr));
  timespec zero{0, 0};
  EXPECT_EQ(0,
            syscall(SYS_clock_nanosleep, CLOCK_PROCESS_CPUTIME_ID, TIMER_ABSTIME, &zero, nullptr));
}

TEST(CpuSleep, ProcessClockSleepEndsAsAnotherThreadRuns) {
  std::atomic<bool> done{false};
  std::thread burner([&] { BurnUntil(done); });
  timespec ts{0, 30000000};  // 30 ms of the process's CPU time
  EXPECT_EQ(0, syscall(SYS_clock_nanosleep, CLOCK_PROCESS_CPUTIME_ID, 0, &ts, nullptr));
  done = true;
  burner.join();
}

// --- Interrupted sleeps --------------------------------------------------------------------

TEST(SleepRestart, RestartSyscallWithNothingToRestartIsEintr) {
  EXPECT_SYSCALL_ERRNO(EINTR, syscall(SYS_restart_syscall));
}

// A handler ends a sleep with EINTR and the time left; sleeping on with it, the whole sleep
// takes about the time asked for, however often it is interrupted.
TEST(SleepRestart, RemainingTimeAddsUp) {
  Handle(SIGALRM, SA_RESTART);
  itimerval every{{0, 40000}, {0, 40000}};
  ASSERT_SYSCALL_OK(setitimer(ITIMER_REAL, &every, nullptr));
  int interrupted = 0;
  int64_t start = Now(CLOCK_MONOTONIC);
  timespec req{0, 300000000};
  timespec rem{};
  while (syscall(SYS_nanosleep, &req, &rem) == -1) {
    ASSERT_EQ(EINTR, errno);
    EXPECT_LE(Ns(rem), Ns(req));
    req = rem;
    ++interrupted;
  }
  int64_t took = Now(CLOCK_MONOTONIC) - start;
  itimerval off{};
  setitimer(ITIMER_REAL, &off, nullptr);
  signal(SIGALRM, SIG_DFL);
  EXPECT_GE(interrupted, 2);
  EXPECT_GE(took, 300000000);
  EXPECT_LT(took, 600000000);
}

TEST(SleepRestart, RelativeClockNanosleepReportsTheRest) {
  Handle(SIGALRM, 0);
  itimerval once{{0, 0}, {0, 50000}};
  ASSERT_SYSCALL_OK(setitimer(ITIMER_REAL, &once, nullptr));
  timespec req{2, 0}, rem{};
  EXPECT_SYSCALL_ERRNO(EINTR, syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &req, &rem));
  EXPECT_GT(Ns(rem), 0);
  EXPECT_LT(Ns(rem), 2 * kNsPerSec);
  signal(SIGALRM, SIG_DFL);
}

// Stopped and continued (no handler runs), a sleep resumes through restart_syscall with what
// was left of it (or its deadline): it does not start again. For nanosleep, poll with a
// timeout, and a futex wait with a timeout.
class StopAndContinue : public ::testing::TestWithParam<int> {};

long SleepKind(int kind) {
  timespec req{0, 300000000};
  switch (kind) {
    case 0:
      return syscall(SYS_nanosleep, &req, nullptr);
    case 1:
      return syscall(SYS_poll, nullptr, 0, 300);
    default: {
      uint32_t word = 0;
      long r = syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, &req, nullptr, 0);
      return r == -1 && errno == ETIMEDOUT ? 0 : -1;
    }
  }
}

TEST_P(StopAndContinue, ResumesTheSleep) {
  conformance::Pipe p;
  ASSERT_TRUE(p.ok());
  pid_t child = fork();
  if (child == 0) {
    int64_t start = Now(CLOCK_MONOTONIC);
    (void)write(p.w(), "x", 1);
    if (SleepKind(GetParam()) != 0) _exit(1);
    int64_t took = Now(CLOCK_MONOTONIC) - start;
    _exit(took < 300000000 ? 2 : (took < 600000000 ? 0 : 3));
  }
  ASSERT_GT(child, 0);
  char c;
  ASSERT_EQ(1, read(p.r(), &c, 1));
  for (int i = 0; i < 3; ++i) {
    usleep(40000);
    kill(child, SIGSTOP);
    kill(child, SIGCONT);
  }
  int status = 0;
  ASSERT_EQ(child, waitpid(child, &status, 0));
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(0, WEXITSTATUS(status));
}

INSTANTIATE_TEST_SUITE_P(NanosleepPollFutex, StopAndContinue, ::testing::Values(0, 1, 2));

}  // namespace
