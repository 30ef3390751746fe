// Job control: stop signals stop a whole process until SIGCONT, the parent hears of both
// (SIGCHLD with CLD_STOPPED / CLD_CONTINUED, wait's WUNTRACED / WCONTINUED), and orphaned
// process groups are treated as POSIX says.
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "syscalls/test_util.h"

namespace {

using conformance::InChild;
using conformance::Pipe;

// Forks a child that runs `body` and then exits with its result.
pid_t Spawn(const std::function<int()>& body) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  return pid;
}

// A child that waits for signals forever (until killed).
pid_t SpawnSleeper() {
  return Spawn([] {
    while (true) pause();
    return 0;
  });
}

// Waits for the stop report of `pid`; true when it came, with `sig`.
bool WaitStopped(pid_t pid, int sig) {
  int status = 0;
  if (waitpid(pid, &status, WUNTRACED) != pid) return false;
  return WIFSTOPPED(status) && WSTOPSIG(status) == sig;
}

void KillAndReap(pid_t pid) {
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
}

// Takes the next SIGCHLD (blocked by the caller) within a generous time.
bool NextSigchld(siginfo_t* info) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  timespec timeout{30, 0};
  return sigtimedwait(&set, info, &timeout) == SIGCHLD;
}

class BlockSigchld {
 public:
  BlockSigchld() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &old_);
  }
  ~BlockSigchld() {
    // Drop what is left pending before unblocking.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    timespec zero{0, 0};
    while (sigtimedwait(&set, nullptr, &zero) == SIGCHLD) {
    }
    sigprocmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t old_;
};

TEST(JobControl, SigstopStopsAndSigcontContinues) {
  pid_t pid = SpawnSleeper();
  ASSERT_GT(pid, 0);
  ASSERT_SYSCALL_OK(kill(pid, SIGSTOP));
  EXPECT_TRUE(WaitStopped(pid, SIGSTOP));
  ASSERT_SYSCALL_OK(kill(pid, SIGCONT));
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, WCONTINUED), pid);
  EXPECT_TRUE(WIFCONTINUED(status)) << std::hex << status;
  EXPECT_EQ(status, 0xffff);
  KillAndReap(pid);
}

TEST(JobControl, ParentGetsSigchldWithStopAndContinueCodes) {
  BlockSigchld block;
  pid_t pid = SpawnSleeper();
  ASSERT_GT(pid, 0);
  ASSERT_SYSCALL_OK(kill(pid, SIGSTOP));
  siginfo_t info{};
  ASSERT_TRUE(NextSigchld(&info));
  EXPECT_EQ(info.si_code, CLD_STOPPED);
  EXPECT_EQ(info.si_pid, pid);
  EXPECT_EQ(info.si_status, SIGSTOP);
  EXPECT_EQ(info.si_uid, getuid());
  ASSERT_SYSCALL_OK(kill(pid, SIGCONT));
  ASSERT_TRUE(NextSigchld(&info));
  EXPECT_EQ(info.si_code, CLD_CONTINUED);
  EXPECT_EQ(info.si_pid, pid);
  EXPECT_EQ(info.si_status, SIGCONT);
  ASSERT_SYSCALL_OK(kill(pid, SIGKILL));
  ASSERT_TRUE(NextSigchld(&info));
  EXPECT_EQ(info.si_code, CLD_KILLED);
  EXPECT_EQ(info.si_status, SIGKILL);
  int status;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
}

TEST(JobControl, SaNocldstopSuppressesStopAndContinueNotices) {
  struct sigaction sa {
  }, old{};
  sa.sa_handler = [](int) {};
  sa.sa_flags = SA_NOCLDSTOP;
  ASSERT_SYSCALL_OK(sigaction(SIGCHLD, &sa, &old));
  {
    BlockSigchld block;
    pid_t pid = SpawnSleeper();
    ASSERT_GT(pid, 0);
    ASSERT_SYSCALL_OK(kill(pid, SIGSTOP));
    EXPECT_TRUE(WaitStopped(pid, SIGSTOP));
    ASSERT_SYSCALL_OK(kill(pid, SIGCONT));
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, WCONTINUED), pid);
    sigset_t pending;
    sigpending(&pending);
    EXPECT_FALSE(sigismember(&pending, SIGCHLD));
    // Its end is still announced.
    ASSERT_SYSCALL_OK(kill(pid, SIGKILL));
    siginfo_t info{};
    ASSERT_TRUE(NextSigchld(&info));
    EXPECT_EQ(info.si_code, CLD_KILLED);
    waitpid(pid, &status, 0);
  }
  sigaction(SIGCHLD, &old, nullptr);
}

