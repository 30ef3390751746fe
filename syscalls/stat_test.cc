// stat, lstat, fstat, newfstatat, statx; access, faccessat, faccessat2; readlink, readlinkat.
// What each reports for files, directories and symlinks, how the *at forms take a directory
// descriptor, AT_EMPTY_PATH and AT_SYMLINK_NOFOLLOW, and the errors for bad arguments.
//
// Every test that creates files works in its own scratch directory under /tmp. Raw system calls
// throughout: glibc implements stat and friends with newfstatat or statx.
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "syscalls/fs_test_util.h"
#include "syscalls/test_util.h"

namespace {

constexpr int kBadFd = 99;

using namespace conformance;  // NOLINT: the shared helpers of fs_test_util.h


long Stat(const std::string& path, struct stat* st) { return syscall(SYS_stat, path.c_str(), st); }
long LstatRaw(const std::string& path, struct stat* st) {
  return syscall(SYS_lstat, path.c_str(), st);
}
long Fstatat(int dirfd, const std::string& path, struct stat* st, int flags) {
  return syscall(SYS_newfstatat, dirfd, path.c_str(), st, flags);
}
long Statx(int dirfd, const std::string& path, int flags, unsigned mask, struct statx* stx) {
  return syscall(SYS_statx, dirfd, path.c_str(), flags, mask, stx);
}
long Faccessat2(int dirfd, const std::string& path, int mode, int flags) {
  return syscall(SYS_faccessat2, dirfd, path.c_str(), mode, flags);
}
long Readlink(const std::string& path, char* buf, long size) {
  return syscall(SYS_readlink, path.c_str(), buf, size);
}

bool SameFile(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// --- stat, lstat, fstat, newfstatat on a regular file ---

TEST(StatTest, AllFormsAgreeOnARegularFile) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ScopedUmask mask(022);
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "f", O_RDWR | O_CREAT, 0640));
  ASSERT_EQ(syscall(SYS_write, fd, "hello", 5), 5);

  struct stat by_stat {}, by_lstat {}, by_fstat {}, by_fstatat {};
  ASSERT_SYSCALL_OK(Stat(dir / "f", &by_stat));
  ASSERT_SYSCALL_OK(LstatRaw(dir / "f", &by_lstat));
  ASSERT_SYSCALL_OK(syscall(SYS_fstat, fd, &by_fstat));
  ASSERT_SYSCALL_OK(Fstatat(AT_FDCWD, dir / "f", &by_fstatat, 0));
  for (const struct stat* st : {&by_stat, &by_lstat, &by_fstat, &by_fstatat}) {
    EXPECT_EQ(st->st_mode, static_cast<mode_t>(S_IFREG | 0640)) << std::oct << st->st_mode;
    EXPECT_EQ(st->st_size, 5);
    EXPECT_EQ(st->st_nlink, 1u);
    EXPECT_EQ(st->st_uid, getuid());
    EXPECT_EQ(st->st_gid, getgid());
    EXPECT_GT(st->st_blksize, 0);
    EXPECT_TRUE(SameFile(*st, by_stat));
  }
  Close(fd);
}

TEST(StatTest, TheDirectoryAndItsEntriesShareADevice) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", ""));
  struct stat d {}, f {};
  ASSERT_SYSCALL_OK(Stat(dir.path(), &d));
  ASSERT_SYSCALL_OK(Stat(dir / "f", &f));
  EXPECT_TRUE(S_ISDIR(d.st_mode));
  EXPECT_EQ(d.st_dev, f.st_dev);
  EXPECT_NE(d.st_ino, f.st_ino);
}

