// The gofer page cache driven directly, on a host temporary file: filling from the host,
// write-through, dirty pages laid over reads, truncation, write-back clipped to the file's
// size, clean pages kept after the last mapping (and checked against the host file before
// they serve again), and the KeptPages budget's reclaim.
#include "sentry/fsimpl/gofer/page_cache.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "sentry/base/user_addr.h"

namespace sentry::fsimpl::gofer {
namespace {

class PageCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = mm::MemoryFile::Create(1 << 28);
    ASSERT_TRUE(m.ok());
    memory_ = std::move(*m);
    char name[] = "/tmp/page_cache_test.XXXXXX";
    int fd = mkstemp(name);
    ASSERT_GE(fd, 0);
    unlink(name);
    fd_ = std::make_shared<FileDescriptor>(fd);
    cache_ = PageCache::Create(*memory_, kept_);
  }

  void PutHost(const std::string& data, off_t at) {
    ASSERT_EQ(pwrite(fd_->get(), data.data(), data.size(), at), static_cast<ssize_t>(data.size()));
  }
  std::string GetHost(size_t n, off_t at) {
    std::string out(n, '\0');
    ssize_t got = pread(fd_->get(), out.data(), n, at);
    out.resize(got < 0 ? 0 : static_cast<size_t>(got));
    return out;
  }
  char* Page(uint64_t index) {
    auto off = cache_->PageFor(index);
    EXPECT_TRUE(off.has_value());
    return off ? reinterpret_cast<char*>(memory_->Access(*off)) : nullptr;
  }
  // read(2) through the cache.
  std::string Read(size_t n, uint64_t at) {
    std::string out(n, '\0');
    iovec v{out.data(), n};
    auto got = cache_->Read({&v, 1}, at, [&]() -> Result<uint64_t> {
      ssize_t r = preadv(fd_->get(), &v, 1, static_cast<off_t>(at));
      if (r < 0) return Err(errno);
      return static_cast<uint64_t>(r);
    });
    EXPECT_TRUE(got.has_value());
    out.resize(got ? *got : 0);
    return out;
  }
  void Write(const std::string& data, uint64_t at) {
    iovec v{const_cast<char*>(data.data()), data.size()};
    auto got = cache_->Write({&v, 1}, fd_->get(), [&]() -> Result<std::pair<uint64_t, uint64_t>> {
      ssize_t r = pwritev(fd_->get(), &v, 1, static_cast<off_t>(at));
      if (r < 0) return Err(errno);
      return std::pair{static_cast<uint64_t>(r), at};
    });
    EXPECT_TRUE(got.has_value());
  }

  std::unique_ptr<mm::MemoryFile> memory_;
  KeptPages kept_{uint64_t{64} << 20};
  std::shared_ptr<FileDescriptor> fd_;
  std::shared_ptr<PageCache> cache_;
};

TEST_F(PageCacheTest, FaultFillsTheWindowFromTheHost) {
  PutHost("first", 0);
  PutHost("third", 2 * kPageSize);
  auto mapping = cache_->NewMapping(fd_, true);
  char* p = Page(0);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(std::string(p, 5), "first");
  // The rest of the file came with it, side by side in the MemoryFile.
  int present = 0;
  uint64_t expect = 0;
  bool contiguous = true;
  cache_->ForEachPresentPage(0, 32, [&](uint64_t i, uint64_t off) {
    if (i == 0) expect = off;
    contiguous = contiguous && off == expect + i * kPageSize;
    ++present;
  });
  EXPECT_EQ(present, 3);
  EXPECT_TRUE(contiguous);
  EXPECT_EQ(std::string(Page(2), 5), "third");
  // Past the end of the file: SIGBUS for the application.
  auto past = cache_->PageFor(3);
  ASSERT_FALSE(past.has_value());
  EXPECT_EQ(past.error().value, ENXIO);
}

