// fcntl(2) record locks: F_GETLK, F_SETLK, F_SETLKW and the open-file-description forms
// F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW.
//
// A process's own locks never conflict with each other, so one process sees them through an
// OFD lock query on a second description (OFD locks conflict with the process's traditional
// locks as with anyone else's). What differs between processes runs in a fork()ed child, which
// reports through its exit status; pipes order parent and child (no signals: the sandbox does
// not deliver them yet).
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <functional>

#include <cstdint>

#include <gtest/gtest.h>

#include "syscalls/fs_test_util.h"
#include "syscalls/test_util.h"

namespace {

using namespace conformance;  // NOLINT: the shared helpers of fs_test_util.h

struct flock Lk(short type, off_t start, off_t len, short whence = SEEK_SET) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = whence;
  fl.l_start = start;
  fl.l_len = len;
  return fl;
}

long Fcntl(long fd, long cmd, struct flock* fl) { return syscall(SYS_fcntl, fd, cmd, fl); }
long Fcntl(long fd, long cmd, struct flock fl) { return syscall(SYS_fcntl, fd, cmd, &fl); }

// What an F_OFD_GETLK through `fd` for a `type` lock on [start, start+len) reports: with a
// second description, the locks that this process and everyone else hold.
struct flock Probe(long fd, short type, off_t start, off_t len) {
  struct flock fl = Lk(type, start, len);
  EXPECT_SYSCALL_OK(Fcntl(fd, F_OFD_GETLK, &fl));
  return fl;
}

// Checks a reported lock: type, start, length (l_whence is always SEEK_SET) and l_pid.
#define EXPECT_LOCK(fl, type, start, len, pid) \
  do {                                         \
    struct flock got_ = (fl);                  \
    EXPECT_EQ(got_.l_type, (type));            \
    EXPECT_EQ(got_.l_whence, SEEK_SET);        \
    EXPECT_EQ(got_.l_start, (start));          \
    EXPECT_EQ(got_.l_len, (len));              \
    EXPECT_EQ(got_.l_pid, (pid));              \
  } while (0)

#define EXPECT_UNLOCKED(fl) EXPECT_EQ((fl).l_type, F_UNLCK)

// A one-byte message between parent and child.
void Send(int fd) {
  char c = 'x';
  ASSERT_EQ(write(fd, &c, 1), 1);
}
bool Receive(int fd) {
  char c;
  return read(fd, &c, 1) == 1;
}

// The exit code of the child `pid`, or 128 + the signal that ended it.
int Reap(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Runs `body` in a child process; its result is the child's exit code (0: every check held,
// otherwise the number of the check that failed).
template <typename F>
int InChild(F body) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  if (pid < 0) return -1;
  return Reap(pid);
}

class FcntlLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_SCRATCH(dir_);
    ASSERT_TRUE(WriteFile(dir_ / "f", "0123456789"));
    ASSERT_SYSCALL_OK(a_ = Open(dir_ / "f", O_RDWR));
    ASSERT_SYSCALL_OK(b_ = Open(dir_ / "f", O_RDWR));
  }
  void TearDown() override {
    if (a_ >= 0) Close(a_);
    if (b_ >= 0) Close(b_);
  }
  ScratchDir dir_;
  long a_ = -1, b_ = -1;
};

TEST_F(FcntlLockTest, LocksShowThroughAnotherDescription) {
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_WRLCK, 10, 10)));
  EXPECT_LOCK(Probe(b_, F_WRLCK, 0, 0), F_WRLCK, 10, 10, getpid());
  // No conflict: only l_type changes; the rest stays as it was passed.
  struct flock free = Lk(F_RDLCK, 0, 10, SEEK_CUR);
  free.l_pid = 0;
  ASSERT_SYSCALL_OK(Fcntl(b_, F_OFD_GETLK, &free));
  EXPECT_EQ(free.l_type, F_UNLCK);
  EXPECT_EQ(free.l_whence, SEEK_CUR);
  EXPECT_EQ(free.l_start, 0);
  EXPECT_EQ(free.l_len, 10);
  // The process's own locks do not stand in its way, through any fd.
  struct flock own = Lk(F_WRLCK, 0, 0);
  ASSERT_SYSCALL_OK(Fcntl(b_, F_GETLK, &own));
  EXPECT_UNLOCKED(own);
  EXPECT_SYSCALL_OK(Fcntl(b_, F_SETLK, Lk(F_WRLCK, 0, 0)));
}

