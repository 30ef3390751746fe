// flock(2): shared and exclusive whole-file locks owned by open file descriptions.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "syscalls/fs_test_util.h"
#include "syscalls/test_util.h"

namespace {

using namespace conformance;  // NOLINT: the shared helpers of fs_test_util.h

long Flock(long fd, long op) { return syscall(SYS_flock, fd, op); }

class FlockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_SCRATCH(dir_);
    ASSERT_TRUE(WriteFile(dir_ / "f", "x"));
    ASSERT_SYSCALL_OK(a_ = Open(dir_ / "f", O_RDONLY));
    ASSERT_SYSCALL_OK(b_ = Open(dir_ / "f", O_RDONLY));
  }
  void TearDown() override {
    Close(a_);
    Close(b_);
  }
  ScratchDir dir_;
  long a_ = -1, b_ = -1;
};

TEST_F(FlockTest, SharedLocksCoexist) {
  EXPECT_SYSCALL_OK(Flock(a_, LOCK_SH));
  EXPECT_SYSCALL_OK(Flock(b_, LOCK_SH | LOCK_NB));
  EXPECT_SYSCALL_ERRNO(EWOULDBLOCK, Flock(b_, LOCK_EX | LOCK_NB));
}

TEST_F(FlockTest, ExclusiveExcludesOtherDescriptions) {
  EXPECT_SYSCALL_OK(Flock(a_, LOCK_EX));
  EXPECT_SYSCALL_ERRNO(EWOULDBLOCK, Flock(b_, LOCK_SH | LOCK_NB));
  EXPECT_SYSCALL_ERRNO(EWOULDBLOCK, Flock(b_, LOCK_EX | LOCK_NB));
  // The same description may take it again, or convert it.
  EXPECT_SYSCALL_OK(Flock(a_, LOCK_EX | LOCK_NB));
  EXPECT_SYSCALL_OK(Flock(a_, LOCK_SH | LOCK_NB));
  EXPECT_SYSCALL_OK(Flock(b_, LOCK_SH | LOCK_NB));
}

TEST_F(FlockTest, UnlockAndCloseRelease) {
  EXPECT_SYSCALL_OK(Flock(a_, LOCK_EX));
  EXPECT_SYSCALL_OK(Flock(a_, LOCK_UN));
  EXPECT_SYSCALL_OK(Flock(b_, LOCK_EX | LOCK_NB));
  EXPECT_SYSCALL_OK(Flock(b_, LOCK_UN));
  // A duplicate shares the description, and so the lock: closing one fd keeps it.
  EXPECT_SYSCALL_OK(Flock(a_, LOCK_EX));
  long dup_a;
  ASSERT_SYSCALL_OK(dup_a = syscall(SYS_dup, a_));
  EXPECT_SYSCALL_OK(Close(a_));
  EXPECT_SYSCALL_ERRNO(EWOULDBLOCK, Flock(b_, LOCK_EX | LOCK_NB));
  EXPECT_SYSCALL_OK(Close(dup_a));
  a_ = -1;
  EXPECT_SYSCALL_OK(Flock(b_, LOCK_EX | LOCK_NB));
}

TEST_F(FlockTest, BadArguments) {
  EXPECT_SYSCALL_ERRNO(EINVAL, Flock(a_, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, Flock(a_, LOCK_SH | LOCK_EX));
  EXPECT_SYSCALL_ERRNO(EINVAL, Flock(a_, LOCK_NB));
  EXPECT_SYSCALL_ERRNO(EBADF, Flock(99, LOCK_SH));
  long p;
  ASSERT_SYSCALL_OK(p = Open(dir_ / "f", O_PATH));
  EXPECT_SYSCALL_ERRNO(EBADF, Flock(p, LOCK_SH));
  Close(p);
}

TEST_F(FlockTest, BlockedFlockIsInterruptedByASignal) {
  EXPECT_SYSCALL_OK(Flock(a_, LOCK_EX));
  EXPECT_EQ(InChildWithAlarm(0, [&] { return Flock(b_, LOCK_EX); }), 0);
  EXPECT_SYSCALL_OK(Flock(a_, LOCK_UN));
  EXPECT_SYSCALL_OK(Flock(b_, LOCK_EX | LOCK_NB));  // the child's wait left nothing behind
}

TEST_F(FlockTest, BlockedFlockRestartsUnderSaRestart) {
  EXPECT_SYSCALL_OK(Flock(a_, LOCK_EX));
  pid_t pid = fork();
  if (pid == 0) _exit(InChildWithAlarm(SA_RESTART, [&] { return Flock(b_, LOCK_EX); }));
  ASSERT_GT(pid, 0);
  usleep(300 * 1000);  // the alarm came and went: the wait went on
  EXPECT_SYSCALL_OK(Flock(a_, LOCK_UN));
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 10);
}

}  // namespace
