// File leases: fcntl F_SETLEASE / F_GETLEASE, the lease-break signal, openers that wait for a
// break, /proc/sys/fs/lease-break-time and leases-enable. Each test runs on a file in /tmp (the
// sandbox's overlay) and, when $CONFORMANCE_VOLUME is set, on a host file served by the gofer.
//
// The tests run as root (both natively and in the sandbox): some change the lease sysctls and
// put them back. Children that wait for a break carry an alarm, so that a wrong implementation
// fails the test instead of hanging it.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "syscalls/test_util.h"

namespace {

using conformance::Fd;

// The real-time signal F_SETSIG asks for in these tests.
int RtSignal() { return SIGRTMIN + 1; }

// How long a test waits for something that must happen (a signal, a child's exit): far more
// than a loaded machine needs, and an alarm in children ends what never comes.
constexpr int kPatienceSeconds = 30;

// A child that runs `body` (its return value is the exit code); the alarm kills it if it hangs.
pid_t StartChild(const std::function<int()>& body) {
  pid_t pid = fork();
  if (pid == 0) {
    alarm(kPatienceSeconds);
    _exit(body());
  }
  return pid;
}

// The child's exit code, or 128 + the signal that killed it.
int Reap(pid_t pid) {
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// open(2) in a child: 0 when it opened, else its errno.
int OpenResult(const std::string& path, int flags) {
  return open(path.c_str(), flags) >= 0 ? 0 : errno;
}
int OpenInChild(const std::string& path, int flags) {
  return Reap(StartChild([&] { return OpenResult(path, flags); }));
}

// Waits (blocked, so neither SIGIO's default action nor a handler gets it) for `sig`; the
// signal number, or -1 when none came.
int AwaitSignal(int sig, siginfo_t* info) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  timespec timeout{kPatienceSeconds, 0};
  return sigtimedwait(&set, info, &timeout);
}

bool SignalPending(int sig) {
  sigset_t pending;
  sigpending(&pending);
  return sigismember(&pending, sig) == 1;
}

// Reads a whole small file ("" when it cannot).
std::string ReadFile(const std::string& path) {
  Fd fd(open(path.c_str(), O_RDONLY));
  char buf[64] = {};
  ssize_t n = fd.ok() ? read(fd.get(), buf, sizeof(buf) - 1) : -1;
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// write(2) of `text` to a fresh description of `path`: what it returned, errno in `err`.
ssize_t WriteFile(const std::string& path, const std::string& text, int* err = nullptr) {
  Fd fd(open(path.c_str(), O_WRONLY));
  if (!fd.ok()) {
    if (err) *err = errno;
    return -1;
  }
  ssize_t n = write(fd.get(), text.data(), text.size());
  if (err) *err = n < 0 ? errno : 0;
  return n;
}

constexpr const char* kBreakTime = "/proc/sys/fs/lease-break-time";
constexpr const char* kLeasesEnable = "/proc/sys/fs/leases-enable";

// Sets a sysctl for the length of a scope and puts the old value back.
class ScopedSysctl {
 public:
  ScopedSysctl(const char* path, const std::string& value) : path_(path), old_(ReadFile(path)) {
    ok_ = !old_.empty() && WriteFile(path_, value) == static_cast<ssize_t>(value.size());
  }
  ~ScopedSysctl() {
    if (!old_.empty()) WriteFile(path_, old_);
  }
  bool ok() const { return ok_; }

 private:
  std::string path_;
  std::string old_;
  bool ok_ = false;
};

std::vector<std::string> Dirs() {
  std::vector<std::string> dirs = {"/tmp"};
  const char* volume = getenv("CONFORMANCE_VOLUME");
  if (volume != nullptr && *volume != '\0') dirs.push_back(volume);
  return dirs;
}

class LeaseTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string tmpl = GetParam() + "/lease_test.XXXXXX";
    int fd = mkstemp(tmpl.data());
    ASSERT_GE(fd, 0) << strerror(errno);
    close(fd);
    path_ = tmpl;
    // The break signals stay pending until a test takes them with sigtimedwait.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGIO);
    sigaddset(&set, RtSignal());
    ASSERT_EQ(sigprocmask(SIG_BLOCK, &set, &old_mask_), 0);
  }
  void TearDown() override {
    if (!path_.empty()) unlink(path_.c_str());
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGIO);
    sigaddset(&set, RtSignal());
    timespec zero{0, 0};
    while (sigtimedwait(&set, nullptr, &zero) > 0) {
    }
    sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
  }

  int Open(int flags) { return open(path_.c_str(), flags); }

  std::string path_;
  sigset_t old_mask_;
};

