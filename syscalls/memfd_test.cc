// memfd_create and file seals: the file it makes (mode, links, flags, its /proc/self/fd and
// /proc/self/maps names), its flags and name rules, reading, writing and mapping it, reopening it
// through /proc/self/fd, and F_ADD_SEALS/F_GET_SEALS with what each seal refuses; seals of files
// that are not memfds.
#include <fcntl.h>
#include <limits.h>
#include <linux/memfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "syscalls/fs_test_util.h"
#include "syscalls/test_util.h"

namespace conformance {
namespace {

// Newer than the build's headers (Linux 6.3).
constexpr unsigned kMfdNoexecSeal = 0x0008, kMfdExec = 0x0010;
constexpr int kSealExec = 0x20;
// The kernel's O_LARGEFILE: glibc's is 0 on 64-bit, but F_GETFL shows the bit.
constexpr int kKernelOLargefile = 0100000;

long MemfdCreate(const char* name, unsigned flags) {
  return syscall(SYS_memfd_create, name, flags);
}

// An fd closed at the end of the scope.
using conformance::Fd;

std::string FdLink(int fd) {
  char buf[PATH_MAX];
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  ssize_t n = readlink(path.c_str(), buf, sizeof(buf));
  return n < 0 ? "<error>" : std::string(buf, static_cast<size_t>(n));
}

std::string ProcFd(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

std::string PreadAll(int fd, size_t n = 64, off_t off = 0) {
  std::string buf(n, '\0');
  ssize_t got = pread(fd, buf.data(), buf.size(), off);
  if (got < 0) return "<error>";
  buf.resize(static_cast<size_t>(got));
  return buf;
}

bool Put(int fd, const std::string& data, off_t off = 0) {
  return pwrite(fd, data.data(), data.size(), off) == static_cast<ssize_t>(data.size());
}

// ---- the file ----

TEST(MemfdTest, MakesAnEmptyNamelessFile) {
  Fd fd(MemfdCreate("conformance", 0));
  ASSERT_TRUE(fd.ok()) << strerror(errno);
  struct stat st = Fstat(fd.get());
  EXPECT_EQ(st.st_mode, S_IFREG | 0777);  // no umask
  EXPECT_EQ(st.st_nlink, 0u);
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(st.st_uid, geteuid());
  EXPECT_EQ(st.st_gid, getegid());
  EXPECT_EQ(fcntl(fd.get(), F_GETFL), O_RDWR | kKernelOLargefile);
  EXPECT_EQ(fcntl(fd.get(), F_GETFD), 0);
  EXPECT_EQ(FdLink(fd.get()), "/memfd:conformance (deleted)");
}

TEST(MemfdTest, Cloexec) {
  Fd fd(MemfdCreate("c", MFD_CLOEXEC));
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(fcntl(fd.get(), F_GETFD), FD_CLOEXEC);
}

TEST(MemfdTest, EachIsItsOwnFileOnOneFileSystem) {
  Fd a(MemfdCreate("a", 0)), b(MemfdCreate("a", 0));
  ASSERT_TRUE(a.ok() && b.ok());
  struct stat sa = Fstat(a.get()), sb = Fstat(b.get());
  EXPECT_EQ(sa.st_dev, sb.st_dev);
  EXPECT_NE(sa.st_ino, sb.st_ino);
  ASSERT_TRUE(Put(a.get(), "only a"));
  EXPECT_EQ(Fstat(b.get()).st_size, 0);
}

TEST(MemfdTest, Names) {
  Fd empty(MemfdCreate("", 0));
  EXPECT_EQ(FdLink(empty.get()), "/memfd: (deleted)");
  Fd slash(MemfdCreate("a/b c", 0));  // any bytes go
  EXPECT_EQ(FdLink(slash.get()), "/memfd:a/b c (deleted)");
  // "memfd:" and the name fit in NAME_MAX: 249 bytes are the most.
  std::string longest(NAME_MAX - 6, 'n');
  Fd ok(MemfdCreate(longest.c_str(), 0));
  EXPECT_TRUE(ok.ok()) << strerror(errno);
  std::string too_long(NAME_MAX - 5, 'n');
  EXPECT_SYSCALL_ERRNO(EINVAL, MemfdCreate(too_long.c_str(), 0));
  EXPECT_SYSCALL_ERRNO(EFAULT, MemfdCreate(reinterpret_cast<const char*>(8), 0));
}

TEST(MemfdTest, Flags) {
  EXPECT_SYSCALL_ERRNO(EINVAL, MemfdCreate("f", 0x1000));
  EXPECT_SYSCALL_ERRNO(EINVAL, MemfdCreate("f", kMfdExec | kMfdNoexecSeal));
  // A huge page size needs MFD_HUGETLB.
  EXPECT_SYSCALL_ERRNO(EINVAL, MemfdCreate("f", 21u << MFD_HUGE_SHIFT));
  // Flags are checked before the name is read.
  EXPECT_SYSCALL_ERRNO(EINVAL, MemfdCreate(reinterpret_cast<const char*>(8), 0x1000));
  Fd exec(MemfdCreate("f", kMfdExec));
  EXPECT_TRUE(exec.ok());
}

TEST(MemfdTest, ReadWriteSeekTruncate) {
  Fd fd(MemfdCreate("rw", 0));
  ASSERT_EQ(write(fd.get(), "hello world", 11), 11);
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_CUR), 11);
  EXPECT_EQ(PreadAll(fd.get()), "hello world");
  ASSERT_SYSCALL_OK(ftruncate(fd.get(), 5));
  EXPECT_EQ(PreadAll(fd.get()), "hello");
  ASSERT_SYSCALL_OK(ftruncate(fd.get(), 3 * 4096));
  EXPECT_EQ(Fstat(fd.get()).st_size, 3 * 4096);
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_END), 3 * 4096);
}

