// Pipes and FIFOs within one process: pipe, pipe2 and its flags, reads and writes (blocking only
// where they cannot block), end of file, EPIPE, nonblocking rules and PIPE_BUF, packet mode
// (O_DIRECT), F_GETPIPE_SZ/F_SETPIPE_SZ, FIONREAD, fstat, ESPIPE, and named FIFOs made with
// mkfifo in a scratch directory under /tmp.
//
// Nothing here blocks: the process is alone, so a read of an empty pipe or a FIFO open without
// a partner would hang. SIGPIPE is ignored where a write meets no reader.
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "syscalls/test_util.h"

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kDefaultSize = 16 * kPage;
// The kernel's O_LARGEFILE: glibc defines O_LARGEFILE as 0 on 64-bit, but F_GETFL shows the bit.
constexpr int kKernelOLargefile = 0100000;

using conformance::Pipe;

// Writes n bytes of `fill` with one write(2): its result.
ssize_t WriteN(int fd, size_t n, char fill = 'x') {
  std::string data(n, fill);
  return write(fd, data.data(), data.size());
}

// Reads up to n bytes with one read(2); nullopt if it failed.
std::optional<std::string> ReadN(int fd, size_t n) {
  std::string buf(n, '\0');
  ssize_t got = read(fd, buf.data(), buf.size());
  if (got < 0) return std::nullopt;
  buf.resize(static_cast<size_t>(got));
  return buf;
}

// Nonblocking writes of `chunk` bytes until EAGAIN: how much went in.
size_t FillWith(int fd, size_t chunk) {
  size_t total = 0;
  for (;;) {
    ssize_t n = WriteN(fd, chunk);
    if (n < 0) break;
    total += static_cast<size_t>(n);
  }
  return total;
}

// The number the next new fd gets.
int LowestFreeFd() {
  int fd = dup(0);
  if (fd >= 0) close(fd);
  return fd;
}

// Whether this process has CAP_SYS_RESOURCE (may exceed pipe-max-size), from capget(2);
// nullopt where capget is not there to ask.
std::optional<bool> HasCapSysResource() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return std::nullopt;
  return (data[CAP_SYS_RESOURCE / 32].effective >> (CAP_SYS_RESOURCE % 32)) & 1;
}

// SIGPIPE ignored for the lifetime of the object (natively a write with no reader would kill
// the process; in the sandbox no signal is delivered yet, so both see EPIPE).
class IgnoreSigpipe {
 public:
  IgnoreSigpipe() { old_ = signal(SIGPIPE, SIG_IGN); }
  ~IgnoreSigpipe() { signal(SIGPIPE, old_); }

 private:
  sighandler_t old_;
};

TEST(PipeTest, WriteThenRead) {
  int fds[2];
  ASSERT_SYSCALL_OK(pipe(fds));
  EXPECT_SYSCALL_OK(write(fds[1], "hello", 5));
  EXPECT_SYSCALL_OK(write(fds[1], " world", 6));
  EXPECT_EQ(ReadN(fds[0], 5), "hello");
  EXPECT_EQ(ReadN(fds[0], 100), " world");  // what is there, without waiting for more
  // Each end works in one direction only.
  char c;
  EXPECT_SYSCALL_ERRNO(EBADF, read(fds[1], &c, 1));
  EXPECT_SYSCALL_ERRNO(EBADF, write(fds[0], "x", 1));
  EXPECT_SYSCALL_OK(close(fds[0]));
  EXPECT_SYSCALL_OK(close(fds[1]));
}

TEST(PipeTest, ReadvAndWritev) {
  Pipe p;
  ASSERT_TRUE(p.ok());
  char a[] = "abc", b[] = "defgh";
  iovec src[] = {{a, 3}, {nullptr, 0}, {b, 5}};
  ASSERT_EQ(writev(p.w(), src, 3), 8);
  char x[2], y[10] = {};
  iovec dst[] = {{x, sizeof(x)}, {y, sizeof(y)}};
  ASSERT_EQ(readv(p.r(), dst, 2), 8);
  EXPECT_EQ(std::string(x, 2), "ab");
  EXPECT_EQ(std::string(y, 6), "cdefgh");
}