TEST(JobControl, StoppedProcessDiesOfSigkill) {
  pid_t pid = SpawnSleeper();
  ASSERT_GT(pid, 0);
  ASSERT_SYSCALL_OK(kill(pid, SIGSTOP));
  ASSERT_TRUE(WaitStopped(pid, SIGSTOP));
  ASSERT_SYSCALL_OK(kill(pid, SIGKILL));
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

TEST(JobControl, StoppedProcessKeepsOtherSignalsUntilContinued) {
  // SIGTERM sent while stopped takes effect only once the process runs again.
  pid_t pid = SpawnSleeper();
  ASSERT_GT(pid, 0);
  ASSERT_SYSCALL_OK(kill(pid, SIGSTOP));
  ASSERT_TRUE(WaitStopped(pid, SIGSTOP));
  ASSERT_SYSCALL_OK(kill(pid, SIGTERM));
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, WNOHANG), 0);
  ASSERT_SYSCALL_OK(kill(pid, SIGCONT));
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
}

TEST(JobControl, BlockedReadRestartsAfterStopAndContinue) {
  Pipe data;
  ASSERT_TRUE(data.ok());
  pid_t pid = Spawn([&] {
    char c = 0;
    ssize_t n = read(data.r(), &c, 1);
    return n == 1 && c == 'x' ? 0 : 1;
  });
  ASSERT_GT(pid, 0);
  ASSERT_SYSCALL_OK(kill(pid, SIGSTOP));
  ASSERT_TRUE(WaitStopped(pid, SIGSTOP));
  ASSERT_SYSCALL_OK(kill(pid, SIGCONT));
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, WCONTINUED), pid);
  ASSERT_EQ(write(data.w(), "x", 1), 1);
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << std::hex << status;
}

// signal(7): sigtimedwait is one of the calls that fail with EINTR after a stop and continue,
// even with no handler.
TEST(JobControl, SigtimedwaitFailsWithEintrAfterStopAndContinue) {
  Pipe ready, result;
  ASSERT_TRUE(ready.ok() && result.ok());
  pid_t pid = Spawn([&] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    write(ready.w(), "r", 1);
    timespec timeout{60, 0};
    int r = sigtimedwait(&set, nullptr, &timeout);
    char c = r == -1 && errno == EINTR ? 'E' : 'x';
    write(result.w(), &c, 1);
    return 0;
  });
  ASSERT_GT(pid, 0);
  char c;
  ASSERT_EQ(read(ready.r(), &c, 1), 1);
  // The child may not be inside sigtimedwait yet at the first stop: repeat until it answers.
  bool answered = false;
  for (int round = 0; round < 600 && !answered; ++round) {
    ASSERT_SYSCALL_OK(kill(pid, SIGSTOP));
    ASSERT_TRUE(WaitStopped(pid, SIGSTOP));
    ASSERT_SYSCALL_OK(kill(pid, SIGCONT));
    pollfd p{result.r(), POLLIN, 0};
    answered = poll(&p, 1, 100) == 1;
  }
  ASSERT_TRUE(answered);
  ASSERT_EQ(read(result.r(), &c, 1), 1);
  EXPECT_EQ(c, 'E');
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
}

TEST(JobControl, EveryThreadStops) {
  Pipe ready;
  ASSERT_TRUE(ready.ok());
  pid_t pid = Spawn([&] {
    pthread_t th;
    pthread_create(
        &th, nullptr,
        [](void*) -> void* {
          while (true) pause();
          return nullptr;
        },
        nullptr);
    write(ready.w(), "r", 1);
    while (true) pause();
    return 0;
  });
  ASSERT_GT(pid, 0);
  char c;
  ASSERT_EQ(read(ready.r(), &c, 1), 1);
  ASSERT_SYSCALL_OK(kill(pid, SIGSTOP));
  EXPECT_TRUE(WaitStopped(pid, SIGSTOP));
  ASSERT_SYSCALL_OK(kill(pid, SIGCONT));
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, WCONTINUED), pid);
  EXPECT_TRUE(WIFCONTINUED(status));
  KillAndReap(pid);
}

