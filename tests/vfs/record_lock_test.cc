// Record locks: the byte-range arithmetic (struct flock to a range, one owner's ranges split and
// merged), and the table's conflicts, waits and deadlock detection between owners.
#include "sentry/vfs/record_lock.h"

#include <fcntl.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace sentry::vfs {
namespace {

using Range = LockRanges::Range;
constexpr int64_t kMax = kLockOffsetMax;

TEST(ToLockSpanTest, StartAndLength) {
  EXPECT_EQ(ToLockSpan(0, 10, 5)->start, 10);
  EXPECT_EQ(ToLockSpan(0, 10, 5)->end, 14);
  // l_len 0: to the end of the file and beyond.
  EXPECT_EQ(ToLockSpan(0, 10, 0)->end, kMax);
  // The base is the file position or size (SEEK_CUR, SEEK_END); l_start may go back from it.
  EXPECT_EQ(ToLockSpan(100, -10, 1)->start, 90);
  EXPECT_EQ(ToLockSpan(100, -10, 1)->end, 90);
  // A negative length covers the bytes before l_start.
  EXPECT_EQ(ToLockSpan(0, 10, -4)->start, 6);
  EXPECT_EQ(ToLockSpan(0, 10, -4)->end, 9);
  EXPECT_EQ(ToLockSpan(0, 10, -10)->start, 0);
  // The last byte there is.
  EXPECT_EQ(ToLockSpan(0, kMax, 1)->start, kMax);
  EXPECT_EQ(ToLockSpan(0, kMax, 1)->end, kMax);
  EXPECT_EQ(ToLockSpan(0, 0, kMax)->end, kMax - 1);
}

TEST(ToLockSpanTest, Errors) {
  EXPECT_EQ(ToLockSpan(0, -1, 0).error().value, EINVAL);
  EXPECT_EQ(ToLockSpan(5, -6, 1).error().value, EINVAL);
  EXPECT_EQ(ToLockSpan(0, 10, -11).error().value, EINVAL);
  EXPECT_EQ(ToLockSpan(1, kMax, 0).error().value, EOVERFLOW);
  EXPECT_EQ(ToLockSpan(0, kMax, 2).error().value, EOVERFLOW);
  EXPECT_EQ(ToLockSpan(0, 2, kMax).error().value, EOVERFLOW);
  EXPECT_EQ(ToLockSpan(0, 1, kMax)->end, kMax);  // just fits
  EXPECT_EQ(ToLockSpan(0, INT64_MIN, 0).error().value, EINVAL);
}

TEST(LockRangesTest, SplitsAndMerges) {
  LockRanges r;
  r.Set(0, kMax, F_WRLCK, 1);
  r.Set(10, 19, F_UNLCK, 1);  // a hole in the middle
  EXPECT_EQ(r.ranges(), (std::vector<Range>{{0, 9, F_WRLCK, 1}, {20, kMax, F_WRLCK, 1}}));
  r.Set(10, 19, F_WRLCK, 2);  // filled again: one range
  EXPECT_EQ(r.ranges(), (std::vector<Range>{{0, kMax, F_WRLCK, 2}}));
  r.Set(5, 7, F_RDLCK, 3);  // another type inside splits it in three
  EXPECT_EQ(r.ranges(),
            (std::vector<Range>{{0, 4, F_WRLCK, 2}, {5, 7, F_RDLCK, 3}, {8, kMax, F_WRLCK, 2}}));
  r.Set(0, kMax, F_UNLCK, 3);
  EXPECT_TRUE(r.empty());
}

TEST(LockRangesTest, TouchingRangesMergeOnlyWithTheirType) {
  LockRanges r;
  r.Set(0, 9, F_RDLCK, 1);
  r.Set(10, 19, F_RDLCK, 1);
  r.Set(20, 29, F_WRLCK, 1);
  EXPECT_EQ(r.ranges(), (std::vector<Range>{{0, 19, F_RDLCK, 1}, {20, 29, F_WRLCK, 1}}));
  r.Set(40, 49, F_WRLCK, 1);  // a gap keeps them apart
  r.Set(30, 39, F_RDLCK, 1);
  EXPECT_EQ(
      r.ranges(),
      (std::vector<Range>{
          {0, 19, F_RDLCK, 1}, {20, 29, F_WRLCK, 1}, {30, 39, F_RDLCK, 1}, {40, 49, F_WRLCK, 1}}));
  // Converting the write range between two read ranges joins all three.
  r.Set(20, 29, F_RDLCK, 1);
  EXPECT_EQ(r.ranges(), (std::vector<Range>{{0, 39, F_RDLCK, 1}, {40, 49, F_WRLCK, 1}}));
  // Overlapping several ranges replaces them.
  r.Set(5, 45, F_WRLCK, 1);
  EXPECT_EQ(r.ranges(), (std::vector<Range>{{0, 4, F_RDLCK, 1}, {5, 49, F_WRLCK, 1}}));
}

TEST(LockRangesTest, EdgesOfTheOffsetSpace) {
  LockRanges r;
  r.Set(kMax, kMax, F_WRLCK, 1);
  r.Set(0, 0, F_WRLCK, 1);
  EXPECT_EQ(r.ranges(), (std::vector<Range>{{0, 0, F_WRLCK, 1}, {kMax, kMax, F_WRLCK, 1}}));
  r.Set(1, kMax - 1, F_WRLCK, 1);
  EXPECT_EQ(r.ranges(), (std::vector<Range>{{0, kMax, F_WRLCK, 1}}));
  r.Set(kMax, kMax, F_UNLCK, 1);
  EXPECT_EQ(r.ranges(), (std::vector<Range>{{0, kMax - 1, F_WRLCK, 1}}));
  r.Set(0, 0, F_UNLCK, 1);
  EXPECT_EQ(r.ranges(), (std::vector<Range>{{1, kMax - 1, F_WRLCK, 1}}));
  r.Set(50, 60, F_UNLCK, 1);  // unlocking what is not locked changes nothing else
  r.Set(1000, 2000, F_UNLCK, 1);
  r.Set(0, 0, F_UNLCK, 1);
  EXPECT_EQ(r.ranges(),
            (std::vector<Range>{
                {1, 49, F_WRLCK, 1}, {61, 999, F_WRLCK, 1}, {2001, kMax - 1, F_WRLCK, 1}}));
}

TEST(LockRangesTest, FirstOverlap) {
  LockRanges r;
  r.Set(0, 9, F_RDLCK, 1);
  r.Set(10, 19, F_WRLCK, 1);
  r.Set(30, kMax, F_RDLCK, 1);
  EXPECT_EQ(r.FirstOverlap(5, 5, false), (Range{0, 9, F_RDLCK, 1}));
  EXPECT_EQ(r.FirstOverlap(5, 15, true), (Range{10, 19, F_WRLCK, 1}));
  EXPECT_EQ(r.FirstOverlap(20, 29, false), std::nullopt);
  EXPECT_EQ(r.FirstOverlap(25, 30, false), (Range{30, kMax, F_RDLCK, 1}));
  EXPECT_EQ(r.FirstOverlap(25, kMax, true), std::nullopt);
  EXPECT_EQ(r.FirstOverlap(kMax, kMax, false), (Range{30, kMax, F_RDLCK, 1}));
}

// Random sequences against a byte map: bytes 0..kBytes-2 stand for themselves, byte kBytes-1
// for itself and everything after it (every range ends before it or runs to kMax).
TEST(LockRangesTest, MatchesAByteModel) {
  constexpr int kBytes = 40;
  std::mt19937 rng(1234);
  for (int round = 0; round < 200; ++round) {
    LockRanges r;
    std::vector<short> model(kBytes, F_UNLCK);
    for (int step = 0; step < 60; ++step) {
      int64_t start = std::uniform_int_distribution<int64_t>(0, kBytes - 2)(rng);
      int64_t end = std::uniform_int_distribution<int64_t>(start, kBytes - 1)(rng);
      if (end == kBytes - 1) end = kMax;
      short type = std::array<short, 3>{F_RDLCK, F_WRLCK, F_UNLCK}[rng() % 3];
      r.Set(start, end, type, 1);
      for (int64_t b = start; b <= std::min<int64_t>(end, kBytes - 1); ++b) model[b] = type;

      std::vector<short> got(kBytes, F_UNLCK);
      auto ranges = r.ranges();
      for (size_t i = 0; i < ranges.size(); ++i) {
        const Range& x = ranges[i];
        ASSERT_LE(x.start, x.end);
        ASSERT_TRUE(x.end == kMax || x.end < kBytes - 1) << x.end;
        if (i > 0) {
          ASSERT_LT(ranges[i - 1].end, x.start) << "overlap at " << x.start;
          ASSERT_FALSE(ranges[i - 1].end + 1 == x.start && ranges[i - 1].type == x.type)
              << "touching ranges of one type left apart at " << x.start;
        }
        for (int64_t b = x.start; b <= std::min<int64_t>(x.end, kBytes - 1); ++b) got[b] = x.type;
      }
      ASSERT_EQ(got, model) << "round " << round << " step " << step;
    }
  }
}

class RecordLockTableTest : public ::testing::Test {
 protected:
  // Until `n` requests wait.
  void AwaitWaiters(size_t n) {
    while (table_.WaitersForTest() < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  RecordLockTable table_;
  const int file_ = 0, other_file_ = 0;
  const void* f_ = &file_;
  const void* g_ = &other_file_;
  const int a_id_ = 0, b_id_ = 0, c_id_ = 0;
  LockOwner a_{&a_id_, 100, false}, b_{&b_id_, 200, false}, c_{&c_id_, -1, true};
};

TEST_F(RecordLockTableTest, ConflictsBetweenOwners) {
  ASSERT_TRUE(table_.Set(f_, a_, F_RDLCK, 0, 9, false));
  EXPECT_TRUE(table_.Set(f_, b_, F_RDLCK, 5, 14, false));  // readers share
  EXPECT_EQ(table_.Set(f_, b_, F_WRLCK, 5, 14, false).error().value, EAGAIN);
  EXPECT_TRUE(table_.Set(f_, b_, F_WRLCK, 10, 14, false));   // past a's range
  EXPECT_TRUE(table_.Set(g_, b_, F_WRLCK, 0, kMax, false));  // another file
  // A failed request changes nothing: b still holds 5..9 for reading only.
  auto c = table_.Test(f_, a_, F_WRLCK, 0, kMax);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->range, (Range{5, 9, F_RDLCK, 200}));
  EXPECT_EQ(c->owner, &b_id_);
  EXPECT_FALSE(c->ofd);
  // The owner's own locks never stand in its way.
  EXPECT_TRUE(table_.Set(f_, a_, F_RDLCK, 0, 4, false));
  EXPECT_FALSE(table_.Test(f_, a_, F_WRLCK, 0, 4));
  // An OFD owner is one more owner.
  EXPECT_EQ(table_.Set(f_, c_, F_WRLCK, 0, 0, false).error().value, EAGAIN);
  EXPECT_TRUE(table_.Set(f_, c_, F_WRLCK, 100, 100, false));
  c = table_.Test(f_, a_, F_RDLCK, 50, kMax);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->ofd);
}

TEST_F(RecordLockTableTest, TestReportsTheOldestOwnerFirst) {
  ASSERT_TRUE(table_.Set(f_, b_, F_RDLCK, 50, 59, false));
  ASSERT_TRUE(table_.Set(f_, a_, F_RDLCK, 0, 9, false));
  auto c = table_.Test(f_, c_, F_WRLCK, 0, kMax);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->range.start, 50);  // b locked first
  // Once an owner has no locks left it goes to the back.
  ASSERT_TRUE(table_.Set(f_, b_, F_UNLCK, 0, kMax, false));
  ASSERT_TRUE(table_.Set(f_, b_, F_RDLCK, 50, 59, false));
  EXPECT_EQ(table_.Test(f_, c_, F_WRLCK, 0, kMax)->range.start, 0);
}

