// Who may signal whom: kill, tkill, tgkill and rt_sigqueueinfo check the sender's real or
// effective uid against the target's real or saved uid (or CAP_KILL, or SIGCONT within the
// session).
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "syscalls/test_util.h"

namespace {

using conformance::InChild;
using conformance::Pipe;

constexpr uid_t kUserA = 65534;
constexpr uid_t kUserB = 65533;

// A child running as (ruid, euid, suid) that waits to be killed; ready once it has switched.
class Target {
 public:
  Target(uid_t r, uid_t e, uid_t s) {
    Pipe ready;
    pid_ = fork();
    if (pid_ == 0) {
      if (setresuid(r, e, s) != 0) _exit(1);
      write(ready.w(), "r", 1);
      while (true) pause();
    }
    char c;
    ok_ = pid_ > 0 && read(ready.r(), &c, 1) == 1;
  }
  ~Target() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      int status;
      waitpid(pid_, &status, 0);
    }
  }
  bool ok() const { return ok_; }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  bool ok_ = false;
};

// Runs `body` in a child that first becomes (ruid, euid, suid); 0 means it passed.
int AsUser(uid_t r, uid_t e, uid_t s, const std::function<int()>& body) {
  return InChild([&] {
    if (setresuid(r, e, s) != 0) return 100;
    return body();
  });
}

TEST(Kill, UnprivilegedSenderNeedsAMatchingUid) {
  Target other(kUserB, kUserB, kUserB);
  ASSERT_TRUE(other.ok());
  pid_t pid = other.pid();
  EXPECT_EQ(
      AsUser(kUserA, kUserA, kUserA,
             [pid] {
               if (kill(pid, SIGTERM) != -1 || errno != EPERM) return 1;
               if (kill(pid, 0) != -1 || errno != EPERM) return 2;  // existence checks too
               if (syscall(SYS_tkill, pid, SIGTERM) != -1 || errno != EPERM) return 3;
               if (syscall(SYS_tgkill, pid, pid, SIGTERM) != -1 || errno != EPERM) return 4;
               siginfo_t info{};
               info.si_code = SI_QUEUE;
               info.si_pid = getpid();
               info.si_uid = getuid();
               if (syscall(SYS_rt_sigqueueinfo, pid, SIGTERM, &info) != -1 || errno != EPERM) {
                 return 5;
               }
               // A process that is not there is ESRCH whatever the permissions.
               return 0;
             }),
      0);
}

TEST(Kill, MatchingRealOrSavedUidIsEnough) {
  // The target's saved uid is the sender's: allowed.
  Target saved(kUserB, kUserB, kUserA);
  ASSERT_TRUE(saved.ok());
  pid_t pid = saved.pid();
  EXPECT_EQ(AsUser(kUserA, kUserA, kUserA, [pid] { return kill(pid, 0) == 0 ? 0 : 1; }), 0);
  // The sender's real uid matches the target's real uid, its effective uid does not.
  Target real(kUserA, kUserB, kUserB);
  ASSERT_TRUE(real.ok());
  pid = real.pid();
  EXPECT_EQ(AsUser(kUserA, kUserB, kUserB, [pid] { return kill(pid, 0) == 0 ? 0 : 1; }), 0);
  // The target's effective uid alone does not count.
  Target effective(kUserB, kUserA, kUserB);
  ASSERT_TRUE(effective.ok());
  pid = effective.pid();
  EXPECT_EQ(AsUser(kUserA, kUserA, kUserA,
                   [pid] { return kill(pid, 0) == -1 && errno == EPERM ? 0 : 1; }),
            0);
}

TEST(Kill, RootMaySignalAnyone) {
  Target other(kUserB, kUserB, kUserB);
  ASSERT_TRUE(other.ok());
  EXPECT_SYSCALL_OK(kill(other.pid(), 0));
  EXPECT_SYSCALL_OK(kill(other.pid(), SIGKILL));
}

TEST(Kill, SigcontIsAllowedWithinTheSession) {
  Target other(kUserB, kUserB, kUserB);
  ASSERT_TRUE(other.ok());
  pid_t pid = other.pid();
  EXPECT_EQ(AsUser(kUserA, kUserA, kUserA,
                   [pid] {
                     if (kill(pid, SIGCONT) != 0) return 1;
                     if (kill(pid, SIGHUP) != -1 || errno != EPERM) return 2;
                     // Out of the session, SIGCONT needs the uid too.
                     if (setsid() < 0) return 3;
                     if (kill(pid, SIGCONT) != -1 || errno != EPERM) return 4;
                     return 0;
                   }),
            0);
}

TEST(Kill, ProcessGroupWithNoPermittedMemberIsEperm) {
  Target other(kUserB, kUserB, kUserB);
  ASSERT_TRUE(other.ok());
  ASSERT_SYSCALL_OK(setpgid(other.pid(), other.pid()));
  pid_t pgid = other.pid();
  EXPECT_EQ(AsUser(kUserA, kUserA, kUserA,
                   [pgid] {
                     if (kill(-pgid, SIGTERM) != -1 || errno != EPERM) return 1;
                     if (kill(-pgid, 0) != -1 || errno != EPERM) return 2;
                     return 0;
                   }),
            0);
}

TEST(Kill, SignallingOneselfNeedsNoPermission) {
  EXPECT_EQ(AsUser(kUserA, kUserA, kUserA,
                   [] {
                     signal(SIGUSR1, SIG_IGN);
                     if (kill(getpid(), SIGUSR1) != 0) return 1;
                     if (syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR1) != 0) return 2;
                     return 0;
                   }),
            0);
}

TEST(Kill, KillMinusOneFindsProcessesEvenWithoutPermission) {
  // Signal 0 only: kill(-1) with a real signal would reach the host's processes natively.
  // With no permission on any of them it still succeeds, as long as there is one (this
  // sibling at least).
  Target other(kUserB, kUserB, kUserB);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(AsUser(kUserA, kUserA, kUserA, [] { return kill(-1, 0) == 0 ? 0 : 1; }), 0);
}

TEST(Kill, SigqueueinfoMayNotForgeKernelOrKillOriginsForOthers) {
  Target other(0, 0, 0);
  ASSERT_TRUE(other.ok());
  siginfo_t info{};
  info.si_code = SI_USER;
  EXPECT_SYSCALL_ERRNO(EPERM, syscall(SYS_rt_sigqueueinfo, other.pid(), SIGUSR1, &info));
  info.si_code = SI_TKILL;
  EXPECT_SYSCALL_ERRNO(EPERM, syscall(SYS_rt_sigqueueinfo, other.pid(), SIGUSR1, &info));
  info.si_code = SI_KERNEL;
  EXPECT_SYSCALL_ERRNO(EPERM, syscall(SYS_rt_sigqueueinfo, other.pid(), SIGUSR1, &info));
  info.si_code = SI_QUEUE;
  EXPECT_SYSCALL_OK(syscall(SYS_rt_sigqueueinfo, other.pid(), SIGCONT, &info));
}

TEST(Kill, BadSignalAndMissingProcess) {
  EXPECT_SYSCALL_ERRNO(EINVAL, kill(getpid(), 65));
  EXPECT_SYSCALL_ERRNO(EINVAL, kill(getpid(), -1));
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  ASSERT_GT(pid, 0);
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_SYSCALL_ERRNO(ESRCH, kill(pid, 0));
  EXPECT_SYSCALL_ERRNO(ESRCH, syscall(SYS_tgkill, pid, pid, 0));
}

}  // namespace
