// wait4 and waitid: which children they select, what they report (status words, siginfo,
// rusage), the options that shape them, and their errors.
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <climits>
#include <cstring>

#include "syscalls/test_util.h"

namespace {

using conformance::Pipe;

void* const kBadAddr = reinterpret_cast<void*>(8);

pid_t Spawn(const std::function<int()>& body) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  return pid;
}

// A child that exits with `code` once `gate` is written to (or closed).
pid_t SpawnGated(const Pipe& gate, int code) {
  return Spawn([&gate, code] {
    close(gate.w());  // so that the parent's close is the last writer going
    char c;
    (void)read(gate.r(), &c, 1);
    return code;
  });
}

pid_t SpawnSleeper() {
  return Spawn([] {
    while (true) pause();
    return 0;
  });
}

void KillAndReap(pid_t pid) {
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
}

// Blocks until `pid` has exited (without reaping it).
void AwaitExit(pid_t pid) {
  siginfo_t info{};
  waitid(P_PID, pid, &info, WEXITED | WNOWAIT);
}

long RawWait4(pid_t pid, void* status, int options, void* ru) {
  return syscall(SYS_wait4, pid, status, options, ru);
}

long RawWaitid(int which, pid_t id, void* info, int options, void* ru) {
  return syscall(SYS_waitid, which, id, info, options, ru);
}

TEST(Wait, NoChildrenIsEchild) {
  int status;
  EXPECT_SYSCALL_ERRNO(ECHILD, waitpid(-1, &status, 0));
  EXPECT_SYSCALL_ERRNO(ECHILD, waitpid(-1, &status, WNOHANG));
  siginfo_t info;
  EXPECT_SYSCALL_ERRNO(ECHILD, waitid(P_ALL, 0, &info, WEXITED));
  // Not a child of ours: the parent's pid.
  EXPECT_SYSCALL_ERRNO(ECHILD, waitpid(getppid(), &status, 0));
}

TEST(Wait, BadOptionsAndIdtypesAreEinval) {
  int status;
  EXPECT_SYSCALL_ERRNO(EINVAL, RawWait4(-1, &status, 0x10000, nullptr));
  EXPECT_SYSCALL_ERRNO(EINVAL, RawWait4(-1, &status, WNOWAIT, nullptr));  // waitid's only
  siginfo_t info;
  EXPECT_SYSCALL_ERRNO(EINVAL, RawWaitid(P_ALL, 0, &info, 0, nullptr));  // nothing to wait for
  EXPECT_SYSCALL_ERRNO(EINVAL, RawWaitid(P_ALL, 0, &info, WNOHANG, nullptr));  // likewise
  EXPECT_SYSCALL_ERRNO(EINVAL, RawWaitid(P_ALL, 0, &info, WEXITED | 0x10000, nullptr));
  EXPECT_SYSCALL_ERRNO(EINVAL, RawWaitid(42, 0, &info, WEXITED, nullptr));
  EXPECT_SYSCALL_ERRNO(EINVAL, RawWaitid(P_PID, 0, &info, WEXITED, nullptr));
  EXPECT_SYSCALL_ERRNO(EINVAL, RawWaitid(P_PID, -1, &info, WEXITED, nullptr));
  EXPECT_SYSCALL_ERRNO(EINVAL, RawWaitid(P_PGID, -1, &info, WEXITED, nullptr));
  EXPECT_SYSCALL_ERRNO(EINVAL, RawWaitid(P_PIDFD, -1, &info, WEXITED, nullptr));
  EXPECT_SYSCALL_ERRNO(ESRCH, RawWait4(INT_MIN, &status, 0, nullptr));
}

TEST(Wait, PidfdIdtypeNeedsAPidfd) {
  siginfo_t info;
  EXPECT_SYSCALL_ERRNO(EBADF, RawWaitid(P_PIDFD, 1000000, &info, WEXITED, nullptr));
  Pipe p;
  ASSERT_TRUE(p.ok());
  EXPECT_SYSCALL_ERRNO(EBADF, RawWaitid(P_PIDFD, p.r(), &info, WEXITED, nullptr));
}

