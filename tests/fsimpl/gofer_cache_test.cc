// The gofer client's caches against a real gofer serving a temporary directory that the test
// changes "on the host" behind the client's back: a revalidating tree (a volume) shows every
// change at the next path walk, an exclusive one (the root under the overlay) keeps what it
// cached.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "sentry/fsimpl/gofer/gofer_fs.h"
#include "tests/fsimpl/vfs_harness.h"
#include "tests/gofer/gofer_test_util.h"

namespace sentry::fsimpl::testing {
namespace {

using gofer::CachePolicy;
using ::gofer::testing::GoferChild;
using ::gofer::testing::TempDir;
using ::gofer::testing::WriteHostFile;

class GoferCacheTest : public ::testing::Test {
 protected:
  void Serve(CachePolicy policy) {
    ::gofer::GoferConfig config;
    config.root = tmp_.path();
    config.pivot = false;
    child_ = std::make_unique<GoferChild>(config);
    // The client gets a channel of its own on the same socket; the test never uses the child's.
    auto channel = std::make_shared<::gofer::Channel>(FileDescriptor(::dup(child_->socket())));
    fs_ = std::make_shared<gofer::Filesystem>(std::move(channel));
    auto root = fs_->Attach(0, policy);
    ASSERT_TRUE(root.has_value()) << root.error().value;
    vfs_ = std::make_unique<VfsHarness>(*root, "gofer");
  }

  void TearDown() override {
    vfs_.reset();
    fs_.reset();
    child_.reset();
  }

  std::string Host(std::string_view rel) const { return tmp_ / rel; }

