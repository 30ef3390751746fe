// fork(2) gives the child a copy of the parent's private memory: after the fork, each side's
// writes are its own, whichever side writes first, wherever the memory came from (anonymous
// mmap, brk, a MAP_PRIVATE file mapping, the stack), through stores or the kernel's own writes
// (read(2)), and whatever the child does to its mappings afterwards.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "syscalls/test_util.h"

namespace conformance {
namespace {

constexpr size_t kBig = 64 << 20;

// Fills every page of [p, p+len) with a value derived from `seed` and the page index.
void Fill(char* p, size_t len, char seed) {
  for (size_t off = 0; off < len; off += PageSize())
    p[off] = static_cast<char>(seed + off / PageSize());
}

// Whether every page holds what Fill(seed) wrote.
bool Holds(const char* p, size_t len, char seed) {
  for (size_t off = 0; off < len; off += PageSize()) {
    if (p[off] != static_cast<char>(seed + off / PageSize())) return false;
  }
  return true;
}

// An anonymous private mapping, unmapped at the end of the test.
class Anon {
 public:
  explicit Anon(size_t len) : len_(len) {
    void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    p_ = p == MAP_FAILED ? nullptr : static_cast<char*>(p);
  }
  ~Anon() {
    if (p_ != nullptr) munmap(p_, len_);
  }
  Anon(const Anon&) = delete;
  Anon& operator=(const Anon&) = delete;
  char* get() const { return p_; }