TEST(MemfdTest, ReopenedThroughProcSharesTheData) {
  Fd fd(MemfdCreate("reopen", 0));
  ASSERT_TRUE(Put(fd.get(), "shared"));
  Fd again(Open(ProcFd(fd.get()), O_RDWR));
  ASSERT_TRUE(again.ok()) << strerror(errno);
  EXPECT_EQ(Fstat(again.get()).st_ino, Fstat(fd.get()).st_ino);
  EXPECT_EQ(PreadAll(again.get()), "shared");
  ASSERT_TRUE(Put(again.get(), "S"));
  EXPECT_EQ(PreadAll(fd.get()), "Shared");
  EXPECT_EQ(FdLink(again.get()), "/memfd:reopen (deleted)");
}

TEST(MemfdTest, NoNameToLinkToElsewhere) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  Fd fd(MemfdCreate("l", 0));
  EXPECT_SYSCALL_ERRNO(EXDEV, linkat(fd.get(), "", AT_FDCWD, (dir / "l").c_str(), AT_EMPTY_PATH));
}

TEST(MemfdTest, Mappings) {
  Fd fd(MemfdCreate("mapped", 0));
  std::string data = "mapped data";
  ASSERT_TRUE(Put(fd.get(), data));
  void* priv = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd.get(), 0);
  ASSERT_NE(priv, MAP_FAILED) << strerror(errno);
  EXPECT_EQ(std::memcmp(priv, data.data(), data.size()), 0);
  static_cast<char*>(priv)[0] = 'M';  // a private copy: the file keeps its byte
  EXPECT_EQ(PreadAll(fd.get(), 1), "m");
  void* shared = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(shared, MAP_FAILED) << strerror(errno);
  EXPECT_EQ(std::memcmp(shared, data.data(), data.size()), 0);
  // /proc/self/maps names the mapping the way /proc/self/fd names the file.
  std::ifstream maps("/proc/self/maps");
  std::stringstream text;
  text << maps.rdbuf();
  EXPECT_NE(text.str().find("/memfd:mapped (deleted)"), std::string::npos) << text.str();
  munmap(priv, 4096);
  munmap(shared, 4096);
}

