// tmpfs names: directories, links, symlinks, special files, rename, attributes and statfs,
// driven through sentry/vfs path resolution.
#include <dirent.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/sysmacros.h>

#include <algorithm>

#include "sentry/fsimpl/tmpfs/regular_file.h"
#include "tests/fsimpl/vfs_harness.h"

namespace sentry::fsimpl::tmpfs {
namespace {

using testing::ErrnoOf;
using testing::ReadStr;
using testing::VfsHarness;
using testing::WriteStr;

class TmpfsTest : public ::testing::Test {
 protected:
  std::unique_ptr<mm::MemoryFile> memory_ = testing::TestMemoryFile();
  std::shared_ptr<Filesystem> fs_ = Filesystem::Create(*memory_, 0755, 0, 0);
  VfsHarness vfs_{fs_->root()};

  struct stat StatOf(std::string_view path) {
    auto st = vfs_.Lstat(path);
    EXPECT_TRUE(st.has_value()) << path << ": errno " << ErrnoOf(st);
    struct stat empty {};
    return st.value_or(empty);
  }
  void Touch(std::string_view path, std::string_view data = "") {
    auto f = vfs_.Open(path, O_CREAT | O_WRONLY);
    ASSERT_TRUE(f.has_value()) << path << ": errno " << ErrnoOf(f);
    if (!data.empty()) {
      ASSERT_EQ(WriteStr(**f, data), data.size());
    }
  }
  std::string Contents(std::string_view path) {
    auto f = vfs_.Open(path, O_RDONLY);
    if (!f) return "<errno " + std::to_string(ErrnoOf(f)) + ">";
    return ReadStr(**f, 1 << 16).value_or("<read error>");
  }
  std::vector<std::string> Names(std::string_view dir) {
    std::vector<std::string> names;
    auto vd = vfs_.Lookup(dir);
    if (!vd) return {"<errno " + std::to_string(ErrnoOf(vd)) + ">"};
    auto entries = vd->inode().ReadDir();
    if (!entries) return {"<errno " + std::to_string(ErrnoOf(entries)) + ">"};
    for (auto& e : *entries) names.push_back(e.name);
    return names;
  }
};

bool Later(const timespec& a, const timespec& b) {
  return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

TEST_F(TmpfsTest, RootLooksLikeLinuxTmpfs) {
  struct stat st = StatOf("/");
  EXPECT_EQ(st.st_mode, S_IFDIR | 0755);
  EXPECT_EQ(st.st_ino, 1u);
  EXPECT_EQ(st.st_nlink, 2u);
  EXPECT_EQ(st.st_size, 40);  // 2 * BOGO_DIRENT_SIZE
  EXPECT_EQ(st.st_dev, fs_->dev());
  EXPECT_EQ(fs_->root()->FilesystemId(), fs_->id());
  auto sfs = fs_->StatFs();
  ASSERT_TRUE(sfs);
  EXPECT_EQ(sfs->f_type, TMPFS_MAGIC);
  EXPECT_EQ(sfs->f_bsize, 4096);
  EXPECT_EQ(sfs->f_namelen, 255);
  EXPECT_EQ(sfs->f_blocks, (1ULL << 30) / 4096);
  EXPECT_EQ(sfs->f_bfree, sfs->f_blocks);
}

TEST_F(TmpfsTest, MkdirCountsLinksAndEntries) {
  ASSERT_TRUE(vfs_.Mkdir("a"));
  ASSERT_TRUE(vfs_.Mkdir("a/b", 0700));
  Touch("a/f");
  EXPECT_EQ(StatOf("/").st_nlink, 3u);
  EXPECT_EQ(StatOf("a").st_nlink, 3u);
  EXPECT_EQ(StatOf("a").st_size, 80);
  EXPECT_EQ(StatOf("a/b").st_mode, S_IFDIR | 0700);
  EXPECT_EQ(StatOf("a/b").st_nlink, 2u);
  EXPECT_EQ(StatOf("a/f").st_nlink, 1u);
  EXPECT_NE(StatOf("a/b").st_ino, StatOf("a/f").st_ino);
  EXPECT_EQ(ErrnoOf(vfs_.Mkdir("a")), EEXIST);
  EXPECT_EQ(ErrnoOf(vfs_.Mkdir("a/f")), EEXIST);
  EXPECT_EQ(ErrnoOf(vfs_.Mkdir("nope/x")), ENOENT);
  EXPECT_EQ(ErrnoOf(vfs_.Mkdir("a/f/x")), ENOTDIR);
  // mkdir keeps only permission and sticky bits.
  ASSERT_TRUE(vfs_.Mkdir("s", 07777));
  EXPECT_EQ(StatOf("s").st_mode, S_IFDIR | 01777);
}

TEST_F(TmpfsTest, NameLengthLimit) {
  std::string longest(255, 'x'), too_long(256, 'y');
  EXPECT_TRUE(vfs_.Mkdir(longest));
  auto& root = *fs_->root();
  EXPECT_EQ(ErrnoOf(root.Mkdir(too_long, 0755, {})), ENAMETOOLONG);
  EXPECT_EQ(ErrnoOf(root.Create(too_long, 0644, {})), ENAMETOOLONG);
  EXPECT_EQ(ErrnoOf(root.Symlink(too_long, "t", {})), ENAMETOOLONG);
  EXPECT_EQ(ErrnoOf(root.Mknod(too_long, S_IFIFO | 0644, 0, {})), ENAMETOOLONG);
  EXPECT_EQ(ErrnoOf(root.Lookup(too_long)), ENAMETOOLONG);
  EXPECT_EQ(ErrnoOf(root.Unlink(too_long)), ENAMETOOLONG);
  EXPECT_EQ(ErrnoOf(root.Rmdir(too_long)), ENAMETOOLONG);
  EXPECT_EQ(ErrnoOf(root.Rename(longest, root, too_long, 0)), ENAMETOOLONG);
  EXPECT_EQ(ErrnoOf(root.Create(longest, 0644, {})), EEXIST);
}

TEST_F(TmpfsTest, CreateRefusesExistingNames) {
  Touch("f");
  auto& root = *fs_->root();
  EXPECT_EQ(ErrnoOf(root.Create("f", 0644, {})), EEXIST);
  ASSERT_TRUE(vfs_.Mkdir("d"));
  EXPECT_EQ(ErrnoOf(root.Create("d", 0644, {})), EEXIST);
  EXPECT_EQ(ErrnoOf(vfs_.Open("f", O_CREAT | O_EXCL | O_WRONLY)), EEXIST);
  // Operations that need a directory fail with ENOTDIR on a file.
  auto f = *vfs_.Lookup("f");
  EXPECT_EQ(ErrnoOf(f.inode().Lookup("x")), ENOTDIR);
  EXPECT_EQ(ErrnoOf(f.inode().ReadDir()), ENOTDIR);
  EXPECT_EQ(ErrnoOf(f.inode().Create("x", 0644, {})), ENOTDIR);
}

TEST_F(TmpfsTest, Mknod) {
  ASSERT_TRUE(vfs_.Mknod("fifo", S_IFIFO | 0640));
  ASSERT_TRUE(vfs_.Mknod("sock", S_IFSOCK | 0600));
  ASSERT_TRUE(vfs_.Mknod("reg", S_IFREG | 0600));
  ASSERT_TRUE(vfs_.Mknod("reg0", 0600));  // type 0 is a regular file
  EXPECT_EQ(StatOf("fifo").st_mode, S_IFIFO | 0640);
  EXPECT_EQ(StatOf("sock").st_mode, S_IFSOCK | 0600);
  EXPECT_EQ(StatOf("reg").st_mode, S_IFREG | 0600);
  EXPECT_EQ(StatOf("reg0").st_mode, S_IFREG | 0600);
  EXPECT_EQ(ErrnoOf(vfs_.Mknod("chr", S_IFCHR | 0600, makedev(1, 3))), EPERM);
  EXPECT_EQ(ErrnoOf(vfs_.Mknod("blk", S_IFBLK | 0600, makedev(8, 0))), EPERM);
  EXPECT_EQ(ErrnoOf(vfs_.Mknod("dir", S_IFDIR | 0600)), EPERM);
  EXPECT_EQ(ErrnoOf(vfs_.Mknod("bad", S_IFMT | 0600)), EINVAL);
  EXPECT_EQ(ErrnoOf(vfs_.Mknod("fifo", S_IFIFO | 0600)), EEXIST);
  // A FIFO opens as a pipe: without a reader, a non-blocking writer gets ENXIO and a
  // non-blocking reader succeeds (man 7 fifo). Sockets need the socket layer: ENXIO for now.
  EXPECT_EQ(ErrnoOf(vfs_.Open("fifo", O_WRONLY | O_NONBLOCK)), ENXIO);
  EXPECT_TRUE(vfs_.Open("fifo", O_RDONLY | O_NONBLOCK));
  EXPECT_EQ(ErrnoOf(vfs_.Open("sock", O_RDWR)), ENXIO);
  auto p = vfs_.Open("fifo", O_PATH);
  ASSERT_TRUE(p);
  EXPECT_TRUE((*p)->IsPath());
  EXPECT_EQ(ErrnoOf(vfs_.Truncate("fifo", 0)), EINVAL);
}

TEST_F(TmpfsTest, SymlinksResolve) {
  ASSERT_TRUE(vfs_.Mkdir("d"));
  Touch("d/f", "data");
  ASSERT_TRUE(vfs_.Symlink("d/f", "rel"));
  ASSERT_TRUE(vfs_.Symlink("/d", "abs"));
  ASSERT_TRUE(vfs_.Symlink("../d/f", "d/up"));
  ASSERT_TRUE(vfs_.Symlink("missing", "dangling"));
  EXPECT_EQ(*vfs_.ReadLink("rel"), "d/f");
  struct stat st = StatOf("rel");
  EXPECT_EQ(st.st_mode, S_IFLNK | 0777);
  EXPECT_EQ(st.st_size, 3);
  EXPECT_EQ(st.st_blocks, 0);
  EXPECT_EQ(Contents("rel"), "data");
  EXPECT_EQ(Contents("abs/f"), "data");
  EXPECT_EQ(Contents("d/up"), "data");
  EXPECT_EQ(vfs_.Stat("abs")->st_ino, StatOf("d").st_ino);
  EXPECT_EQ(ErrnoOf(vfs_.Open("dangling", O_RDONLY)), ENOENT);
  EXPECT_EQ(ErrnoOf(vfs_.Open("rel", O_RDONLY | O_NOFOLLOW)), ELOOP);
  EXPECT_TRUE(vfs_.Open("rel", O_PATH | O_NOFOLLOW));
  EXPECT_EQ(ErrnoOf(vfs_.Symlink("", "empty")), ENOENT);
  EXPECT_EQ(ErrnoOf(vfs_.Symlink(std::string(4096, 'x'), "huge")), ENAMETOOLONG);
  ASSERT_TRUE(vfs_.Symlink(std::string(4095, 'x'), "big"));
  EXPECT_EQ(StatOf("big").st_blocks, 8);  // long targets take a page, as on Linux
  EXPECT_EQ(ErrnoOf(vfs_.ReadLink("d")), EINVAL);
}

TEST_F(TmpfsTest, SymlinkLoopsAndChains) {
  ASSERT_TRUE(vfs_.Symlink("loop2", "loop1"));
  ASSERT_TRUE(vfs_.Symlink("loop1", "loop2"));
  ASSERT_TRUE(vfs_.Symlink("self", "self"));
  EXPECT_EQ(ErrnoOf(vfs_.Stat("loop1")), ELOOP);
  EXPECT_EQ(ErrnoOf(vfs_.Stat("self/x")), ELOOP);
  // A chain of 40 links resolves; 41 is one too many.
  Touch("target", "end");
  ASSERT_TRUE(vfs_.Symlink("target", "l0"));
  for (int i = 1; i <= 40; ++i) {
    ASSERT_TRUE(vfs_.Symlink("l" + std::to_string(i - 1), "l" + std::to_string(i)));
  }
  EXPECT_EQ(Contents("l39"), "end");  // 40 links followed
  EXPECT_EQ(ErrnoOf(vfs_.Stat("l40")), ELOOP);
}

TEST_F(TmpfsTest, HardLinks) {
  Touch("f", "x");
  ASSERT_TRUE(vfs_.Mkdir("d"));
  timespec ctime_before = StatOf("f").st_ctim;
  ASSERT_TRUE(vfs_.Link("f", "d/g"));
  ASSERT_TRUE(vfs_.Link("f", "h"));
  EXPECT_EQ(StatOf("f").st_nlink, 3u);
  EXPECT_EQ(StatOf("d/g").st_ino, StatOf("f").st_ino);
  EXPECT_FALSE(Later(ctime_before, StatOf("f").st_ctim));
  EXPECT_EQ(ErrnoOf(vfs_.Link("d", "d2")), EPERM);
  EXPECT_EQ(ErrnoOf(vfs_.Link("f", "h")), EEXIST);
  EXPECT_EQ(ErrnoOf(vfs_.Link("nope", "x")), ENOENT);
  ASSERT_TRUE(vfs_.Unlink("f"));
  EXPECT_EQ(StatOf("h").st_nlink, 2u);
  EXPECT_EQ(Contents("d/g"), "x");
  // A symlink is linked itself, not its target.
  ASSERT_TRUE(vfs_.Symlink("h", "s"));
  ASSERT_TRUE(vfs_.Link("s", "s2"));
  EXPECT_EQ(StatOf("s2").st_mode & S_IFMT, S_IFLNK);
  EXPECT_EQ(StatOf("s").st_nlink, 2u);
  // A file with no name left cannot get one back.
  auto open = vfs_.Open("h", O_RDONLY);
  ASSERT_TRUE(open);
  auto inode = (*open)->path().dentry->inode_ptr();
  ASSERT_TRUE(vfs_.Unlink("h"));
  ASSERT_TRUE(vfs_.Unlink("d/g"));
  EXPECT_EQ(inode->Stat()->st_nlink, 0u);
  EXPECT_EQ(ErrnoOf(fs_->root()->Link("again", *inode)), ENOENT);
  // Another tmpfs instance is another file system.
  auto other = Filesystem::Create(*memory_, 0755, 0, 0);
  auto file = other->root()->Create("o", 0644, {});
  ASSERT_TRUE(file);
  EXPECT_EQ(ErrnoOf(fs_->root()->Link("o", **file)), EXDEV);
  EXPECT_EQ(ErrnoOf(fs_->root()->Rename("s", *other->root(), "s", 0)), EXDEV);
}

TEST_F(TmpfsTest, TmpFileLinkable) {
  auto& root = *fs_->root_dir();
  auto linkable = root.TmpFile(0600, {}, true);
  ASSERT_TRUE(linkable);
  EXPECT_EQ((*linkable)->Stat()->st_nlink, 0u);
  EXPECT_EQ(StatOf("/").st_size, 40);  // no entry
  ASSERT_TRUE(root.Link("named", **linkable));
  EXPECT_EQ((*linkable)->Stat()->st_nlink, 1u);
  ASSERT_TRUE(root.Unlink("named"));
  EXPECT_EQ(ErrnoOf(root.Link("again", **linkable)), ENOENT);  // only the first link is free
  auto excl = root.TmpFile(0600, {}, false);
  ASSERT_TRUE(excl);
  EXPECT_EQ(ErrnoOf(root.Link("named", **excl)), ENOENT);
}

TEST_F(TmpfsTest, Unlink) {
  Touch("f");
  ASSERT_TRUE(vfs_.Mkdir("d"));
  EXPECT_EQ(ErrnoOf(vfs_.Unlink("d")), EISDIR);
  EXPECT_EQ(ErrnoOf(vfs_.Unlink("nope")), ENOENT);
  EXPECT_EQ(ErrnoOf(vfs_.Unlink("f/x")), ENOTDIR);
  timespec dir_mtime = StatOf("/").st_mtim;
  ASSERT_TRUE(vfs_.Unlink("f"));
  EXPECT_FALSE(Later(dir_mtime, StatOf("/").st_mtim));
  EXPECT_EQ(ErrnoOf(vfs_.Lstat("f")), ENOENT);
  EXPECT_EQ(StatOf("/").st_size, 60);
}

TEST_F(TmpfsTest, Rmdir) {
  ASSERT_TRUE(vfs_.Mkdir("d"));
  ASSERT_TRUE(vfs_.Mkdir("d/e"));
  Touch("f");
  EXPECT_EQ(ErrnoOf(vfs_.Rmdir("f")), ENOTDIR);
  EXPECT_EQ(ErrnoOf(vfs_.Rmdir("d")), ENOTEMPTY);
  EXPECT_EQ(ErrnoOf(vfs_.Rmdir("nope")), ENOENT);
  ASSERT_TRUE(vfs_.Symlink("d/e", "s"));
  EXPECT_EQ(ErrnoOf(vfs_.Rmdir("s")), ENOTDIR);
  // A removed directory that is still open: empty, unlistable, closed to new names.
  auto e = vfs_.Open("d/e", O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(e);
  auto e_inode = (*e)->path().dentry->inode_ptr();
  ASSERT_TRUE(vfs_.Rmdir("d/e"));
  EXPECT_EQ(StatOf("d").st_nlink, 2u);
  EXPECT_EQ(e_inode->Stat()->st_nlink, 0u);
  EXPECT_EQ(ErrnoOf(e_inode->ReadDir()), ENOENT);
  EXPECT_EQ(ErrnoOf((*e)->ReadDir([](const vfs::DirEntry&, int64_t) { return true; })), ENOENT);
  EXPECT_EQ(ErrnoOf(e_inode->Create("x", 0644, {})), ENOENT);
  EXPECT_EQ(ErrnoOf(e_inode->Mkdir("x", 0755, {})), ENOENT);
  EXPECT_EQ(ErrnoOf(e_inode->Symlink("x", "y", {})), ENOENT);
  EXPECT_EQ(ErrnoOf(e_inode->Lookup("x")), ENOENT);
  EXPECT_EQ(ErrnoOf(fs_->root()->Rename("f", *e_inode, "f", 0)), ENOENT);
  ASSERT_TRUE(vfs_.Rmdir("d"));
  EXPECT_EQ(StatOf("/").st_nlink, 2u);
}

TEST_F(TmpfsTest, ReadDirIsSortedAndTyped) {
  Touch("c");
  ASSERT_TRUE(vfs_.Mkdir("a"));
  ASSERT_TRUE(vfs_.Symlink("c", "b"));
  ASSERT_TRUE(vfs_.Mknod("d", S_IFIFO | 0644));
  ASSERT_TRUE(vfs_.Mknod("e", S_IFSOCK | 0644));
  auto entries = fs_->root()->ReadDir();
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 5u);
  std::vector<std::pair<std::string, int>> got;
  for (auto& e : *entries) got.emplace_back(e.name, e.type);
  std::vector<std::pair<std::string, int>> want = {
      {"a", DT_DIR}, {"b", DT_LNK}, {"c", DT_REG}, {"d", DT_FIFO}, {"e", DT_SOCK}};
  EXPECT_EQ(got, want);
  EXPECT_EQ((*entries)[0].ino, StatOf("a").st_ino);
  // Through a directory file: "." and ".." first.
  auto dir = vfs_.Open("a", O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(dir);
  std::vector<std::string> names;
  ASSERT_TRUE((*dir)->ReadDir([&](const vfs::DirEntry& e, int64_t) {
    names.push_back(e.name);
    return true;
  }));
  EXPECT_EQ(names, (std::vector<std::string>{".", ".."}));
}

TEST_F(TmpfsTest, OpenKinds) {
  ASSERT_TRUE(vfs_.Mkdir("d"));
  EXPECT_EQ(ErrnoOf(vfs_.Open("d", O_WRONLY)), EISDIR);
  EXPECT_EQ(ErrnoOf(vfs_.Open("d", O_RDWR)), EISDIR);
  EXPECT_EQ(ErrnoOf(vfs_.Open("d", O_RDONLY | O_TRUNC)), EISDIR);
  auto dir = vfs_.Open("d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_TRUE(dir);
  EXPECT_EQ((*dir)->status_flags(), O_RDONLY | O_DIRECTORY);
  EXPECT_EQ(ErrnoOf(testing::ReadStr(**dir, 10)), EISDIR);
  auto path = vfs_.Open("d", O_PATH | O_RDWR);
  ASSERT_TRUE(path);
  EXPECT_TRUE((*path)->IsPath());
  EXPECT_EQ((*path)->status_flags(), O_PATH);
  EXPECT_EQ((*path)->Stat()->st_ino, StatOf("d").st_ino);
  Touch("f");
  auto f = vfs_.Open("f", O_RDWR | O_CREAT | O_APPEND);
  ASSERT_TRUE(f);
  EXPECT_EQ((*f)->status_flags(), O_RDWR | O_APPEND);
  auto fvd = vfs_.Lookup("f");
  EXPECT_EQ(ErrnoOf(fvd->inode().Open(*fvd, O_RDONLY | O_DIRECTORY)), ENOTDIR);
  EXPECT_EQ(ErrnoOf(fvd->inode().Open(*fvd, O_PATH | O_DIRECTORY)), ENOTDIR);
  auto fp = vfs_.Open("f", O_PATH);
  ASSERT_TRUE(fp);
  EXPECT_EQ(ErrnoOf(testing::ReadStr(**fp, 1)), EINVAL);  // the VFS says EBADF before this
}

TEST_F(TmpfsTest, SetStat) {
  Touch("f", "hello");
  struct stat before = StatOf("f");
  vfs::SetStatRequest chmod;
  chmod.mode = S_IFDIR | 04751;  // the type bits are not the caller's to change
  ASSERT_TRUE(vfs_.SetStat("f", chmod));
  struct stat st = StatOf("f");
  EXPECT_EQ(st.st_mode, S_IFREG | 04751);
  EXPECT_FALSE(Later(before.st_ctim, st.st_ctim));
  // chown clears set-user-ID and (with group execute) set-group-ID, for root too.
  chmod.mode = 06755;
  ASSERT_TRUE(vfs_.SetStat("f", chmod));
  vfs::SetStatRequest chown;
  chown.uid = 1000;
  chown.gid = 100;
  ASSERT_TRUE(vfs_.SetStat("f", chown));
  st = StatOf("f");
  EXPECT_EQ(st.st_mode, S_IFREG | 0755);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 100u);
  chmod.mode = 06745;  // set-group-ID without group execute: mandatory locking, kept
  ASSERT_TRUE(vfs_.SetStat("f", chmod));
  ASSERT_TRUE(vfs_.SetStat("f", chown));
  EXPECT_EQ(StatOf("f").st_mode, S_IFREG | 02745);
  // Directories keep their bits on chown.
  ASSERT_TRUE(vfs_.Mkdir("d", 02755));
  EXPECT_EQ(StatOf("d").st_mode, S_IFDIR | 0755);  // mkdir drops set-group-ID
  chmod.mode = 02755;
  ASSERT_TRUE(vfs_.SetStat("d", chmod));
  ASSERT_TRUE(vfs_.SetStat("d", chown));
  EXPECT_EQ(StatOf("d").st_mode, S_IFDIR | 02755);
  // Times.
  vfs::SetStatRequest times;
  times.atime = timespec{1000, 5};
  times.mtime = timespec{2000, 6};
  ASSERT_TRUE(vfs_.SetStat("f", times));
  st = StatOf("f");
  EXPECT_EQ(st.st_atim.tv_sec, 1000);
  EXPECT_EQ(st.st_atim.tv_nsec, 5);
  EXPECT_EQ(st.st_mtim.tv_sec, 2000);
  EXPECT_GT(st.st_ctim.tv_sec, 2000);
  // Sizes: only regular files have one to set.
  EXPECT_EQ(ErrnoOf(vfs_.Truncate("d", 0)), EISDIR);
  ASSERT_TRUE(vfs_.Symlink("f", "s"));
  vfs::SetStatRequest truncate;
  truncate.size = 0;
  EXPECT_EQ(ErrnoOf(vfs_.Lookup("s", false)->inode().SetStat(truncate)), EINVAL);
  EXPECT_EQ(ErrnoOf(vfs_.Truncate("f", uint64_t{1} << 63)), EINVAL);
  ASSERT_TRUE(vfs_.Truncate("f", 2));
  EXPECT_EQ(Contents("f"), "he");
  // A failed request changes nothing.
  vfs::SetStatRequest mixed;
  mixed.size = 0;
  mixed.mode = 0777;
  EXPECT_EQ(ErrnoOf(vfs_.SetStat("d", mixed)), EISDIR);
  EXPECT_EQ(StatOf("d").st_mode, S_IFDIR | 02755);
  // truncate(2) to the same size leaves the times alone.
  ASSERT_TRUE(vfs_.SetStat("f", times));
  ASSERT_TRUE(vfs_.Truncate("f", 2));
  EXPECT_EQ(StatOf("f").st_mtim.tv_sec, 2000);
}

TEST_F(TmpfsTest, SetGroupIdDirectoriesPassTheirGroupOn) {
  ASSERT_TRUE(vfs_.Mkdir("g", 0775));
  vfs::SetStatRequest req;
  req.gid = 50;
  ASSERT_TRUE(vfs_.SetStat("g", req));
  req = {};
  req.mode = 02775;
  ASSERT_TRUE(vfs_.SetStat("g", req));
  vfs_.creds = {.uid = 1000, .gid = 1000, .groups = {}, .dac_override = false};
  ASSERT_TRUE(vfs_.Mkdir("g/sub", 0755));
  Touch("g/file");
  EXPECT_EQ(StatOf("g/sub").st_gid, 50u);
  EXPECT_EQ(StatOf("g/sub").st_mode, S_IFDIR | 02755);
  EXPECT_EQ(StatOf("g/file").st_gid, 50u);
  EXPECT_EQ(StatOf("g/file").st_uid, 1000u);
  // A set-group-ID executable for a group the creator is not in loses the bit.
  ASSERT_TRUE(fs_->root_dir()->Lookup("g").value()->Create("sgid", 02755, vfs_.creds));
  EXPECT_EQ(StatOf("g/sgid").st_mode, S_IFREG | 0755);
  // Outside such a directory, the creator's own group.
  Touch("mine");
  EXPECT_EQ(StatOf("mine").st_gid, 1000u);
}

TEST_F(TmpfsTest, DirectoryTimesFollowChanges) {
  ASSERT_TRUE(vfs_.Mkdir("d"));
  vfs::SetStatRequest old;
  old.atime = timespec{100, 0};
  old.mtime = timespec{100, 0};
  ASSERT_TRUE(vfs_.SetStat("d", old));
  Touch("d/f");
  EXPECT_GT(StatOf("d").st_mtim.tv_sec, 100);
  ASSERT_TRUE(vfs_.SetStat("d", old));
  ASSERT_TRUE(vfs_.Rename("d/f", "g"));
  EXPECT_GT(StatOf("d").st_mtim.tv_sec, 100);
  ASSERT_TRUE(vfs_.SetStat("g", old));
  timespec ctime = StatOf("g").st_ctim;
  ASSERT_TRUE(vfs_.Link("g", "h"));  // link changes ctime, not mtime
  EXPECT_EQ(StatOf("g").st_mtim.tv_sec, 100);
  EXPECT_FALSE(Later(ctime, StatOf("g").st_ctim));
}

TEST_F(TmpfsTest, StatFsCountsPagesAndLimitsSize) {
  auto small = Filesystem::Create(*memory_, 0755, 0, 0, {.size_limit = 4 * 4096});
  VfsHarness vfs(small->root());
  auto f = vfs.Open("f", O_CREAT | O_RDWR);
  ASSERT_TRUE(f);
  ASSERT_EQ(*WriteStr(**f, std::string(4096 * 2, 'a')), 8192u);
  EXPECT_EQ(small->StatFs()->f_bfree, 2u);
  EXPECT_EQ(StatFsOf(*small->root())->f_bfree, 2u);
  // The third and fourth pages fit, the fifth does not: a short write, then ENOSPC.
  EXPECT_EQ(*WriteStr(**f, std::string(4096 * 3, 'b')), 8192u);
  EXPECT_EQ(ErrnoOf(WriteStr(**f, "c")), ENOSPC);
  EXPECT_EQ((*f)->Stat()->st_size, 4 * 4096);
  // Holes cost nothing.
  ASSERT_TRUE((*f)->Truncate(1 << 30));
  EXPECT_EQ(small->StatFs()->f_bfree, 0u);
  ASSERT_TRUE((*f)->Truncate(0));
  EXPECT_EQ(small->StatFs()->f_bfree, 4u);
}

TEST_F(TmpfsTest, RenameMovesAndReplaces) {
  ASSERT_TRUE(vfs_.Mkdir("a"));
  ASSERT_TRUE(vfs_.Mkdir("b"));
  Touch("a/f", "one");
  Touch("b/g", "two");
  ino_t f_ino = StatOf("a/f").st_ino;
  ASSERT_TRUE(vfs_.Rename("a/f", "b/f"));
  EXPECT_EQ(StatOf("b/f").st_ino, f_ino);
  EXPECT_EQ(ErrnoOf(vfs_.Lstat("a/f")), ENOENT);
  EXPECT_EQ(StatOf("a").st_size, 40);
  EXPECT_EQ(StatOf("b").st_size, 80);
  // Over an existing file: the old one loses its name (and its data once unreferenced).
  auto g = vfs_.Open("b/g", O_RDONLY);
  ASSERT_TRUE(g);
  ASSERT_TRUE(vfs_.Rename("b/f", "b/g"));
  EXPECT_EQ(Contents("b/g"), "one");
  EXPECT_EQ((*g)->Stat()->st_nlink, 0u);
  EXPECT_EQ(*ReadStr(**g, 10), "two");
  EXPECT_EQ(Names("b"), std::vector<std::string>{"g"});
  // Within one directory.
  ASSERT_TRUE(vfs_.Rename("b/g", "b/h"));
  EXPECT_EQ(Names("b"), std::vector<std::string>{"h"});
  EXPECT_EQ(ErrnoOf(vfs_.Rename("b/nope", "b/x")), ENOENT);
  EXPECT_EQ(ErrnoOf(vfs_.Rename("b/h", "nope/x")), ENOENT);
}

TEST_F(TmpfsTest, RenameDirectories) {
  ASSERT_TRUE(vfs_.Mkdir("a"));
  ASSERT_TRUE(vfs_.Mkdir("a/sub"));
  ASSERT_TRUE(vfs_.Mkdir("empty"));
  ASSERT_TRUE(vfs_.Mkdir("full"));
  Touch("full/x");
  Touch("file");
  EXPECT_EQ(ErrnoOf(vfs_.Rename("a", "full")), ENOTEMPTY);
  EXPECT_EQ(ErrnoOf(vfs_.Rename("a", "file")), ENOTDIR);
  EXPECT_EQ(ErrnoOf(vfs_.Rename("file", "empty")), EISDIR);
  EXPECT_EQ(ErrnoOf(vfs_.Rename("a", "a/sub/x")), EINVAL);  // into its own subtree
  EXPECT_EQ(ErrnoOf(vfs_.Rename("a", "a/x")), EINVAL);
  EXPECT_EQ(ErrnoOf(vfs_.Rename("a/sub", "a")), ENOTEMPTY);  // onto an ancestor
  Touch("a/sub/f");
  EXPECT_EQ(ErrnoOf(vfs_.Rename("a/sub/f", "a")), ENOTEMPTY);
  // A directory over an empty one.
  auto victim = vfs_.Lookup("empty");
  ASSERT_TRUE(victim);
  auto victim_inode = victim->dentry->inode_ptr();
  ASSERT_TRUE(vfs_.Rename("a", "empty"));
  EXPECT_EQ(victim_inode->Stat()->st_nlink, 0u);
  EXPECT_EQ(ErrnoOf(victim_inode->Create("x", 0644, {})), ENOENT);
  EXPECT_EQ(StatOf("/").st_nlink, 4u);  // empty (was a), full
  EXPECT_EQ(Contents("empty/sub/f"), "");
  // Moving a directory moves its "..": the nlink of both parents and the ancestry.
  ASSERT_TRUE(vfs_.Rename("empty/sub", "full/sub"));
  EXPECT_EQ(StatOf("empty").st_nlink, 2u);
  EXPECT_EQ(StatOf("full").st_nlink, 3u);
  EXPECT_EQ(ErrnoOf(vfs_.Rename("full", "full/sub/deeper")), EINVAL);
  ASSERT_TRUE(vfs_.Rename("empty", "full/sub/deeper"));
  EXPECT_EQ(ErrnoOf(vfs_.Rename("full/sub", "full/sub/deeper/x")), EINVAL);
  auto listing = vfs_.Open("full/sub/deeper", O_RDONLY);
  ASSERT_TRUE(listing);
  std::vector<std::string> names;
  ASSERT_TRUE((*listing)->ReadDir([&](const vfs::DirEntry& e, int64_t) {
    if (e.name == "..") {
      EXPECT_EQ(e.ino, StatOf("full/sub").st_ino);
    }
    names.push_back(e.name);
    return true;
  }));
  EXPECT_EQ(names.size(), 2u);
}

TEST_F(TmpfsTest, RenameFlags) {
  Touch("a", "A");
  Touch("b", "B");
  ASSERT_TRUE(vfs_.Mkdir("d"));
  ASSERT_TRUE(vfs_.Mkdir("e"));
  Touch("e/inner", "I");
  EXPECT_EQ(ErrnoOf(vfs_.Rename("a", "b", RENAME_NOREPLACE)), EEXIST);
  EXPECT_EQ(ErrnoOf(vfs_.Rename("a", "a", RENAME_NOREPLACE)), EEXIST);
  EXPECT_EQ(ErrnoOf(vfs_.Rename("a", "c", RENAME_WHITEOUT)), EINVAL);
  EXPECT_EQ(ErrnoOf(vfs_.Rename("a", "c", RENAME_EXCHANGE | RENAME_NOREPLACE)), EINVAL);
  EXPECT_EQ(ErrnoOf(vfs_.Rename("a", "c", 1u << 7)), EINVAL);
  EXPECT_EQ(ErrnoOf(vfs_.Rename("a", "c", RENAME_EXCHANGE)), ENOENT);
  ASSERT_TRUE(vfs_.Rename("a", "c", RENAME_NOREPLACE));
  EXPECT_EQ(Contents("c"), "A");
  ASSERT_TRUE(vfs_.Rename("c", "b", RENAME_EXCHANGE));
  EXPECT_EQ(Contents("c"), "B");
  EXPECT_EQ(Contents("b"), "A");
  // A file and a directory in different parents trade places, and the ".." links follow.
  ASSERT_TRUE(vfs_.Rename("b", "d/x"));
  ASSERT_TRUE(vfs_.Rename("d/x", "e", RENAME_EXCHANGE));
  EXPECT_EQ(Contents("e"), "A");
  EXPECT_EQ(Contents("d/x/inner"), "I");
  EXPECT_EQ(StatOf("/").st_nlink, 3u);  // d only
  EXPECT_EQ(StatOf("d").st_nlink, 3u);  // d/x
  // Exchanging a directory with one below or above it.
  ASSERT_TRUE(vfs_.Mkdir("d/x/y"));
  EXPECT_EQ(ErrnoOf(vfs_.Rename("d", "d/x/y", RENAME_EXCHANGE)), EINVAL);
  EXPECT_EQ(ErrnoOf(vfs_.Rename("d/x/y", "d", RENAME_EXCHANGE)), EINVAL);
  // Hard links of one file: nothing happens, both names stay.
  ASSERT_TRUE(vfs_.Link("c", "c2"));
  ASSERT_TRUE(vfs_.Rename("c", "c2"));
  EXPECT_EQ(StatOf("c").st_nlink, 2u);
  ASSERT_TRUE(vfs_.Rename("c", "c2", RENAME_EXCHANGE));
  EXPECT_EQ(ErrnoOf(vfs_.Rename("c", "c2", RENAME_NOREPLACE)), EEXIST);
}

}  // namespace
}  // namespace sentry::fsimpl::tmpfs
