// dnotify (fcntl F_NOTIFY): ENOTDIR for other files, each DN_* event from changes to a
// directory's entries (made by this process or a forked child), the signal (SIGIO, or the
// F_SETSIG signal with si_fd and POLL_MSG), one notification without DN_MULTISHOT, removal
// with 0 and by closing the fd, and the owner F_NOTIFY sets.
//
// Signals are blocked and taken with sigtimedwait: a change made by this process signals before
// the call returns, and one made by a child before the child's exit, so "no signal" is checked
// with a zero timeout and nothing here depends on timing.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "syscalls/test_util.h"

namespace {

using conformance::Fd;

const int kSig = SIGRTMIN + 1;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/dnotify_XXXXXX";
    if (mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    if (path_.empty()) return;
    pid_t pid = fork();
    if (pid == 0) {
      execl("/bin/rm", "rm", "-rf", path_.c_str(), nullptr);
      _exit(127);
    }
    int status;
    if (pid > 0) waitpid(pid, &status, 0);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void Touch(const std::string& path) {
  int fd = open(path.c_str(), O_CREAT | O_WRONLY, 0644);
  if (fd >= 0) close(fd);
}

// Blocks kSig and SIGIO for the test, and drops any left pending at the end.
class DnotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, kSig);
    sigaddset(&set, SIGIO);
    ASSERT_EQ(sigprocmask(SIG_BLOCK, &set, &old_), 0);
    dfd_ = open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY);
    ASSERT_GE(dfd_, 0);
    ASSERT_EQ(fcntl(dfd_, F_SETSIG, kSig), 0);
  }
  void TearDown() override {
    if (dfd_ >= 0) close(dfd_);
    while (Take(kSig, 0)) {
    }
    while (Take(SIGIO, 0)) {
    }
    sigprocmask(SIG_SETMASK, &old_, nullptr);
  }
  // A pending `sig` with its info, waiting up to `seconds`.
  static std::optional<siginfo_t> Take(int sig, int seconds) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    timespec ts = {seconds, 0};
    siginfo_t info;
    if (sigtimedwait(&set, &info, &ts) != sig) return std::nullopt;
    return info;
  }
  // Whether `change` makes exactly one kSig for dfd_ (and no second one).
  void ExpectOneSignal(const std::function<void()>& change) {
    change();
    auto info = Take(kSig, 30);
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->si_fd, dfd_);
    EXPECT_EQ(info->si_code, POLL_MSG);
    EXPECT_FALSE(Take(kSig, 0).has_value());
  }
  void ExpectNoSignal(const std::function<void()>& change) {
    change();
    EXPECT_FALSE(Take(kSig, 0).has_value());
  }

  TempDir dir_;
  int dfd_ = -1;
  sigset_t old_;
};

TEST_F(DnotifyTest, Errors) {
  std::string file = dir_ / "f";
  Touch(file);
  Fd f(open(file.c_str(), O_RDONLY));
  ASSERT_TRUE(f.ok());
  EXPECT_SYSCALL_ERRNO(ENOTDIR, fcntl(f.get(), F_NOTIFY, DN_CREATE));
  // Removing (no event bits) is fine on any file.
  EXPECT_SYSCALL_OK(fcntl(f.get(), F_NOTIFY, 0));
  EXPECT_SYSCALL_OK(fcntl(f.get(), F_NOTIFY, DN_MULTISHOT));
  Fd path(open(dir_.path().c_str(), O_PATH));
  EXPECT_SYSCALL_ERRNO(EBADF, fcntl(path.get(), F_NOTIFY, DN_CREATE));
  EXPECT_SYSCALL_ERRNO(EBADF, fcntl(-1, F_NOTIFY, DN_CREATE));
}

TEST_F(DnotifyTest, SetsTheOwner) {
  ASSERT_EQ(fcntl(dfd_, F_GETOWN), 0);
  ASSERT_EQ(fcntl(dfd_, F_NOTIFY, DN_CREATE), 0);
  EXPECT_EQ(fcntl(dfd_, F_GETOWN), getpid());
}

TEST_F(DnotifyTest, ChildCreationSignalsWithSiFd) {
  ASSERT_EQ(fcntl(dfd_, F_NOTIFY, DN_CREATE), 0);
  std::string file = dir_ / "child";
  ExpectOneSignal([&] {
    EXPECT_EQ(conformance::InChild([&] {
                Touch(file);
                return access(file.c_str(), F_OK) == 0 ? 0 : 1;
              }),
              0);
  });
}

TEST_F(DnotifyTest, WithoutMultishotOnce) {
  ASSERT_EQ(fcntl(dfd_, F_NOTIFY, DN_CREATE), 0);
  ExpectOneSignal([&] {
    Touch(dir_ / "a");
    Touch(dir_ / "b");
  });
  ExpectNoSignal([&] { Touch(dir_ / "c"); });
}