TEST(StatTest, SizeFollowsWrites) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "f", O_RDWR | O_CREAT, 0644));
  struct stat st {};
  ASSERT_SYSCALL_OK(syscall(SYS_fstat, fd, &st));
  EXPECT_EQ(st.st_size, 0);
  ASSERT_EQ(syscall(SYS_write, fd, "0123456789", 10), 10);
  ASSERT_SYSCALL_OK(syscall(SYS_fstat, fd, &st));
  EXPECT_EQ(st.st_size, 10);
  // Writing inside the file does not grow it; writing past the end does, leaving a hole.
  ASSERT_EQ(syscall(SYS_pwrite64, fd, "ab", 2, 3), 2);
  ASSERT_SYSCALL_OK(syscall(SYS_fstat, fd, &st));
  EXPECT_EQ(st.st_size, 10);
  ASSERT_EQ(syscall(SYS_pwrite64, fd, "z", 1, 100), 1);
  ASSERT_SYSCALL_OK(Stat(dir / "f", &st));
  EXPECT_EQ(st.st_size, 101);
  // Seeking past the end alone does not change the size.
  ASSERT_EQ(syscall(SYS_lseek, fd, 1000, SEEK_SET), 1000);
  ASSERT_SYSCALL_OK(syscall(SYS_fstat, fd, &st));
  EXPECT_EQ(st.st_size, 101);
  Close(fd);
}

TEST(StatTest, ANewFileHasCurrentTimes) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  const time_t before = time(nullptr);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  const time_t after = time(nullptr);
  struct stat st {};
  ASSERT_SYSCALL_OK(Stat(dir / "f", &st));
  for (time_t t : {st.st_atime, st.st_mtime, st.st_ctime}) {
    EXPECT_GE(t, before - 1);
    EXPECT_LE(t, after + 1);
  }
  EXPECT_LT(st.st_mtim.tv_nsec, 1000000000);
}

TEST(StatTest, DirectoryLinkCountCountsSubdirectories) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(mkdir((dir / "d").c_str(), 0755));
  struct stat st {};
  ASSERT_SYSCALL_OK(Stat(dir / "d", &st));
  EXPECT_EQ(st.st_nlink, 2u);
  ASSERT_SYSCALL_OK(mkdir((dir / "d/a").c_str(), 0755));
  ASSERT_SYSCALL_OK(mkdir((dir / "d/b").c_str(), 0755));
  ASSERT_TRUE(WriteFile(dir / "d/file", "x"));
  ASSERT_SYSCALL_OK(Stat(dir / "d", &st));
  EXPECT_EQ(st.st_nlink, 4u);
  ASSERT_SYSCALL_OK(rmdir((dir / "d/a").c_str()));
  ASSERT_SYSCALL_OK(Stat(dir / "d", &st));
  EXPECT_EQ(st.st_nlink, 3u);
}

TEST(StatTest, LinkCountFollowsHardLinks) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  ASSERT_SYSCALL_OK(link((dir / "f").c_str(), (dir / "g").c_str()));
  struct stat f {}, g {};
  ASSERT_SYSCALL_OK(Stat(dir / "f", &f));
  ASSERT_SYSCALL_OK(Stat(dir / "g", &g));
  EXPECT_EQ(f.st_nlink, 2u);
  EXPECT_TRUE(SameFile(f, g));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "g", O_RDONLY));
  ASSERT_SYSCALL_OK(unlink((dir / "f").c_str()));
  ASSERT_SYSCALL_OK(syscall(SYS_fstat, fd, &g));
  EXPECT_EQ(g.st_nlink, 1u);
  // An open file that has lost its last name reports no links.
  ASSERT_SYSCALL_OK(unlink((dir / "g").c_str()));
  ASSERT_SYSCALL_OK(syscall(SYS_fstat, fd, &g));
  EXPECT_EQ(g.st_nlink, 0u);
  Close(fd);
}

TEST(StatTest, LstatSeesTheSymlinkStatFollowsIt) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "target", "hello"));
  ASSERT_SYSCALL_OK(symlink("target", (dir / "link").c_str()));
  struct stat l {}, s {}, t {};
  ASSERT_SYSCALL_OK(LstatRaw(dir / "link", &l));
  ASSERT_SYSCALL_OK(Stat(dir / "link", &s));
  ASSERT_SYSCALL_OK(Stat(dir / "target", &t));
  EXPECT_TRUE(S_ISLNK(l.st_mode)) << std::oct << l.st_mode;
  EXPECT_EQ(l.st_mode & 0777, 0777u);
  // A symlink's size is the length of its target.
  EXPECT_EQ(l.st_size, 6);
  EXPECT_FALSE(SameFile(l, t));
  EXPECT_TRUE(SameFile(s, t));
  EXPECT_EQ(s.st_size, 5);
}

