// fcntl(2) beyond fds, flags and record locks: a description's owner (F_SETOWN, F_GETOWN, the
// _EX forms, F_GETOWNER_UIDS), F_SETSIG/F_GETSIG, signal-driven I/O with O_ASYNC on pipes,
// FIFOs and ptys, and the commands an O_PATH description refuses.
//
// Signals are waited for with sigtimedwait while blocked, or looked for with sigpending: a
// pipe signals during the write(2) that makes it ready, a pty once its input is processed.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>

#include <gtest/gtest.h>

#include "syscalls/fs_test_util.h"
#include "syscalls/test_util.h"

namespace {

using namespace conformance;  // NOLINT: the shared helpers of fs_test_util.h

constexpr int kGetOwnerUids = 17;  // F_GETOWNER_UIDS, which glibc does not name

long Fcntl(long fd, long cmd, long arg = 0) { return syscall(SYS_fcntl, fd, cmd, arg); }
template <typename T>
long Fcntl(long fd, long cmd, T* arg) {
  return syscall(SYS_fcntl, fd, cmd, arg);
}

// F_GETOWN's value as the kernel returns it: a group owner comes negated, and syscall(3) takes
// -1..-4095 for an error, so a small group id arrives as errno.
long Getown(int fd) {
  errno = 0;
  long r = Fcntl(fd, F_GETOWN);
  return r == -1 && errno != 0 ? -errno : r;
}

pid_t Gettid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// A pid nobody has: a child's, once it is reaped.
pid_t UnusedPid() {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  waitpid(pid, nullptr, 0);
  return pid;
}

// Blocks `sig` for the test's lifetime and drops any instance pending before and after.
class BlockedSignal {
 public:
  explicit BlockedSignal(int sig) : sig_(sig) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_BLOCK, &set, &old_);
    Drain();
  }
  ~BlockedSignal() {
    Drain();
    sigprocmask(SIG_SETMASK, &old_, nullptr);
  }
  BlockedSignal(const BlockedSignal&) = delete;
  BlockedSignal& operator=(const BlockedSignal&) = delete;

  bool Pending() const {
    sigset_t set;
    sigpending(&set);
    return sigismember(&set, sig_) == 1;
  }
  // Waits up to `ms` for the signal; si_signo 0 when it did not come.
  siginfo_t Wait(int ms = 5000) const {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig_);
    timespec ts{ms / 1000, (ms % 1000) * 1000000L};
    siginfo_t info{};
    if (sigtimedwait(&set, &info, &ts) < 0) info.si_signo = 0;
    return info;
  }

 private:
  void Drain() const {
    while (Wait(0).si_signo != 0) {
    }
  }
  int sig_;
  sigset_t old_;
};

// --- the owner ---

TEST(FcntlOwnerTest, AFreshFileHasNoOwnerNorSignal) {
  Pipe p;
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(Fcntl(p.r(), F_GETOWN), 0);
  EXPECT_EQ(Fcntl(p.r(), F_GETSIG), 0);
  struct f_owner_ex ex {
    F_OWNER_PGRP, 12345
  };
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_GETOWN_EX, &ex));
  EXPECT_EQ(ex.type, F_OWNER_TID);
  EXPECT_EQ(ex.pid, 0);
}

TEST(FcntlOwnerTest, SetownAProcessOrAGroup) {
  Pipe p;
  ASSERT_TRUE(p.ok());
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_SETOWN, getpid()));
  EXPECT_EQ(Fcntl(p.r(), F_GETOWN), getpid());
  struct f_owner_ex ex {};
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_GETOWN_EX, &ex));
  EXPECT_EQ(ex.type, F_OWNER_PID);
  EXPECT_EQ(ex.pid, getpid());

  // A group is given and reported negated.
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_SETOWN, -getpgrp()));
  EXPECT_EQ(Getown(p.r()), -getpgrp());
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_GETOWN_EX, &ex));
  EXPECT_EQ(ex.type, F_OWNER_PGRP);
  EXPECT_EQ(ex.pid, getpgrp());

  // 0 clears it.
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_SETOWN, 0));
  EXPECT_EQ(Fcntl(p.r(), F_GETOWN), 0);
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_GETOWN_EX, &ex));
  EXPECT_EQ(ex.type, F_OWNER_PID);
  EXPECT_EQ(ex.pid, 0);
}