TEST_F(FcntlLockTest, RangesSplitAndMerge) {
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_WRLCK, 0, 0)));
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_UNLCK, 10, 10)));  // a hole
  EXPECT_LOCK(Probe(b_, F_WRLCK, 0, 0), F_WRLCK, 0, 10, getpid());
  EXPECT_LOCK(Probe(b_, F_WRLCK, 10, 0), F_WRLCK, 20, 0, getpid());
  EXPECT_UNLOCKED(Probe(b_, F_WRLCK, 10, 10));
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_WRLCK, 10, 10)));  // filled: one lock again
  EXPECT_LOCK(Probe(b_, F_WRLCK, 0, 0), F_WRLCK, 0, 0, getpid());

  // A read lock inside the write lock splits it in three.
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_RDLCK, 5, 3)));
  EXPECT_LOCK(Probe(b_, F_RDLCK, 0, 0), F_WRLCK, 0, 5, getpid());
  EXPECT_LOCK(Probe(b_, F_RDLCK, 5, 0), F_WRLCK, 8, 0, getpid());
  EXPECT_LOCK(Probe(b_, F_WRLCK, 5, 1), F_RDLCK, 5, 3, getpid());
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_UNLCK, 0, 0)));
  EXPECT_UNLOCKED(Probe(b_, F_WRLCK, 0, 0));

  // Touching locks of one type become one; of different types they stay apart.
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_RDLCK, 0, 10)));
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_RDLCK, 10, 10)));
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_WRLCK, 20, 10)));
  EXPECT_LOCK(Probe(b_, F_WRLCK, 0, 0), F_RDLCK, 0, 20, getpid());
  EXPECT_LOCK(Probe(b_, F_RDLCK, 0, 0), F_WRLCK, 20, 10, getpid());
  // Unlocking what is not locked is no error.
  EXPECT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_UNLCK, 100, 5)));
}

TEST_F(FcntlLockTest, WhenceAndNegativeLength) {
  // l_len < 0: the bytes before l_start.
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_WRLCK, 10, -5)));
  EXPECT_LOCK(Probe(b_, F_WRLCK, 0, 0), F_WRLCK, 5, 5, getpid());
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_UNLCK, 0, 0)));
  // SEEK_CUR counts from the file position (of the fd used).
  ASSERT_EQ(lseek(a_, 4, SEEK_SET), 4);
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_WRLCK, 2, 1, SEEK_CUR)));
  EXPECT_LOCK(Probe(b_, F_WRLCK, 0, 0), F_WRLCK, 6, 1, getpid());
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_UNLCK, -4, 0, SEEK_CUR)));
  EXPECT_UNLOCKED(Probe(b_, F_WRLCK, 0, 0));
  // SEEK_END from the size (10).
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_WRLCK, -3, 2, SEEK_END)));
  EXPECT_LOCK(Probe(b_, F_WRLCK, 0, 0), F_WRLCK, 7, 2, getpid());
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_UNLCK, 0, 0)));
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_WRLCK, 0, 0, SEEK_END)));
  EXPECT_UNLOCKED(Probe(b_, F_WRLCK, 0, 10));
  EXPECT_LOCK(Probe(b_, F_WRLCK, 1000, 1), F_WRLCK, 10, 0, getpid());
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_UNLCK, 0, 0)));
  // Past the end of the file, up to the last byte an off_t reaches (reported with l_len 0, as
  // every lock that ends there).
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_RDLCK, INT64_MAX, 1)));
  EXPECT_LOCK(Probe(b_, F_WRLCK, 0, 0), F_RDLCK, INT64_MAX, 0, getpid());
}

