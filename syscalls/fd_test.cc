// File descriptors: dup, dup2, dup3, fcntl (F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL,
// F_SETFL), ioctl's FIOCLEX/FIONCLEX/FIONBIO, close, close_range, lseek, and the file offset that
// read and write share between duplicated descriptors.
//
// Tests that write work on a file in a scratch directory under /tmp; the others use / and
// /etc/passwd. Descriptor numbers from 200 up are used where a test needs fixed numbers.
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "syscalls/fs_test_util.h"
#include "syscalls/test_util.h"

namespace {

constexpr int kBadFd = 99;

using namespace conformance;  // NOLINT: the shared helpers of fs_test_util.h


long Dup(long fd) { return syscall(SYS_dup, fd); }
long Dup2(long oldfd, long newfd) { return syscall(SYS_dup2, oldfd, newfd); }
long Dup3(long oldfd, long newfd, long flags) { return syscall(SYS_dup3, oldfd, newfd, flags); }
long Fcntl(long fd, long cmd, long arg = 0) { return syscall(SYS_fcntl, fd, cmd, arg); }
long Lseek(long fd, long offset, int whence) { return syscall(SYS_lseek, fd, offset, whence); }
long Read(long fd, void* buf, size_t n) { return syscall(SYS_read, fd, buf, n); }
long Write(long fd, const std::string& s) { return syscall(SYS_write, fd, s.data(), s.size()); }
long CloseRange(unsigned first, unsigned last, unsigned flags) {
  return syscall(SYS_close_range, first, last, flags);
}

bool IsOpen(long fd) { return Fcntl(fd, F_GETFD) != -1; }

long NofileLimit() {
  rlimit rl {};
  EXPECT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  return static_cast<long>(rl.rlim_cur);
}

// A scratch file holding `content`, opened O_RDWR; closed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const std::string& content = "") {
    if (!dir_.ok()) return;
    if (!WriteFile(dir_ / "f", content)) return;
    fd_ = Open(dir_ / "f", O_RDWR);
  }
  ~TempFile() {
    if (fd_ >= 0) Close(fd_);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  long fd() const { return fd_; }
  std::string path() const { return dir_ / "f"; }

 private:
  ScratchDir dir_;
  long fd_ = -1;
};

#define ASSERT_TEMPFILE(file) ASSERT_GE((file).fd(), 0) << "scratch file under /tmp"

// Closes a descriptor at the end of the scope.
class FdCloser {
 public:
  explicit FdCloser(long fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) Close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  long fd_;
};

// --- dup, dup2, dup3 ---

TEST(DupTest, ReturnsTheLowestFreeDescriptor) {
  long fd;
  ASSERT_SYSCALL_OK(fd = Open("/", O_RDONLY));
  long a;
  ASSERT_SYSCALL_OK(a = Dup(fd));
  long b;
  ASSERT_SYSCALL_OK(b = Dup(fd));
  EXPECT_GT(a, fd);
  EXPECT_GT(b, a);
  ASSERT_SYSCALL_OK(Close(a));
  EXPECT_EQ(Dup(fd), a);
  Close(a);
  Close(b);
  Close(fd);
}

TEST(DupTest, TheCopyRefersToTheSameFileAndDropsCloexec) {
  long fd;
  ASSERT_SYSCALL_OK(fd = Open("/etc/passwd", O_RDONLY | O_CLOEXEC));
  FdCloser close_fd(fd);
  long copy;
  ASSERT_SYSCALL_OK(copy = Dup(fd));
  FdCloser close_copy(copy);
  EXPECT_EQ(Fcntl(fd, F_GETFD), FD_CLOEXEC);
  EXPECT_EQ(Fcntl(copy, F_GETFD), 0);
  EXPECT_EQ(Fstat(fd).st_ino, Fstat(copy).st_ino);
  // Closing the original leaves the copy usable.
  char c;
  ASSERT_SYSCALL_OK(Close(fd));
  EXPECT_EQ(Read(copy, &c, 1), 1);
}