TEST_F(RecordLockTableTest, UnlockQueryFindsOwnLocks) {
  ASSERT_TRUE(table_.Set(f_, c_, F_WRLCK, 10, 19, false));
  auto own = table_.Test(f_, c_, F_UNLCK, 0, kMax);
  ASSERT_TRUE(own);
  EXPECT_EQ(own->range.start, 10);
  EXPECT_FALSE(table_.Test(f_, a_, F_UNLCK, 0, kMax));
  EXPECT_FALSE(table_.Test(f_, c_, F_UNLCK, 20, kMax));
}

TEST_F(RecordLockTableTest, Release) {
  ASSERT_TRUE(table_.Set(f_, a_, F_WRLCK, 0, 9, false));
  ASSERT_TRUE(table_.Set(g_, a_, F_WRLCK, 0, 9, false));
  table_.ReleaseFile(f_, a_.id);
  EXPECT_TRUE(table_.Set(f_, b_, F_WRLCK, 0, 9, false));
  EXPECT_EQ(table_.Set(g_, b_, F_WRLCK, 0, 9, false).error().value, EAGAIN);
  table_.ReleaseOwner(a_.id);
  EXPECT_TRUE(table_.Set(g_, b_, F_WRLCK, 0, 9, false));
  table_.ReleaseOwner(b_.id);
  EXPECT_FALSE(table_.Test(f_, c_, F_WRLCK, 0, kMax));
  EXPECT_FALSE(table_.Test(g_, c_, F_WRLCK, 0, kMax));
}