TEST(Wait, ExitStatusAndSiginfo) {
  pid_t pid = Spawn([] { return 7; });
  ASSERT_GT(pid, 0);
  siginfo_t info;
  memset(&info, 0xcc, sizeof(info));
  ASSERT_SYSCALL_OK(waitid(P_PID, pid, &info, WEXITED));
  EXPECT_EQ(info.si_signo, SIGCHLD);
  EXPECT_EQ(info.si_errno, 0);
  EXPECT_EQ(info.si_code, CLD_EXITED);
  EXPECT_EQ(info.si_pid, pid);
  EXPECT_EQ(info.si_uid, getuid());
  EXPECT_EQ(info.si_status, 7);
  int status;
  EXPECT_SYSCALL_ERRNO(ECHILD, waitpid(pid, &status, WNOHANG));  // reaped
}

TEST(Wait, StatusWordOfAnExit) {
  pid_t pid = Spawn([] { return 42; });
  ASSERT_GT(pid, 0);
  int status = -1;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(status, 42 << 8);
}

TEST(Wait, KilledChild) {
  pid_t pid = SpawnSleeper();
  ASSERT_GT(pid, 0);
  ASSERT_SYSCALL_OK(kill(pid, SIGTERM));
  siginfo_t info{};
  ASSERT_SYSCALL_OK(waitid(P_PID, pid, &info, WEXITED | WNOWAIT));
  EXPECT_EQ(info.si_code, CLD_KILLED);
  EXPECT_EQ(info.si_status, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(status, SIGTERM);
}

TEST(Wait, CoreSignalsReportDumpedConsistently) {
  // Whether a core is written depends on the system; waitid's code and wait4's core bit agree.
  pid_t pid = Spawn([] {
    struct rlimit none {
      0, 0
    };
    setrlimit(RLIMIT_CORE, &none);
    raise(SIGQUIT);
    return 0;
  });
  ASSERT_GT(pid, 0);
  siginfo_t info{};
  ASSERT_SYSCALL_OK(waitid(P_PID, pid, &info, WEXITED | WNOWAIT));
  EXPECT_TRUE(info.si_code == CLD_DUMPED || info.si_code == CLD_KILLED) << info.si_code;
  EXPECT_EQ(info.si_status, SIGQUIT);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGQUIT);
  EXPECT_EQ(WCOREDUMP(status) != 0, info.si_code == CLD_DUMPED);
}

TEST(Wait, WnohangReturnsZeroWhileTheChildRuns) {
  Pipe gate;
  ASSERT_TRUE(gate.ok());
  pid_t pid = SpawnGated(gate, 3);
  ASSERT_GT(pid, 0);
  int status = 12345;
  EXPECT_EQ(waitpid(pid, &status, WNOHANG), 0);
  EXPECT_EQ(status, 12345);  // untouched
  siginfo_t info;
  memset(&info, 0xcc, sizeof(info));
  ASSERT_SYSCALL_OK(waitid(P_PID, pid, &info, WEXITED | WNOHANG));
  EXPECT_EQ(info.si_signo, 0);
  EXPECT_EQ(info.si_pid, 0);
  EXPECT_EQ(info.si_status, 0);
  gate.CloseWrite();
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(WEXITSTATUS(status), 3);
}

TEST(Wait, WnowaitLeavesTheChildWaitable) {
  pid_t pid = Spawn([] { return 5; });
  ASSERT_GT(pid, 0);
  siginfo_t info{};
  ASSERT_SYSCALL_OK(waitid(P_PID, pid, &info, WEXITED | WNOWAIT));
  EXPECT_EQ(info.si_pid, pid);
  ASSERT_SYSCALL_OK(waitid(P_ALL, 0, &info, WEXITED | WNOWAIT));
  EXPECT_EQ(info.si_pid, pid);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(WEXITSTATUS(status), 5);
}

