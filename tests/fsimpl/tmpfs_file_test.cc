// tmpfs file data: reads and writes through file descriptions, positions, sparse files, holes,
// truncation and the MemoryFile pages behind them.
#include <gtest/gtest.h>

#include <thread>

#include "sentry/fsimpl/tmpfs/regular_file.h"
#include "tests/fsimpl/vfs_harness.h"

namespace sentry::fsimpl::tmpfs {
namespace {

using testing::ErrnoOf;
using testing::ReadStr;
using testing::VfsHarness;
using testing::WriteStr;

constexpr uint64_t kPage = 4096;

class TmpfsFileTest : public ::testing::Test {
 protected:
  std::unique_ptr<mm::MemoryFile> memory_ = testing::TestMemoryFile();
  std::shared_ptr<Filesystem> fs_ = Filesystem::Create(*memory_, 01777, 0, 0);
  VfsHarness vfs_{fs_->root()};

  std::shared_ptr<vfs::FileDescription> OpenOk(std::string_view path, int flags) {
    auto f = vfs_.Open(path, flags);
    EXPECT_TRUE(f.has_value()) << path << ": errno " << ErrnoOf(f);
    return f.value_or(nullptr);
  }
  static RegularInode& Inode(vfs::FileDescription& f) {
    return static_cast<RegularFile&>(f).inode();
  }
};

TEST_F(TmpfsFileTest, WriteThenReadAdvancesThePosition) {
  auto f = OpenOk("f", O_CREAT | O_RDWR);
  EXPECT_EQ(*WriteStr(*f, "hello "), 6u);
  EXPECT_EQ(*WriteStr(*f, "world"), 5u);
  EXPECT_EQ(*f->Seek(0, SEEK_CUR), 11);
  EXPECT_EQ(*ReadStr(*f, 10), "");  // at the end
  EXPECT_EQ(*f->Seek(0, SEEK_SET), 0);
  EXPECT_EQ(*ReadStr(*f, 5), "hello");
  EXPECT_EQ(*ReadStr(*f, 100), " world");
  EXPECT_EQ(*ReadStr(*f, 100), "");
  // pread and pwrite leave the position alone.
  EXPECT_EQ(*ReadStr(*f, 3, 6), "wor");
  EXPECT_EQ(*WriteStr(*f, "W", 6), 1u);
  EXPECT_EQ(*f->Seek(0, SEEK_CUR), 11);
  EXPECT_EQ(*ReadStr(*f, 100, 0), "hello World");
  EXPECT_EQ(*ReadStr(*f, 100, 1000), "");  // past the end
  EXPECT_EQ(f->Stat()->st_size, 11);
  EXPECT_EQ(f->Stat()->st_blocks, 8);
  EXPECT_EQ(*WriteStr(*f, ""), 0u);
}

TEST_F(TmpfsFileTest, ScatterGatherAcrossPages) {
  auto f = OpenOk("f", O_CREAT | O_RDWR);
  std::string a(kPage - 3, 'a'), b(10, 'b'), c(2 * kPage, 'c');
  iovec out[] = {{a.data(), a.size()}, {nullptr, 0}, {b.data(), b.size()}, {c.data(), c.size()}};
  ASSERT_EQ(*f->Write(out, 0), a.size() + b.size() + c.size());
  std::string x(kPage + 1, 0), y(5, 0), z(3 * kPage, 0);
  iovec in[] = {{x.data(), x.size()}, {y.data(), y.size()}, {z.data(), z.size()}};
  uint64_t total = a.size() + b.size() + c.size();
  ASSERT_EQ(*f->Read(in, 0), total);
  std::string all = a + b + c;
  EXPECT_EQ(x, all.substr(0, x.size()));
  EXPECT_EQ(y, all.substr(x.size(), 5));
  EXPECT_EQ(z.substr(0, total - x.size() - 5), all.substr(x.size() + 5));
  EXPECT_EQ(Inode(*f).allocated_pages(), 4u);  // 12295 bytes
}

TEST_F(TmpfsFileTest, SparseFilesAllocateOnlyWrittenPages) {
  uint64_t base = memory_->AllocatedBytes();
  auto f = OpenOk("f", O_CREAT | O_RDWR);
  EXPECT_EQ(*WriteStr(*f, "tail", 1 << 20), 4u);
  EXPECT_EQ(f->Stat()->st_size, (1 << 20) + 4);
  EXPECT_EQ(f->Stat()->st_blocks, 8);
  EXPECT_EQ(memory_->AllocatedBytes() - base, kPage);
  std::string head = *ReadStr(*f, 1 << 20, 0);
  EXPECT_EQ(head, std::string(1 << 20, '\0'));
  EXPECT_EQ(*ReadStr(*f, 10, 1 << 20), "tail");
  EXPECT_EQ(memory_->AllocatedBytes() - base, kPage);  // reading holes allocates nothing
  // Writing into the hole fills just those pages.
  EXPECT_EQ(*WriteStr(*f, std::string(kPage + 2, 'x'), 3 * kPage - 1), kPage + 2);
  EXPECT_EQ(memory_->AllocatedBytes() - base, 4 * kPage);
  EXPECT_EQ(*ReadStr(*f, 3, 3 * kPage - 2), std::string("\0x", 2) + "x");
}

TEST_F(TmpfsFileTest, TruncateFreesPagesAndZeroesTheTail) {
  uint64_t base = memory_->AllocatedBytes();
  auto f = OpenOk("f", O_CREAT | O_RDWR);
  ASSERT_EQ(*WriteStr(*f, std::string(10 * kPage, 'z')), 10 * kPage);
  EXPECT_EQ(memory_->AllocatedBytes() - base, 10 * kPage);
  ASSERT_TRUE(f->Truncate(2 * kPage + 100));
  EXPECT_EQ(memory_->AllocatedBytes() - base, 3 * kPage);
  EXPECT_EQ(fs_->StatFs()->f_blocks - fs_->StatFs()->f_bfree, 3u);
  // Growing again shows zeros where the data was cut off, even inside the kept page.
  ASSERT_TRUE(f->Truncate(4 * kPage));
  EXPECT_EQ(*ReadStr(*f, 4, 2 * kPage + 98), std::string("zz\0\0", 4));
  EXPECT_EQ(*ReadStr(*f, kPage, 3 * kPage), std::string(kPage, '\0'));
  EXPECT_EQ(memory_->AllocatedBytes() - base, 3 * kPage);
  ASSERT_TRUE(vfs_.Truncate("f", 0));
  EXPECT_EQ(memory_->AllocatedBytes(), base);
  EXPECT_EQ(f->Stat()->st_size, 0);
  EXPECT_EQ(*ReadStr(*f, 10, 0), "");
  // ftruncate always updates the times, even to the same size.
  vfs::SetStatRequest old;
  old.mtime = timespec{100, 0};
  ASSERT_TRUE(vfs_.SetStat("f", old));
  ASSERT_TRUE(f->Truncate(0));
  EXPECT_GT(f->Stat()->st_mtim.tv_sec, 100);
}

TEST_F(TmpfsFileTest, WritesUpdateTimesAndReadsUpdateAtime) {
  auto f = OpenOk("f", O_CREAT | O_RDWR);
  vfs::SetStatRequest old;
  old.atime = timespec{100, 0};
  old.mtime = timespec{100, 0};
  ASSERT_TRUE(vfs_.SetStat("f", old));
  struct stat st = *f->Stat();
  ASSERT_TRUE(ReadStr(*f, 1, 0));
  EXPECT_GT(f->Stat()->st_atim.tv_sec, 100);  // relatime: atime was older than mtime... or a day
  EXPECT_EQ(f->Stat()->st_mtim.tv_sec, 100);
  ASSERT_TRUE(WriteStr(*f, "x"));
  EXPECT_GT(f->Stat()->st_mtim.tv_sec, 100);
  EXPECT_GE(f->Stat()->st_ctim.tv_sec, st.st_ctim.tv_sec);
}

TEST_F(TmpfsFileTest, Append) {
  auto f = OpenOk("f", O_CREAT | O_WRONLY | O_APPEND);
  auto g = OpenOk("f", O_WRONLY | O_APPEND);
  ASSERT_TRUE(WriteStr(*f, "one,"));
  ASSERT_TRUE(WriteStr(*g, "two,"));
  ASSERT_TRUE(WriteStr(*f, "three"));
  EXPECT_EQ(*f->Seek(0, SEEK_CUR), 13);
  // Linux's pwrite on an O_APPEND file appends too.
  ASSERT_TRUE(WriteStr(*g, "!", 0));
  auto r = OpenOk("f", O_RDONLY);
  EXPECT_EQ(*ReadStr(*r, 100), "one,two,three!");
}

TEST_F(TmpfsFileTest, ConcurrentAppendsNeverOverlap) {
  auto f = OpenOk("f", O_CREAT | O_WRONLY | O_APPEND);
  constexpr int kThreads = 4, kWrites = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto mine = vfs_.Open("f", O_WRONLY | O_APPEND);
      std::string line(99, static_cast<char>('a' + t));
      line += '\n';
      for (int i = 0; i < kWrites; ++i) ASSERT_EQ(*WriteStr(**mine, line), 100u);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(f->Stat()->st_size, kThreads * kWrites * 100);
  auto r = OpenOk("f", O_RDONLY);
  std::string all = *ReadStr(*r, kThreads * kWrites * 100);
  for (size_t i = 0; i < all.size(); i += 100) {
    ASSERT_EQ(all.substr(i, 99), std::string(99, all[i])) << "at " << i;
  }
}

TEST_F(TmpfsFileTest, OpenTruncates) {
  {
    auto f = OpenOk("f", O_CREAT | O_WRONLY);
    ASSERT_TRUE(WriteStr(*f, "content"));
  }
  auto f = OpenOk("f", O_RDWR | O_TRUNC);
  EXPECT_EQ(f->Stat()->st_size, 0);
  {
    auto w = OpenOk("f", O_WRONLY);
    ASSERT_TRUE(WriteStr(*w, "again"));
  }
  // Linux truncates with O_TRUNC whatever the access mode (the VFS checks write permission).
  auto r = OpenOk("f", O_RDONLY | O_TRUNC);
  EXPECT_EQ(r->Stat()->st_size, 0);
  EXPECT_EQ(r->status_flags(), O_RDONLY);
}

TEST_F(TmpfsFileTest, AccessModesAndBadOffsets) {
  auto w = OpenOk("f", O_CREAT | O_WRONLY);
  auto r = OpenOk("f", O_RDONLY);
  EXPECT_EQ(ErrnoOf(ReadStr(*w, 1)), EBADF);
  EXPECT_EQ(ErrnoOf(WriteStr(*r, "x")), EBADF);
  EXPECT_EQ(ErrnoOf(ReadStr(*r, 1, -1)), EINVAL);
  EXPECT_EQ(ErrnoOf(WriteStr(*w, "x", -1)), EINVAL);
  // The range may not wrap past INT64_MAX (rw_verify_area).
  EXPECT_EQ(ErrnoOf(WriteStr(*w, "abc", INT64_MAX - 2)), EINVAL);
  EXPECT_EQ(ErrnoOf(ReadStr(*r, 3, INT64_MAX - 2)), EINVAL);
  EXPECT_EQ(*WriteStr(*w, "ab", INT64_MAX - 2), 2u);
  EXPECT_EQ(w->Stat()->st_size, INT64_MAX);
  EXPECT_EQ(*WriteStr(*w, "", INT64_MAX), 0u);
  ASSERT_TRUE(w->Truncate(0));
}

TEST_F(TmpfsFileTest, Seek) {
  auto f = OpenOk("f", O_CREAT | O_RDWR);
  ASSERT_TRUE(WriteStr(*f, "0123456789"));
  EXPECT_EQ(*f->Seek(-3, SEEK_END), 7);
  EXPECT_EQ(*ReadStr(*f, 10), "789");
  EXPECT_EQ(*f->Seek(-2, SEEK_CUR), 8);
  EXPECT_EQ(ErrnoOf(f->Seek(-9, SEEK_CUR)), EINVAL);
  EXPECT_EQ(ErrnoOf(f->Seek(-1, SEEK_SET)), EINVAL);
  EXPECT_EQ(ErrnoOf(f->Seek(0, 42)), EINVAL);
  EXPECT_EQ(*f->Seek(INT64_MAX, SEEK_SET), INT64_MAX);
  EXPECT_EQ(ErrnoOf(f->Seek(1, SEEK_CUR)), EINVAL);
  EXPECT_EQ(*f->Seek(100, SEEK_END), 110);  // seeking past the end is fine
  EXPECT_EQ(*WriteStr(*f, "x"), 1u);
  EXPECT_EQ(*ReadStr(*f, 200, 9), "9" + std::string(100, '\0') + "x");
}

TEST_F(TmpfsFileTest, SeekDataAndHole) {
  // Mirrors what the host's tmpfs answers for a file with one page of data at 1 MiB.
  auto f = OpenOk("f", O_CREAT | O_RDWR);
  ASSERT_TRUE(WriteStr(*f, "x", 1 << 20));
  EXPECT_EQ(*f->Seek(0, SEEK_DATA), 1 << 20);
  EXPECT_EQ(*f->Seek(0, SEEK_HOLE), 0);
  EXPECT_EQ(*f->Seek(1 << 20, SEEK_HOLE), (1 << 20) + 1);  // the end counts as a hole
  EXPECT_EQ(*f->Seek(1 << 20, SEEK_DATA), 1 << 20);
  EXPECT_EQ(ErrnoOf(f->Seek((1 << 20) + 1, SEEK_DATA)), ENXIO);
  EXPECT_EQ(ErrnoOf(f->Seek((1 << 20) + 1, SEEK_HOLE)), ENXIO);
  EXPECT_EQ(ErrnoOf(f->Seek(-1, SEEK_DATA)), ENXIO);
  ASSERT_TRUE(f->Truncate(3 << 20));
  EXPECT_EQ(*f->Seek((1 << 20) + 5, SEEK_HOLE), (1 << 20) + 4096);
  EXPECT_EQ(*f->Seek((1 << 20) + 5, SEEK_DATA), (1 << 20) + 5);
  EXPECT_EQ(ErrnoOf(f->Seek(2 << 20, SEEK_DATA)), ENXIO);
  EXPECT_EQ(*f->Seek(0, SEEK_CUR), (1 << 20) + 5);
}

TEST_F(TmpfsFileTest, DataLivesAsLongAsANameOrAnOpenFile) {
  uint64_t base = memory_->AllocatedBytes();
  auto f = OpenOk("f", O_CREAT | O_RDWR);
  ASSERT_TRUE(WriteStr(*f, std::string(5 * kPage, 'q')));
  ASSERT_TRUE(vfs_.Link("f", "g"));
  ASSERT_TRUE(vfs_.Unlink("f"));
  ASSERT_TRUE(vfs_.Unlink("g"));
  EXPECT_EQ(memory_->AllocatedBytes() - base, 5 * kPage);  // still open
  EXPECT_EQ(*ReadStr(*f, 3, 0), "qqq");
  ASSERT_TRUE(WriteStr(*f, "more"));
  f.reset();
  EXPECT_EQ(memory_->AllocatedBytes(), base);
  // A whole tree goes away with its file system.
  std::weak_ptr<vfs::Inode> root;
  {
    auto fs = Filesystem::Create(*memory_, 0755, 0, 0);
    root = fs->root();
    VfsHarness vfs(fs->root());
    ASSERT_TRUE(vfs.Mkdir("d"));
    auto h = vfs.Open("d/h", O_CREAT | O_RDWR);
    ASSERT_TRUE(h);
    ASSERT_TRUE(WriteStr(**h, std::string(3 * kPage, 'h')));
    EXPECT_EQ(memory_->AllocatedBytes() - base, 3 * kPage);
  }
  EXPECT_TRUE(root.expired());
  EXPECT_EQ(memory_->AllocatedBytes(), base);
}

TEST_F(TmpfsFileTest, FileOffsetOfPage) {
  auto f = OpenOk("f", O_CREAT | O_RDWR);
  RegularInode& inode = Inode(*f);
  EXPECT_EQ(ErrnoOf(inode.FileOffsetOfPage(0, true)), ENXIO);  // past the end
  ASSERT_TRUE(WriteStr(*f, "page one", kPage));
  EXPECT_EQ(ErrnoOf(inode.FileOffsetOfPage(0, false)), ENODATA);  // a hole
  auto one = inode.FileOffsetOfPage(1, false);
  ASSERT_TRUE(one);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(memory_->Access(*one)), 8), "page one");
  EXPECT_EQ(ErrnoOf(inode.FileOffsetOfPage(2, true)), ENXIO);
  auto zero = inode.FileOffsetOfPage(0, true);
  ASSERT_TRUE(zero);
  // Writes through the mapping are what reads see (MAP_SHARED coherence).
  std::memcpy(memory_->Access(*zero) + 10, "mapped", 6);
  EXPECT_EQ(*ReadStr(*f, 6, 10), "mapped");
  EXPECT_EQ(*inode.FileOffsetOfPage(0, false), *zero);
  EXPECT_EQ(f->Stat()->st_blocks, 16);
}

