// MAP_PRIVATE mappings of files: a page shows the file (and its later changes) until the
// process writes it; from then on the page is the process's own, seen by nobody else. Also the
// executables and libraries the loader maps this way.
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "syscalls/test_util.h"

namespace {

using conformance::Fd;
using conformance::InChild;
using conformance::PageSize;

constexpr char kExitArg[] = "--exit-with-42";

int g_in_data = 41;
int g_in_bss;

// Exec'd with kExitArg, the program exits with 42, read from its data and bss, before gtest's
// main runs (glibc passes argc and argv to constructors).
__attribute__((constructor)) void ExitMode(int argc, char** argv, char**) {
  if (argc != 2 || std::strcmp(argv[1], kExitArg) != 0) return;
  g_in_bss += 1;
  _exit(g_in_data + g_in_bss);
}

enum class Kind { kTmp, kMemfd, kVolume };

// The directory of host files: the volume when the test runs with one (in the sandbox, files
// the gofer serves, whose mappings go through the sentry's page cache).
std::string VolumeDir() {
  const char* dir = getenv("CONFORMANCE_VOLUME");
  return dir != nullptr && *dir != '\0' ? dir : "/tmp";
}

// A two-page file of 'a's: a /tmp file (in the sandbox, the overlay's upper layer), a memfd or
// a host file.
class PrivateFileMapping : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    if (GetParam() != Kind::kMemfd) {
      std::string name = (GetParam() == Kind::kTmp ? std::string("/tmp") : VolumeDir()) +
                         "/mmap_private_test.XXXXXX";
      fd_ = std::make_unique<Fd>(mkstemp(name.data()));
      path_ = name;
    } else {
      fd_ = std::make_unique<Fd>(memfd_create("mmap_private_test", 0));
    }
    ASSERT_GE(fd_->get(), 0);
    std::string data(2 * PageSize(), 'a');
    ASSERT_EQ(pwrite(fd(), data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
  }
  void TearDown() override {
    if (!path_.empty()) unlink(path_.c_str());
  }
  int fd() const { return fd_->get(); }
  char* MapPrivate(size_t len, int prot = PROT_READ | PROT_WRITE) {
    void* p = mmap(nullptr, len, prot, MAP_PRIVATE, fd(), 0);
    return p == MAP_FAILED ? nullptr : static_cast<char*>(p);
  }
  char FileByte(off_t at) {
    char c = 0;
    return pread(fd(), &c, 1, at) == 1 ? c : '\0';
  }

 private:
  std::unique_ptr<Fd> fd_;
  std::string path_;
};

sigjmp_buf g_fault_jmp;
volatile sig_atomic_t g_fault_sig = 0;

void OnFault(int sig) {
  g_fault_sig = sig;
  siglongjmp(g_fault_jmp, 1);
}

// The signal that reading *p raises in this process, 0 if none.
int ReadSignal(volatile char* p) {
  struct sigaction sa = {}, old_bus, old_segv;
  sa.sa_handler = OnFault;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGBUS, &sa, &old_bus);
  sigaction(SIGSEGV, &sa, &old_segv);
  g_fault_sig = 0;
  if (sigsetjmp(g_fault_jmp, 1) == 0) (void)*p;
  sigaction(SIGBUS, &old_bus, nullptr);
  sigaction(SIGSEGV, &old_segv, nullptr);
  return g_fault_sig;
}

TEST_P(PrivateFileMapping, ShowsTheFileUntilThePageIsWritten) {
  const size_t page = PageSize();
  char* m = MapPrivate(2 * page);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m[0], 'a');
  ASSERT_EQ(pwrite(fd(), "b", 1, 0), 1);
  EXPECT_EQ(m[0], 'b');  // not written yet: still the file's page
  m[0] = 'c';
  EXPECT_EQ(FileByte(0), 'b');  // the store went to a copy
  ASSERT_EQ(pwrite(fd(), "d", 1, 1), 1);
  EXPECT_EQ(m[1], 'a');  // the written page is ours now
  EXPECT_EQ(m[0], 'c');
  ASSERT_EQ(pwrite(fd(), "e", 1, page), 1);
  EXPECT_EQ(m[page], 'e');  // the next page was never written: still the file's
  EXPECT_SYSCALL_OK(munmap(m, 2 * page));
}

