// Directories and names: mkdir, rmdir, unlink, rename (and renameat2's flags), link, symlink and
// how paths resolve through symlinks, mknod, getdents64, chdir/fchdir/getcwd and umask.
//
// Every test works in its own scratch directory under /tmp. Raw system calls throughout.
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "syscalls/fs_test_util.h"
#include "syscalls/test_util.h"

namespace {

constexpr int kBadFd = 99;

using namespace conformance;  // NOLINT: the shared helpers of fs_test_util.h


long Mkdir(const std::string& path, mode_t mode) { return syscall(SYS_mkdir, path.c_str(), mode); }
long Rmdir(const std::string& path) { return syscall(SYS_rmdir, path.c_str()); }
long Unlink(const std::string& path) { return syscall(SYS_unlink, path.c_str()); }
long Rename(const std::string& from, const std::string& to) {
  return syscall(SYS_rename, from.c_str(), to.c_str());
}
long Renameat2(const std::string& from, const std::string& to, unsigned flags) {
  return syscall(SYS_renameat2, AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), flags);
}
long Link(const std::string& from, const std::string& to) {
  return syscall(SYS_link, from.c_str(), to.c_str());
}
long Symlink(const std::string& target, const std::string& path) {
  return syscall(SYS_symlink, target.c_str(), path.c_str());
}

ino_t Ino(const std::string& path) { return Lstat(path).st_ino; }
nlink_t Nlink(const std::string& path) { return Lstat(path).st_nlink; }

// --- mkdir, mkdirat ---

TEST(MkdirTest, TheModeIsMaskedByTheUmask) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  {
    ScopedUmask mask(022);
    ASSERT_SYSCALL_OK(Mkdir(dir / "a", 0777));
  }
  {
    ScopedUmask mask(0);
    ASSERT_SYSCALL_OK(Mkdir(dir / "b", 0705));
    // The sticky bit is kept.
    ASSERT_SYSCALL_OK(Mkdir(dir / "c", 01777));
  }
  EXPECT_EQ(Lstat(dir / "a").st_mode, static_cast<mode_t>(S_IFDIR | 0755));
  EXPECT_EQ(Lstat(dir / "b").st_mode, static_cast<mode_t>(S_IFDIR | 0705));
  EXPECT_EQ(Lstat(dir / "c").st_mode, static_cast<mode_t>(S_IFDIR | 01777));
  EXPECT_EQ(Nlink(dir / "a"), 2u);
}

TEST(MkdirTest, AnExistingNameIsEEXIST) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(Mkdir(dir / "d", 0755));
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  ASSERT_SYSCALL_OK(Symlink("nowhere", dir / "dangling"));
  EXPECT_SYSCALL_ERRNO(EEXIST, Mkdir(dir / "d", 0755));
  EXPECT_SYSCALL_ERRNO(EEXIST, Mkdir(dir / "f", 0755));
  // mkdir does not follow a symlink, not even a dangling one.
  EXPECT_SYSCALL_ERRNO(EEXIST, Mkdir(dir / "dangling", 0755));
  EXPECT_FALSE(Exists(dir / "nowhere"));
  EXPECT_SYSCALL_ERRNO(EEXIST, Mkdir("/", 0755));
  EXPECT_SYSCALL_ERRNO(EEXIST, Mkdir(dir / "d/.", 0755));
}

TEST(MkdirTest, AMissingParentIsENOENT) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  EXPECT_SYSCALL_ERRNO(ENOENT, Mkdir(dir / "missing/d", 0755));
  EXPECT_SYSCALL_ERRNO(ENOENT, Mkdir("", 0755));
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Mkdir(dir / "f/d", 0755));
  EXPECT_SYSCALL_ERRNO(ENAMETOOLONG, Mkdir(dir / std::string(NAME_MAX + 1, 'n'), 0755));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_mkdir, nullptr, 0755));
}

TEST(MkdirTest, ATrailingSlashIsAllowed) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(Mkdir(dir / "d/", 0755));
  EXPECT_TRUE(S_ISDIR(Lstat(dir / "d").st_mode));
  ASSERT_SYSCALL_OK(Mkdir(dir / "e//", 0755));
  EXPECT_TRUE(S_ISDIR(Lstat(dir / "e").st_mode));
}

TEST(MkdirTest, ASubdirectoryRaisesTheParentsLinkCount) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(Mkdir(dir / "p", 0755));
  ASSERT_SYSCALL_OK(Mkdir(dir / "p/a", 0755));
  EXPECT_EQ(Nlink(dir / "p"), 3u);
  // ".." in the new directory is the parent.
  EXPECT_EQ(Ino(dir / "p/a/.."), Ino(dir / "p"));
  EXPECT_EQ(Ino(dir / "p/a/."), Ino(dir / "p/a"));
}

TEST(MkdiratTest, RelativeToADirfd) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  long dfd;
  ASSERT_SYSCALL_OK(dfd = Open(dir.path(), O_RDONLY | O_DIRECTORY));
  ASSERT_SYSCALL_OK(syscall(SYS_mkdirat, dfd, "d", 0755));
  EXPECT_TRUE(S_ISDIR(Lstat(dir / "d").st_mode));
  EXPECT_SYSCALL_ERRNO(EEXIST, syscall(SYS_mkdirat, dfd, "d", 0755));
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_mkdirat, kBadFd, "x", 0755));
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  long file;
  ASSERT_SYSCALL_OK(file = Open(dir / "f", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, syscall(SYS_mkdirat, file, "x", 0755));
  Close(file);
  Close(dfd);
}

// --- rmdir, unlink, unlinkat ---

TEST(RmdirTest, RemovesAnEmptyDirectory) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(Mkdir(dir / "d", 0755));
  const nlink_t parent_links = Nlink(dir.path());
  ASSERT_SYSCALL_OK(Rmdir(dir / "d"));
  EXPECT_FALSE(Exists(dir / "d"));
  EXPECT_EQ(Nlink(dir.path()), parent_links - 1);
  EXPECT_SYSCALL_ERRNO(ENOENT, Rmdir(dir / "d"));
}