TEST(StatTest, ATrailingSlashFollowsASymlinkToADirectory) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(mkdir((dir / "d").c_str(), 0755));
  ASSERT_SYSCALL_OK(symlink("d", (dir / "link").c_str()));
  struct stat st {};
  ASSERT_SYSCALL_OK(LstatRaw(dir / "link/", &st));
  EXPECT_TRUE(S_ISDIR(st.st_mode)) << std::oct << st.st_mode;
}

TEST(StatTest, RootAndHostFiles) {
  struct stat root {}, dotdot {}, passwd {};
  ASSERT_SYSCALL_OK(Stat("/", &root));
  EXPECT_TRUE(S_ISDIR(root.st_mode));
  EXPECT_GE(root.st_nlink, 2u);
  // ".." of the root is the root.
  ASSERT_SYSCALL_OK(Stat("/..", &dotdot));
  EXPECT_TRUE(SameFile(root, dotdot));
  ASSERT_SYSCALL_OK(Stat("/etc/passwd", &passwd));
  EXPECT_TRUE(S_ISREG(passwd.st_mode));
  EXPECT_GT(passwd.st_size, 0);
  EXPECT_EQ(passwd.st_uid, 0u);
  struct stat st {};
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Stat("/etc/passwd/", &st));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Stat("/etc/passwd/x", &st));
}

TEST(StatTest, BadPathsFail) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  struct stat st {};
  EXPECT_SYSCALL_ERRNO(ENOENT, Stat(dir / "missing", &st));
  EXPECT_SYSCALL_ERRNO(ENOENT, LstatRaw(dir / "missing", &st));
  EXPECT_SYSCALL_ERRNO(ENOENT, Stat("", &st));
  EXPECT_SYSCALL_ERRNO(ENOENT, LstatRaw("", &st));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Stat(dir / "f/x", &st));
  EXPECT_SYSCALL_ERRNO(ENAMETOOLONG, Stat(dir / std::string(NAME_MAX + 1, 'n'), &st));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_stat, nullptr, &st));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_lstat, nullptr, &st));
  ASSERT_SYSCALL_OK(symlink("nowhere", (dir / "dangling").c_str()));
  EXPECT_SYSCALL_ERRNO(ENOENT, Stat(dir / "dangling", &st));
  EXPECT_SYSCALL_OK(LstatRaw(dir / "dangling", &st));
}

TEST(StatTest, ABadBufferIsEFAULT) {
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_stat, "/", nullptr));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_lstat, "/", reinterpret_cast<struct stat*>(1)));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_newfstatat, AT_FDCWD, "/", nullptr, 0));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open("/", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_fstat, fd, nullptr));
  Close(fd);
}

TEST(FstatTest, ABadFdIsEBADF) {
  struct stat st {};
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_fstat, kBadFd, &st));
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_fstat, -1, &st));
}

TEST(FstatTest, WorksOnAPathDescriptor) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir.path(), O_PATH));
  struct stat st {}, expected {};
  ASSERT_SYSCALL_OK(syscall(SYS_fstat, fd, &st));
  ASSERT_SYSCALL_OK(Stat(dir.path(), &expected));
  EXPECT_TRUE(SameFile(st, expected));
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  Close(fd);
}

// --- newfstatat ---

TEST(FstatatTest, EmptyPathStatsTheDescriptor) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "hello"));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "f", O_RDONLY));
  struct stat st {}, expected {};
  ASSERT_SYSCALL_OK(Stat(dir / "f", &expected));
  ASSERT_SYSCALL_OK(Fstatat(fd, "", &st, AT_EMPTY_PATH));
  EXPECT_TRUE(SameFile(st, expected));
  EXPECT_EQ(st.st_size, 5);
  // Without AT_EMPTY_PATH an empty path is ENOENT.
  EXPECT_SYSCALL_ERRNO(ENOENT, Fstatat(fd, "", &st, 0));
  // With AT_FDCWD it stats the working directory.
  {
    ScopedCwd restore;
    ASSERT_SYSCALL_OK(chdir(dir.path().c_str()));
    ASSERT_SYSCALL_OK(Fstatat(AT_FDCWD, "", &st, AT_EMPTY_PATH));
    ASSERT_SYSCALL_OK(Stat(dir.path(), &expected));
    EXPECT_TRUE(SameFile(st, expected));
  }
  EXPECT_SYSCALL_ERRNO(EBADF, Fstatat(kBadFd, "", &st, AT_EMPTY_PATH));
  Close(fd);
}

