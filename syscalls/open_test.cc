// open, openat, openat2, creat: creating, the flags that change how a path resolves (O_NOFOLLOW,
// O_DIRECTORY, O_PATH, openat2's RESOLVE_*), the access mode, O_TRUNC, O_APPEND, O_CLOEXEC, which
// descriptor number comes back, and the errors for bad paths, bad descriptors and bad arguments.
//
// Every test works in its own scratch directory under /tmp. The raw system calls are used
// throughout: glibc turns open() into openat() and would hide the difference.
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

// openat2(2): with RESOLVE_BENEATH or RESOLVE_IN_ROOT, a ".." may fail with EAGAIN when a
// rename or mount anywhere raced the walk (Linux checks its rename and mount seqcounts), and the
// man page tells callers to retry; other tests running in parallel rename files all the time.
[[maybe_unused]] long Openat2(int dirfd, const std::string& path, const open_how* how,
                              size_t size) {
  long r;
  int tries = 0;
  do {
    r = syscall(SYS_openat2, dirfd, path.c_str(), how, size);
  } while (r < 0 && errno == EAGAIN && ++tries < 100);
  return r;
}

// --- O_CREAT, O_EXCL, creat ---

TEST(OpenCreateTest, CreatesAnEmptyFileWithTheModeMaskedByTheUmask) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ScopedUmask mask(022);
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "f", O_WRONLY | O_CREAT, 0666));
  const struct stat st = Fstat(fd);
  EXPECT_TRUE(S_ISREG(st.st_mode)) << std::oct << st.st_mode;
  EXPECT_EQ(st.st_mode & 07777, 0644u) << std::oct << st.st_mode;
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(st.st_nlink, 1u);
  EXPECT_SYSCALL_OK(Close(fd));
  EXPECT_TRUE(Exists(dir / "f"));
}

TEST(OpenCreateTest, UmaskZeroKeepsTheWholeMode) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ScopedUmask mask(0);
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "f", O_WRONLY | O_CREAT, 0751));
  EXPECT_EQ(Fstat(fd).st_mode & 07777, 0751u);
  Close(fd);
}

TEST(OpenCreateTest, ExistingFileIsOpenedNotTruncated) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "hello"));
  const mode_t before = Lstat(dir / "f").st_mode;
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "f", O_RDWR | O_CREAT, 0600));
  EXPECT_EQ(Fstat(fd).st_size, 5);
  // The mode of an existing file is not changed.
  EXPECT_EQ(Fstat(fd).st_mode, before);
  Close(fd);
  EXPECT_EQ(ReadFile(dir / "f"), "hello");
}

TEST(OpenCreateTest, ExclOnAnExistingNameIsEEXIST) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "file", "x"));
  ASSERT_SYSCALL_OK(mkdir((dir / "dir").c_str(), 0755));
  ASSERT_SYSCALL_OK(symlink("nowhere", (dir / "dangling").c_str()));
  ASSERT_SYSCALL_OK(symlink("file", (dir / "link").c_str()));
  EXPECT_SYSCALL_ERRNO(EEXIST, Open(dir / "file", O_WRONLY | O_CREAT | O_EXCL, 0644));
  EXPECT_SYSCALL_ERRNO(EEXIST, Open(dir / "dir", O_RDONLY | O_CREAT | O_EXCL, 0644));
  // O_EXCL does not follow a symlink, not even a dangling one.
  EXPECT_SYSCALL_ERRNO(EEXIST, Open(dir / "dangling", O_WRONLY | O_CREAT | O_EXCL, 0644));
  EXPECT_SYSCALL_ERRNO(EEXIST, Open(dir / "link", O_WRONLY | O_CREAT | O_EXCL, 0644));
  EXPECT_FALSE(Exists(dir / "nowhere"));
}

TEST(OpenCreateTest, ExclOnANewNameCreatesIt) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "f", O_WRONLY | O_CREAT | O_EXCL, 0644));
  Close(fd);
  EXPECT_TRUE(Exists(dir / "f"));
}

TEST(OpenCreateTest, ThroughADanglingSymlinkCreatesTheTarget) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(symlink("target", (dir / "link").c_str()));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "link", O_WRONLY | O_CREAT, 0644));
  ASSERT_EQ(syscall(SYS_write, fd, "abc", 3), 3);
  Close(fd);
  EXPECT_TRUE(S_ISLNK(Lstat(dir / "link").st_mode));
  const struct stat target = Lstat(dir / "target");
  EXPECT_TRUE(S_ISREG(target.st_mode)) << std::oct << target.st_mode;
  EXPECT_EQ(ReadFile(dir / "target"), "abc");
}

TEST(OpenCreateTest, ThroughADanglingSymlinkWithNofollowIsELOOP) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(symlink("target", (dir / "link").c_str()));
  EXPECT_SYSCALL_ERRNO(ELOOP, Open(dir / "link", O_WRONLY | O_CREAT | O_NOFOLLOW, 0644));
  EXPECT_FALSE(Exists(dir / "target"));
}