TEST(RmdirTest, ANonEmptyDirectoryIsENOTEMPTY) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(Mkdir(dir / "withfile", 0755));
  ASSERT_TRUE(WriteFile(dir / "withfile/f", "x"));
  ASSERT_SYSCALL_OK(Mkdir(dir / "withdir", 0755));
  ASSERT_SYSCALL_OK(Mkdir(dir / "withdir/sub", 0755));
  ASSERT_SYSCALL_OK(Mkdir(dir / "withlink", 0755));
  ASSERT_SYSCALL_OK(Symlink("nowhere", dir / "withlink/l"));
  EXPECT_SYSCALL_ERRNO(ENOTEMPTY, Rmdir(dir / "withfile"));
  EXPECT_SYSCALL_ERRNO(ENOTEMPTY, Rmdir(dir / "withdir"));
  EXPECT_SYSCALL_ERRNO(ENOTEMPTY, Rmdir(dir / "withlink"));
  EXPECT_TRUE(Exists(dir / "withfile/f"));
}

TEST(RmdirTest, ANonDirectoryIsENOTDIR) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  ASSERT_SYSCALL_OK(Mkdir(dir / "d", 0755));
  ASSERT_SYSCALL_OK(Symlink("d", dir / "dlink"));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Rmdir(dir / "f"));
  // rmdir does not follow a final symlink.
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Rmdir(dir / "dlink"));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Rmdir(dir / "f/x"));
  EXPECT_TRUE(Exists(dir / "f"));
  EXPECT_TRUE(Exists(dir / "d"));
}

TEST(RmdirTest, DotIsEINVALAndDotDotIsENOTEMPTY) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(Mkdir(dir / "d", 0755));
  EXPECT_SYSCALL_ERRNO(EINVAL, Rmdir(dir / "d/."));
  EXPECT_SYSCALL_ERRNO(ENOTEMPTY, Rmdir(dir / "d/.."));
  {
    ScopedCwd restore;
    ASSERT_SYSCALL_OK(chdir((dir / "d").c_str()));
    EXPECT_SYSCALL_ERRNO(EINVAL, Rmdir("."));
  }
  EXPECT_TRUE(Exists(dir / "d"));
}

TEST(RmdirTest, TheRootIsEBUSY) { EXPECT_SYSCALL_ERRNO(EBUSY, Rmdir("/")); }

TEST(UnlinkTest, RemovesTheNameButNotAnOpenFile) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "still here"));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "f", O_RDONLY));
  ASSERT_SYSCALL_OK(Unlink(dir / "f"));
  EXPECT_FALSE(Exists(dir / "f"));
  char buf[32];
  EXPECT_EQ(syscall(SYS_read, fd, buf, sizeof(buf)), 10);
  Close(fd);
  EXPECT_SYSCALL_ERRNO(ENOENT, Unlink(dir / "f"));
}

TEST(UnlinkTest, ADirectoryIsEISDIR) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(Mkdir(dir / "d", 0755));
  EXPECT_SYSCALL_ERRNO(EISDIR, Unlink(dir / "d"));
  EXPECT_SYSCALL_ERRNO(EISDIR, syscall(SYS_unlinkat, AT_FDCWD, (dir / "d").c_str(), 0));
  EXPECT_TRUE(Exists(dir / "d"));
}

TEST(UnlinkTest, ASymlinkIsRemovedNotItsTarget) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  ASSERT_SYSCALL_OK(Mkdir(dir / "d", 0755));
  ASSERT_SYSCALL_OK(Symlink("f", dir / "flink"));
  ASSERT_SYSCALL_OK(Symlink("d", dir / "dlink"));
  ASSERT_SYSCALL_OK(Unlink(dir / "flink"));
  ASSERT_SYSCALL_OK(Unlink(dir / "dlink"));
  EXPECT_FALSE(Exists(dir / "flink"));
  EXPECT_FALSE(Exists(dir / "dlink"));
  EXPECT_TRUE(Exists(dir / "f"));
  EXPECT_TRUE(Exists(dir / "d"));
}

TEST(UnlinkTest, BadPathsFail) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  EXPECT_SYSCALL_ERRNO(ENOENT, Unlink(dir / "missing"));
  EXPECT_SYSCALL_ERRNO(ENOENT, Unlink(""));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Unlink(dir / "f/x"));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Unlink(dir / "f/"));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_unlink, nullptr));
  EXPECT_TRUE(Exists(dir / "f"));
}

TEST(UnlinkatTest, RemovedirRemovesDirectoriesOnly) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(Mkdir(dir / "d", 0755));
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  long dfd;
  ASSERT_SYSCALL_OK(dfd = Open(dir.path(), O_RDONLY | O_DIRECTORY));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, syscall(SYS_unlinkat, dfd, "f", AT_REMOVEDIR));
  EXPECT_SYSCALL_OK(syscall(SYS_unlinkat, dfd, "d", AT_REMOVEDIR));
  EXPECT_FALSE(Exists(dir / "d"));
  EXPECT_SYSCALL_OK(syscall(SYS_unlinkat, dfd, "f", 0));
  EXPECT_FALSE(Exists(dir / "f"));
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_unlinkat, kBadFd, "f", 0));
  Close(dfd);
}

TEST(UnlinkatTest, BadFlagsAreEINVAL) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_unlinkat, AT_FDCWD, (dir / "f").c_str(), 0x1));
  EXPECT_SYSCALL_ERRNO(EINVAL,
                       syscall(SYS_unlinkat, AT_FDCWD, (dir / "f").c_str(), AT_SYMLINK_NOFOLLOW));
  EXPECT_TRUE(Exists(dir / "f"));
}

// --- rename, renameat, renameat2 ---

