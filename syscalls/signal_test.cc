// Signal delivery: handlers with siginfo, masks and pending sets, real-time queueing, default
// actions, SIGCHLD and its reaping rules, SIGPIPE, syscall restart (SA_RESTART), sigaltstack,
// sigsuspend, sigtimedwait, sigqueueinfo, catching a fault, kill/tgkill errors, and process
// groups and sessions.
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include <gtest/gtest.h>

#include "syscalls/test_util.h"

namespace {

std::atomic<int> g_count{0};
std::atomic<int> g_last_sig{0};
siginfo_t g_info;
std::atomic<uintptr_t> g_handler_sp{0};

void CountingHandler(int sig, siginfo_t* info, void*) {
  g_count.fetch_add(1);
  g_last_sig.store(sig);
  g_info = *info;
  int local = 0;
  g_handler_sp.store(reinterpret_cast<uintptr_t>(&local));
}

void Install(int sig, int flags = SA_SIGINFO) {
  struct sigaction sa {};
  sa.sa_sigaction = CountingHandler;
  sa.sa_flags = flags | SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(sig, &sa, nullptr), 0);
}

void Restore(int sig) { signal(sig, SIG_DFL); }

void Reset() {
  g_count = 0;
  g_last_sig = 0;
  memset(&g_info, 0, sizeof(g_info));
}

pid_t Gettid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

void SleepMs(int ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, nullptr);
}

TEST(Signal, KillRunsTheHandlerWithSiginfo) {
  Reset();
  Install(SIGUSR1);
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
  // A signal a process sends itself is delivered before kill returns.
  EXPECT_EQ(g_count.load(), 1);
  EXPECT_EQ(g_info.si_signo, SIGUSR1);
  EXPECT_EQ(g_info.si_code, SI_USER);
  EXPECT_EQ(g_info.si_pid, getpid());
  EXPECT_EQ(g_info.si_uid, getuid());
  Restore(SIGUSR1);
}

TEST(Signal, RaiseUsesTgkill) {
  Reset();
  Install(SIGUSR2);
  ASSERT_EQ(raise(SIGUSR2), 0);
  EXPECT_EQ(g_count.load(), 1);
  EXPECT_EQ(g_info.si_code, SI_TKILL);
  Restore(SIGUSR2);
}

TEST(Signal, BlockedSignalStaysPendingUntilUnblocked) {
  Reset();
  Install(SIGUSR1);
  sigset_t block, old, pending;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &block, &old), 0);
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);  // a standard signal is pending once
  EXPECT_EQ(g_count.load(), 0);
  ASSERT_EQ(sigpending(&pending), 0);
  EXPECT_TRUE(sigismember(&pending, SIGUSR1));
  ASSERT_EQ(sigprocmask(SIG_SETMASK, &old, nullptr), 0);
  EXPECT_EQ(g_count.load(), 1);
  ASSERT_EQ(sigpending(&pending), 0);
  EXPECT_FALSE(sigismember(&pending, SIGUSR1));
  Restore(SIGUSR1);
}

TEST(Signal, RealtimeSignalsQueueWithTheirValues) {
  Reset();
  int sig = SIGRTMIN + 1;
  Install(sig);
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, sig);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &block, &old), 0);
  for (int i = 0; i < 3; ++i) {
    union sigval v;
    v.sival_int = 100 + i;
    ASSERT_EQ(sigqueue(getpid(), sig, v), 0);
  }
  EXPECT_EQ(g_count.load(), 0);
  ASSERT_EQ(sigprocmask(SIG_SETMASK, &old, nullptr), 0);
  EXPECT_EQ(g_count.load(), 3);
  EXPECT_EQ(g_info.si_code, SI_QUEUE);
  EXPECT_EQ(g_info.si_value.sival_int, 102);  // delivered in the order sent
  Restore(sig);
}

TEST(Signal, HandlerMaskBlocksTheSignalWhileItRuns) {
  // Without SA_NODEFER the signal is blocked inside its handler; the mask comes back after.
  static std::atomic<int> nested{0};
  static std::atomic<int> depth{0};
  static std::atomic<int> runs{0};
  struct sigaction sa {};
  sa.sa_handler = [](int) {
    int d = depth.fetch_add(1);
    if (d > 0) nested = 1;
    if (runs.fetch_add(1) == 0) raise(SIGUSR1);  // stays pending until the handler returns
    depth.fetch_sub(1);
  };
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(SIGUSR1, &sa, nullptr), 0);
  ASSERT_EQ(raise(SIGUSR1), 0);
  EXPECT_EQ(nested.load(), 0);
  EXPECT_EQ(runs.load(), 2);  // the second one ran after the first returned
  sigset_t now;
  ASSERT_EQ(sigprocmask(SIG_SETMASK, nullptr, &now), 0);
  EXPECT_FALSE(sigismember(&now, SIGUSR1));
  Restore(SIGUSR1);
}