TEST(Wait, StopAndContinueAreReportedOnce) {
  pid_t pid = SpawnSleeper();
  ASSERT_GT(pid, 0);
  ASSERT_SYSCALL_OK(kill(pid, SIGSTOP));
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, WUNTRACED), pid);
  EXPECT_EQ(status, (SIGSTOP << 8) | 0x7f);
  EXPECT_TRUE(WIFSTOPPED(status));
  EXPECT_EQ(waitpid(pid, &status, WUNTRACED | WNOHANG), 0);
  ASSERT_SYSCALL_OK(kill(pid, SIGCONT));
  ASSERT_EQ(waitpid(pid, &status, WCONTINUED), pid);
  EXPECT_EQ(status, 0xffff);
  EXPECT_EQ(waitpid(pid, &status, WCONTINUED | WUNTRACED | WNOHANG), 0);
  KillAndReap(pid);
}

TEST(Wait, StopsAreNotReportedWithoutWuntraced) {
  pid_t pid = SpawnSleeper();
  ASSERT_GT(pid, 0);
  ASSERT_SYSCALL_OK(kill(pid, SIGSTOP));
  siginfo_t info{};
  ASSERT_SYSCALL_OK(waitid(P_PID, pid, &info, WSTOPPED | WNOWAIT));
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, WNOHANG), 0);
  EXPECT_EQ(waitpid(pid, &status, WNOHANG | WCONTINUED), 0);
  KillAndReap(pid);
}

TEST(Wait, WaitidStoppedAndContinuedSiginfo) {
  pid_t pid = SpawnSleeper();
  ASSERT_GT(pid, 0);
  ASSERT_SYSCALL_OK(kill(pid, SIGSTOP));
  siginfo_t info{};
  ASSERT_SYSCALL_OK(waitid(P_PID, pid, &info, WSTOPPED | WNOWAIT));
  EXPECT_EQ(info.si_code, CLD_STOPPED);
  EXPECT_EQ(info.si_status, SIGSTOP);
  EXPECT_EQ(info.si_pid, pid);
  EXPECT_EQ(info.si_uid, getuid());
  // WNOWAIT left it: a second wait sees it again, and consumes it.
  ASSERT_SYSCALL_OK(waitid(P_PID, pid, &info, WSTOPPED));
  EXPECT_EQ(info.si_code, CLD_STOPPED);
  ASSERT_SYSCALL_OK(waitid(P_PID, pid, &info, WSTOPPED | WNOHANG));
  EXPECT_EQ(info.si_pid, 0);
  ASSERT_SYSCALL_OK(kill(pid, SIGCONT));
  ASSERT_SYSCALL_OK(waitid(P_PID, pid, &info, WCONTINUED));
  EXPECT_EQ(info.si_code, CLD_CONTINUED);
  EXPECT_EQ(info.si_status, SIGCONT);
  EXPECT_EQ(info.si_pid, pid);
  KillAndReap(pid);
}

TEST(Wait, ProcessGroupSelection) {
  Pipe gate;
  ASSERT_TRUE(gate.ok());
  pid_t same = SpawnGated(gate, 1);
  pid_t other = Spawn([&gate] {
    setpgid(0, 0);
    close(gate.w());
    char c;
    (void)read(gate.r(), &c, 1);
    return 2;
  });
  ASSERT_GT(same, 0);
  ASSERT_GT(other, 0);
  setpgid(other, other);  // either of the two calls makes it so before it can exit
  gate.CloseWrite();
  AwaitExit(same);
  AwaitExit(other);
  int status = 0;
  // -pgid: the other group only.
  EXPECT_EQ(waitpid(-other, &status, 0), other);
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_SYSCALL_ERRNO(ECHILD, waitpid(-other, &status, WNOHANG));
  // 0: this process's group.
  EXPECT_EQ(waitpid(0, &status, 0), same);
  EXPECT_EQ(WEXITSTATUS(status), 1);
}