TEST(RenameTest, AFileMovesToANewName) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(Mkdir(dir / "d", 0755));
  ASSERT_TRUE(WriteFile(dir / "a", "aaa"));
  const ino_t ino = Ino(dir / "a");
  ASSERT_SYSCALL_OK(Rename(dir / "a", dir / "d/b"));
  EXPECT_FALSE(Exists(dir / "a"));
  EXPECT_EQ(Ino(dir / "d/b"), ino);
  EXPECT_EQ(ReadFile(dir / "d/b"), "aaa");
}

TEST(RenameTest, AFileReplacesAFile) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "a", "new"));
  ASSERT_TRUE(WriteFile(dir / "b", "old"));
  const ino_t ino = Ino(dir / "a");
  long old_fd;
  ASSERT_SYSCALL_OK(old_fd = Open(dir / "b", O_RDONLY));
  ASSERT_SYSCALL_OK(Rename(dir / "a", dir / "b"));
  EXPECT_FALSE(Exists(dir / "a"));
  EXPECT_EQ(Ino(dir / "b"), ino);
  EXPECT_EQ(ReadFile(dir / "b"), "new");
  // The replaced file lives on while it is open.
  char buf[8];
  EXPECT_EQ(syscall(SYS_read, old_fd, buf, sizeof(buf)), 3);
  EXPECT_EQ(std::string(buf, 3), "old");
  Close(old_fd);
}

TEST(RenameTest, ADirectoryReplacesAnEmptyDirectory) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(Mkdir(dir / "a", 0755));
  ASSERT_TRUE(WriteFile(dir / "a/f", "x"));
  ASSERT_SYSCALL_OK(Mkdir(dir / "b", 0755));
  const nlink_t parent_links = Nlink(dir.path());
  ASSERT_SYSCALL_OK(Rename(dir / "a", dir / "b"));
  EXPECT_FALSE(Exists(dir / "a"));
  EXPECT_EQ(ReadFile(dir / "b/f"), "x");
  EXPECT_EQ(Nlink(dir.path()), parent_links - 1);
}

TEST(RenameTest, ADirectoryMovesToAnotherParent) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(Mkdir(dir / "p1", 0755));
  ASSERT_SYSCALL_OK(Mkdir(dir / "p2", 0755));
  ASSERT_SYSCALL_OK(Mkdir(dir / "p1/d", 0755));
  ASSERT_SYSCALL_OK(Rename(dir / "p1/d", dir / "p2/d"));
  EXPECT_EQ(Nlink(dir / "p1"), 2u);
  EXPECT_EQ(Nlink(dir / "p2"), 3u);
  // ".." follows the move.
  EXPECT_EQ(Ino(dir / "p2/d/.."), Ino(dir / "p2"));
}

TEST(RenameTest, ADirectoryOverANonEmptyDirectoryIsENOTEMPTY) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(Mkdir(dir / "a", 0755));
  ASSERT_SYSCALL_OK(Mkdir(dir / "b", 0755));
  ASSERT_TRUE(WriteFile(dir / "b/f", "x"));
  EXPECT_SYSCALL_ERRNO(ENOTEMPTY, Rename(dir / "a", dir / "b"));
  EXPECT_TRUE(Exists(dir / "a"));
  EXPECT_TRUE(Exists(dir / "b/f"));
}

TEST(RenameTest, AFileOverADirectoryIsEISDIR) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  ASSERT_SYSCALL_OK(Mkdir(dir / "d", 0755));
  EXPECT_SYSCALL_ERRNO(EISDIR, Rename(dir / "f", dir / "d"));
  EXPECT_TRUE(Exists(dir / "f"));
}

TEST(RenameTest, ADirectoryOverAFileIsENOTDIR) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  ASSERT_SYSCALL_OK(Mkdir(dir / "d", 0755));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Rename(dir / "d", dir / "f"));
  EXPECT_TRUE(Exists(dir / "d"));
  EXPECT_EQ(ReadFile(dir / "f"), "x");
}

TEST(RenameTest, IntoItsOwnSubdirectoryIsEINVAL) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(Mkdir(dir / "d", 0755));
  ASSERT_SYSCALL_OK(Mkdir(dir / "d/sub", 0755));
  EXPECT_SYSCALL_ERRNO(EINVAL, Rename(dir / "d", dir / "d/x"));
  EXPECT_SYSCALL_ERRNO(EINVAL, Rename(dir / "d", dir / "d/sub/x"));
  EXPECT_TRUE(Exists(dir / "d/sub"));
}

TEST(RenameTest, TheSameFileIsANoOp) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "a", "x"));
  ASSERT_SYSCALL_OK(Link(dir / "a", dir / "b"));
  EXPECT_SYSCALL_OK(Rename(dir / "a", dir / "a"));
  // Two names of one file: rename does nothing and both stay.
  EXPECT_SYSCALL_OK(Rename(dir / "a", dir / "b"));
  EXPECT_TRUE(Exists(dir / "a"));
  EXPECT_TRUE(Exists(dir / "b"));
  EXPECT_EQ(Nlink(dir / "a"), 2u);
  ASSERT_SYSCALL_OK(Mkdir(dir / "d", 0755));
  EXPECT_SYSCALL_OK(Rename(dir / "d", dir / "d"));
  EXPECT_TRUE(Exists(dir / "d"));
}

TEST(RenameTest, ASymlinkIsMovedNotItsTarget) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  ASSERT_SYSCALL_OK(Symlink("f", dir / "link"));
  ASSERT_SYSCALL_OK(Rename(dir / "link", dir / "moved"));
  EXPECT_TRUE(S_ISLNK(Lstat(dir / "moved").st_mode));
  EXPECT_TRUE(Exists(dir / "f"));
  EXPECT_FALSE(Exists(dir / "link"));
}