TEST(FcntlOwnerTest, BelongsToTheDescriptionAcrossDupAndFork) {
  Pipe p;
  ASSERT_TRUE(p.ok());
  Fd copy(dup(p.r()));
  ASSERT_TRUE(copy.ok());
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_SETOWN, getpid()));
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_SETSIG, SIGUSR1));
  EXPECT_EQ(Fcntl(copy.get(), F_GETOWN), getpid());
  EXPECT_EQ(Fcntl(copy.get(), F_GETSIG), SIGUSR1);
  // The child changes it for the parent too.
  pid_t parent = getpid();
  EXPECT_EQ(InChild([&] {
              if (Fcntl(p.r(), F_GETOWN) != parent) return 1;
              return Fcntl(p.r(), F_SETOWN, getpid()) == 0 ? 0 : 2;
            }),
            0);
  // The child is gone, so there is nobody to report.
  EXPECT_EQ(Fcntl(p.r(), F_GETOWN), 0);
  struct f_owner_ex ex {};
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_GETOWN_EX, &ex));
  EXPECT_EQ(ex.type, F_OWNER_PID);
  EXPECT_EQ(ex.pid, 0);
}

TEST(FcntlOwnerTest, AnyFileTakesAnOwner) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  Fd file(Open(dir / "f", O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(file.ok());
  ASSERT_SYSCALL_OK(Fcntl(file.get(), F_SETOWN, getpid()));
  EXPECT_EQ(Fcntl(file.get(), F_GETOWN), getpid());
  ASSERT_SYSCALL_OK(Fcntl(file.get(), F_SETSIG, SIGRTMIN));
  EXPECT_EQ(Fcntl(file.get(), F_GETSIG), SIGRTMIN);
  Fd d(Open(dir.path(), O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(d.ok());
  ASSERT_SYSCALL_OK(Fcntl(d.get(), F_SETOWN, getpid()));
  EXPECT_EQ(Fcntl(d.get(), F_GETOWN), getpid());
}

TEST(FcntlOwnerTest, ThreadOwner) {
  Pipe p;
  ASSERT_TRUE(p.ok());
  struct f_owner_ex ex {
    F_OWNER_TID, Gettid()
  };
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_SETOWN_EX, &ex));
  EXPECT_EQ(Fcntl(p.r(), F_GETOWN), Gettid());
  struct f_owner_ex got {};
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_GETOWN_EX, &got));
  EXPECT_EQ(got.type, F_OWNER_TID);
  EXPECT_EQ(got.pid, Gettid());
}

TEST(FcntlOwnerTest, UnknownTargetsAreESRCH) {
  Pipe p;
  ASSERT_TRUE(p.ok());
  pid_t gone = UnusedPid();
  EXPECT_SYSCALL_ERRNO(ESRCH, Fcntl(p.r(), F_SETOWN, gone));
  EXPECT_SYSCALL_ERRNO(ESRCH, Fcntl(p.r(), F_SETOWN, -gone));
  struct f_owner_ex ex {
    F_OWNER_PID, gone
  };
  EXPECT_SYSCALL_ERRNO(ESRCH, Fcntl(p.r(), F_SETOWN_EX, &ex));
  ex = {F_OWNER_PGRP, -getpgrp()};  // _EX takes no negated ids
  EXPECT_SYSCALL_ERRNO(ESRCH, Fcntl(p.r(), F_SETOWN_EX, &ex));
  // Failures leave the owner alone.
  EXPECT_EQ(Fcntl(p.r(), F_GETOWN), 0);
}