// ---- seals ----

TEST(MemfdSealTest, WithoutAllowSealingItIsSealedAgainstSeals) {
  Fd fd(MemfdCreate("s", 0));
  EXPECT_EQ(fcntl(fd.get(), F_GET_SEALS), F_SEAL_SEAL);
  EXPECT_SYSCALL_ERRNO(EPERM, fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE));
  EXPECT_SYSCALL_ERRNO(EPERM, fcntl(fd.get(), F_ADD_SEALS, 0));
}

TEST(MemfdSealTest, AddAndGet) {
  Fd fd(MemfdCreate("s", MFD_ALLOW_SEALING));
  EXPECT_EQ(fcntl(fd.get(), F_GET_SEALS), 0);
  EXPECT_SYSCALL_OK(fcntl(fd.get(), F_ADD_SEALS, 0));
  EXPECT_SYSCALL_OK(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK));
  EXPECT_SYSCALL_OK(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK));
  EXPECT_EQ(fcntl(fd.get(), F_GET_SEALS), F_SEAL_GROW | F_SEAL_SHRINK);
  EXPECT_SYSCALL_ERRNO(EINVAL, fcntl(fd.get(), F_ADD_SEALS, 0x1000));
  EXPECT_SYSCALL_OK(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SEAL));
  EXPECT_SYSCALL_ERRNO(EPERM, fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE));
  EXPECT_EQ(fcntl(fd.get(), F_GET_SEALS), F_SEAL_SEAL | F_SEAL_GROW | F_SEAL_SHRINK);
}

TEST(MemfdSealTest, AReadOnlyDescriptorMayNotSeal) {
  Fd fd(MemfdCreate("s", MFD_ALLOW_SEALING));
  Fd ro(Open(ProcFd(fd.get()), O_RDONLY));
  ASSERT_TRUE(ro.ok());
  EXPECT_SYSCALL_ERRNO(EPERM, fcntl(ro.get(), F_ADD_SEALS, F_SEAL_WRITE));
  EXPECT_SYSCALL_ERRNO(EPERM, fcntl(ro.get(), F_ADD_SEALS, 0x1000));  // before the bits
  EXPECT_EQ(fcntl(ro.get(), F_GET_SEALS), 0);                         // reading them is fine
}

TEST(MemfdSealTest, WriteSeal) {
  Fd fd(MemfdCreate("s", MFD_ALLOW_SEALING));
  ASSERT_TRUE(Put(fd.get(), "0123456789"));
  ASSERT_SYSCALL_OK(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE));
  EXPECT_SYSCALL_ERRNO(EPERM, write(fd.get(), "x", 1));
  EXPECT_SYSCALL_ERRNO(EPERM, pwrite(fd.get(), "x", 1, 0));
  EXPECT_EQ(pwrite(fd.get(), "x", 0, 0), 0);  // nothing to write is no write
  // The size may still change.
  EXPECT_SYSCALL_OK(ftruncate(fd.get(), 5));
  EXPECT_SYSCALL_OK(ftruncate(fd.get(), 20));
  EXPECT_EQ(PreadAll(fd.get(), 5), "01234");
  // No writable shared mapping; private and read-only ones are fine.
  EXPECT_SYSCALL_ERRNO(EPERM, mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0));
  void* priv = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd.get(), 0);
  EXPECT_NE(priv, MAP_FAILED) << strerror(errno);
  void* ro = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd.get(), 0);
  EXPECT_NE(ro, MAP_FAILED) << strerror(errno);
  if (priv != MAP_FAILED) munmap(priv, 4096);
  if (ro != MAP_FAILED) munmap(ro, 4096);
}