TEST(FstatatTest, EmptyPathWorksOnAPathDescriptorOfASymlink) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(symlink("nowhere", (dir / "link").c_str()));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "link", O_PATH | O_NOFOLLOW));
  struct stat st {};
  ASSERT_SYSCALL_OK(Fstatat(fd, "", &st, AT_EMPTY_PATH));
  EXPECT_TRUE(S_ISLNK(st.st_mode)) << std::oct << st.st_mode;
  Close(fd);
}

TEST(FstatatTest, SymlinkNofollow) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "target", "hello"));
  ASSERT_SYSCALL_OK(symlink("target", (dir / "link").c_str()));
  struct stat st {};
  ASSERT_SYSCALL_OK(Fstatat(AT_FDCWD, dir / "link", &st, AT_SYMLINK_NOFOLLOW));
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  ASSERT_SYSCALL_OK(Fstatat(AT_FDCWD, dir / "link", &st, 0));
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_size, 5);
}

TEST(FstatatTest, RelativeToADirfd) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "abc"));
  long dfd;
  ASSERT_SYSCALL_OK(dfd = Open(dir.path(), O_RDONLY | O_DIRECTORY));
  struct stat st {};
  ASSERT_SYSCALL_OK(Fstatat(dfd, "f", &st, 0));
  EXPECT_EQ(st.st_size, 3);
  EXPECT_SYSCALL_ERRNO(ENOENT, Fstatat(dfd, "missing", &st, 0));
  long file;
  ASSERT_SYSCALL_OK(file = Open(dir / "f", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Fstatat(file, "x", &st, 0));
  EXPECT_SYSCALL_ERRNO(EBADF, Fstatat(kBadFd, "f", &st, 0));
  // An absolute path ignores the dirfd.
  EXPECT_SYSCALL_OK(Fstatat(kBadFd, dir / "f", &st, 0));
  Close(file);
  Close(dfd);
}

TEST(FstatatTest, BadFlagsAreEINVAL) {
  struct stat st {};
  EXPECT_SYSCALL_ERRNO(EINVAL, Fstatat(AT_FDCWD, "/", &st, 0x1));
  EXPECT_SYSCALL_ERRNO(EINVAL, Fstatat(AT_FDCWD, "/", &st, AT_REMOVEDIR));
  EXPECT_SYSCALL_ERRNO(EINVAL, Fstatat(AT_FDCWD, "/", &st, AT_SYMLINK_FOLLOW));
  // AT_NO_AUTOMOUNT is accepted.
  EXPECT_SYSCALL_OK(Fstatat(AT_FDCWD, "/", &st, AT_NO_AUTOMOUNT));
}

// --- statx ---

TEST(StatxTest, AgreesWithFstat) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "hello"));
  struct stat st {};
  ASSERT_SYSCALL_OK(Stat(dir / "f", &st));
  struct statx stx {};
  ASSERT_SYSCALL_OK(Statx(AT_FDCWD, dir / "f", 0, STATX_BASIC_STATS, &stx));
  EXPECT_EQ(stx.stx_mask & STATX_BASIC_STATS, STATX_BASIC_STATS) << std::hex << stx.stx_mask;
  EXPECT_EQ(stx.stx_mode, st.st_mode);
  EXPECT_EQ(stx.stx_ino, st.st_ino);
  EXPECT_EQ(stx.stx_size, 5u);
  EXPECT_EQ(stx.stx_nlink, st.st_nlink);
  EXPECT_EQ(stx.stx_uid, st.st_uid);
  EXPECT_EQ(stx.stx_gid, st.st_gid);
  EXPECT_EQ(stx.stx_blksize, static_cast<uint32_t>(st.st_blksize));
  EXPECT_EQ(stx.stx_blocks, static_cast<uint64_t>(st.st_blocks));
  EXPECT_EQ(makedev(stx.stx_dev_major, stx.stx_dev_minor), st.st_dev);
  EXPECT_EQ(stx.stx_mtime.tv_sec, st.st_mtim.tv_sec);
  EXPECT_EQ(stx.stx_mtime.tv_nsec, static_cast<uint32_t>(st.st_mtim.tv_nsec));
}