TEST(Wait, WaitidPgidZeroIsTheCallersGroup) {
  pid_t mine = Spawn([] { return 4; });
  ASSERT_GT(mine, 0);
  pid_t other = Spawn([] {
    setpgid(0, 0);
    return 6;
  });
  ASSERT_GT(other, 0);
  setpgid(other, other);
  AwaitExit(mine);
  AwaitExit(other);
  siginfo_t info{};
  ASSERT_SYSCALL_OK(waitid(P_PGID, 0, &info, WEXITED));
  EXPECT_EQ(info.si_pid, mine);
  ASSERT_SYSCALL_OK(waitid(P_PGID, other, &info, WEXITED));
  EXPECT_EQ(info.si_pid, other);
  EXPECT_EQ(info.si_status, 6);
}

// A child whose exit signal is not SIGCHLD is a "clone" child: plain waits do not see it.
TEST(Wait, CloneChildrenNeedWcloneOrWall) {
  pid_t pid = static_cast<pid_t>(syscall(SYS_clone, 0 /* no exit signal */, 0, 0, 0, 0));
  if (pid == 0) _exit(8);
  ASSERT_GT(pid, 0);
  siginfo_t info{};
  ASSERT_SYSCALL_OK(waitid(P_PID, pid, &info, WEXITED | WNOWAIT | __WALL));
  int status = 0;
  EXPECT_SYSCALL_ERRNO(ECHILD, waitpid(pid, &status, 0));
  ASSERT_SYSCALL_OK(waitid(P_PID, pid, &info, WEXITED | __WCLONE | WNOWAIT));
  EXPECT_EQ(info.si_pid, pid);
  ASSERT_EQ(waitpid(pid, &status, __WALL), pid);
  EXPECT_EQ(WEXITSTATUS(status), 8);

  // And __WCLONE leaves out ordinary children.
  pid_t plain = Spawn([] { return 1; });
  ASSERT_GT(plain, 0);
  EXPECT_SYSCALL_ERRNO(ECHILD, waitpid(plain, &status, __WCLONE));
  ASSERT_EQ(waitpid(plain, &status, 0), plain);
}

struct ForkFromThread {
  pid_t child = 0;
  int wnothread_result = 0;
};

TEST(Wait, WnothreadSeesOnlyTheCallingThreadsChildren) {
  ForkFromThread f;
  pthread_t th;
  ASSERT_EQ(pthread_create(
                &th, nullptr,
                [](void* arg) -> void* {
                  auto* f = static_cast<ForkFromThread*>(arg);
                  f->child = Spawn([] { return 3; });
                  return nullptr;
                },
                &f),
            0);
  ASSERT_EQ(pthread_join(th, nullptr), 0);
  ASSERT_GT(f.child, 0);
  AwaitExit(f.child);
  int status = 0;
  // The thread that forked it is gone: Linux hands its children to another thread of the
  // process, this one.
  ASSERT_EQ(waitpid(f.child, &status, __WNOTHREAD), f.child);
  EXPECT_EQ(WEXITSTATUS(status), 3);

  // A thread that is alive keeps its children to itself under __WNOTHREAD.
  Pipe forked, done;
  ASSERT_TRUE(forked.ok() && done.ok());
  struct Shared {
    Pipe* forked;
    Pipe* done;
    pid_t child;
  } shared{&forked, &done, 0};
  ASSERT_EQ(pthread_create(
                &th, nullptr,
                [](void* arg) -> void* {
                  auto* s = static_cast<Shared*>(arg);
                  s->child = Spawn([] { return 4; });
                  write(s->forked->w(), "f", 1);
                  char c;
                  (void)read(s->done->r(), &c, 1);
                  return nullptr;
                },
                &shared),
            0);
  char c;
  ASSERT_EQ(read(forked.r(), &c, 1), 1);
  AwaitExit(shared.child);
  EXPECT_SYSCALL_ERRNO(ECHILD, waitpid(shared.child, &status, __WNOTHREAD | WNOHANG));
  EXPECT_EQ(waitpid(shared.child, &status, 0), shared.child);
  ASSERT_EQ(write(done.w(), "d", 1), 1);
  pthread_join(th, nullptr);
}

