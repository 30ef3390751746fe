// MAP_SHARED mappings of files: the mapping and read(2)/write(2) see one another at once, other
// mappings (in this process or a forked one) see the same data, pages past the end of the file
// give SIGBUS, and the error cases of mmap, msync and mincore. Files are in /tmp (the sandbox's
// tmpfs upper layer), memfds, and in $CONFORMANCE_VOLUME (a directory of the build tree that
// the sandbox gets as a volume: host files served by the gofer, whose mappings go through the
// sentry's page cache) when it is set.
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "syscalls/test_util.h"

namespace {

using conformance::Fd;
using conformance::InChild;
using conformance::PageSize;

// The directory of host files: the volume when the test runs with one.
std::string VolumeDir() {
  const char* dir = getenv("CONFORMANCE_VOLUME");
  return dir != nullptr && *dir != '\0' ? dir : "/tmp";
}

// A fresh file in `dir` (/tmp in the sandbox is the overlay's upper layer), unlinked at the end.
class TmpFile {
 public:
  explicit TmpFile(size_t size = 0, const std::string& dir = "/tmp") {
    std::string tmpl = dir + "/mmap_file_test.XXXXXX";
    fd_ = mkstemp(tmpl.data());
    path_ = tmpl;
    if (fd_ >= 0 && size > 0 && ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~TmpFile() {
    if (fd_ >= 0) close(fd_);
    unlink(path_.c_str());
  }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

// The kinds of file whose shared mappings must be coherent: a /tmp file, a memfd, a host file.
enum class Kind { kTmp, kMemfd, kVolume };

class SharedFileMapping : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    if (GetParam() == Kind::kTmp || GetParam() == Kind::kVolume) {
      tmp_ = std::make_unique<TmpFile>(0, GetParam() == Kind::kTmp ? "/tmp" : VolumeDir());
      fd_ = tmp_->fd();
    } else {
      memfd_ = std::make_unique<Fd>(memfd_create("mmap_file_test", 0));
      fd_ = memfd_->get();
    }
    ASSERT_GE(fd_, 0);
  }
  int fd() const { return fd_; }

 private:
  std::unique_ptr<TmpFile> tmp_;
  std::unique_ptr<Fd> memfd_;
  int fd_ = -1;
};

sigjmp_buf g_fault_jmp;
volatile sig_atomic_t g_fault_sig = 0;

void OnFault(int sig) {
  g_fault_sig = sig;
  siglongjmp(g_fault_jmp, 1);
}

// The signal that reading (or writing) *p raises in this very process, 0 if none: a fork would
// test the child's mappings, not ours.
int AccessSignal(volatile char* p, bool write = false) {
  struct sigaction sa = {}, old_bus, old_segv;
  sa.sa_handler = OnFault;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGBUS, &sa, &old_bus);
  sigaction(SIGSEGV, &sa, &old_segv);
  g_fault_sig = 0;
  if (sigsetjmp(g_fault_jmp, 1) == 0) {
    if (write) {
      *p = 1;
    } else {
      (void)*p;
    }
  }
  sigaction(SIGBUS, &old_bus, nullptr);
  sigaction(SIGSEGV, &old_segv, nullptr);
  return g_fault_sig;
}

char* MapShared(int fd, size_t len, int prot = PROT_READ | PROT_WRITE, off_t off = 0) {
  void* p = mmap(nullptr, len, prot, MAP_SHARED, fd, off);
  return p == MAP_FAILED ? nullptr : static_cast<char*>(p);
}

TEST_P(SharedFileMapping, StoresAreSeenByReadAndWritesThroughTheMapping) {
  const size_t page = PageSize();
  ASSERT_SYSCALL_OK(ftruncate(fd(), 2 * page));
  char* m = MapShared(fd(), 2 * page);
  ASSERT_NE(m, nullptr);
  std::memcpy(m + page + 10, "through the mapping", 19);
  char buf[19] = {};
  ASSERT_EQ(pread(fd(), buf, sizeof(buf), page + 10), 19);
  EXPECT_EQ(std::string(buf, 19), "through the mapping");
  ASSERT_EQ(pwrite(fd(), "by write", 8, 100), 8);
  EXPECT_EQ(std::string(m + 100, 8), "by write");
  EXPECT_EQ(m[0], 0);  // the rest is still zeros
  EXPECT_SYSCALL_OK(munmap(m, 2 * page));
}

TEST_P(SharedFileMapping, ReadOnlyMappingSeesLaterWrites) {
  const size_t page = PageSize();
  ASSERT_EQ(pwrite(fd(), "old", 3, 0), 3);
  char* m = MapShared(fd(), page, PROT_READ);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(std::string(m, 3), "old");
  ASSERT_EQ(pwrite(fd(), "new", 3, 0), 3);
  EXPECT_EQ(std::string(m, 3), "new");
  EXPECT_SYSCALL_OK(munmap(m, page));
}

TEST_P(SharedFileMapping, TwoMappingsOfOneFileShareTheData) {
  const size_t page = PageSize();
  ASSERT_SYSCALL_OK(ftruncate(fd(), page));
  char* a = MapShared(fd(), page);
  char* b = MapShared(fd(), page);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_NE(a, b);
  a[7] = 'x';
  EXPECT_EQ(b[7], 'x');
  b[8] = 'y';
  EXPECT_EQ(a[8], 'y');
  EXPECT_SYSCALL_OK(munmap(a, page));
  EXPECT_EQ(b[7], 'x');
  EXPECT_SYSCALL_OK(munmap(b, page));
}

TEST_P(SharedFileMapping, ForkedChildAndParentShareTheMapping) {
  const size_t page = PageSize();
  ASSERT_SYSCALL_OK(ftruncate(fd(), 4 * page));
  char* m = MapShared(fd(), 4 * page);
  ASSERT_NE(m, nullptr);
  m[0] = 'p';
  int fd_copy = fd();
  EXPECT_EQ(InChild([&] {
              if (m[0] != 'p') return 1;
              m[3 * page] = 'c';  // a page the parent never touched
              m[1] = 'c';
              char buf = 0;
              if (pread(fd_copy, &buf, 1, 0) != 1 || buf != 'p') return 2;
              return 0;
            }),
            0);
  EXPECT_EQ(m[3 * page], 'c');
  EXPECT_EQ(m[1], 'c');
  char buf = 0;
  ASSERT_EQ(pread(fd(), &buf, 1, 3 * page), 1);
  EXPECT_EQ(buf, 'c');
  EXPECT_SYSCALL_OK(munmap(m, 4 * page));
}

TEST_P(SharedFileMapping, SeparateOpensShareTheData) {
  if (GetParam() == Kind::kMemfd) GTEST_SKIP() << "a memfd has no path to open again";
  TmpFile f(PageSize(), GetParam() == Kind::kTmp ? "/tmp" : VolumeDir());
  ASSERT_GE(f.fd(), 0);
  Fd other(open(f.path().c_str(), O_RDWR));
  ASSERT_TRUE(other.ok());
  char* a = MapShared(f.fd(), PageSize());
  char* b = MapShared(other.get(), PageSize());
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  a[0] = 'z';
  EXPECT_EQ(b[0], 'z');
  munmap(a, PageSize());
  munmap(b, PageSize());
}

TEST_P(SharedFileMapping, HoleReadsAsZerosAndAWriteFillsIt) {
  const size_t page = PageSize();
  ASSERT_SYSCALL_OK(ftruncate(fd(), 8 * page));
  char* m = MapShared(fd(), 8 * page);
  ASSERT_NE(m, nullptr);
  for (size_t i = 0; i < 8 * page; i += page) ASSERT_EQ(m[i], 0);
  m[5 * page + 1] = 'h';
  char buf = 0;
  ASSERT_EQ(pread(fd(), &buf, 1, 5 * page + 1), 1);
  EXPECT_EQ(buf, 'h');
  struct stat st;
  ASSERT_SYSCALL_OK(fstat(fd(), &st));
  EXPECT_EQ(st.st_size, static_cast<off_t>(8 * page));
  EXPECT_GT(st.st_blocks, 0);
  munmap(m, 8 * page);
}

TEST_P(SharedFileMapping, FillingAFreshFileThroughTheMapping) {
  const size_t page = PageSize();
  const size_t len = 256 * page;
  ASSERT_SYSCALL_OK(ftruncate(fd(), len));
  char* m = MapShared(fd(), len);
  ASSERT_NE(m, nullptr);
  for (size_t i = 0; i < len; i += 64) m[i] = static_cast<char>(i / 64);
  std::string back(len, '\0');
  ASSERT_EQ(pread(fd(), back.data(), len, 0), static_cast<ssize_t>(len));
  for (size_t i = 0; i < len; i += 64) ASSERT_EQ(back[i], static_cast<char>(i / 64)) << i;
  EXPECT_EQ(back[1], 0);
  // Cut it in the middle of the filled part: the pages past the new end go, the rest stays.
  ASSERT_SYSCALL_OK(ftruncate(fd(), len / 2));
  EXPECT_EQ(AccessSignal(m + len / 2), SIGBUS);
  EXPECT_EQ(AccessSignal(m + len - 1), SIGBUS);
  EXPECT_EQ(m[len / 2 - 64], static_cast<char>((len / 2 - 64) / 64));
  munmap(m, len);
}

TEST_P(SharedFileMapping, PagesPastTheEndOfTheFileGiveSigbus) {
  const size_t page = PageSize();
  ASSERT_SYSCALL_OK(ftruncate(fd(), page / 2));
  char* m = MapShared(fd(), 3 * page);
  ASSERT_NE(m, nullptr);
  m[page / 2 + 3] = 1;  // past the end but inside the last page: no fault
  EXPECT_EQ(AccessSignal(m + page), SIGBUS);
  EXPECT_EQ(AccessSignal(m + 2 * page + 5, true), SIGBUS);
  // Unhandled, it kills.
  EXPECT_EQ(InChild([&] { return m[page]; }), 128 + SIGBUS);
  munmap(m, 3 * page);
}

TEST_P(SharedFileMapping, TruncationTakesPagesAwayAndGrowingBringsZerosBack) {
  const size_t page = PageSize();
  ASSERT_SYSCALL_OK(ftruncate(fd(), 4 * page));
  char* m = MapShared(fd(), 4 * page);
  ASSERT_NE(m, nullptr);
  for (size_t i = 0; i < 4; ++i) m[i * page] = 'a';
  ASSERT_SYSCALL_OK(ftruncate(fd(), page));
  EXPECT_EQ(m[0], 'a');
  EXPECT_EQ(AccessSignal(m + 2 * page), SIGBUS);
  EXPECT_EQ(AccessSignal(m + page, true), SIGBUS);
  ASSERT_SYSCALL_OK(ftruncate(fd(), 4 * page));
  EXPECT_EQ(m[2 * page], 0);
  m[3 * page] = 'b';
  char buf = 0;
  ASSERT_EQ(pread(fd(), &buf, 1, 3 * page), 1);
  EXPECT_EQ(buf, 'b');
  munmap(m, 4 * page);
}

TEST_P(SharedFileMapping, TruncationByAnotherProcessReachesThisOnesMapping) {
  const size_t page = PageSize();
  ASSERT_SYSCALL_OK(ftruncate(fd(), 2 * page));
  char* m = MapShared(fd(), 2 * page);
  ASSERT_NE(m, nullptr);
  m[page] = 'x';
  int fd_copy = fd();
  // The forked child maps the file too (inherited), then truncates it: the parent's mapping of
  // the second page must go.
  EXPECT_EQ(InChild([&] {
              if (m[page] != 'x') return 1;
              return ftruncate(fd_copy, page) == 0 ? 0 : 2;
            }),
            0);
  EXPECT_EQ(AccessSignal(m + page), SIGBUS);
  EXPECT_EQ(m[0], 0);
  // And a write by the other process after growing the file again shows here.
  EXPECT_EQ(InChild([&] {
              if (ftruncate(fd_copy, 2 * page) != 0) return 1;
              return pwrite(fd_copy, "y", 1, page) == 1 ? 0 : 2;
            }),
            0);
  EXPECT_EQ(m[page], 'y');
  munmap(m, 2 * page);
}

TEST_P(SharedFileMapping, MadviseDontNeedKeepsTheData) {
  const size_t page = PageSize();
  ASSERT_SYSCALL_OK(ftruncate(fd(), 2 * page));
  char* m = MapShared(fd(), 2 * page);
  ASSERT_NE(m, nullptr);
  m[0] = 'k';
  m[page] = 'l';
  ASSERT_SYSCALL_OK(madvise(m, 2 * page, MADV_DONTNEED));
  EXPECT_EQ(m[0], 'k');
  EXPECT_EQ(m[page], 'l');
  munmap(m, 2 * page);
}

TEST_P(SharedFileMapping, MadviseRemovePunchesAHole) {
  const size_t page = PageSize();
  ASSERT_SYSCALL_OK(ftruncate(fd(), 2 * page));
  char* m = MapShared(fd(), 2 * page);
  ASSERT_NE(m, nullptr);
  m[0] = 'k';
  m[page] = 'l';
  ASSERT_SYSCALL_OK(madvise(m + page, page, MADV_REMOVE));
  EXPECT_EQ(m[0], 'k');
  EXPECT_EQ(m[page], 0);
  char buf = 1;
  ASSERT_EQ(pread(fd(), &buf, 1, page), 1);
  EXPECT_EQ(buf, 0);
  munmap(m, 2 * page);
}

TEST_P(SharedFileMapping, MremapKeepsMappingTheFile) {
  const size_t page = PageSize();
  ASSERT_SYSCALL_OK(ftruncate(fd(), 4 * page));
  char* m = MapShared(fd(), page);
  ASSERT_NE(m, nullptr);
  m[0] = 'r';
  // Something in the way, so growing must move the mapping.
  void* block =
      mmap(m + page, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  char* moved = static_cast<char*>(mremap(m, page, 4 * page, MREMAP_MAYMOVE));
  ASSERT_NE(moved, MAP_FAILED);
  EXPECT_EQ(moved[0], 'r');
  moved[3 * page] = 's';
  char buf = 0;
  ASSERT_EQ(pread(fd(), &buf, 1, 3 * page), 1);
  EXPECT_EQ(buf, 's');
  ASSERT_EQ(pwrite(fd(), "t", 1, 2 * page), 1);
  EXPECT_EQ(moved[2 * page], 't');
  munmap(moved, 4 * page);
  if (block != MAP_FAILED) munmap(block, page);
}

TEST_P(SharedFileMapping, SyscallsReadAndWriteThroughTheMapping) {
  const size_t page = PageSize();
  ASSERT_SYSCALL_OK(ftruncate(fd(), 2 * page));
  char* m = MapShared(fd(), 2 * page);
  ASSERT_NE(m, nullptr);
  conformance::Pipe p;
  ASSERT_TRUE(p.ok());
  // write(2) from the mapping, and read(2) into it, across the page boundary.
  std::memcpy(m + page - 2, "abcd", 4);
  ASSERT_EQ(write(p.w(), m + page - 2, 4), 4);
  ASSERT_EQ(write(p.w(), "wxyz", 4), 4);
  char buf[4];
  ASSERT_EQ(read(p.r(), buf, 4), 4);
  EXPECT_EQ(std::string(buf, 4), "abcd");
  ASSERT_EQ(read(p.r(), m + page - 2, 4), 4);
  ASSERT_EQ(pread(fd(), buf, 4, page - 2), 4);
  EXPECT_EQ(std::string(buf, 4), "wxyz");
  munmap(m, 2 * page);
}

TEST_P(SharedFileMapping, MsyncAndMincore) {
  const size_t page = PageSize();
  ASSERT_SYSCALL_OK(ftruncate(fd(), 2 * page));
  char* m = MapShared(fd(), 2 * page);
  ASSERT_NE(m, nullptr);
  m[0] = 1;
  EXPECT_SYSCALL_OK(msync(m, 2 * page, MS_SYNC));
  EXPECT_SYSCALL_OK(msync(m, 2 * page, MS_ASYNC | MS_INVALIDATE));
  EXPECT_SYSCALL_OK(msync(m, 0, MS_SYNC));
  unsigned char vec[2] = {7, 7};
  ASSERT_SYSCALL_OK(mincore(m, 2 * page, vec));
  EXPECT_EQ(vec[0], 1);
  EXPECT_LE(vec[1], 1);
  munmap(m, 2 * page);
}

// A byte that differs from page to page and from round to round.
char PatternByte(size_t page, int round) {
  return static_cast<char>('A' + (page * 7 + round) % 26);
}

// Writes `pages` pages of round `round`'s pattern with write(2).
void WritePattern(int fd, size_t pages, int round) {
  const size_t page = PageSize();
  std::string buf(pages * page, '\0');
  for (size_t i = 0; i < pages; ++i) std::memset(&buf[i * page], PatternByte(i, round), page);
  ASSERT_EQ(pwrite(fd, buf.data(), buf.size(), 0), static_cast<ssize_t>(buf.size()));
}

// Whether every page of a mapping of `pages` pages holds round `round`'s pattern, at its first
// and last byte.
bool HoldsPattern(const char* m, size_t pages, int round) {
  const size_t page = PageSize();
  for (size_t i = 0; i < pages; ++i) {
    if (m[i * page] != PatternByte(i, round) || m[i * page + page - 1] != PatternByte(i, round)) {
      return false;
    }
  }
  return true;
}

// Host files: the page cache keeps clean pages after the last munmap; what the next mapping
// shows is still the file, stores made through the last one included.
TEST_P(SharedFileMapping, DataAfterUnmapAndRemapIsTheFiles) {
  const size_t page = PageSize();
  const size_t pages = 300;  // more than one fault-around window
  WritePattern(fd(), pages, 0);
  char* m = MapShared(fd(), pages * page, PROT_READ);
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(HoldsPattern(m, pages, 0));
  ASSERT_SYSCALL_OK(munmap(m, pages * page));
  m = MapShared(fd(), pages * page);
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(HoldsPattern(m, pages, 0));
  std::memcpy(m + 5 * page + 1, "stored", 6);
  std::memcpy(m + 299 * page + 2, "last page", 9);
  ASSERT_SYSCALL_OK(munmap(m, pages * page));
  m = MapShared(fd(), pages * page, PROT_READ);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(std::string(m + 5 * page + 1, 6), "stored");
  EXPECT_EQ(std::string(m + 299 * page + 2, 9), "last page");
  EXPECT_EQ(m[5 * page], PatternByte(5, 0));
  char buf[9];
  ASSERT_EQ(pread(fd(), buf, 9, 299 * page + 2), 9);
  EXPECT_EQ(std::string(buf, 9), "last page");
  ASSERT_SYSCALL_OK(munmap(m, pages * page));
}

TEST_P(SharedFileMapping, TruncateAndExtendBetweenMappings) {
  const size_t page = PageSize();
  WritePattern(fd(), 3, 1);
  char* m = MapShared(fd(), 3 * page, PROT_READ);
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(HoldsPattern(m, 3, 1));
  ASSERT_SYSCALL_OK(munmap(m, 3 * page));
  ASSERT_SYSCALL_OK(ftruncate(fd(), page + page / 2));
  m = MapShared(fd(), 3 * page, PROT_READ);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m[0], PatternByte(0, 1));
  EXPECT_EQ(m[page + page / 2 - 1], PatternByte(1, 1));
  EXPECT_EQ(m[page + page / 2], 0);  // past the end, in the last page
  EXPECT_EQ(m[2 * page - 1], 0);
  EXPECT_EQ(AccessSignal(m + 2 * page), SIGBUS);
  ASSERT_SYSCALL_OK(munmap(m, 3 * page));
  // Growing it again brings zeros where the cut data was.
  ASSERT_SYSCALL_OK(ftruncate(fd(), 3 * page));
  m = MapShared(fd(), 3 * page, PROT_READ);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m[page + page / 2 - 1], PatternByte(1, 1));
  EXPECT_EQ(m[page + page / 2], 0);
  EXPECT_EQ(m[2 * page], 0);
  EXPECT_EQ(m[3 * page - 1], 0);
  ASSERT_SYSCALL_OK(munmap(m, 3 * page));
}

