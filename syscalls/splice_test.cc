// splice, tee and copy_file_range: file to pipe, pipe to file, pipe to pipe, with offset
// pointers or file positions, how much moves (what the pipe holds, what it has room for, the
// end of the file), nonblocking rules, end of file and EPIPE, and every error in the order Linux
// checks them; tee's copies that leave the input as it was; copy_file_range's ranges, EXDEV,
// EISDIR, overlap, EOVERFLOW and EFBIG.
//
// Nothing here blocks: every wait would be on a pipe only this process holds. SIGPIPE is
// ignored where a transfer meets no reader.
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "syscalls/fs_test_util.h"
#include "syscalls/test_util.h"

namespace conformance {
namespace {

constexpr size_t kPage = 4096;

long Splice(long in, loff_t* off_in, long out, loff_t* off_out, size_t len, unsigned flags) {
  return syscall(SYS_splice, in, off_in, out, off_out, len, flags);
}
long Tee(long in, long out, size_t len, unsigned flags) {
  return syscall(SYS_tee, in, out, len, flags);
}
long CopyFileRange(long in, loff_t* off_in, long out, loff_t* off_out, size_t len, unsigned flags) {
  return syscall(SYS_copy_file_range, in, off_in, out, off_out, len, flags);
}

using conformance::Pipe;

// An fd closed at the end of the scope.
using conformance::Fd;

bool Put(int fd, const std::string& data) {
  return write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
}

// What one read(2) of up to n bytes returns; "<error>" if it fails.
std::string Take(int fd, size_t n = 4 * kPage) {
  std::string buf(n, '\0');
  ssize_t got = read(fd, buf.data(), buf.size());
  if (got < 0) return "<error>";
  buf.resize(static_cast<size_t>(got));
  return buf;
}

off_t Position(int fd) { return lseek(fd, 0, SEEK_CUR); }
off_t Size(int fd) { return Fstat(fd).st_size; }

// A scratch file holding `content`, open with `flags`.
class SpliceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_SCRATCH(dir_);
    signal(SIGPIPE, SIG_IGN);
  }
  long File(const std::string& name, const std::string& content, int flags = O_RDWR) {
    if (!WriteFile(dir_ / name, content)) return -1;
    return Open(dir_ / name, flags);
  }
  ScratchDir dir_;
};

// ---- splice: file to pipe ----

TEST_F(SpliceTest, FileToPipeAtOffsetLeavesThePositionAlone) {
  Fd f(File("f", "0123456789"));
  Pipe p;
  ASSERT_TRUE(p.ok());
  loff_t off = 2;
  EXPECT_EQ(Splice(f.get(), &off, p.w(), nullptr, 5, 0), 5);
  EXPECT_EQ(off, 7);
  EXPECT_EQ(Position(f.get()), 0);
  EXPECT_EQ(Take(p.r()), "23456");
}

TEST_F(SpliceTest, FileToPipeAtThePositionAdvancesIt) {
  Fd f(File("f", "0123456789"));
  Pipe p;
  ASSERT_EQ(lseek(f.get(), 4, SEEK_SET), 4);
  EXPECT_EQ(Splice(f.get(), nullptr, p.w(), nullptr, 100, 0), 6);  // short at the end
  EXPECT_EQ(Position(f.get()), 10);
  EXPECT_EQ(Splice(f.get(), nullptr, p.w(), nullptr, 100, 0), 0);  // at the end
  EXPECT_EQ(Take(p.r()), "456789");
}

