// Unit tests for the syscall name table and the strace-style formatter. Expected lines were
// checked against strace 6.1 tracing the same calls natively.
#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "sentry/syscalls/strace.h"
#include "sentry/syscalls/syscall_names.h"

namespace sentry::syscalls {
namespace {

// Application memory made of separate regions; everything else is unmapped.
class FakeMemory {
 public:
  // Places `bytes` in a fresh region and returns its address.
  uint64_t Put(std::string bytes) {
    uint64_t addr = next_;
    next_ += (bytes.size() + 0xffff) / 0x10000 * 0x10000 + 0x10000;  // leave an unmapped gap
    regions_[addr] = std::move(bytes);
    return addr;
  }
  template <class T>
  uint64_t PutValue(const T& value) {
    std::string bytes(sizeof(T), '\0');
    std::memcpy(bytes.data(), &value, sizeof(T));
    return Put(std::move(bytes));
  }
  uint64_t PutWords(const std::vector<uint64_t>& words) {
    std::string bytes(words.size() * 8, '\0');
    std::memcpy(bytes.data(), words.data(), bytes.size());
    return Put(std::move(bytes));
  }

  // A partial buffer read returns what is there, to exercise the decoder's short-read handling.
  std::optional<std::string> Read(uint64_t addr, size_t max, bool cstring) {
    max_request_ = std::max(max_request_, max);
    auto it = regions_.upper_bound(addr);
    if (it == regions_.begin()) return std::nullopt;
    --it;
    const std::string& region = it->second;
    uint64_t offset = addr - it->first;
    if (offset >= region.size()) return std::nullopt;
    std::string_view avail = std::string_view(region).substr(offset, max);
    if (!cstring) return std::string(avail);
    size_t nul = avail.find('\0');
    if (nul != std::string_view::npos) return std::string(avail.substr(0, nul));
    if (avail.size() == max) return std::string(avail);
    return std::nullopt;  // runs into unmapped memory before its NUL
  }

  MemoryReader Reader() {
    return [this](uint64_t addr, size_t max, bool cstring) { return Read(addr, max, cstring); };
  }
  size_t max_request() const { return max_request_; }

 private:
  std::map<uint64_t, std::string> regions_;
  uint64_t next_ = 0x10000;
  size_t max_request_ = 0;
};

constexpr uint64_t kBad = 0xdead0000;  // never mapped by FakeMemory

uint64_t Err(int e) { return static_cast<uint64_t>(-e); }

std::string Hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%#lx", static_cast<unsigned long>(v));
  return buf;
}

class StraceTest : public ::testing::Test {
 protected:
  std::string Format(uint64_t nr, std::array<uint64_t, 6> args, std::optional<uint64_t> result) {
    return FormatSyscall(nr, args, result, mem_.Reader());
  }
  FakeMemory mem_;
};

TEST(SyscallNamesTest, KnowsEveryAmd64Syscall) {
  EXPECT_EQ(SyscallName(0), "read");
  EXPECT_EQ(SyscallName(1), "write");
  EXPECT_EQ(SyscallName(59), "execve");
  EXPECT_EQ(SyscallName(231), "exit_group");
  EXPECT_EQ(SyscallName(257), "openat");
  EXPECT_EQ(SyscallName(334), "rseq");
  EXPECT_EQ(SyscallName(424), "pidfd_send_signal");
  EXPECT_EQ(SyscallName(435), "clone3");
  EXPECT_EQ(SyscallName(450), "set_mempolicy_home_node");
  size_t named = 0;
  std::set<std::string_view> names;
  for (uint64_t nr = 0; nr < kMaxSyscallNumber; ++nr) {
    std::string_view name = SyscallName(nr);
    bool assigned = nr <= 334 || (nr >= 424 && nr <= 450);
    EXPECT_EQ(!name.empty(), assigned) << nr;
    if (name.empty()) continue;
    ++named;
    names.insert(name);
    std::string_view kinds = SyscallArgKinds(nr);
    EXPECT_LE(kinds.size(), 6u) << name;
    EXPECT_EQ(kinds.find_first_not_of("iulxpasogc"), std::string_view::npos) << name;
  }
  EXPECT_EQ(named, 362u);
  EXPECT_EQ(names.size(), named);  // no duplicates
}

TEST(SyscallNamesTest, UnassignedNumbersAreEmpty) {
  for (uint64_t nr : {335ull, 400ull, 423ull, 451ull, 511ull, 512ull, 1000ull, ~0ull}) {
    EXPECT_TRUE(SyscallName(nr).empty()) << nr;
    EXPECT_TRUE(SyscallArgKinds(nr).empty()) << nr;
  }
  EXPECT_EQ(SyscallArgKinds(0), "ipu");
  EXPECT_EQ(SyscallArgKinds(39), "");  // getpid
}

TEST_F(StraceTest, WriteQuotesAndEscapes) {
  uint64_t hello = mem_.Put("hello\n");
  EXPECT_EQ(Format(1, {1, hello, 6}, 6), R"(write(1, "hello\n", 6) = 6)");
  std::string odd(
      "\0\1\2\3abc\t\n\r\"\\\x7f\xff"
      "0123456789012345678901234567890123456789",
      55);
  EXPECT_EQ(Format(1, {1, mem_.Put(odd), 55}, 55),
            R"(write(1, "\0\1\2\3abc\t\n\r\"\\\177\377012345678901234567"..., 55) = 55)");
  EXPECT_EQ(Format(1, {1, hello, 0}, 0), R"(write(1, "", 0) = 0)");
  EXPECT_EQ(Format(1, {1, kBad, 0}, 0), R"(write(1, "", 0) = 0)");  // reads nothing, so no fault
  // An octal escape before a digit takes all three digits so it reads back unambiguously.
  EXPECT_EQ(Format(1,
                   {2,
                    mem_.Put(std::string("\0"
                                         "1\x1b"
                                         "9\v\f",
                                         6)),
                    6},
                   6),
            R"(write(2, "\0001\339\v\f", 6) = 6)");
}

