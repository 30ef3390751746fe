// open(O_TMPFILE): the nameless file it makes (mode and umask, no links, F_GETFL, its
// /proc/self/fd name), giving it a name with linkat (AT_EMPTY_PATH or through /proc/self/fd)
// unless O_EXCL, reopening it through /proc/self/fd, and the flag and directory errors.
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <set>
#include <string>

#include <gtest/gtest.h>

#include "syscalls/fs_test_util.h"
#include "syscalls/test_util.h"

namespace conformance {
namespace {

// The kernel's O_LARGEFILE: glibc's is 0 on 64-bit, but F_GETFL shows the bit.
constexpr int kKernelOLargefile = 0100000;
constexpr int kTmpfileBit = 020000000;  // __O_TMPFILE: O_TMPFILE without O_DIRECTORY

// An fd closed at the end of the scope.
using conformance::Fd;

std::string ProcFd(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

std::string FdLink(int fd) {
  char buf[PATH_MAX];
  ssize_t n = readlink(ProcFd(fd).c_str(), buf, sizeof(buf));
  return n < 0 ? "<error>" : std::string(buf, static_cast<size_t>(n));
}

std::set<std::string> Entries(const std::string& dir) {
  std::set<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (const dirent* e = readdir(d)) names.insert(e->d_name);
    closedir(d);
  }
  return names;
}

class TmpfileTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_SCRATCH(dir_); }
  ScratchDir dir_;
};

TEST_F(TmpfileTest, MakesANamelessFile) {
  ScopedUmask umask(022);
  Fd fd(Open(dir_.path(), O_TMPFILE | O_RDWR, 0666));
  ASSERT_TRUE(fd.ok()) << strerror(errno);
  struct stat st = Fstat(fd.get());
  EXPECT_EQ(st.st_mode, S_IFREG | 0644);
  EXPECT_EQ(st.st_nlink, 0u);
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(Entries(dir_.path()), (std::set<std::string>{".", ".."}));
  // F_GETFL goes on showing O_TMPFILE, O_DIRECTORY and all.
  EXPECT_EQ(fcntl(fd.get(), F_GETFL), O_TMPFILE | O_RDWR | kKernelOLargefile);
  EXPECT_EQ(FdLink(fd.get()), dir_.path() + "/#" + std::to_string(st.st_ino) + " (deleted)");
  ASSERT_EQ(write(fd.get(), "data", 4), 4);
  char buf[8] = {};
  EXPECT_EQ(pread(fd.get(), buf, sizeof(buf), 0), 4);
  EXPECT_STREQ(buf, "data");
}

TEST_F(TmpfileTest, WriteOnly) {
  Fd fd(Openat(AT_FDCWD, dir_.path(), O_TMPFILE | O_WRONLY, 0600));
  ASSERT_TRUE(fd.ok()) << strerror(errno);
  char c;
  EXPECT_SYSCALL_ERRNO(EBADF, read(fd.get(), &c, 1));
  EXPECT_EQ(write(fd.get(), "x", 1), 1);
}

TEST_F(TmpfileTest, RelativeToADirectoryFd) {
  ASSERT_SYSCALL_OK(mkdir((dir_ / "sub").c_str(), 0755));
  Fd dfd(Open(dir_.path(), O_RDONLY | O_DIRECTORY));
  Fd fd(Openat(dfd.get(), "sub", O_TMPFILE | O_RDWR, 0600));
  ASSERT_TRUE(fd.ok()) << strerror(errno);
  struct stat st = Fstat(fd.get());
  EXPECT_EQ(FdLink(fd.get()), dir_ / "sub/#" + std::to_string(st.st_ino) + " (deleted)");
  Fd dot(Openat(dfd.get(), ".", O_TMPFILE | O_RDWR, 0600));
  EXPECT_TRUE(dot.ok()) << strerror(errno);
}

TEST_F(TmpfileTest, LinkatWithEmptyPathNamesIt) {
  Fd fd(Open(dir_.path(), O_TMPFILE | O_RDWR, 0600));
  ASSERT_TRUE(fd.ok());
  ASSERT_EQ(write(fd.get(), "kept", 4), 4);
  ASSERT_SYSCALL_OK(linkat(fd.get(), "", AT_FDCWD, (dir_ / "named").c_str(), AT_EMPTY_PATH));
  EXPECT_EQ(ReadFile(dir_ / "named"), "kept");
  EXPECT_EQ(Fstat(fd.get()).st_nlink, 1u);
  EXPECT_EQ(Lstat(dir_ / "named").st_ino, Fstat(fd.get()).st_ino);
  // Once named it is an ordinary file: more names may follow.
  ASSERT_SYSCALL_OK(linkat(fd.get(), "", AT_FDCWD, (dir_ / "again").c_str(), AT_EMPTY_PATH));
  EXPECT_EQ(Fstat(fd.get()).st_nlink, 2u);
  EXPECT_SYSCALL_ERRNO(EEXIST,
                       linkat(fd.get(), "", AT_FDCWD, (dir_ / "named").c_str(), AT_EMPTY_PATH));
}