TEST_F(PageCacheTest, WritesGoThroughAndDirtyPagesWinOverTheHost) {
  PutHost(std::string(kPageSize, 'h'), 0);
  auto mapping = cache_->NewMapping(fd_, true);
  char* p = Page(0);
  Write("write", 10);
  EXPECT_EQ(std::string(p + 10, 5), "write");
  EXPECT_EQ(GetHost(5, 10), "write");
  // A store through a mapping: the host does not have it yet, a read does.
  cache_->NoteWritablePages(0, 1);
  std::memcpy(p + 100, "store", 5);
  EXPECT_EQ(GetHost(5, 100), "hhhhh");
  EXPECT_EQ(Read(5, 100), "store");
  EXPECT_EQ(cache_->DirtyBlocks(), kPageSize / 512);
  ASSERT_TRUE(cache_->WriteBack(0, UINT64_MAX, false).has_value());
  EXPECT_EQ(GetHost(5, 100), "store");
  EXPECT_EQ(cache_->DirtyBlocks(), 0u);
}

TEST_F(PageCacheTest, WriteBackStopsAtTheEndOfTheFile) {
  PutHost("0123456789", 0);
  auto mapping = cache_->NewMapping(fd_, true);
  char* p = Page(0);
  cache_->NoteWritablePages(0, 1);
  p[0] = 'X';
  p[20] = 'Y';  // past the end, in the last page
  ASSERT_TRUE(cache_->WriteBack(0, UINT64_MAX, true).has_value());
  struct stat st;
  ASSERT_EQ(fstat(fd_->get(), &st), 0);
  EXPECT_EQ(st.st_size, 10);
  EXPECT_EQ(GetHost(64, 0), "X123456789");
}

TEST_F(PageCacheTest, TruncationDropsPagesAndZeroesTheTail) {
  PutHost(std::string(3 * kPageSize, 'a'), 0);
  auto mapping = cache_->NewMapping(fd_, true);
  ASSERT_NE(Page(0), nullptr);
  ASSERT_TRUE(cache_
                  ->Truncate(100, fd_->get(),
                             [&]() -> Result<void> {
                               if (ftruncate(fd_->get(), 100) != 0) return Err(errno);
                               return {};
                             })
                  .has_value());
  int present = 0;
  cache_->ForEachPresentPage(0, 32, [&](uint64_t, uint64_t) { ++present; });
  EXPECT_EQ(present, 1);
  char* p = Page(0);
  EXPECT_EQ(p[99], 'a');
  EXPECT_EQ(p[100], 0);
  EXPECT_FALSE(cache_->PageFor(1).has_value());
}

TEST_F(PageCacheTest, TheLastMappingWritesBackAndKeepsCleanPages) {
  uint64_t before = memory_->AllocatedBytes();
  PutHost(std::string(2 * kPageSize, 'o'), 0);
  auto a = cache_->NewMapping(fd_, true);
  auto b = cache_->NewMapping(fd_, false);
  char* p = Page(1);
  cache_->NoteWritablePages(1, 2);
  std::memcpy(p, "kept", 4);
  EXPECT_GT(memory_->AllocatedBytes(), before);
  EXPECT_EQ(memory_->FileCacheBytes(), 2 * kPageSize);
  EXPECT_EQ(memory_->ReclaimableBytes(), 0u);  // mapped: in use
  a.reset();
  EXPECT_EQ(GetHost(4, kPageSize), "oooo");  // one mapping is left
  EXPECT_EQ(kept_.kept_pages(), 0u);
  b.reset();
  EXPECT_EQ(GetHost(4, kPageSize), "kept");
  EXPECT_EQ(cache_->DirtyBlocks(), 0u);
  EXPECT_EQ(kept_.kept_pages(), 2u);
  EXPECT_EQ(memory_->ReclaimableBytes(), 2 * kPageSize);
  // The next mapping finds them, as they were.
  auto c = cache_->NewMapping(fd_, false);
  EXPECT_EQ(kept_.kept_pages(), 0u);
  EXPECT_EQ(memory_->ReclaimableBytes(), 0u);
  EXPECT_EQ(Page(1), p);
  EXPECT_EQ(std::string(p, 4), "kept");
  c.reset();
  // They go with the cache.
  cache_.reset();
  EXPECT_EQ(memory_->AllocatedBytes(), before);
  EXPECT_EQ(memory_->FileCacheBytes(), 0u);
  EXPECT_EQ(memory_->ReclaimableBytes(), 0u);
  EXPECT_EQ(kept_.kept_pages(), 0u);
  EXPECT_EQ(kept_.holders(), 0u);
}