TEST_F(FcntlLockTest, AccessModeMustAllowTheLockType) {
  long ro, wo;
  ASSERT_SYSCALL_OK(ro = Open(dir_ / "f", O_RDONLY));
  ASSERT_SYSCALL_OK(wo = Open(dir_ / "f", O_WRONLY));
  EXPECT_SYSCALL_ERRNO(EBADF, Fcntl(ro, F_SETLK, Lk(F_WRLCK, 0, 1)));
  EXPECT_SYSCALL_ERRNO(EBADF, Fcntl(ro, F_SETLKW, Lk(F_WRLCK, 0, 1)));
  EXPECT_SYSCALL_ERRNO(EBADF, Fcntl(ro, F_OFD_SETLK, Lk(F_WRLCK, 0, 1)));
  EXPECT_SYSCALL_ERRNO(EBADF, Fcntl(wo, F_SETLK, Lk(F_RDLCK, 0, 1)));
  EXPECT_SYSCALL_ERRNO(EBADF, Fcntl(wo, F_OFD_SETLKW, Lk(F_RDLCK, 0, 1)));
  EXPECT_SYSCALL_OK(Fcntl(ro, F_SETLK, Lk(F_RDLCK, 0, 1)));
  EXPECT_SYSCALL_OK(Fcntl(wo, F_SETLK, Lk(F_WRLCK, 5, 1)));
  // Unlocking and asking need no particular mode.
  EXPECT_SYSCALL_OK(Fcntl(wo, F_SETLK, Lk(F_UNLCK, 0, 1)));
  EXPECT_SYSCALL_OK(Fcntl(ro, F_SETLK, Lk(F_UNLCK, 5, 1)));
  struct flock q = Lk(F_WRLCK, 0, 0);
  EXPECT_SYSCALL_OK(Fcntl(ro, F_GETLK, &q));
  EXPECT_SYSCALL_OK(Fcntl(ro, F_OFD_GETLK, Lk(F_WRLCK, 0, 0)));
  Close(ro);
  Close(wo);

  long path;
  ASSERT_SYSCALL_OK(path = Open(dir_ / "f", O_PATH));
  EXPECT_SYSCALL_ERRNO(EBADF, Fcntl(path, F_GETLK, &q));
  EXPECT_SYSCALL_ERRNO(EBADF, Fcntl(path, F_SETLK, Lk(F_RDLCK, 0, 1)));
  EXPECT_SYSCALL_ERRNO(EBADF, Fcntl(path, F_OFD_SETLK, Lk(F_UNLCK, 0, 1)));
  EXPECT_SYSCALL_ERRNO(EBADF, Fcntl(path, F_SETLK, nullptr));  // EBADF before EFAULT
  Close(path);
  EXPECT_SYSCALL_ERRNO(EBADF, Fcntl(path, F_SETLK, Lk(F_RDLCK, 0, 1)));
}