TEST_F(TmpfileTest, LinkatThroughProcNamesIt) {
  Fd fd(Open(dir_.path(), O_TMPFILE | O_WRONLY, 0600));
  ASSERT_TRUE(fd.ok());
  ASSERT_EQ(write(fd.get(), "proc", 4), 4);
  ASSERT_SYSCALL_OK(linkat(AT_FDCWD, ProcFd(fd.get()).c_str(), AT_FDCWD, (dir_ / "named").c_str(),
                           AT_SYMLINK_FOLLOW));
  EXPECT_EQ(ReadFile(dir_ / "named"), "proc");
  EXPECT_EQ(Fstat(fd.get()).st_nlink, 1u);
}

TEST_F(TmpfileTest, ExclMakesItUnlinkable) {
  Fd fd(Open(dir_.path(), O_TMPFILE | O_RDWR | O_EXCL, 0600));
  ASSERT_TRUE(fd.ok()) << strerror(errno);
  EXPECT_SYSCALL_ERRNO(ENOENT,
                       linkat(fd.get(), "", AT_FDCWD, (dir_ / "named").c_str(), AT_EMPTY_PATH));
  EXPECT_SYSCALL_ERRNO(ENOENT, linkat(AT_FDCWD, ProcFd(fd.get()).c_str(), AT_FDCWD,
                                      (dir_ / "named").c_str(), AT_SYMLINK_FOLLOW));
  EXPECT_FALSE(Exists(dir_ / "named"));
}

TEST_F(TmpfileTest, LinkatToAnotherFileSystemIsExdev) {
  Fd fd(Open(dir_.path(), O_TMPFILE | O_RDWR, 0600));
  ASSERT_TRUE(fd.ok());
  // /dev/shm is a tmpfs of its own, here and in the sandbox.
  std::string elsewhere = "/dev/shm/conformance_tmpfile_" + std::to_string(getpid());
  EXPECT_SYSCALL_ERRNO(EXDEV, linkat(fd.get(), "", AT_FDCWD, elsewhere.c_str(), AT_EMPTY_PATH));
  unlink(elsewhere.c_str());
}

TEST_F(TmpfileTest, ReopenedThroughProc) {
  Fd fd(Open(dir_.path(), O_TMPFILE | O_WRONLY, 0600));
  ASSERT_TRUE(fd.ok());
  ASSERT_EQ(write(fd.get(), "again", 5), 5);
  Fd again(Open(ProcFd(fd.get()), O_RDONLY));
  ASSERT_TRUE(again.ok()) << strerror(errno);
  char buf[8] = {};
  EXPECT_EQ(read(again.get(), buf, sizeof(buf)), 5);
  EXPECT_STREQ(buf, "again");
}

TEST_F(TmpfileTest, NeedsWriteAccess) {
  EXPECT_SYSCALL_ERRNO(EINVAL, Open(dir_.path(), O_TMPFILE | O_RDONLY, 0600));
}

TEST_F(TmpfileTest, FlagCombinations) {
  // __O_TMPFILE without O_DIRECTORY, and O_CREAT with O_DIRECTORY (which O_TMPFILE has).
  EXPECT_SYSCALL_ERRNO(EINVAL, Open(dir_.path(), kTmpfileBit | O_RDWR, 0600));
  EXPECT_SYSCALL_ERRNO(EINVAL, Open(dir_.path(), O_TMPFILE | O_CREAT | O_RDWR, 0600));
  EXPECT_SYSCALL_ERRNO(EINVAL, Open(dir_ / "new", O_CREAT | O_DIRECTORY | O_RDWR, 0600));
  EXPECT_FALSE(Exists(dir_ / "new"));
  // O_PATH drops the rest: the directory itself opens.
  Fd path(Open(dir_.path(), O_TMPFILE | O_PATH | O_RDWR, 0600));
  ASSERT_TRUE(path.ok()) << strerror(errno);
  EXPECT_TRUE(S_ISDIR(Fstat(path.get()).st_mode));
}

TEST_F(TmpfileTest, NotADirectory) {
  ASSERT_TRUE(WriteFile(dir_ / "file", "x"));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Open(dir_ / "file", O_TMPFILE | O_RDWR, 0600));
  EXPECT_SYSCALL_ERRNO(ENOENT, Open(dir_ / "missing", O_TMPFILE | O_RDWR, 0600));
  EXPECT_SYSCALL_ERRNO(ENOENT, Open(dir_ / "missing/", O_TMPFILE | O_RDWR, 0600));
  // A symlink to a directory is followed, unless O_NOFOLLOW says not to.
  ASSERT_SYSCALL_OK(symlink(dir_.path().c_str(), (dir_ / "link").c_str()));
  Fd through(Open(dir_ / "link", O_TMPFILE | O_RDWR, 0600));
  EXPECT_TRUE(through.ok()) << strerror(errno);
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Open(dir_ / "link", O_TMPFILE | O_RDWR | O_NOFOLLOW, 0600));
}

TEST_F(TmpfileTest, FileSystemsWithoutIt) {
  EXPECT_SYSCALL_ERRNO(EOPNOTSUPP, Open("/proc", O_TMPFILE | O_RDWR, 0600));
}

TEST_F(TmpfileTest, InTmpItself) {
  // /tmp comes from the host: in the sandbox, an overlay directory whose upper layer makes it.
  Fd fd(Open("/tmp", O_TMPFILE | O_RDWR, 0600));
  ASSERT_TRUE(fd.ok()) << strerror(errno);
  EXPECT_EQ(Fstat(fd.get()).st_nlink, 0u);
  EXPECT_EQ(write(fd.get(), "x", 1), 1);
}

}  // namespace
}  // namespace conformance