TEST(StatxTest, EmptyPathAndNofollow) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "hello"));
  ASSERT_SYSCALL_OK(symlink("f", (dir / "link").c_str()));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "f", O_RDONLY));
  struct statx stx {};
  ASSERT_SYSCALL_OK(Statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx));
  EXPECT_EQ(stx.stx_size, 5u);
  EXPECT_TRUE(S_ISREG(stx.stx_mode));
  EXPECT_SYSCALL_ERRNO(ENOENT, Statx(fd, "", 0, STATX_BASIC_STATS, &stx));
  ASSERT_SYSCALL_OK(Statx(AT_FDCWD, dir / "link", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx));
  EXPECT_TRUE(S_ISLNK(stx.stx_mode));
  EXPECT_EQ(stx.stx_size, 1u);
  ASSERT_SYSCALL_OK(Statx(AT_FDCWD, dir / "link", 0, STATX_BASIC_STATS, &stx));
  EXPECT_TRUE(S_ISREG(stx.stx_mode));
  Close(fd);
}

TEST(StatxTest, AZeroMaskStillSucceeds) {
  struct statx stx {};
  EXPECT_SYSCALL_OK(Statx(AT_FDCWD, "/", 0, 0, &stx));
  // The type is always filled in.
  EXPECT_TRUE(S_ISDIR(stx.stx_mode));
}

TEST(StatxTest, SyncFlagsAreAccepted) {
  struct statx stx {};
  EXPECT_SYSCALL_OK(Statx(AT_FDCWD, "/", AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &stx));
  EXPECT_SYSCALL_OK(Statx(AT_FDCWD, "/", AT_STATX_DONT_SYNC, STATX_BASIC_STATS, &stx));
  EXPECT_SYSCALL_OK(Statx(AT_FDCWD, "/", AT_NO_AUTOMOUNT, STATX_BASIC_STATS, &stx));
}

TEST(StatxTest, BadFlagsAreEINVAL) {
  struct statx stx {};
  EXPECT_SYSCALL_ERRNO(EINVAL, Statx(AT_FDCWD, "/", 0x1, STATX_BASIC_STATS, &stx));
  EXPECT_SYSCALL_ERRNO(EINVAL, Statx(AT_FDCWD, "/", AT_REMOVEDIR, STATX_BASIC_STATS, &stx));
  // FORCE_SYNC and DONT_SYNC together contradict each other.
  EXPECT_SYSCALL_ERRNO(EINVAL, Statx(AT_FDCWD, "/", AT_STATX_SYNC_TYPE, STATX_BASIC_STATS, &stx));
}

TEST(StatxTest, TheReservedMaskBitIsEINVAL) {
  struct statx stx {};
  EXPECT_SYSCALL_ERRNO(EINVAL, Statx(AT_FDCWD, "/", 0, STATX__RESERVED, &stx));
  EXPECT_SYSCALL_ERRNO(EINVAL, Statx(AT_FDCWD, "/", 0, STATX_BASIC_STATS | STATX__RESERVED, &stx));
}

TEST(StatxTest, ErrorsLikeStat) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", ""));
  struct statx stx {};
  EXPECT_SYSCALL_ERRNO(ENOENT, Statx(AT_FDCWD, dir / "missing", 0, STATX_BASIC_STATS, &stx));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Statx(AT_FDCWD, dir / "f/x", 0, STATX_BASIC_STATS, &stx));
  EXPECT_SYSCALL_ERRNO(EBADF, Statx(kBadFd, "x", 0, STATX_BASIC_STATS, &stx));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_statx, AT_FDCWD, "/", 0, STATX_BASIC_STATS, nullptr));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_statx, AT_FDCWD, reinterpret_cast<char*>(1), 0,
                                       STATX_BASIC_STATS, &stx));
}

// --- access, faccessat, faccessat2 ---

TEST(AccessTest, ExistenceAndPermissions) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ScopedUmask mask(022);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));  // 0644
  EXPECT_SYSCALL_OK(syscall(SYS_access, (dir / "f").c_str(), F_OK));
  EXPECT_SYSCALL_OK(syscall(SYS_access, (dir / "f").c_str(), R_OK));
  EXPECT_SYSCALL_OK(syscall(SYS_access, (dir / "f").c_str(), R_OK | W_OK));
  // Not even root may execute a file with no execute bit.
  EXPECT_SYSCALL_ERRNO(EACCES, syscall(SYS_access, (dir / "f").c_str(), X_OK));
  EXPECT_SYSCALL_OK(syscall(SYS_access, dir.path().c_str(), R_OK | W_OK | X_OK));
  EXPECT_SYSCALL_OK(syscall(SYS_access, "/etc/passwd", R_OK));
  EXPECT_SYSCALL_OK(syscall(SYS_access, "/", X_OK));
}