TEST_F(FcntlLockTest, BadArguments) {
  for (long cmd : {F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW}) {
    SCOPED_TRACE(cmd);
    EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(a_, cmd, Lk(7, 0, 1)));
    EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(a_, cmd, Lk(F_WRLCK, 0, 1, SEEK_DATA)));
    EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(a_, cmd, Lk(F_WRLCK, 0, 1, -1)));
    EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(a_, cmd, Lk(F_WRLCK, -1, 1)));
    EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(a_, cmd, Lk(F_WRLCK, -11, 0, SEEK_END)));
    EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(a_, cmd, Lk(F_WRLCK, 3, -4)));
    EXPECT_SYSCALL_ERRNO(EOVERFLOW, Fcntl(a_, cmd, Lk(F_WRLCK, INT64_MAX, 2)));
    EXPECT_SYSCALL_ERRNO(EOVERFLOW, Fcntl(a_, cmd, Lk(F_WRLCK, INT64_MAX, 0, SEEK_END)));
    EXPECT_SYSCALL_ERRNO(EFAULT, Fcntl(a_, cmd, nullptr));
  }
  // F_GETLK asks about a read or a write lock.
  EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(a_, F_GETLK, Lk(F_UNLCK, 0, 1)));
  // OFD locks want l_pid 0; traditional ones ignore it.
  for (long cmd : {F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW}) {
    struct flock fl = Lk(F_RDLCK, 0, 1);
    fl.l_pid = getpid();
    EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(a_, cmd, &fl)) << cmd;
  }
  struct flock with_pid = Lk(F_RDLCK, 0, 1);
  with_pid.l_pid = 12345;
  EXPECT_SYSCALL_OK(Fcntl(a_, F_SETLK, &with_pid));
  EXPECT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_UNLCK, 0, 0)));
  // F_GETLK writes its answer back: a struct it may read but not write is EFAULT.
  void* page =
      mmap(nullptr, PageSize(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(page, MAP_FAILED);
  *static_cast<struct flock*>(page) = Lk(F_WRLCK, 0, 0);
  ASSERT_EQ(mprotect(page, PageSize(), PROT_READ), 0);
  EXPECT_SYSCALL_ERRNO(EFAULT, Fcntl(b_, F_OFD_GETLK, static_cast<struct flock*>(page)));
  EXPECT_SYSCALL_OK(Fcntl(b_, F_OFD_SETLK, static_cast<struct flock*>(page)));  // only reads it
  munmap(page, PageSize());
}

TEST_F(FcntlLockTest, OfdLocksBelongToTheDescription) {
  ASSERT_SYSCALL_OK(Fcntl(a_, F_OFD_SETLK, Lk(F_WRLCK, 0, 10)));
  EXPECT_SYSCALL_ERRNO(EAGAIN, Fcntl(b_, F_OFD_SETLK, Lk(F_RDLCK, 5, 1)));
  // They conflict with process locks, even the same process's through the same fd.
  EXPECT_SYSCALL_ERRNO(EAGAIN, Fcntl(b_, F_SETLK, Lk(F_RDLCK, 5, 1)));
  EXPECT_SYSCALL_ERRNO(EAGAIN, Fcntl(a_, F_SETLK, Lk(F_RDLCK, 5, 1)));
  struct flock q = Lk(F_RDLCK, 0, 0);
  ASSERT_SYSCALL_OK(Fcntl(b_, F_GETLK, &q));
  EXPECT_LOCK(q, F_WRLCK, 0, 10, -1);  // an OFD lock has no process
  // The description converts and splits its own lock freely.
  ASSERT_SYSCALL_OK(Fcntl(a_, F_OFD_SETLK, Lk(F_RDLCK, 5, 1)));
  EXPECT_LOCK(Probe(b_, F_RDLCK, 0, 0), F_WRLCK, 0, 5, -1);
  EXPECT_LOCK(Probe(b_, F_WRLCK, 5, 1), F_RDLCK, 5, 1, -1);
  EXPECT_SYSCALL_OK(Fcntl(b_, F_OFD_SETLK, Lk(F_RDLCK, 5, 1)));
  EXPECT_SYSCALL_OK(Fcntl(b_, F_OFD_SETLK, Lk(F_UNLCK, 0, 0)));

  // A duplicate shares the description and its locks; closing one fd keeps them, closing the
  // last one drops them.
  long dup_a;
  ASSERT_SYSCALL_OK(dup_a = syscall(SYS_dup, a_));
  ASSERT_SYSCALL_OK(Close(a_));
  a_ = -1;
  EXPECT_LOCK(Probe(b_, F_WRLCK, 0, 0), F_WRLCK, 0, 5, -1);
  ASSERT_SYSCALL_OK(Close(dup_a));
  EXPECT_UNLOCKED(Probe(b_, F_WRLCK, 0, 0));
}

// Newer kernels (the F_UNLCK extension of F_OFD_GETLK, 2023) answer an F_UNLCK query with the
// description's own lock; older ones say EINVAL.
TEST_F(FcntlLockTest, OfdUnlockQueryFindsOwnLocks) {
  ASSERT_SYSCALL_OK(Fcntl(a_, F_OFD_SETLK, Lk(F_WRLCK, 3, 4)));
  struct flock own = Lk(F_UNLCK, 0, 0);
  if (Fcntl(a_, F_OFD_GETLK, &own) == -1 && errno == EINVAL) {
    GTEST_SKIP() << "this kernel predates F_UNLCK for F_OFD_GETLK";
  }
  EXPECT_LOCK(own, F_WRLCK, 3, 4, -1);
  EXPECT_UNLOCKED(Probe(b_, F_UNLCK, 0, 0));
  EXPECT_UNLOCKED(Probe(a_, F_UNLCK, 7, 0));
}

TEST_F(FcntlLockTest, ClosingAnyFdOfTheFileReleasesProcessLocks) {
  ASSERT_SYSCALL_OK(Fcntl(a_, F_OFD_SETLK, Lk(F_WRLCK, 0, 1)));
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_WRLCK, 5, 0)));
  // Another file's fd does not count.
  ASSERT_TRUE(WriteFile(dir_ / "g", ""));
  long g;
  ASSERT_SYSCALL_OK(g = Open(dir_ / "g", O_RDONLY));
  ASSERT_SYSCALL_OK(Close(g));
  EXPECT_LOCK(Probe(b_, F_WRLCK, 2, 0), F_WRLCK, 5, 0, getpid());
  // An fd of the same file, opened and closed, takes the process's locks with it; the OFD
  // lock stays.
  long c;
  ASSERT_SYSCALL_OK(c = Open(dir_ / "f", O_RDONLY));
  ASSERT_SYSCALL_OK(Close(c));
  EXPECT_UNLOCKED(Probe(b_, F_WRLCK, 2, 0));
  EXPECT_LOCK(Probe(b_, F_WRLCK, 0, 0), F_WRLCK, 0, 1, -1);

  // So does an fd that dup2 replaces...
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_WRLCK, 5, 0)));
  ASSERT_SYSCALL_OK(c = Open(dir_ / "f", O_RDONLY));
  ASSERT_SYSCALL_OK(syscall(SYS_dup2, g = Open(dir_ / "g", O_RDONLY), c));
  EXPECT_UNLOCKED(Probe(b_, F_WRLCK, 2, 0));
  Close(g);
  Close(c);
  // ... and one that close_range closes.
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_WRLCK, 5, 0)));
  ASSERT_SYSCALL_OK(c = Open(dir_ / "f", O_RDONLY));
  ASSERT_SYSCALL_OK(syscall(SYS_close_range, c, c, 0));
  EXPECT_UNLOCKED(Probe(b_, F_WRLCK, 2, 0));
}

