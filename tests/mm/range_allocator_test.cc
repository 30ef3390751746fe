#include "sentry/mm/range_allocator.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace sentry::mm {
namespace {

constexpr uint64_t kPage = 4096;

TEST(RangeAllocatorTest, AllocatesFirstFitAndCoalesces) {
  RangeAllocator a(16 * kPage);
  auto r1 = a.Allocate(4 * kPage);
  auto r2 = a.Allocate(4 * kPage);
  ASSERT_TRUE(r1 && r2);
  EXPECT_EQ(*r1, 0u);
  EXPECT_EQ(*r2, 4 * kPage);
  EXPECT_EQ(a.allocated(), 8 * kPage);
  EXPECT_TRUE(a.Free(*r1, 4 * kPage));
  EXPECT_TRUE(a.Free(*r2, 4 * kPage));
  EXPECT_EQ(a.allocated(), 0u);
  EXPECT_EQ(a.free_extent_count(), 1u);
  EXPECT_EQ(a.Allocate(16 * kPage), 0u);
}

TEST(RangeAllocatorTest, RefusesBadRequests) {
  RangeAllocator a(16 * kPage);
  EXPECT_FALSE(a.Allocate(0));
  EXPECT_FALSE(a.Allocate(100));         // not page aligned
  EXPECT_FALSE(a.Allocate(17 * kPage));  // larger than the span
  EXPECT_FALSE(a.Free(0, kPage));        // never allocated
  auto r = a.Allocate(2 * kPage);
  ASSERT_TRUE(r);
  EXPECT_FALSE(a.Free(*r, 3 * kPage));             // runs into free space
  EXPECT_FALSE(a.Free(*r + 1, kPage));             // unaligned
  EXPECT_FALSE(a.Free(UINT64_MAX - kPage + 1, kPage));  // outside, would overflow
  EXPECT_FALSE(a.Free(16 * kPage, kPage));         // outside the span
  EXPECT_TRUE(a.Free(*r + kPage, kPage));          // part of an allocation is fine
  EXPECT_FALSE(a.Free(*r + kPage, kPage));         // but not twice
  EXPECT_TRUE(a.Free(*r, kPage));
  EXPECT_EQ(a.allocated(), 0u);
}

TEST(RangeAllocatorTest, ExhaustionAndReuse) {
  RangeAllocator a(4 * kPage);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(a.Allocate(kPage));
  EXPECT_FALSE(a.Allocate(kPage));
  EXPECT_TRUE(a.Free(2 * kPage, kPage));
  EXPECT_EQ(a.Allocate(kPage), 2 * kPage);
}

TEST(RangeAllocatorTest, ExtendInPlace) {
  RangeAllocator a(8 * kPage);
  auto r = a.Allocate(2 * kPage);
  ASSERT_TRUE(r);
  EXPECT_TRUE(a.ExtendInPlace(*r, 2 * kPage, 2 * kPage));
  EXPECT_EQ(a.allocated(), 4 * kPage);
  auto next = a.Allocate(kPage);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, 4 * kPage);
  EXPECT_FALSE(a.ExtendInPlace(*r, 4 * kPage, kPage));  // the next page is taken now
  EXPECT_FALSE(a.ExtendInPlace(*next, kPage, 100));      // unaligned
  EXPECT_FALSE(a.ExtendInPlace(UINT64_MAX - kPage, kPage, kPage));
}

// Random allocate/free sequences keep the books straight: no range is handed out twice and
// everything freed comes back as one extent.
TEST(RangeAllocatorTest, RandomSequencesStayConsistent) {
  std::mt19937_64 rng(42);
  RangeAllocator a(256 * kPage);
  std::map<uint64_t, uint64_t> live;
  for (int i = 0; i < 20000; ++i) {
    if (live.empty() || rng() % 2) {
      uint64_t len = (1 + rng() % 8) * kPage;
      auto r = a.Allocate(len);
      if (!r) continue;
      auto it = live.upper_bound(*r);
      if (it != live.end()) {
        ASSERT_LE(*r + len, it->first);
      }
      if (it != live.begin()) {
        auto prev = std::prev(it);
        ASSERT_LE(prev->first + prev->second, *r);
      }
      live[*r] = len;
    } else {
      auto it = live.begin();
      std::advance(it, rng() % live.size());
      ASSERT_TRUE(a.Free(it->first, it->second));
      live.erase(it);
    }
    // A hostile free of random ranges never corrupts anything.
    uint64_t junk = (rng() % 300) * kPage;
    bool inside_live = false;
    for (auto& [s, l] : live) inside_live |= junk >= s && junk < s + l;
    if (!inside_live) {
      ASSERT_FALSE(a.Free(junk, kPage));
    }
  }
  for (auto& [s, l] : live) ASSERT_TRUE(a.Free(s, l));
  EXPECT_EQ(a.allocated(), 0u);
  EXPECT_EQ(a.free_extent_count(), 1u);
}

}  // namespace
}  // namespace sentry::mm
