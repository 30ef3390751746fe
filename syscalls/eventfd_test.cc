// eventfd and eventfd2: the counter, EFD_SEMAPHORE, EFD_NONBLOCK, EFD_CLOEXEC, the 8-byte rules
// for reads and writes, the largest count and what a write past it does, blocking reads and
// writes woken from another thread, and what fstat, lseek and pread say.
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <thread>

#include <gtest/gtest.h>

#include "syscalls/test_util.h"

namespace {

constexpr uint64_t kMax = 0xfffffffffffffffeULL;

using conformance::Fd;

uint64_t ReadCount(int fd) {
  uint64_t v = 0;
  EXPECT_EQ(read(fd, &v, sizeof(v)), 8);
  return v;
}

TEST(Eventfd, InitialValueAndReadResets) {
  Fd fd(eventfd(5, EFD_NONBLOCK));
  ASSERT_GE(fd.get(), 0);
  EXPECT_EQ(ReadCount(fd.get()), 5u);
  uint64_t v;
  EXPECT_SYSCALL_ERRNO(EAGAIN, read(fd.get(), &v, 8));
}

TEST(Eventfd, WritesAdd) {
  Fd fd(eventfd(0, EFD_NONBLOCK));
  uint64_t v = 3;
  ASSERT_EQ(write(fd.get(), &v, 8), 8);
  v = 4;
  ASSERT_EQ(write(fd.get(), &v, 8), 8);
  EXPECT_EQ(ReadCount(fd.get()), 7u);
}

TEST(Eventfd, Semaphore) {
  Fd fd(eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK));
  EXPECT_EQ(ReadCount(fd.get()), 1u);
  EXPECT_EQ(ReadCount(fd.get()), 1u);
  uint64_t v;
  EXPECT_SYSCALL_ERRNO(EAGAIN, read(fd.get(), &v, 8));
}

TEST(Eventfd, SizeRules) {
  Fd fd(eventfd(1, EFD_NONBLOCK));
  char buf[16] = {};
  EXPECT_SYSCALL_ERRNO(EINVAL, read(fd.get(), buf, 7));
  EXPECT_SYSCALL_ERRNO(EINVAL, write(fd.get(), buf, 7));
  EXPECT_SYSCALL_ERRNO(EINVAL, read(fd.get(), buf, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, write(fd.get(), buf, 0));
  // A larger read moves 8 bytes; a write must be exactly 8 (since Linux 6.7).
  EXPECT_EQ(read(fd.get(), buf, 16), 8);
  uint64_t two = 2;
  memcpy(buf, &two, 8);
  EXPECT_SYSCALL_ERRNO(EINVAL, write(fd.get(), buf, 16));
  EXPECT_EQ(write(fd.get(), buf, 8), 8);
  EXPECT_EQ(ReadCount(fd.get()), 2u);
}

TEST(Eventfd, LargestCount) {
  Fd fd(eventfd(0, EFD_NONBLOCK));
  uint64_t v = UINT64_MAX;
  EXPECT_SYSCALL_ERRNO(EINVAL, write(fd.get(), &v, 8));
  v = kMax;
  ASSERT_EQ(write(fd.get(), &v, 8), 8);
  v = 1;
  EXPECT_SYSCALL_ERRNO(EAGAIN, write(fd.get(), &v, 8));
  v = 0;  // adding nothing always fits
  EXPECT_EQ(write(fd.get(), &v, 8), 8);
  pollfd p{fd.get(), POLLIN | POLLOUT, 0};
  ASSERT_EQ(poll(&p, 1, 0), 1);
  EXPECT_EQ(p.revents, POLLIN);  // full: not writable
  EXPECT_EQ(ReadCount(fd.get()), kMax);
  ASSERT_EQ(poll(&p, 1, 0), 1);
  EXPECT_EQ(p.revents, POLLOUT);
}

TEST(Eventfd, Flags) {
  EXPECT_SYSCALL_ERRNO(EINVAL, eventfd(0, 1 << 20));
  EXPECT_SYSCALL_ERRNO(EINVAL, eventfd(0, O_RDONLY | O_APPEND));
  Fd a(eventfd(0, EFD_CLOEXEC));
  EXPECT_EQ(fcntl(a.get(), F_GETFD), FD_CLOEXEC);
  EXPECT_EQ(fcntl(a.get(), F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_RDWR);
  Fd b(eventfd(0, EFD_NONBLOCK));
  EXPECT_EQ(fcntl(b.get(), F_GETFD), 0);
  EXPECT_EQ(fcntl(b.get(), F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_RDWR | O_NONBLOCK);
  // eventfd(2) takes no flags.
  Fd c(static_cast<int>(syscall(SYS_eventfd, 3)));
  ASSERT_GE(c.get(), 0);
  EXPECT_EQ(fcntl(c.get(), F_GETFD), 0);
  EXPECT_EQ(ReadCount(c.get()), 3u);
}

TEST(Eventfd, NotPositional) {
  Fd fd(eventfd(1, 0));
  uint64_t v;
  EXPECT_SYSCALL_ERRNO(ESPIPE, pread(fd.get(), &v, 8, 0));
  EXPECT_SYSCALL_ERRNO(ESPIPE, pwrite(fd.get(), &v, 8, 0));
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_CUR), 0);
  struct stat st;
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  EXPECT_EQ(st.st_mode, static_cast<mode_t>(0600));
}

TEST(Eventfd, BlockingReadWokenByWrite) {
  Fd fd(eventfd(0, 0));
  std::thread writer([&] {
    usleep(20000);
    uint64_t v = 6;
    ASSERT_EQ(write(fd.get(), &v, 8), 8);
  });
  EXPECT_EQ(ReadCount(fd.get()), 6u);
  writer.join();
}

TEST(Eventfd, BlockingWriteWokenByRead) {
  Fd fd(eventfd(0, 0));
  uint64_t v = kMax;
  ASSERT_EQ(write(fd.get(), &v, 8), 8);
  std::thread reader([&] {
    usleep(20000);
    EXPECT_EQ(ReadCount(fd.get()), kMax);
  });
  v = 1;
  EXPECT_EQ(write(fd.get(), &v, 8), 8);
  reader.join();
  uint64_t got = 0;
  ASSERT_EQ(read(fd.get(), &got, 8), 8);
  EXPECT_EQ(got, 1u);
}

TEST(Eventfd, BadBuffer) {
  Fd fd(eventfd(1, EFD_NONBLOCK));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_read, fd.get(), 8, 8));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_write, fd.get(), 8, 8));
}

}  // namespace