TEST_F(FcntlLockTest, PipesLockTheirPipe) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  ASSERT_SYSCALL_OK(Fcntl(p[0], F_SETLK, Lk(F_RDLCK, 0, 0, SEEK_CUR)));
  EXPECT_SYSCALL_ERRNO(EBADF, Fcntl(p[0], F_SETLK, Lk(F_WRLCK, 0, 0)));
  // Both ends are one file.
  EXPECT_LOCK(Probe(p[1], F_WRLCK, 0, 0), F_RDLCK, 0, 0, getpid());
  Close(p[0]);
  Close(p[1]);
}

TEST_F(FcntlLockTest, ChildSeesParentsLocks) {
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_WRLCK, 0, 10)));
  pid_t parent = getpid();
  // The child shares the descriptions but not the locks: they are the parent's.
  EXPECT_EQ(InChild([&] {
              struct flock q = Lk(F_RDLCK, 0, 0);
              if (Fcntl(a_, F_GETLK, &q) != 0) return 1;
              if (q.l_type != F_WRLCK || q.l_whence != SEEK_SET || q.l_start != 0 ||
                  q.l_len != 10 || q.l_pid != parent) {
                return 2;
              }
              if (Fcntl(b_, F_SETLK, Lk(F_RDLCK, 5, 1)) != -1 || errno != EAGAIN) return 3;
              if (Fcntl(a_, F_SETLK, Lk(F_RDLCK, 9, 2)) != -1 || errno != EAGAIN) return 4;
              if (Fcntl(b_, F_SETLK, Lk(F_WRLCK, 10, 0)) != 0) return 5;  // past it
              // Closing its copies of the fds drops the child's locks only.
              if (Close(a_) != 0 || Close(b_) != 0) return 6;
              return 0;
            }),
            0);
  EXPECT_LOCK(Probe(b_, F_WRLCK, 0, 0), F_WRLCK, 0, 10, getpid());
  EXPECT_UNLOCKED(Probe(b_, F_WRLCK, 10, 0));  // the child's lock went when it exited
}