 private:
  char* p_;
  size_t len_;
};

TEST(ForkCowTest, ParentAndChildWriteTheirOwnCopies) {
  Anon mem(kBig);
  ASSERT_NE(mem.get(), nullptr);
  Fill(mem.get(), kBig, 1);
  Pipe go;  // the parent writes only once the child has written and checked
  ASSERT_TRUE(go.ok());
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The child writes the first half, then checks it and the untouched second half.
    Fill(mem.get(), kBig / 2, 7);
    bool ok = Holds(mem.get(), kBig / 2, 7) &&
              Holds(mem.get() + kBig / 2, kBig / 2, static_cast<char>(1 + kBig / 2 / PageSize()));
    char c = 0;
    // Wait for the parent's writes, which must not show here.
    if (read(go.r(), &c, 1) != 1) _exit(3);
    ok = ok && Holds(mem.get(), kBig / 2, 7) &&
         Holds(mem.get() + kBig / 2, kBig / 2, static_cast<char>(1 + kBig / 2 / PageSize()));
    _exit(ok ? 0 : 1);
  }
  Fill(mem.get(), kBig, 9);
  ASSERT_EQ(write(go.w(), "x", 1), 1);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  EXPECT_TRUE(Holds(mem.get(), kBig, 9));
}

TEST(ForkCowTest, ChildWritesDoNotReachTheParent) {
  Anon mem(kBig);
  ASSERT_NE(mem.get(), nullptr);
  Fill(mem.get(), kBig, 3);
  EXPECT_EQ(InChild([&] {
              Fill(mem.get(), kBig, 5);
              return Holds(mem.get(), kBig, 5) ? 0 : 1;
            }),
            0);
  EXPECT_TRUE(Holds(mem.get(), kBig, 3));
  // The parent, the last user again, writes its memory as before.
  Fill(mem.get(), kBig, 4);
  EXPECT_TRUE(Holds(mem.get(), kBig, 4));
}

TEST(ForkCowTest, HeapStackAndPrivateFileMapping) {
  // Heap from brk.
  char* heap = static_cast<char*>(sbrk(0));
  ASSERT_NE(sbrk(static_cast<intptr_t>(16 * PageSize())), reinterpret_cast<void*>(-1));
  Fill(heap, 16 * PageSize(), 11);
  // A MAP_PRIVATE mapping of a file, written after mapping it.
  char path[] = "/tmp/fork_cow_XXXXXX";
  Fd fd(mkstemp(path));
  ASSERT_TRUE(fd.ok());
  unlink(path);
  std::string content(8 * PageSize(), 'f');
  ASSERT_EQ(write(fd.get(), content.data(), content.size()), static_cast<ssize_t>(content.size()));
  void* fm = mmap(nullptr, content.size(), PROT_READ | PROT_WRITE, MAP_PRIVATE, fd.get(), 0);
  ASSERT_NE(fm, MAP_FAILED);
  char* file_map = static_cast<char*>(fm);
  Fill(file_map, content.size(), 21);
  // A buffer on the stack.
  volatile char stack_buf[4 * 4096];
  for (size_t i = 0; i < sizeof(stack_buf); i += 512) stack_buf[i] = 'p';

  EXPECT_EQ(InChild([&] {
              bool ok = Holds(heap, 16 * PageSize(), 11) && Holds(file_map, content.size(), 21);
              for (size_t i = 0; i < sizeof(stack_buf); i += 512) ok = ok && stack_buf[i] == 'p';
              Fill(heap, 16 * PageSize(), 12);
              Fill(file_map, content.size(), 22);
              for (size_t i = 0; i < sizeof(stack_buf); i += 512) stack_buf[i] = 'c';
              ok = ok && Holds(heap, 16 * PageSize(), 12) && Holds(file_map, content.size(), 22);
              for (size_t i = 0; i < sizeof(stack_buf); i += 512) ok = ok && stack_buf[i] == 'c';
              return ok ? 0 : 1;
            }),
            0);
  EXPECT_TRUE(Holds(heap, 16 * PageSize(), 11));
  EXPECT_TRUE(Holds(file_map, content.size(), 21));
  for (size_t i = 0; i < sizeof(stack_buf); i += 512) EXPECT_EQ(stack_buf[i], 'p') << i;
  // The file itself never saw any of it.
  char first = 0;
  ASSERT_EQ(pread(fd.get(), &first, 1, 0), 1);
  EXPECT_EQ(first, 'f');
  munmap(file_map, content.size());
  sbrk(-static_cast<intptr_t>(16 * PageSize()));
}

TEST(ForkCowTest, Grandchild) {
  Anon mem(16 * PageSize());
  ASSERT_NE(mem.get(), nullptr);
  Fill(mem.get(), 16 * PageSize(), 30);
  EXPECT_EQ(InChild([&] {
              Fill(mem.get(), 8 * PageSize(), 31);  // half the child's own, half still shared
              int grandchild = InChild([&] {
                bool ok = Holds(mem.get(), 8 * PageSize(), 31) &&
                          Holds(mem.get() + 8 * PageSize(), 8 * PageSize(), 30 + 8);
                Fill(mem.get(), 16 * PageSize(), 32);
                return ok && Holds(mem.get(), 16 * PageSize(), 32) ? 0 : 1;
              });
              bool ok = grandchild == 0 && Holds(mem.get(), 8 * PageSize(), 31) &&
                        Holds(mem.get() + 8 * PageSize(), 8 * PageSize(), 30 + 8);
              return ok ? 0 : 1;
            }),
            0);
  EXPECT_TRUE(Holds(mem.get(), 16 * PageSize(), 30));
}

TEST(ForkCowTest, ReadIntoSharedPageIsPrivate) {
  Anon mem(4 * PageSize());
  ASSERT_NE(mem.get(), nullptr);
  std::memset(mem.get(), 'a', 4 * PageSize());
  Pipe p;
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(write(p.w(), "hello", 5), 5);
  EXPECT_EQ(InChild([&] {
              // The kernel writes into a page the child shares with the parent.
              if (read(p.r(), mem.get() + PageSize() - 2, 5) != 5) return 2;
              return std::memcmp(mem.get() + PageSize() - 2, "hello", 5) == 0 && mem.get()[0] == 'a'
                         ? 0
                         : 1;
            }),
            0);
  EXPECT_EQ(mem.get()[PageSize() - 2], 'a');
  EXPECT_EQ(mem.get()[PageSize() + 2], 'a');
  // And the parent's own read(2) after the fork reaches only the parent.
  ASSERT_EQ(write(p.w(), "world", 5), 5);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    usleep(100 * 1000);  // let the parent read first; the check holds either way
    _exit(mem.get()[2 * PageSize()] == 'a' ? 0 : 1);
  }
  ASSERT_EQ(read(p.r(), mem.get() + 2 * PageSize(), 5), 5);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(std::memcmp(mem.get() + 2 * PageSize(), "world", 5), 0);
}