TEST_P(LeaseTest, BadArgumentsAndNoLease) {
  Fd fd(Open(O_RDONLY));
  ASSERT_TRUE(fd.ok());
  EXPECT_SYSCALL_ERRNO(EINVAL, fcntl(fd.get(), F_SETLEASE, 5));
  EXPECT_SYSCALL_ERRNO(EINVAL, fcntl(fd.get(), F_SETLEASE, -1));
  // Unlocking what the description does not hold.
  EXPECT_SYSCALL_ERRNO(EAGAIN, fcntl(fd.get(), F_SETLEASE, F_UNLCK));
  EXPECT_EQ(fcntl(fd.get(), F_GETLEASE), F_UNLCK);
}

TEST_P(LeaseTest, ReadLeaseNeedsNoWriterNotEvenItself) {
  Fd rd(Open(O_RDONLY));
  ASSERT_TRUE(rd.ok());
  {
    Fd rw(Open(O_RDWR));
    EXPECT_SYSCALL_ERRNO(EAGAIN, fcntl(rd.get(), F_SETLEASE, F_RDLCK));  // another writer
    EXPECT_SYSCALL_ERRNO(EAGAIN, fcntl(rw.get(), F_SETLEASE, F_RDLCK));  // itself a writer
  }
  {
    Fd wr(Open(O_WRONLY));
    EXPECT_SYSCALL_ERRNO(EAGAIN, fcntl(wr.get(), F_SETLEASE, F_RDLCK));
  }
  // Other readers are no conflict, and read leases share.
  Fd rd2(Open(O_RDONLY));
  EXPECT_SYSCALL_OK(fcntl(rd.get(), F_SETLEASE, F_RDLCK));
  EXPECT_SYSCALL_OK(fcntl(rd2.get(), F_SETLEASE, F_RDLCK));
  EXPECT_EQ(fcntl(rd.get(), F_GETLEASE), F_RDLCK);
  EXPECT_EQ(fcntl(rd2.get(), F_GETLEASE), F_RDLCK);
  // No write lease while another holds a read lease (or has the file open).
  EXPECT_SYSCALL_ERRNO(EAGAIN, fcntl(rd2.get(), F_SETLEASE, F_WRLCK));
}

TEST_P(LeaseTest, WriteLeaseNeedsTheOnlyOpen) {
  for (int mode : {O_RDONLY, O_WRONLY, O_RDWR}) {
    Fd fd(Open(mode));
    ASSERT_TRUE(fd.ok());
    EXPECT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_WRLCK)) << "mode " << mode;
    EXPECT_EQ(fcntl(fd.get(), F_GETLEASE), F_WRLCK);
    EXPECT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_UNLCK));
  }
  Fd fd(Open(O_RDONLY));
  {
    Fd other(Open(O_RDONLY));
    EXPECT_SYSCALL_ERRNO(EAGAIN, fcntl(fd.get(), F_SETLEASE, F_WRLCK));
  }
  {
    // An O_PATH description does not have the file open.
    Fd path(Open(O_PATH));
    ASSERT_TRUE(path.ok());
    EXPECT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_WRLCK));
    EXPECT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_UNLCK));
  }
  // A write lease on an O_RDWR description cannot become a read lease: the description is
  // itself a writer.
  fd.Reset();
  Fd rw2(Open(O_RDWR));
  ASSERT_SYSCALL_OK(fcntl(rw2.get(), F_SETLEASE, F_WRLCK));
  EXPECT_SYSCALL_ERRNO(EAGAIN, fcntl(rw2.get(), F_SETLEASE, F_RDLCK));
  EXPECT_EQ(fcntl(rw2.get(), F_GETLEASE), F_WRLCK);
  // ftruncate(2) through the holder's own description breaks nothing.
  EXPECT_SYSCALL_OK(ftruncate(rw2.get(), 10));
  EXPECT_EQ(fcntl(rw2.get(), F_GETLEASE), F_WRLCK);
}