TEST(MemfdSealTest, WriteSealIsBusyWhileASharedMappingMayWrite) {
  Fd fd(MemfdCreate("s", MFD_ALLOW_SEALING));
  ASSERT_SYSCALL_OK(ftruncate(fd.get(), 4096));
  void* rw = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(rw, MAP_FAILED);
  EXPECT_SYSCALL_ERRNO(EBUSY, fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE));
  // A forked child's copy of the mapping counts too, until it exits.
  EXPECT_EQ(conformance::InChild([&] {
              munmap(rw, 4096);
              return fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE) == -1 && errno == EBUSY ? 0 : 1;
            }),
            0);
  ASSERT_SYSCALL_OK(munmap(rw, 4096));
  // Read-only, but of a file open for writing: mprotect could make it writable, so it counts.
  void* ro = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(ro, MAP_FAILED);
  EXPECT_SYSCALL_ERRNO(EBUSY, fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE));
  ASSERT_SYSCALL_OK(munmap(ro, 4096));
  // Private mappings never write the file.
  void* priv = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd.get(), 0);
  ASSERT_NE(priv, MAP_FAILED);
  EXPECT_SYSCALL_OK(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE));
  munmap(priv, 4096);
  // Sealed: a read-only shared mapping may not become writable.
  ro = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(ro, MAP_FAILED);
  EXPECT_SYSCALL_ERRNO(EACCES, mprotect(ro, 4096, PROT_READ | PROT_WRITE));
  munmap(ro, 4096);
}

TEST(MemfdSealTest, FutureWriteSealLeavesExistingMappingsAlone) {
  Fd fd(MemfdCreate("s", MFD_ALLOW_SEALING));
  ASSERT_SYSCALL_OK(ftruncate(fd.get(), 4096));
  void* rw = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(rw, MAP_FAILED);
  EXPECT_SYSCALL_OK(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
  static_cast<char*>(rw)[0] = 'f';
  EXPECT_EQ(PreadAll(fd.get(), 1), "f");
  EXPECT_SYSCALL_ERRNO(EBUSY, fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE));
  munmap(rw, 4096);
}

TEST(MemfdSealTest, FutureWriteSeal) {
  Fd fd(MemfdCreate("s", MFD_ALLOW_SEALING));
  ASSERT_SYSCALL_OK(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
  EXPECT_SYSCALL_ERRNO(EPERM, write(fd.get(), "x", 1));
  EXPECT_SYSCALL_ERRNO(EPERM, mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0));
}

TEST(MemfdSealTest, GrowSeal) {
  Fd fd(MemfdCreate("s", MFD_ALLOW_SEALING));
  ASSERT_TRUE(Put(fd.get(), "hello world"));
  ASSERT_SYSCALL_OK(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_GROW));
  EXPECT_EQ(pwrite(fd.get(), "abcd", 4, 5), 4);  // within the file
  EXPECT_SYSCALL_ERRNO(EPERM, pwrite(fd.get(), "abcd", 4, 9));
  EXPECT_SYSCALL_ERRNO(EPERM, ftruncate(fd.get(), 100));
  EXPECT_SYSCALL_OK(ftruncate(fd.get(), 11));  // no change is no growth
  EXPECT_SYSCALL_OK(ftruncate(fd.get(), 5));
  Fd append(Open(ProcFd(fd.get()), O_WRONLY | O_APPEND));
  EXPECT_SYSCALL_ERRNO(EPERM, write(append.get(), "x", 1));
  EXPECT_EQ(Fstat(fd.get()).st_size, 5);
}

TEST(MemfdSealTest, GrowSealCutsAWriteAtAPageBoundary) {
  // Linux checks each page-sized piece of a write: the pieces inside the file go through.
  Fd fd(MemfdCreate("s", MFD_ALLOW_SEALING));
  ASSERT_SYSCALL_OK(ftruncate(fd.get(), 5000));
  ASSERT_SYSCALL_OK(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_GROW));
  std::string data(8192, 'g');
  EXPECT_EQ(pwrite(fd.get(), data.data(), data.size(), 0), 4096);
  EXPECT_SYSCALL_ERRNO(EPERM, pwrite(fd.get(), data.data(), data.size(), 4096));
  EXPECT_EQ(Fstat(fd.get()).st_size, 5000);
}