TEST(OpenCreateTest, OnADirectoryIsEISDIR) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  EXPECT_SYSCALL_ERRNO(EISDIR, Open(dir.path(), O_RDONLY | O_CREAT, 0644));
  EXPECT_SYSCALL_ERRNO(EISDIR, Open(dir.path(), O_WRONLY | O_CREAT, 0644));
}

TEST(OpenCreateTest, NewNameWithATrailingSlashIsEISDIR) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  EXPECT_SYSCALL_ERRNO(EISDIR, Open(dir / "new/", O_WRONLY | O_CREAT, 0644));
  EXPECT_FALSE(Exists(dir / "new"));
}

TEST(OpenCreateTest, InAMissingDirectoryIsENOENT) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  EXPECT_SYSCALL_ERRNO(ENOENT, Open(dir / "missing/f", O_WRONLY | O_CREAT, 0644));
}

TEST(OpenCreateTest, CreatIsWriteOnlyCreateTruncate) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "hello"));
  long fd;
  ASSERT_SYSCALL_OK(fd = syscall(SYS_creat, (dir / "f").c_str(), 0644));
  EXPECT_EQ(Fstat(fd).st_size, 0);
  EXPECT_EQ(syscall(SYS_fcntl, fd, F_GETFL) & O_ACCMODE, O_WRONLY);
  char c;
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_read, fd, &c, 1));
  Close(fd);
  long fd2;
  ASSERT_SYSCALL_OK(fd2 = syscall(SYS_creat, (dir / "g").c_str(), 0644));
  Close(fd2);
  EXPECT_TRUE(Exists(dir / "g"));
}

// --- O_DIRECTORY, O_NOFOLLOW, trailing slashes ---

TEST(OpenDirectoryTest, OnARegularFileIsENOTDIR) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Open(dir / "f", O_RDONLY | O_DIRECTORY));
  ASSERT_SYSCALL_OK(symlink("f", (dir / "link").c_str()));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Open(dir / "link", O_RDONLY | O_DIRECTORY));
}

TEST(OpenDirectoryTest, OnADirectoryOrASymlinkToOneWorks) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(mkdir((dir / "d").c_str(), 0755));
  ASSERT_SYSCALL_OK(symlink("d", (dir / "link").c_str()));
  for (const char* name : {"d", "link", "d/", "link/"}) {
    long fd;
    EXPECT_SYSCALL_OK(fd = Open(dir / name, O_RDONLY | O_DIRECTORY)) << name;
    if (fd >= 0) {
      EXPECT_TRUE(S_ISDIR(Fstat(fd).st_mode)) << name;
      Close(fd);
    }
  }
}

TEST(OpenDirectoryTest, TrailingSlashOnAFileIsENOTDIR) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Open(dir / "f/", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Open(dir / "f/.", O_RDONLY));
}

TEST(OpenNofollowTest, OnASymlinkIsELOOP) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  ASSERT_SYSCALL_OK(mkdir((dir / "d").c_str(), 0755));
  ASSERT_SYSCALL_OK(symlink("f", (dir / "flink").c_str()));
  ASSERT_SYSCALL_OK(symlink("d", (dir / "dlink").c_str()));
  EXPECT_SYSCALL_ERRNO(ELOOP, Open(dir / "flink", O_RDONLY | O_NOFOLLOW));
  EXPECT_SYSCALL_ERRNO(ELOOP, Open(dir / "dlink", O_RDONLY | O_NOFOLLOW));
  // With O_DIRECTORY too, the unfollowed symlink is not a directory: ENOTDIR wins.
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Open(dir / "dlink", O_RDONLY | O_NOFOLLOW | O_DIRECTORY));
}

TEST(OpenNofollowTest, OnlyTheLastComponentIsAffected) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(mkdir((dir / "d").c_str(), 0755));
  ASSERT_TRUE(WriteFile(dir / "d/f", "x"));
  ASSERT_SYSCALL_OK(symlink("d", (dir / "dlink").c_str()));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "dlink/f", O_RDONLY | O_NOFOLLOW));
  Close(fd);
  // A trailing slash makes the symlink an intermediate component: it is followed.
  long dfd;
  EXPECT_SYSCALL_OK(dfd = Open(dir / "dlink/", O_RDONLY | O_NOFOLLOW));
  if (dfd >= 0) Close(dfd);
}

TEST(OpenNofollowTest, OnARegularFileWorks) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "f", O_RDONLY | O_NOFOLLOW));
  Close(fd);
}