TEST_F(PageCacheTest, AHostChangeWhileUnmappedDropsTheKeptPages) {
  PutHost(std::string(kPageSize, 'a'), 0);
  auto m = cache_->NewMapping(fd_, false);
  EXPECT_EQ(Page(0)[0], 'a');
  m.reset();
  ASSERT_TRUE(cache_->HasPages());
  PutHost("b", 0);  // the host file changed behind the sandbox
  m = cache_->NewMapping(fd_, false);
  EXPECT_EQ(Page(0)[0], 'b');
  m.reset();
  // Reported by a revalidating walk (or open, or fstat) while nobody maps it.
  PutHost("c", 0);
  struct stat st;
  ASSERT_EQ(fstat(fd_->get(), &st), 0);
  cache_->HostAttributes(st);
  EXPECT_FALSE(cache_->HasPages());
  EXPECT_EQ(kept_.kept_pages(), 0u);
}

TEST_F(PageCacheTest, OurOwnWritesKeepTheKeptPagesValid) {
  PutHost(std::string(2 * kPageSize, 'a'), 0);
  auto m = cache_->NewMapping(fd_, false);
  char* p = Page(0);
  m.reset();
  Write("written", 10);  // write(2) through the cache: write-through to the kept page
  struct stat st;
  ASSERT_EQ(fstat(fd_->get(), &st), 0);
  cache_->HostAttributes(st);
  EXPECT_TRUE(cache_->HasPages());
  m = cache_->NewMapping(fd_, false);
  EXPECT_EQ(Page(0), p);
  EXPECT_EQ(std::string(p + 10, 7), "written");
}

TEST_F(PageCacheTest, AHostChangeWhileMappedRereadsCleanPagesInPlace) {
  PutHost(std::string(3 * kPageSize, 'a'), 0);
  auto m = cache_->NewMapping(fd_, true);
  char* clean = Page(0);
  char* dirty = Page(1);
  cache_->NoteWritablePages(1, 2);
  dirty[0] = 'D';
  PutHost(std::string(2 * kPageSize, 'h'), 0);
  struct stat st;
  ASSERT_EQ(fstat(fd_->get(), &st), 0);
  cache_->HostAttributes(st);
  // Same pages (every mapping sees the change at once), the host's data in the clean one; the
  // sandbox's store stays in the dirty one, and wins at write-back.
  EXPECT_EQ(Page(0), clean);
  EXPECT_EQ(clean[0], 'h');
  EXPECT_EQ(Page(1), dirty);
  EXPECT_EQ(dirty[0], 'D');
  EXPECT_EQ(dirty[1], 'a');
  // The host cuts the file: pages past its end go, the last one's tail reads as zeros.
  ASSERT_EQ(ftruncate(fd_->get(), kPageSize + 10), 0);
  ASSERT_EQ(fstat(fd_->get(), &st), 0);
  cache_->HostAttributes(st);
  EXPECT_FALSE(cache_->PageFor(2).has_value());
  EXPECT_EQ(dirty[10], 0);
  ASSERT_TRUE(cache_->WriteBack(0, UINT64_MAX, false).has_value());
  EXPECT_EQ(GetHost(2, kPageSize), "Da");
}

// Pages of other files for the budget tests: each a 1-page host file with its own cache.
struct OtherFile {
  std::shared_ptr<FileDescriptor> fd;
  std::shared_ptr<PageCache> cache;
};