TEST(Signal, DefaultActionTerminates) {
  pid_t pid = fork();
  if (pid == 0) {
    kill(getpid(), SIGTERM);
    _exit(1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_FALSE(WCOREDUMP(status));
}

TEST(Signal, SigchldReportsTheChild) {
  Reset();
  Install(SIGCHLD);
  pid_t pid = fork();
  if (pid == 0) _exit(7);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  // The signal was sent when the child exited; waiting may have finished first.
  for (int i = 0; i < 100 && g_count.load() == 0; ++i) SleepMs(10);
  EXPECT_EQ(g_count.load(), 1);
  EXPECT_EQ(g_info.si_signo, SIGCHLD);
  EXPECT_EQ(g_info.si_code, CLD_EXITED);
  EXPECT_EQ(g_info.si_pid, pid);
  EXPECT_EQ(g_info.si_status, 7);
  Restore(SIGCHLD);
}

TEST(Signal, IgnoredSigchldLeavesNoZombie) {
  signal(SIGCHLD, SIG_IGN);
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  // wait blocks until the child is gone, then finds no child at all.
  EXPECT_SYSCALL_ERRNO(ECHILD, waitpid(pid, nullptr, 0));
  Restore(SIGCHLD);
}

TEST(Signal, SigpipeKillsAWriterWithoutReaders) {
  pid_t pid = fork();
  if (pid == 0) {
    int fds[2];
    if (pipe(fds) != 0) _exit(1);
    close(fds[0]);
    (void)!write(fds[1], "x", 1);
    _exit(2);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGPIPE);

  signal(SIGPIPE, SIG_IGN);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  close(fds[0]);
  EXPECT_SYSCALL_ERRNO(EPIPE, write(fds[1], "x", 1));
  close(fds[1]);
  Restore(SIGPIPE);
}

struct Sender {
  pid_t tid;
  int sig;
  int write_fd;  // -1: only signal
};

void* SendLater(void* p) {
  auto* s = static_cast<Sender*>(p);
  SleepMs(100);
  syscall(SYS_tgkill, getpid(), s->tid, s->sig);
  if (s->write_fd >= 0) {
    SleepMs(100);
    (void)!write(s->write_fd, "y", 1);
  }
  return nullptr;
}

TEST(Signal, InterruptedReadFailsWithEintrWithoutSaRestart) {
  Reset();
  Install(SIGUSR1, 0);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  Sender s{Gettid(), SIGUSR1, fds[1]};
  pthread_t t;
  ASSERT_EQ(pthread_create(&t, nullptr, SendLater, &s), 0);
  char c;
  EXPECT_SYSCALL_ERRNO(EINTR, read(fds[0], &c, 1));
  EXPECT_EQ(g_count.load(), 1);
  pthread_join(t, nullptr);
  close(fds[0]);
  close(fds[1]);
  Restore(SIGUSR1);
}

TEST(Signal, InterruptedReadRestartsWithSaRestart) {
  Reset();
  Install(SIGUSR1, SA_RESTART);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  Sender s{Gettid(), SIGUSR1, fds[1]};
  pthread_t t;
  ASSERT_EQ(pthread_create(&t, nullptr, SendLater, &s), 0);
  char c = 0;
  EXPECT_EQ(read(fds[0], &c, 1), 1);
  EXPECT_EQ(c, 'y');
  EXPECT_EQ(g_count.load(), 1);
  pthread_join(t, nullptr);
  close(fds[0]);
  close(fds[1]);
  Restore(SIGUSR1);
}

TEST(Signal, SigsuspendWaitsForAHandlerAndRestoresTheMask) {
  Reset();
  Install(SIGUSR2);
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR2);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &block, &old), 0);
  Sender s{Gettid(), SIGUSR2, -1};
  pthread_t t;
  ASSERT_EQ(pthread_create(&t, nullptr, SendLater, &s), 0);
  sigset_t none;
  sigemptyset(&none);
  EXPECT_SYSCALL_ERRNO(EINTR, sigsuspend(&none));
  EXPECT_EQ(g_count.load(), 1);
  sigset_t now;
  ASSERT_EQ(sigprocmask(SIG_SETMASK, nullptr, &now), 0);
  EXPECT_TRUE(sigismember(&now, SIGUSR2));
  pthread_join(t, nullptr);
  ASSERT_EQ(sigprocmask(SIG_SETMASK, &old, nullptr), 0);
  Restore(SIGUSR2);
}