TEST(RenameTest, BadPathsFail) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  ASSERT_SYSCALL_OK(Mkdir(dir / "d", 0755));
  EXPECT_SYSCALL_ERRNO(ENOENT, Rename(dir / "missing", dir / "x"));
  EXPECT_SYSCALL_ERRNO(ENOENT, Rename(dir / "f", dir / "missing/x"));
  EXPECT_SYSCALL_ERRNO(ENOENT, Rename("", dir / "x"));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Rename(dir / "f", dir / "f/x"));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Rename(dir / "f/", dir / "g"));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Rename(dir / "f", dir / "g/"));
  // "." and ".." cannot be renamed, nor be renamed over.
  EXPECT_SYSCALL_ERRNO(EBUSY, Rename(dir / "d/.", dir / "x"));
  EXPECT_SYSCALL_ERRNO(EBUSY, Rename(dir / "d/..", dir / "x"));
  EXPECT_SYSCALL_ERRNO(EBUSY, Rename(dir / "f", dir / "d/."));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_rename, nullptr, (dir / "x").c_str()));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_rename, (dir / "f").c_str(), nullptr));
  EXPECT_TRUE(Exists(dir / "f"));
}

TEST(RenameatTest, RelativeToDirfds) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(Mkdir(dir / "a", 0755));
  ASSERT_SYSCALL_OK(Mkdir(dir / "b", 0755));
  ASSERT_TRUE(WriteFile(dir / "a/f", "x"));
  long a, b;
  ASSERT_SYSCALL_OK(a = Open(dir / "a", O_RDONLY | O_DIRECTORY));
  ASSERT_SYSCALL_OK(b = Open(dir / "b", O_RDONLY | O_DIRECTORY));
  ASSERT_SYSCALL_OK(syscall(SYS_renameat, a, "f", b, "g"));
  EXPECT_TRUE(Exists(dir / "b/g"));
  EXPECT_FALSE(Exists(dir / "a/f"));
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_renameat, kBadFd, "g", b, "h"));
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_renameat, b, "g", kBadFd, "h"));
  Close(a);
  Close(b);
}

TEST(Renameat2Test, NoreplaceRefusesAnExistingTarget) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "a", "a"));
  ASSERT_TRUE(WriteFile(dir / "b", "b"));
  ASSERT_SYSCALL_OK(Symlink("nowhere", dir / "dangling"));
  EXPECT_SYSCALL_ERRNO(EEXIST, Renameat2(dir / "a", dir / "b", RENAME_NOREPLACE));
  EXPECT_SYSCALL_ERRNO(EEXIST, Renameat2(dir / "a", dir / "dangling", RENAME_NOREPLACE));
  EXPECT_EQ(ReadFile(dir / "b"), "b");
  EXPECT_SYSCALL_OK(Renameat2(dir / "a", dir / "c", RENAME_NOREPLACE));
  EXPECT_EQ(ReadFile(dir / "c"), "a");
  EXPECT_FALSE(Exists(dir / "a"));
}

TEST(Renameat2Test, ExchangeSwapsTwoNames) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "a", "a"));
  ASSERT_SYSCALL_OK(Mkdir(dir / "d", 0755));
  ASSERT_TRUE(WriteFile(dir / "d/inner", "i"));
  const ino_t file_ino = Ino(dir / "a");
  const ino_t dir_ino = Ino(dir / "d");
  ASSERT_SYSCALL_OK(Renameat2(dir / "a", dir / "d", RENAME_EXCHANGE));
  EXPECT_EQ(Ino(dir / "a"), dir_ino);
  EXPECT_EQ(Ino(dir / "d"), file_ino);
  EXPECT_EQ(ReadFile(dir / "d"), "a");
  EXPECT_EQ(ReadFile(dir / "a/inner"), "i");
  // Two files in different directories.
  ASSERT_TRUE(WriteFile(dir / "x", "x"));
  ASSERT_SYSCALL_OK(Renameat2(dir / "x", dir / "a/inner", RENAME_EXCHANGE));
  EXPECT_EQ(ReadFile(dir / "x"), "i");
  EXPECT_EQ(ReadFile(dir / "a/inner"), "x");
}

TEST(Renameat2Test, ExchangeWithAMissingTargetIsENOENT) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "a", "a"));
  EXPECT_SYSCALL_ERRNO(ENOENT, Renameat2(dir / "a", dir / "missing", RENAME_EXCHANGE));
  EXPECT_TRUE(Exists(dir / "a"));
}

TEST(Renameat2Test, BadFlagsAreEINVAL) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "a", "a"));
  ASSERT_TRUE(WriteFile(dir / "b", "b"));
  EXPECT_SYSCALL_ERRNO(EINVAL,
                       Renameat2(dir / "a", dir / "b", RENAME_NOREPLACE | RENAME_EXCHANGE));
  EXPECT_SYSCALL_ERRNO(EINVAL, Renameat2(dir / "a", dir / "b", 1u << 10));
  EXPECT_EQ(ReadFile(dir / "a"), "a");
  EXPECT_EQ(ReadFile(dir / "b"), "b");
}

// --- link, linkat ---

TEST(LinkTest, AddsANameToTheSameFile) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "a", "one"));
  ASSERT_SYSCALL_OK(Link(dir / "a", dir / "b"));
  EXPECT_EQ(Ino(dir / "a"), Ino(dir / "b"));
  EXPECT_EQ(Nlink(dir / "a"), 2u);
  ASSERT_SYSCALL_OK(Link(dir / "b", dir / "c"));
  EXPECT_EQ(Nlink(dir / "a"), 3u);
  ASSERT_TRUE(WriteFile(dir / "b", "two"));
  EXPECT_EQ(ReadFile(dir / "a"), "two");
  ASSERT_SYSCALL_OK(Unlink(dir / "a"));
  EXPECT_EQ(Nlink(dir / "c"), 2u);
  EXPECT_EQ(ReadFile(dir / "c"), "two");
}

TEST(LinkTest, AnExistingNameIsEEXIST) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "a", "a"));
  ASSERT_TRUE(WriteFile(dir / "b", "b"));
  ASSERT_SYSCALL_OK(Symlink("nowhere", dir / "dangling"));
  EXPECT_SYSCALL_ERRNO(EEXIST, Link(dir / "a", dir / "b"));
  EXPECT_SYSCALL_ERRNO(EEXIST, Link(dir / "a", dir / "a"));
  EXPECT_SYSCALL_ERRNO(EEXIST, Link(dir / "a", dir / "dangling"));
  EXPECT_EQ(Nlink(dir / "a"), 1u);
}