TEST_P(LeaseTest, LeaseSetsOwnerAndAsyncAndUnlockClearsThem) {
  Fd fd(Open(O_RDONLY));
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(fcntl(fd.get(), F_GETFL) & O_ASYNC, 0);
  ASSERT_SYSCALL_OK(fcntl(fd.get(), F_SETSIG, RtSignal()));
  ASSERT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_RDLCK));
  EXPECT_EQ(fcntl(fd.get(), F_GETLEASE), F_RDLCK);
  EXPECT_EQ(fcntl(fd.get(), F_GETFL) & O_ASYNC, O_ASYNC);
  EXPECT_EQ(fcntl(fd.get(), F_GETOWN), getpid());
  f_owner_ex ex{};
  ASSERT_SYSCALL_OK(fcntl(fd.get(), F_GETOWN_EX, &ex));
  EXPECT_EQ(ex.type, F_OWNER_PID);
  // Upgrade and downgrade through the same description.
  EXPECT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_WRLCK));
  EXPECT_EQ(fcntl(fd.get(), F_GETLEASE), F_WRLCK);
  EXPECT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_RDLCK));
  EXPECT_EQ(fcntl(fd.get(), F_GETLEASE), F_RDLCK);
  EXPECT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_UNLCK));
  EXPECT_EQ(fcntl(fd.get(), F_GETLEASE), F_UNLCK);
  // The unlock takes the owner, the F_SETSIG signal and O_ASYNC with it.
  EXPECT_EQ(fcntl(fd.get(), F_GETFL) & O_ASYNC, 0);
  EXPECT_EQ(fcntl(fd.get(), F_GETOWN), 0);
  EXPECT_EQ(fcntl(fd.get(), F_GETSIG), 0);
}

TEST_P(LeaseTest, LeaseKeepsAnOwnerSetBefore) {
  conformance::Pipe hold;
  ASSERT_TRUE(hold.ok());
  pid_t other = StartChild([&] {
    hold.CloseWrite();
    char c;
    return static_cast<int>(read(hold.r(), &c, 1));
  });
  ASSERT_GT(other, 0);
  Fd fd(Open(O_RDONLY));
  ASSERT_SYSCALL_OK(fcntl(fd.get(), F_SETOWN, other));
  ASSERT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_RDLCK));
  EXPECT_EQ(fcntl(fd.get(), F_GETOWN), other);
  EXPECT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_UNLCK));
  EXPECT_EQ(fcntl(fd.get(), F_GETOWN), 0);
  hold.CloseWrite();
  EXPECT_EQ(Reap(other), 0);
}

TEST_P(LeaseTest, LeaseGoesWithTheLastClose) {
  Fd fd(Open(O_RDONLY));
  ASSERT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_WRLCK));
  Fd dup_fd(dup(fd.get()));
  fd.Reset();
  // Another fd of the description still holds it.
  EXPECT_EQ(fcntl(dup_fd.get(), F_GETLEASE), F_WRLCK);
  dup_fd.Reset();
  // Nothing left to break: a non-blocking open that would have broken it opens.
  Fd again(Open(O_RDONLY | O_NONBLOCK));
  EXPECT_TRUE(again.ok()) << strerror(errno);
  EXPECT_EQ(fcntl(again.get(), F_GETLEASE), F_UNLCK);
  EXPECT_FALSE(SignalPending(SIGIO));
}

TEST_P(LeaseTest, ConflictingOpenSignalsSigioAndNonBlockingOpenFails) {
  Fd fd(Open(O_RDONLY));
  ASSERT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_WRLCK));
  // A reader against a write lease: the break starts, the opener does not wait.
  EXPECT_EQ(OpenInChild(path_, O_RDONLY | O_NONBLOCK), EWOULDBLOCK);
  siginfo_t info{};
  ASSERT_EQ(AwaitSignal(SIGIO, &info), SIGIO);
  EXPECT_EQ(info.si_code, SI_KERNEL);  // plain SIGIO carries no fd
  // The lease is being broken to a read lease; the holder downgrades, and readers open.
  EXPECT_EQ(fcntl(fd.get(), F_GETLEASE), F_RDLCK);
  EXPECT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_RDLCK));
  EXPECT_EQ(fcntl(fd.get(), F_GETLEASE), F_RDLCK);
  EXPECT_EQ(OpenInChild(path_, O_RDONLY | O_NONBLOCK), 0);
  EXPECT_FALSE(SignalPending(SIGIO));
  EXPECT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_UNLCK));
}