TEST(Signal, SigtimedwaitTakesAPendingSignal) {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &set, &old), 0);
  timespec zero{0, 0};
  EXPECT_SYSCALL_ERRNO(EAGAIN, sigtimedwait(&set, nullptr, &zero));
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
  siginfo_t info{};
  EXPECT_EQ(sigtimedwait(&set, &info, &zero), SIGUSR1);
  EXPECT_EQ(info.si_pid, getpid());
  timespec bad{0, 1000000000};
  EXPECT_SYSCALL_ERRNO(EINVAL, sigtimedwait(&set, nullptr, &bad));
  ASSERT_EQ(sigprocmask(SIG_SETMASK, &old, nullptr), 0);
}

TEST(Signal, HandlerRunsOnTheAlternateStack) {
  Reset();
  static char stack[64 * 1024];
  stack_t ss{};
  ss.ss_sp = stack;
  ss.ss_size = sizeof(stack);
  ASSERT_EQ(sigaltstack(&ss, nullptr), 0);
  Install(SIGUSR1, SA_ONSTACK);
  ASSERT_EQ(raise(SIGUSR1), 0);
  uintptr_t sp = g_handler_sp.load();
  EXPECT_GT(sp, reinterpret_cast<uintptr_t>(stack));
  EXPECT_LT(sp, reinterpret_cast<uintptr_t>(stack) + sizeof(stack));
  ss.ss_flags = SS_DISABLE;
  ASSERT_EQ(sigaltstack(&ss, nullptr), 0);
  Restore(SIGUSR1);
}

sigjmp_buf g_jump;
void* g_fault_addr;

TEST(Signal, FaultHandlerSeesTheAddressAndCanJumpOut) {
  struct sigaction sa {};
  sa.sa_sigaction = [](int, siginfo_t* info, void*) {
    g_fault_addr = info->si_addr;
    siglongjmp(g_jump, 1);
  };
  sa.sa_flags = SA_SIGINFO;
  ASSERT_EQ(sigaction(SIGSEGV, &sa, nullptr), 0);
  volatile int* bad = reinterpret_cast<volatile int*>(16);
  if (sigsetjmp(g_jump, 1) == 0) {
    *bad = 1;
    FAIL() << "the store did not fault";
  }
  EXPECT_EQ(g_fault_addr, reinterpret_cast<void*>(16));
  Restore(SIGSEGV);
}

TEST(Signal, KillAndTgkillErrors) {
  EXPECT_SYSCALL_ERRNO(EINVAL, kill(getpid(), 65));
  EXPECT_SYSCALL_ERRNO(EINVAL, kill(getpid(), -1));
  EXPECT_SYSCALL_OK(kill(getpid(), 0));
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  ASSERT_EQ(waitpid(pid, nullptr, 0), pid);
  EXPECT_SYSCALL_ERRNO(ESRCH, kill(pid, 0));  // reaped: gone
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_tgkill, 0, Gettid(), SIGUSR1));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_tgkill, getpid(), 0, SIGUSR1));
  EXPECT_SYSCALL_ERRNO(ESRCH, syscall(SYS_tgkill, getpid() + 100000, Gettid(), 0));
}

TEST(Signal, ProcessGroupsAndSessions) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    // A new session: the child leads it and its own process group.
    pid_t sid = setsid();
    pid_t me = getpid();
    int ok = sid == me && getsid(0) == me && getpgrp() == me;
    // A session leader cannot move to another group, nor start another session.
    ok = ok && setpgid(0, 0) == -1 && errno == EPERM;
    ok = ok && setsid() == -1 && errno == EPERM;
    (void)!write(fds[1], &ok, sizeof(ok));
    _exit(0);
  }
  close(fds[1]);
  int ok = 0;
  ASSERT_EQ(read(fds[0], &ok, sizeof(ok)), static_cast<ssize_t>(sizeof(ok)));
  EXPECT_EQ(ok, 1);
  ASSERT_EQ(waitpid(pid, nullptr, 0), pid);
  close(fds[0]);
  EXPECT_SYSCALL_ERRNO(ESRCH, getpgid(pid));
}

TEST(Signal, KillReachesAProcessGroup) {
  // Two children in a group of their own; kill(-pgid) ends both.
  pid_t a = fork();
  if (a == 0) {
    setpgid(0, 0);
    pause();
    _exit(1);
  }
  ASSERT_GT(a, 0);
  setpgid(a, a);  // also from the parent, so the group exists before the second joins
  pid_t b = fork();
  if (b == 0) {
    setpgid(0, a);
    pause();
    _exit(1);
  }
  setpgid(b, a);
  ASSERT_EQ(kill(-a, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(a, &status, 0), a);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
  ASSERT_EQ(waitpid(b, &status, 0), b);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
}

}  // namespace