TEST_F(StraceTest, BadBuffersPrintTheirAddress) {
  EXPECT_EQ(Format(1, {1, 1, 5}, 5), "write(1, 0x1, 5) = 5");
  EXPECT_EQ(Format(1, {1, 0, 5}, Err(EFAULT)), "write(1, NULL, 5) = -1 EFAULT (Bad address)");
  // Readable for 3 bytes only: a partial read counts as unreadable, as in strace.
  uint64_t abc = mem_.Put("abc");
  EXPECT_EQ(Format(1, {1, abc, 10}, Err(EFAULT)),
            "write(1, " + Hex(abc) + ", 10) = -1 EFAULT (Bad address)");
  EXPECT_EQ(Format(1, {1, kBad, 3}, 3), "write(1, " + Hex(kBad) + ", 3) = 3");
}

TEST_F(StraceTest, HugeLengthsReadOnlyWhatIsShown) {
  uint64_t buf = mem_.Put(std::string(64, 'x'));
  EXPECT_EQ(Format(1, {1, buf, ~0ull}, Err(EFAULT)),
            "write(1, \"" + std::string(32, 'x') +
                "\"..., 18446744073709551615) = -1 EFAULT (Bad address)");
  EXPECT_EQ(
      Format(0, {0, buf, ~0ull}, 0x7fffffffffffffff),
      "read(0, \"" + std::string(32, 'x') + "\"..., 18446744073709551615) = 9223372036854775807");
  EXPECT_LE(mem_.max_request(), 32u);
}

TEST_F(StraceTest, ReadShowsOnlyWhatArrived) {
  uint64_t buf = mem_.Put("vm\nGARBAGE");
  EXPECT_EQ(Format(0, {3, buf, 200}, 3), R"(read(3, "vm\n", 200) = 3)");
  EXPECT_EQ(Format(0, {3, buf, 200}, 0), R"(read(3, "", 200) = 0)");
  EXPECT_EQ(Format(0, {99, buf, 10}, Err(EBADF)),
            "read(99, " + Hex(buf) + ", 10) = -1 EBADF (Bad file descriptor)");
  EXPECT_EQ(Format(17, {3, buf, 4, 2}, 1), R"(pread64(3, "v", 4, 2) = 1)");
  EXPECT_EQ(Format(18, {1, buf, 2, ~0ull}, 2), R"(pwrite64(1, "vm", 2, -1) = 2)");
}

TEST_F(StraceTest, Iovecs) {
  uint64_t hi = mem_.Put("hi\n"), there = mem_.Put("there\n");
  uint64_t iov = mem_.PutWords({hi, 3, there, 6});
  EXPECT_EQ(Format(20, {1, iov, 2}, 9),
            R"(writev(1, [{iov_base="hi\n", iov_len=3}, {iov_base="there\n", iov_len=6}], 2) = 9)");
  // readv spreads the bytes that arrived over the vectors; later ones show empty.
  uint64_t b1 = mem_.Put("abcd"), b2 = mem_.Put("efgh"), b3 = mem_.Put("ijkl");
  uint64_t riov = mem_.PutWords({b1, 4, b2, 4, b3, 4});
  EXPECT_EQ(Format(19, {3, riov, 3}, 6),
            R"(readv(3, [{iov_base="abcd", iov_len=4}, {iov_base="ef", iov_len=4}, )"
            R"({iov_base="", iov_len=4}], 3) = 6)");
  EXPECT_EQ(
      Format(19, {99, riov, 1}, Err(EBADF)),
      "readv(99, [{iov_base=" + Hex(b1) + ", iov_len=4}], 1) = -1 EBADF (Bad file descriptor)");
  EXPECT_EQ(Format(20, {4, 8, 2}, Err(EFAULT)), "writev(4, 0x8, 2) = -1 EFAULT (Bad address)");
  EXPECT_EQ(Format(20, {4, iov, 0}, 0), "writev(4, [], 0) = 0");
  uint64_t bad_base = mem_.PutWords({8, 3});
  EXPECT_EQ(Format(20, {4, bad_base, 1}, Err(EFAULT)),
            "writev(4, [{iov_base=0x8, iov_len=3}], 1) = -1 EFAULT (Bad address)");
}

TEST_F(StraceTest, IovecArraysStopAt32Entries) {
  uint64_t x = mem_.Put("x");
  std::vector<uint64_t> words;
  for (int i = 0; i < 40; ++i) words.insert(words.end(), {x, 1});
  std::string line = Format(20, {4, mem_.PutWords(words), 40}, 40);
  std::string entry = R"({iov_base="x", iov_len=1}, )";
  std::string expected = "writev(4, [";
  for (int i = 0; i < 32; ++i) expected += entry;
  EXPECT_EQ(line, expected + "...], 40) = 40");
  // A count far beyond the array: the decoder never walks more than 32 entries, and the array
  // being shorter than that makes it print the address.
  uint64_t two = mem_.PutWords({x, 1, x, 1});
  EXPECT_EQ(Format(20, {4, two, ~0ull}, Err(EINVAL)),
            "writev(4, " + Hex(two) + ", 18446744073709551615) = -1 EINVAL (Invalid argument)");
  EXPECT_LE(mem_.max_request(), 32u * 16);
}