TEST_F(DnotifyTest, MultishotEveryTime) {
  ASSERT_EQ(fcntl(dfd_, F_NOTIFY, DN_CREATE | DN_MULTISHOT), 0);
  ExpectOneSignal([&] { Touch(dir_ / "a"); });
  ExpectOneSignal([&] { Touch(dir_ / "b"); });
}

TEST_F(DnotifyTest, EachEvent) {
  std::string file = dir_ / "f";
  {
    Fd f(open(file.c_str(), O_CREAT | O_RDWR, 0644));
    ASSERT_EQ(write(f.get(), "x", 1), 1);
  }
  ASSERT_EQ(fcntl(dfd_, F_NOTIFY, DN_MODIFY | DN_MULTISHOT), 0);
  ExpectNoSignal([&] { ASSERT_EQ(chmod(file.c_str(), 0600), 0); });
  ExpectOneSignal([&] {
    Fd f(open(file.c_str(), O_WRONLY));
    ASSERT_EQ(write(f.get(), "y", 1), 1);
  });
  ASSERT_EQ(fcntl(dfd_, F_NOTIFY, 0), 0);

  ASSERT_EQ(fcntl(dfd_, F_NOTIFY, DN_ATTRIB | DN_MULTISHOT), 0);
  ExpectOneSignal([&] { ASSERT_EQ(chmod(file.c_str(), 0644), 0); });
  ASSERT_EQ(fcntl(dfd_, F_NOTIFY, 0), 0);

  ASSERT_EQ(fcntl(dfd_, F_NOTIFY, DN_ACCESS | DN_MULTISHOT), 0);
  ExpectOneSignal([&] {
    Fd f(open(file.c_str(), O_RDONLY));
    char c;
    ASSERT_EQ(read(f.get(), &c, 1), 1);
  });
  ASSERT_EQ(fcntl(dfd_, F_NOTIFY, 0), 0);

  ASSERT_EQ(fcntl(dfd_, F_NOTIFY, DN_RENAME | DN_MULTISHOT), 0);
  ExpectOneSignal([&] { ASSERT_EQ(rename(file.c_str(), (dir_ / "g").c_str()), 0); });
  ASSERT_EQ(mkdir((dir_ / "sub").c_str(), 0755), 0);
  // Out of the directory is a deletion, not a rename, to dnotify.
  ExpectNoSignal([&] { ASSERT_EQ(rename((dir_ / "g").c_str(), (dir_ / "sub/g").c_str()), 0); });
  ASSERT_EQ(fcntl(dfd_, F_NOTIFY, 0), 0);

  ASSERT_EQ(fcntl(dfd_, F_NOTIFY, DN_DELETE | DN_MULTISHOT), 0);
  ExpectNoSignal([&] { Touch(dir_ / "h"); });
  ExpectOneSignal([&] { ASSERT_EQ(unlink((dir_ / "h").c_str()), 0); });
  ExpectOneSignal([&] {
    ASSERT_EQ(rename((dir_ / "sub/g").c_str(), (dir_ / "sub/g2").c_str()), 0);
    ASSERT_EQ(rename((dir_ / "sub/g2").c_str(), (dir_ / "i").c_str()), 0);
    ASSERT_EQ(rename((dir_ / "i").c_str(), (dir_ / "sub/i").c_str()), 0);
  });
}

TEST_F(DnotifyTest, ZeroRemoves) {
  ASSERT_EQ(fcntl(dfd_, F_NOTIFY, DN_CREATE | DN_MULTISHOT), 0);
  ASSERT_EQ(fcntl(dfd_, F_NOTIFY, 0), 0);
  ExpectNoSignal([&] { Touch(dir_ / "a"); });
}

TEST_F(DnotifyTest, CloseRemoves) {
  ASSERT_EQ(fcntl(dfd_, F_NOTIFY, DN_CREATE | DN_MULTISHOT), 0);
  // Closing a duplicate is closing an fd of the file in this process: the notification goes.
  int dup_fd = dup(dfd_);
  ASSERT_GE(dup_fd, 0);
  ASSERT_EQ(close(dup_fd), 0);
  ExpectNoSignal([&] { Touch(dir_ / "a"); });
}

TEST_F(DnotifyTest, SecondCallAddsEvents) {
  ASSERT_EQ(fcntl(dfd_, F_NOTIFY, DN_CREATE | DN_MULTISHOT), 0);
  ASSERT_EQ(fcntl(dfd_, F_NOTIFY, DN_DELETE), 0);
  ExpectOneSignal([&] { Touch(dir_ / "a"); });
  ExpectOneSignal([&] { ASSERT_EQ(unlink((dir_ / "a").c_str()), 0); });
}

TEST_F(DnotifyTest, SigioWithoutSetsig) {
  ASSERT_EQ(fcntl(dfd_, F_SETSIG, 0), 0);
  ASSERT_EQ(fcntl(dfd_, F_NOTIFY, DN_CREATE), 0);
  Touch(dir_ / "a");
  auto info = Take(SIGIO, 30);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->si_signo, SIGIO);
}

}  // namespace