TEST(LinkTest, ADirectoryIsEPERM) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(Mkdir(dir / "d", 0755));
  EXPECT_SYSCALL_ERRNO(EPERM, Link(dir / "d", dir / "e"));
  EXPECT_FALSE(Exists(dir / "e"));
  EXPECT_EQ(Nlink(dir / "d"), 2u);
}

TEST(LinkTest, BadPathsFail) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  EXPECT_SYSCALL_ERRNO(ENOENT, Link(dir / "missing", dir / "x"));
  EXPECT_SYSCALL_ERRNO(ENOENT, Link(dir / "f", dir / "missing/x"));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Link(dir / "f/x", dir / "x"));
  EXPECT_SYSCALL_ERRNO(ENOENT, Link("", dir / "x"));
}

TEST(LinkTest, ASymlinkIsLinkedNotFollowed) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  ASSERT_SYSCALL_OK(Symlink("f", dir / "link"));
  ASSERT_SYSCALL_OK(Link(dir / "link", dir / "hard"));
  EXPECT_TRUE(S_ISLNK(Lstat(dir / "hard").st_mode));
  EXPECT_EQ(Ino(dir / "hard"), Ino(dir / "link"));
  EXPECT_EQ(Nlink(dir / "f"), 1u);
}

TEST(LinkatTest, SymlinkFollowLinksTheTarget) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  ASSERT_SYSCALL_OK(Symlink("f", dir / "link"));
  ASSERT_SYSCALL_OK(syscall(SYS_linkat, AT_FDCWD, (dir / "link").c_str(), AT_FDCWD,
                            (dir / "hard").c_str(), AT_SYMLINK_FOLLOW));
  EXPECT_TRUE(S_ISREG(Lstat(dir / "hard").st_mode));
  EXPECT_EQ(Ino(dir / "hard"), Ino(dir / "f"));
  EXPECT_EQ(Nlink(dir / "f"), 2u);
}

TEST(LinkatTest, RelativeToDirfdsAndBadFlags) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  long dfd;
  ASSERT_SYSCALL_OK(dfd = Open(dir.path(), O_RDONLY | O_DIRECTORY));
  ASSERT_SYSCALL_OK(syscall(SYS_linkat, dfd, "f", dfd, "g", 0));
  EXPECT_EQ(Ino(dir / "g"), Ino(dir / "f"));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_linkat, dfd, "f", dfd, "h", 0x1));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_linkat, dfd, "f", dfd, "h", AT_SYMLINK_NOFOLLOW));
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_linkat, kBadFd, "f", dfd, "h", 0));
  EXPECT_FALSE(Exists(dir / "h"));
  Close(dfd);
}

// --- symlink, symlinkat, resolution ---

TEST(SymlinkTest, RelativeTargetsResolveFromTheLinksDirectory) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(Mkdir(dir / "d", 0755));
  ASSERT_TRUE(WriteFile(dir / "f", "top"));
  ASSERT_TRUE(WriteFile(dir / "d/f", "inner"));
  ASSERT_SYSCALL_OK(Symlink("f", dir / "d/same"));
  ASSERT_SYSCALL_OK(Symlink("../f", dir / "d/up"));
  EXPECT_EQ(ReadFile(dir / "d/same"), "inner");
  EXPECT_EQ(ReadFile(dir / "d/up"), "top");
  ScopedCwd restore;
  ASSERT_SYSCALL_OK(chdir(dir.path().c_str()));
  // Not from the working directory.
  EXPECT_EQ(ReadFile("d/same"), "inner");
}

TEST(SymlinkTest, AbsoluteTargets) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "abs"));
  ASSERT_SYSCALL_OK(Symlink(dir / "f", dir / "link"));
  ASSERT_SYSCALL_OK(Symlink("/etc", dir / "etc"));
  EXPECT_EQ(ReadFile(dir / "link"), "abs");
  struct stat via {}, direct {};
  ASSERT_SYSCALL_OK(syscall(SYS_stat, (dir / "etc/passwd").c_str(), &via));
  ASSERT_SYSCALL_OK(syscall(SYS_stat, "/etc/passwd", &direct));
  EXPECT_EQ(via.st_ino, direct.st_ino);
}

TEST(SymlinkTest, IntermediateSymlinksAreFollowed) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(Mkdir(dir / "real", 0755));
  ASSERT_SYSCALL_OK(Mkdir(dir / "real/sub", 0755));
  ASSERT_TRUE(WriteFile(dir / "real/sub/f", "deep"));
  ASSERT_SYSCALL_OK(Symlink("real", dir / "l1"));
  ASSERT_SYSCALL_OK(Symlink("l1/sub", dir / "l2"));
  ASSERT_SYSCALL_OK(Symlink("l2/f", dir / "l3"));
  EXPECT_EQ(ReadFile(dir / "l1/sub/f"), "deep");
  EXPECT_EQ(ReadFile(dir / "l2/f"), "deep");
  EXPECT_EQ(ReadFile(dir / "l3"), "deep");
  // ".." after a symlink is the parent of the symlink's target, not of the symlink.
  ASSERT_TRUE(WriteFile(dir / "real/g", "real's"));
  EXPECT_EQ(ReadFile(dir / "l2/../g"), "real's");
  // Creating through a symlinked directory.
  ASSERT_TRUE(WriteFile(dir / "l2/new", "n"));
  EXPECT_EQ(ReadFile(dir / "real/sub/new"), "n");
}

TEST(SymlinkTest, ALoopIsELOOP) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(Symlink("b", dir / "a"));
  ASSERT_SYSCALL_OK(Symlink("a", dir / "b"));
  ASSERT_SYSCALL_OK(Symlink("self/x", dir / "self"));
  struct stat st {};
  EXPECT_SYSCALL_ERRNO(ELOOP, syscall(SYS_stat, (dir / "a").c_str(), &st));
  EXPECT_SYSCALL_ERRNO(ELOOP, syscall(SYS_stat, (dir / "a/x").c_str(), &st));
  EXPECT_SYSCALL_ERRNO(ELOOP, syscall(SYS_stat, (dir / "self").c_str(), &st));
  EXPECT_SYSCALL_OK(syscall(SYS_lstat, (dir / "a").c_str(), &st));
}