TEST(JobControl, SigstopCannotBeCaughtIgnoredOrBlocked) {
  struct sigaction sa {};
  sa.sa_handler = SIG_IGN;
  EXPECT_SYSCALL_ERRNO(EINVAL, sigaction(SIGSTOP, &sa, nullptr));
  pid_t pid = Spawn([] {
    sigset_t set;
    sigfillset(&set);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    while (true) pause();
    return 0;
  });
  ASSERT_GT(pid, 0);
  ASSERT_SYSCALL_OK(kill(pid, SIGSTOP));
  EXPECT_TRUE(WaitStopped(pid, SIGSTOP));
  KillAndReap(pid);
}

TEST(JobControl, SigcontContinuesEvenWhenBlockedOrIgnored) {
  pid_t pid = Spawn([] {
    signal(SIGCONT, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCONT);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    while (true) pause();
    return 0;
  });
  ASSERT_GT(pid, 0);
  ASSERT_SYSCALL_OK(kill(pid, SIGSTOP));
  ASSERT_TRUE(WaitStopped(pid, SIGSTOP));
  ASSERT_SYSCALL_OK(kill(pid, SIGCONT));
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, WCONTINUED), pid);
  EXPECT_TRUE(WIFCONTINUED(status));
  KillAndReap(pid);
}

TEST(JobControl, SigcontDiscardsPendingStopSignalsAndStopDiscardsSigcont) {
  // The child blocks both, so that they stay pending, and reports what is pending when told.
  Pipe go, report;
  ASSERT_TRUE(go.ok() && report.ok());
  pid_t pid = Spawn([&] {
    setpgid(0, 0);  // a group that is not orphaned: SIGTSTP may stop it
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTSTP);
    sigaddset(&set, SIGCONT);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    for (int round = 0; round < 2; ++round) {
      write(report.w(), "r", 1);
      char c;
      if (read(go.r(), &c, 1) != 1) return 1;
      sigset_t pending;
      sigpending(&pending);
      char bits = static_cast<char>('0' + (sigismember(&pending, SIGTSTP) ? 1 : 0) +
                                    (sigismember(&pending, SIGCONT) ? 2 : 0));
      write(report.w(), &bits, 1);
    }
    return 0;
  });
  ASSERT_GT(pid, 0);
  char c;
  ASSERT_EQ(read(report.r(), &c, 1), 1);
  ASSERT_SYSCALL_OK(kill(pid, SIGTSTP));
  ASSERT_SYSCALL_OK(kill(pid, SIGCONT));
  ASSERT_EQ(write(go.w(), "g", 1), 1);
  ASSERT_EQ(read(report.r(), &c, 1), 1);
  EXPECT_EQ(c, '2') << "after SIGTSTP then SIGCONT, only SIGCONT is pending";
  ASSERT_EQ(read(report.r(), &c, 1), 1);
  ASSERT_SYSCALL_OK(kill(pid, SIGTSTP));
  ASSERT_EQ(write(go.w(), "g", 1), 1);
  ASSERT_EQ(read(report.r(), &c, 1), 1);
  EXPECT_EQ(c, '1') << "SIGTSTP discards the pending SIGCONT";
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << std::hex << status;
}

TEST(JobControl, SigtstpStopsAProcessInAGroupThatIsNotOrphaned) {
  pid_t pid = Spawn([] {
    setpgid(0, 0);  // its parent is in another group of the same session
    raise(SIGTSTP);
    return 0;
  });
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(WaitStopped(pid, SIGTSTP));
  ASSERT_SYSCALL_OK(kill(pid, SIGCONT));
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << std::hex << status;
}