TEST_F(SpliceTest, FileToPipeTakesNoMoreThanThePipeHasRoomFor) {
  Fd f(File("f", std::string(3 * kPage, 'a')));
  Pipe p(O_NONBLOCK);
  ASSERT_SYSCALL_OK(fcntl(p.w(), F_SETPIPE_SZ, kPage));
  EXPECT_EQ(Splice(f.get(), nullptr, p.w(), nullptr, 3 * kPage, 0), static_cast<long>(kPage));
  // Full now: nonblocking, by the pipe's flag or the call's.
  EXPECT_SYSCALL_ERRNO(EAGAIN, Splice(f.get(), nullptr, p.w(), nullptr, 1, 0));
  ASSERT_SYSCALL_OK(fcntl(p.w(), F_SETFL, 0));
  EXPECT_SYSCALL_ERRNO(EAGAIN, Splice(f.get(), nullptr, p.w(), nullptr, 1, SPLICE_F_NONBLOCK));
  EXPECT_EQ(Position(f.get()), static_cast<off_t>(kPage));
}

TEST_F(SpliceTest, SplicedDataTakesNoMergedWrites) {
  // One page of pipe: a spliced byte fills its only slot, which a write may not top up.
  Fd f(File("f", "x"));
  Pipe p(O_NONBLOCK);
  ASSERT_SYSCALL_OK(fcntl(p.w(), F_SETPIPE_SZ, kPage));
  ASSERT_EQ(Splice(f.get(), nullptr, p.w(), nullptr, 1, 0), 1);
  EXPECT_SYSCALL_ERRNO(EAGAIN, write(p.w(), "y", 1));
  EXPECT_EQ(Take(p.r()), "x");
}

TEST_F(SpliceTest, FileToPipeWithoutReadersIsEpipe) {
  Fd f(File("f", "abc"));
  Pipe p;
  p.CloseRead();
  EXPECT_SYSCALL_ERRNO(EPIPE, Splice(f.get(), nullptr, p.w(), nullptr, 3, 0));
  EXPECT_EQ(Position(f.get()), 0);
}

volatile sig_atomic_t sigpipes = 0;

TEST_F(SpliceTest, EpipeRaisesSigpipe) {
  struct sigaction sa {
  }, old{};
  sa.sa_handler = [](int) { sigpipes = sigpipes + 1; };
  ASSERT_SYSCALL_OK(sigaction(SIGPIPE, &sa, &old));
  Fd f(File("f", "abc"));
  Pipe p, q;
  p.CloseRead();
  ASSERT_TRUE(Put(q.w(), "x"));
  EXPECT_SYSCALL_ERRNO(EPIPE, Splice(f.get(), nullptr, p.w(), nullptr, 3, 0));
  EXPECT_SYSCALL_ERRNO(EPIPE, Splice(q.r(), nullptr, p.w(), nullptr, 1, 0));
  EXPECT_SYSCALL_ERRNO(EPIPE, Tee(q.r(), p.w(), 1, 0));
  EXPECT_EQ(sigpipes, 3);
  sigaction(SIGPIPE, &old, nullptr);
}

TEST_F(SpliceTest, DevZeroToPipe) {
  Fd zero(Open("/dev/zero", O_RDONLY));
  Pipe p;
  loff_t off = 0;
  EXPECT_EQ(Splice(zero.get(), nullptr, p.w(), nullptr, 3, 0), 3);
  EXPECT_EQ(Splice(zero.get(), &off, p.w(), nullptr, 2, 0), 2);
  EXPECT_EQ(Take(p.r()), std::string(5, '\0'));
}

// ---- splice: pipe to file ----

TEST_F(SpliceTest, PipeToFileAtOffsetLeavesThePositionAlone) {
  Fd f(File("f", "0123456789"));
  Pipe p;
  ASSERT_TRUE(Put(p.w(), "abc"));
  loff_t off = 20;  // past the end: a hole before it
  EXPECT_EQ(Splice(p.r(), nullptr, f.get(), &off, 3, 0), 3);
  EXPECT_EQ(off, 23);
  EXPECT_EQ(Position(f.get()), 0);
  EXPECT_EQ(ReadFile(dir_ / "f"), std::string("0123456789") + std::string(10, '\0') + "abc");
}