TEST(SymlinkTest, FortySymlinksResolveAndFortyOneDoNot) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "end"));
  // l1 -> f, l2 -> l1, ..., l41 -> l40: opening lN follows N symlinks.
  for (int i = 1; i <= 41; i++) {
    const std::string target = i == 1 ? "f" : "l" + std::to_string(i - 1);
    ASSERT_SYSCALL_OK(Symlink(target, dir / ("l" + std::to_string(i))));
  }
  EXPECT_EQ(ReadFile(dir / "l40"), "end");
  EXPECT_SYSCALL_ERRNO(ELOOP, Open(dir / "l41", O_RDONLY));
}

TEST(SymlinkTest, AnExistingNameIsEEXIST) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  ASSERT_SYSCALL_OK(Mkdir(dir / "d", 0755));
  ASSERT_SYSCALL_OK(Symlink("nowhere", dir / "dangling"));
  EXPECT_SYSCALL_ERRNO(EEXIST, Symlink("x", dir / "f"));
  EXPECT_SYSCALL_ERRNO(EEXIST, Symlink("x", dir / "d"));
  EXPECT_SYSCALL_ERRNO(EEXIST, Symlink("x", dir / "dangling"));
  EXPECT_FALSE(Exists(dir / "nowhere"));
}

TEST(SymlinkTest, BadArgumentsFail) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  EXPECT_SYSCALL_ERRNO(ENOENT, Symlink("", dir / "empty"));
  EXPECT_SYSCALL_ERRNO(ENOENT, Symlink("x", dir / "missing/l"));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Symlink("x", dir / "f/l"));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_symlink, nullptr, (dir / "l").c_str()));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_symlink, "x", nullptr));
  // A target of PATH_MAX bytes or more is too long.
  EXPECT_SYSCALL_ERRNO(ENAMETOOLONG, Symlink(std::string(PATH_MAX, 'a'), dir / "long"));
  EXPECT_FALSE(Exists(dir / "l"));
  EXPECT_FALSE(Exists(dir / "long"));
}

TEST(SymlinkTest, ATrailingSlashOnASymlinkToAFileIsENOTDIR) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  ASSERT_SYSCALL_OK(Symlink("f", dir / "link"));
  struct stat st {};
  EXPECT_SYSCALL_ERRNO(ENOTDIR, syscall(SYS_stat, (dir / "link/").c_str(), &st));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, syscall(SYS_lstat, (dir / "link/").c_str(), &st));
}

TEST(SymlinkatTest, RelativeToADirfd) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  long dfd;
  ASSERT_SYSCALL_OK(dfd = Open(dir.path(), O_RDONLY | O_DIRECTORY));
  ASSERT_SYSCALL_OK(syscall(SYS_symlinkat, "target", dfd, "link"));
  EXPECT_TRUE(S_ISLNK(Lstat(dir / "link").st_mode));
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_symlinkat, "target", kBadFd, "link2"));
  Close(dfd);
}

// --- mknod ---

TEST(MknodTest, RegularFilesAndFifos) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ScopedUmask mask(022);
  ASSERT_SYSCALL_OK(syscall(SYS_mknod, (dir / "reg").c_str(), S_IFREG | 0666, 0));
  EXPECT_EQ(Lstat(dir / "reg").st_mode, static_cast<mode_t>(S_IFREG | 0644));
  // A type of 0 means a regular file.
  ASSERT_SYSCALL_OK(syscall(SYS_mknod, (dir / "zero").c_str(), 0644, 0));
  EXPECT_TRUE(S_ISREG(Lstat(dir / "zero").st_mode));
  ASSERT_SYSCALL_OK(syscall(SYS_mknod, (dir / "fifo").c_str(), S_IFIFO | 0666, 0));
  EXPECT_EQ(Lstat(dir / "fifo").st_mode, static_cast<mode_t>(S_IFIFO | 0644));
  EXPECT_SYSCALL_ERRNO(EEXIST, syscall(SYS_mknod, (dir / "reg").c_str(), S_IFREG | 0644, 0));
  long dfd;
  ASSERT_SYSCALL_OK(dfd = Open(dir.path(), O_RDONLY | O_DIRECTORY));
  ASSERT_SYSCALL_OK(syscall(SYS_mknodat, dfd, "at", S_IFREG | 0644, 0));
  EXPECT_TRUE(S_ISREG(Lstat(dir / "at").st_mode));
  Close(dfd);
}

TEST(MknodTest, DirectoriesAndBadTypesAreRefused) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  EXPECT_SYSCALL_ERRNO(EPERM, syscall(SYS_mknod, (dir / "d").c_str(), S_IFDIR | 0755, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_mknod, (dir / "bad").c_str(), 0170000 | 0644, 0));
  EXPECT_SYSCALL_ERRNO(ENOENT, syscall(SYS_mknod, (dir / "missing/x").c_str(), S_IFREG, 0));
  EXPECT_FALSE(Exists(dir / "d"));
  EXPECT_FALSE(Exists(dir / "bad"));
}

// --- getdents64 ---

struct LinuxDirent64 {
  uint64_t d_ino;
  int64_t d_off;
  uint16_t d_reclen;
  uint8_t d_type;
  char d_name[];
};

struct Entry {
  uint64_t ino;
  uint8_t type;
  int count;
};