TEST_P(LeaseTest, SetsigSignalCarriesTheFdAndTheBreakRunsOnce) {
  Fd fd(Open(O_RDONLY));
  ASSERT_SYSCALL_OK(fcntl(fd.get(), F_SETSIG, RtSignal()));
  ASSERT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_RDLCK));
  // A writer against a read lease.
  EXPECT_EQ(OpenInChild(path_, O_WRONLY | O_NONBLOCK), EWOULDBLOCK);
  siginfo_t info{};
  ASSERT_EQ(AwaitSignal(RtSignal(), &info), RtSignal());
  EXPECT_EQ(info.si_code, POLL_MSG);
  EXPECT_EQ(info.si_fd, fd.get());
  EXPECT_EQ(info.si_band, POLLIN | POLLRDNORM | POLLMSG);
  EXPECT_EQ(fcntl(fd.get(), F_GETLEASE), F_UNLCK);
  // A second opener joins the break under way: no second signal.
  EXPECT_EQ(OpenInChild(path_, O_WRONLY | O_NONBLOCK), EWOULDBLOCK);
  EXPECT_FALSE(SignalPending(RtSignal()));
  // While it is being broken, setting a lease type succeeds and the break goes on; nobody else
  // gets a new read lease.
  EXPECT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_RDLCK));
  EXPECT_EQ(fcntl(fd.get(), F_GETLEASE), F_UNLCK);
  Fd other(Open(O_RDONLY));
  EXPECT_SYSCALL_ERRNO(EAGAIN, fcntl(other.get(), F_SETLEASE, F_RDLCK));
  EXPECT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_UNLCK));
  EXPECT_EQ(OpenInChild(path_, O_WRONLY | O_NONBLOCK), 0);
}

TEST_P(LeaseTest, ReadOnlyTruncatingOpenDoesNotBreakAReadLease) {
  Fd fd(Open(O_RDONLY));
  ASSERT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_RDLCK));
  EXPECT_EQ(OpenInChild(path_, O_RDONLY | O_TRUNC | O_NONBLOCK), 0);
  EXPECT_FALSE(SignalPending(SIGIO));
  EXPECT_EQ(fcntl(fd.get(), F_GETLEASE), F_RDLCK);
}

// The holder gets the signal while the opener waits; the opener goes on once the holder lets go.
TEST_P(LeaseTest, BlockedOpenerWaitsUntilTheHolderUnlocks) {
  Fd fd(Open(O_RDONLY));
  ASSERT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_RDLCK));
  pid_t child = StartChild([&] { return OpenResult(path_, O_WRONLY); });
  ASSERT_GT(child, 0);
  ASSERT_EQ(AwaitSignal(SIGIO, nullptr), SIGIO);
  EXPECT_EQ(fcntl(fd.get(), F_GETLEASE), F_UNLCK);
  // The lease is still there, so the opener is still waiting.
  int status = 0;
  EXPECT_EQ(waitpid(child, &status, WNOHANG), 0);
  EXPECT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_UNLCK));
  EXPECT_EQ(Reap(child), 0);
}

TEST_P(LeaseTest, BlockedReaderGoesOnWhenTheHolderDowngrades) {
  Fd fd(Open(O_RDONLY));
  ASSERT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_WRLCK));
  pid_t child = StartChild([&] { return OpenResult(path_, O_RDONLY); });
  ASSERT_GT(child, 0);
  ASSERT_EQ(AwaitSignal(SIGIO, nullptr), SIGIO);
  EXPECT_EQ(fcntl(fd.get(), F_GETLEASE), F_RDLCK);
  EXPECT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_RDLCK));
  EXPECT_EQ(Reap(child), 0);
  EXPECT_EQ(fcntl(fd.get(), F_GETLEASE), F_RDLCK);
}

TEST_P(LeaseTest, TruncateBreaksAReadLease) {
  Fd fd(Open(O_RDONLY));
  ASSERT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_RDLCK));
  pid_t child = StartChild([&] { return truncate(path_.c_str(), 0) == 0 ? 0 : errno; });
  ASSERT_GT(child, 0);
  ASSERT_EQ(AwaitSignal(SIGIO, nullptr), SIGIO);
  EXPECT_EQ(fcntl(fd.get(), F_GETLEASE), F_UNLCK);
  EXPECT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_UNLCK));
  EXPECT_EQ(Reap(child), 0);
}