TEST(OpenSymlinkTest, ALoopIsELOOP) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(symlink("b", (dir / "a").c_str()));
  ASSERT_SYSCALL_OK(symlink("a", (dir / "b").c_str()));
  ASSERT_SYSCALL_OK(symlink("self", (dir / "self").c_str()));
  EXPECT_SYSCALL_ERRNO(ELOOP, Open(dir / "a", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(ELOOP, Open(dir / "self", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(ELOOP, Open(dir / "self/x", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(ELOOP, Open(dir / "a", O_WRONLY | O_CREAT, 0644));
}

// --- O_PATH ---

TEST(OpenPathTest, ReadAndWriteAreEBADF) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "hello"));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "f", O_PATH));
  char buf[8];
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_read, fd, buf, sizeof(buf)));
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_write, fd, "x", 1));
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_pread64, fd, buf, sizeof(buf), 0));
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_pwrite64, fd, "x", 1, 0));
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_lseek, fd, 0, SEEK_SET));
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_ioctl, fd, FIONBIO, &fd));
  Close(fd);
  EXPECT_EQ(ReadFile(dir / "f"), "hello");
}

TEST(OpenPathTest, FstatAndFcntlWork) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "hello"));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "f", O_PATH));
  const struct stat st = Fstat(fd);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_size, 5);
  EXPECT_EQ(st.st_ino, Lstat(dir / "f").st_ino);
  long fl;
  ASSERT_SYSCALL_OK(fl = syscall(SYS_fcntl, fd, F_GETFL));
  EXPECT_TRUE(fl & O_PATH) << std::hex << fl;
  // dup and the descriptor flags work on an O_PATH descriptor.
  long fd2;
  ASSERT_SYSCALL_OK(fd2 = syscall(SYS_dup, fd));
  EXPECT_TRUE(S_ISREG(Fstat(fd2).st_mode));
  EXPECT_SYSCALL_OK(syscall(SYS_fcntl, fd2, F_SETFD, FD_CLOEXEC));
  EXPECT_EQ(syscall(SYS_fcntl, fd2, F_GETFD), FD_CLOEXEC);
  Close(fd2);
  Close(fd);
}

TEST(OpenPathTest, OtherFlagsAreIgnored) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "hello"));
  // O_TRUNC and the access mode mean nothing with O_PATH: the file is not truncated, and a
  // directory opens even "for writing".
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "f", O_PATH | O_WRONLY | O_TRUNC));
  Close(fd);
  EXPECT_EQ(ReadFile(dir / "f"), "hello");
  ASSERT_SYSCALL_OK(fd = Open(dir.path(), O_PATH | O_RDWR));
  Close(fd);
  // O_CREAT is ignored too: a missing name is not created.
  EXPECT_SYSCALL_ERRNO(ENOENT, Open(dir / "new", O_PATH | O_CREAT, 0644));
  EXPECT_FALSE(Exists(dir / "new"));
}

TEST(OpenPathTest, FchdirAndOpenatWorkOnADirectory) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "hello"));
  long dfd;
  ASSERT_SYSCALL_OK(dfd = Open(dir.path(), O_PATH | O_DIRECTORY));
  long fd;
  ASSERT_SYSCALL_OK(fd = Openat(dfd, "f", O_RDONLY));
  Close(fd);
  char dirent_buf[256];
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_getdents64, dfd, dirent_buf, sizeof(dirent_buf)));
  {
    ScopedCwd restore;
    ASSERT_SYSCALL_OK(syscall(SYS_fchdir, dfd));
    char cwd[PATH_MAX];
    ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
    EXPECT_EQ(std::string(cwd), dir.path());
    long rel;
    EXPECT_SYSCALL_OK(rel = Open("f", O_RDONLY));
    if (rel >= 0) Close(rel);
  }
  Close(dfd);
}

TEST(OpenPathTest, WithNofollowOpensTheSymlinkItself) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(symlink("nowhere", (dir / "link").c_str()));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "link", O_PATH | O_NOFOLLOW));
  const struct stat st = Fstat(fd);
  EXPECT_TRUE(S_ISLNK(st.st_mode)) << std::oct << st.st_mode;
  EXPECT_EQ(st.st_size, 7);
  Close(fd);
}

// --- The access mode, O_TRUNC, O_APPEND ---

TEST(OpenAccessModeTest, ADirectoryCannotBeOpenedForWriting) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  EXPECT_SYSCALL_ERRNO(EISDIR, Open(dir.path(), O_WRONLY));
  EXPECT_SYSCALL_ERRNO(EISDIR, Open(dir.path(), O_RDWR));
  EXPECT_SYSCALL_ERRNO(EISDIR, Open("/", O_WRONLY));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir.path(), O_RDONLY));
  Close(fd);
}

TEST(OpenAccessModeTest, TheModeIsEnforcedOnReadAndWrite) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "hello"));
  char buf[8];
  long ro;
  ASSERT_SYSCALL_OK(ro = Open(dir / "f", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_write, ro, "x", 1));
  EXPECT_EQ(syscall(SYS_read, ro, buf, sizeof(buf)), 5);
  Close(ro);
  long wo;
  ASSERT_SYSCALL_OK(wo = Open(dir / "f", O_WRONLY));
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_read, wo, buf, sizeof(buf)));
  EXPECT_EQ(syscall(SYS_write, wo, "J", 1), 1);
  Close(wo);
  long rw;
  ASSERT_SYSCALL_OK(rw = Open(dir / "f", O_RDWR));
  EXPECT_EQ(syscall(SYS_read, rw, buf, 2), 2);
  EXPECT_EQ(syscall(SYS_write, rw, "L", 1), 1);
  Close(rw);
  EXPECT_EQ(ReadFile(dir / "f"), "JeLlo");
}