TEST_F(TmpfsFileTest, LargeWriteOverExistingPages) {
  auto f = OpenOk("f", O_CREAT | O_RDWR);
  // Every other page exists; one write covers them all and fills the gaps.
  for (uint64_t p = 0; p < 600; p += 2) ASSERT_TRUE(WriteStr(*f, "o", p * kPage));
  std::string big(600 * kPage, 'B');
  ASSERT_EQ(*WriteStr(*f, big, 0), big.size());
  EXPECT_EQ(Inode(*f).allocated_pages(), 600u);
  EXPECT_EQ(*ReadStr(*f, big.size(), 0), big);
}

TEST_F(TmpfsFileTest, FilesStartSealedAgainstSeals) {
  auto f = OpenOk("f", O_CREAT | O_RDWR);
  EXPECT_EQ(*f->GetSeals(), uint32_t{F_SEAL_SEAL});
  EXPECT_EQ(ErrnoOf(f->AddSeals(F_SEAL_WRITE)), EPERM);
}

TEST_F(TmpfsFileTest, SealsRefuseWhatTheyName) {
  auto f = OpenOk("f", O_CREAT | O_RDWR);
  ASSERT_EQ(*WriteStr(*f, std::string(5000, 'x'), 0), 5000u);
  Inode(*f).InitSeals(0);
  ASSERT_TRUE(f->AddSeals(F_SEAL_GROW | F_SEAL_SHRINK));
  // GROW: a write is cut at the last page boundary inside the file, or refused.
  EXPECT_EQ(*WriteStr(*f, std::string(8192, 'g'), 0), kPage);
  EXPECT_EQ(ErrnoOf(WriteStr(*f, "g", 5000)), EPERM);
  EXPECT_EQ(*WriteStr(*f, "g", 4999), 1u);
  EXPECT_EQ(ErrnoOf(f->Truncate(6000)), EPERM);
  EXPECT_EQ(ErrnoOf(f->Truncate(10)), EPERM);  // SHRINK
  vfs::SetStatRequest shrink;
  shrink.size = 0;
  EXPECT_EQ(ErrnoOf(Inode(*f).SetStat(shrink)), EPERM);
  EXPECT_TRUE(f->Truncate(5000));
  ASSERT_TRUE(f->AddSeals(F_SEAL_WRITE));
  EXPECT_EQ(ErrnoOf(WriteStr(*f, "w", 0)), EPERM);
  EXPECT_EQ(*WriteStr(*f, "", 0), 0u);
  ASSERT_TRUE(f->AddSeals(vfs::kSealExec | F_SEAL_SEAL));  // mode 0644: execute bits stay off
  vfs::SetStatRequest chmod;
  chmod.mode = 0755;
  EXPECT_EQ(ErrnoOf(Inode(*f).SetStat(chmod)), EPERM);
  EXPECT_EQ(ErrnoOf(f->AddSeals(0)), EPERM);
  EXPECT_EQ(f->Stat()->st_size, 5000);
}

TEST_F(TmpfsFileTest, TmpFileHasNoNameUntilLinked) {
  auto root = fs_->root_dir();
  auto inode = root->TmpFile(0600, {}, /*linkable=*/true);
  ASSERT_TRUE(inode);
  EXPECT_EQ((*inode)->Stat()->st_nlink, 0u);
  EXPECT_EQ(root->ReadDir()->size(), 0u);
  ASSERT_TRUE(root->Link("named", **inode));
  EXPECT_EQ((*inode)->Stat()->st_nlink, 1u);
  EXPECT_EQ(vfs_.Stat("named")->st_ino, (*inode)->Stat()->st_ino);
}

}  // namespace
}  // namespace sentry::fsimpl::tmpfs