TEST_P(SharedFileMapping, WriteBetweenMappings) {
  const size_t page = PageSize();
  WritePattern(fd(), 4, 2);
  char* m = MapShared(fd(), 4 * page, PROT_READ);
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(HoldsPattern(m, 4, 2));
  ASSERT_SYSCALL_OK(munmap(m, 4 * page));
  ASSERT_EQ(pwrite(fd(), "written", 7, 2 * page + 100), 7);
  WritePattern(fd(), 1, 3);  // the first page, whole
  m = MapShared(fd(), 4 * page, PROT_READ);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(std::string(m + 2 * page + 100, 7), "written");
  EXPECT_EQ(m[0], PatternByte(0, 3));
  EXPECT_EQ(m[page - 1], PatternByte(0, 3));
  EXPECT_EQ(m[page], PatternByte(1, 2));
  ASSERT_SYSCALL_OK(munmap(m, 4 * page));
}

// More mapped data than a sandbox keeps for unmapped files is bounded by its budget
// (docs/architecture.md); whatever it keeps or gives back, each file reads as itself.
TEST_P(SharedFileMapping, ManyFilesKeepTheirOwnData) {
  const size_t page = PageSize();
  const size_t pages = 64;
  constexpr int kFiles = 24;
  std::vector<std::unique_ptr<TmpFile>> files;
  std::vector<int> fds;
  for (int i = 0; i < kFiles; ++i) {
    if (GetParam() == Kind::kMemfd) {
      fds.push_back(memfd_create("mmap_file_test", 0));
    } else {
      files.push_back(
          std::make_unique<TmpFile>(0, GetParam() == Kind::kTmp ? "/tmp" : VolumeDir()));
      fds.push_back(files.back()->fd());
    }
    ASSERT_GE(fds.back(), 0);
    WritePattern(fds.back(), pages, i);
  }
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < kFiles; ++i) {
      char* m = MapShared(fds[i], pages * page, PROT_READ);
      ASSERT_NE(m, nullptr);
      EXPECT_TRUE(HoldsPattern(m, pages, i + round)) << "file " << i << " round " << round;
      ASSERT_SYSCALL_OK(munmap(m, pages * page));
      WritePattern(fds[i], pages, i + round + 1);  // what the next round expects
    }
  }
  if (GetParam() == Kind::kMemfd) {
    for (int fd : fds) close(fd);
  }
}