TEST(FcntlOwnerTest, BadArgumentsAreEINVALOrEFAULT) {
  Pipe p;
  ASSERT_TRUE(p.ok());
  EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(p.r(), F_SETOWN, INT_MIN));
  struct f_owner_ex ex {
    static_cast<__pid_type>(3), getpid()
  };
  EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(p.r(), F_SETOWN_EX, &ex));
  ex.type = static_cast<__pid_type>(-1);
  EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(p.r(), F_SETOWN_EX, &ex));
  auto* bad = reinterpret_cast<void*>(1);
  EXPECT_SYSCALL_ERRNO(EFAULT, Fcntl(p.r(), F_SETOWN_EX, bad));
  EXPECT_SYSCALL_ERRNO(EFAULT, Fcntl(p.r(), F_GETOWN_EX, bad));
  EXPECT_SYSCALL_ERRNO(EFAULT, Fcntl(p.r(), kGetOwnerUids, bad));
  EXPECT_SYSCALL_ERRNO(EBADF, Fcntl(-1, F_SETOWN, getpid()));
  EXPECT_SYSCALL_ERRNO(EBADF, Fcntl(-1, F_GETOWN));
}

TEST(FcntlOwnerTest, GetownerUidsAreTheSetters) {
  Pipe p;
  ASSERT_TRUE(p.ok());
  uint32_t uids[2] = {7, 7};
  ASSERT_SYSCALL_OK(Fcntl(p.r(), kGetOwnerUids, uids));
  EXPECT_EQ(uids[0], 0u);
  EXPECT_EQ(uids[1], 0u);
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_SETOWN, getpid()));
  ASSERT_SYSCALL_OK(Fcntl(p.r(), kGetOwnerUids, uids));
  EXPECT_EQ(uids[0], getuid());
  EXPECT_EQ(uids[1], geteuid());
}

TEST(FcntlOwnerTest, Setsig) {
  Pipe p;
  ASSERT_TRUE(p.ok());
  for (int sig : {1, SIGIO, SIGRTMIN, 64, 0}) {
    ASSERT_SYSCALL_OK(Fcntl(p.r(), F_SETSIG, sig)) << sig;
    EXPECT_EQ(Fcntl(p.r(), F_GETSIG), sig);
  }
  EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(p.r(), F_SETSIG, 65));
  EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(p.r(), F_SETSIG, -1));
  // Only the int counts.
  EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(p.r(), F_SETSIG, 0xffffffffL));
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_SETSIG, 0x100000000L | SIGUSR2));
  EXPECT_EQ(Fcntl(p.r(), F_GETSIG), SIGUSR2);
}

TEST(FcntlPathTest, OPathTakesOnlyFdCommands) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  Fd path(Open(dir / "f", O_PATH));
  ASSERT_TRUE(path.ok());
  EXPECT_SYSCALL_OK(Fcntl(path.get(), F_GETFL));
  EXPECT_SYSCALL_OK(Fcntl(path.get(), F_GETFD));
  EXPECT_SYSCALL_ERRNO(EBADF, Fcntl(path.get(), F_SETOWN, getpid()));
  EXPECT_SYSCALL_ERRNO(EBADF, Fcntl(path.get(), F_GETOWN));
  EXPECT_SYSCALL_ERRNO(EBADF, Fcntl(path.get(), F_SETSIG, 0));
  EXPECT_SYSCALL_ERRNO(EBADF, Fcntl(path.get(), F_GET_SEALS));
  EXPECT_SYSCALL_ERRNO(EBADF, Fcntl(path.get(), 9999));
  Fd file(Open(dir / "f", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(file.get(), 9999));
}

// --- signal-driven I/O ---

volatile sig_atomic_t g_sigio_count = 0;
void CountSigio(int) { g_sigio_count = g_sigio_count + 1; }

TEST(FcntlAsyncTest, AWriteSignalsTheReadEndsOwnerWithSigio) {
  struct sigaction sa {
  }, old{};
  sa.sa_handler = CountSigio;
  ASSERT_SYSCALL_OK(sigaction(SIGIO, &sa, &old));
  g_sigio_count = 0;
  Pipe p;
  ASSERT_TRUE(p.ok());
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_SETOWN, getpid()));
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_SETFL, O_ASYNC));
  EXPECT_EQ(Fcntl(p.r(), F_GETFL) & O_ASYNC, O_ASYNC);
  ASSERT_EQ(write(p.w(), "x", 1), 1);
  EXPECT_EQ(g_sigio_count, 1);
  // Turned off, it signals no more.
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_SETFL, 0));
  ASSERT_EQ(write(p.w(), "x", 1), 1);
  EXPECT_EQ(g_sigio_count, 1);
  sigaction(SIGIO, &old, nullptr);
}