  TempDir tmp_;
  std::unique_ptr<GoferChild> child_;
  std::shared_ptr<gofer::Filesystem> fs_;
  std::unique_ptr<VfsHarness> vfs_;
};

TEST_F(GoferCacheTest, AFileMadeOnTheHostIsFound) {
  ASSERT_EQ(::mkdir(Host("d").c_str(), 0755), 0);
  Serve(CachePolicy::kRevalidate);
  EXPECT_EQ(ErrnoOf(vfs_->Stat("/d/new")), ENOENT);
  auto dir = vfs_->Open("/d", O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(dir.has_value());
  WriteHostFile(Host("d/new"), "made on the host\n");
  auto st = vfs_->Stat("/d/new");
  ASSERT_TRUE(st.has_value()) << st.error().value;
  EXPECT_EQ(st->st_size, 17);
  // The directory lists it, through a description opened before it existed.
  auto entries = vfs_->Lookup("/d")->inode().ReadDir();
  ASSERT_TRUE(entries.has_value());
  EXPECT_TRUE(std::ranges::any_of(*entries, [](auto& e) { return e.name == "new"; }));
}

TEST_F(GoferCacheTest, AFileRemovedOnTheHostIsGone) {
  ASSERT_EQ(::mkdir(Host("d").c_str(), 0755), 0);
  WriteHostFile(Host("d/f"), "x");
  Serve(CachePolicy::kRevalidate);
  ASSERT_TRUE(vfs_->Stat("/d/f").has_value());
  ASSERT_EQ(::unlink(Host("d/f").c_str()), 0);
  EXPECT_EQ(ErrnoOf(vfs_->Stat("/d/f")), ENOENT);
  EXPECT_EQ(ErrnoOf(vfs_->Open("/d/f", O_RDONLY)), ENOENT);
  // Removing the whole directory drops what was cached below it.
  ASSERT_EQ(::rmdir(Host("d").c_str()), 0);
  EXPECT_EQ(ErrnoOf(vfs_->Stat("/d/f")), ENOENT);
  EXPECT_EQ(ErrnoOf(vfs_->Stat("/d")), ENOENT);
}

TEST_F(GoferCacheTest, AttributesChangedOnTheHostShow) {
  WriteHostFile(Host("f"), "one\n");
  ASSERT_EQ(::chmod(Host("f").c_str(), 0644), 0);
  Serve(CachePolicy::kRevalidate);
  auto before = vfs_->Stat("/f");
  ASSERT_TRUE(before.has_value());
  EXPECT_EQ(before->st_size, 4);
  struct timespec old_times[2] = {{1000, 0}, {1000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, Host("f").c_str(), old_times, 0), 0);
  {
    FileDescriptor fd(::open(Host("f").c_str(), O_WRONLY | O_APPEND));
    ASSERT_EQ(::write(fd.get(), "two\n", 4), 4);
  }
  ASSERT_EQ(::chmod(Host("f").c_str(), 0600), 0);
  ASSERT_EQ(::link(Host("f").c_str(), Host("g").c_str()), 0);
  auto after = vfs_->Stat("/f");
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->st_ino, before->st_ino);
  EXPECT_EQ(after->st_size, 8);
  EXPECT_EQ(after->st_mode, S_IFREG | 0600u);
  EXPECT_EQ(after->st_nlink, 2u);
  EXPECT_GT(after->st_mtim.tv_sec, 1000);
  // What the file says now, read through a fresh open.
  auto file = vfs_->Open("/f", O_RDONLY);
  ASSERT_TRUE(file.has_value());
  auto data = ReadStr(**file, 16);
  ASSERT_TRUE(data.has_value());
  EXPECT_EQ(*data, "one\ntwo\n");
}

TEST_F(GoferCacheTest, ARenameOnTheHostMovesTheName) {
  ASSERT_EQ(::mkdir(Host("a").c_str(), 0755), 0);
  WriteHostFile(Host("a/f"), "x");
  Serve(CachePolicy::kRevalidate);
  auto before = vfs_->Stat("/a/f");
  ASSERT_TRUE(before.has_value());
  ASSERT_EQ(::rename(Host("a").c_str(), Host("b").c_str()), 0);
  EXPECT_EQ(ErrnoOf(vfs_->Stat("/a/f")), ENOENT);
  auto moved = vfs_->Stat("/b/f");
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->st_ino, before->st_ino);
}

TEST_F(GoferCacheTest, ANameTheHostReplacedIsTheNewFile) {
  WriteHostFile(Host("x"), "a file");
  Serve(CachePolicy::kRevalidate);
  ASSERT_TRUE(S_ISREG(vfs_->Stat("/x")->st_mode));
  ASSERT_EQ(::unlink(Host("x").c_str()), 0);
  ASSERT_EQ(::mkdir(Host("x").c_str(), 0755), 0);
  WriteHostFile(Host("x/y"), "inside");
  auto st = vfs_->Stat("/x/y");
  ASSERT_TRUE(st.has_value()) << st.error().value;
  EXPECT_EQ(st->st_size, 6);
  EXPECT_TRUE(S_ISDIR(vfs_->Stat("/x")->st_mode));
}

// create(O_EXCL), mkdir, unlink and rename look up their last name after resolving its parent:
// that name is checked too, so a name removed on the host can be made again.
TEST_F(GoferCacheTest, TheLastNameOfACreateIsChecked) {
  WriteHostFile(Host("f"), "x");
  Serve(CachePolicy::kRevalidate);
  ASSERT_TRUE(vfs_->Stat("/f").has_value());
  ASSERT_EQ(::unlink(Host("f").c_str()), 0);
  auto made = vfs_->Open("/f", O_CREAT | O_EXCL | O_RDWR);
  ASSERT_TRUE(made.has_value()) << made.error().value;
  // And the other way: a file the host made is there for O_EXCL to refuse.
  WriteHostFile(Host("g"), "x");
  EXPECT_EQ(ErrnoOf(vfs_->Open("/g", O_CREAT | O_EXCL | O_RDWR)), EEXIST);
}

TEST_F(GoferCacheTest, AnOpenFileRemovedOnTheHostStillWorks) {
  WriteHostFile(Host("f"), "still here");
  Serve(CachePolicy::kRevalidate);
  auto file = vfs_->Open("/f", O_RDWR);
  ASSERT_TRUE(file.has_value());
  ASSERT_EQ(::unlink(Host("f").c_str()), 0);
  auto data = ReadStr(**file, 32);
  ASSERT_TRUE(data.has_value());
  EXPECT_EQ(*data, "still here");
  ASSERT_TRUE(WriteStr(**file, "!").has_value());
  auto st = (*file)->Stat();
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->st_nlink, 0u);
  EXPECT_EQ(st->st_size, 11);
  EXPECT_EQ(ErrnoOf(vfs_->Stat("/f")), ENOENT);
}

// The root under the overlay is nobody else's to change: what it cached stays cached.
TEST_F(GoferCacheTest, AnExclusiveTreeKeepsItsCache) {
  WriteHostFile(Host("f"), "x");
  Serve(CachePolicy::kExclusive);
  ASSERT_TRUE(vfs_->Stat("/f").has_value());
  ASSERT_EQ(::unlink(Host("f").c_str()), 0);
  EXPECT_TRUE(vfs_->Stat("/f").has_value());
}

}  // namespace
}  // namespace sentry::fsimpl::testing