INSTANTIATE_TEST_SUITE_P(Files, SharedFileMapping,
                         ::testing::Values(Kind::kTmp, Kind::kMemfd, Kind::kVolume),
                         [](const auto& info) -> std::string {
                           switch (info.param) {
                             case Kind::kTmp:
                               return "Tmp";
                             case Kind::kMemfd:
                               return "Memfd";
                             case Kind::kVolume:
                               break;
                           }
                           return "Volume";
                         });

// What a fresh open of `path` reads at `offset`.
std::string ReadFresh(const std::string& path, size_t len, off_t offset) {
  Fd f(open(path.c_str(), O_RDONLY));
  if (!f.ok()) return "open failed";
  std::string out(len, '\0');
  ssize_t n = pread(f.get(), out.data(), len, offset);
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

// Host files: stores through a mapping reach the file itself (msync, fsync, munmap, exit), as
// another open of it shows.
TEST(HostFileMapping, StoresReachTheFileOnMsyncFsyncAndMunmap) {
  const size_t page = PageSize();
  TmpFile f(2 * page, VolumeDir());
  ASSERT_GE(f.fd(), 0);
  char* m = MapShared(f.fd(), 2 * page);
  ASSERT_NE(m, nullptr);
  std::memcpy(m + 10, "stored", 6);
  EXPECT_EQ(ReadFresh(f.path(), 6, 10), "stored");
  ASSERT_SYSCALL_OK(msync(m, 2 * page, MS_SYNC));
  EXPECT_EQ(ReadFresh(f.path(), 6, 10), "stored");
  std::memcpy(m + page, "again", 5);
  ASSERT_SYSCALL_OK(msync(m + page, page, MS_ASYNC));
  EXPECT_EQ(ReadFresh(f.path(), 5, static_cast<off_t>(page)), "again");
  // A store after the write-back counts as well.
  std::memcpy(m + 10, "STORED", 6);
  ASSERT_SYSCALL_OK(fsync(f.fd()));
  EXPECT_EQ(ReadFresh(f.path(), 6, 10), "STORED");
  std::memcpy(m + page + 100, "last", 4);
  ASSERT_SYSCALL_OK(munmap(m, 2 * page));
  EXPECT_EQ(ReadFresh(f.path(), 4, static_cast<off_t>(page + 100)), "last");
  struct stat st;
  ASSERT_SYSCALL_OK(fstat(f.fd(), &st));
  EXPECT_EQ(st.st_size, static_cast<off_t>(2 * page));
}

TEST(HostFileMapping, StoresOfAnExitingProcessReachTheFile) {
  const size_t page = PageSize();
  TmpFile f(page, VolumeDir());
  ASSERT_GE(f.fd(), 0);
  int fd = f.fd();
  EXPECT_EQ(InChild([&] {
              char* m = MapShared(fd, page);
              if (m == nullptr) return 1;
              std::memcpy(m, "from the child", 14);
              close(fd);
              return 0;  // exits with the mapping and no fd left
            }),
            0);
  EXPECT_EQ(ReadFresh(f.path(), 14, 0), "from the child");
}

TEST(HostFileMapping, TheLastPageStopsAtTheEndOfTheFile) {
  const size_t page = PageSize();
  TmpFile f(0, VolumeDir());
  ASSERT_GE(f.fd(), 0);
  ASSERT_EQ(pwrite(f.fd(), "0123456789", 10, 0), 10);
  char* m = MapShared(f.fd(), page);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(std::string(m, 10), "0123456789");
  EXPECT_EQ(m[10], 0);
  m[0] = 'X';
  m[20] = 'Y';  // in the page but past the end: never part of the file
  ASSERT_SYSCALL_OK(msync(m, page, MS_SYNC));
  struct stat st;
  ASSERT_SYSCALL_OK(fstat(f.fd(), &st));
  EXPECT_EQ(st.st_size, 10);
  EXPECT_EQ(ReadFresh(f.path(), 64, 0), "X123456789");
  // Growing the file brings zeros, not what was stored past the old end.
  ASSERT_SYSCALL_OK(ftruncate(f.fd(), 30));
  EXPECT_EQ(m[20], 0);
  munmap(m, page);
}

TEST(HostFileMapping, ReadOnlyMappingSeesStoresOfAWritableOne) {
  const size_t page = PageSize();
  TmpFile f(page, VolumeDir());
  ASSERT_GE(f.fd(), 0);
  Fd r(open(f.path().c_str(), O_RDONLY));
  ASSERT_TRUE(r.ok());
  char* ro = MapShared(r.get(), page, PROT_READ);
  ASSERT_NE(ro, nullptr);
  EXPECT_EQ(ro[0], 0);
  char* rw = MapShared(f.fd(), page);
  ASSERT_NE(rw, nullptr);
  rw[0] = 'w';
  EXPECT_EQ(ro[0], 'w');
  ASSERT_EQ(pwrite(f.fd(), "p", 1, 1), 1);
  EXPECT_EQ(ro[1], 'p');
  EXPECT_EQ(rw[1], 'p');
  munmap(rw, page);
  munmap(ro, page);
}

TEST(HostFileMapping, PrivateMappingKeepsItsStoresToItself) {
  const size_t page = PageSize();
  TmpFile f(page, VolumeDir());
  ASSERT_GE(f.fd(), 0);
  ASSERT_EQ(pwrite(f.fd(), "file", 4, 0), 4);
  void* p = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE, f.fd(), 0);
  ASSERT_NE(p, MAP_FAILED);
  char* m = static_cast<char*>(p);
  EXPECT_EQ(std::string(m, 4), "file");
  std::memcpy(m, "mine", 4);
  EXPECT_EQ(ReadFresh(f.path(), 4, 0), "file");
  ASSERT_SYSCALL_OK(msync(m, page, MS_SYNC));
  munmap(m, page);
  EXPECT_EQ(ReadFresh(f.path(), 4, 0), "file");
}