TEST(OpenAccessModeTest, HostFilesCanBeRead) {
  long fd;
  ASSERT_SYSCALL_OK(fd = Open("/etc/passwd", O_RDONLY));
  char buf[64];
  const long n = syscall(SYS_read, fd, buf, sizeof(buf));
  EXPECT_GT(n, 0);
  EXPECT_GT(Fstat(fd).st_size, 0);
  Close(fd);
}

TEST(OpenTruncTest, TruncatesAnExistingFile) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "hello"));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "f", O_WRONLY | O_TRUNC));
  EXPECT_EQ(Fstat(fd).st_size, 0);
  Close(fd);
  EXPECT_EQ(ReadFile(dir / "f"), "");
}

TEST(OpenTruncTest, LinuxTruncatesEvenWhenOpenedReadOnly) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "hello"));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "f", O_RDONLY | O_TRUNC));
  EXPECT_EQ(Fstat(fd).st_size, 0);
  Close(fd);
}

TEST(OpenTruncTest, OnADirectoryIsEISDIR) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  EXPECT_SYSCALL_ERRNO(EISDIR, Open(dir.path(), O_RDONLY | O_TRUNC));
}

TEST(OpenAppendTest, WritesGoToTheEnd) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "hello"));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "f", O_RDWR | O_APPEND));
  // The offset starts at 0 and reads happen there.
  EXPECT_EQ(syscall(SYS_lseek, fd, 0, SEEK_CUR), 0);
  char buf[2];
  EXPECT_EQ(syscall(SYS_read, fd, buf, 2), 2);
  EXPECT_EQ(syscall(SYS_write, fd, " world", 6), 6);
  EXPECT_EQ(syscall(SYS_lseek, fd, 0, SEEK_CUR), 11);
  ASSERT_EQ(syscall(SYS_lseek, fd, 0, SEEK_SET), 0);
  EXPECT_EQ(syscall(SYS_write, fd, "!", 1), 1);
  EXPECT_EQ(syscall(SYS_lseek, fd, 0, SEEK_CUR), 12);
  Close(fd);
  EXPECT_EQ(ReadFile(dir / "f"), "hello world!");
}

TEST(OpenAppendTest, PwriteAppendsTooOnLinux) {
  // pwrite(2), BUGS: with O_APPEND, Linux appends whatever the offset argument says.
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "hello"));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "f", O_WRONLY | O_APPEND));
  EXPECT_EQ(syscall(SYS_pwrite64, fd, "X", 1, 0), 1);
  Close(fd);
  EXPECT_EQ(ReadFile(dir / "f"), "helloX");
}

// --- Bad paths ---

TEST(OpenPathErrorTest, AMissingComponentIsENOENT) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  EXPECT_SYSCALL_ERRNO(ENOENT, Open(dir / "missing", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(ENOENT, Open(dir / "missing/f", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(ENOENT, Open(dir / "missing/", O_RDONLY));
  ASSERT_SYSCALL_OK(symlink("nowhere", (dir / "dangling").c_str()));
  EXPECT_SYSCALL_ERRNO(ENOENT, Open(dir / "dangling", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(ENOENT, Open(dir / "dangling/f", O_RDONLY));
}

TEST(OpenPathErrorTest, AFileUsedAsADirectoryIsENOTDIR) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Open(dir / "f/x", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Open(dir / "f/x", O_WRONLY | O_CREAT, 0644));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Open("/etc/passwd/x", O_RDONLY));
}

TEST(OpenPathErrorTest, ALongComponentIsENAMETOOLONG) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  const std::string longest(NAME_MAX, 'a');
  const std::string too_long(NAME_MAX + 1, 'a');
  EXPECT_SYSCALL_ERRNO(ENOENT, Open(dir / longest, O_RDONLY));
  EXPECT_SYSCALL_ERRNO(ENAMETOOLONG, Open(dir / too_long, O_RDONLY));
  EXPECT_SYSCALL_ERRNO(ENAMETOOLONG, Open(dir / too_long, O_WRONLY | O_CREAT, 0644));
  EXPECT_SYSCALL_ERRNO(ENAMETOOLONG, Open(dir / (too_long + "/x"), O_RDONLY));
  long fd;
  EXPECT_SYSCALL_OK(fd = Open(dir / longest, O_WRONLY | O_CREAT, 0644));
  if (fd >= 0) Close(fd);
}

TEST(OpenPathErrorTest, APathOfPathMaxBytesIsENAMETOOLONG) {
  // PATH_MAX counts the terminating NUL: a path of PATH_MAX bytes is one too long.
  std::string path;
  while (path.size() < PATH_MAX) path += "/.";
  path.resize(PATH_MAX);
  if (path.back() == '/') path.back() = '.';
  EXPECT_SYSCALL_ERRNO(ENAMETOOLONG, Open(path, O_RDONLY));
  std::string fits = path.substr(0, PATH_MAX - 2);
  if (fits.back() == '/') fits.back() = '.';
  long fd;
  EXPECT_SYSCALL_OK(fd = Open(fits, O_RDONLY));
  if (fd >= 0) Close(fd);
}

TEST(OpenPathErrorTest, AnEmptyPathIsENOENT) {
  EXPECT_SYSCALL_ERRNO(ENOENT, syscall(SYS_open, "", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(ENOENT, syscall(SYS_openat, AT_FDCWD, "", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(ENOENT, syscall(SYS_open, "", O_WRONLY | O_CREAT, 0644));
}

TEST(OpenPathErrorTest, ABadPointerIsEFAULT) {
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_open, nullptr, O_RDONLY));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_open, reinterpret_cast<char*>(1), O_RDONLY));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_openat, AT_FDCWD, nullptr, O_RDONLY));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_creat, nullptr, 0644));
  void* none =
      mmap(nullptr, conformance::PageSize(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(none, MAP_FAILED);
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_open, none, O_RDONLY));
  munmap(none, conformance::PageSize());
}