TEST(JobControl, TerminalStopSignalsAreDiscardedInAnOrphanedGroup) {
  // A new session's only process is an orphaned group: SIGTSTP, SIGTTIN and SIGTTOU do
  // nothing there, while SIGSTOP still stops it.
  pid_t pid = Spawn([] {
    if (setsid() < 0) return 1;
    raise(SIGTSTP);
    raise(SIGTTIN);
    raise(SIGTTOU);
    return 0;
  });
  ASSERT_GT(pid, 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, WUNTRACED), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << std::hex << status;

  pid = Spawn([] {
    if (setsid() < 0) return 1;
    raise(SIGSTOP);
    return 0;
  });
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(WaitStopped(pid, SIGSTOP));
  ASSERT_SYSCALL_OK(kill(pid, SIGCONT));
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(JobControl, HandlerForSigtstpRunsInsteadOfStopping) {
  pid_t pid = Spawn([] {
    setpgid(0, 0);
    static volatile sig_atomic_t caught = 0;
    signal(SIGTSTP, [](int) { caught = 1; });
    raise(SIGTSTP);
    return caught ? 0 : 1;
  });
  ASSERT_GT(pid, 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, WUNTRACED), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << std::hex << status;
}

// The subreaper (this test process) adopts the grandchild when its parent exits; the
// grandchild's group, stopped and now orphaned, gets SIGHUP and then SIGCONT.
TEST(JobControl, NewlyOrphanedStoppedGroupGetsSighupAndSigcont) {
  ASSERT_SYSCALL_OK(prctl(PR_SET_CHILD_SUBREAPER, 1));
  Pipe report;
  ASSERT_TRUE(report.ok());
  pid_t middle = Spawn([&] {
    if (setsid() < 0) return 1;
    pid_t grandchild = Spawn([&] {
      setpgid(0, 0);  // its own group, linked to the session through its parent
      static int fd;
      fd = report.w();
      struct sigaction sa {};
      sa.sa_handler = [](int) { write(fd, "H", 1); };
      sigaction(SIGHUP, &sa, nullptr);
      raise(SIGSTOP);
      write(fd, "C", 1);  // continued
      return 0;
    });
    if (grandchild < 0) return 1;
    int status = 0;
    if (waitpid(grandchild, &status, WUNTRACED) != grandchild || !WIFSTOPPED(status)) return 2;
    write(report.w(), "S", 1);
    return 0;  // the grandchild's group becomes orphaned
  });
  ASSERT_GT(middle, 0);
  report.CloseWrite();
  int status = 0;
  ASSERT_EQ(waitpid(middle, &status, 0), middle);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << std::hex << status;
  std::string got;
  char c;
  while (read(report.r(), &c, 1) == 1) got += c;
  EXPECT_EQ(got, "SHC");
  // Adopted by this subreaper, which reaps it.
  pid_t reaped = wait(&status);
  EXPECT_GT(reaped, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << std::hex << status;
  prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST(JobControl, OrphansAreReparentedToTheSubreaper) {
  ASSERT_SYSCALL_OK(prctl(PR_SET_CHILD_SUBREAPER, 1));
  Pipe report;
  ASSERT_TRUE(report.ok());
  pid_t middle = Spawn([&] {
    pid_t grandchild = Spawn([] { return 9; });
    if (grandchild < 0) return 1;
    write(report.w(), &grandchild, sizeof(grandchild));
    return 0;
  });
  ASSERT_GT(middle, 0);
  pid_t grandchild = 0;
  ASSERT_EQ(read(report.r(), &grandchild, sizeof(grandchild)),
            static_cast<ssize_t>(sizeof(grandchild)));
  int status = 0;
  ASSERT_EQ(waitpid(middle, &status, 0), middle);
  // The grandchild, whether it has ended already or not, is now this process's child.
  ASSERT_EQ(waitpid(grandchild, &status, 0), grandchild);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 9);
  prctl(PR_SET_CHILD_SUBREAPER, 0);
}

// A zombie adopted by a subreaper that ignores SIGCHLD is reaped at once.
TEST(JobControl, AdoptedZombieIsReapedByAReaperIgnoringSigchld) {
  ASSERT_SYSCALL_OK(prctl(PR_SET_CHILD_SUBREAPER, 1));
  struct sigaction ign {}, old{};
  ign.sa_handler = SIG_IGN;
  ASSERT_SYSCALL_OK(sigaction(SIGCHLD, &ign, &old));
  Pipe report;
  ASSERT_TRUE(report.ok());
  pid_t middle = Spawn([&] {
    // The middle process does not ignore SIGCHLD: its child stays a zombie.
    signal(SIGCHLD, SIG_DFL);
    pid_t grandchild = Spawn([] { return 0; });
    if (grandchild < 0) return 1;
    siginfo_t info{};
    if (waitid(P_PID, grandchild, &info, WEXITED | WNOWAIT) != 0) return 2;
    write(report.w(), &grandchild, sizeof(grandchild));
    return 0;
  });
  ASSERT_GT(middle, 0);
  pid_t grandchild = 0;
  ASSERT_EQ(read(report.r(), &grandchild, sizeof(grandchild)),
            static_cast<ssize_t>(sizeof(grandchild)));
  int status;
  // Ignoring SIGCHLD: the wait lasts until the middle process is gone, then finds nothing.
  EXPECT_SYSCALL_ERRNO(ECHILD, waitpid(middle, &status, 0));
  EXPECT_SYSCALL_ERRNO(ECHILD, waitpid(-1, &status, WNOHANG));
  sigaction(SIGCHLD, &old, nullptr);
  prctl(PR_SET_CHILD_SUBREAPER, 0);
}

}  // namespace