TEST_F(RecordLockTableTest, WaitEndsWhenTheLockGoes) {
  ASSERT_TRUE(table_.Set(f_, a_, F_WRLCK, 0, 9, false));
  std::atomic<bool> done = false;
  std::thread waiter([&] {
    EXPECT_TRUE(table_.Set(f_, b_, F_RDLCK, 5, 5, true));
    done = true;
  });
  AwaitWaiters(1);
  EXPECT_FALSE(done);
  // Changing a lock that still conflicts keeps it waiting.
  ASSERT_TRUE(table_.Set(f_, a_, F_WRLCK, 0, 5, false));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(done);
  table_.ReleaseOwner(a_.id);
  waiter.join();
  EXPECT_TRUE(done);
  EXPECT_EQ(table_.Test(f_, a_, F_WRLCK, 0, kMax)->range, (Range{5, 5, F_RDLCK, 200}));
}

// Two owners, each holding what the other asks for: whichever asks second gets EDEADLK, gives
// up its lock, and the first one's wait ends.
TEST_F(RecordLockTableTest, DeadlockIsDetected) {
  ASSERT_TRUE(table_.Set(f_, a_, F_WRLCK, 0, 0, false));
  ASSERT_TRUE(table_.Set(f_, b_, F_WRLCK, 1, 1, false));
  std::atomic<int> deadlocks = 0;
  auto run = [&](const LockOwner& self, int64_t want) {
    auto r = table_.Set(f_, self, F_WRLCK, want, want, true);
    if (!r) {
      EXPECT_EQ(r.error().value, EDEADLK);
      ++deadlocks;
      table_.ReleaseOwner(self.id);
    }
  };
  std::thread ta(run, a_, 1), tb(run, b_, 0);
  ta.join();
  tb.join();
  EXPECT_EQ(deadlocks, 1);
}