TEST(OpenPathErrorTest, AnUnterminatedPathAtTheEndOfMemoryIsEFAULT) {
  // The path runs into an unmapped page before any NUL.
  const size_t page = conformance::PageSize();
  char* p = static_cast<char*>(
      mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  ASSERT_EQ(munmap(p + page, page), 0);
  memset(p, 'a', page);
  p[0] = '/';
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_open, p + page - 3, O_RDONLY));
  munmap(p, page);
}

TEST(OpenTest, UnknownFlagBitsAreIgnored) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "f", O_RDONLY | (1L << 29)));
  Close(fd);
}

// --- openat ---

TEST(OpenatTest, ARelativePathIsResolvedFromTheDirfd) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(mkdir((dir / "sub").c_str(), 0755));
  long dfd;
  ASSERT_SYSCALL_OK(dfd = Open(dir / "sub", O_RDONLY | O_DIRECTORY));
  long fd;
  ASSERT_SYSCALL_OK(fd = Openat(dfd, "f", O_WRONLY | O_CREAT, 0644));
  Close(fd);
  EXPECT_TRUE(Exists(dir / "sub/f"));
  long up;
  EXPECT_SYSCALL_OK(up = Openat(dfd, "../sub/f", O_RDONLY));
  if (up >= 0) Close(up);
  long dot;
  ASSERT_SYSCALL_OK(dot = Openat(dfd, ".", O_RDONLY));
  EXPECT_EQ(Fstat(dot).st_ino, Lstat(dir / "sub").st_ino);
  Close(dot);
  Close(dfd);
}

TEST(OpenatTest, AtFdcwdUsesTheWorkingDirectory) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "cwd"));
  ScopedCwd restore;
  ASSERT_SYSCALL_OK(chdir(dir.path().c_str()));
  long fd;
  ASSERT_SYSCALL_OK(fd = Openat(AT_FDCWD, "f", O_RDONLY));
  char buf[8];
  EXPECT_EQ(syscall(SYS_read, fd, buf, sizeof(buf)), 3);
  Close(fd);
  long created;
  ASSERT_SYSCALL_OK(created = Openat(AT_FDCWD, "g", O_WRONLY | O_CREAT, 0644));
  Close(created);
  EXPECT_TRUE(Exists(dir / "g"));
}

TEST(OpenatTest, AnAbsolutePathIgnoresTheDirfd) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  long file;
  ASSERT_SYSCALL_OK(file = Open(dir / "f", O_RDONLY));
  for (long dirfd : {static_cast<long>(kBadFd), -1L, file}) {
    long fd;
    EXPECT_SYSCALL_OK(fd = Openat(static_cast<int>(dirfd), dir / "f", O_RDONLY))
        << "dirfd " << dirfd;
    if (fd >= 0) Close(fd);
  }
  Close(file);
}

