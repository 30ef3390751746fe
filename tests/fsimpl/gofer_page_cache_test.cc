// The gofer page cache driven directly, on a host temporary file: filling from the host,
// write-through, dirty pages laid over reads, truncation, write-back clipped to the file's
// size, and every page given back when the last mapping goes.
#include "sentry/fsimpl/gofer/page_cache.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>

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
    cache_ = PageCache::Create(*memory_);
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
    auto got = cache_->Write({&v, 1}, [&]() -> Result<std::pair<uint64_t, uint64_t>> {
      ssize_t r = pwritev(fd_->get(), &v, 1, static_cast<off_t>(at));
      if (r < 0) return Err(errno);
      return std::pair{static_cast<uint64_t>(r), at};
    });
    EXPECT_TRUE(got.has_value());
  }

  std::unique_ptr<mm::MemoryFile> memory_;
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
                  ->Truncate(100,
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

TEST_F(PageCacheTest, TheLastMappingWritesBackAndFreesEverything) {
  uint64_t before = memory_->AllocatedBytes();
  PutHost(std::string(2 * kPageSize, 'o'), 0);
  auto a = cache_->NewMapping(fd_, true);
  auto b = cache_->NewMapping(fd_, false);
  char* p = Page(1);
  cache_->NoteWritablePages(1, 2);
  std::memcpy(p, "kept", 4);
  EXPECT_GT(memory_->AllocatedBytes(), before);
  a.reset();
  EXPECT_EQ(GetHost(4, kPageSize), "oooo");  // one mapping is left
  b.reset();
  EXPECT_EQ(GetHost(4, kPageSize), "kept");
  EXPECT_EQ(memory_->AllocatedBytes(), before);
  EXPECT_EQ(cache_->DirtyBlocks(), 0u);
}

}  // namespace
}  // namespace sentry::fsimpl::gofer