TEST_F(StraceTest, OpenFlagsAndModes) {
  uint64_t path = mem_.Put(std::string("/etc/ld.so.cache\0", 17));
  EXPECT_EQ(Format(257, {static_cast<uint64_t>(-100), path, 02000000}, 3),
            R"(openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3)");
  EXPECT_EQ(Format(2, {path, 01 | 0100 | 01000, 0644}, Err(EACCES)),
            R"(open("/etc/ld.so.cache", O_WRONLY|O_CREAT|O_TRUNC, 0644) = -1 EACCES )"
            R"((Permission denied))");
  EXPECT_EQ(Format(257, {5, path, 2 | 0200 | 020200000, 0600}, 3),
            R"(openat(5, "/etc/ld.so.cache", O_RDWR|O_EXCL|O_TMPFILE, 0600) = 3)");
  EXPECT_EQ(Format(257, {0xffffff9c, path, 3 | 0x40000000}, Err(ENOENT)),
            R"(openat(AT_FDCWD, "/etc/ld.so.cache", O_ACCMODE|0x40000000) = -1 ENOENT )"
            R"((No such file or directory))");
  EXPECT_EQ(Format(257, {0xffffff9c, path, 0x8000 | 0100, 0}, 3),
            R"(openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CREAT|O_LARGEFILE, 000) = 3)");
  // Garbage above the 16 bits of a umode_t is not shown, as strace does.
  EXPECT_EQ(Format(2, {path, 0100, 0xffffffff01ed}, 3),
            R"(open("/etc/ld.so.cache", O_RDONLY|O_CREAT, 0755) = 3)");
  EXPECT_EQ(Format(2, {0, 0}, Err(EFAULT)), "open(NULL, O_RDONLY) = -1 EFAULT (Bad address)");
  EXPECT_EQ(Format(257, {5, 8, 0}, Err(EFAULT)),
            "openat(5, 0x8, O_RDONLY) = -1 EFAULT (Bad address)");
}

TEST_F(StraceTest, SpliceTeeCopyFileRangeMemfd) {
  // Offsets show what they hold after the call (strace reads them before it).
  uint64_t off = mem_.PutValue<int64_t>(3);
  EXPECT_EQ(Format(275, {7, off, 4, 0, 3, 1 | 2}, 3),
            "splice(7, [3], 4, NULL, 3, SPLICE_F_MOVE|SPLICE_F_NONBLOCK) = 3");
  EXPECT_EQ(Format(275, {3, 0, 6, 0, 3, 0x30}, Err(EINVAL)),
            "splice(3, NULL, 6, NULL, 3, 0x30 /* SPLICE_F_??? */) = -1 EINVAL (Invalid argument)");
  EXPECT_EQ(
      Format(275, {3, kBad, 6, 0, 3, 1 | 0x10}, Err(EFAULT)),
      "splice(3, " + Hex(kBad) + ", 6, NULL, 3, SPLICE_F_MOVE|0x10) = -1 EFAULT (Bad address)");
  EXPECT_EQ(Format(276, {5, 4, 2, 2}, 2), "tee(5, 4, 2, SPLICE_F_NONBLOCK) = 2");
  uint64_t in = mem_.PutValue<int64_t>(3), out = mem_.PutValue<int64_t>(8);
  EXPECT_EQ(Format(326, {7, in, 7, out, 3, 0}, 3), "copy_file_range(7, [3], 7, [8], 3, 0) = 3");
  EXPECT_EQ(Format(326, {7, 0, 7, 0, 3, 7}, Err(EINVAL)),
            "copy_file_range(7, NULL, 7, NULL, 3, 7) = -1 EINVAL (Invalid argument)");
  uint64_t name = mem_.Put(std::string("strace-name\0", 12));
  EXPECT_EQ(Format(319, {name, 1 | 2}, 7),
            R"(memfd_create("strace-name", MFD_CLOEXEC|MFD_ALLOW_SEALING) = 7)");
  EXPECT_EQ(Format(319, {name, 4 | (21u << 26)}, 8),
            R"(memfd_create("strace-name", MFD_HUGETLB|21<<MFD_HUGE_SHIFT) = 8)");
  EXPECT_EQ(Format(319, {name, 0x1000}, Err(EINVAL)),
            R"(memfd_create("strace-name", 0x1000 /* MFD_??? */) = -1 EINVAL (Invalid argument))");
  EXPECT_EQ(Format(319, {name, 0}, 9), R"(memfd_create("strace-name", 0) = 9)");
  // Names are cut as strings are (at 32 bytes), not as paths.
  uint64_t long_name = mem_.Put(std::string(300, 'n') + std::string(1, '\0'));
  EXPECT_EQ(Format(319, {long_name, 0}, Err(EINVAL)),
            "memfd_create(\"" + std::string(32, 'n') + "\"..., 0) = -1 EINVAL (Invalid argument)");
}

TEST_F(StraceTest, PathsAreBoundedAndMustBeTerminated) {
  // Longer than PATH_MAX and never terminated: 4096 bytes, then "...".
  uint64_t longpath = mem_.Put(std::string(10000, 'a'));
  EXPECT_EQ(Format(2, {longpath, 0}, Err(ENAMETOOLONG)),
            "open(\"" + std::string(4096, 'a') +
                "\"..., O_RDONLY) = -1 ENAMETOOLONG (File name too long)");
  EXPECT_LE(mem_.max_request(), 4097u);
  // Runs into unmapped memory before any NUL: unreadable.
  uint64_t unterminated = mem_.Put("abc");
  EXPECT_EQ(Format(87, {unterminated}, Err(EFAULT)),
            "unlink(" + Hex(unterminated) + ") = -1 EFAULT (Bad address)");
  uint64_t odd = mem_.Put(std::string("a\nb\"\xff\0", 6));
  EXPECT_EQ(Format(87, {odd}, 0), R"(unlink("a\nb\"\377") = 0)");
}