TEST(DupTest, ABadDescriptorIsEBADF) {
  EXPECT_SYSCALL_ERRNO(EBADF, Dup(kBadFd));
  EXPECT_SYSCALL_ERRNO(EBADF, Dup(-1));
  EXPECT_SYSCALL_ERRNO(EBADF, Dup(INT_MAX));
}

TEST(Dup2Test, TheSameDescriptorIsReturnedAsIs) {
  long fd;
  ASSERT_SYSCALL_OK(fd = Open("/", O_RDONLY | O_CLOEXEC));
  EXPECT_EQ(Dup2(fd, fd), fd);
  // Nothing changes, not even FD_CLOEXEC.
  EXPECT_EQ(Fcntl(fd, F_GETFD), FD_CLOEXEC);
  Close(fd);
  // But the descriptor must be open.
  EXPECT_SYSCALL_ERRNO(EBADF, Dup2(kBadFd, kBadFd));
}

TEST(Dup2Test, AnOpenTargetIsReplaced) {
  long passwd;
  ASSERT_SYSCALL_OK(passwd = Open("/etc/passwd", O_RDONLY));
  long root;
  ASSERT_SYSCALL_OK(root = Open("/", O_RDONLY | O_CLOEXEC));
  EXPECT_EQ(Dup2(passwd, root), root);
  // root now refers to /etc/passwd, without FD_CLOEXEC.
  EXPECT_TRUE(S_ISREG(Fstat(root).st_mode));
  EXPECT_EQ(Fcntl(root, F_GETFD), 0);
  Close(root);
  Close(passwd);
}

TEST(Dup2Test, AnyFreeTargetBelowTheLimitWorks) {
  long fd;
  ASSERT_SYSCALL_OK(fd = Open("/", O_RDONLY));
  const long high = NofileLimit() - 1;
  EXPECT_EQ(Dup2(fd, high), high);
  EXPECT_TRUE(IsOpen(high));
  Close(high);
  EXPECT_EQ(Dup2(fd, 1000), 1000);
  Close(1000);
  Close(fd);
}

