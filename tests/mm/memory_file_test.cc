// MemoryFile's copy-on-write reference counts: fork adds a user to a range, each user lets go,
// and memory goes back to the allocator only when its last user does.
#include "sentry/mm/memory_file.h"

#include <gtest/gtest.h>

#include <tuple>
#include <vector>

namespace sentry::mm {
namespace {

constexpr uint64_t kPage = 4096;

std::unique_ptr<MemoryFile> NewFile() {
  auto f = MemoryFile::Create(1 << 30);
  EXPECT_TRUE(f.ok());
  return std::move(*f);
}

TEST(MemoryFileRefTest, LastUserFrees) {
  auto file = NewFile();
  auto off = file->Allocate(16 * kPage);
  ASSERT_TRUE(off);
  EXPECT_EQ(file->RefCount(*off), 1u);
  EXPECT_FALSE(file->IsShared(*off, 16 * kPage));
  file->IncRef(*off, 16 * kPage);  // fork
  EXPECT_EQ(file->RefCount(*off + 5 * kPage), 2u);
  EXPECT_TRUE(file->IsShared(*off + 15 * kPage, kPage));
  EXPECT_EQ(file->SharedExtentCount(), 1u);
  file->DecRef(*off, 16 * kPage);  // the child exits
  EXPECT_EQ(file->AllocatedBytes(), 16 * kPage);
  EXPECT_EQ(file->RefCount(*off), 1u);
  EXPECT_EQ(file->SharedExtentCount(), 0u);
  file->DecRef(*off, 16 * kPage);  // the parent unmaps
  EXPECT_EQ(file->AllocatedBytes(), 0u);
}

TEST(MemoryFileRefTest, PartialReleaseSplitsAndFreesOnlyUnusedPages) {
  auto file = NewFile();
  auto off = file->Allocate(16 * kPage);
  ASSERT_TRUE(off);
  file->IncRef(*off, 16 * kPage);
  file->IncRef(*off + 4 * kPage, 4 * kPage);  // a grandchild forked from part of it
  EXPECT_EQ(file->RefCount(*off + 4 * kPage), 3u);
  EXPECT_EQ(file->RefCount(*off + 8 * kPage), 2u);
  // One side copies pages 2..10 and lets go of them.
  file->DecRef(*off + 2 * kPage, 8 * kPage);
  EXPECT_EQ(file->RefCount(*off + 1 * kPage), 2u);
  EXPECT_EQ(file->RefCount(*off + 2 * kPage), 1u);
  EXPECT_EQ(file->RefCount(*off + 4 * kPage), 2u);
  EXPECT_EQ(file->RefCount(*off + 9 * kPage), 1u);
  EXPECT_EQ(file->RefCount(*off + 10 * kPage), 2u);
  EXPECT_EQ(file->AllocatedBytes(), 16 * kPage);  // every page still has a user
  // The runs as a caller mapping them sees them.
  std::vector<std::tuple<uint64_t, uint64_t, bool>> runs;
  file->ForEachRun(*off, 16 * kPage,
                   [&](uint64_t s, uint64_t e, bool shared) { runs.emplace_back(s, e, shared); });
  std::vector<std::tuple<uint64_t, uint64_t, bool>> want = {
      {*off, *off + 2 * kPage, true},
      {*off + 2 * kPage, *off + 4 * kPage, false},
      {*off + 4 * kPage, *off + 8 * kPage, true},
      {*off + 8 * kPage, *off + 10 * kPage, false},
      {*off + 10 * kPage, *off + 16 * kPage, true},
  };
  EXPECT_EQ(runs, want);
  // Everyone lets go of everything they still hold: the grandchild its 4 pages, the other two
  // sides the whole range minus what one of them released already.
  file->DecRef(*off + 4 * kPage, 4 * kPage);
  file->DecRef(*off, 2 * kPage);
  file->DecRef(*off + 10 * kPage, 6 * kPage);
  EXPECT_EQ(file->AllocatedBytes(), 16 * kPage);
  file->DecRef(*off, 16 * kPage);
  EXPECT_EQ(file->AllocatedBytes(), 0u);
  EXPECT_EQ(file->SharedExtentCount(), 0u);
}

TEST(MemoryFileRefTest, AdjacentExtentsMerge) {
  auto file = NewFile();
  auto off = file->Allocate(8 * kPage);
  ASSERT_TRUE(off);
  file->IncRef(*off, 4 * kPage);
  file->IncRef(*off + 4 * kPage, 4 * kPage);
  EXPECT_EQ(file->SharedExtentCount(), 1u);
  file->DecRef(*off, 8 * kPage);
  EXPECT_EQ(file->SharedExtentCount(), 0u);
  file->DecRef(*off, 8 * kPage);
  EXPECT_EQ(file->AllocatedBytes(), 0u);
}

}  // namespace
}  // namespace sentry::mm