TEST_F(StraceTest, Stat) {
  std::array<uint64_t, 18> st{};  // struct stat is 144 bytes on amd64
  auto set_mode = [&](uint32_t mode) {
    std::memcpy(reinterpret_cast<char*>(st.data()) + 24, &mode, 4);
  };
  set_mode(0100644);
  st[6] = 1221;  // st_size
  uint64_t reg = mem_.PutValue(st);
  uint64_t path = mem_.Put(std::string("/etc/passwd\0", 12));
  EXPECT_EQ(Format(262, {0xffffff9c, path, reg, 0}, 0),
            R"(newfstatat(AT_FDCWD, "/etc/passwd", {st_mode=S_IFREG|0644, st_size=1221, ...}, 0))"
            " = 0");
  set_mode(020620);
  st[5] = (0x88 << 8) | 2;  // st_rdev = makedev(0x88, 2)
  uint64_t chr = mem_.PutValue(st);
  EXPECT_EQ(Format(5, {1, chr}, 0),
            "fstat(1, {st_mode=S_IFCHR|0620, st_rdev=makedev(0x88, 0x2), ...}) = 0");
  EXPECT_EQ(Format(4, {path, chr}, 0),
            R"(stat("/etc/passwd", {st_mode=S_IFCHR|0620, st_rdev=makedev(0x88, 0x2), ...}) = 0)");
  EXPECT_EQ(Format(5, {55, chr}, Err(EBADF)),
            "fstat(55, " + Hex(chr) + ") = -1 EBADF (Bad file descriptor)");
  EXPECT_EQ(Format(5, {1, kBad}, 0), "fstat(1, " + Hex(kBad) + ") = 0");
  uint64_t empty = mem_.Put(std::string(1, '\0'));
  EXPECT_EQ(Format(262, {1, empty, kBad, 0x1000}, 0),
            "newfstatat(1, \"\", " + Hex(kBad) + ", AT_EMPTY_PATH) = 0");
}

TEST_F(StraceTest, Mmap) {
  EXPECT_EQ(Format(9, {0, 8192, 3, 0x22, ~0ull, 0}, 0x7ffff7fc0000),
            "mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = "
            "0x7ffff7fc0000");
  EXPECT_EQ(
      Format(9, {0x7ffff7df9000, 1400832, 5, 0x812, 3, 0x26000}, 0x7ffff7df9000),
      "mmap(0x7ffff7df9000, 1400832, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, "
      "3, 0x26000) = 0x7ffff7df9000");
  EXPECT_EQ(Format(9, {0, 8192, 0, 0x3 | 0x40000 | 0x80000 | 0x100000 | (21u << 26), ~0ull, 0x1000},
                   Err(EBADF)),
            "mmap(NULL, 8192, PROT_NONE, MAP_SHARED_VALIDATE|MAP_HUGETLB|MAP_SYNC|"
            "MAP_FIXED_NOREPLACE|21<<MAP_HUGE_SHIFT, -1, 0x1000) = -1 EBADF (Bad file descriptor)");
  EXPECT_EQ(Format(9, {0, 8192, 0x100, 0x3f, 5, 0}, Err(EINVAL)),
            "mmap(NULL, 8192, 0x100 /* PROT_??? */, 0xf /* MAP_??? */|MAP_FIXED|MAP_ANONYMOUS, 5, "
            "0) = -1 EINVAL (Invalid argument)");
  EXPECT_EQ(Format(9, {0, 4096, 0x47, 0x80 | 2, ~0ull, 0}, Err(EINVAL)),
            "mmap(NULL, 4096, PROT_READ|PROT_WRITE|PROT_EXEC|0x40, MAP_PRIVATE|0x80, -1, 0) = -1 "
            "EINVAL (Invalid argument)");
  EXPECT_EQ(Format(11, {0x7ffff7fb5000, 41491}, 0), "munmap(0x7ffff7fb5000, 41491) = 0");
  EXPECT_EQ(Format(10, {0x7ffff7fa2000, 16384, 1}, 0),
            "mprotect(0x7ffff7fa2000, 16384, PROT_READ) = 0");
  EXPECT_EQ(Format(12, {0}, 0x555555559000), "brk(NULL) = 0x555555559000");
  EXPECT_EQ(Format(12, {0x55555557a000}, 0x55555557a000), "brk(0x55555557a000) = 0x55555557a000");
}

TEST_F(StraceTest, MremapAndMadvise) {
  EXPECT_EQ(Format(25, {0x1000, 4096, 8192, 1, 0x5000}, 0x7f0000000000),
            "mremap(0x1000, 4096, 8192, MREMAP_MAYMOVE) = 0x7f0000000000");
  EXPECT_EQ(Format(25, {0x1000, 4096, 8192, 3, 0x5000}, 0x5000),
            "mremap(0x1000, 4096, 8192, MREMAP_MAYMOVE|MREMAP_FIXED, 0x5000) = 0x5000");
  EXPECT_EQ(Format(25, {0x1000, 4096, 8192, 8, 0}, Err(EINVAL)),
            "mremap(0x1000, 4096, 8192, 0x8 /* MREMAP_??? */) = -1 EINVAL (Invalid argument)");
  EXPECT_EQ(Format(28, {0x7ffff7fbe000, 4096, 4}, 0),
            "madvise(0x7ffff7fbe000, 4096, MADV_DONTNEED) = 0");
  EXPECT_EQ(Format(28, {0x7ffff7fbe000, 4096, 77}, Err(EINVAL)),
            "madvise(0x7ffff7fbe000, 4096, 0x4d /* MADV_??? */) = -1 EINVAL (Invalid argument)");
}

TEST_F(StraceTest, ArchPrctl) {
  EXPECT_EQ(Format(158, {0x1002, 0x7ffff7dd0740}, 0),
            "arch_prctl(ARCH_SET_FS, 0x7ffff7dd0740) = 0");
  uint64_t slot = mem_.PutValue(uint64_t{0x7ffff7dd0740});
  EXPECT_EQ(Format(158, {0x1003, slot}, 0), "arch_prctl(ARCH_GET_FS, [0x7ffff7dd0740]) = 0");
  EXPECT_EQ(Format(158, {0x1004, 8}, Err(EFAULT)),
            "arch_prctl(ARCH_GET_GS, 0x8) = -1 EFAULT (Bad address)");
  EXPECT_EQ(Format(158, {0x3001, 0}, Err(EINVAL)),
            "arch_prctl(0x3001 /* ARCH_??? */, 0) = -1 EINVAL (Invalid argument)");
}