TEST(HostFileMapping, AppendOnlyFdStoresWhereTheMappingIs) {
  const size_t page = PageSize();
  TmpFile f(2 * page, VolumeDir());
  ASSERT_GE(f.fd(), 0);
  Fd a(open(f.path().c_str(), O_RDWR | O_APPEND));
  ASSERT_TRUE(a.ok());
  char* m = MapShared(a.get(), 2 * page);
  ASSERT_NE(m, nullptr);
  m[1] = 'a';
  m[page + 1] = 'b';
  ASSERT_SYSCALL_OK(msync(m, 2 * page, MS_SYNC));
  ASSERT_EQ(write(a.get(), "c", 1), 1);  // write(2) still appends
  m[2] = 'd';
  ASSERT_SYSCALL_OK(munmap(m, 2 * page));
  EXPECT_EQ(ReadFresh(f.path(), 3, 0), std::string("\0ad", 3));
  EXPECT_EQ(ReadFresh(f.path(), 2, static_cast<off_t>(page)), std::string("\0b", 2));
  EXPECT_EQ(ReadFresh(f.path(), 2, static_cast<off_t>(2 * page)), "c");
}

// read(2) and write(2) at the file position of one description from two threads while a third
// stores through a mapping and writes it back: nothing deadlocks, and each writer's last data
// is what the file holds.
TEST(HostFileMapping, ConcurrentReadWriteStoresAndWriteBack) {
  const size_t page = PageSize();
  TmpFile f(4 * page, VolumeDir());
  ASSERT_GE(f.fd(), 0);
  char* m = MapShared(f.fd(), 4 * page);
  ASSERT_NE(m, nullptr);
  int fd = f.fd();
  std::atomic<bool> failed{false};
  std::thread writer([&] {
    for (int i = 0; i < 300; ++i) {
      if (lseek(fd, static_cast<off_t>(2 * page), SEEK_SET) < 0 || write(fd, "w", 1) != 1) {
        failed = true;
      }
    }
  });
  std::thread reader([&] {
    char c;
    for (int i = 0; i < 300; ++i) {
      if (read(fd, &c, 1) < 0) failed = true;
    }
  });
  for (int i = 0; i < 100; ++i) {
    m[0] = static_cast<char>('a' + i % 26);
    m[3 * page] = 's';
    if (i % 10 == 0 && msync(m, 4 * page, MS_SYNC) != 0) failed = true;
  }
  writer.join();
  reader.join();
  EXPECT_FALSE(failed);
  ASSERT_SYSCALL_OK(munmap(m, 4 * page));
  EXPECT_EQ(ReadFresh(f.path(), 1, 0), std::string(1, static_cast<char>('a' + 99 % 26)));
  EXPECT_EQ(ReadFresh(f.path(), 1, static_cast<off_t>(2 * page)), "w");
  EXPECT_EQ(ReadFresh(f.path(), 1, static_cast<off_t>(3 * page)), "s");
}