TEST(PipeTest, ZeroLengthReadAndWrite) {
  Pipe p(O_NONBLOCK);
  ASSERT_TRUE(p.ok());
  char c;
  EXPECT_EQ(read(p.r(), &c, 0), 0);  // not EAGAIN: a null read succeeds
  EXPECT_EQ(write(p.w(), &c, 0), 0);
}

TEST(PipeTest, Pipe2Flags) {
  {
    Pipe p(0);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(fcntl(p.r(), F_GETFL), O_RDONLY);  // pipe(2) gives no O_LARGEFILE
    EXPECT_EQ(fcntl(p.w(), F_GETFL), O_WRONLY);
    EXPECT_EQ(fcntl(p.r(), F_GETFD), 0);
    EXPECT_EQ(fcntl(p.w(), F_GETFD), 0);
  }
  {
    Pipe p(O_CLOEXEC | O_NONBLOCK);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(fcntl(p.r(), F_GETFL), O_RDONLY | O_NONBLOCK);
    EXPECT_EQ(fcntl(p.w(), F_GETFL), O_WRONLY | O_NONBLOCK);
    EXPECT_EQ(fcntl(p.r(), F_GETFD), FD_CLOEXEC);
    EXPECT_EQ(fcntl(p.w(), F_GETFD), FD_CLOEXEC);
  }
  {
    Pipe p(O_DIRECT);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(fcntl(p.r(), F_GETFL), O_RDONLY);  // packet mode belongs to the write end
    EXPECT_EQ(fcntl(p.w(), F_GETFL), O_WRONLY | O_DIRECT);
  }
  int fds[2];
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_pipe2, fds, O_APPEND));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_pipe2, fds, O_RDWR));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_pipe2, fds, 0x40000000));
}

TEST(PipeTest, BadPointerIsEfaultAndLeavesNoFds) {
  int before = LowestFreeFd();
  ASSERT_GE(before, 0);
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_pipe2, nullptr, 0));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_pipe2, reinterpret_cast<int*>(8), O_CLOEXEC));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_pipe, nullptr));
  EXPECT_EQ(LowestFreeFd(), before);
  // A bad flag is found before the pointer.
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_pipe2, nullptr, O_APPEND));
}

TEST(PipeTest, NonblockingReadOfEmptyPipeIsEagain) {
  Pipe p(O_NONBLOCK);
  ASSERT_TRUE(p.ok());
  char c;
  EXPECT_SYSCALL_ERRNO(EAGAIN, read(p.r(), &c, 1));
  // O_NONBLOCK through F_SETFL works the same.
  Pipe q;
  ASSERT_TRUE(q.ok());
  ASSERT_SYSCALL_OK(fcntl(q.r(), F_SETFL, O_NONBLOCK));
  EXPECT_SYSCALL_ERRNO(EAGAIN, read(q.r(), &c, 1));
}

TEST(PipeTest, NonblockingWritesToAFullPipe) {
  Pipe p(O_NONBLOCK);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(FillWith(p.w(), kPage), kDefaultSize);
  EXPECT_SYSCALL_ERRNO(EAGAIN, WriteN(p.w(), 1));
  // n > PIPE_BUF: whatever fits goes in (a partial write) once there is room.
  ASSERT_EQ(ReadN(p.r(), 2 * kPage)->size(), 2 * kPage);
  EXPECT_EQ(WriteN(p.w(), 3 * kPage), static_cast<ssize_t>(2 * kPage));
  EXPECT_SYSCALL_ERRNO(EAGAIN, WriteN(p.w(), 3 * kPage));
}

TEST(PipeTest, NonblockingWritesOfAtMostPipeBufAreAllOrNothing) {
  static_assert(PIPE_BUF == kPage);
  Pipe p(O_NONBLOCK);
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(WriteN(p.w(), kDefaultSize - 100), static_cast<ssize_t>(kDefaultSize - 100));
  EXPECT_SYSCALL_ERRNO(EAGAIN, WriteN(p.w(), 101));  // 100 bytes of room: never split
  EXPECT_EQ(WriteN(p.w(), 100), 100);
  EXPECT_SYSCALL_ERRNO(EAGAIN, WriteN(p.w(), 1));
}