TEST(Dup2Test, BadDescriptorsAreEBADF) {
  long fd;
  ASSERT_SYSCALL_OK(fd = Open("/", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(EBADF, Dup2(kBadFd, fd));
  EXPECT_TRUE(IsOpen(fd)) << "a failed dup2 must not close newfd";
  EXPECT_SYSCALL_ERRNO(EBADF, Dup2(fd, -1));
  EXPECT_SYSCALL_ERRNO(EBADF, Dup2(fd, NofileLimit()));
  EXPECT_SYSCALL_ERRNO(EBADF, Dup2(fd, INT_MAX));
  Close(fd);
}

TEST(Dup3Test, TheSameDescriptorIsEINVAL) {
  long fd;
  ASSERT_SYSCALL_OK(fd = Open("/", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(EINVAL, Dup3(fd, fd, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, Dup3(fd, fd, O_CLOEXEC));
  Close(fd);
}

TEST(Dup3Test, CloexecIsTheOnlyFlag) {
  long fd;
  ASSERT_SYSCALL_OK(fd = Open("/", O_RDONLY));
  EXPECT_EQ(Dup3(fd, 200, O_CLOEXEC), 200);
  EXPECT_EQ(Fcntl(200, F_GETFD), FD_CLOEXEC);
  EXPECT_EQ(Dup3(fd, 201, 0), 201);
  EXPECT_EQ(Fcntl(201, F_GETFD), 0);
  EXPECT_SYSCALL_ERRNO(EINVAL, Dup3(fd, 202, O_NONBLOCK));
  EXPECT_SYSCALL_ERRNO(EINVAL, Dup3(fd, 202, 0x1));
  EXPECT_SYSCALL_ERRNO(EINVAL, Dup3(fd, 202, -1));
  EXPECT_FALSE(IsOpen(202));
  Close(200);
  Close(201);
  Close(fd);
}

TEST(Dup3Test, BadDescriptorsAreEBADF) {
  long fd;
  ASSERT_SYSCALL_OK(fd = Open("/", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(EBADF, Dup3(kBadFd, 200, 0));
  EXPECT_SYSCALL_ERRNO(EBADF, Dup3(fd, -1, 0));
  EXPECT_SYSCALL_ERRNO(EBADF, Dup3(fd, NofileLimit(), 0));
  Close(fd);
}

// --- fcntl ---

TEST(FcntlDupfdTest, ReturnsTheLowestFreeDescriptorAtOrAboveTheArgument) {
  long fd;
  ASSERT_SYSCALL_OK(fd = Open("/", O_RDONLY | O_CLOEXEC));
  EXPECT_EQ(Fcntl(fd, F_DUPFD, 300), 300);
  EXPECT_EQ(Fcntl(fd, F_DUPFD, 300), 301);
  EXPECT_EQ(Fcntl(300, F_GETFD), 0);
  ASSERT_SYSCALL_OK(Close(300));
  EXPECT_EQ(Fcntl(fd, F_DUPFD, 299), 299);
  EXPECT_EQ(Fcntl(fd, F_DUPFD, 299), 300);
  // F_DUPFD_CLOEXEC sets FD_CLOEXEC on the copy.
  EXPECT_EQ(Fcntl(fd, F_DUPFD_CLOEXEC, 299), 302);
  EXPECT_EQ(Fcntl(302, F_GETFD), FD_CLOEXEC);
  // An argument of 0 gives the lowest free descriptor, like dup.
  const long low = Fcntl(fd, F_DUPFD, 0);
  EXPECT_LT(low, 299);
  Close(low);
  for (long i = 299; i <= 302; i++) Close(i);
  Close(fd);
}

TEST(FcntlDupfdTest, AnArgumentOutOfRangeIsEINVAL) {
  long fd;
  ASSERT_SYSCALL_OK(fd = Open("/", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(fd, F_DUPFD, -1));
  EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(fd, F_DUPFD, NofileLimit()));
  EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(fd, F_DUPFD_CLOEXEC, NofileLimit()));
  EXPECT_SYSCALL_ERRNO(EBADF, Fcntl(kBadFd, F_DUPFD, 0));
  Close(fd);
}

TEST(FcntlFdFlagsTest, SetfdAndGetfdRoundTrip) {
  long fd;
  ASSERT_SYSCALL_OK(fd = Open("/", O_RDONLY));
  EXPECT_EQ(Fcntl(fd, F_GETFD), 0);
  EXPECT_EQ(Fcntl(fd, F_SETFD, FD_CLOEXEC), 0);
  EXPECT_EQ(Fcntl(fd, F_GETFD), FD_CLOEXEC);
  EXPECT_EQ(Fcntl(fd, F_SETFD, 0), 0);
  EXPECT_EQ(Fcntl(fd, F_GETFD), 0);
  // Bits other than FD_CLOEXEC are ignored.
  EXPECT_EQ(Fcntl(fd, F_SETFD, 0xfe), 0);
  EXPECT_EQ(Fcntl(fd, F_GETFD), 0);
  EXPECT_EQ(Fcntl(fd, F_SETFD, 0xff), 0);
  EXPECT_EQ(Fcntl(fd, F_GETFD), FD_CLOEXEC);
  Close(fd);
  EXPECT_SYSCALL_ERRNO(EBADF, Fcntl(kBadFd, F_GETFD));
  EXPECT_SYSCALL_ERRNO(EBADF, Fcntl(kBadFd, F_SETFD, FD_CLOEXEC));
}

TEST(FcntlFdFlagsTest, EachDescriptorHasItsOwnFlags) {
  long fd;
  ASSERT_SYSCALL_OK(fd = Open("/", O_RDONLY));
  long copy;
  ASSERT_SYSCALL_OK(copy = Dup(fd));
  ASSERT_SYSCALL_OK(Fcntl(fd, F_SETFD, FD_CLOEXEC));
  EXPECT_EQ(Fcntl(copy, F_GETFD), 0);
  Close(copy);
  Close(fd);
}

TEST(FcntlStatusFlagsTest, GetflReportsTheAccessMode) {
  long ro;
  ASSERT_SYSCALL_OK(ro = Open("/etc/passwd", O_RDONLY));
  EXPECT_EQ(Fcntl(ro, F_GETFL) & O_ACCMODE, O_RDONLY);
  Close(ro);
  TempFile file("x");
  ASSERT_TEMPFILE(file);
  EXPECT_EQ(Fcntl(file.fd(), F_GETFL) & O_ACCMODE, O_RDWR);
  long wo;
  ASSERT_SYSCALL_OK(wo = Open(file.path(), O_WRONLY | O_APPEND));
  const long fl = Fcntl(wo, F_GETFL);
  EXPECT_EQ(fl & O_ACCMODE, O_WRONLY);
  EXPECT_TRUE(fl & O_APPEND);
  EXPECT_FALSE(fl & O_NONBLOCK);
  Close(wo);
}

TEST(FcntlStatusFlagsTest, SetflTogglesAppendAndNonblock) {
  TempFile file("hello");
  ASSERT_TEMPFILE(file);
  const long fd = file.fd();
  ASSERT_SYSCALL_OK(Fcntl(fd, F_SETFL, O_APPEND | O_NONBLOCK));
  long fl = Fcntl(fd, F_GETFL);
  EXPECT_TRUE(fl & O_APPEND);
  EXPECT_TRUE(fl & O_NONBLOCK);
  // O_APPEND takes effect at once.
  ASSERT_EQ(Lseek(fd, 0, SEEK_SET), 0);
  EXPECT_EQ(Write(fd, "!"), 1);
  EXPECT_EQ(ReadFile(file.path()), "hello!");
  ASSERT_SYSCALL_OK(Fcntl(fd, F_SETFL, 0));
  fl = Fcntl(fd, F_GETFL);
  EXPECT_FALSE(fl & O_APPEND);
  EXPECT_FALSE(fl & O_NONBLOCK);
  ASSERT_EQ(Lseek(fd, 0, SEEK_SET), 0);
  EXPECT_EQ(Write(fd, "J"), 1);
  EXPECT_EQ(ReadFile(file.path()), "Jello!");
}

TEST(FcntlStatusFlagsTest, SetflLeavesTheAccessModeAlone) {
  long fd;
  ASSERT_SYSCALL_OK(fd = Open("/etc/passwd", O_RDONLY));
  ASSERT_SYSCALL_OK(Fcntl(fd, F_SETFL, O_RDWR));
  EXPECT_EQ(Fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
  EXPECT_SYSCALL_ERRNO(EBADF, Write(fd, "x"));
  ASSERT_SYSCALL_OK(Fcntl(fd, F_SETFL, O_WRONLY));
  EXPECT_EQ(Fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
  // Creation flags are ignored too.
  ASSERT_SYSCALL_OK(Fcntl(fd, F_SETFL, O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY));
  EXPECT_EQ(Fcntl(fd, F_GETFL) & (O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY), 0);
  Close(fd);
}

TEST(FcntlStatusFlagsTest, StatusFlagsAreSharedByDuplicates) {
  long fd;
  ASSERT_SYSCALL_OK(fd = Open("/etc/passwd", O_RDONLY));
  long copy;
  ASSERT_SYSCALL_OK(copy = Dup(fd));
  ASSERT_SYSCALL_OK(Fcntl(fd, F_SETFL, O_NONBLOCK));
  EXPECT_TRUE(Fcntl(copy, F_GETFL) & O_NONBLOCK);
  // A second open of the same file is a separate description.
  long other;
  ASSERT_SYSCALL_OK(other = Open("/etc/passwd", O_RDONLY));
  EXPECT_FALSE(Fcntl(other, F_GETFL) & O_NONBLOCK);
  Close(other);
  Close(copy);
  Close(fd);
}

TEST(FcntlTest, AnUnknownCommandIsEINVAL) {
  long fd;
  ASSERT_SYSCALL_OK(fd = Open("/", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(fd, 9999));
  EXPECT_SYSCALL_ERRNO(EINVAL, Fcntl(fd, -1));
  Close(fd);
  EXPECT_SYSCALL_ERRNO(EBADF, Fcntl(kBadFd, F_GETFL));
  EXPECT_SYSCALL_ERRNO(EBADF, Fcntl(kBadFd, F_SETFL, 0));
}

// --- ioctl FIOCLEX, FIONCLEX, FIONBIO ---

TEST(IoctlTest, CloexecAndNonblock) {
  long fd;
  ASSERT_SYSCALL_OK(fd = Open("/etc/passwd", O_RDONLY));
  ASSERT_SYSCALL_OK(syscall(SYS_ioctl, fd, FIOCLEX));
  EXPECT_EQ(Fcntl(fd, F_GETFD), FD_CLOEXEC);
  ASSERT_SYSCALL_OK(syscall(SYS_ioctl, fd, FIONCLEX));
  EXPECT_EQ(Fcntl(fd, F_GETFD), 0);
  int on = 1;
  ASSERT_SYSCALL_OK(syscall(SYS_ioctl, fd, FIONBIO, &on));
  EXPECT_TRUE(Fcntl(fd, F_GETFL) & O_NONBLOCK);
  int off = 0;
  ASSERT_SYSCALL_OK(syscall(SYS_ioctl, fd, FIONBIO, &off));
  EXPECT_FALSE(Fcntl(fd, F_GETFL) & O_NONBLOCK);
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_ioctl, fd, FIONBIO, nullptr));
  Close(fd);
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_ioctl, kBadFd, FIOCLEX));
}

// --- close, close_range ---

TEST(CloseTest, ABadDescriptorIsEBADF) {
  EXPECT_SYSCALL_ERRNO(EBADF, Close(kBadFd));
  EXPECT_SYSCALL_ERRNO(EBADF, Close(-1));
  EXPECT_SYSCALL_ERRNO(EBADF, Close(INT_MAX));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open("/", O_RDONLY));
  EXPECT_SYSCALL_OK(Close(fd));
  EXPECT_SYSCALL_ERRNO(EBADF, Close(fd));
}

// Opens `/` as each descriptor in [first, last].
void OpenRange(long first, long last) {
  long fd;
  ASSERT_SYSCALL_OK(fd = Open("/", O_RDONLY));
  for (long i = first; i <= last; i++) ASSERT_EQ(Dup2(fd, i), i);
  Close(fd);
}

void CloseAll(long first, long last) {
  for (long i = first; i <= last; i++) Close(i);
}

TEST(CloseRangeTest, ClosesTheRangeInclusive) {
  OpenRange(400, 405);
  ASSERT_SYSCALL_OK(CloseRange(401, 403, 0));
  EXPECT_TRUE(IsOpen(400));
  EXPECT_FALSE(IsOpen(401));
  EXPECT_FALSE(IsOpen(402));
  EXPECT_FALSE(IsOpen(403));
  EXPECT_TRUE(IsOpen(404));
  EXPECT_TRUE(IsOpen(405));
  // A range of one, and a range with nothing open in it.
  ASSERT_SYSCALL_OK(CloseRange(404, 404, 0));
  EXPECT_FALSE(IsOpen(404));
  EXPECT_SYSCALL_OK(CloseRange(450, 460, 0));
  CloseAll(400, 405);
}

TEST(CloseRangeTest, AnOpenEndedRangeClosesEverythingAbove) {
  OpenRange(500, 502);
  OpenRange(900, 900);
  ASSERT_SYSCALL_OK(CloseRange(501, ~0U, 0));
  EXPECT_TRUE(IsOpen(500));
  EXPECT_FALSE(IsOpen(501));
  EXPECT_FALSE(IsOpen(502));
  EXPECT_FALSE(IsOpen(900));
  CloseAll(500, 502);
}

TEST(CloseRangeTest, CloexecMarksInsteadOfClosing) {
  OpenRange(600, 603);
  ASSERT_SYSCALL_OK(CloseRange(601, 602, CLOSE_RANGE_CLOEXEC));
  EXPECT_EQ(Fcntl(600, F_GETFD), 0);
  EXPECT_EQ(Fcntl(601, F_GETFD), FD_CLOEXEC);
  EXPECT_EQ(Fcntl(602, F_GETFD), FD_CLOEXEC);
  EXPECT_EQ(Fcntl(603, F_GETFD), 0);
  CloseAll(600, 603);
}

TEST(CloseRangeTest, UnshareWithoutOtherThreadsJustCloses) {
  OpenRange(650, 651);
  ASSERT_SYSCALL_OK(CloseRange(650, 650, CLOSE_RANGE_UNSHARE));
  EXPECT_FALSE(IsOpen(650));
  EXPECT_TRUE(IsOpen(651));
  CloseAll(650, 651);
}

TEST(CloseRangeTest, BadArgumentsAreEINVAL) {
  OpenRange(700, 701);
  EXPECT_SYSCALL_ERRNO(EINVAL, CloseRange(701, 700, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, CloseRange(700, 701, 0x1));
  EXPECT_SYSCALL_ERRNO(EINVAL, CloseRange(700, 701, 1u << 10));
  EXPECT_TRUE(IsOpen(700));
  EXPECT_TRUE(IsOpen(701));
  CloseAll(700, 701);
}

// --- lseek ---

TEST(LseekTest, SetCurAndEnd) {
  TempFile file("0123456789");
  ASSERT_TEMPFILE(file);
  const long fd = file.fd();
  EXPECT_EQ(Lseek(fd, 0, SEEK_CUR), 0);
  EXPECT_EQ(Lseek(fd, 3, SEEK_SET), 3);
  char c;
  ASSERT_EQ(Read(fd, &c, 1), 1);
  EXPECT_EQ(c, '3');
  EXPECT_EQ(Lseek(fd, 0, SEEK_CUR), 4);
  EXPECT_EQ(Lseek(fd, 2, SEEK_CUR), 6);
  EXPECT_EQ(Lseek(fd, -1, SEEK_CUR), 5);
  EXPECT_EQ(Lseek(fd, 0, SEEK_END), 10);
  EXPECT_EQ(Lseek(fd, -2, SEEK_END), 8);
  ASSERT_EQ(Read(fd, &c, 1), 1);
  EXPECT_EQ(c, '8');
}

TEST(LseekTest, PastTheEndReadsNothingAndWritesLeaveAHole) {
  TempFile file("abc");
  ASSERT_TEMPFILE(file);
  const long fd = file.fd();
  EXPECT_EQ(Lseek(fd, 10, SEEK_END), 13);
  char buf[16];
  EXPECT_EQ(Read(fd, buf, sizeof(buf)), 0);
  EXPECT_EQ(Fstat(fd).st_size, 3);
  EXPECT_EQ(Write(fd, "z"), 1);
  EXPECT_EQ(Fstat(fd).st_size, 14);
  EXPECT_EQ(ReadFile(file.path()), std::string("abc") + std::string(10, '\0') + "z");
}

TEST(LseekTest, ANegativeResultIsEINVAL) {
  TempFile file("0123456789");
  ASSERT_TEMPFILE(file);
  const long fd = file.fd();
  ASSERT_EQ(Lseek(fd, 4, SEEK_SET), 4);
  EXPECT_SYSCALL_ERRNO(EINVAL, Lseek(fd, -1, SEEK_SET));
  EXPECT_SYSCALL_ERRNO(EINVAL, Lseek(fd, -5, SEEK_CUR));
  EXPECT_SYSCALL_ERRNO(EINVAL, Lseek(fd, -11, SEEK_END));
  // The offset is unchanged by the failures.
  EXPECT_EQ(Lseek(fd, 0, SEEK_CUR), 4);
  // So is an overflow past the largest offset.
  EXPECT_SYSCALL_ERRNO(EINVAL, Lseek(fd, LONG_MAX, SEEK_CUR));
  EXPECT_EQ(Lseek(fd, 0, SEEK_CUR), 4);
}

TEST(LseekTest, ABadWhenceIsEINVAL) {
  long fd;
  ASSERT_SYSCALL_OK(fd = Open("/etc/passwd", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(EINVAL, Lseek(fd, 0, 5));
  EXPECT_SYSCALL_ERRNO(EINVAL, Lseek(fd, 0, 100));
  EXPECT_SYSCALL_ERRNO(EINVAL, Lseek(fd, 0, -1));
  Close(fd);
}

TEST(LseekTest, ABadDescriptorIsEBADF) {
  EXPECT_SYSCALL_ERRNO(EBADF, Lseek(kBadFd, 0, SEEK_SET));
  EXPECT_SYSCALL_ERRNO(EBADF, Lseek(-1, 0, SEEK_SET));
}

TEST(LseekTest, AHostFile) {
  long fd;
  ASSERT_SYSCALL_OK(fd = Open("/etc/passwd", O_RDONLY));
  const long size = Fstat(fd).st_size;
  EXPECT_EQ(Lseek(fd, 0, SEEK_END), size);
  EXPECT_EQ(Lseek(fd, 1, SEEK_SET), 1);
  char c;
  ASSERT_EQ(Read(fd, &c, 1), 1);
  EXPECT_EQ(Lseek(fd, 0, SEEK_CUR), 2);
  Close(fd);
}

TEST(LseekTest, ADirectoryCanBeRewound) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir.path(), O_RDONLY | O_DIRECTORY));
  EXPECT_EQ(Lseek(fd, 0, SEEK_CUR), 0);
  char buf[256];
  ASSERT_GT(syscall(SYS_getdents64, fd, buf, sizeof(buf)), 0);
  EXPECT_EQ(Lseek(fd, 0, SEEK_SET), 0);
  EXPECT_GT(syscall(SYS_getdents64, fd, buf, sizeof(buf)), 0);
  EXPECT_SYSCALL_ERRNO(EINVAL, Lseek(fd, -1, SEEK_SET));
  Close(fd);
}

TEST(LseekTest, DataAndHole) {
  TempFile file("0123456789");
  ASSERT_TEMPFILE(file);
  const long fd = file.fd();
  EXPECT_EQ(Lseek(fd, 0, SEEK_DATA), 0);
  EXPECT_EQ(Lseek(fd, 3, SEEK_DATA), 3);
  // The end of the file counts as a hole.
  EXPECT_EQ(Lseek(fd, 0, SEEK_HOLE), 10);
  EXPECT_SYSCALL_ERRNO(ENXIO, Lseek(fd, 10, SEEK_DATA));
  EXPECT_SYSCALL_ERRNO(ENXIO, Lseek(fd, 10, SEEK_HOLE));
  EXPECT_SYSCALL_ERRNO(ENXIO, Lseek(fd, 20, SEEK_DATA));
}

// --- read and write offsets ---

TEST(OffsetTest, DuplicatesShareTheOffset) {
  TempFile file;
  ASSERT_TEMPFILE(file);
  const long fd = file.fd();
  long copy;
  ASSERT_SYSCALL_OK(copy = Dup(fd));
  FdCloser close_copy(copy);
  EXPECT_EQ(Write(fd, "abc"), 3);
  EXPECT_EQ(Lseek(copy, 0, SEEK_CUR), 3);
  EXPECT_EQ(Write(copy, "def"), 3);
  EXPECT_EQ(Lseek(fd, 0, SEEK_CUR), 6);
  EXPECT_EQ(ReadFile(file.path()), "abcdef");
  ASSERT_EQ(Lseek(copy, 1, SEEK_SET), 1);
  char c;
  ASSERT_EQ(Read(fd, &c, 1), 1);
  EXPECT_EQ(c, 'b');
  ASSERT_EQ(Read(copy, &c, 1), 1);
  EXPECT_EQ(c, 'c');
  // The same through dup2, dup3 and F_DUPFD.
  const long d2 = Dup2(fd, 210);
  const long d3 = Dup3(fd, 211, O_CLOEXEC);
  const long df = Fcntl(fd, F_DUPFD, 212);
  ASSERT_EQ(d2, 210);
  ASSERT_EQ(d3, 211);
  ASSERT_EQ(df, 212);
  ASSERT_EQ(Lseek(d2, 4, SEEK_SET), 4);
  EXPECT_EQ(Lseek(d3, 0, SEEK_CUR), 4);
  EXPECT_EQ(Lseek(df, 0, SEEK_CUR), 4);
  CloseAll(210, 212);
}

TEST(OffsetTest, SeparateOpensHaveSeparateOffsets) {
  TempFile file("xxxxxx");
  ASSERT_TEMPFILE(file);
  long other;
  ASSERT_SYSCALL_OK(other = Open(file.path(), O_RDWR));
  FdCloser close_other(other);
  EXPECT_EQ(Write(file.fd(), "abc"), 3);
  EXPECT_EQ(Lseek(other, 0, SEEK_CUR), 0);
  EXPECT_EQ(Write(other, "Z"), 1);
  EXPECT_EQ(ReadFile(file.path()), "Zbcxxx");
}

TEST(OffsetTest, PreadAndPwriteLeaveTheOffsetAlone) {
  TempFile file("0123456789");
  ASSERT_TEMPFILE(file);
  const long fd = file.fd();
  ASSERT_EQ(Lseek(fd, 2, SEEK_SET), 2);
  char buf[4];
  ASSERT_EQ(syscall(SYS_pread64, fd, buf, 3, 5), 3);
  EXPECT_EQ(std::string(buf, 3), "567");
  ASSERT_EQ(syscall(SYS_pwrite64, fd, "AB", 2, 8), 2);
  EXPECT_EQ(Lseek(fd, 0, SEEK_CUR), 2);
  EXPECT_EQ(ReadFile(file.path()), "01234567AB");
  // At or past the end, pread reads nothing.
  EXPECT_EQ(syscall(SYS_pread64, fd, buf, 3, 10), 0);
  EXPECT_EQ(syscall(SYS_pread64, fd, buf, 3, 1000), 0);
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_pread64, fd, buf, 3, -1L));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_pwrite64, fd, "x", 1, -1L));
}