TEST_F(FcntlLockTest, ParentSeesChildsLocksUntilItExits) {
  int to_parent[2], to_child[2];
  ASSERT_EQ(pipe(to_parent), 0);
  ASSERT_EQ(pipe(to_child), 0);
  pid_t pid = fork();
  if (pid == 0) {
    if (Fcntl(a_, F_SETLK, Lk(F_WRLCK, 4, 0)) != 0) _exit(1);
    char c = 'x';
    if (write(to_parent[1], &c, 1) != 1) _exit(2);
    if (read(to_child[0], &c, 1) != 1) _exit(3);
    _exit(0);  // exiting closes the fds and so drops the lock
  }
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(Receive(to_parent[0]));
  struct flock q = Lk(F_RDLCK, 0, 0);
  ASSERT_SYSCALL_OK(Fcntl(b_, F_GETLK, &q));
  EXPECT_LOCK(q, F_WRLCK, 4, 0, pid);
  EXPECT_SYSCALL_ERRNO(EAGAIN, Fcntl(b_, F_SETLK, Lk(F_RDLCK, 0, 0)));
  EXPECT_SYSCALL_ERRNO(EAGAIN, Fcntl(b_, F_OFD_SETLK, Lk(F_RDLCK, 100, 1)));
  EXPECT_SYSCALL_OK(Fcntl(b_, F_SETLK, Lk(F_WRLCK, 0, 4)));
  Send(to_child[1]);
  EXPECT_EQ(Reap(pid), 0);
  // Once wait reports the exit, the lock is gone.
  EXPECT_SYSCALL_OK(Fcntl(b_, F_SETLK, Lk(F_WRLCK, 0, 0)));
  for (int fd : {to_parent[0], to_parent[1], to_child[0], to_child[1]}) Close(fd);
}

TEST_F(FcntlLockTest, SetlkwWaitsForTheUnlock) {
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_WRLCK, 0, 0)));
  int done[2];
  ASSERT_EQ(pipe(done), 0);
  pid_t pid = fork();
  if (pid == 0) {
    if (Fcntl(b_, F_SETLKW, Lk(F_RDLCK, 3, 1)) != 0) _exit(1);
    char c = 'x';
    _exit(write(done[1], &c, 1) == 1 ? 0 : 2);
  }
  ASSERT_GT(pid, 0);
  // Still waiting a while later (if it has got that far).
  usleep(100 * 1000);
  ASSERT_EQ(fcntl(done[0], F_SETFL, O_NONBLOCK), 0);
  char c;
  EXPECT_SYSCALL_ERRNO(EAGAIN, read(done[0], &c, 1));
  ASSERT_EQ(fcntl(done[0], F_SETFL, 0), 0);
  // Unlocking a byte that is not the one it waits for does not end the wait.
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_UNLCK, 0, 1)));
  usleep(50 * 1000);
  ASSERT_EQ(fcntl(done[0], F_SETFL, O_NONBLOCK), 0);
  EXPECT_SYSCALL_ERRNO(EAGAIN, read(done[0], &c, 1));
  ASSERT_EQ(fcntl(done[0], F_SETFL, 0), 0);
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_UNLCK, 0, 0)));
  EXPECT_TRUE(Receive(done[0]));
  EXPECT_EQ(Reap(pid), 0);
  Close(done[0]);
  Close(done[1]);
}