TEST_F(SpliceTest, PipeToFileAtThePositionAdvancesIt) {
  Fd f(File("f", "0123456789"));
  Pipe p;
  ASSERT_TRUE(Put(p.w(), "abc"));
  ASSERT_EQ(lseek(f.get(), 2, SEEK_SET), 2);
  // Takes what the pipe holds, without waiting for the rest.
  EXPECT_EQ(Splice(p.r(), nullptr, f.get(), nullptr, 100, SPLICE_F_MOVE | SPLICE_F_MORE), 3);
  EXPECT_EQ(Position(f.get()), 5);
  EXPECT_EQ(ReadFile(dir_ / "f"), "01abc56789");
}

TEST_F(SpliceTest, PipeToFileTakesOnlyTheLength) {
  Fd f(File("f", ""));
  Pipe p;
  ASSERT_TRUE(Put(p.w(), "abcdef"));
  EXPECT_EQ(Splice(p.r(), nullptr, f.get(), nullptr, 4, 0), 4);
  EXPECT_EQ(Take(p.r()), "ef");
  EXPECT_EQ(ReadFile(dir_ / "f"), "abcd");
}

TEST_F(SpliceTest, PipeToFileAcrossManyWrites) {
  Fd f(File("f", ""));
  Pipe p;
  std::string all;
  for (int i = 0; i < 5; ++i) {
    std::string part(kPage + 100 * i, static_cast<char>('a' + i));
    ASSERT_TRUE(Put(p.w(), part));
    all += part;
  }
  size_t moved = 0;
  while (moved < all.size()) {
    long n = Splice(p.r(), nullptr, f.get(), nullptr, 3000, 0);
    ASSERT_GT(n, 0);
    moved += static_cast<size_t>(n);
  }
  EXPECT_EQ(ReadFile(dir_ / "f"), all);
}

TEST_F(SpliceTest, EmptyPipeToFile) {
  Fd f(File("f", ""));
  Pipe p(O_NONBLOCK);
  EXPECT_SYSCALL_ERRNO(EAGAIN, Splice(p.r(), nullptr, f.get(), nullptr, 5, 0));
  ASSERT_SYSCALL_OK(fcntl(p.r(), F_SETFL, 0));
  EXPECT_SYSCALL_ERRNO(EAGAIN, Splice(p.r(), nullptr, f.get(), nullptr, 5, SPLICE_F_NONBLOCK));
  p.CloseWrite();
  EXPECT_EQ(Splice(p.r(), nullptr, f.get(), nullptr, 5, 0), 0);  // end of file
}

TEST_F(SpliceTest, PipeToDevNull) {
  Fd null(Open("/dev/null", O_WRONLY));
  Pipe p(O_NONBLOCK);
  ASSERT_TRUE(Put(p.w(), "xyz"));
  EXPECT_EQ(Splice(p.r(), nullptr, null.get(), nullptr, 3, 0), 3);
  char c;
  EXPECT_SYSCALL_ERRNO(EAGAIN, read(p.r(), &c, 1));  // all of it went
}

// ---- splice: pipe to pipe ----

TEST_F(SpliceTest, PipeToPipeMovesTheData) {
  Pipe a, b;
  ASSERT_TRUE(Put(a.w(), "0123456789"));
  EXPECT_EQ(Splice(a.r(), nullptr, b.w(), nullptr, 3, 0), 3);
  // The length is not checked against the largest read: nothing here reads a file.
  EXPECT_EQ(Splice(a.r(), nullptr, b.w(), nullptr, SIZE_MAX, 0), 7);
  EXPECT_EQ(Take(b.r()), "0123456789");
}