TEST(OpenatTest, ANonDirectoryDirfdIsENOTDIR) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  long file;
  ASSERT_SYSCALL_OK(file = Open(dir / "f", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Openat(file, "x", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Openat(file, "x", O_WRONLY | O_CREAT, 0644));
  Close(file);
}

TEST(OpenatTest, ABadDirfdIsEBADF) {
  EXPECT_SYSCALL_ERRNO(EBADF, Openat(kBadFd, "x", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(EBADF, Openat(-1, "x", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(EBADF, Openat(INT_MAX, "x", O_RDONLY));
}

// --- openat2 ---

open_how How(uint64_t flags, uint64_t resolve = 0, uint64_t mode = 0) {
  open_how how{};
  how.flags = flags;
  how.mode = mode;
  how.resolve = resolve;
  return how;
}

TEST(Openat2Test, OpensLikeOpenat) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  long dfd;
  ASSERT_SYSCALL_OK(dfd = Open(dir.path(), O_RDONLY | O_DIRECTORY));
  open_how how = How(O_RDONLY);
  long fd;
  ASSERT_SYSCALL_OK(fd = Openat2(dfd, "f", &how, sizeof(how)));
  EXPECT_TRUE(S_ISREG(Fstat(fd).st_mode));
  Close(fd);
  how = How(O_WRONLY | O_CREAT | O_EXCL, 0, 0600);
  long created;
  ASSERT_SYSCALL_OK(created = Openat2(dfd, "g", &how, sizeof(how)));
  EXPECT_EQ(Fstat(created).st_mode & 0777, 0600u);
  Close(created);
  Close(dfd);
}

TEST(Openat2Test, BeneathRejectsEscapesWithEXDEV) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(mkdir((dir / "root").c_str(), 0755));
  ASSERT_SYSCALL_OK(mkdir((dir / "root/sub").c_str(), 0755));
  ASSERT_TRUE(WriteFile(dir / "root/f", "x"));
  ASSERT_TRUE(WriteFile(dir / "outside", "x"));
  ASSERT_SYSCALL_OK(symlink((dir / "outside").c_str(), (dir / "root/abs").c_str()));
  ASSERT_SYSCALL_OK(symlink("../outside", (dir / "root/rel").c_str()));
  long dfd;
  ASSERT_SYSCALL_OK(dfd = Open(dir / "root", O_RDONLY | O_DIRECTORY));
  const open_how how = How(O_RDONLY, RESOLVE_BENEATH);
  EXPECT_SYSCALL_ERRNO(EXDEV, Openat2(dfd, "../outside", &how, sizeof(how)));
  EXPECT_SYSCALL_ERRNO(EXDEV, Openat2(dfd, "sub/../../outside", &how, sizeof(how)));
  EXPECT_SYSCALL_ERRNO(EXDEV, Openat2(dfd, "..", &how, sizeof(how)));
  EXPECT_SYSCALL_ERRNO(EXDEV, Openat2(dfd, (dir / "outside").c_str(), &how, sizeof(how)));
  EXPECT_SYSCALL_ERRNO(EXDEV, Openat2(dfd, "abs", &how, sizeof(how)));
  EXPECT_SYSCALL_ERRNO(EXDEV, Openat2(dfd, "rel", &how, sizeof(how)));
  Close(dfd);
}

TEST(Openat2Test, BeneathAllowsPathsThatStayInside) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(mkdir((dir / "sub").c_str(), 0755));
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  ASSERT_SYSCALL_OK(symlink("../f", (dir / "sub/up").c_str()));
  long dfd;
  ASSERT_SYSCALL_OK(dfd = Open(dir.path(), O_RDONLY | O_DIRECTORY));
  const open_how how = How(O_RDONLY, RESOLVE_BENEATH);
  for (const char* path : {"f", "./f", "sub/../f", "sub/up", "."}) {
    long fd;
    EXPECT_SYSCALL_OK(fd = Openat2(dfd, path, &how, sizeof(how))) << path;
    if (fd >= 0) Close(fd);
  }
  Close(dfd);
}

TEST(Openat2Test, InRootTreatsTheDirfdAsTheRoot) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "inside"));
  ASSERT_SYSCALL_OK(symlink("/f", (dir / "abs").c_str()));
  long dfd;
  ASSERT_SYSCALL_OK(dfd = Open(dir.path(), O_RDONLY | O_DIRECTORY));
  const open_how how = How(O_RDONLY, RESOLVE_IN_ROOT);
  for (const char* path : {"../f", "/f", "../../../f", "abs"}) {
    long fd;
    EXPECT_SYSCALL_OK(fd = Openat2(dfd, path, &how, sizeof(how))) << path;
    if (fd >= 0) {
      EXPECT_EQ(Fstat(fd).st_ino, Lstat(dir / "f").st_ino) << path;
      Close(fd);
    }
  }
  // /etc/passwd is looked up inside the directory, where there is none.
  EXPECT_SYSCALL_ERRNO(ENOENT, Openat2(dfd, "/etc/passwd", &how, sizeof(how)));
  Close(dfd);
}