TEST_F(FcntlLockTest, SetlkwWaitsForTheHolderToExit) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t pid = fork();
  if (pid == 0) {
    if (Fcntl(a_, F_OFD_SETLK, Lk(F_WRLCK, 0, 10)) != 0) _exit(1);  // an OFD lock...
    if (Fcntl(a_, F_SETLK, Lk(F_WRLCK, 0, 0)) == 0) _exit(2);
    if (Fcntl(b_, F_SETLK, Lk(F_WRLCK, 20, 0)) != 0) _exit(3);  // ... and a process lock
    char c = 'x';
    if (write(ready[1], &c, 1) != 1) _exit(4);
    usleep(100 * 1000);
    _exit(0);
  }
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(Receive(ready[0]));
  // The process lock goes at the child's exit. The OFD lock stays: the parent shares the
  // description, as fork made it.
  EXPECT_SYSCALL_OK(Fcntl(b_, F_SETLKW, Lk(F_WRLCK, 20, 0)));
  EXPECT_EQ(Reap(pid), 0);
  EXPECT_LOCK(Probe(b_, F_WRLCK, 0, 10), F_WRLCK, 0, 10, -1);
  Close(ready[0]);
  Close(ready[1]);
}

// Parent and child each hold a byte and wait for the other's: the second to ask would wait
// forever, so it gets EDEADLK instead; the first gets its lock once the second gives up.
TEST_F(FcntlLockTest, DeadlockIsDetected) {
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_WRLCK, 0, 1)));
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t pid = fork();
  if (pid == 0) {
    if (Fcntl(a_, F_SETLK, Lk(F_WRLCK, 1, 1)) != 0) _exit(10);
    char c = 'x';
    if (write(ready[1], &c, 1) != 1) _exit(11);
    if (Fcntl(a_, F_SETLKW, Lk(F_WRLCK, 0, 1)) == 0) _exit(0);
    _exit(errno == EDEADLK ? 1 : 12);  // its exit releases byte 1 for the parent
  }
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(Receive(ready[0]));
  bool parent_deadlocked = false;
  if (Fcntl(a_, F_SETLKW, Lk(F_WRLCK, 1, 1)) != 0) {
    EXPECT_EQ(errno, EDEADLK);
    parent_deadlocked = true;
    // A failed request leaves what the parent held: giving byte 0 up lets the child go on.
    EXPECT_LOCK(Probe(b_, F_WRLCK, 0, 1), F_WRLCK, 0, 1, getpid());
    ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_UNLCK, 0, 1)));
  }
  int child = Reap(pid);
  EXPECT_EQ(child, parent_deadlocked ? 0 : 1) << "exactly one side gets EDEADLK";
  Close(ready[0]);
  Close(ready[1]);
}

TEST_F(FcntlLockTest, SetlkwIsInterruptedByASignal) {
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_WRLCK, 0, 0)));
  EXPECT_EQ(
      conformance::InChildWithAlarm(0, [&] { return Fcntl(b_, F_SETLKW, Lk(F_RDLCK, 0, 1)); }), 0);
  EXPECT_EQ(
      conformance::InChildWithAlarm(0, [&] { return Fcntl(b_, F_OFD_SETLKW, Lk(F_RDLCK, 0, 1)); }),
      0);
}

TEST_F(FcntlLockTest, SetlkwRestartsUnderSaRestart) {
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_WRLCK, 0, 0)));
  pid_t pid = fork();
  if (pid == 0) {
    _exit(conformance::InChildWithAlarm(SA_RESTART,
                                        [&] { return Fcntl(b_, F_SETLKW, Lk(F_RDLCK, 0, 1)); }));
  }
  ASSERT_GT(pid, 0);
  usleep(300 * 1000);  // the alarm came and went: the wait went on
  ASSERT_SYSCALL_OK(Fcntl(a_, F_SETLK, Lk(F_UNLCK, 0, 0)));
  EXPECT_EQ(Reap(pid), 10);
}

}  // namespace