TEST(FcntlAsyncTest, NoSignalWithoutOAsyncOrWithoutOwner) {
  BlockedSignal io(SIGIO);
  Pipe p;
  ASSERT_TRUE(p.ok());
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_SETOWN, getpid()));
  ASSERT_EQ(write(p.w(), "x", 1), 1);
  EXPECT_FALSE(io.Pending());
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_SETOWN, 0));
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_SETFL, O_ASYNC));
  ASSERT_EQ(write(p.w(), "x", 1), 1);
  EXPECT_FALSE(io.Pending());
  // With both, it comes.
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_SETOWN, getpid()));
  ASSERT_EQ(write(p.w(), "x", 1), 1);
  siginfo_t info = io.Wait();
  EXPECT_EQ(info.si_signo, SIGIO);
  EXPECT_EQ(info.si_code, SI_KERNEL);  // plain SIGIO carries no details
}

siginfo_t g_info;
void SaveInfo(int, siginfo_t* info, void*) { g_info = *info; }

TEST(FcntlAsyncTest, SetsigGivesSiginfoWithFdAndBand) {
  struct sigaction sa {
  }, old{};
  sa.sa_sigaction = SaveInfo;
  sa.sa_flags = SA_SIGINFO;
  ASSERT_SYSCALL_OK(sigaction(SIGRTMIN, &sa, &old));
  g_info = {};
  Pipe p;
  ASSERT_TRUE(p.ok());
  // Through a dup: si_fd is the fd O_ASYNC was set through.
  Fd r(Fcntl(p.r(), F_DUPFD, 50));
  ASSERT_TRUE(r.ok());
  ASSERT_SYSCALL_OK(Fcntl(r.get(), F_SETOWN, getpid()));
  ASSERT_SYSCALL_OK(Fcntl(r.get(), F_SETSIG, SIGRTMIN));
  ASSERT_SYSCALL_OK(Fcntl(r.get(), F_SETFL, O_ASYNC | O_NONBLOCK));
  ASSERT_EQ(write(p.w(), "x", 1), 1);
  EXPECT_EQ(g_info.si_signo, SIGRTMIN);
  EXPECT_EQ(g_info.si_code, POLL_IN);
  EXPECT_EQ(g_info.si_fd, r.get());
  EXPECT_EQ(g_info.si_band, POLLIN | POLLRDNORM);
  sigaction(SIGRTMIN, &old, nullptr);
}

TEST(FcntlAsyncTest, EmptyingThePipeSignalsTheWriteEndWithPollOut) {
  BlockedSignal rt(SIGRTMIN + 1);
  Pipe p;
  ASSERT_TRUE(p.ok());
  ASSERT_SYSCALL_OK(Fcntl(p.w(), F_SETOWN, getpid()));
  ASSERT_SYSCALL_OK(Fcntl(p.w(), F_SETSIG, SIGRTMIN + 1));
  ASSERT_SYSCALL_OK(Fcntl(p.w(), F_SETFL, O_ASYNC));
  ASSERT_EQ(write(p.w(), "xy", 2), 2);
  EXPECT_FALSE(rt.Pending());  // writing is no news to the writer
  char c[2];
  ASSERT_EQ(read(p.r(), c, 2), 2);
  siginfo_t info = rt.Wait();
  EXPECT_EQ(info.si_signo, SIGRTMIN + 1);
  EXPECT_EQ(info.si_code, POLL_OUT);
  EXPECT_EQ(info.si_fd, p.w());
  EXPECT_EQ(info.si_band, POLLOUT | POLLWRNORM | POLLWRBAND);
}