TEST(Openat2Test, NoSymlinksRejectsAnySymlinkWithELOOP) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_SYSCALL_OK(mkdir((dir / "d").c_str(), 0755));
  ASSERT_TRUE(WriteFile(dir / "d/f", "x"));
  ASSERT_SYSCALL_OK(symlink("d", (dir / "dlink").c_str()));
  ASSERT_SYSCALL_OK(symlink("d/f", (dir / "flink").c_str()));
  long dfd;
  ASSERT_SYSCALL_OK(dfd = Open(dir.path(), O_RDONLY | O_DIRECTORY));
  const open_how how = How(O_RDONLY, RESOLVE_NO_SYMLINKS);
  EXPECT_SYSCALL_ERRNO(ELOOP, Openat2(dfd, "flink", &how, sizeof(how)));
  EXPECT_SYSCALL_ERRNO(ELOOP, Openat2(dfd, "dlink/f", &how, sizeof(how)));
  long fd;
  EXPECT_SYSCALL_OK(fd = Openat2(dfd, "d/f", &how, sizeof(how)));
  if (fd >= 0) Close(fd);
  // With O_PATH|O_NOFOLLOW the last symlink is opened, not followed, so it is allowed.
  const open_how path_how = How(O_PATH | O_NOFOLLOW, RESOLVE_NO_SYMLINKS);
  long link;
  EXPECT_SYSCALL_OK(link = Openat2(dfd, "flink", &path_how, sizeof(path_how)));
  if (link >= 0) Close(link);
  Close(dfd);
}

TEST(Openat2Test, NoMagicLinksRejectsProcLinksButNotPlainSymlinks) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  ASSERT_SYSCALL_OK(symlink("f", (dir / "flink").c_str()));
  long file;
  ASSERT_SYSCALL_OK(file = Open(dir / "f", O_RDONLY));
  const open_how how = How(O_RDONLY, RESOLVE_NO_MAGICLINKS);
  const std::string fd_link = "/proc/self/fd/" + std::to_string(file);
  // /proc/self/fd/N and /proc/self/exe are jumps, not lookups: refused.
  EXPECT_SYSCALL_ERRNO(ELOOP, Openat2(AT_FDCWD, fd_link, &how, sizeof(how)));
  EXPECT_SYSCALL_ERRNO(ELOOP, Openat2(AT_FDCWD, "/proc/self/exe", &how, sizeof(how)));
  EXPECT_SYSCALL_ERRNO(ELOOP, Openat2(AT_FDCWD, "/proc/self/cwd/", &how, sizeof(how)));
  // /proc/self itself and an ordinary symlink are plain symlinks: followed.
  long fd;
  EXPECT_SYSCALL_OK(fd = Openat2(AT_FDCWD, "/proc/self/status", &how, sizeof(how)));
  if (fd >= 0) Close(fd);
  EXPECT_SYSCALL_OK(fd = Openat2(AT_FDCWD, dir / "flink", &how, sizeof(how)));
  if (fd >= 0) Close(fd);
  // O_PATH|O_NOFOLLOW opens the magic link itself.
  const open_how path_how = How(O_PATH | O_NOFOLLOW, RESOLVE_NO_MAGICLINKS);
  EXPECT_SYSCALL_OK(fd = Openat2(AT_FDCWD, fd_link, &path_how, sizeof(path_how)));
  if (fd >= 0) Close(fd);
  // RESOLVE_NO_SYMLINKS refuses magic links too, and /proc/self on the way.
  const open_how no_symlinks = How(O_RDONLY, RESOLVE_NO_SYMLINKS);
  EXPECT_SYSCALL_ERRNO(ELOOP, Openat2(AT_FDCWD, "/proc/self/status", &no_symlinks,
                                      sizeof(no_symlinks)));
  Close(file);
}

TEST(Openat2Test, UnknownFlagsAreEINVAL) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  const std::string f = dir / "f";
  open_how how = How(O_RDONLY | (1ULL << 29));
  EXPECT_SYSCALL_ERRNO(EINVAL, Openat2(AT_FDCWD, f, &how, sizeof(how)));
  how = How(O_RDONLY | (1ULL << 40));
  EXPECT_SYSCALL_ERRNO(EINVAL, Openat2(AT_FDCWD, f, &how, sizeof(how)));
  how = How(O_RDONLY, 1ULL << 20);
  EXPECT_SYSCALL_ERRNO(EINVAL, Openat2(AT_FDCWD, f, &how, sizeof(how)));
  // RESOLVE_BENEATH and RESOLVE_IN_ROOT contradict each other.
  how = How(O_RDONLY, RESOLVE_BENEATH | RESOLVE_IN_ROOT);
  EXPECT_SYSCALL_ERRNO(EINVAL, Openat2(AT_FDCWD, f, &how, sizeof(how)));
}

TEST(Openat2Test, ModeWithoutCreateIsEINVAL) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  open_how how = How(O_RDONLY, 0, 0644);
  EXPECT_SYSCALL_ERRNO(EINVAL, Openat2(AT_FDCWD, dir / "f", &how, sizeof(how)));
  // Mode bits beyond 07777 are rejected even with O_CREAT.
  how = How(O_WRONLY | O_CREAT, 0, 010644);
  EXPECT_SYSCALL_ERRNO(EINVAL, Openat2(AT_FDCWD, dir / "g", &how, sizeof(how)));
  EXPECT_FALSE(Exists(dir / "g"));
}