// A signal ends the wait: EINTR without SA_RESTART; with it the open starts again and waits on.
TEST_P(LeaseTest, BlockedOpenerIsInterruptedBySignals) {
  for (int sa_flags : {0, SA_RESTART}) {
    // A fresh lease each time, so that each opener starts a break and the holder hears of it.
    Fd fd(Open(O_RDONLY));
    ASSERT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_WRLCK));
    conformance::Pipe ran;
    ASSERT_TRUE(ran.ok());
    static int handler_fd;
    handler_fd = ran.w();
    pid_t child = StartChild([&] {
      struct sigaction sa = {};
      sa.sa_handler = [](int) {
        char c = 1;
        (void)!write(handler_fd, &c, 1);
      };
      sa.sa_flags = sa_flags;
      sigemptyset(&sa.sa_mask);
      if (sigaction(SIGUSR1, &sa, nullptr) != 0) return 100;
      return OpenResult(path_, O_RDONLY);
    });
    ASSERT_GT(child, 0);
    // The break signal says the child is inside open(2).
    ASSERT_EQ(AwaitSignal(SIGIO, nullptr), SIGIO);
    ASSERT_SYSCALL_OK(kill(child, SIGUSR1));
    char c;
    ASSERT_EQ(read(ran.r(), &c, 1), 1);
    if (sa_flags == 0) {
      EXPECT_EQ(Reap(child), EINTR);
    } else {
      // The restarted open waits on until the lease goes.
      EXPECT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_UNLCK));
      EXPECT_EQ(Reap(child), 0);
    }
  }
}

TEST_P(LeaseTest, BreakTimesOutAndDowngradesThenRemoves) {
  ScopedSysctl quick(kBreakTime, "1\n");
  ASSERT_TRUE(quick.ok());
  Fd fd(Open(O_RDONLY));
  ASSERT_SYSCALL_OK(fcntl(fd.get(), F_SETSIG, RtSignal()));
  ASSERT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_WRLCK));
  // The holder never answers: after lease-break-time the reader gets in, the lease downgraded.
  EXPECT_EQ(OpenInChild(path_, O_RDONLY), 0);
  EXPECT_EQ(AwaitSignal(RtSignal(), nullptr), RtSignal());
  EXPECT_EQ(fcntl(fd.get(), F_GETLEASE), F_RDLCK);
  EXPECT_EQ(fcntl(fd.get(), F_GETOWN), getpid());
  // A writer gets in once the lease is gone; the removal takes owner, signal and O_ASYNC.
  EXPECT_EQ(OpenInChild(path_, O_WRONLY), 0);
  EXPECT_EQ(AwaitSignal(RtSignal(), nullptr), RtSignal());
  EXPECT_EQ(fcntl(fd.get(), F_GETLEASE), F_UNLCK);
  EXPECT_SYSCALL_ERRNO(EAGAIN, fcntl(fd.get(), F_SETLEASE, F_UNLCK));
  EXPECT_EQ(fcntl(fd.get(), F_GETOWN), 0);
  EXPECT_EQ(fcntl(fd.get(), F_GETSIG), 0);
  EXPECT_EQ(fcntl(fd.get(), F_GETFL) & O_ASYNC, 0);
}

INSTANTIATE_TEST_SUITE_P(Dirs, LeaseTest, ::testing::ValuesIn(Dirs()));