TEST(FcntlAsyncTest, SetsigSigioCarriesTheDetailsToo) {
  BlockedSignal io(SIGIO);
  Pipe p;
  ASSERT_TRUE(p.ok());
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_SETOWN, getpid()));
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_SETSIG, SIGIO));
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_SETFL, O_ASYNC));
  ASSERT_EQ(write(p.w(), "x", 1), 1);
  siginfo_t info = io.Wait();
  EXPECT_EQ(info.si_signo, SIGIO);
  EXPECT_EQ(info.si_code, POLL_IN);
  EXPECT_EQ(info.si_fd, p.r());
}

TEST(FcntlAsyncTest, LastWriterClosingSignalsReaders) {
  BlockedSignal io(SIGIO);
  Pipe p;
  ASSERT_TRUE(p.ok());
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_SETOWN, getpid()));
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_SETSIG, SIGIO));
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_SETFL, O_ASYNC));
  p.CloseWrite();
  siginfo_t info = io.Wait();
  EXPECT_EQ(info.si_signo, SIGIO);
  EXPECT_EQ(info.si_code, POLL_IN);
}

TEST(FcntlAsyncTest, AFifoSignalsToo) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(mkfifo((dir / "fifo").c_str(), 0600));
  BlockedSignal io(SIGIO);
  Fd fifo(Open(dir / "fifo", O_RDWR | O_NONBLOCK));
  ASSERT_TRUE(fifo.ok());
  ASSERT_SYSCALL_OK(Fcntl(fifo.get(), F_SETOWN, getpid()));
  ASSERT_SYSCALL_OK(Fcntl(fifo.get(), F_SETFL, O_ASYNC | O_NONBLOCK));
  EXPECT_EQ(Fcntl(fifo.get(), F_GETFL) & O_ASYNC, O_ASYNC);
  ASSERT_EQ(write(fifo.get(), "x", 1), 1);
  EXPECT_EQ(io.Wait().si_signo, SIGIO);
  ASSERT_SYSCALL_OK(Fcntl(fifo.get(), F_SETFL, O_NONBLOCK));
  EXPECT_EQ(Fcntl(fifo.get(), F_GETFL) & O_ASYNC, 0);
}

TEST(FcntlAsyncTest, OAsyncAtOpenIsADeadFlag) {
  // Linux ignores O_ASYNC at open(2) but keeps the flag; F_SETFL then never sees it change,
  // so signal-driven I/O cannot be turned on through that description at all.
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(mkfifo((dir / "fifo").c_str(), 0600));
  BlockedSignal io(SIGIO);
  Fd fifo(Open(dir / "fifo", O_RDWR | O_NONBLOCK | O_ASYNC));
  ASSERT_TRUE(fifo.ok());
  EXPECT_EQ(Fcntl(fifo.get(), F_GETFL) & O_ASYNC, O_ASYNC);
  ASSERT_SYSCALL_OK(Fcntl(fifo.get(), F_SETOWN, getpid()));
  ASSERT_EQ(write(fifo.get(), "x", 1), 1);
  EXPECT_FALSE(io.Pending());
  ASSERT_SYSCALL_OK(Fcntl(fifo.get(), F_SETFL, O_NONBLOCK));
  EXPECT_EQ(Fcntl(fifo.get(), F_GETFL) & O_ASYNC, O_ASYNC);
  ASSERT_SYSCALL_OK(Fcntl(fifo.get(), F_SETFL, O_ASYNC | O_NONBLOCK));
  ASSERT_EQ(write(fifo.get(), "x", 1), 1);
  EXPECT_FALSE(io.Pending());
}