// The buffer is 16 page-sized slots rather than 65536 bytes: a write tops up the last page only
// with what is left over after whole pages, and only if it all fits.
TEST(PipeTest, CapacityIsCountedInPages) {
  {
    Pipe p(O_NONBLOCK);
    ASSERT_TRUE(p.ok());
    ASSERT_EQ(WriteN(p.w(), 1), 1);
    EXPECT_EQ(WriteN(p.w(), kDefaultSize), static_cast<ssize_t>(kDefaultSize - kPage));
  }
  {
    Pipe p(O_NONBLOCK);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(FillWith(p.w(), 100), 64000u);  // 40 writes of 100 bytes in each of 16 pages
  }
}

TEST(PipeTest, BlockingWriteThatFitsDoesNotBlock) {
  Pipe p;
  ASSERT_TRUE(p.ok());
  std::string data(kDefaultSize, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  ASSERT_EQ(write(p.w(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  std::string got;
  while (got.size() < data.size()) {
    auto part = ReadN(p.r(), 10000);
    ASSERT_TRUE(part.has_value());
    got += *part;
  }
  EXPECT_TRUE(got == data);
}

TEST(PipeTest, EofAfterTheWriteEndCloses) {
  Pipe p;
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(write(p.w(), "abc", 3), 3);
  p.CloseWrite();
  EXPECT_EQ(ReadN(p.r(), 100), "abc");
  EXPECT_EQ(ReadN(p.r(), 100), "");
  EXPECT_EQ(ReadN(p.r(), 100), "");
}

TEST(PipeTest, DuplicatedWriteEndKeepsThePipeOpen) {
  Pipe p(O_NONBLOCK);
  ASSERT_TRUE(p.ok());
  int dup_w = dup(p.w());
  ASSERT_GE(dup_w, 0);
  p.CloseWrite();
  char c;
  EXPECT_SYSCALL_ERRNO(EAGAIN, read(p.r(), &c, 1));  // a writer remains: no EOF
  ASSERT_SYSCALL_OK(close(dup_w));
  EXPECT_EQ(read(p.r(), &c, 1), 0);
}

TEST(PipeTest, EpipeAfterTheReadEndCloses) {
  IgnoreSigpipe ignore;
  Pipe p;
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(write(p.w(), "abc", 3), 3);
  p.CloseRead();
  EXPECT_SYSCALL_ERRNO(EPIPE, write(p.w(), "x", 1));
  EXPECT_SYSCALL_ERRNO(EPIPE, WriteN(p.w(), 100000));
  EXPECT_EQ(write(p.w(), "x", 0), 0);  // nothing to write: no EPIPE
}

TEST(PipeTest, GetAndSetPipeSize) {
  Pipe p(O_NONBLOCK);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(fcntl(p.r(), F_GETPIPE_SZ), static_cast<int>(kDefaultSize));
  EXPECT_EQ(fcntl(p.w(), F_GETPIPE_SZ), static_cast<int>(kDefaultSize));
  // Rounded up to a power-of-two number of pages, at least one.
  EXPECT_EQ(fcntl(p.w(), F_SETPIPE_SZ, 0), 4096);
  EXPECT_EQ(fcntl(p.w(), F_SETPIPE_SZ, 1), 4096);
  EXPECT_EQ(fcntl(p.w(), F_SETPIPE_SZ, 4097), 8192);
  EXPECT_EQ(fcntl(p.w(), F_SETPIPE_SZ, 65537), 131072);
  EXPECT_EQ(fcntl(p.r(), F_GETPIPE_SZ), 131072);  // one pipe behind both ends
  EXPECT_EQ(fcntl(p.w(), F_SETPIPE_SZ, 1 << 20), 1 << 20);
  EXPECT_SYSCALL_ERRNO(EINVAL, fcntl(p.w(), F_SETPIPE_SZ, -1));  // 4 GiB - 1 as unsigned
  // Beyond /proc/sys/fs/pipe-max-size (1 MiB) needs CAP_SYS_RESOURCE.
  std::optional<bool> privileged = HasCapSysResource();
  if (privileged.has_value()) {
    if (*privileged) {
      EXPECT_EQ(fcntl(p.w(), F_SETPIPE_SZ, (1 << 20) + 1), 2 << 20);
    } else {
      EXPECT_SYSCALL_ERRNO(EPERM, fcntl(p.w(), F_SETPIPE_SZ, (1 << 20) + 1));
    }
  } else {
    // Whether we may cannot be asked: either answer, but a right one.
    errno = 0;
    int got = fcntl(p.w(), F_SETPIPE_SZ, (1 << 20) + 1);
    EXPECT_TRUE(got == (2 << 20) || (got == -1 && errno == EPERM)) << got << " " << errno;
  }
  // Smaller again is fine while the content fits in the new number of pages.
  ASSERT_EQ(fcntl(p.w(), F_SETPIPE_SZ, 8 * kPage), static_cast<int>(8 * kPage));
  EXPECT_EQ(FillWith(p.w(), kPage), 8 * kPage);
  EXPECT_SYSCALL_ERRNO(EBUSY, fcntl(p.w(), F_SETPIPE_SZ, 4 * kPage));
  ASSERT_EQ(ReadN(p.r(), 5 * kPage)->size(), 5 * kPage);
  EXPECT_EQ(fcntl(p.w(), F_SETPIPE_SZ, 3 * kPage), static_cast<int>(4 * kPage));
  EXPECT_EQ(FillWith(p.w(), kPage), kPage);  // three pages of data, room for one more
}

TEST(PipeTest, PipeSizeOfOtherFilesIsEbadf) {
  int fd = open("/", O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  EXPECT_SYSCALL_ERRNO(EBADF, fcntl(fd, F_GETPIPE_SZ));
  EXPECT_SYSCALL_ERRNO(EBADF, fcntl(fd, F_SETPIPE_SZ, 4096));
  close(fd);
}

TEST(PipeTest, Fionread) {
  Pipe p(O_NONBLOCK);
  ASSERT_TRUE(p.ok());
  int n = -1;
  ASSERT_SYSCALL_OK(ioctl(p.r(), FIONREAD, &n));
  EXPECT_EQ(n, 0);
  ASSERT_EQ(WriteN(p.w(), 10), 10);
  ASSERT_EQ(WriteN(p.w(), 5000), 5000);
  ASSERT_SYSCALL_OK(ioctl(p.r(), FIONREAD, &n));
  EXPECT_EQ(n, 5010);
  ASSERT_SYSCALL_OK(ioctl(p.w(), FIONREAD, &n));  // the write end answers too
  EXPECT_EQ(n, 5010);
  ASSERT_EQ(ReadN(p.r(), 3)->size(), 3u);
  ASSERT_SYSCALL_OK(ioctl(p.r(), FIONREAD, &n));
  EXPECT_EQ(n, 5007);
  EXPECT_SYSCALL_ERRNO(EFAULT, ioctl(p.r(), FIONREAD, nullptr));
  EXPECT_SYSCALL_ERRNO(ENOTTY, ioctl(p.r(), TCGETS, &n));
}

TEST(PipeTest, PacketMode) {
  Pipe p(O_DIRECT | O_NONBLOCK);
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(write(p.w(), "one", 3), 3);
  ASSERT_EQ(write(p.w(), "two", 3), 3);
  ASSERT_EQ(write(p.w(), "three", 5), 5);
  EXPECT_EQ(ReadN(p.r(), 100), "one");  // one packet per read
  EXPECT_EQ(ReadN(p.r(), 2), "tw");     // the rest of a packet that does not fit is dropped
  EXPECT_EQ(ReadN(p.r(), 100), "three");
  // Writes longer than PIPE_BUF are split into packets of PIPE_BUF.
  ASSERT_EQ(WriteN(p.w(), kPage + 10), static_cast<ssize_t>(kPage + 10));
  EXPECT_EQ(ReadN(p.r(), 100000)->size(), kPage);
  EXPECT_EQ(ReadN(p.r(), 100000)->size(), 10u);
  // Each packet takes a page of the pipe.
  EXPECT_EQ(FillWith(p.w(), 100), 1600u);
}

TEST(PipeTest, PacketModeThroughSetfl) {
  Pipe p(O_NONBLOCK);
  ASSERT_TRUE(p.ok());
  ASSERT_SYSCALL_OK(fcntl(p.w(), F_SETFL, O_NONBLOCK | O_DIRECT));
  EXPECT_EQ(fcntl(p.w(), F_GETFL), O_WRONLY | O_NONBLOCK | O_DIRECT);
  ASSERT_EQ(write(p.w(), "ab", 2), 2);
  ASSERT_EQ(write(p.w(), "cd", 2), 2);
  ASSERT_SYSCALL_OK(fcntl(p.w(), F_SETFL, O_NONBLOCK));
  ASSERT_EQ(write(p.w(), "ef", 2), 2);
  ASSERT_EQ(write(p.w(), "gh", 2), 2);
  EXPECT_EQ(ReadN(p.r(), 100), "ab");
  EXPECT_EQ(ReadN(p.r(), 100), "cd");
  EXPECT_EQ(ReadN(p.r(), 100), "efgh");  // a byte stream again
}

TEST(PipeTest, Fstat) {
  Pipe p;
  Pipe q;
  ASSERT_TRUE(p.ok() && q.ok());
  ASSERT_EQ(write(p.w(), "data", 4), 4);
  struct stat r_st, w_st, q_st;
  ASSERT_SYSCALL_OK(fstat(p.r(), &r_st));
  ASSERT_SYSCALL_OK(fstat(p.w(), &w_st));
  ASSERT_SYSCALL_OK(fstat(q.r(), &q_st));
  EXPECT_TRUE(S_ISFIFO(r_st.st_mode));
  EXPECT_EQ(r_st.st_mode & 07777, 0600u);
  EXPECT_EQ(r_st.st_nlink, 1u);
  EXPECT_EQ(r_st.st_uid, geteuid());
  EXPECT_EQ(r_st.st_gid, getegid());
  EXPECT_EQ(r_st.st_blksize, 4096);
  EXPECT_EQ(r_st.st_size, 0);           // FIONREAD, not st_size, tells what is buffered
  EXPECT_EQ(r_st.st_ino, w_st.st_ino);  // one inode behind both ends
  EXPECT_EQ(r_st.st_dev, w_st.st_dev);
  EXPECT_NE(r_st.st_ino, q_st.st_ino);  // and one per pipe
}

TEST(PipeTest, NoSeekingOrPositionedIo) {
  Pipe p;
  ASSERT_TRUE(p.ok());
  EXPECT_SYSCALL_ERRNO(ESPIPE, lseek(p.r(), 0, SEEK_CUR));
  EXPECT_SYSCALL_ERRNO(ESPIPE, lseek(p.w(), 0, SEEK_SET));
  EXPECT_SYSCALL_ERRNO(ESPIPE, pwrite(p.w(), "x", 1, 0));
  ASSERT_EQ(write(p.w(), "x", 1), 1);
  char c;
  EXPECT_SYSCALL_ERRNO(ESPIPE, pread(p.r(), &c, 1, 0));
  EXPECT_EQ(read(p.r(), &c, 1), 1);  // the byte is still there
}

// Removes the FIFO and its directory at the end of a test.
class FifoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pipe_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr) << strerror(errno);
    dir_ = tmpl;
    path_ = dir_ + "/fifo";
    ASSERT_SYSCALL_OK(mkfifo(path_.c_str(), 0600));
  }
  void TearDown() override {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  const char* path() const { return path_.c_str(); }

 private:
  std::string dir_;
  std::string path_;
};

TEST_F(FifoTest, IsAFifo) {
  struct stat st;
  ASSERT_SYSCALL_OK(stat(path(), &st));
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_size, 0);
}

TEST_F(FifoTest, ReadWriteOpenDoesNotBlock) {
  int fd = open(path(), O_RDWR);
  ASSERT_GE(fd, 0) << strerror(errno);
  EXPECT_EQ(fcntl(fd, F_GETFL), O_RDWR | kKernelOLargefile);  // open(2) adds it; pipe(2) not
  ASSERT_EQ(write(fd, "to self", 7), 7);
  int n = -1;
  ASSERT_SYSCALL_OK(ioctl(fd, FIONREAD, &n));
  EXPECT_EQ(n, 7);
  EXPECT_EQ(ReadN(fd, 100), "to self");
  EXPECT_EQ(fcntl(fd, F_GETPIPE_SZ), static_cast<int>(kDefaultSize));
  EXPECT_SYSCALL_ERRNO(ESPIPE, lseek(fd, 0, SEEK_SET));
  struct stat by_fd, by_path;
  ASSERT_SYSCALL_OK(fstat(fd, &by_fd));
  ASSERT_SYSCALL_OK(stat(path(), &by_path));
  EXPECT_TRUE(S_ISFIFO(by_fd.st_mode));
  EXPECT_EQ(by_fd.st_ino, by_path.st_ino);  // a FIFO's fstat is its inode's
  EXPECT_EQ(by_fd.st_dev, by_path.st_dev);
  close(fd);
}

TEST_F(FifoTest, NonblockingOpens) {
  // No reader: a nonblocking open for writing fails.
  EXPECT_SYSCALL_ERRNO(ENXIO, open(path(), O_WRONLY | O_NONBLOCK));
  // A nonblocking open for reading succeeds without a writer, and reads end of file.
  int r = open(path(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(r, 0) << strerror(errno);
  char c;
  EXPECT_EQ(read(r, &c, 1), 0);
  // Now there is a reader.
  int w = open(path(), O_WRONLY | O_NONBLOCK);
  ASSERT_GE(w, 0) << strerror(errno);
  EXPECT_SYSCALL_ERRNO(EAGAIN, read(r, &c, 1));  // a writer, no data
  ASSERT_EQ(write(w, "fifo", 4), 4);
  EXPECT_EQ(ReadN(r, 100), "fifo");
  close(w);
  EXPECT_EQ(read(r, &c, 1), 0);
  close(r);
}

TEST_F(FifoTest, OpensShareOnePipe) {
  int rw = open(path(), O_RDWR | O_NONBLOCK);
  ASSERT_GE(rw, 0) << strerror(errno);
  int w = open(path(), O_WRONLY);  // a reader exists: does not block
  ASSERT_GE(w, 0) << strerror(errno);
  int r = open(path(), O_RDONLY);  // a writer exists: does not block
  ASSERT_GE(r, 0) << strerror(errno);
  ASSERT_EQ(write(w, "shared", 6), 6);
  EXPECT_EQ(ReadN(r, 3), "sha");
  EXPECT_EQ(ReadN(rw, 100), "red");
  ASSERT_SYSCALL_OK(fcntl(rw, F_SETPIPE_SZ, 8 * kPage));
  EXPECT_EQ(fcntl(r, F_GETPIPE_SZ), static_cast<int>(8 * kPage));
  close(r);
  close(w);
  close(rw);
}

TEST_F(FifoTest, DataIsDroppedWhenTheLastEndCloses) {
  int rw = open(path(), O_RDWR);
  ASSERT_GE(rw, 0) << strerror(errno);
  ASSERT_EQ(write(rw, "gone", 4), 4);
  close(rw);
  rw = open(path(), O_RDWR | O_NONBLOCK);
  ASSERT_GE(rw, 0) << strerror(errno);
  char c;
  EXPECT_SYSCALL_ERRNO(EAGAIN, read(rw, &c, 1));
  close(rw);
}

TEST_F(FifoTest, EpipeWhenOnlyAWriterIsLeft) {
  IgnoreSigpipe ignore;
  int r = open(path(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(r, 0) << strerror(errno);
  int w = open(path(), O_WRONLY | O_NONBLOCK);
  ASSERT_GE(w, 0) << strerror(errno);
  close(r);
  EXPECT_SYSCALL_ERRNO(EPIPE, write(w, "x", 1));
  close(w);
}

}  // namespace