TEST_F(SpliceTest, PipeToPipeNonblockingAndEndOfFile) {
  Pipe a(O_NONBLOCK), b;
  EXPECT_SYSCALL_ERRNO(EAGAIN, Splice(a.r(), nullptr, b.w(), nullptr, 1, 0));
  ASSERT_SYSCALL_OK(fcntl(a.r(), F_SETFL, 0));
  EXPECT_SYSCALL_ERRNO(EAGAIN, Splice(a.r(), nullptr, b.w(), nullptr, 1, SPLICE_F_NONBLOCK));
  // The output's O_NONBLOCK counts too.
  Pipe c, d(O_NONBLOCK);
  EXPECT_SYSCALL_ERRNO(EAGAIN, Splice(c.r(), nullptr, d.w(), nullptr, 1, 0));
  a.CloseWrite();
  EXPECT_EQ(Splice(a.r(), nullptr, b.w(), nullptr, 1, 0), 0);
}

TEST_F(SpliceTest, PipeToPipeIntoAFullPipe) {
  Pipe a, b(O_NONBLOCK);
  ASSERT_SYSCALL_OK(fcntl(b.w(), F_SETPIPE_SZ, kPage));
  ASSERT_TRUE(Put(b.w(), std::string(kPage, 'x')));
  ASSERT_TRUE(Put(a.w(), "abc"));
  EXPECT_SYSCALL_ERRNO(EAGAIN, Splice(a.r(), nullptr, b.w(), nullptr, 3, 0));
  EXPECT_EQ(Take(a.r()), "abc");  // nothing left the input
}

TEST_F(SpliceTest, PipeToPipeWithoutReadersIsEpipe) {
  Pipe a, b;
  ASSERT_TRUE(Put(a.w(), "abc"));
  b.CloseRead();
  EXPECT_SYSCALL_ERRNO(EPIPE, Splice(a.r(), nullptr, b.w(), nullptr, 3, 0));
  EXPECT_EQ(Take(a.r()), "abc");
}

TEST_F(SpliceTest, PipeToPipeKeepsPackets) {
  Pipe a(O_DIRECT), b;
  ASSERT_TRUE(Put(a.w(), "one"));
  ASSERT_TRUE(Put(a.w(), "two"));
  EXPECT_EQ(Splice(a.r(), nullptr, b.w(), nullptr, 100, 0), 6);
  EXPECT_EQ(Take(b.r()), "one");  // still one packet per read
  EXPECT_EQ(Take(b.r()), "two");
}

// ---- splice: errors ----

TEST_F(SpliceTest, ZeroLengthIsZeroBeforeAnyCheck) {
  EXPECT_EQ(Splice(-1, nullptr, -1, nullptr, 0, ~0u), 0);
}

TEST_F(SpliceTest, UnknownFlags) {
  Pipe a, b;
  EXPECT_SYSCALL_ERRNO(EINVAL, Splice(a.r(), nullptr, b.w(), nullptr, 1, 0x10));
  EXPECT_SYSCALL_ERRNO(EINVAL, Splice(-1, nullptr, -1, nullptr, 1, 0x10));  // before EBADF
}

TEST_F(SpliceTest, BadDescriptors) {
  Pipe p;
  Fd f(File("f", "abc"));
  Fd path(Open(dir_ / "f", O_PATH));
  EXPECT_SYSCALL_ERRNO(EBADF, Splice(-1, nullptr, p.w(), nullptr, 1, 0));
  EXPECT_SYSCALL_ERRNO(EBADF, Splice(f.get(), nullptr, 999, nullptr, 1, 0));
  EXPECT_SYSCALL_ERRNO(EBADF, Splice(path.get(), nullptr, p.w(), nullptr, 1, 0));
  // The wrong end of a pipe.
  Pipe q;
  EXPECT_SYSCALL_ERRNO(EBADF, Splice(p.w(), nullptr, q.w(), nullptr, 1, 0));
  EXPECT_SYSCALL_ERRNO(EBADF, Splice(p.r(), nullptr, q.r(), nullptr, 1, 0));
  // A file opened the wrong way.
  Fd ro(Open(dir_ / "f", O_RDONLY)), wo(Open(dir_ / "f", O_WRONLY));
  ASSERT_TRUE(Put(p.w(), "x"));
  EXPECT_SYSCALL_ERRNO(EBADF, Splice(p.r(), nullptr, ro.get(), nullptr, 1, 0));
  EXPECT_SYSCALL_ERRNO(EBADF, Splice(wo.get(), nullptr, p.w(), nullptr, 1, 0));
}