TEST(MemfdSealTest, ShrinkSeal) {
  Fd fd(MemfdCreate("s", MFD_ALLOW_SEALING));
  ASSERT_TRUE(Put(fd.get(), "hello world"));
  ASSERT_SYSCALL_OK(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK));
  EXPECT_SYSCALL_ERRNO(EPERM, ftruncate(fd.get(), 5));
  EXPECT_SYSCALL_OK(ftruncate(fd.get(), 11));
  EXPECT_SYSCALL_OK(ftruncate(fd.get(), 20));
  EXPECT_SYSCALL_ERRNO(EPERM, truncate(ProcFd(fd.get()).c_str(), 0));
  EXPECT_SYSCALL_ERRNO(EPERM, Open(ProcFd(fd.get()), O_RDWR | O_TRUNC));
  EXPECT_EQ(pwrite(fd.get(), "x", 1, 30), 1);  // writes may still grow it
  EXPECT_EQ(Fstat(fd.get()).st_size, 31);
}

TEST(MemfdSealTest, NoexecSeal) {
  Fd fd(MemfdCreate("s", kMfdNoexecSeal));
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(Fstat(fd.get()).st_mode, S_IFREG | 0666);
  EXPECT_EQ(fcntl(fd.get(), F_GET_SEALS), kSealExec);  // and open to more seals
  EXPECT_SYSCALL_ERRNO(EPERM, fchmod(fd.get(), 0755));
  EXPECT_SYSCALL_OK(fchmod(fd.get(), 0600));  // the execute bits stay as they are
  EXPECT_SYSCALL_OK(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK));
}

TEST(MemfdSealTest, ExecSealOnAnExecutableFileSealsWritesToo) {
  Fd fd(MemfdCreate("s", MFD_ALLOW_SEALING));
  ASSERT_SYSCALL_OK(fcntl(fd.get(), F_ADD_SEALS, kSealExec));
  EXPECT_EQ(fcntl(fd.get(), F_GET_SEALS),
            kSealExec | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE);
  EXPECT_SYSCALL_ERRNO(EPERM, write(fd.get(), "x", 1));
  EXPECT_SYSCALL_ERRNO(EPERM, fchmod(fd.get(), 0666));
}

TEST(MemfdSealTest, FilesThatAreNotMemfds) {
  // /tmp here and in the sandbox is not a tmpfs (an overlay there): no seals at all.
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "x"));
  Fd f(Open(dir / "f", O_RDWR));
  EXPECT_SYSCALL_ERRNO(EINVAL, fcntl(f.get(), F_GET_SEALS));
  EXPECT_SYSCALL_ERRNO(EINVAL, fcntl(f.get(), F_ADD_SEALS, F_SEAL_WRITE));
  Fd ro(Open(dir / "f", O_RDONLY));
  EXPECT_SYSCALL_ERRNO(EPERM, fcntl(ro.get(), F_ADD_SEALS, F_SEAL_WRITE));
  int p[2];
  ASSERT_SYSCALL_OK(pipe(p));
  EXPECT_SYSCALL_ERRNO(EINVAL, fcntl(p[0], F_GET_SEALS));
  close(p[0]);
  close(p[1]);
}

TEST(MemfdSealTest, TmpfsFilesAreSealedAgainstSeals) {
  // Every shmem file has seals; files made by name start with F_SEAL_SEAL.
  std::string path = "/dev/shm/conformance_seal_" + std::to_string(getpid());
  Fd f(Open(path, O_RDWR | O_CREAT | O_EXCL, 0600));
  ASSERT_TRUE(f.ok()) << strerror(errno);
  unlink(path.c_str());
  EXPECT_EQ(fcntl(f.get(), F_GET_SEALS), F_SEAL_SEAL);
  EXPECT_SYSCALL_ERRNO(EPERM, fcntl(f.get(), F_ADD_SEALS, F_SEAL_WRITE));
}

}  // namespace
}  // namespace conformance