TEST(ForkCowTest, MprotectInChild) {
  Anon mem(16 * PageSize());
  ASSERT_NE(mem.get(), nullptr);
  Fill(mem.get(), 16 * PageSize(), 40);
  EXPECT_EQ(
      InChild([&] {
        if (mprotect(mem.get(), 16 * PageSize(), PROT_READ) != 0) return 2;
        if (!Holds(mem.get(), 16 * PageSize(), 40)) return 3;
        if (mprotect(mem.get() + 4 * PageSize(), 8 * PageSize(), PROT_READ | PROT_WRITE) != 0) {
          return 4;
        }
        Fill(mem.get() + 4 * PageSize(), 8 * PageSize(), 41);
        return Holds(mem.get() + 4 * PageSize(), 8 * PageSize(), 41) &&
                       Holds(mem.get(), 4 * PageSize(), 40)
                   ? 0
                   : 1;
      }),
      0);
  EXPECT_TRUE(Holds(mem.get(), 16 * PageSize(), 40));
  Fill(mem.get(), 16 * PageSize(), 42);
  EXPECT_TRUE(Holds(mem.get(), 16 * PageSize(), 42));
}

TEST(ForkCowTest, MunmapAndDontneedInChild) {
  Anon mem(16 * PageSize());
  ASSERT_NE(mem.get(), nullptr);
  Fill(mem.get(), 16 * PageSize(), 50);
  EXPECT_EQ(InChild([&] {
              if (munmap(mem.get(), 4 * PageSize()) != 0) return 2;
              if (madvise(mem.get() + 4 * PageSize(), 4 * PageSize(), MADV_DONTNEED) != 0) {
                return 3;
              }
              // Private anonymous memory reads as zeros after MADV_DONTNEED.
              for (size_t off = 4 * PageSize(); off < 8 * PageSize(); ++off) {
                if (mem.get()[off] != 0) return 4;
              }
              Fill(mem.get() + 4 * PageSize(), 4 * PageSize(), 51);
              return Holds(mem.get() + 4 * PageSize(), 4 * PageSize(), 51) &&
                             Holds(mem.get() + 8 * PageSize(), 8 * PageSize(), 50 + 8)
                         ? 0
                         : 1;
            }),
            0);
  EXPECT_TRUE(Holds(mem.get(), 16 * PageSize(), 50));
}