// Reads the whole directory with a buffer of `bufsize` bytes: name -> (ino, type, times seen).
// Returns false, with a gtest failure, if a call fails or an entry is malformed.
bool ReadDir(long fd, size_t bufsize, std::map<std::string, Entry>* out) {
  std::vector<char> buf(bufsize);
  for (;;) {
    const long n = syscall(SYS_getdents64, fd, buf.data(), buf.size());
    if (n < 0) {
      ADD_FAILURE() << "getdents64: " << conformance::ErrnoName(errno);
      return false;
    }
    if (n == 0) return true;
    long pos = 0;
    while (pos < n) {
      const auto* d = reinterpret_cast<const LinuxDirent64*>(buf.data() + pos);
      if (d->d_reclen == 0 || d->d_reclen % 8 != 0 || pos + d->d_reclen > n) {
        ADD_FAILURE() << "bad d_reclen " << d->d_reclen << " at " << pos << " of " << n;
        return false;
      }
      Entry& e = (*out)[d->d_name];
      e.ino = d->d_ino;
      e.type = d->d_type;
      e.count++;
      pos += d->d_reclen;
    }
  }
}

TEST(GetdentsTest, EveryNameIsSeenOnceWithItsType) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  std::set<std::string> files;
  for (int i = 0; i < 150; i++) {
    const std::string name = "file_with_a_longish_name_" + std::to_string(i);
    ASSERT_TRUE(WriteFile(dir / name, ""));
    files.insert(name);
  }
  ASSERT_SYSCALL_OK(Mkdir(dir / "sub1", 0755));
  ASSERT_SYSCALL_OK(Mkdir(dir / "sub2", 0755));
  ASSERT_SYSCALL_OK(Symlink("nowhere", dir / "link"));
  ASSERT_SYSCALL_OK(syscall(SYS_mknod, (dir / "fifo").c_str(), S_IFIFO | 0644, 0));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir.path(), O_RDONLY | O_DIRECTORY));
  std::map<std::string, Entry> entries;
  // A small buffer: many calls, each continuing where the last stopped.
  ASSERT_TRUE(ReadDir(fd, 200, &entries));
  EXPECT_EQ(entries.size(), files.size() + 6);
  for (const auto& [name, e] : entries) EXPECT_EQ(e.count, 1) << name;
  for (const std::string& name : files) {
    ASSERT_TRUE(entries.count(name)) << name;
    EXPECT_EQ(entries[name].type, DT_REG) << name;
    EXPECT_EQ(entries[name].ino, Ino(dir / name)) << name;
  }
  ASSERT_TRUE(entries.count("."));
  ASSERT_TRUE(entries.count(".."));
  EXPECT_EQ(entries["."].type, DT_DIR);
  EXPECT_EQ(entries["."].ino, Ino(dir.path()));
  EXPECT_EQ(entries[".."].type, DT_DIR);
  EXPECT_EQ(entries["sub1"].type, DT_DIR);
  EXPECT_EQ(entries["sub1"].ino, Ino(dir / "sub1"));
  EXPECT_EQ(entries["sub2"].type, DT_DIR);
  EXPECT_EQ(entries["link"].type, DT_LNK);
  EXPECT_EQ(entries["link"].ino, Ino(dir / "link"));
  EXPECT_EQ(entries["fifo"].type, DT_FIFO);
  // At the end, getdents64 keeps returning 0.
  char buf[256];
  EXPECT_EQ(syscall(SYS_getdents64, fd, buf, sizeof(buf)), 0);
  Close(fd);
}

TEST(GetdentsTest, AnEmptyDirectoryHasDotAndDotDot) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(Mkdir(dir / "d", 0755));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "d", O_RDONLY | O_DIRECTORY));
  std::map<std::string, Entry> entries;
  ASSERT_TRUE(ReadDir(fd, 4096, &entries));
  EXPECT_EQ(entries.size(), 2u);
  EXPECT_TRUE(entries.count("."));
  EXPECT_TRUE(entries.count(".."));
  EXPECT_EQ(entries[".."].ino, Ino(dir.path()));
  Close(fd);
}

TEST(GetdentsTest, SeekingBackToZeroReadsAgain) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  for (int i = 0; i < 20; i++) ASSERT_TRUE(WriteFile(dir / ("f" + std::to_string(i)), ""));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir.path(), O_RDONLY | O_DIRECTORY));
  std::map<std::string, Entry> first, second;
  ASSERT_TRUE(ReadDir(fd, 4096, &first));
  ASSERT_EQ(syscall(SYS_lseek, fd, 0, SEEK_SET), 0);
  ASSERT_TRUE(ReadDir(fd, 4096, &second));
  EXPECT_EQ(first.size(), 22u);
  ASSERT_EQ(first.size(), second.size());
  for (const auto& [name, e] : first) {
    EXPECT_TRUE(second.count(name)) << name;
    EXPECT_EQ(second[name].count, 1) << name;
  }
  Close(fd);
}

TEST(GetdentsTest, ATooSmallBufferIsEINVAL) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir.path(), O_RDONLY | O_DIRECTORY));
  char buf[64];
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_getdents64, fd, buf, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_getdents64, fd, buf, 1));
  // 19 bytes of header + "." + NUL, rounded up to 8, is the smallest record: 24 bytes.
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_getdents64, fd, buf, 23));
  // The failed calls consumed nothing.
  std::map<std::string, Entry> entries;
  ASSERT_TRUE(ReadDir(fd, 24, &entries));
  EXPECT_EQ(entries.size(), 2u);
  Close(fd);
}

TEST(GetdentsTest, BadDescriptorsAndBuffers) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  char buf[256];
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_getdents64, kBadFd, buf, sizeof(buf)));
  long file;
  ASSERT_SYSCALL_OK(file = Open(dir / "f", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, syscall(SYS_getdents64, file, buf, sizeof(buf)));
  Close(file);
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir.path(), O_RDONLY | O_DIRECTORY));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_getdents64, fd, nullptr, sizeof(buf)));
  Close(fd);
}

TEST(GetdentsTest, ARemovedDirectoryIsENOENT) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(Mkdir(dir / "d", 0755));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "d", O_RDONLY | O_DIRECTORY));
  ASSERT_SYSCALL_OK(Rmdir(dir / "d"));
  char buf[256];
  EXPECT_SYSCALL_ERRNO(ENOENT, syscall(SYS_getdents64, fd, buf, sizeof(buf)));
  Close(fd);
}