TEST_F(PageCacheTest, ReclaimTakesTheLeastRecentlyUnmappedFirst) {
  kept_.SetBudgetBytes(2 * kPageSize);
  std::vector<OtherFile> files;
  for (int i = 0; i < 3; ++i) {
    char name[] = "/tmp/page_cache_test.XXXXXX";
    int fd = mkstemp(name);
    ASSERT_GE(fd, 0);
    unlink(name);
    ASSERT_EQ(pwrite(fd, "x", 1, 0), 1);
    files.push_back({std::make_shared<FileDescriptor>(fd), PageCache::Create(*memory_, kept_)});
  }
  for (auto& f : files) {
    auto m = f.cache->NewMapping(f.fd, false);
    ASSERT_TRUE(f.cache->PageFor(0).has_value());
  }
  // Three pages kept, two allowed: the first file unmapped goes.
  EXPECT_FALSE(files[0].cache->HasPages());
  EXPECT_TRUE(files[1].cache->HasPages());
  EXPECT_TRUE(files[2].cache->HasPages());
  EXPECT_EQ(kept_.kept_pages(), 2u);
  EXPECT_EQ(kept_.holders(), 2u);
  // Mapping one again takes it out of the budget; unmapping it makes it the youngest.
  {
    auto m = files[1].cache->NewMapping(files[1].fd, false);
    EXPECT_EQ(kept_.kept_pages(), 1u);
    auto m0 = files[0].cache->NewMapping(files[0].fd, false);
    ASSERT_TRUE(files[0].cache->PageFor(0).has_value());
    m0.reset();  // 2 kept: files 2 and 0
    EXPECT_EQ(kept_.kept_pages(), 2u);
  }
  // File 1 unmapped last: file 2 is the oldest now.
  EXPECT_FALSE(files[2].cache->HasPages());
  EXPECT_TRUE(files[0].cache->HasPages());
  EXPECT_TRUE(files[1].cache->HasPages());
  // A smaller budget takes back more.
  kept_.SetBudgetBytes(0);
  EXPECT_EQ(kept_.kept_pages(), 0u);
  EXPECT_FALSE(files[0].cache->HasPages());
  EXPECT_EQ(memory_->ReclaimableBytes(), 0u);
}

// The bookkeeping alone, with holders that only record what they were asked.
class FakeHolder : public KeptPages::Holder {
 public:
  explicit FakeHolder(KeptPages& kept) : kept_(kept) {}
  void EvictKept(uint64_t seq) override {
    evicted.push_back(seq);
    if (seq == seq_) kept_.Forget(this);
  }
  void Keep(const std::shared_ptr<FakeHolder>& self, uint64_t pages) {
    seq_ = kept_.Keep(self, pages);
  }
  std::vector<uint64_t> evicted;

 private:
  KeptPages& kept_;
  uint64_t seq_ = 0;
};

TEST(KeptPagesTest, BookkeepingAndOrder) {
  KeptPages kept(10 * kPageSize);
  auto a = std::make_shared<FakeHolder>(kept);
  auto b = std::make_shared<FakeHolder>(kept);
  auto c = std::make_shared<FakeHolder>(kept);
  a->Keep(a, 4);
  b->Keep(b, 4);
  EXPECT_EQ(kept.kept_pages(), 8u);
  kept.Reclaim();
  EXPECT_TRUE(a->evicted.empty());
  a->Keep(a, 4);  // again: now the youngest
  c->Keep(c, 4);
  EXPECT_EQ(kept.kept_pages(), 12u);
  kept.Reclaim();
  EXPECT_EQ(b->evicted.size(), 1u);  // the oldest, and enough
  EXPECT_TRUE(a->evicted.empty());
  EXPECT_TRUE(c->evicted.empty());
  EXPECT_EQ(kept.kept_pages(), 8u);
  kept.Resize(a.get(), 1);
  EXPECT_EQ(kept.kept_pages(), 5u);
  kept.Forget(c.get());
  EXPECT_EQ(kept.kept_pages(), 1u);
  EXPECT_EQ(kept.holders(), 1u);
  // A holder gone without forgetting (a dying cache) is dropped from the list by Reclaim.
  a.reset();
  kept.SetBudgetBytes(0);
  EXPECT_EQ(kept.kept_pages(), 0u);
  EXPECT_EQ(kept.holders(), 0u);
}

TEST(KeptPagesTest, BudgetFollowsTheSandboxsMemory) {
  EXPECT_EQ(KeptPages::BudgetFor(uint64_t{24} << 30), uint64_t{256} << 20);
  EXPECT_EQ(KeptPages::BudgetFor(uint64_t{2} << 30), uint64_t{64} << 20);
  EXPECT_EQ(KeptPages::BudgetFor(uint64_t{256} << 20), uint64_t{16} << 20);
}

}  // namespace
}  // namespace sentry::fsimpl::gofer
