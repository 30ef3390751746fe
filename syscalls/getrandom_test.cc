// getrandom(2): fills a buffer with random bytes; validates flags and the buffer.
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "syscalls/test_util.h"

namespace {

using conformance::PageSize;

long GetRandom(void* buf, size_t len, unsigned flags) {
  return syscall(SYS_getrandom, buf, len, flags);
}

TEST(GetrandomTest, FillsTheWholeSmallBuffer) {
  // Requests of up to 256 bytes are never cut short once the pool is initialised.
  for (unsigned flags : {0u, unsigned{GRND_NONBLOCK}, unsigned{GRND_RANDOM},
                         unsigned{GRND_RANDOM | GRND_NONBLOCK}, unsigned{GRND_INSECURE}}) {
    uint8_t buf[256];
    EXPECT_EQ(GetRandom(buf, sizeof(buf), flags), 256)
        << "flags " << flags << ": " << conformance::ErrnoName(errno);
  }
}

TEST(GetrandomTest, OutputDoesNotRepeat) {
  std::set<std::vector<uint8_t>> seen;
  for (int i = 0; i < 64; i++) {
    std::vector<uint8_t> buf(32);
    ASSERT_EQ(GetRandom(buf.data(), buf.size(), 0), 32);
    // Two equal 256-bit outputs from a working generator do not happen.
    EXPECT_TRUE(seen.insert(buf).second) << "repeated output at call " << i;
  }
}

TEST(GetrandomTest, OutputIsNotConstant) {
  // A buffer of one repeated byte, e.g. all zero, is what an unimplemented fill would leave.
  uint8_t buf[4096];
  memset(buf, 0, sizeof(buf));
  ASSERT_EQ(GetRandom(buf, sizeof(buf), 0), static_cast<long>(sizeof(buf)));
  std::set<uint8_t> values(buf, buf + sizeof(buf));
  // 4096 uniform bytes take more than 200 of the 256 values (the expected count is ~256).
  EXPECT_GT(values.size(), 200u);
}

TEST(GetrandomTest, LargeBufferIsFilled) {
  // Beyond 256 bytes only a signal can cut a read short, and none arrives here.
  const size_t len = 1 << 20;
  std::vector<uint8_t> buf(len, 0);
  ASSERT_EQ(GetRandom(buf.data(), len, 0), static_cast<long>(len)) << conformance::ErrnoName(errno);
  // The tail was written too: 64 zero bytes from a random source do not happen.
  bool nonzero = false;
  for (size_t i = len - 64; i < len; i++) nonzero |= buf[i] != 0;
  EXPECT_TRUE(nonzero);
}

TEST(GetrandomTest, ZeroLengthReturnsZero) {
  EXPECT_EQ(GetRandom(nullptr, 0, 0), 0);
  uint8_t b;
  EXPECT_EQ(GetRandom(&b, 0, GRND_NONBLOCK), 0);
}

TEST(GetrandomTest, UnknownFlagsAreEINVAL) {
  uint8_t buf[16];
  EXPECT_SYSCALL_ERRNO(EINVAL, GetRandom(buf, sizeof(buf), 0x8));
  EXPECT_SYSCALL_ERRNO(EINVAL, GetRandom(buf, sizeof(buf), 0x100));
  EXPECT_SYSCALL_ERRNO(EINVAL, GetRandom(buf, sizeof(buf), ~0u));
  // Flags are checked before the buffer, even when there is nothing to write.
  EXPECT_SYSCALL_ERRNO(EINVAL, GetRandom(nullptr, 0, 0x8));
}

TEST(GetrandomTest, InsecureWithRandomIsEINVAL) {
  // GRND_INSECURE asks for the non-blocking pool, GRND_RANDOM for the blocking one.
  uint8_t buf[16];
  EXPECT_SYSCALL_ERRNO(EINVAL, GetRandom(buf, sizeof(buf), GRND_INSECURE | GRND_RANDOM));
}

TEST(GetrandomTest, BadBufferIsEFAULT) {
  EXPECT_SYSCALL_ERRNO(EFAULT, GetRandom(nullptr, 16, 0));
  EXPECT_SYSCALL_ERRNO(EFAULT, GetRandom(reinterpret_cast<void*>(1), 16, GRND_NONBLOCK));
  void* ro = mmap(nullptr, PageSize(), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(ro, MAP_FAILED);
  EXPECT_SYSCALL_ERRNO(EFAULT, GetRandom(ro, 16, 0));
  ASSERT_SYSCALL_OK(munmap(ro, PageSize()));
}

TEST(GetrandomTest, BufferRunningIntoAnUnmappedPageIsFilledUpToTheHole) {
  char* p = static_cast<char*>(
      mmap(nullptr, 2 * PageSize(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  ASSERT_SYSCALL_OK(munmap(p + PageSize(), PageSize()));
  // Like read(2), getrandom reports the bytes it copied before the fault rather than EFAULT
  // (since Linux 5.19, when it moved to iov_iter; getrandom(2) still documents only EFAULT).
  EXPECT_EQ(GetRandom(p + PageSize() - 100, 200, 0), 100);
  EXPECT_EQ(GetRandom(p + PageSize() - 1, 200, 0), 1);
  ASSERT_SYSCALL_OK(munmap(p, PageSize()));
}

TEST(GetrandomTest, GlibcWrapperAgrees) {
  uint8_t buf[32];
  EXPECT_EQ(getrandom(buf, sizeof(buf), 0), 32);
  EXPECT_EQ(getrandom(buf, sizeof(buf), 0x8), -1);
  EXPECT_EQ(errno, EINVAL);
}

}  // namespace
