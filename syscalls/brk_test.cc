// The program break: brk(2) as the kernel implements it (the raw syscall returns the new break,
// or the unchanged one on failure; glibc's wrapper turns that into -1/ENOMEM).
//
// malloc owns the heap below the current break and caches the break it last set, so these tests
// never move the break below where they found it, and make no call that might allocate between
// moving the break and putting it back: each test records what it saw in locals, restores the
// break, and only then asserts.
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

#include <gtest/gtest.h>

#include "syscalls/test_util.h"

namespace {

using conformance::PageSize;

uintptr_t Brk(uintptr_t addr) { return static_cast<uintptr_t>(syscall(SYS_brk, addr)); }

uintptr_t PageRoundUp(uintptr_t addr) { return (addr + PageSize() - 1) & ~(PageSize() - 1); }

bool AllZero(uintptr_t addr, size_t len) {
  const char* p = reinterpret_cast<const char*>(addr);
  for (size_t i = 0; i < len; i++) {
    if (p[i] != 0) return false;
  }
  return true;
}

int data_variable = 1;  // in .data, which lies below the heap

TEST(BrkTest, ZeroReturnsTheCurrentBreak) {
  const uintptr_t a = Brk(0);
  const uintptr_t b = Brk(0);
  EXPECT_NE(a, 0u);
  EXPECT_EQ(a, b);
  // The heap begins after the program's data.
  EXPECT_GT(a, reinterpret_cast<uintptr_t>(&data_variable));
}

TEST(BrkTest, GrowsAndShrinks) {
  const uintptr_t start = Brk(0);
  const uintptr_t grown_to = start + 8 * PageSize();
  const uintptr_t grown = Brk(grown_to);
  const uintptr_t after_grow = Brk(0);
  bool writable_and_zero = false;
  if (grown == grown_to) {
    // The new whole pages are fresh, zero-filled memory.
    const uintptr_t first_new_page = PageRoundUp(start);
    writable_and_zero = AllZero(first_new_page, grown_to - first_new_page);
    memset(reinterpret_cast<void*>(start), 0x5a, grown_to - start);
  }
  const uintptr_t shrunk = Brk(start);
  const uintptr_t after_shrink = Brk(0);

  EXPECT_EQ(grown, grown_to);
  EXPECT_EQ(after_grow, grown_to);
  EXPECT_TRUE(writable_and_zero);
  EXPECT_EQ(shrunk, start);
  EXPECT_EQ(after_shrink, start);
}

TEST(BrkTest, ShrunkPagesAreUnmapped) {
  const uintptr_t start = Brk(0);
  const uintptr_t page = PageRoundUp(start);
  const uintptr_t grown = Brk(page + 4 * PageSize());
  const uintptr_t shrunk = Brk(start);
  // mprotect fails with ENOMEM on an unmapped range.
  errno = 0;
  const int rc = mprotect(reinterpret_cast<void*>(page), 4 * PageSize(), PROT_READ);
  const int err = errno;

  EXPECT_EQ(grown, page + 4 * PageSize());
  EXPECT_EQ(shrunk, start);
  EXPECT_EQ(rc, -1);
  EXPECT_EQ(err, ENOMEM) << conformance::ErrnoName(err);
}

TEST(BrkTest, MemoryIsZeroAgainAfterShrinkAndRegrow) {
  const uintptr_t start = Brk(0);
  // Only whole pages are given back: the partial page holding `start` keeps its bytes.
  const uintptr_t page = PageRoundUp(start);
  const uintptr_t top = page + 4 * PageSize();
  const uintptr_t grown = Brk(top);
  if (grown == top) memset(reinterpret_cast<void*>(page), 0xa5, top - page);
  const uintptr_t shrunk = Brk(page);
  const uintptr_t regrown = Brk(top);
  const bool zero = regrown == top && AllZero(page, top - page);
  const uintptr_t restored = Brk(start);

  EXPECT_EQ(grown, top);
  EXPECT_EQ(shrunk, page);
  EXPECT_EQ(regrown, top);
  EXPECT_TRUE(zero);
  EXPECT_EQ(restored, start);
}

TEST(BrkTest, BelowTheHeapStartLeavesTheBreakUnchanged) {
  const uintptr_t start = Brk(0);
  const uintptr_t to_data = Brk(reinterpret_cast<uintptr_t>(&data_variable));
  const uintptr_t to_one = Brk(1);
  const uintptr_t after = Brk(0);

  EXPECT_EQ(to_data, start);
  EXPECT_EQ(to_one, start);
  EXPECT_EQ(after, start);
}

TEST(BrkTest, IntoAnExistingMappingLeavesTheBreakUnchanged) {
  const uintptr_t start = Brk(0);
  const uintptr_t page = PageRoundUp(start);
  // A mapping a little above the break, in the way of growth.
  void* blocker = mmap(reinterpret_cast<void*>(page + 16 * PageSize()), PageSize(), PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  ASSERT_NE(blocker, MAP_FAILED) << conformance::ErrnoName(errno);
  const uintptr_t across = Brk(page + 32 * PageSize());
  const uintptr_t after = Brk(0);
  munmap(blocker, PageSize());

  EXPECT_EQ(across, start);
  EXPECT_EQ(after, start);
}

TEST(BrkTest, BeyondTheAddressSpaceLeavesTheBreakUnchanged) {
  const uintptr_t start = Brk(0);
  const uintptr_t huge = Brk(uintptr_t{1} << 60);
  const uintptr_t wrapped = Brk(UINTPTR_MAX - PageSize());
  const uintptr_t after = Brk(0);

  EXPECT_EQ(huge, start);
  EXPECT_EQ(wrapped, start);
  EXPECT_EQ(after, start);
}

}  // namespace