TEST_P(PrivateFileMapping, WritesStayInTheWritingMapping) {
  const size_t page = PageSize();
  char* priv = MapPrivate(2 * page);
  char* other = MapPrivate(2 * page);
  auto* shared = static_cast<char*>(mmap(nullptr, 2 * page, PROT_READ, MAP_SHARED, fd(), 0));
  ASSERT_NE(priv, nullptr);
  ASSERT_NE(other, nullptr);
  ASSERT_NE(shared, MAP_FAILED);
  std::memcpy(priv + page - 2, "xyzw", 4);  // across the page boundary
  EXPECT_EQ(std::string(priv + page - 2, 4), "xyzw");
  EXPECT_EQ(std::string(other + page - 2, 4), "aaaa");
  EXPECT_EQ(std::string(shared + page - 2, 4), "aaaa");
  EXPECT_EQ(FileByte(page), 'a');
  munmap(priv, 2 * page);
  munmap(other, 2 * page);
  munmap(shared, 2 * page);
}

TEST_P(PrivateFileMapping, ReadIntoThePrivateMappingLeavesTheFileAlone) {
  const size_t page = PageSize();
  char* m = MapPrivate(2 * page);
  ASSERT_NE(m, nullptr);
  int p[2];
  ASSERT_SYSCALL_OK(pipe(p));
  ASSERT_EQ(write(p[1], "piped", 5), 5);
  ASSERT_EQ(read(p[0], m + 10, 5), 5);  // the kernel writes the page: a copy too
  EXPECT_EQ(std::string(m + 10, 5), "piped");
  EXPECT_EQ(FileByte(10), 'a');
  close(p[0]);
  close(p[1]);
  munmap(m, 2 * page);
}

TEST_P(PrivateFileMapping, ForkedChildCopiesWhatItWrites) {
  const size_t page = PageSize();
  char* m = MapPrivate(2 * page);
  ASSERT_NE(m, nullptr);
  m[0] = 'p';  // the parent's own page, inherited by the child
  int status = InChild([&] {
    if (m[0] != 'p' || m[page] != 'a') return 1;
    m[page] = 'c';
    if (FileByte(page) != 'a') return 2;
    return 0;
  });
  EXPECT_EQ(status, 0);
  EXPECT_EQ(m[page], 'a');
  ASSERT_EQ(pwrite(fd(), "f", 1, page), 1);
  EXPECT_EQ(m[page], 'f');
  munmap(m, 2 * page);
}

TEST_P(PrivateFileMapping, ReadOnlyMappingBecomesWritableWithoutTouchingTheFile) {
  const size_t page = PageSize();
  Fd ro(open(("/proc/self/fd/" + std::to_string(fd())).c_str(), O_RDONLY));
  ASSERT_GE(ro.get(), 0);
  auto* m = static_cast<char*>(mmap(nullptr, page, PROT_READ, MAP_PRIVATE, ro.get(), 0));
  ASSERT_NE(m, MAP_FAILED);
  ASSERT_SYSCALL_OK(mprotect(m, page, PROT_READ | PROT_WRITE));
  m[5] = 'w';
  EXPECT_EQ(m[5], 'w');
  EXPECT_EQ(FileByte(5), 'a');
  munmap(m, page);
}

TEST_P(PrivateFileMapping, PagesPastTheEndOfTheFileGiveSigbus) {
  const size_t page = PageSize();
  char* m = MapPrivate(3 * page);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(ReadSignal(m + page), 0);
  EXPECT_EQ(ReadSignal(m + 2 * page), SIGBUS);
  ASSERT_SYSCALL_OK(ftruncate(fd(), page));
  EXPECT_EQ(ReadSignal(m + page), SIGBUS);  // never written: the file's page, gone
  EXPECT_EQ(ReadSignal(m), 0);
  munmap(m, 3 * page);
}

TEST_P(PrivateFileMapping, MadviseDontNeedOnAnUnwrittenPageShowsTheFileAgain) {
  const size_t page = PageSize();
  char* m = MapPrivate(2 * page);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m[page], 'a');
  ASSERT_SYSCALL_OK(madvise(m + page, page, MADV_DONTNEED));
  ASSERT_EQ(pwrite(fd(), "g", 1, page), 1);
  EXPECT_EQ(m[page], 'g');
  munmap(m, 2 * page);
}

