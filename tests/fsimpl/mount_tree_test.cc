// The mount tree (sentry/vfs/mount.h) on tmpfs instances: mounting and crossing, bind copies
// with and without their submounts, unmounting (busy, lazy), moves, flags; and sysfs's tree.
#include <gtest/gtest.h>
#include <linux/magic.h>

#include "sentry/fsimpl/sys/sys.h"
#include "tests/fsimpl/vfs_harness.h"

namespace sentry::fsimpl {
namespace {

using testing::ErrnoOf;
using testing::VfsHarness;

class MountTreeTest : public ::testing::Test {
 protected:
  std::unique_ptr<mm::MemoryFile> memory_ = testing::TestMemoryFile();
  std::shared_ptr<tmpfs::Filesystem> root_fs_ = tmpfs::Filesystem::Create(*memory_, 0755, 0, 0);
  VfsHarness vfs_{root_fs_->root()};

  // A new tmpfs mounted at `path`.
  std::shared_ptr<vfs::Mount> MountTmpfs(std::string_view path, int flags = 0) {
    auto fs = tmpfs::Filesystem::Create(*memory_, 0755, 0, 0);
    auto m = std::make_shared<vfs::Mount>(vfs::Dentry::NewRoot(fs->root()), "tmpfs",
                                          std::string(path), flags);
    auto at = vfs_.Lookup(path);
    EXPECT_TRUE(at.has_value()) << path;
    if (!at) return nullptr;
    EXPECT_TRUE(vfs_.mounts().AddMount(*at, m).has_value()) << path;
    return m;
  }
  vfs::VirtualDentry At(std::string_view path) { return vfs_.Lookup(path).value(); }
};

TEST_F(MountTreeTest, MountsAreCrossedBothWays) {
  ASSERT_TRUE(vfs_.Mkdir("/a"));
  auto m = MountTmpfs("/a");
  EXPECT_EQ(m->id(), 2);
  EXPECT_EQ(vfs_.mounts().Root().mount->id(), 1);
  vfs::VirtualDentry a = At("/a");
  EXPECT_EQ(a.mount, m);
  EXPECT_EQ(a.dentry, m->root());
  vfs::ResolveContext ctx = vfs_.Ctx();
  EXPECT_EQ(vfs::ParentOf(ctx, a), vfs_.Root());
  EXPECT_EQ(vfs_.mounts().PathOf(a, vfs_.Root()), "/a");
  EXPECT_EQ(vfs_.mounts().Mounts().size(), 2u);
  EXPECT_TRUE(vfs_.mounts().Contains(*m));
}

TEST_F(MountTreeTest, BindCopiesSubmountsOnlyWhenRecursive) {
  for (auto p : {"/a", "/b", "/c"}) ASSERT_TRUE(vfs_.Mkdir(p));
  auto outer = MountTmpfs("/a");
  ASSERT_TRUE(vfs_.Mkdir("/a/sub"));
  ASSERT_TRUE(vfs_.Mkdir("/a/other"));
  auto inner = MountTmpfs("/a/sub");
  ASSERT_TRUE(vfs_.Mkdir("/a/sub/deep"));

  auto plain = vfs_.mounts().CloneTree(At("/a"), false);
  ASSERT_TRUE(vfs_.mounts().AddMount(At("/b"), plain));
  EXPECT_EQ(At("/b/sub").mount, plain);
  EXPECT_EQ(ErrnoOf(vfs_.Lookup("/b/sub/deep")), ENOENT);

  auto rec = vfs_.mounts().CloneTree(At("/a"), true);
  ASSERT_TRUE(vfs_.mounts().AddMount(At("/c"), rec));
  vfs::VirtualDentry deep = At("/c/sub/deep");
  EXPECT_NE(deep.mount, inner);  // a copy, with the same files
  EXPECT_EQ(&deep.inode(), &At("/a/sub/deep").inode());
  EXPECT_EQ(deep.mount->parent(), rec);
  EXPECT_EQ(vfs_.mounts().Mounts().size(), 6u);  // root, a, a/sub, b, c, c/sub

  // A bind of a subdirectory copies only the submounts below it.
  ASSERT_TRUE(vfs_.Mkdir("/d"));
  auto part = vfs_.mounts().CloneTree(At("/a/other"), true);
  ASSERT_TRUE(vfs_.mounts().AddMount(At("/d"), part));
  EXPECT_EQ(vfs_.mounts().Mounts().size(), 7u);
}

TEST_F(MountTreeTest, UnmountBusyAndLazy) {
  ASSERT_TRUE(vfs_.Mkdir("/a"));
  auto m = MountTmpfs("/a");
  ASSERT_TRUE(vfs_.Mkdir("/a/x"));
  vfs::MountNamespace& ns = vfs_.mounts();
  {
    vfs::VirtualDentry held = At("/a/x");  // a working directory, say
    EXPECT_EQ(ErrnoOf(ns.Unmount(m, false, 1)), EBUSY);
  }
  auto sub = MountTmpfs("/a/x");
  EXPECT_EQ(ErrnoOf(ns.Unmount(m, false, 1)), EBUSY);  // a submount
  vfs::VirtualDentry held = At("/a/x");
  ASSERT_TRUE(ns.Unmount(m, true, 1));
  EXPECT_FALSE(ns.Contains(*m));
  EXPECT_FALSE(ns.Contains(*sub));
  EXPECT_EQ(ns.Mounts().size(), 1u);
  EXPECT_EQ(At("/a").mount, ns.Root().mount);
  // The detached tree still works for whoever holds it, and ".." stops at its top.
  EXPECT_EQ(held.mount, sub);
  vfs::ResolveContext ctx = vfs_.Ctx();
  vfs::VirtualDentry up = vfs::ParentOf(ctx, held);
  EXPECT_EQ(up.mount, m);
  EXPECT_EQ(vfs::ParentOf(ctx, up), up);
  // The root cannot go; a detached mount is no longer the namespace's.
  EXPECT_EQ(ErrnoOf(ns.Unmount(ns.Root().mount, false, 1)), EBUSY);
  EXPECT_EQ(ErrnoOf(ns.Unmount(m, false, 1)), EINVAL);
}

TEST_F(MountTreeTest, MoveRefusesLoops) {
  ASSERT_TRUE(vfs_.Mkdir("/a"));
  ASSERT_TRUE(vfs_.Mkdir("/b"));
  auto m = MountTmpfs("/a");
  ASSERT_TRUE(vfs_.Mkdir("/a/in"));
  EXPECT_EQ(ErrnoOf(vfs_.mounts().Move(m, At("/a/in"))), ELOOP);
  ASSERT_TRUE(vfs_.mounts().Move(m, At("/b")));
  EXPECT_EQ(At("/b").mount, m);
  EXPECT_EQ(At("/a").mount, vfs_.mounts().Root().mount);
  EXPECT_EQ(vfs_.mounts().PathOf(At("/b/in"), vfs_.Root()), "/b/in");
}

TEST_F(MountTreeTest, ReadOnlyWhileWritingIsBusy) {
  ASSERT_TRUE(vfs_.Mkdir("/a"));
  auto m = MountTmpfs("/a");
  {
    auto f = vfs_.Open("/a/f", O_CREAT | O_RDWR);
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(ErrnoOf(vfs_.mounts().SetFlags(*m, MS_RDONLY)), EBUSY);
    auto r = vfs_.Open("/a/f", O_RDONLY);  // readers do not count
    ASSERT_TRUE(r.has_value());
  }
  ASSERT_TRUE(vfs_.mounts().SetFlags(*m, MS_RDONLY | MS_NOSUID));
  EXPECT_TRUE(m->read_only());
  EXPECT_EQ(m->flags(), MS_RDONLY | MS_NOSUID);
}

TEST(SysfsTreeTest, CpuFiles) {
  EXPECT_EQ(sys::CpuListText(0), "0\n");
  EXPECT_EQ(sys::CpuListText(1), "0\n");
  EXPECT_EQ(sys::CpuListText(4), "0-3\n");
  VfsHarness vfs(sys::NewSysRoot({.num_cpus = 3}), "sysfs");
  auto online = vfs.Lookup("/devices/system/cpu/online");
  ASSERT_TRUE(online.has_value());
  auto st = online->inode().Stat();
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->st_mode, S_IFREG | 0444u);
  EXPECT_EQ(st->st_size, 4096);
  auto f = online->inode().Open(*online, O_RDONLY);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(testing::ReadStr(**f, 64).value_or(""), "0-2\n");
  EXPECT_EQ(ErrnoOf(online->inode().Open(*online, O_WRONLY)), EACCES);
  for (auto p : {"/devices/system/cpu/cpu0", "/devices/system/cpu/cpu2", "/fs/cgroup", "/kernel"}) {
    auto d = vfs.Lookup(p);
    ASSERT_TRUE(d.has_value()) << p;
    EXPECT_TRUE(d->inode().IsDir()) << p;
  }
  EXPECT_EQ(ErrnoOf(vfs.Lookup("/devices/system/cpu/cpu3")), ENOENT);
  EXPECT_EQ(vfs.Stat("/devices/system/cpu")->st_nlink, 2u + 3u);
  EXPECT_EQ(vfs.Lookup("/")->inode().StatFs()->f_type, SYSFS_MAGIC);
  EXPECT_EQ(ErrnoOf(vfs.Mkdir("/kernel/x")), EPERM);
  EXPECT_EQ(ErrnoOf(vfs.Open("/kernel/x", O_CREAT | O_WRONLY)), EACCES);
  EXPECT_EQ(ErrnoOf(vfs.Unlink("/devices/system/cpu/online")), EPERM);
}

}  // namespace
}  // namespace sentry::fsimpl