TEST(Openat2Test, PathWithFlagsItIgnoresIsEINVAL) {
  // open() drops the flags O_PATH ignores; openat2 refuses them.
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  open_how how = How(O_PATH | O_CREAT, 0, 0);
  EXPECT_SYSCALL_ERRNO(EINVAL, Openat2(AT_FDCWD, dir / "f", &how, sizeof(how)));
  how = How(O_PATH | O_TRUNC);
  EXPECT_SYSCALL_ERRNO(EINVAL, Openat2(AT_FDCWD, dir / "f", &how, sizeof(how)));
}

TEST(Openat2Test, SizeBelowTheFirstVersionIsEINVAL) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  const open_how how = How(O_RDONLY);
  EXPECT_SYSCALL_ERRNO(EINVAL, Openat2(AT_FDCWD, dir / "f", &how, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, Openat2(AT_FDCWD, dir / "f", &how, sizeof(how) - 1));
  EXPECT_SYSCALL_ERRNO(EINVAL, Openat2(AT_FDCWD, dir / "f", &how, 8));
}

TEST(Openat2Test, ALargerStructMustBeZeroFilled) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  struct {
    open_how how;
    uint64_t extra;
  } big{};
  big.how = How(O_RDONLY);
  long fd;
  EXPECT_SYSCALL_OK(fd = Openat2(AT_FDCWD, dir / "f", &big.how, sizeof(big)));
  if (fd >= 0) Close(fd);
  big.extra = 1;
  EXPECT_SYSCALL_ERRNO(E2BIG, Openat2(AT_FDCWD, dir / "f", &big.how, sizeof(big)));
  // More than a page is refused whatever it holds.
  EXPECT_SYSCALL_ERRNO(E2BIG, Openat2(AT_FDCWD, dir / "f", &big.how, conformance::PageSize() + 1));
}

TEST(Openat2Test, ABadHowPointerIsEFAULT) {
  EXPECT_SYSCALL_ERRNO(EFAULT, Openat2(AT_FDCWD, "/", nullptr, sizeof(open_how)));
  EXPECT_SYSCALL_ERRNO(
      EFAULT, Openat2(AT_FDCWD, "/", reinterpret_cast<const open_how*>(1), sizeof(open_how)));
}

// --- Descriptor numbers and O_CLOEXEC ---

TEST(OpenFdTest, TheLowestFreeDescriptorIsReturned) {
  long a;
  ASSERT_SYSCALL_OK(a = Open("/", O_RDONLY));
  long b;
  ASSERT_SYSCALL_OK(b = Open("/", O_RDONLY));
  long c;
  ASSERT_SYSCALL_OK(c = Open("/", O_RDONLY));
  EXPECT_GT(b, a);
  EXPECT_GT(c, b);
  ASSERT_SYSCALL_OK(Close(a));
  ASSERT_SYSCALL_OK(Close(b));
  const long again = Open("/", O_RDONLY);
  EXPECT_EQ(again, a);
  const long next = Open("/", O_RDONLY);
  EXPECT_EQ(next, b);
  Close(again);
  Close(next);
  Close(c);
}

TEST(OpenFdTest, CloexecSetsFdCloexec) {
  long plain;
  ASSERT_SYSCALL_OK(plain = Open("/", O_RDONLY));
  EXPECT_EQ(syscall(SYS_fcntl, plain, F_GETFD), 0);
  long cloexec;
  ASSERT_SYSCALL_OK(cloexec = Open("/", O_RDONLY | O_CLOEXEC));
  EXPECT_EQ(syscall(SYS_fcntl, cloexec, F_GETFD), FD_CLOEXEC);
  // O_CLOEXEC is a descriptor flag, not a status flag.
  EXPECT_EQ(syscall(SYS_fcntl, cloexec, F_GETFL) & O_CLOEXEC, 0);
  long at;
  ASSERT_SYSCALL_OK(at = Openat(AT_FDCWD, "/", O_RDONLY | O_CLOEXEC));
  EXPECT_EQ(syscall(SYS_fcntl, at, F_GETFD), FD_CLOEXEC);
  const open_how how = How(O_RDONLY | O_CLOEXEC);
  long at2;
  ASSERT_SYSCALL_OK(at2 = Openat2(AT_FDCWD, "/", &how, sizeof(how)));
  EXPECT_EQ(syscall(SYS_fcntl, at2, F_GETFD), FD_CLOEXEC);
  Close(plain);
  Close(cloexec);
  Close(at);
  Close(at2);
}

TEST(OpenFdTest, StatusFlagsAreReportedByGetfl) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  long fd;
  ASSERT_SYSCALL_OK(fd = Open(dir / "f", O_RDWR | O_APPEND | O_NONBLOCK));
  const long fl = syscall(SYS_fcntl, fd, F_GETFL);
  EXPECT_EQ(fl & O_ACCMODE, O_RDWR);
  EXPECT_TRUE(fl & O_APPEND);
  EXPECT_TRUE(fl & O_NONBLOCK);
  // Open-time-only flags are not kept.
  EXPECT_EQ(fl & (O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY), 0);
  Close(fd);
}

}  // namespace