TEST_P(PrivateFileMapping, MadviseRemoveIsRefused) {
  const size_t page = PageSize();
  char* m = MapPrivate(2 * page);
  ASSERT_NE(m, nullptr);
  EXPECT_SYSCALL_ERRNO(EACCES, madvise(m, page, MADV_REMOVE));
  munmap(m, 2 * page);
}

TEST_P(PrivateFileMapping, MadviseDontNeedOnAWrittenPageShowsTheFileAgain) {
  const size_t page = PageSize();
  char* m = MapPrivate(2 * page);
  ASSERT_NE(m, nullptr);
  m[0] = 'c';
  m[page] = 'd';
  ASSERT_EQ(pwrite(fd(), "b", 1, 0), 1);
  EXPECT_EQ(m[0], 'c');
  ASSERT_SYSCALL_OK(madvise(m, page, MADV_DONTNEED));
  EXPECT_EQ(m[0], 'b');  // the copy is gone: the file's page, with its change
  EXPECT_EQ(m[1], 'a');
  EXPECT_EQ(m[page], 'd');  // the other page keeps its copy
  ASSERT_EQ(pwrite(fd(), "e", 1, 0), 1);
  EXPECT_EQ(m[0], 'e');  // and the page follows the file again, until written
  m[0] = 'f';
  EXPECT_EQ(FileByte(0), 'e');
  EXPECT_EQ(m[0], 'f');
  ASSERT_SYSCALL_OK(madvise(m, 2 * page, MADV_DONTNEED));
  EXPECT_EQ(m[0], 'e');
  EXPECT_EQ(m[page], 'a');
  munmap(m, 2 * page);
}

TEST_P(PrivateFileMapping, MadviseDontNeedInAForkedChildLeavesTheParentsCopy) {
  const size_t page = PageSize();
  char* m = MapPrivate(2 * page);
  ASSERT_NE(m, nullptr);
  m[0] = 'p';
  int status = InChild([&] {
    if (madvise(m, 2 * page, MADV_DONTNEED) != 0) return 1;
    return m[0] == 'a' ? 0 : 2;
  });
  EXPECT_EQ(status, 0);
  EXPECT_EQ(m[0], 'p');
  munmap(m, 2 * page);
}

TEST_P(PrivateFileMapping, MadviseFreeIsForAnonymousMemoryOnly) {
  const size_t page = PageSize();
  char* m = MapPrivate(2 * page);
  ASSERT_NE(m, nullptr);
  EXPECT_SYSCALL_ERRNO(EINVAL, madvise(m, page, MADV_FREE));
  m[0] = 'w';  // a copied page still belongs to a file mapping
  EXPECT_SYSCALL_ERRNO(EINVAL, madvise(m, page, MADV_FREE));
  EXPECT_EQ(m[0], 'w');
  auto* shared =
      static_cast<char*>(mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd(), 0));
  ASSERT_NE(shared, MAP_FAILED);
  EXPECT_SYSCALL_ERRNO(EINVAL, madvise(shared, page, MADV_FREE));
  munmap(shared, page);
  munmap(m, 2 * page);
}

TEST_P(PrivateFileMapping, TruncationTakesWrittenPagesPastTheNewEnd) {
  const size_t page = PageSize();
  ASSERT_SYSCALL_OK(ftruncate(fd(), 3 * page));
  char* m = MapPrivate(3 * page);
  ASSERT_NE(m, nullptr);
  m[0] = 'x';
  m[page] = 'y';
  m[2 * page + 5] = 'z';
  ASSERT_SYSCALL_OK(ftruncate(fd(), page));
  EXPECT_EQ(ReadSignal(m + page), SIGBUS);  // the copies went with the file's pages
  EXPECT_EQ(ReadSignal(m + 2 * page + 5), SIGBUS);
  EXPECT_EQ(ReadSignal(m), 0);
  EXPECT_EQ(m[0], 'x');  // inside the file: the copy stays
  ASSERT_SYSCALL_OK(ftruncate(fd(), 3 * page));
  EXPECT_EQ(ReadSignal(m + page), 0);
  EXPECT_EQ(m[page], '\0');  // the file's (new, zeroed) page, not the old copy
  EXPECT_EQ(m[2 * page + 5], '\0');
  EXPECT_EQ(m[0], 'x');
  munmap(m, 3 * page);
}