TEST_F(StraceTest, CallsThatDoNotReturn) {
  EXPECT_EQ(Format(231, {0}, std::nullopt), "exit_group(0) = ?");
  EXPECT_EQ(Format(60, {0x100000003}, std::nullopt), "exit(3) = ?");
}

TEST_F(StraceTest, Signals) {
  // struct kernel_sigaction: handler, flags, restorer, mask.
  uint64_t act = mem_.PutWords(
      {0x555555555379, 0x1c000004, 0x7ffff7e0f050, (1ull << 1) | (1ull << 14) | (1ull << 39)});
  EXPECT_EQ(Format(13, {2, act, 0, 8}, 0),
            "rt_sigaction(SIGINT, {sa_handler=0x555555555379, sa_mask=[INT TERM RT_8], "
            "sa_flags=SA_RESTORER|SA_ONSTACK|SA_RESTART|SA_SIGINFO, sa_restorer=0x7ffff7e0f050}, "
            "NULL, 8) = 0");
  uint64_t ign = mem_.PutWords({1, 0, 0, ~0ull & ~(3ull << 31)});
  uint64_t dfl = mem_.PutWords({0, 0, 0, 0});
  EXPECT_EQ(Format(13, {10, ign, dfl, 8}, 0),
            "rt_sigaction(SIGUSR1, {sa_handler=SIG_IGN, sa_mask=~[RTMIN RT_1], sa_flags=0}, "
            "{sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, 8) = 0");
  EXPECT_EQ(Format(13, {65, 0, 0, 8}, Err(EINVAL)),
            "rt_sigaction(65, NULL, NULL, 8) = -1 EINVAL (Invalid argument)");
  EXPECT_EQ(Format(13, {2, 1, 0, 8}, Err(EFAULT)),
            "rt_sigaction(SIGINT, 0x1, NULL, 8) = -1 EFAULT (Bad address)");
  // Output structs are left alone when the call failed.
  EXPECT_EQ(Format(13, {2, 0, dfl, 8}, Err(EINVAL)),
            "rt_sigaction(SIGINT, NULL, " + Hex(dfl) + ", 8) = -1 EINVAL (Invalid argument)");

  uint64_t set = mem_.PutValue(uint64_t{(1ull << 16) | (1ull << 63)});
  EXPECT_EQ(Format(14, {0, set, 0, 8}, 0), "rt_sigprocmask(SIG_BLOCK, [CHLD RT_32], NULL, 8) = 0");
  EXPECT_EQ(Format(14, {2, set, set, 8}, 0),
            "rt_sigprocmask(SIG_SETMASK, [CHLD RT_32], [CHLD RT_32], 8) = 0");
  uint64_t full = mem_.PutValue(~0ull);
  EXPECT_EQ(Format(14, {0, full, 0, 8}, 0), "rt_sigprocmask(SIG_BLOCK, ~[], NULL, 8) = 0");
  uint64_t many = mem_.PutValue((1ull << 41) - 1);  // 41 signals: still listed
  EXPECT_EQ(Format(14, {1, many, 0, 8}, 0).substr(0, 40),
            "rt_sigprocmask(SIG_UNBLOCK, [HUP INT QUI");
  // From 42 of the 64 signals on, the complement is listed (signals 43..64 here).
  uint64_t most = mem_.PutValue((1ull << 42) - 1);
  std::string rest;
  for (int rt = 11; rt <= 32; ++rt) rest += (rt > 11 ? " RT_" : "RT_") + std::to_string(rt);
  EXPECT_EQ(Format(14, {1, most, 0, 8}, 0),
            "rt_sigprocmask(SIG_UNBLOCK, ~[" + rest + "], NULL, 8) = 0");
  EXPECT_EQ(Format(14, {7, 0, 0, 8}, 0), "rt_sigprocmask(0x7 /* SIG_??? */, NULL, NULL, 8) = 0");
  EXPECT_EQ(Format(14, {0, set, 0, 4}, Err(EINVAL)),
            "rt_sigprocmask(SIG_BLOCK, " + Hex(set) + ", NULL, 4) = -1 EINVAL (Invalid argument)");
  EXPECT_EQ(Format(62, {999999, 34}, Err(ESRCH)),
            "kill(999999, SIGRT_2) = -1 ESRCH (No such process)");
  EXPECT_EQ(Format(62, {1, ~0ull}, Err(EINVAL)), "kill(1, -1) = -1 EINVAL (Invalid argument)");
  uint64_t stack = mem_.PutWords({0x7fffffffec30, 0, 8192});
  EXPECT_EQ(Format(131, {stack, 0}, 0),
            "sigaltstack({ss_sp=0x7fffffffec30, ss_flags=0, ss_size=8192}, NULL) = 0");
  uint64_t odd_stack = mem_.PutWords({0x1000, 0x80000013, 100});
  EXPECT_EQ(Format(131, {odd_stack, 0}, Err(EINVAL)),
            "sigaltstack({ss_sp=0x1000, ss_flags=SS_ONSTACK|SS_DISABLE|SS_AUTODISARM|0x10, "
            "ss_size=100}, NULL) = -1 EINVAL (Invalid argument)");
}