TEST(ForkCowTest, MremapInChildAfterPartialWrites) {
  // Realloc of a large block in a child that has written parts of it.
  constexpr size_t kPages = 64;
  void* p = mmap(nullptr, kPages * PageSize(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  char* mem = static_cast<char*>(p);
  Fill(mem, kPages * PageSize(), 60);
  EXPECT_EQ(InChild([&] {
              for (size_t i = 0; i < kPages; i += 20) mem[i * PageSize()] = 'w';
              void* q = mremap(mem, kPages * PageSize(), 4 * kPages * PageSize(), MREMAP_MAYMOVE);
              if (q == MAP_FAILED) return 2;
              char* m = static_cast<char*>(q);
              for (size_t i = 0; i < kPages; ++i) {
                char want = i % 20 == 0 ? 'w' : static_cast<char>(60 + i);
                if (m[i * PageSize()] != want) return 1;
              }
              return 0;
            }),
            0);
  EXPECT_TRUE(Holds(mem, kPages * PageSize(), 60));
  munmap(mem, kPages * PageSize());
}

// vfork's child runs on the parent's memory: a store there is the parent's.
__attribute__((noinline)) pid_t VforkAndStore(volatile char* where) {
  pid_t pid = vfork();
  if (pid == 0) {
    where[0] = 'v';
    _exit(0);
  }
  return pid;
}

TEST(ForkCowTest, VforkSharesMemory) {
  Anon mem(PageSize());
  ASSERT_NE(mem.get(), nullptr);
  mem.get()[0] = 'p';
  pid_t pid = VforkAndStore(mem.get());
  ASSERT_GE(pid, 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(mem.get()[0], 'v');
}

TEST(ForkCowTest, SharedMappingStaysShared) {
  void* p = mmap(nullptr, PageSize(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  char* mem = static_cast<char*>(p);
  mem[0] = 'p';
  EXPECT_EQ(InChild([&] {
              mem[0] = 'c';
              return 0;
            }),
            0);
  EXPECT_EQ(mem[0], 'c');
  munmap(p, PageSize());
}

// Whether [p, p+len) is mapped in this process (mincore fails with ENOMEM on a hole).
bool Mapped(void* p, size_t len) {
  unsigned char vec[16];
  return mincore(p, len, vec) == 0;
}

TEST(ForkAdvice, DontforkLeavesTheRangeOutOfTheChild) {
  const size_t page = PageSize();
  auto* p = static_cast<char*>(
      mmap(nullptr, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  std::memset(p, 'x', 3 * page);
  ASSERT_SYSCALL_OK(madvise(p + page, page, MADV_DONTFORK));
  EXPECT_EQ(InChild([&] {
              if (!Mapped(p, page) || p[0] != 'x') return 1;
              if (Mapped(p + page, page)) return 2;
              if (!Mapped(p + 2 * page, page) || p[2 * page] != 'x') return 3;
              return 0;
            }),
            0);
  EXPECT_TRUE(Mapped(p, 3 * page));
  ASSERT_SYSCALL_OK(madvise(p + page, page, MADV_DOFORK));
  EXPECT_EQ(InChild([&] { return Mapped(p, 3 * page) && p[page] == 'x' ? 0 : 1; }), 0);
  munmap(p, 3 * page);
}

TEST(ForkAdvice, WipeonforkGivesTheChildZeros) {
  const size_t page = PageSize();
  auto* p = static_cast<char*>(
      mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  std::memset(p, 'x', 2 * page);
  ASSERT_SYSCALL_OK(madvise(p, page, MADV_WIPEONFORK));
  EXPECT_EQ(InChild([&] {
              if (p[0] != 0 || p[page - 1] != 0) return 1;
              if (p[page] != 'x') return 2;
              p[0] = 'c';
              // The child's range keeps the advice: its own child gets zeros again.
              return InChild([&] { return p[0] == 0 ? 0 : 1; }) == 0 ? 0 : 3;
            }),
            0);
  EXPECT_EQ(p[0], 'x');
  ASSERT_SYSCALL_OK(madvise(p, page, MADV_KEEPONFORK));
  EXPECT_EQ(InChild([&] { return p[0] == 'x' ? 0 : 1; }), 0);
  munmap(p, 2 * page);
}

TEST(ForkAdvice, WipeonforkIsOnlyForPrivateAnonymousMemory) {
  const size_t page = PageSize();
  void* shared = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(shared, MAP_FAILED);
  EXPECT_SYSCALL_ERRNO(EINVAL, madvise(shared, page, MADV_WIPEONFORK));
  EXPECT_SYSCALL_OK(madvise(shared, page, MADV_DONTFORK));
  munmap(shared, page);
  Fd fd(memfd_create("fork_advice", 0));
  ASSERT_GE(fd.get(), 0);
  ASSERT_SYSCALL_OK(ftruncate(fd.get(), page));
  void* file = mmap(nullptr, page, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  ASSERT_NE(file, MAP_FAILED);
  EXPECT_SYSCALL_ERRNO(EINVAL, madvise(file, page, MADV_WIPEONFORK));
  munmap(file, page);
  void* hole = mmap(nullptr, 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(hole, MAP_FAILED);
  munmap(static_cast<char*>(hole) + page, page);
  EXPECT_SYSCALL_ERRNO(ENOMEM, madvise(hole, 2 * page, MADV_DONTFORK));
  munmap(hole, page);
}

}  // namespace
}  // namespace conformance