TEST(HostFileMapping, PrivateMappingSeesWritesUntilItWritesThePage) {
  const size_t page = PageSize();
  TmpFile f(2 * page, VolumeDir());
  ASSERT_GE(f.fd(), 0);
  void* p = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE, f.fd(), 0);
  ASSERT_NE(p, MAP_FAILED);
  char* m = static_cast<char*>(p);
  EXPECT_EQ(m[0], 0);
  ASSERT_EQ(pwrite(f.fd(), "new", 3, 0), 3);
  EXPECT_EQ(std::string(m, 3), "new");
  m[10] = 'p';  // the first page is the mapping's own from now on
  ASSERT_EQ(pwrite(f.fd(), "NEW", 3, 0), 3);
  ASSERT_EQ(pwrite(f.fd(), "two", 3, static_cast<off_t>(page)), 3);
  EXPECT_EQ(std::string(m, 3), "new");
  EXPECT_EQ(std::string(m + page, 3), "two");
  EXPECT_EQ(ReadFresh(f.path(), 3, 0), "NEW");
  munmap(m, 2 * page);
}

TEST(HostFileMapping, MsyncErrors) {
  const size_t page = PageSize();
  TmpFile f(2 * page, VolumeDir());
  ASSERT_GE(f.fd(), 0);
  char* m = MapShared(f.fd(), 2 * page);
  ASSERT_NE(m, nullptr);
  m[0] = 'e';
  EXPECT_SYSCALL_ERRNO(EINVAL, msync(m + 1, page, MS_SYNC));
  EXPECT_SYSCALL_ERRNO(EINVAL, msync(m, page, MS_SYNC | MS_ASYNC));
  ASSERT_SYSCALL_OK(munmap(m + page, page));
  // The mapped part is written back all the same.
  EXPECT_SYSCALL_ERRNO(ENOMEM, msync(m, 2 * page, MS_SYNC));
  EXPECT_EQ(ReadFresh(f.path(), 1, 0), "e");
  munmap(m, page);
}