TEST_F(StraceTest, Clocks) {
  uint64_t ts = mem_.PutWords({12, 345});
  EXPECT_EQ(Format(228, {1, ts}, 0),
            "clock_gettime(CLOCK_MONOTONIC, {tv_sec=12, tv_nsec=345}) = 0");
  EXPECT_EQ(Format(229, {7, ts}, 0), "clock_getres(CLOCK_BOOTTIME, {tv_sec=12, tv_nsec=345}) = 0");
  EXPECT_EQ(Format(228, {99, ts}, Err(EINVAL)),
            "clock_gettime(0x63 /* CLOCK_??? */, " + Hex(ts) + ") = -1 EINVAL (Invalid argument)");
  EXPECT_EQ(Format(230, {1, 1, ts, 0}, 0),
            "clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, {tv_sec=12, tv_nsec=345}, NULL) = 0");
  uint64_t rem = mem_.PutWords({0, 500});
  EXPECT_EQ(Format(35, {ts, rem}, 0), "nanosleep({tv_sec=12, tv_nsec=345}, " + Hex(rem) + ") = 0");
  EXPECT_EQ(Format(35, {ts, rem}, Err(EINTR)),
            "nanosleep({tv_sec=12, tv_nsec=345}, {tv_sec=0, tv_nsec=500}) = -1 EINTR (Interrupted "
            "system call)");
  uint64_t neg = mem_.PutWords({~0ull, 2000000000});
  EXPECT_EQ(Format(35, {neg, 0}, Err(EINVAL)),
            "nanosleep({tv_sec=-1, tv_nsec=2000000000}, NULL) = -1 EINVAL (Invalid argument)");
  EXPECT_EQ(Format(96, {ts, 0}, 0), "gettimeofday({tv_sec=12, tv_usec=345}, NULL) = 0");
  EXPECT_EQ(Format(201, {0}, 1795955858), "time(NULL) = 1795955858 (2026-11-29T12:37:38+0000)");
}

TEST_F(StraceTest, RandomAndLimits) {
  uint64_t buf = mem_.Put(std::string("\x1b\x72\x24\x42\x14\x69\x14\x74", 8));
  EXPECT_EQ(Format(318, {buf, 8, 1}, 8),
            R"(getrandom("\x1b\x72\x24\x42\x14\x69\x14\x74", 8, GRND_NONBLOCK) = 8)");
  EXPECT_EQ(Format(318, {buf, 40, 0xe}, Err(EINVAL)),
            "getrandom(" + Hex(buf) +
                ", 40, GRND_RANDOM|GRND_INSECURE|0x8) = -1 EINVAL (Invalid argument)");
  uint64_t rl = mem_.PutWords({8192 * 1024, ~0ull});
  EXPECT_EQ(Format(302, {0, 3, 0, rl}, 0),
            "prlimit64(0, RLIMIT_STACK, NULL, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}) = 0");
  uint64_t small = mem_.PutWords({1000, 2048});
  EXPECT_EQ(Format(302, {0, 4, small, 0}, 0),
            "prlimit64(0, RLIMIT_CORE, {rlim_cur=1000, rlim_max=2*1024}, NULL) = 0");
  EXPECT_EQ(Format(302, {0, 99, small, 0}, Err(EINVAL)),
            "prlimit64(0, 0x63 /* RLIMIT_??? */, {rlim_cur=1000, rlim_max=2*1024}, NULL) = -1 "
            "EINVAL (Invalid argument)");
  EXPECT_EQ(Format(97, {7, small}, 0),
            "getrlimit(RLIMIT_NOFILE, {rlim_cur=1000, rlim_max=2*1024}) = 0");
  EXPECT_EQ(Format(160, {7, kBad}, Err(EFAULT)),
            "setrlimit(RLIMIT_NOFILE, " + Hex(kBad) + ") = -1 EFAULT (Bad address)");
}

TEST_F(StraceTest, Ioctl) {
  // c_iflag, c_oflag, c_cflag, c_lflag of a fresh pty.
  std::array<uint32_t, 4> termios = {0x500, 0x5, 0xbf, 0x8a3b};
  uint64_t t = mem_.PutValue(termios);
  EXPECT_EQ(Format(16, {0, 0x5401, t}, 0),
            "ioctl(0, TCGETS, {c_iflag=ICRNL|IXON, c_oflag=NL0|CR0|TAB0|BS0|VT0|FF0|OPOST|ONLCR, "
            "c_cflag=B38400|CS8|CREAD, c_lflag=ISIG|ICANON|ECHO|ECHOE|ECHOK|IEXTEN|ECHOCTL|ECHOKE, "
            "...}) = 0");
  EXPECT_EQ(Format(16, {1, 0x5401, t}, Err(ENOTTY)),
            "ioctl(1, TCGETS, " + Hex(t) + ") = -1 ENOTTY (Inappropriate ioctl for device)");
  uint64_t ws = mem_.PutValue(std::array<uint16_t, 4>{24, 80, 1, 2});
  EXPECT_EQ(Format(16, {1, 0x5413, ws}, 0),
            "ioctl(1, TIOCGWINSZ, {ws_row=24, ws_col=80, ws_xpixel=1, ws_ypixel=2}) = 0");
  uint64_t n = mem_.PutValue(int32_t{5});
  EXPECT_EQ(Format(16, {4, 0x541B, n}, 0), "ioctl(4, FIONREAD, [5]) = 0");
  EXPECT_EQ(Format(16, {4, 0x5451, 0}, 0), "ioctl(4, FIOCLEX) = 0");
  EXPECT_EQ(Format(16, {1, 0x1234, 5}, Err(ENOTTY)),
            "ioctl(1, _IOC(_IOC_NONE, 0x12, 0x34, 0), 0x5) = -1 ENOTTY (Inappropriate ioctl for "
            "device)");
  EXPECT_EQ(Format(16, {1, 0xc0105401, n}, Err(ENOTTY)),
            "ioctl(1, _IOC(_IOC_READ|_IOC_WRITE, 0x54, 0x1, 0x10), " + Hex(n) +
                ") = -1 ENOTTY (Inappropriate ioctl for device)");
}

