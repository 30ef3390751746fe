// /dev: the memory devices, the symlinks and directories a program expects there.
#include <gtest/gtest.h>
#include <sys/sysmacros.h>

#include "sentry/fsimpl/dev/dev.h"
#include "tests/fsimpl/vfs_harness.h"

namespace sentry::fsimpl::dev {
namespace {

using testing::ErrnoOf;
using testing::ReadStr;
using testing::VfsHarness;
using testing::WriteStr;

class DevfsTest : public ::testing::Test {
 protected:
  std::unique_ptr<mm::MemoryFile> memory_ = testing::TestMemoryFile();
  std::shared_ptr<tmpfs::Filesystem> fs_ = NewDevFilesystem(*memory_);
  VfsHarness vfs_{fs_->root(), "devtmpfs"};

  std::shared_ptr<vfs::FileDescription> OpenOk(std::string_view path, int flags) {
    auto f = vfs_.Open(path, flags);
    EXPECT_TRUE(f.has_value()) << path << ": errno " << ErrnoOf(f);
    return f.value_or(nullptr);
  }
};

TEST_F(DevfsTest, Layout) {
  struct Node {
    const char* name;
    unsigned minor;
  };
  for (Node n :
       {Node{"null", 3}, Node{"zero", 5}, Node{"full", 7}, Node{"random", 8}, Node{"urandom", 9}}) {
    auto st = vfs_.Stat(n.name);
    ASSERT_TRUE(st) << n.name;
    EXPECT_EQ(st->st_mode, S_IFCHR | 0666) << n.name;
    EXPECT_EQ(st->st_rdev, makedev(1, n.minor)) << n.name;
    EXPECT_EQ(st->st_uid, 0u);
    EXPECT_EQ(st->st_size, 0);
  }
  auto tty = vfs_.Stat("tty");
  ASSERT_TRUE(tty);
  EXPECT_EQ(tty->st_mode, S_IFCHR | 0666);
  EXPECT_EQ(tty->st_rdev, makedev(5, 0));
  // Outside any task there is no controlling terminal to open.
  EXPECT_EQ(ErrnoOf(vfs_.Open("tty", O_RDWR)), ENXIO);
  EXPECT_EQ(*vfs_.ReadLink("ptmx"), "pts/ptmx");
  EXPECT_EQ(*vfs_.ReadLink("fd"), "/proc/self/fd");
  EXPECT_EQ(*vfs_.ReadLink("stdin"), "/proc/self/fd/0");
  EXPECT_EQ(*vfs_.ReadLink("stdout"), "/proc/self/fd/1");
  EXPECT_EQ(*vfs_.ReadLink("stderr"), "/proc/self/fd/2");
  EXPECT_EQ(vfs_.Stat("shm")->st_mode, S_IFDIR | 01777);
  EXPECT_EQ(vfs_.Stat("pts")->st_mode, S_IFDIR | 0755);
  EXPECT_EQ(vfs_.Stat("/")->st_mode, S_IFDIR | 0755);
  EXPECT_EQ(vfs_.Stat("/")->st_nlink, 4u);
  // Device nodes cannot be made with mknod; other files can be (shm is a plain tmpfs dir).
  EXPECT_EQ(ErrnoOf(vfs_.Mknod("null2", S_IFCHR | 0666, makedev(1, 3))), EPERM);
  auto f = vfs_.Open("shm/segment", O_CREAT | O_RDWR, 0600);
  ASSERT_TRUE(f);
  EXPECT_EQ(*WriteStr(**f, "shared"), 6u);
  EXPECT_EQ(*ReadStr(**f, 10, 0), "shared");
}

TEST_F(DevfsTest, Null) {
  auto f = OpenOk("null", O_RDWR);
  EXPECT_EQ(*ReadStr(*f, 100), "");
  EXPECT_EQ(*WriteStr(*f, "swallowed"), 9u);
  EXPECT_EQ(*WriteStr(*f, std::string(1 << 20, 'x'), 12345), 1u << 20);
  EXPECT_EQ(*f->Seek(100, SEEK_SET), 0);
  EXPECT_EQ(f->Stat()->st_rdev, makedev(1, 3));
  // O_TRUNC and O_CREAT of an existing device are harmless.
  EXPECT_TRUE(vfs_.Open("null", O_WRONLY | O_TRUNC | O_CREAT));
}

TEST_F(DevfsTest, Zero) {
  auto f = OpenOk("zero", O_RDWR);
  std::string a(5000, 'a'), b(3, 'b');
  iovec iov[] = {{a.data(), a.size()}, {b.data(), b.size()}};
  EXPECT_EQ(*f->Read(iov, std::nullopt), 5003u);
  EXPECT_EQ(a, std::string(5000, '\0'));
  EXPECT_EQ(b, std::string(3, '\0'));
  EXPECT_EQ(*WriteStr(*f, "gone"), 4u);
  EXPECT_EQ(*f->Seek(0, SEEK_CUR), 0);
}

TEST_F(DevfsTest, Full) {
  auto f = OpenOk("full", O_RDWR);
  EXPECT_EQ(*ReadStr(*f, 10), std::string(10, '\0'));
  EXPECT_EQ(ErrnoOf(WriteStr(*f, "x")), ENOSPC);
  EXPECT_EQ(ErrnoOf(WriteStr(*f, "")), ENOSPC);  // even an empty write
}

TEST_F(DevfsTest, Random) {
  for (const char* name : {"random", "urandom"}) {
    auto f = OpenOk(name, O_RDWR);
    std::string a = *ReadStr(*f, 64), b = *ReadStr(*f, 64);
    ASSERT_EQ(a.size(), 64u);
    EXPECT_NE(a, b);
    EXPECT_NE(a, std::string(64, '\0'));
    EXPECT_EQ(ReadStr(*f, 1 << 20)->size(), 1u << 20);
    EXPECT_EQ(*WriteStr(*f, "entropy?"), 8u);
  }
}

TEST_F(DevfsTest, AccessModesAndOffsets) {
  auto r = OpenOk("zero", O_RDONLY);
  auto w = OpenOk("null", O_WRONLY);
  EXPECT_EQ(ErrnoOf(WriteStr(*r, "x")), EBADF);
  EXPECT_EQ(ErrnoOf(ReadStr(*w, 1)), EBADF);
  EXPECT_EQ(ErrnoOf(ReadStr(*r, 1, -1)), EINVAL);
  EXPECT_EQ(*ReadStr(*r, 2, 1 << 30), std::string(2, '\0'));  // pread ignores the offset
  auto p = OpenOk("zero", O_PATH);
  EXPECT_TRUE(p->IsPath());
}

TEST_F(DevfsTest, InstancesAreIndependent) {
  auto other = NewDevFilesystem(*memory_);
  EXPECT_NE(other->dev(), fs_->dev());
  VfsHarness vfs(other->root());
  ASSERT_TRUE(vfs.Open("shm/x", O_CREAT | O_RDWR));
  EXPECT_EQ(ErrnoOf(vfs_.Stat("shm/x")), ENOENT);
}

}  // namespace
}  // namespace sentry::fsimpl::dev
