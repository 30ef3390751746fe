// write, writev, pwrite64 on standard output, the one file a program in the first milestone has.
// Lines this test writes start with "[write_test]".
//
// Some answers depend on what stdout is: /dev/null (and its kin) accept any buffer without
// reading it, and only pipes, sockets and terminals refuse pwrite64 with ESPIPE. The tests find
// out with fstat (and TCGETS) and skip what does not apply; under ctest, stdout is a pipe.
#include <fcntl.h>
#include <limits.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "syscalls/test_util.h"

namespace {

using conformance::PageSize;

constexpr int kBadFd = 99;

struct stat StatStdout() {
  struct stat st {};
  // The raw fstat, which is in the first milestone's set (glibc's fstat uses newfstatat).
  EXPECT_SYSCALL_OK(syscall(SYS_fstat, 1, &st));
  return st;
}

// /dev/null, /dev/zero and the other memory devices (major 1) never read the buffer.
bool StdoutIgnoresBuffer() {
  const struct stat st = StatStdout();
  return S_ISCHR(st.st_mode) && major(st.st_rdev) == 1;
}

// Pipes, sockets and terminals have no file position.
bool StdoutIsUnseekable() {
  const struct stat st = StatStdout();
  // Room for the kernel's struct termios, which TCGETS fills on a terminal only.
  char termios_buf[64];
  const bool terminal = syscall(SYS_ioctl, 1, TCGETS, termios_buf) == 0;
  return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || terminal;
}

long Write(int fd, const void* buf, size_t len) { return syscall(SYS_write, fd, buf, len); }
long Writev(int fd, const iovec* iov, int iovcnt) { return syscall(SYS_writev, fd, iov, iovcnt); }

TEST(WriteTest, ReturnsTheByteCount) {
  const char msg[] = "[write_test] write returns the byte count\n";
  EXPECT_EQ(Write(1, msg, strlen(msg)), static_cast<long>(strlen(msg)));
  EXPECT_EQ(Write(2, msg, strlen(msg)), static_cast<long>(strlen(msg)));
}

TEST(WriteTest, ZeroLengthReturnsZero) {
  const char msg[] = "not written";
  EXPECT_EQ(Write(1, msg, 0), 0);
}

TEST(WriteTest, BadFdIsEBADF) {
  const char msg[] = "x";
  EXPECT_SYSCALL_ERRNO(EBADF, Write(kBadFd, msg, 1));
  EXPECT_SYSCALL_ERRNO(EBADF, Write(-1, msg, 1));
  EXPECT_SYSCALL_ERRNO(EBADF, Write(INT_MAX, msg, 1));
  // The descriptor is checked before the buffer.
  EXPECT_SYSCALL_ERRNO(EBADF, Write(kBadFd, nullptr, 1));
}

TEST(WriteTest, BadBufferIsEFAULT) {
  if (StdoutIgnoresBuffer()) GTEST_SKIP() << "stdout is a device that never reads the buffer";
  EXPECT_SYSCALL_ERRNO(EFAULT, Write(1, nullptr, 1));
  EXPECT_SYSCALL_ERRNO(EFAULT, Write(1, reinterpret_cast<void*>(1), 10));
  void* none = mmap(nullptr, PageSize(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(none, MAP_FAILED);
  EXPECT_SYSCALL_ERRNO(EFAULT, Write(1, none, 10));
  ASSERT_SYSCALL_OK(munmap(none, PageSize()));
}

TEST(WriteTest, ReadOnlyBufferIsFine) {
  // write only reads the buffer.
  char* p = static_cast<char*>(
      mmap(nullptr, PageSize(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  const char msg[] = "[write_test] from a read-only page\n";
  memcpy(p, msg, strlen(msg));
  ASSERT_SYSCALL_OK(mprotect(p, PageSize(), PROT_READ));
  EXPECT_EQ(Write(1, p, strlen(msg)), static_cast<long>(strlen(msg)));
  ASSERT_SYSCALL_OK(munmap(p, PageSize()));
}

TEST(WritevTest, ReturnsTheTotalOfAllVectors) {
  char a[] = "[write_test] writev ";
  char b[] = "gathers ";
  char c[] = "three buffers\n";
  const iovec iov[] = {{a, strlen(a)}, {nullptr, 0}, {b, strlen(b)}, {c, strlen(c)}};
  EXPECT_EQ(Writev(1, iov, 4), static_cast<long>(strlen(a) + strlen(b) + strlen(c)));
}

TEST(WritevTest, ZeroVectorsReturnZero) {
  EXPECT_EQ(Writev(1, nullptr, 0), 0);
  char a[] = "unused";
  const iovec iov[] = {{a, 0}};
  EXPECT_EQ(Writev(1, iov, 1), 0);
}

TEST(WritevTest, IovMaxVectorsAreAccepted) {
  // IOV_MAX (1024) vectors: all empty but the last.
  std::vector<iovec> iov(IOV_MAX, iovec{nullptr, 0});
  char nl[] = "[write_test] 1024 vectors\n";
  iov.back() = iovec{nl, strlen(nl)};
  EXPECT_EQ(Writev(1, iov.data(), IOV_MAX), static_cast<long>(strlen(nl)));
}

TEST(WritevTest, BadVectorCountIsEINVAL) {
  char a[] = "x";
  std::vector<iovec> iov(IOV_MAX + 1, iovec{a, 0});
  EXPECT_SYSCALL_ERRNO(EINVAL, Writev(1, iov.data(), -1));
  EXPECT_SYSCALL_ERRNO(EINVAL, Writev(1, iov.data(), IOV_MAX + 1));
  EXPECT_SYSCALL_ERRNO(EINVAL, Writev(1, iov.data(), INT_MIN));
}

TEST(WritevTest, NegativeLengthIsEINVAL) {
  char a[] = "x";
  const iovec iov[] = {{a, static_cast<size_t>(-1)}};
  EXPECT_SYSCALL_ERRNO(EINVAL, Writev(1, iov, 1));
  const iovec later[] = {{a, 1}, {a, static_cast<size_t>(SSIZE_MAX) + 1}};
  EXPECT_SYSCALL_ERRNO(EINVAL, Writev(1, later, 2));
}

TEST(WritevTest, BadFdIsEBADF) {
  char a[] = "x";
  const iovec iov[] = {{a, 1}};
  EXPECT_SYSCALL_ERRNO(EBADF, Writev(kBadFd, iov, 1));
  // The descriptor is checked before the vectors.
  EXPECT_SYSCALL_ERRNO(EBADF, Writev(kBadFd, iov, -1));
  EXPECT_SYSCALL_ERRNO(EBADF, Writev(kBadFd, nullptr, 1));
}

TEST(WritevTest, BadVectorArrayIsEFAULT) {
  EXPECT_SYSCALL_ERRNO(EFAULT, Writev(1, nullptr, 1));
  EXPECT_SYSCALL_ERRNO(EFAULT, Writev(1, reinterpret_cast<const iovec*>(1), 2));
}

TEST(WritevTest, BadBufferIsEFAULT) {
  if (StdoutIgnoresBuffer()) GTEST_SKIP() << "stdout is a device that never reads the buffer";
  const iovec iov[] = {{reinterpret_cast<void*>(1), 10}};
  EXPECT_SYSCALL_ERRNO(EFAULT, Writev(1, iov, 1));
}

TEST(PwriteTest, BadFdIsEBADF) {
  const char msg[] = "x";
  char buf[1];
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_pwrite64, kBadFd, msg, 1, 0));
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_pread64, kBadFd, buf, 1, 0));
}

TEST(PwriteTest, PipeSocketOrTerminalIsESPIPE) {
  if (!StdoutIsUnseekable()) GTEST_SKIP() << "stdout is not a pipe, socket or terminal";
  const char msg[] = "x";
  EXPECT_SYSCALL_ERRNO(ESPIPE, syscall(SYS_pwrite64, 1, msg, 1, 0));
}

TEST(FstatTest, StdoutHasAFileType) {
  const struct stat st = StatStdout();
  EXPECT_TRUE(S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISREG(st.st_mode) ||
              S_ISSOCK(st.st_mode))
      << std::oct << st.st_mode;
  struct stat dummy;
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_fstat, kBadFd, &dummy));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_fstat, 1, nullptr));
}

}  // namespace