TEST_F(StraceTest, ProcessSetup) {
  std::string uts(65 * 6, '\0');
  uts.replace(0, 5, "Linux");
  uts.replace(65, 2, "vm");
  EXPECT_EQ(Format(63, {mem_.Put(uts)}, 0), R"(uname({sysname="Linux", nodename="vm", ...}) = 0)");
  EXPECT_EQ(Format(63, {8}, Err(EFAULT)), "uname(0x8) = -1 EFAULT (Bad address)");
  EXPECT_EQ(Format(218, {0x7ffff7dd0a10}, 4485), "set_tid_address(0x7ffff7dd0a10) = 4485");
  EXPECT_EQ(Format(273, {0x7ffff7dd0a20, 24}, 0), "set_robust_list(0x7ffff7dd0a20, 24) = 0");
  EXPECT_EQ(Format(273, {0, 24}, 0), "set_robust_list(NULL, 24) = 0");
  EXPECT_EQ(Format(334, {0x7ffff7dd1060, 0x20, 0, 0x53053053}, Err(ENOSYS)),
            "rseq(0x7ffff7dd1060, 0x20, 0, 0x53053053) = -1 ENOSYS (Function not implemented)");
  uint64_t cwd = mem_.Put(std::string("/\0", 2));
  EXPECT_EQ(Format(79, {cwd, 4096}, 2), R"(getcwd("/", 4096) = 2)");
}

TEST_F(StraceTest, Execve) {
  uint64_t path = mem_.Put(std::string("/bin/true\0", 10));
  uint64_t a = mem_.Put(std::string("a\0", 2));
  uint64_t lng = mem_.Put(std::string(40, '0') + '\0');
  uint64_t argv = mem_.PutWords({path, a, lng, 0});
  uint64_t envp = mem_.PutWords({a, 0});
  EXPECT_EQ(Format(59, {path, argv, envp}, std::nullopt),
            R"(execve("/bin/true", ["/bin/true", "a", ")" + std::string(32, '0') + R"("...], )" +
                Hex(envp) + " /* 1 var */) = ?");
  EXPECT_EQ(Format(59, {path, 0, 0}, Err(EFAULT)),
            R"(execve("/bin/true", NULL, NULL) = -1 EFAULT (Bad address))");
  uint64_t bad_elem = mem_.PutWords({a, 8, 0});
  uint64_t no_env = mem_.PutWords({0});
  EXPECT_EQ(Format(59, {path, bad_elem, no_env}, Err(EFAULT)),
            R"(execve("/bin/true", ["a", 0x8], )" + Hex(no_env) +
                " /* 0 vars */) = -1 EFAULT (Bad address)");
  std::vector<uint64_t> many(40, a);
  many.push_back(0);
  uint64_t many_argv = mem_.PutWords(many);
  std::string line = Format(59, {path, many_argv, envp}, std::nullopt);
  EXPECT_NE(line.find(R"("a", "a", ...], )"), std::string::npos) << line;
  // Arrays with no terminating NULL inside mapped memory.
  uint64_t unterminated = mem_.PutWords({a, a});
  EXPECT_EQ(Format(59, {path, unterminated, unterminated}, Err(EFAULT)),
            R"(execve("/bin/true", )" + Hex(unterminated) + ", " + Hex(unterminated) +
                ") = -1 EFAULT (Bad address)");
}

TEST_F(StraceTest, EnvironmentCountIsBounded) {
  uint64_t a = mem_.Put(std::string("a\0", 2));
  std::vector<uint64_t> endless(70000, a);  // no NULL before 65536 entries
  uint64_t envp = mem_.PutWords(endless);
  EXPECT_EQ(Format(59, {0, 0, envp}, Err(EFAULT)),
            "execve(NULL, NULL, " + Hex(envp) + " /* 65536+ vars */) = -1 EFAULT (Bad address)");
}

TEST_F(StraceTest, FutexAndFcntl) {
  EXPECT_EQ(Format(202, {0x7ffff7e7da4c, 0x81, 0x7fffffff}, 0),
            "futex(0x7ffff7e7da4c, FUTEX_WAKE_PRIVATE, 2147483647) = 0");
  uint64_t ts = mem_.PutWords({0, 1000});
  EXPECT_EQ(Format(202, {0x5000, 0, 1, ts}, Err(EAGAIN)),
            "futex(0x5000, FUTEX_WAIT, 1, {tv_sec=0, tv_nsec=1000}) = -1 EAGAIN (Resource "
            "temporarily unavailable)");
  EXPECT_EQ(Format(202, {0x5000, 9 | 256, 1, 0, 0, 0xffffffff}, 0),
            "futex(0x5000, FUTEX_WAIT_BITSET|FUTEX_CLOCK_REALTIME, 1, NULL, "
            "FUTEX_BITSET_MATCH_ANY) = 0");
  EXPECT_EQ(Format(202, {0x5000, 99, 1, 2, 3, 7}, Err(ENOSYS)),
            "futex(0x5000, 0x63 /* FUTEX_??? */, 1, 0x2, 0x3, 0x7) = -1 ENOSYS (Function not "
            "implemented)");
  EXPECT_EQ(Format(72, {1, 1}, 1), "fcntl(1, F_GETFD) = 0x1 (flags FD_CLOEXEC)");
  EXPECT_EQ(Format(72, {1, 2, 1}, 0), "fcntl(1, F_SETFD, FD_CLOEXEC) = 0");
  EXPECT_EQ(Format(72, {1, 3}, 0x8001), "fcntl(1, F_GETFL) = 0x8001 (flags O_WRONLY|O_LARGEFILE)");
  EXPECT_EQ(Format(72, {1, 4, 02000 | 04000}, 0),
            "fcntl(1, F_SETFL, O_RDONLY|O_APPEND|O_NONBLOCK) = 0");
  EXPECT_EQ(Format(72, {1, 1030, 10}, 12), "fcntl(1, F_DUPFD_CLOEXEC, 10) = 12");
  EXPECT_EQ(Format(72, {1, 77, 5}, Err(EINVAL)),
            "fcntl(1, 0x4d /* F_??? */, 0x5) = -1 EINVAL (Invalid argument)");
}