TEST_F(SpliceTest, OffsetsOfPipesAreEspipe) {
  Pipe p, q;
  Fd f(File("f", "abc"));
  loff_t off = 0;
  EXPECT_SYSCALL_ERRNO(ESPIPE, Splice(p.r(), &off, f.get(), nullptr, 1, 0));
  EXPECT_SYSCALL_ERRNO(ESPIPE, Splice(f.get(), nullptr, p.w(), &off, 1, 0));
  EXPECT_SYSCALL_ERRNO(ESPIPE, Splice(p.r(), nullptr, q.w(), &off, 1, 0));
  // Before the pointer is read and before the access modes are checked.
  EXPECT_SYSCALL_ERRNO(ESPIPE, Splice(p.r(), reinterpret_cast<loff_t*>(8), f.get(), nullptr, 1, 0));
  EXPECT_SYSCALL_ERRNO(ESPIPE, Splice(p.w(), &off, f.get(), nullptr, 1, 0));
}

TEST_F(SpliceTest, BadOffsets) {
  Pipe p;
  Fd f(File("f", "abc"));
  EXPECT_SYSCALL_ERRNO(EFAULT, Splice(f.get(), reinterpret_cast<loff_t*>(8), p.w(), nullptr, 1, 0));
  ASSERT_TRUE(Put(p.w(), "x"));
  EXPECT_SYSCALL_ERRNO(EFAULT, Splice(p.r(), nullptr, f.get(), reinterpret_cast<loff_t*>(8), 1, 0));
  loff_t off = -1;
  EXPECT_SYSCALL_ERRNO(EINVAL, Splice(p.r(), nullptr, f.get(), &off, 1, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, Splice(f.get(), &off, p.w(), nullptr, 1, 0));
  // A length that is negative as a ssize_t, on the file's side.
  EXPECT_SYSCALL_ERRNO(EINVAL, Splice(p.r(), nullptr, f.get(), nullptr, SIZE_MAX, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, Splice(f.get(), nullptr, p.w(), nullptr, SIZE_MAX, 0));
  EXPECT_EQ(Take(p.r()), "x");
}

TEST_F(SpliceTest, NeitherEndAPipe) {
  Fd a(File("a", "abc")), b(File("b", ""));
  EXPECT_SYSCALL_ERRNO(EINVAL, Splice(a.get(), nullptr, b.get(), nullptr, 1, 0));
}

TEST_F(SpliceTest, OnePipeAtBothEnds) {
  Pipe p;
  ASSERT_TRUE(Put(p.w(), "abc"));
  EXPECT_SYSCALL_ERRNO(EINVAL, Splice(p.r(), nullptr, p.w(), nullptr, 1, 0));
}

TEST_F(SpliceTest, AppendOnlyOutputIsEinval) {
  Pipe p;
  ASSERT_TRUE(WriteFile(dir_ / "f", "abc"));
  Fd f(Open(dir_ / "f", O_WRONLY | O_APPEND));
  ASSERT_TRUE(Put(p.w(), "x"));
  EXPECT_SYSCALL_ERRNO(EINVAL, Splice(p.r(), nullptr, f.get(), nullptr, 1, 0));
}

TEST_F(SpliceTest, DirectoryInputIsEinval) {
  Pipe p;
  Fd d(Open(dir_.path(), O_RDONLY | O_DIRECTORY));
  EXPECT_SYSCALL_ERRNO(EINVAL, Splice(d.get(), nullptr, p.w(), nullptr, 1, 0));
}

// ---- tee ----

TEST_F(SpliceTest, TeeCopiesWithoutConsuming) {
  Pipe a, b;
  ASSERT_TRUE(Put(a.w(), "0123456789"));
  EXPECT_EQ(Tee(a.r(), b.w(), 4, SPLICE_F_MOVE | SPLICE_F_MORE), 4);
  EXPECT_EQ(Tee(a.r(), b.w(), 100, 0), 10);
  EXPECT_EQ(Take(b.r()), "01230123456789");
  EXPECT_EQ(Take(a.r()), "0123456789");
}

TEST_F(SpliceTest, TeeStopsWhenTheOutputIsFull) {
  Pipe a, b(O_NONBLOCK);
  ASSERT_SYSCALL_OK(fcntl(b.w(), F_SETPIPE_SZ, kPage));
  ASSERT_TRUE(Put(a.w(), std::string(kPage, 'a')));
  ASSERT_TRUE(Put(a.w(), std::string(kPage, 'b')));
  EXPECT_EQ(Tee(a.r(), b.w(), 2 * kPage, 0), static_cast<long>(kPage));
  EXPECT_SYSCALL_ERRNO(EAGAIN, Tee(a.r(), b.w(), 1, 0));
  EXPECT_EQ(Take(b.r()), std::string(kPage, 'a'));
}

TEST_F(SpliceTest, TeeNonblockingEndOfFileAndEpipe) {
  Pipe a(O_NONBLOCK), b;
  EXPECT_SYSCALL_ERRNO(EAGAIN, Tee(a.r(), b.w(), 1, 0));
  ASSERT_SYSCALL_OK(fcntl(a.r(), F_SETFL, 0));
  EXPECT_SYSCALL_ERRNO(EAGAIN, Tee(a.r(), b.w(), 1, SPLICE_F_NONBLOCK));
  a.CloseWrite();
  EXPECT_EQ(Tee(a.r(), b.w(), 1, 0), 0);
  Pipe c, d;
  ASSERT_TRUE(Put(c.w(), "abc"));
  d.CloseRead();
  EXPECT_SYSCALL_ERRNO(EPIPE, Tee(c.r(), d.w(), 3, 0));
}

TEST_F(SpliceTest, TeeErrors) {
  Pipe a, b;
  Fd f(File("f", "abc"));
  EXPECT_SYSCALL_ERRNO(EINVAL, Tee(a.r(), b.w(), 0, 0x10));  // flags before the length
  EXPECT_EQ(Tee(a.r(), b.w(), 0, 0), 0);
  EXPECT_EQ(Tee(-1, -1, 0, 0), 0);
  EXPECT_SYSCALL_ERRNO(EBADF, Tee(-1, b.w(), 1, 0));
  EXPECT_SYSCALL_ERRNO(EBADF, Tee(a.w(), b.w(), 1, 0));
  EXPECT_SYSCALL_ERRNO(EBADF, Tee(a.r(), b.r(), 1, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, Tee(a.r(), a.w(), 1, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, Tee(f.get(), b.w(), 1, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, Tee(a.r(), f.get(), 1, 0));
}

// ---- copy_file_range ----

TEST_F(SpliceTest, CopyFileRangeAtOffsets) {
  Fd a(File("a", "0123456789")), b(File("b", ""));
  loff_t in = 2, out = 0;
  EXPECT_EQ(CopyFileRange(a.get(), &in, b.get(), &out, 5, 0), 5);
  EXPECT_EQ(in, 7);
  EXPECT_EQ(out, 5);
  EXPECT_EQ(Position(a.get()), 0);
  EXPECT_EQ(Position(b.get()), 0);
  EXPECT_EQ(ReadFile(dir_ / "b"), "23456");
}

TEST_F(SpliceTest, CopyFileRangeAtPositions) {
  Fd a(File("a", "0123456789")), b(File("b", "xyz"));
  ASSERT_EQ(lseek(a.get(), 6, SEEK_SET), 6);
  ASSERT_EQ(lseek(b.get(), 1, SEEK_SET), 1);
  EXPECT_EQ(CopyFileRange(a.get(), nullptr, b.get(), nullptr, 100, 0), 4);  // short at the end
  EXPECT_EQ(Position(a.get()), 10);
  EXPECT_EQ(Position(b.get()), 5);
  EXPECT_EQ(CopyFileRange(a.get(), nullptr, b.get(), nullptr, 100, 0), 0);  // at the end
  EXPECT_EQ(ReadFile(dir_ / "b"), "x6789");
}

TEST_F(SpliceTest, CopyFileRangeLargerThanABuffer) {
  std::string data;
  for (int i = 0; i < 70000; ++i) data.push_back(static_cast<char>('a' + i % 26));
  Fd a(File("a", data)), b(File("b", ""));
  loff_t in = 0;
  long n = CopyFileRange(a.get(), &in, b.get(), nullptr, data.size() + 10, 0);
  EXPECT_EQ(n, static_cast<long>(data.size()));
  EXPECT_EQ(ReadFile(dir_ / "b"), data);
}

TEST_F(SpliceTest, CopyFileRangeWithinOneFile) {
  Fd a(File("a", "0123456789"));
  loff_t in = 0, out = 5;
  EXPECT_SYSCALL_ERRNO(EINVAL, CopyFileRange(a.get(), &in, a.get(), &out, 6, 0));  // overlap
  // Cut to the end of the input first: 10 bytes from 0 still reach 5.
  EXPECT_SYSCALL_ERRNO(EINVAL, CopyFileRange(a.get(), &in, a.get(), &out, 100, 0));
  EXPECT_EQ(CopyFileRange(a.get(), &in, a.get(), &out, 5, 0), 5);
  in = 8;
  out = 0;
  EXPECT_EQ(CopyFileRange(a.get(), &in, a.get(), &out, 100, 0), 2);  // 8..10 onto 0..2
  EXPECT_EQ(ReadFile(dir_ / "a"), "3423401234");
}

TEST_F(SpliceTest, CopyFileRangeFlagsAndLength) {
  Fd a(File("a", "abc")), b(File("b", ""));
  EXPECT_EQ(CopyFileRange(a.get(), nullptr, b.get(), nullptr, 0, 0), 0);
  EXPECT_SYSCALL_ERRNO(EINVAL, CopyFileRange(a.get(), nullptr, b.get(), nullptr, 0, 1));
  EXPECT_SYSCALL_ERRNO(EINVAL, CopyFileRange(a.get(), nullptr, b.get(), nullptr, 1, 1));
  // The descriptors and the offset pointers are looked at before the flags.
  EXPECT_SYSCALL_ERRNO(EBADF, CopyFileRange(-1, nullptr, b.get(), nullptr, 1, 1));
  EXPECT_SYSCALL_ERRNO(
      EFAULT, CopyFileRange(a.get(), reinterpret_cast<loff_t*>(8), b.get(), nullptr, 1, 1));
}

TEST_F(SpliceTest, CopyFileRangeFileKinds) {
  Fd a(File("a", "abc")), b(File("b", ""));
  Fd d(Open(dir_.path(), O_RDONLY | O_DIRECTORY));
  Pipe p;
  Fd null(Open("/dev/null", O_WRONLY));
  EXPECT_SYSCALL_ERRNO(EISDIR, CopyFileRange(d.get(), nullptr, b.get(), nullptr, 1, 0));
  EXPECT_SYSCALL_ERRNO(EISDIR, CopyFileRange(a.get(), nullptr, d.get(), nullptr, 1, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, CopyFileRange(p.r(), nullptr, b.get(), nullptr, 1, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, CopyFileRange(a.get(), nullptr, p.w(), nullptr, 1, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, CopyFileRange(a.get(), nullptr, null.get(), nullptr, 1, 0));
}

TEST_F(SpliceTest, CopyFileRangeAccessModes) {
  Fd a(File("a", "abc")), b(File("b", ""));
  Fd ro(Open(dir_ / "b", O_RDONLY)), wo(Open(dir_ / "a", O_WRONLY));
  Fd append(Open(dir_ / "b", O_WRONLY | O_APPEND)), path(Open(dir_ / "a", O_PATH));
  EXPECT_SYSCALL_ERRNO(EBADF, CopyFileRange(a.get(), nullptr, ro.get(), nullptr, 1, 0));
  EXPECT_SYSCALL_ERRNO(EBADF, CopyFileRange(wo.get(), nullptr, b.get(), nullptr, 1, 0));
  EXPECT_SYSCALL_ERRNO(EBADF, CopyFileRange(a.get(), nullptr, append.get(), nullptr, 1, 0));
  EXPECT_SYSCALL_ERRNO(EBADF, CopyFileRange(path.get(), nullptr, b.get(), nullptr, 1, 0));
}

TEST_F(SpliceTest, CopyFileRangeOffsets) {
  Fd a(File("a", "0123456789")), b(File("b", ""));
  // Linux compares the ends as unsigned numbers: -1 + 1 wraps (EOVERFLOW); -5 + 1 does not,
  // and the negative position fails later (EINVAL).
  loff_t off = -1;
  EXPECT_SYSCALL_ERRNO(EOVERFLOW, CopyFileRange(a.get(), &off, b.get(), nullptr, 1, 0));
  off = -5;
  EXPECT_SYSCALL_ERRNO(EINVAL, CopyFileRange(a.get(), &off, b.get(), nullptr, 1, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, CopyFileRange(a.get(), nullptr, b.get(), &off, 1, 0));
  // Past the end of the input: nothing to copy.
  off = INT64_MAX - 16;
  EXPECT_EQ(CopyFileRange(a.get(), &off, b.get(), nullptr, 10, 0), 0);
  // A length that wraps past the output's position.
  ASSERT_EQ(lseek(b.get(), 10, SEEK_SET), 10);
  off = 0;
  EXPECT_SYSCALL_ERRNO(EOVERFLOW, CopyFileRange(a.get(), &off, b.get(), nullptr, SIZE_MAX, 0));
  EXPECT_EQ(CopyFileRange(a.get(), &off, b.get(), nullptr, size_t{1} << 62, 0), 10);
}

TEST_F(SpliceTest, CopyFileRangeBetweenMemfds) {
  Fd a(memfd_create("a", 0)), b(memfd_create("b", 0));
  ASSERT_TRUE(Put(a.get(), "abc"));
  ASSERT_EQ(lseek(a.get(), 0, SEEK_SET), 0);
  EXPECT_EQ(CopyFileRange(a.get(), nullptr, b.get(), nullptr, 10, 0), 3);
  EXPECT_EQ(Size(b.get()), 3);
  // At the largest file offset: nothing fits (EFBIG); just below it, what fits.
  loff_t in = 0, out = INT64_MAX;
  EXPECT_SYSCALL_ERRNO(EFBIG, CopyFileRange(a.get(), &in, b.get(), &out, 3, 0));
  out = INT64_MAX - 1;
  EXPECT_EQ(CopyFileRange(a.get(), &in, b.get(), &out, 3, 0), 1);
}

TEST_F(SpliceTest, CopyFileRangeAcrossFileSystemsIsExdev) {
  Fd a(File("a", "abc")), m(memfd_create("m", 0));
  EXPECT_SYSCALL_ERRNO(EXDEV, CopyFileRange(a.get(), nullptr, m.get(), nullptr, 3, 0));
  EXPECT_SYSCALL_ERRNO(EXDEV, CopyFileRange(m.get(), nullptr, a.get(), nullptr, 3, 0));
}

}  // namespace
}  // namespace conformance