TEST(AccessTest, ExecuteBitIsHonoured) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ScopedUmask mask(022);
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "x", O_WRONLY | O_CREAT, 0755));
  Close(fd);
  EXPECT_SYSCALL_OK(syscall(SYS_access, (dir / "x").c_str(), X_OK));
}

TEST(AccessTest, BadPathsFail) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  ASSERT_SYSCALL_OK(symlink("nowhere", (dir / "dangling").c_str()));
  EXPECT_SYSCALL_ERRNO(ENOENT, syscall(SYS_access, (dir / "missing").c_str(), F_OK));
  EXPECT_SYSCALL_ERRNO(ENOENT, syscall(SYS_access, (dir / "dangling").c_str(), F_OK));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, syscall(SYS_access, (dir / "f/x").c_str(), F_OK));
  EXPECT_SYSCALL_ERRNO(ENOENT, syscall(SYS_access, "", F_OK));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_access, nullptr, F_OK));
}

TEST(AccessTest, BadModeIsEINVAL) {
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_access, "/", 8));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_access, "/", -1));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_faccessat, AT_FDCWD, "/", 0x10));
  EXPECT_SYSCALL_ERRNO(EINVAL, Faccessat2(AT_FDCWD, "/", 8, 0));
  // The mode is checked before the path is looked up.
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_access, "/nonexistent/path", 8));
}

TEST(FaccessatTest, RelativeToADirfd) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  long dfd;
  ASSERT_SYSCALL_OK(dfd = Open(dir.path(), O_RDONLY | O_DIRECTORY));
  EXPECT_SYSCALL_OK(syscall(SYS_faccessat, dfd, "f", R_OK));
  EXPECT_SYSCALL_ERRNO(ENOENT, syscall(SYS_faccessat, dfd, "missing", F_OK));
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_faccessat, kBadFd, "f", F_OK));
  long file;
  ASSERT_SYSCALL_OK(file = Open(dir / "f", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, syscall(SYS_faccessat, file, "x", F_OK));
  Close(file);
  Close(dfd);
}

TEST(Faccessat2Test, Flags) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  ASSERT_SYSCALL_OK(symlink("nowhere", (dir / "dangling").c_str()));
  // AT_SYMLINK_NOFOLLOW checks the link itself, which exists.
  EXPECT_SYSCALL_OK(Faccessat2(AT_FDCWD, dir / "dangling", F_OK, AT_SYMLINK_NOFOLLOW));
  EXPECT_SYSCALL_ERRNO(ENOENT, Faccessat2(AT_FDCWD, dir / "dangling", F_OK, 0));
  EXPECT_SYSCALL_OK(Faccessat2(AT_FDCWD, dir / "f", R_OK, AT_EACCESS));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "f", O_RDONLY));
  EXPECT_SYSCALL_OK(Faccessat2(fd, "", R_OK, AT_EMPTY_PATH));
  EXPECT_SYSCALL_ERRNO(ENOENT, Faccessat2(fd, "", R_OK, 0));
  Close(fd);
}

TEST(Faccessat2Test, BadFlagsAreEINVAL) {
  EXPECT_SYSCALL_ERRNO(EINVAL, Faccessat2(AT_FDCWD, "/", F_OK, 0x1));
  EXPECT_SYSCALL_ERRNO(EINVAL, Faccessat2(AT_FDCWD, "/", F_OK, AT_SYMLINK_FOLLOW));
  EXPECT_SYSCALL_ERRNO(EINVAL, Faccessat2(AT_FDCWD, "/", F_OK, AT_STATX_FORCE_SYNC));
}

// --- readlink, readlinkat ---