TEST(HostFileMapping, WritableSharingNeedsAFileOpenForWriting) {
  TmpFile f(4096, VolumeDir());
  ASSERT_GE(f.fd(), 0);
  Fd r(open(f.path().c_str(), O_RDONLY));
  ASSERT_TRUE(r.ok());
  EXPECT_SYSCALL_ERRNO(EACCES, mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, r.get(), 0));
  void* p = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, r.get(), 0);
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_SYSCALL_ERRNO(EACCES, mprotect(p, 4096, PROT_READ | PROT_WRITE));
  munmap(p, 4096);
  Fd w(open(f.path().c_str(), O_WRONLY));
  ASSERT_TRUE(w.ok());
  EXPECT_SYSCALL_ERRNO(EACCES, mmap(nullptr, 4096, PROT_READ, MAP_SHARED, w.get(), 0));
  // Opened for writing, a read-only shared mapping may be made writable later.
  p = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, f.fd(), 0);
  ASSERT_NE(p, MAP_FAILED);
  ASSERT_SYSCALL_OK(mprotect(p, 4096, PROT_READ | PROT_WRITE));
  static_cast<char*>(p)[0] = 'm';
  munmap(p, 4096);
  EXPECT_EQ(ReadFresh(f.path(), 1, 0), "m");
}