TEST(OffsetTest, ReadStopsAtTheEnd) {
  TempFile file("hello");
  ASSERT_TEMPFILE(file);
  char buf[16];
  EXPECT_EQ(Read(file.fd(), buf, 0), 0);
  EXPECT_EQ(Read(file.fd(), buf, sizeof(buf)), 5);
  EXPECT_EQ(Read(file.fd(), buf, sizeof(buf)), 0);
}

TEST(OffsetTest, ReadvAndWritevScatterAndGather) {
  TempFile file;
  ASSERT_TEMPFILE(file);
  const long fd = file.fd();
  char a[] = "ab", b[] = "cde", c[] = "f";
  const iovec out[] = {{a, 2}, {b, 3}, {nullptr, 0}, {c, 1}};
  ASSERT_EQ(syscall(SYS_writev, fd, out, 4), 6);
  EXPECT_EQ(Lseek(fd, 0, SEEK_CUR), 6);
  ASSERT_EQ(Lseek(fd, 0, SEEK_SET), 0);
  char x[4] = {}, y[8] = {};
  const iovec in[] = {{x, 4}, {y, 8}};
  ASSERT_EQ(syscall(SYS_readv, fd, in, 2), 6);
  EXPECT_EQ(std::string(x, 4), "abcd");
  EXPECT_EQ(std::string(y, 2), "ef");
}

TEST(ReadTest, ADirectoryIsEISDIR) {
  long fd;
  ASSERT_SYSCALL_OK(fd = Open("/", O_RDONLY | O_DIRECTORY));
  char buf[16];
  EXPECT_SYSCALL_ERRNO(EISDIR, Read(fd, buf, sizeof(buf)));
  EXPECT_SYSCALL_ERRNO(EISDIR, syscall(SYS_pread64, fd, buf, sizeof(buf), 0));
  Close(fd);
}

TEST(ReadTest, BadDescriptorsAndBuffers) {
  char buf[16];
  EXPECT_SYSCALL_ERRNO(EBADF, Read(kBadFd, buf, sizeof(buf)));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open("/etc/passwd", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(EFAULT, Read(fd, nullptr, sizeof(buf)));
  EXPECT_SYSCALL_ERRNO(EBADF, Write(fd, "x"));
  Close(fd);
}

}  // namespace