TEST(Wait, BadPointersAreEfault) {
  pid_t pid = Spawn([] { return 0; });
  ASSERT_GT(pid, 0);
  AwaitExit(pid);
  EXPECT_SYSCALL_ERRNO(EFAULT, RawWait4(pid, kBadAddr, 0, nullptr));
  pid = Spawn([] { return 0; });
  ASSERT_GT(pid, 0);
  AwaitExit(pid);
  int status;
  EXPECT_SYSCALL_ERRNO(EFAULT, RawWait4(pid, &status, 0, kBadAddr));
  pid = Spawn([] { return 0; });
  ASSERT_GT(pid, 0);
  AwaitExit(pid);
  EXPECT_SYSCALL_ERRNO(EFAULT, RawWaitid(P_PID, pid, kBadAddr, WEXITED, nullptr));
  pid = Spawn([] { return 0; });
  ASSERT_GT(pid, 0);
  AwaitExit(pid);
  siginfo_t info;
  EXPECT_SYSCALL_ERRNO(EFAULT, RawWaitid(P_PID, pid, &info, WEXITED, kBadAddr));
  // Each wait reaped its child before failing to report it.
  EXPECT_SYSCALL_ERRNO(ECHILD, waitpid(-1, &status, WNOHANG));
}

TEST(Wait, NullPointersAreAllowed) {
  pid_t pid = Spawn([] { return 0; });
  ASSERT_GT(pid, 0);
  AwaitExit(pid);
  EXPECT_EQ(RawWait4(pid, nullptr, 0, nullptr), pid);
  pid = Spawn([] { return 0; });
  ASSERT_GT(pid, 0);
  AwaitExit(pid);
  EXPECT_EQ(RawWaitid(P_PID, pid, nullptr, WEXITED, nullptr), 0);
}

TEST(Wait, RusageOfTheReapedChildCountsItsCpuTime) {
  pid_t pid = Spawn([] {
    // Busy until this process has used some CPU time.
    timespec ts{};
    volatile uint64_t x = 0;
    do {
      for (int i = 0; i < 100000; ++i) x = x + i;
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    } while (ts.tv_sec == 0 && ts.tv_nsec < 20'000'000);
    return 0;
  });
  ASSERT_GT(pid, 0);
  struct rusage ru {};
  int status;
  ASSERT_EQ(wait4(pid, &status, 0, &ru), pid);
  int64_t us = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec +
               ru.ru_stime.tv_usec;
  EXPECT_GT(us, 0);
  EXPECT_GE(ru.ru_utime.tv_usec, 0);
  EXPECT_LT(ru.ru_utime.tv_usec, 1000000);
  // And the children's total grew by at least as much.
  struct rusage kids {};
  ASSERT_SYSCALL_OK(getrusage(RUSAGE_CHILDREN, &kids));
  EXPECT_GE(kids.ru_utime.tv_sec * 1000000LL + kids.ru_utime.tv_usec +
                kids.ru_stime.tv_sec * 1000000LL + kids.ru_stime.tv_usec,
            us);
}

TEST(Wait, WaitIsInterruptedBySignalWithoutSaRestart) {
  pid_t pid = SpawnSleeper();
  ASSERT_GT(pid, 0);
  struct sigaction sa {
  }, old{};
  sa.sa_handler = [](int) {};
  ASSERT_SYSCALL_OK(sigaction(SIGALRM, &sa, &old));
  struct itimerval it {};
  it.it_value.tv_usec = 50'000;
  ASSERT_SYSCALL_OK(setitimer(ITIMER_REAL, &it, nullptr));
  int status;
  EXPECT_SYSCALL_ERRNO(EINTR, waitpid(pid, &status, 0));
  sigaction(SIGALRM, &old, nullptr);
  KillAndReap(pid);
}

}  // namespace