// --- chdir, fchdir, getcwd ---

long Getcwd(char* buf, size_t size) { return syscall(SYS_getcwd, buf, size); }

TEST(CwdTest, ChdirThenGetcwd) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(Mkdir(dir / "d", 0755));
  ASSERT_TRUE(WriteFile(dir / "d/f", "here"));
  ScopedCwd restore;
  ASSERT_SYSCALL_OK(syscall(SYS_chdir, (dir / "d").c_str()));
  char buf[PATH_MAX];
  const long n = Getcwd(buf, sizeof(buf));
  // The raw system call returns the length including the NUL.
  ASSERT_EQ(n, static_cast<long>((dir / "d").size() + 1));
  EXPECT_EQ(std::string(buf), dir / "d");
  EXPECT_EQ(ReadFile("f"), "here");
  ASSERT_SYSCALL_OK(syscall(SYS_chdir, ".."));
  ASSERT_SYSCALL_OK(Getcwd(buf, sizeof(buf)));
  EXPECT_EQ(std::string(buf), dir.path());
  ASSERT_SYSCALL_OK(syscall(SYS_chdir, "d/../d/./"));
  ASSERT_SYSCALL_OK(Getcwd(buf, sizeof(buf)));
  EXPECT_EQ(std::string(buf), dir / "d");
  ASSERT_SYSCALL_OK(syscall(SYS_chdir, "/"));
  ASSERT_EQ(Getcwd(buf, sizeof(buf)), 2);
  EXPECT_EQ(std::string(buf), "/");
}

TEST(CwdTest, ThroughASymlinkGetcwdShowsTheTarget) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(Mkdir(dir / "real", 0755));
  ASSERT_SYSCALL_OK(Symlink("real", dir / "link"));
  ScopedCwd restore;
  ASSERT_SYSCALL_OK(syscall(SYS_chdir, (dir / "link").c_str()));
  char buf[PATH_MAX];
  ASSERT_SYSCALL_OK(Getcwd(buf, sizeof(buf)));
  EXPECT_EQ(std::string(buf), dir / "real");
}

TEST(CwdTest, Fchdir) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  long dfd;
  ASSERT_SYSCALL_OK(dfd = Open(dir.path(), O_RDONLY | O_DIRECTORY));
  long file;
  ASSERT_SYSCALL_OK(file = Open(dir / "f", O_RDONLY));
  {
    ScopedCwd restore;
    ASSERT_SYSCALL_OK(syscall(SYS_fchdir, dfd));
    char buf[PATH_MAX];
    ASSERT_SYSCALL_OK(Getcwd(buf, sizeof(buf)));
    EXPECT_EQ(std::string(buf), dir.path());
    EXPECT_SYSCALL_ERRNO(ENOTDIR, syscall(SYS_fchdir, file));
    EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_fchdir, kBadFd));
    // A failed fchdir leaves the working directory alone.
    ASSERT_SYSCALL_OK(Getcwd(buf, sizeof(buf)));
    EXPECT_EQ(std::string(buf), dir.path());
  }
  Close(file);
  Close(dfd);
}

TEST(CwdTest, ChdirErrors) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  ASSERT_SYSCALL_OK(Symlink("f", dir / "flink"));
  ScopedCwd restore;
  EXPECT_SYSCALL_ERRNO(ENOTDIR, syscall(SYS_chdir, (dir / "f").c_str()));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, syscall(SYS_chdir, (dir / "flink").c_str()));
  EXPECT_SYSCALL_ERRNO(ENOENT, syscall(SYS_chdir, (dir / "missing").c_str()));
  EXPECT_SYSCALL_ERRNO(ENOENT, syscall(SYS_chdir, ""));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_chdir, nullptr));
}

TEST(CwdTest, GetcwdWithATooSmallBufferIsERANGE) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ScopedCwd restore;
  ASSERT_SYSCALL_OK(syscall(SYS_chdir, dir.path().c_str()));
  const size_t need = dir.path().size() + 1;
  char buf[PATH_MAX];
  EXPECT_SYSCALL_ERRNO(ERANGE, Getcwd(buf, need - 1));
  EXPECT_SYSCALL_ERRNO(ERANGE, Getcwd(buf, 1));
  EXPECT_SYSCALL_ERRNO(ERANGE, Getcwd(buf, 0));
  EXPECT_EQ(Getcwd(buf, need), static_cast<long>(need));
  EXPECT_SYSCALL_ERRNO(EFAULT, Getcwd(nullptr, sizeof(buf)));
}

TEST(CwdTest, GetcwdOfARemovedDirectoryIsENOENT) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(Mkdir(dir / "d", 0755));
  ScopedCwd restore;
  ASSERT_SYSCALL_OK(syscall(SYS_chdir, (dir / "d").c_str()));
  ASSERT_SYSCALL_OK(Rmdir(dir / "d"));
  char buf[PATH_MAX];
  EXPECT_SYSCALL_ERRNO(ENOENT, Getcwd(buf, sizeof(buf)));
  // Nothing can be created in it.
  EXPECT_SYSCALL_ERRNO(ENOENT, Open("new", O_WRONLY | O_CREAT, 0644));
}

// --- umask ---

TEST(UmaskTest, ReturnsThePreviousMask) {
  const mode_t original = static_cast<mode_t>(syscall(SYS_umask, 027));
  EXPECT_EQ(syscall(SYS_umask, 0), 027);
  EXPECT_EQ(syscall(SYS_umask, 0777), 0);
  EXPECT_EQ(syscall(SYS_umask, original), 0777);
}

TEST(UmaskTest, OnlyThePermissionBitsAreKept) {
  const mode_t original = static_cast<mode_t>(syscall(SYS_umask, 07777));
  EXPECT_EQ(syscall(SYS_umask, 0xffff), 0777);
  EXPECT_EQ(syscall(SYS_umask, original), 0777);
}

}  // namespace
