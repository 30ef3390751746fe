#include "sentry/mm/vma_set.h"

#include <gtest/gtest.h>

#include "sentry/mm/mappable.h"

namespace sentry::mm {
namespace {

constexpr uint64_t kPage = 4096;

Vma Make(uint64_t start, uint64_t end, uint64_t offset, uint8_t perms = 3) {
  Vma v;
  v.start = start;
  v.end = end;
  v.perms = perms;
  v.offset = offset;
  return v;
}

TEST(VmaSetTest, FindAndGaps) {
  VmaSet s;
  s.Insert(Make(10 * kPage, 20 * kPage, 0));
  s.Insert(Make(30 * kPage, 40 * kPage, 100 * kPage));
  ASSERT_NE(s.Find(10 * kPage), nullptr);
  EXPECT_EQ(s.Find(20 * kPage), nullptr);
  EXPECT_EQ(s.Find(9 * kPage), nullptr);
  EXPECT_EQ(s.FindAtOrAfter(20 * kPage)->start, 30 * kPage);
  EXPECT_TRUE(s.IsFree(20 * kPage, 30 * kPage));
  EXPECT_FALSE(s.IsFree(19 * kPage, 30 * kPage));
  EXPECT_TRUE(s.IsFullyMapped(12 * kPage, 20 * kPage));
  EXPECT_FALSE(s.IsFullyMapped(12 * kPage, 31 * kPage));
  // Top-down: the highest fitting hole below the ceiling.
  EXPECT_EQ(s.FindGapTopDown(5 * kPage, 0, 50 * kPage), 45 * kPage);
  EXPECT_EQ(s.FindGapTopDown(10 * kPage, 0, 50 * kPage), 40 * kPage);
  EXPECT_EQ(s.FindGapTopDown(11 * kPage, 0, 50 * kPage), std::nullopt);  // every hole is 10 pages
  EXPECT_EQ(s.FindGapTopDown(10 * kPage, 0, 40 * kPage), 20 * kPage);
  EXPECT_EQ(s.FindGapTopDown(11 * kPage, kPage, 40 * kPage), std::nullopt);
  EXPECT_EQ(s.FindGapTopDown(10 * kPage, 0, 35 * kPage), 20 * kPage);  // ceiling inside a VMA
  EXPECT_EQ(s.FindGapTopDown(0, 0, 50 * kPage), std::nullopt);
  EXPECT_EQ(s.FindGapTopDown(kPage, 50 * kPage, 40 * kPage), std::nullopt);
}

TEST(VmaSetTest, InsertMergesContiguousNeighbours) {
  VmaSet s;
  s.Insert(Make(0, 4 * kPage, 0));
  s.Insert(Make(4 * kPage, 8 * kPage, 4 * kPage));   // contiguous memory: merges
  s.Insert(Make(8 * kPage, 9 * kPage, 50 * kPage));  // other memory: stays apart
  EXPECT_EQ(s.size(), 2u);
  EXPECT_EQ(s.Find(5 * kPage)->start, 0u);
  EXPECT_EQ(s.Find(5 * kPage)->end, 8 * kPage);
}

TEST(VmaSetTest, RemoveSplitsAndReturnsPieces) {
  VmaSet s;
  s.Insert(Make(0, 10 * kPage, 1000 * kPage));
  auto removed = s.Remove(2 * kPage, 5 * kPage);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].start, 2 * kPage);
  EXPECT_EQ(removed[0].end, 5 * kPage);
  EXPECT_EQ(removed[0].offset, 1002 * kPage);
  EXPECT_EQ(s.size(), 2u);
  EXPECT_EQ(s.Find(6 * kPage)->offset, 1005 * kPage);
  EXPECT_TRUE(s.Remove(20 * kPage, 30 * kPage).empty());  // nothing there
  EXPECT_EQ(s.Remove(0, 100 * kPage).size(), 2u);
  EXPECT_EQ(s.size(), 0u);
}

TEST(VmaSetTest, UpdateSplitsThenMergesBack) {
  VmaSet s;
  s.Insert(Make(0, 10 * kPage, 0, 3));
  s.Update(3 * kPage, 6 * kPage, [](Vma& v) { v.perms = 1; });
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(s.Find(4 * kPage)->perms, 1);
  EXPECT_EQ(s.Find(4 * kPage)->offset, 3 * kPage);
  s.Update(3 * kPage, 6 * kPage, [](Vma& v) { v.perms = 3; });
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(s.Find(4 * kPage)->end, 10 * kPage);
}

// A file with no pages: only its identity matters to the VmaSet.
class NoPages : public Mappable {
 public:
  Result<uint64_t> PageFor(uint64_t) override { return Err(ENXIO); }
  void ForEachPresentPage(uint64_t, uint64_t,
                          const std::function<void(uint64_t, uint64_t)>&) override {}
};

Vma FileVma(uint64_t start, uint64_t end, std::shared_ptr<Mappable> file, uint64_t file_offset) {
  Vma v = Make(start, end, 0);
  v.shared = true;
  v.mappable = std::move(file);
  v.file_offset = file_offset;
  return v;
}

TEST(VmaSetTest, FileVmasMergeOnlyAtContiguousOffsetsOfTheSameFile) {
  auto a = std::make_shared<NoPages>(), b = std::make_shared<NoPages>();
  VmaSet s;
  s.Insert(FileVma(0, 2 * kPage, a, 0));
  s.Insert(FileVma(2 * kPage, 4 * kPage, a, 2 * kPage));  // continues the file: merges
  s.Insert(FileVma(4 * kPage, 5 * kPage, a, 0));          // same file, offset jumps back
  s.Insert(FileVma(5 * kPage, 6 * kPage, b, kPage));      // another file
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(s.Find(3 * kPage)->start, 0u);
  EXPECT_EQ(s.Find(3 * kPage)->end, 4 * kPage);
  // Anonymous memory next to file pages never merges with them, whatever the offsets say.
  s.Insert(Make(6 * kPage, 7 * kPage, 2 * kPage));
  EXPECT_EQ(s.size(), 4u);
}

TEST(VmaSetTest, SplittingAFileVmaKeepsEachPiecesFileOffset) {
  auto a = std::make_shared<NoPages>();
  VmaSet s;
  s.Insert(FileVma(10 * kPage, 20 * kPage, a, 100 * kPage));
  auto removed = s.Remove(12 * kPage, 13 * kPage);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].file_offset, 102 * kPage);
  EXPECT_EQ(s.Find(15 * kPage)->file_offset, 103 * kPage);
  EXPECT_EQ(s.Find(15 * kPage)->FileOffsetOf(15 * kPage), 105 * kPage);
  EXPECT_FALSE(s.Find(15 * kPage)->OwnsMemory());
  s.Update(16 * kPage, 17 * kPage, [](Vma& v) { v.perms = 1; });
  s.Update(16 * kPage, 17 * kPage, [](Vma& v) { v.perms = 3; });
  EXPECT_EQ(s.size(), 2u);  // the pieces rejoined
  EXPECT_EQ(s.Find(19 * kPage)->start, 13 * kPage);
}

}  // namespace
}  // namespace sentry::mm