TEST(MmapFileErrors, BadFdIsEBADF) {
  EXPECT_SYSCALL_ERRNO(EBADF, mmap(nullptr, 4096, PROT_READ, MAP_SHARED, 999, 0));
  EXPECT_SYSCALL_ERRNO(EBADF, mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE, -1, 0));
}

TEST(MmapFileErrors, DirectoryIsENODEV) {
  Fd dir(open("/tmp", O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(dir.ok());
  EXPECT_SYSCALL_ERRNO(ENODEV, mmap(nullptr, 4096, PROT_READ, MAP_SHARED, dir.get(), 0));
  EXPECT_SYSCALL_ERRNO(ENODEV, mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE, dir.get(), 0));
}

TEST(MmapFileErrors, WriteOnlyFdIsEACCES) {
  TmpFile f(4096);
  Fd w(open(f.path().c_str(), O_WRONLY));
  ASSERT_TRUE(w.ok());
  EXPECT_SYSCALL_ERRNO(EACCES, mmap(nullptr, 4096, PROT_READ, MAP_SHARED, w.get(), 0));
  EXPECT_SYSCALL_ERRNO(EACCES, mmap(nullptr, 4096, PROT_WRITE, MAP_PRIVATE, w.get(), 0));
}

TEST(MmapFileErrors, WritableSharedMappingOfReadOnlyFdIsEACCES) {
  TmpFile f(4096);
  Fd r(open(f.path().c_str(), O_RDONLY));
  ASSERT_TRUE(r.ok());
  EXPECT_SYSCALL_ERRNO(EACCES, mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, r.get(), 0));
  // A private mapping may be written: the writes stay private.
  void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, r.get(), 0);
  ASSERT_NE(p, MAP_FAILED);
  munmap(p, 4096);
  // Nor can mprotect make a read-only shared mapping writable.
  p = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, r.get(), 0);
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_SYSCALL_ERRNO(EACCES, mprotect(p, 4096, PROT_READ | PROT_WRITE));
  munmap(p, 4096);
}