// Leases are for regular files only, and O_PATH descriptions take no fcntl of theirs.
TEST(LeaseFileKinds, OnlyRegularFiles) {
  conformance::Pipe pipe;
  ASSERT_TRUE(pipe.ok());
  EXPECT_SYSCALL_ERRNO(EINVAL, fcntl(pipe.r(), F_SETLEASE, F_RDLCK));
  EXPECT_SYSCALL_ERRNO(EINVAL, fcntl(pipe.w(), F_SETLEASE, F_UNLCK));
  EXPECT_EQ(fcntl(pipe.r(), F_GETLEASE), F_UNLCK);
  Fd dir(open("/tmp", O_RDONLY | O_DIRECTORY));
  EXPECT_SYSCALL_ERRNO(EINVAL, fcntl(dir.get(), F_SETLEASE, F_RDLCK));
  EXPECT_EQ(fcntl(dir.get(), F_GETLEASE), F_UNLCK);
  Fd null(open("/dev/null", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(EINVAL, fcntl(null.get(), F_SETLEASE, F_RDLCK));
  Fd path(open("/tmp", O_PATH));
  EXPECT_SYSCALL_ERRNO(EBADF, fcntl(path.get(), F_SETLEASE, F_RDLCK));
  EXPECT_SYSCALL_ERRNO(EBADF, fcntl(path.get(), F_GETLEASE));
}

// The caller's fsuid must own the file, unless it has CAP_LEASE; a bad type is EINVAL first.
TEST(LeasePermissions, OwnerOrCapLease) {
  char tmpl[] = "/tmp/lease_perm.XXXXXX";
  Fd fd(mkstemp(tmpl));
  ASSERT_TRUE(fd.ok());
  Fd rd(open(tmpl, O_RDONLY));
  conformance::Pipe pipe;
  int code = conformance::InChild([&] {
    if (setresuid(65534, 65534, 65534) != 0) return 1;
    if (fcntl(rd.get(), F_SETLEASE, F_RDLCK) != -1 || errno != EACCES) return 2;
    if (fcntl(rd.get(), F_SETLEASE, F_UNLCK) != -1 || errno != EACCES) return 3;
    if (fcntl(rd.get(), F_SETLEASE, 9) != -1 || errno != EINVAL) return 4;
    if (fcntl(pipe.r(), F_SETLEASE, F_RDLCK) != -1 || errno != EACCES) return 5;
    return 0;
  });
  EXPECT_EQ(code, 0);
  // Owned by the caller, no capability needed. The lease belongs to the description, which
  // outlives the child.
  fd.Reset();
  ASSERT_SYSCALL_OK(chown(tmpl, 65534, 65534));
  code = conformance::InChild([&] {
    if (setresuid(65534, 65534, 65534) != 0) return 1;
    if (fcntl(rd.get(), F_SETLEASE, F_RDLCK) != 0) return 10 + errno;
    return 0;
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(fcntl(rd.get(), F_GETLEASE), F_RDLCK);
  EXPECT_SYSCALL_OK(fcntl(rd.get(), F_SETLEASE, F_UNLCK));
  unlink(tmpl);
}

TEST(LeaseSysctls, WritesAreCheckedAndLeasesEnableStopsNewLeases) {
  // proc_dointvec: one integer, white space around it.
  ScopedSysctl keep(kBreakTime, "  7 \n");
  ASSERT_TRUE(keep.ok());
  EXPECT_EQ(ReadFile(kBreakTime), "7\n");
  int err = 0;
  EXPECT_EQ(WriteFile(kBreakTime, "abc", &err), -1);
  EXPECT_EQ(err, EINVAL);
  EXPECT_EQ(WriteFile(kBreakTime, "5x", &err), -1);
  EXPECT_EQ(err, EINVAL);
  EXPECT_EQ(WriteFile(kBreakTime, "99999999999", &err), -1);
  EXPECT_EQ(err, EINVAL);
  EXPECT_EQ(WriteFile(kBreakTime, "\n", &err), -1);
  EXPECT_EQ(err, EINVAL);
  EXPECT_EQ(WriteFile(kBreakTime, ""), 0);
  EXPECT_EQ(ReadFile(kBreakTime), "7\n");
  EXPECT_EQ(WriteFile(kBreakTime, "0x10"), 4);
  EXPECT_EQ(ReadFile(kBreakTime), "16\n");
  // Only the first number counts: the write stops there.
  EXPECT_EQ(WriteFile(kBreakTime, "3 4"), 2);
  EXPECT_EQ(ReadFile(kBreakTime), "3\n");
  // Others may read but not write.
  int code = conformance::InChild([] {
    if (setresuid(65534, 65534, 65534) != 0) return 1;
    if (open(kBreakTime, O_WRONLY) != -1 || errno != EACCES) return 2;
    if (ReadFile(kBreakTime) != "3\n") return 3;
    return 0;
  });
  EXPECT_EQ(code, 0);

  char tmpl[] = "/tmp/lease_enable.XXXXXX";
  Fd made(mkstemp(tmpl));
  ASSERT_TRUE(made.ok());
  made.Reset();
  Fd fd(open(tmpl, O_RDONLY));
  Fd fd2(open(tmpl, O_RDONLY));
  ASSERT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_RDLCK));
  {
    ScopedSysctl off(kLeasesEnable, "0\n");
    ASSERT_TRUE(off.ok());
    EXPECT_EQ(ReadFile(kLeasesEnable), "0\n");
    // No new lease; one held may still change.
    EXPECT_SYSCALL_ERRNO(EINVAL, fcntl(fd2.get(), F_SETLEASE, F_RDLCK));
    EXPECT_SYSCALL_ERRNO(EAGAIN, fcntl(fd2.get(), F_SETLEASE, F_UNLCK));
    fd2.Reset();
    EXPECT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_WRLCK));
    EXPECT_SYSCALL_OK(fcntl(fd.get(), F_SETLEASE, F_UNLCK));
  }
  EXPECT_EQ(ReadFile(kLeasesEnable), "1\n");
  unlink(tmpl);
}

}  // namespace