TEST_F(StraceTest, GenericArguments) {
  EXPECT_EQ(Format(39, {1, 2, 3, 4, 5, 6}, 7), "getpid() = 7");
  EXPECT_EQ(Format(33, {1, 5}, 5), "dup2(1, 5) = 5");
  EXPECT_EQ(Format(8, {0, ~0ull, 2}, 0), "lseek(0, -1, SEEK_END) = 0");
  EXPECT_EQ(Format(3, {0x100000001}, 0), "close(1) = 0");
  uint64_t path = mem_.Put(std::string("/tmp\0", 5));
  EXPECT_EQ(Format(83, {path, 0755}, Err(EEXIST)),
            R"(mkdir("/tmp", 0755) = -1 EEXIST (File exists))");
  EXPECT_EQ(Format(234, {1, 2, 15}, 0), "tgkill(1, 2, SIGTERM) = 0");
  EXPECT_EQ(Format(283, {1, 0x80000}, 3), "timerfd_create(CLOCK_MONOTONIC, 0x80000) = 3");
  EXPECT_EQ(Format(56, {0x11, 0x12, 0, 0, 0}, Err(ENOSYS)),
            "clone(0x11, 0x12, NULL, NULL, NULL) = -1 ENOSYS (Function not implemented)");
}

TEST_F(StraceTest, ErrorsAndUnknownNumbers) {
  EXPECT_EQ(Format(456, {1, 2, 3, 0, 5, 6}, Err(ENOSYS)),
            "syscall_0x1c8(0x1, 0x2, 0x3, 0, 0x5, 0x6) = -1 ENOSYS (Function not implemented)");
  EXPECT_EQ(Format(1000, {}, Err(ENOSYS)),
            "syscall_0x3e8(0, 0, 0, 0, 0, 0) = -1 ENOSYS (Function not implemented)");
  EXPECT_EQ(Format(~0ull, {}, Err(ENOSYS)),
            "syscall_0xffffffffffffffff(0, 0, 0, 0, 0, 0) = -1 ENOSYS (Function not implemented)");
  EXPECT_EQ(Format(39, {}, Err(4000)), "getpid() = -1 ERRNO_4000 (Unknown error 4000)");
  EXPECT_EQ(Format(35, {0, 0}, Err(512)),
            "nanosleep(NULL, NULL) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)");
  EXPECT_EQ(Format(35, {0, 0}, Err(516)),
            "nanosleep(NULL, NULL) = ? ERESTART_RESTARTBLOCK (Interrupted by signal)");
  EXPECT_EQ(Format(39, {}, Err(4096)), "getpid() = -4096");  // outside the errno range
  EXPECT_EQ(Format(24, {}, std::nullopt), "sched_yield() = ?");
}

TEST(StraceNoMemoryTest, EmptyReaderPrintsAddresses) {
  EXPECT_EQ(FormatSyscall(1, {1, 0x1000, 5}, 5, MemoryReader()), "write(1, 0x1000, 5) = 5");
  EXPECT_EQ(FormatSyscall(2, {0x2000, 0}, 3, MemoryReader()), "open(0x2000, O_RDONLY) = 3");
}

TEST(StraceNoMemoryTest, SloppyReadersAreTolerated) {
  // A reader that returns too much, and hands back the NUL of C strings.
  MemoryReader sloppy = [](uint64_t, size_t max, bool cstring) -> std::optional<std::string> {
    return cstring ? std::string("ab\0cd", 5) : std::string(max + 100, 'z');
  };
  EXPECT_EQ(FormatSyscall(87, {0x1000}, 0, sloppy), R"(unlink("ab") = 0)");
  EXPECT_EQ(FormatSyscall(1, {1, 0x1000, 3}, 3, sloppy), R"(write(1, "zzz", 3) = 3)");
}

// Every number with random arguments and results, over memory that is partly readable: nothing
// may crash (ASan watches), and no request may exceed what one line can show.
TEST(StraceFuzzTest, RandomCallsStayBounded) {
  FakeMemory mem;
  std::vector<uint64_t> pointers;
  std::mt19937_64 rng(42);
  for (int i = 0; i < 16; ++i) {
    std::string bytes(rng() % 300, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() % 4 == 0 ? 0 : rng());
    uint64_t base = mem.Put(std::move(bytes));
    pointers.insert(pointers.end(), {base, base + 8, base + 290, base + 0xfff0});
  }
  uint64_t words = mem.PutWords(std::vector<uint64_t>(64, pointers[0]));
  pointers.push_back(words);
  auto random_arg = [&]() -> uint64_t {
    switch (rng() % 5) {
      case 0:
        return pointers[rng() % pointers.size()];
      case 1:
        return rng() % 64;
      case 2:
        return ~0ull - rng() % 8;
      case 3:
        return 0;
      default:
        return rng();
    }
  };
  for (int round = 0; round < 20; ++round) {
    for (uint64_t nr = 0; nr < kMaxSyscallNumber + 8; ++nr) {
      std::array<uint64_t, 6> args;
      for (uint64_t& a : args) a = random_arg();
      std::optional<uint64_t> result;
      if (rng() % 4 != 0) result = rng() % 2 ? random_arg() : Err(static_cast<int>(rng() % 4100));
      std::string line = FormatSyscall(nr, args, result, mem.Reader());
      ASSERT_FALSE(line.empty());
      ASSERT_NE(line.find(") = "), std::string::npos) << line;
    }
  }
  EXPECT_LE(mem.max_request(), 4097u);
}

}  // namespace
}  // namespace sentry::syscalls