TEST(ReadlinkTest, ReturnsTheTargetWithoutANul) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(symlink("some/target", (dir / "rel").c_str()));
  ASSERT_SYSCALL_OK(symlink("/etc/passwd", (dir / "abs").c_str()));
  char buf[64];
  memset(buf, '#', sizeof(buf));
  ASSERT_EQ(Readlink(dir / "rel", buf, sizeof(buf)), 11);
  EXPECT_EQ(std::string(buf, 11), "some/target");
  EXPECT_EQ(buf[11], '#');
  ASSERT_EQ(Readlink(dir / "abs", buf, sizeof(buf)), 11);
  EXPECT_EQ(std::string(buf, 11), "/etc/passwd");
  // The target need not exist, and is never resolved.
  ASSERT_SYSCALL_OK(symlink("../../nowhere/..", (dir / "dangling").c_str()));
  ASSERT_EQ(Readlink(dir / "dangling", buf, sizeof(buf)), 16);
  EXPECT_EQ(std::string(buf, 16), "../../nowhere/..");
}

TEST(ReadlinkTest, TruncatesToTheBufferSize) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(symlink("abcdefgh", (dir / "link").c_str()));
  char buf[16];
  memset(buf, '#', sizeof(buf));
  ASSERT_EQ(Readlink(dir / "link", buf, 3), 3);
  EXPECT_EQ(std::string(buf, 4), "abc#");
  ASSERT_EQ(Readlink(dir / "link", buf, 8), 8);
  EXPECT_EQ(std::string(buf, 8), "abcdefgh");
}

TEST(ReadlinkTest, NonSymlinkIsEINVAL) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  char buf[64];
  EXPECT_SYSCALL_ERRNO(EINVAL, Readlink(dir / "f", buf, sizeof(buf)));
  EXPECT_SYSCALL_ERRNO(EINVAL, Readlink(dir.path(), buf, sizeof(buf)));
  EXPECT_SYSCALL_ERRNO(EINVAL, Readlink("/", buf, sizeof(buf)));
  EXPECT_SYSCALL_ERRNO(EINVAL, Readlink("/etc/passwd", buf, sizeof(buf)));
}

TEST(ReadlinkTest, ANonPositiveSizeIsEINVAL) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(symlink("target", (dir / "link").c_str()));
  char buf[64];
  EXPECT_SYSCALL_ERRNO(EINVAL, Readlink(dir / "link", buf, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, Readlink(dir / "link", buf, -1));
}

TEST(ReadlinkTest, BadPathsAndBuffers) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  ASSERT_SYSCALL_OK(symlink("target", (dir / "link").c_str()));
  char buf[64];
  EXPECT_SYSCALL_ERRNO(ENOENT, Readlink(dir / "missing", buf, sizeof(buf)));
  EXPECT_SYSCALL_ERRNO(ENOENT, Readlink("", buf, sizeof(buf)));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Readlink(dir / "f/x", buf, sizeof(buf)));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_readlink, nullptr, buf, sizeof(buf)));
  EXPECT_SYSCALL_ERRNO(EFAULT, Readlink(dir / "link", nullptr, sizeof(buf)));
}

TEST(ReadlinkatTest, RelativeToADirfd) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(symlink("target", (dir / "link").c_str()));
  long dfd;
  ASSERT_SYSCALL_OK(dfd = Open(dir.path(), O_RDONLY | O_DIRECTORY));
  char buf[64];
  ASSERT_EQ(syscall(SYS_readlinkat, dfd, "link", buf, sizeof(buf)), 6);
  EXPECT_EQ(std::string(buf, 6), "target");
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_readlinkat, kBadFd, "link", buf, sizeof(buf)));
  Close(dfd);
}

TEST(ReadlinkatTest, EmptyPathReadsAPathDescriptorOfASymlink) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(symlink("target", (dir / "link").c_str()));
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "link", O_PATH | O_NOFOLLOW));
  char buf[64];
  ASSERT_EQ(syscall(SYS_readlinkat, fd, "", buf, sizeof(buf)), 6);
  EXPECT_EQ(std::string(buf, 6), "target");
  Close(fd);
  // On anything but a symlink, the empty path is ENOENT.
  long file;
  ASSERT_SYSCALL_OK(file = Open(dir / "f", O_PATH));
  EXPECT_SYSCALL_ERRNO(ENOENT, syscall(SYS_readlinkat, file, "", buf, sizeof(buf)));
  Close(file);
}

}  // namespace