// A chain through a third owner, and a different file.
TEST_F(RecordLockTableTest, DeadlockThroughAChain) {
  const int d_id = 0;
  LockOwner d{&d_id, 400, false};
  ASSERT_TRUE(table_.Set(f_, a_, F_WRLCK, 0, 0, false));
  ASSERT_TRUE(table_.Set(f_, b_, F_WRLCK, 1, 1, false));
  ASSERT_TRUE(table_.Set(g_, d, F_WRLCK, 0, 0, false));
  // a waits for b, b waits for d (one at a time, so the order is known).
  std::thread ta([&] { EXPECT_TRUE(table_.Set(f_, a_, F_WRLCK, 1, 1, true)); });
  AwaitWaiters(1);
  std::thread tb([&] { EXPECT_TRUE(table_.Set(g_, b_, F_WRLCK, 0, 0, true)); });
  AwaitWaiters(2);
  // d asking for a's lock closes the circle.
  EXPECT_EQ(table_.Set(f_, d, F_WRLCK, 0, 0, true).error().value, EDEADLK);
  // An OFD owner asking is not a process in the circle: it would just wait. Try without.
  EXPECT_EQ(table_.Set(f_, c_, F_WRLCK, 0, 0, false).error().value, EAGAIN);
  table_.ReleaseOwner(d.id);  // b gets g, releases nothing; a still waits for b
  tb.join();
  table_.ReleaseOwner(b_.id);
  ta.join();
  table_.ReleaseOwner(a_.id);
}

}  // namespace
}  // namespace sentry::vfs