TEST(FcntlAsyncTest, RegularFilesNeverSignal) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  BlockedSignal io(SIGIO);
  Fd file(Open(dir / "f", O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(file.ok());
  ASSERT_SYSCALL_OK(Fcntl(file.get(), F_SETOWN, getpid()));
  // Accepted, but the flag does not stick where nothing could signal.
  ASSERT_SYSCALL_OK(Fcntl(file.get(), F_SETFL, O_ASYNC));
  EXPECT_EQ(Fcntl(file.get(), F_GETFL) & O_ASYNC, 0);
  ASSERT_EQ(write(file.get(), "x", 1), 1);
  EXPECT_FALSE(io.Pending());
}

TEST(FcntlAsyncTest, PtyInputSignalsTheMaster) {
  BlockedSignal io(SIGIO);
  int master = -1, replica = -1;
  ASSERT_SYSCALL_OK(openpty(&master, &replica, nullptr, nullptr, nullptr));
  Fd m(master), s(replica);
  ASSERT_SYSCALL_OK(Fcntl(master, F_SETOWN, getpid()));
  ASSERT_SYSCALL_OK(Fcntl(master, F_SETFL, O_ASYNC | O_NONBLOCK));
  ASSERT_EQ(write(replica, "x\n", 2), 2);
  EXPECT_EQ(io.Wait().si_signo, SIGIO);
}

TEST(FcntlAsyncTest, AProcessGroupOwnerSignalsEveryMember) {
  // In a child leading a group of its own, so that nobody else in the test's group hears.
  int status = InChild([] {
    if (setpgid(0, 0) != 0) return 1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGIO);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    Pipe ready;
    Pipe p;
    pid_t member = fork();
    if (member == 0) {
      (void)!write(ready.w(), "r", 1);
      timespec ts{10, 0};
      _exit(sigtimedwait(&set, nullptr, &ts) == SIGIO ? 0 : 1);
    }
    char c;
    if (read(ready.r(), &c, 1) != 1) return 2;
    if (Fcntl(p.r(), F_SETOWN, -getpid()) != 0) return 3;
    if (Getown(p.r()) != -getpid()) return 4;
    if (Fcntl(p.r(), F_SETFL, O_ASYNC) != 0) return 5;
    if (write(p.w(), "x", 1) != 1) return 6;
    timespec ts{10, 0};
    if (sigtimedwait(&set, nullptr, &ts) != SIGIO) return 7;
    int st = 0;
    if (waitpid(member, &st, 0) != member) return 8;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 9;
  });
  EXPECT_EQ(status, 0);
}

TEST(FcntlAsyncTest, TheSettersUidsMustMatchTheTarget) {
  // An unprivileged child makes the parent (root) the owner: the signal is not sent, as
  // Linux's sigio_perm checks the setter's uids against the target's.
  if (geteuid() != 0) GTEST_SKIP() << "needs root to become another user";
  BlockedSignal io(SIGIO);
  Pipe p;
  ASSERT_TRUE(p.ok());
  pid_t parent = getpid();
  EXPECT_EQ(InChild([&] {
              if (setresuid(65534, 65534, 65534) != 0) return 1;
              if (Fcntl(p.r(), F_SETOWN, parent) != 0) return 2;
              if (Fcntl(p.r(), F_SETFL, O_ASYNC) != 0) return 3;
              return write(p.w(), "x", 1) == 1 ? 0 : 4;
            }),
            0);
  EXPECT_FALSE(io.Pending());
  uint32_t uids[2];
  ASSERT_SYSCALL_OK(Fcntl(p.r(), kGetOwnerUids, uids));
  EXPECT_EQ(uids[0], 65534u);
  EXPECT_EQ(uids[1], 65534u);
  // Set by root, it goes.
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_SETOWN, getpid()));
  ASSERT_EQ(write(p.w(), "x", 1), 1);
  EXPECT_EQ(io.Wait().si_signo, SIGIO);
}

}  // namespace