TEST(MmapFileErrors, AppendOnlyFdMapsShared) {
  // O_APPEND says where write(2) goes, not what a mapping may do (Linux refuses only files
  // with the append-only attribute).
  TmpFile f(4096);
  Fd a(open(f.path().c_str(), O_RDWR | O_APPEND));
  ASSERT_TRUE(a.ok());
  void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, a.get(), 0);
  ASSERT_NE(p, MAP_FAILED) << conformance::ErrnoName(errno);
  static_cast<char*>(p)[0] = 'a';
  char buf = 0;
  ASSERT_EQ(pread(f.fd(), &buf, 1, 0), 1);
  EXPECT_EQ(buf, 'a');
  munmap(p, 4096);
}

TEST(MmapFileErrors, UnalignedOffsetAndZeroLengthAreEINVAL) {
  TmpFile f(8192);
  EXPECT_SYSCALL_ERRNO(EINVAL, mmap(nullptr, 4096, PROT_READ, MAP_SHARED, f.fd(), 100));
  EXPECT_SYSCALL_ERRNO(EINVAL, mmap(nullptr, 0, PROT_READ, MAP_SHARED, f.fd(), 0));
  Fd w(open(f.path().c_str(), O_WRONLY));
  // Length 0 is refused before the file is looked at.
  EXPECT_SYSCALL_ERRNO(EINVAL, mmap(nullptr, 0, PROT_READ, MAP_SHARED, w.get(), 0));
}

TEST(MmapFileErrors, OffsetIsHonoured) {
  const size_t page = PageSize();
  TmpFile f(3 * page);
  ASSERT_EQ(pwrite(f.fd(), "third", 5, 2 * page), 5);
  char* m = MapShared(f.fd(), page, PROT_READ | PROT_WRITE, static_cast<off_t>(2 * page));
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(std::string(m, 5), "third");
  m[5] = '!';
  char buf = 0;
  ASSERT_EQ(pread(f.fd(), &buf, 1, 2 * page + 5), 1);
  EXPECT_EQ(buf, '!');
  munmap(m, page);
}

TEST(MmapFileErrors, WriteSealRefusesWritableSharedMappings) {
  Fd fd(memfd_create("sealed", MFD_ALLOW_SEALING));
  ASSERT_TRUE(fd.ok());
  ASSERT_SYSCALL_OK(ftruncate(fd.get(), 4096));
  ASSERT_SYSCALL_OK(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
  EXPECT_SYSCALL_ERRNO(EPERM, mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0));
  void* p = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_SYSCALL_ERRNO(EACCES, mprotect(p, 4096, PROT_READ | PROT_WRITE));
  munmap(p, 4096);
}

TEST(MsyncTest, Errors) {
  const size_t page = PageSize();
  void* p = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  char* c = static_cast<char*>(p);
  EXPECT_SYSCALL_ERRNO(EINVAL, msync(c + 1, page, MS_SYNC));
  EXPECT_SYSCALL_ERRNO(EINVAL, msync(c, page, MS_SYNC | MS_ASYNC));
  EXPECT_SYSCALL_ERRNO(EINVAL, msync(c, page, 0x100));
  EXPECT_SYSCALL_OK(msync(c, page, MS_SYNC));
  EXPECT_SYSCALL_OK(msync(c, page + 1, 0));  // the length is rounded up to a page
  ASSERT_SYSCALL_OK(munmap(c + page, page));
  EXPECT_SYSCALL_ERRNO(ENOMEM, msync(c, 2 * page, MS_SYNC));
  munmap(c, page);
}

TEST(MincoreTest, Errors) {
  const size_t page = PageSize();
  void* p = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  char* c = static_cast<char*>(p);
  unsigned char vec[2];
  c[0] = 1;
  ASSERT_SYSCALL_OK(mincore(c, 2 * page, vec));
  EXPECT_EQ(vec[0], 1);
  EXPECT_SYSCALL_ERRNO(EINVAL, mincore(c + 1, page, vec));
  EXPECT_SYSCALL_ERRNO(EFAULT, mincore(c, page, reinterpret_cast<unsigned char*>(8)));
  ASSERT_SYSCALL_OK(munmap(c + page, page));
  EXPECT_SYSCALL_ERRNO(ENOMEM, mincore(c, 2 * page, vec));
  munmap(c, page);
}

}  // namespace