TEST_P(PrivateFileMapping, TruncationInsideAWrittenPageKeepsItsCopy) {
  const size_t page = PageSize();
  char* m = MapPrivate(2 * page);
  ASSERT_NE(m, nullptr);
  m[page] = 'w';
  m[page + 100] = 'v';
  ASSERT_SYSCALL_OK(ftruncate(fd(), page + 10));
  EXPECT_EQ(ReadSignal(m + page), 0);
  EXPECT_EQ(m[page], 'w');  // the page still holds part of the file: the copy is kept whole
  EXPECT_EQ(m[page + 100], 'v');
  munmap(m, 2 * page);
}

TEST_P(PrivateFileMapping, TruncationTakesAForkedChildsCopiesToo) {
  const size_t page = PageSize();
  char* m = MapPrivate(2 * page);
  ASSERT_NE(m, nullptr);
  m[page] = 'p';  // the parent's copy, which the child inherits
  conformance::Pipe ready, truncated;
  ASSERT_TRUE(ready.ok() && truncated.ok());
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    char c = 0;
    if (m[page] != 'p') _exit(1);
    if (write(ready.w(), "r", 1) != 1 || read(truncated.r(), &c, 1) != 1) _exit(2);
    _exit(ReadSignal(m + page) == SIGBUS ? 0 : 3);
  }
  char c = 0;
  ASSERT_EQ(read(ready.r(), &c, 1), 1);
  ASSERT_SYSCALL_OK(ftruncate(fd(), page));
  ASSERT_EQ(write(truncated.w(), "t", 1), 1);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(ReadSignal(m + page), SIGBUS);
  munmap(m, 2 * page);
}

TEST_P(PrivateFileMapping, MapsShowsAPartlyWrittenMappingAsOne) {
  const size_t page = PageSize();
  ASSERT_SYSCALL_OK(ftruncate(fd(), 3 * page));
  char* m = MapPrivate(3 * page);
  ASSERT_NE(m, nullptr);
  m[page] = 'w';
  Fd maps(open("/proc/self/maps", O_RDONLY));
  ASSERT_TRUE(maps.ok());
  std::string text(1 << 20, '\0');
  ssize_t n = 0, got;
  while ((got = read(maps.get(), text.data() + n, text.size() - n)) > 0) n += got;
  text.resize(n);
  char start[32];
  snprintf(start, sizeof(start), "%lx-%lx ", reinterpret_cast<unsigned long>(m),
           reinterpret_cast<unsigned long>(m + 3 * page));
  EXPECT_NE(text.find(start), std::string::npos) << text;
  munmap(m, 3 * page);
}

INSTANTIATE_TEST_SUITE_P(Files, PrivateFileMapping,
                         ::testing::Values(Kind::kTmp, Kind::kMemfd, Kind::kVolume),
                         [](const auto& info) {
                           switch (info.param) {
                             case Kind::kTmp:
                               return "Tmp";
                             case Kind::kMemfd:
                               return "Memfd";
                             default:
                               return "Volume";
                           }
                         });

// A copy of this test program in /tmp runs: the loader maps an executable whose pages the file
// system keeps.
TEST(PrivateFileMappingExec, ACopyOfThisProgramRunsFromTmp) {
  char name[] = "/tmp/mmap_private_exe.XXXXXX";
  auto out = std::make_unique<Fd>(mkstemp(name));
  ASSERT_GE(out->get(), 0);
  Fd in(open("/proc/self/exe", O_RDONLY));
  ASSERT_GE(in.get(), 0);
  std::vector<char> buf(1 << 16);
  for (ssize_t n; (n = read(in.get(), buf.data(), buf.size())) > 0;) {
    ASSERT_EQ(write(out->get(), buf.data(), n), n);
  }
  ASSERT_SYSCALL_OK(fchmod(out->get(), 0700));
  out.reset();  // a file open for writing cannot be executed (ETXTBSY)
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execl(name, name, kExitArg, nullptr);
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  unlink(name);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 42);
}

}  // namespace