namespace {

// --- write hints ---

TEST(FcntlRwHintTest, KeptPerInode) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  Fd a(Open(dir / "f", O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(a.ok());
  uint64_t hint = 99;
  ASSERT_SYSCALL_OK(Fcntl(a.get(), F_GET_RW_HINT, &hint));
  EXPECT_EQ(hint, RWH_WRITE_LIFE_NOT_SET);
  hint = RWH_WRITE_LIFE_SHORT;
  ASSERT_SYSCALL_OK(Fcntl(a.get(), F_SET_RW_HINT, &hint));
  // Another open of the same file sees it; another file does not.
  Fd b(Open(dir / "f", O_RDONLY));
  ASSERT_TRUE(b.ok());
  hint = 99;
  ASSERT_SYSCALL_OK(Fcntl(b.get(), F_GET_RW_HINT, &hint));
  EXPECT_EQ(hint, RWH_WRITE_LIFE_SHORT);
  Fd c(Open(dir / "g", O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(c.ok());
  ASSERT_SYSCALL_OK(Fcntl(c.get(), F_GET_RW_HINT, &hint));
  EXPECT_EQ(hint, RWH_WRITE_LIFE_NOT_SET);
  for (uint64_t h = RWH_WRITE_LIFE_NOT_SET; h <= RWH_WRITE_LIFE_EXTREME; ++h) {
    ASSERT_SYSCALL_OK(Fcntl(a.get(), F_SET_RW_HINT, &h)) << h;
    uint64_t got = 99;
    ASSERT_SYSCALL_OK(Fcntl(b.get(), F_GET_RW_HINT, &got));
    EXPECT_EQ(got, h);
  }
}

TEST(FcntlRwHintTest, BothEndsOfAPipeShareOne) {
  Pipe p;
  ASSERT_TRUE(p.ok());
  uint64_t hint = RWH_WRITE_LIFE_LONG;
  ASSERT_SYSCALL_OK(Fcntl(p.r(), F_SET_RW_HINT, &hint));
  hint = 0;
  ASSERT_SYSCALL_OK(Fcntl(p.w(), F_GET_RW_HINT, &hint));
  EXPECT_EQ(hint, RWH_WRITE_LIFE_LONG);
}

TEST(FcntlRwHintTest, BadValuesAndPointers) {
  Pipe p;
  ASSERT_TRUE(p.ok());
  uint64_t hint = RWH_WRITE_LIFE_EXTREME + 1;
  EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(p.r(), F_SET_RW_HINT, &hint));
  hint = ~uint64_t{0};
  EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(p.r(), F_SET_RW_HINT, &hint));
  auto* bad = reinterpret_cast<uint64_t*>(1);
  EXPECT_SYSCALL_ERRNO(EFAULT, Fcntl(p.r(), F_SET_RW_HINT, bad));
  EXPECT_SYSCALL_ERRNO(EFAULT, Fcntl(p.r(), F_GET_RW_HINT, bad));
}

TEST(FcntlRwHintTest, PerDescriptionHintsAreGone) {
  // Linux 5.18 removed F_GET_FILE_RW_HINT and F_SET_FILE_RW_HINT.
  Pipe p;
  ASSERT_TRUE(p.ok());
  uint64_t hint = RWH_WRITE_LIFE_SHORT;
  EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(p.r(), F_SET_FILE_RW_HINT, &hint));
  EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(p.r(), F_GET_FILE_RW_HINT, &hint));
}

// --- leases ---

TEST(FcntlLeaseTest, NoLeaseOnAFreshFile) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  Fd file(Open(dir / "f", O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(Fcntl(file.get(), F_GETLEASE), F_UNLCK);
  Pipe p;
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(Fcntl(p.r(), F_GETLEASE), F_UNLCK);
}

TEST(FcntlLeaseTest, BadArgumentsAndFiles) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  Fd file(Open(dir / "f", O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(file.ok());
  EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(file.get(), F_SETLEASE, 7));
  EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(file.get(), F_SETLEASE, -1));
  // Only regular files take leases.
  Pipe p;
  ASSERT_TRUE(p.ok());
  EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(p.r(), F_SETLEASE, F_RDLCK));
  Fd d(Open(dir.path(), O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(d.ok());
  EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(d.get(), F_SETLEASE, F_RDLCK));
  Fd path(Open(dir / "f", O_PATH));
  ASSERT_TRUE(path.ok());
  EXPECT_SYSCALL_ERRNO(EBADF, Fcntl(path.get(), F_SETLEASE, F_RDLCK));
  EXPECT_SYSCALL_ERRNO(EBADF, Fcntl(path.get(), F_GETLEASE));
}

}  // namespace
