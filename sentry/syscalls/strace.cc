// strace-style syscall formatting. The output follows strace 6.1 (Debian 12): the same argument
// order, flag names in the same order, the same string escaping and truncation, so a trace from
// the sandbox can be diffed against a native one. Deliberate differences: structures without a
// decoder here (sockaddr, sysinfo, ...) print as addresses, ioctl numbers strace prints as
// "A or B" get one name, empty termios flag words print as 0 rather than as nothing, and the
// offsets of splice and copy_file_range show their values after the call (strace's, before).
//
// Every read of application memory goes through the MemoryReader and is bounded here, never by
// the lengths the application passed: a hostile argument can make a line say less, not make the
// sentry read (or allocate) more.
#include "sentry/syscalls/strace.h"

#include <asm/unistd_64.h>  // __NR_*: the guest ABI, which is also the host's (amd64 only)
#include <fmt/format.h>
#include <string.h>  // strerrorname_np, strerrordesc_np
#include <time.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "sentry/syscalls/syscall_names.h"

namespace sentry::syscalls {
namespace {

// strace's default -s: longer strings and arrays are cut there and followed by "...".
constexpr size_t kMaxStrLen = 32;
constexpr size_t kPathMax = 4096;
// Bounds the work an endless (or cyclic) envp can cause; strace has no such limit.
constexpr size_t kMaxEnvCount = 1 << 16;

// A value with its symbolic name; tables of flags are listed in the order strace prints them.
struct Named {
  uint64_t value;
  std::string_view name;
};

// Values below are the Linux amd64 ABI; they are spelled out rather than taken from host libc
// headers, which disagree with the kernel on some of them (O_LARGEFILE is 0 in glibc).
// clang-format off
constexpr Named kOpenFlags[] = {
    {0100, "O_CREAT"}, {0200, "O_EXCL"}, {0400, "O_NOCTTY"}, {01000, "O_TRUNC"},
    {02000, "O_APPEND"}, {04000, "O_NONBLOCK"}, {04010000, "O_SYNC"}, {010000, "O_DSYNC"},
    {040000, "O_DIRECT"}, {0100000, "O_LARGEFILE"}, {0400000, "O_NOFOLLOW"},
    {01000000, "O_NOATIME"}, {02000000, "O_CLOEXEC"}, {010000000, "O_PATH"},
    {020200000, "O_TMPFILE"}, {020000000, "__O_TMPFILE"}, {0200000, "O_DIRECTORY"},
    {020000, "FASYNC"}};
constexpr uint64_t kOCreat = 0100, kOTmpfileBit = 020000000;
constexpr Named kAccModes[] = {{0, "O_RDONLY"}, {1, "O_WRONLY"}, {2, "O_RDWR"}, {3, "O_ACCMODE"}};
constexpr Named kAtFlags[] = {
    {0x100, "AT_SYMLINK_NOFOLLOW"}, {0x200, "AT_REMOVEDIR"}, {0x400, "AT_SYMLINK_FOLLOW"},
    {0x800, "AT_NO_AUTOMOUNT"}, {0x1000, "AT_EMPTY_PATH"}, {0x2000, "AT_STATX_FORCE_SYNC"},
    {0x4000, "AT_STATX_DONT_SYNC"}, {0x8000, "AT_RECURSIVE"}};
constexpr Named kAccessModes[] = {{4, "R_OK"}, {2, "W_OK"}, {1, "X_OK"}};
constexpr Named kFileTypes[] = {
    {0140000, "S_IFSOCK"}, {0120000, "S_IFLNK"}, {0100000, "S_IFREG"}, {060000, "S_IFBLK"},
    {040000, "S_IFDIR"}, {020000, "S_IFCHR"}, {010000, "S_IFIFO"}};
constexpr Named kWhence[] = {
    {0, "SEEK_SET"}, {1, "SEEK_CUR"}, {2, "SEEK_END"}, {3, "SEEK_DATA"}, {4, "SEEK_HOLE"}};
constexpr Named kProt[] = {
    {0x1, "PROT_READ"}, {0x2, "PROT_WRITE"}, {0x4, "PROT_EXEC"}, {0x8, "PROT_SEM"},
    {0x01000000, "PROT_GROWSDOWN"}, {0x02000000, "PROT_GROWSUP"}};
constexpr Named kMapTypes[] = {{1, "MAP_SHARED"}, {2, "MAP_PRIVATE"}, {3, "MAP_SHARED_VALIDATE"}};
constexpr Named kMapFlags[] = {
    {0x10, "MAP_FIXED"}, {0x20, "MAP_ANONYMOUS"}, {0x40, "MAP_32BIT"}, {0x4000, "MAP_NORESERVE"},
    {0x8000, "MAP_POPULATE"}, {0x10000, "MAP_NONBLOCK"}, {0x100, "MAP_GROWSDOWN"},
    {0x800, "MAP_DENYWRITE"}, {0x1000, "MAP_EXECUTABLE"}, {0x2000, "MAP_LOCKED"},
    {0x20000, "MAP_STACK"}, {0x40000, "MAP_HUGETLB"}, {0x80000, "MAP_SYNC"},
    {0x100000, "MAP_FIXED_NOREPLACE"}};
constexpr uint64_t kMapTypeMask = 0xf, kMapHugeShift = 26, kMapHugeMask = 0x3f;
constexpr Named kMremapFlags[] = {{1, "MREMAP_MAYMOVE"}, {2, "MREMAP_FIXED"},
                                  {4, "MREMAP_DONTUNMAP"}};
constexpr Named kMadvise[] = {
    {0, "MADV_NORMAL"}, {1, "MADV_RANDOM"}, {2, "MADV_SEQUENTIAL"}, {3, "MADV_WILLNEED"},
    {4, "MADV_DONTNEED"}, {8, "MADV_FREE"}, {9, "MADV_REMOVE"}, {10, "MADV_DONTFORK"},
    {11, "MADV_DOFORK"}, {12, "MADV_MERGEABLE"}, {13, "MADV_UNMERGEABLE"},
    {14, "MADV_HUGEPAGE"}, {15, "MADV_NOHUGEPAGE"}, {16, "MADV_DONTDUMP"}, {17, "MADV_DODUMP"},
    {18, "MADV_WIPEONFORK"}, {19, "MADV_KEEPONFORK"}, {20, "MADV_COLD"}, {21, "MADV_PAGEOUT"},
    {22, "MADV_POPULATE_READ"}, {23, "MADV_POPULATE_WRITE"}, {24, "MADV_DONTNEED_LOCKED"},
    {25, "MADV_COLLAPSE"}, {100, "MADV_HWPOISON"}, {101, "MADV_SOFT_OFFLINE"}};
constexpr Named kArchPrctl[] = {
    {0x1001, "ARCH_SET_GS"}, {0x1002, "ARCH_SET_FS"}, {0x1003, "ARCH_GET_FS"},
    {0x1004, "ARCH_GET_GS"}, {0x1011, "ARCH_GET_CPUID"}, {0x1012, "ARCH_SET_CPUID"},
    {0x1021, "ARCH_GET_XCOMP_SUPP"}, {0x1022, "ARCH_GET_XCOMP_PERM"},
    {0x1023, "ARCH_REQ_XCOMP_PERM"}, {0x1024, "ARCH_GET_XCOMP_GUEST_PERM"},
    {0x1025, "ARCH_REQ_XCOMP_GUEST_PERM"}, {0x2001, "ARCH_MAP_VDSO_X32"},
    {0x2002, "ARCH_MAP_VDSO_32"}, {0x2003, "ARCH_MAP_VDSO_64"}};
constexpr uint64_t kArchGetFs = 0x1003, kArchGetGs = 0x1004;
constexpr std::string_view kSignalNames[] = {
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
    "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS"};
constexpr Named kSigHow[] = {{0, "SIG_BLOCK"}, {1, "SIG_UNBLOCK"}, {2, "SIG_SETMASK"}};
constexpr Named kSaFlags[] = {
    {0x04000000, "SA_RESTORER"}, {0x08000000, "SA_ONSTACK"}, {0x10000000, "SA_RESTART"},
    {0x20000000, "SA_INTERRUPT"}, {0x40000000, "SA_NODEFER"}, {0x80000000, "SA_RESETHAND"},
    {4, "SA_SIGINFO"}, {1, "SA_NOCLDSTOP"}, {2, "SA_NOCLDWAIT"}};
constexpr uint64_t kSaRestorer = 0x04000000;
constexpr Named kSsFlags[] = {{1, "SS_ONSTACK"}, {2, "SS_DISABLE"}, {0x80000000, "SS_AUTODISARM"}};
constexpr Named kClocks[] = {
    {0, "CLOCK_REALTIME"}, {1, "CLOCK_MONOTONIC"}, {2, "CLOCK_PROCESS_CPUTIME_ID"},
    {3, "CLOCK_THREAD_CPUTIME_ID"}, {4, "CLOCK_MONOTONIC_RAW"}, {5, "CLOCK_REALTIME_COARSE"},
    {6, "CLOCK_MONOTONIC_COARSE"}, {7, "CLOCK_BOOTTIME"}, {8, "CLOCK_REALTIME_ALARM"},
    {9, "CLOCK_BOOTTIME_ALARM"}, {10, "CLOCK_SGI_CYCLE"}, {11, "CLOCK_TAI"}};
constexpr Named kTimerFlags[] = {{1, "TIMER_ABSTIME"}};
constexpr Named kRwfFlags[] = {
    {1, "RWF_HIPRI"}, {2, "RWF_DSYNC"}, {4, "RWF_SYNC"}, {8, "RWF_NOWAIT"}, {0x10, "RWF_APPEND"}};
constexpr Named kSpliceFlags[] = {
    {1, "SPLICE_F_MOVE"}, {2, "SPLICE_F_NONBLOCK"}, {4, "SPLICE_F_MORE"}, {8, "SPLICE_F_GIFT"}};
constexpr Named kMemfdFlags[] = {
    {1, "MFD_CLOEXEC"}, {2, "MFD_ALLOW_SEALING"}, {4, "MFD_HUGETLB"}, {8, "MFD_NOEXEC_SEAL"},
    {0x10, "MFD_EXEC"}};
constexpr uint64_t kMfdHugeShift = 26, kMfdHugeMask = 0x3f;
constexpr Named kGrndFlags[] = {{1, "GRND_NONBLOCK"}, {2, "GRND_RANDOM"}, {4, "GRND_INSECURE"}};
constexpr Named kRlimits[] = {
    {0, "RLIMIT_CPU"}, {1, "RLIMIT_FSIZE"}, {2, "RLIMIT_DATA"}, {3, "RLIMIT_STACK"},
    {4, "RLIMIT_CORE"}, {5, "RLIMIT_RSS"}, {6, "RLIMIT_NPROC"}, {7, "RLIMIT_NOFILE"},
    {8, "RLIMIT_MEMLOCK"}, {9, "RLIMIT_AS"}, {10, "RLIMIT_LOCKS"}, {11, "RLIMIT_SIGPENDING"},
    {12, "RLIMIT_MSGQUEUE"}, {13, "RLIMIT_NICE"}, {14, "RLIMIT_RTPRIO"}, {15, "RLIMIT_RTTIME"}};

// futex: the operation, then which arguments it uses, one letter each: v val, t timeout (a3),
// n val2 (a3), a uaddr2 (a4), c val3 (a5), b bitset (a5), w encoded wake operation (a5).
constexpr Named kFutexOps[] = {
    {0, "FUTEX_WAIT:vt"}, {1, "FUTEX_WAKE:v"}, {2, "FUTEX_FD:v"}, {3, "FUTEX_REQUEUE:vna"},
    {4, "FUTEX_CMP_REQUEUE:vnac"}, {5, "FUTEX_WAKE_OP:vnaw"}, {6, "FUTEX_LOCK_PI:t"},
    {7, "FUTEX_UNLOCK_PI:"}, {8, "FUTEX_TRYLOCK_PI:"}, {9, "FUTEX_WAIT_BITSET:vtb"},
    {10, "FUTEX_WAKE_BITSET:vb"}, {11, "FUTEX_WAIT_REQUEUE_PI:vta"},
    {12, "FUTEX_CMP_REQUEUE_PI:vnac"}, {13, "FUTEX_LOCK_PI2:t"}};
constexpr uint64_t kFutexPrivate = 128, kFutexClockRealtime = 256;
// fcntl: the command, then how its argument is shown: - none, i int, f FD_* flags, o O_* flags,
// g signal, l lease type, s seals, x hex (struct pointers and the rest).
constexpr Named kFcntlCmds[] = {
    {0, "F_DUPFD:i"}, {1, "F_GETFD:-"}, {2, "F_SETFD:f"}, {3, "F_GETFL:-"}, {4, "F_SETFL:o"},
    {5, "F_GETLK:x"}, {6, "F_SETLK:x"}, {7, "F_SETLKW:x"}, {8, "F_SETOWN:i"}, {9, "F_GETOWN:-"},
    {10, "F_SETSIG:g"}, {11, "F_GETSIG:-"}, {15, "F_SETOWN_EX:x"}, {16, "F_GETOWN_EX:x"},
    {17, "F_GETOWNER_UIDS:x"},
    {36, "F_OFD_GETLK:x"}, {37, "F_OFD_SETLK:x"}, {38, "F_OFD_SETLKW:x"}, {1024, "F_SETLEASE:l"},
    {1025, "F_GETLEASE:-"}, {1026, "F_NOTIFY:x"}, {1030, "F_DUPFD_CLOEXEC:i"},
    {1031, "F_SETPIPE_SZ:i"}, {1032, "F_GETPIPE_SZ:-"}, {1033, "F_ADD_SEALS:s"},
    {1034, "F_GET_SEALS:-"}, {1035, "F_GET_RW_HINT:x"}, {1036, "F_SET_RW_HINT:x"}};
constexpr uint64_t kFGetFd = 1, kFGetFl = 3;
constexpr Named kFdFlags[] = {{1, "FD_CLOEXEC"}};
constexpr Named kLeases[] = {{0, "F_RDLCK"}, {1, "F_WRLCK"}, {2, "F_UNLCK"}};
constexpr Named kSeals[] = {{1, "F_SEAL_SEAL"}, {2, "F_SEAL_SHRINK"}, {4, "F_SEAL_GROW"},
                            {8, "F_SEAL_WRITE"}, {0x10, "F_SEAL_FUTURE_WRITE"}};

// ioctl: the command, then how its argument is shown: - none, d int, i int at the address, w
// struct winsize, t struct termios; upper case for outputs, decoded only after success.
constexpr Named kIoctls[] = {
    {0x5401, "TCGETS:T"}, {0x5402, "TCSETS:t"}, {0x5403, "TCSETSW:t"}, {0x5404, "TCSETSF:t"},
    {0x5409, "TCSBRK:d"}, {0x540A, "TCXONC:d"}, {0x540B, "TCFLSH:d"}, {0x540E, "TIOCSCTTY:d"},
    {0x540F, "TIOCGPGRP:I"}, {0x5410, "TIOCSPGRP:i"}, {0x5413, "TIOCGWINSZ:W"},
    {0x5414, "TIOCSWINSZ:w"}, {0x541B, "FIONREAD:I"}, {0x5421, "FIONBIO:i"},
    {0x5422, "TIOCNOTTY:-"}, {0x5429, "TIOCGSID:I"}, {0x5441, "TIOCGPTPEER:d"},
    {0x5450, "FIONCLEX:-"}, {0x5451, "FIOCLEX:-"}, {0x5452, "FIOASYNC:i"},
    {0x80045430, "TIOCGPTN:I"}, {0x40045431, "TIOCSPTLCK:i"}};
constexpr std::string_view kIocDirs[] = {"_IOC_NONE", "_IOC_WRITE", "_IOC_READ",
                                         "_IOC_READ|_IOC_WRITE"};

// termios. c_oflag starts with its delay fields, each shown even when zero (NL0, CR0, ...).
struct Field {
  uint64_t mask;
  std::span<const Named> values;
};
constexpr Named kIflags[] = {
    {01, "IGNBRK"}, {02, "BRKINT"}, {04, "IGNPAR"}, {010, "PARMRK"}, {020, "INPCK"},
    {040, "ISTRIP"}, {0100, "INLCR"}, {0200, "IGNCR"}, {0400, "ICRNL"}, {01000, "IUCLC"},
    {02000, "IXON"}, {04000, "IXANY"}, {010000, "IXOFF"}, {020000, "IMAXBEL"}, {040000, "IUTF8"}};
constexpr Named kNlDly[] = {{0, "NL0"}, {0400, "NL1"}};
constexpr Named kCrDly[] = {{0, "CR0"}, {01000, "CR1"}, {02000, "CR2"}, {03000, "CR3"}};
constexpr Named kTabDly[] = {{0, "TAB0"}, {04000, "TAB1"}, {010000, "TAB2"}, {014000, "XTABS"}};
constexpr Named kBsDly[] = {{0, "BS0"}, {020000, "BS1"}};
constexpr Named kVtDly[] = {{0, "VT0"}, {040000, "VT1"}};
constexpr Named kFfDly[] = {{0, "FF0"}, {0100000, "FF1"}};
constexpr Field kOflagFields[] = {{0400, kNlDly}, {03000, kCrDly}, {014000, kTabDly},
                                  {020000, kBsDly}, {040000, kVtDly}, {0100000, kFfDly}};
constexpr uint64_t kOflagFieldMask = 0177400;
constexpr Named kOflags[] = {
    {01, "OPOST"}, {02, "OLCUC"}, {04, "ONLCR"}, {010, "OCRNL"}, {020, "ONOCR"}, {040, "ONLRET"},
    {0100, "OFILL"}, {0200, "OFDEL"}};
constexpr Named kBauds[] = {
    {0, "B0"}, {01, "B50"}, {02, "B75"}, {03, "B110"}, {04, "B134"}, {05, "B150"}, {06, "B200"},
    {07, "B300"}, {010, "B600"}, {011, "B1200"}, {012, "B1800"}, {013, "B2400"}, {014, "B4800"},
    {015, "B9600"}, {016, "B19200"}, {017, "B38400"}, {010000, "BOTHER"}, {010001, "B57600"},
    {010002, "B115200"}, {010003, "B230400"}, {010004, "B460800"}, {010005, "B500000"},
    {010006, "B576000"}, {010007, "B921600"}, {010010, "B1000000"}, {010011, "B1152000"},
    {010012, "B1500000"}, {010013, "B2000000"}, {010014, "B2500000"}, {010015, "B3000000"},
    {010016, "B3500000"}, {010017, "B4000000"}};
constexpr uint64_t kCbaud = 010017, kIbShift = 16, kCsize = 060;
constexpr Named kCsizes[] = {{0, "CS5"}, {020, "CS6"}, {040, "CS7"}, {060, "CS8"}};
constexpr Named kCflags[] = {
    {0100, "CSTOPB"}, {0200, "CREAD"}, {0400, "PARENB"}, {01000, "PARODD"}, {02000, "HUPCL"},
    {04000, "CLOCAL"}, {010000000000, "CMSPAR"}, {020000000000, "CRTSCTS"}};
constexpr Named kLflags[] = {
    {01, "ISIG"}, {02, "ICANON"}, {04, "XCASE"}, {010, "ECHO"}, {020, "ECHOE"}, {040, "ECHOK"},
    {0100, "ECHONL"}, {0200, "NOFLSH"}, {0100000, "IEXTEN"}, {01000, "ECHOCTL"},
    {02000, "ECHOPRT"}, {04000, "ECHOKE"}, {010000, "FLUSHO"}, {040000, "PENDIN"},
    {0400, "TOSTOP"}, {0200000, "EXTPROC"}};
// clang-format on

// ---- Numbers and symbols.

std::string Hex(uint64_t v) { return v == 0 ? "0" : fmt::format("{:#x}", v); }
std::string Ptr(uint64_t v) { return v == 0 ? "NULL" : fmt::format("{:#x}", v); }
std::string Int(uint64_t v) { return fmt::format("{}", static_cast<int32_t>(v)); }
std::string Dec(uint64_t v) { return fmt::format("{}", v); }
std::string Long(uint64_t v) { return fmt::format("{}", static_cast<int64_t>(v)); }
// Modes are umode_t (16 bits) in the kernel; strace drops the rest too.
std::string Oct(uint64_t v) { return fmt::format("{:#03o}", static_cast<uint16_t>(v)); }
std::string DirFd(uint64_t v) { return static_cast<int32_t>(v) == -100 ? "AT_FDCWD" : Int(v); }

const Named* Lookup(uint64_t v, std::span<const Named> table) {
  auto it = std::ranges::find(table, v, &Named::value);
  return it == table.end() ? nullptr : &*it;
}

// Table names of the form "NAME:k" carry how the call's argument is shown.
std::pair<std::string_view, char> SplitKind(std::string_view entry) {
  size_t colon = entry.find(':');
  return {entry.substr(0, colon), colon + 1 < entry.size() ? entry[colon + 1] : '-'};
}

// A value that should be one of `table`; others print as "0x63 /* RLIMIT_??? */".
std::string Enum(uint64_t v, std::span<const Named> table, std::string_view prefix) {
  if (const Named* n = Lookup(v, table)) return std::string(n->name);
  return fmt::format("{} /* {}??? */", Hex(v), prefix);
}

void Join(std::string& out, std::string_view part) {
  if (!out.empty()) out += '|';
  out += part;
}

// Appends the names of the bits of `v` found in `table`, in table order (an entry with several
// bits needs all of them); returns the bits that had no name.
uint64_t TakeFlags(std::string& out, uint64_t v, std::span<const Named> table) {
  for (const Named& n : table) {
    if (n.value != 0 && (v & n.value) == n.value) {
      Join(out, n.name);
      v &= ~n.value;
    }
  }
  return v;
}

// Unnamed bits follow the names in hex; with no name at all, strace flags the value as unknown.
std::string FinishFlags(std::string out, uint64_t rest, std::string_view prefix) {
  if (rest != 0 && out.empty()) return fmt::format("{} /* {}??? */", Hex(rest), prefix);
  if (rest != 0) Join(out, Hex(rest));
  return out.empty() ? "0" : out;
}

std::string Flags(uint64_t v, std::span<const Named> table, std::string_view prefix) {
  std::string out;
  uint64_t rest = TakeFlags(out, v, table);
  return FinishFlags(std::move(out), rest, prefix);
}

std::string Signal(uint64_t v) {
  int32_t sig = static_cast<int32_t>(v);
  if (sig >= 1 && sig <= 31) return fmt::format("SIG{}", kSignalNames[sig - 1]);
  if (sig == 32) return "SIGRTMIN";
  if (sig > 32 && sig <= 64) return fmt::format("SIGRT_{}", sig - 32);
  return fmt::format("{}", sig);
}

// A sigset, "[INT TERM]"; strace lists the complement, "~[RTMIN RT_1]", once 2/3 of the 64
// signals are in the set, since that is shorter.
std::string SigSet(uint64_t mask) {
  std::string out = "[";
  if (std::popcount(mask) >= 42) {
    out = "~[";
    mask = ~mask;
  }
  bool first = true;
  for (int sig = 1; sig <= 64; ++sig) {
    if ((mask & (uint64_t{1} << (sig - 1))) == 0) continue;
    if (!first) out += ' ';
    first = false;
    std::string name = Signal(sig);
    out += std::string_view(name).substr(3);  // strace drops "SIG" inside sets
  }
  return out + "]";
}

std::string Prot(uint64_t v) { return v == 0 ? "PROT_NONE" : Flags(v, kProt, "PROT_"); }

std::string Clock(uint64_t v) { return Enum(static_cast<uint32_t>(v), kClocks, "CLOCK_"); }

std::string Mode(uint64_t mode) {
  if (const Named* type = Lookup(mode & 0170000, kFileTypes)) {
    return fmt::format("{}|{}", type->name, Oct(mode & 07777));
  }
  return Oct(mode);
}

std::string RlimValue(uint64_t v) {
  if (v == ~uint64_t{0}) return "RLIM64_INFINITY";
  if (v > 1024 && v % 1024 == 0) return fmt::format("{}*1024", v / 1024);
  return Dec(v);
}

std::string OpenFlags(uint64_t flags) {
  flags = static_cast<uint32_t>(flags);
  std::string out(Lookup(flags & 3, kAccModes)->name);
  uint64_t rest = TakeFlags(out, flags & ~uint64_t{3}, kOpenFlags);
  return FinishFlags(std::move(out), rest, "O_");
}

std::string MemfdFlags(uint64_t flags) {
  flags = static_cast<uint32_t>(flags);
  uint64_t huge = (flags >> kMfdHugeShift) & kMfdHugeMask;
  flags &= ~(kMfdHugeMask << kMfdHugeShift);
  if (huge == 0) return Flags(flags, kMemfdFlags, "MFD_");
  std::string out;
  uint64_t rest = TakeFlags(out, flags, kMemfdFlags);
  if (rest != 0) Join(out, Hex(rest));
  Join(out, fmt::format("{}<<MFD_HUGE_SHIFT", huge));
  return out;
}

std::string MapFlags(uint64_t flags) {
  flags = static_cast<uint32_t>(flags);  // strace, like the C prototype, sees an int
  std::string out = Enum(flags & kMapTypeMask, kMapTypes, "MAP_");
  uint64_t huge = (flags >> kMapHugeShift) & kMapHugeMask;
  uint64_t rest =
      TakeFlags(out, flags & ~kMapTypeMask & ~(kMapHugeMask << kMapHugeShift), kMapFlags);
  if (rest != 0) Join(out, Hex(rest));
  if (huge != 0) Join(out, fmt::format("{}<<MAP_HUGE_SHIFT", huge));
  return out;
}

// Kernel-internal codes that only show when a signal interrupts a syscall.
constexpr Named kRestartCodes[] = {{512, "ERESTARTSYS (To be restarted if SA_RESTART is set)"},
                                   {513, "ERESTARTNOINTR (To be restarted)"},
                                   {514, "ERESTARTNOHAND (To be restarted if no handler)"},
                                   {516, "ERESTART_RESTARTBLOCK (Interrupted by signal)"}};

std::string ErrnoText(int err) {
  if (const Named* restart = Lookup(err, kRestartCodes)) return fmt::format("? {}", restart->name);
  const char* name = strerrorname_np(err);
  const char* desc = strerrordesc_np(err);
  if (name == nullptr || desc == nullptr)
    return fmt::format("-1 ERRNO_{0} (Unknown error {0})", err);
  return fmt::format("-1 {} ({})", name, desc);
}

// strace's escaping: C escapes for the common controls, octal for other unprintable bytes (all
// three digits when an octal digit follows, so the text reads back as the same bytes), or \xNN
// for every byte when `all_hex`.
std::string Quote(std::string_view bytes, bool all_hex = false) {
  constexpr std::string_view kEscaped = "\"\\\t\n\v\f\r", kEscapes = "\"\\tnvfr";
  std::string out = "\"";
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto c = static_cast<unsigned char>(bytes[i]);
    size_t escape = all_hex ? std::string_view::npos : kEscaped.find(bytes[i]);
    if (all_hex) {
      fmt::format_to(std::back_inserter(out), "\\x{:02x}", c);
    } else if (escape != std::string_view::npos) {
      out += '\\';
      out += kEscapes[escape];
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      bool digit_follows = i + 1 < bytes.size() && bytes[i + 1] >= '0' && bytes[i + 1] <= '7';
      out += '\\';
      if (digit_follows || c >= 0100) out += static_cast<char>('0' + (c >> 6));
      if (digit_follows || c >= 010) out += static_cast<char>('0' + ((c >> 3) & 7));
      out += static_cast<char>('0' + (c & 7));
    }
  }
  return out + "\"";
}

template <class T>
T LoadAt(std::string_view bytes, size_t offset) {
  static_assert(std::is_trivially_copyable_v<T>);
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

// ---- Decoding one call: argument decoders that may read application memory.

class Decoder {
 public:
  Decoder(const MemoryReader& read, std::optional<uint64_t> result)
      : read_(read), result_(result) {}

  std::vector<std::string> Args(uint64_t nr, const std::array<uint64_t, 6>& a);

 private:
  // The call returned without an error (so its output arguments are worth decoding).
  bool Ok() const { return result_.has_value() && *result_ < static_cast<uint64_t>(-4095); }
  uint64_t Ret() const { return Ok() ? *result_ : 0; }
  bool Failed(int err) const { return result_ == static_cast<uint64_t>(-err); }

  // Exactly `len` bytes at `addr`, or nothing: a partial read is as bad as no read.
  std::optional<std::string> Bytes(uint64_t addr, size_t len) const {
    if (len == 0) return std::string();  // like the kernel, nothing to read cannot fault
    if (!read_) return std::nullopt;
    std::optional<std::string> bytes = read_(addr, len, false);
    if (!bytes || bytes->size() < len) return std::nullopt;
    bytes->resize(len);
    return bytes;
  }
  std::optional<uint64_t> Word(uint64_t addr) const {
    std::optional<std::string> bytes = Bytes(addr, 8);
    if (!bytes) return std::nullopt;
    return LoadAt<uint64_t>(*bytes, 0);
  }

  // A NUL-terminated string cut at `limit` bytes ("..." marks the cut).
  std::string CString(uint64_t addr, size_t limit) const {
    if (addr == 0) return "NULL";
    std::optional<std::string> s = read_ ? read_(addr, limit + 1, true) : std::nullopt;
    if (!s) return Hex(addr);
    s->resize(std::min(s->find('\0'), s->size()));  // a sloppy reader may hand the NUL back
    bool cut = s->size() > limit;
    if (cut) s->resize(limit);
    return Quote(*s) + (cut ? "..." : "");
  }
  std::string Path(uint64_t addr) const { return CString(addr, kPathMax); }

  // A buffer of `len` bytes, of which strace shows the first 32.
  std::string Buffer(uint64_t addr, uint64_t len, bool all_hex = false) const {
    if (addr == 0) return "NULL";
    size_t shown = std::min<uint64_t>(len, kMaxStrLen);
    std::optional<std::string> bytes = Bytes(addr, shown);
    if (!bytes) return Hex(addr);
    return Quote(*bytes, all_hex) + (len > shown ? "..." : "");
  }
  // An output buffer: its contents only mean something once the call succeeded.
  std::string OutBuffer(uint64_t addr, bool all_hex = false) const {
    return Ok() ? Buffer(addr, Ret(), all_hex) : Ptr(addr);
  }

  std::string Iovec(uint64_t addr, uint64_t count, std::optional<uint64_t> data) const;
  std::string Argv(uint64_t addr) const;
  std::string Envp(uint64_t addr) const;
  std::string Stat(uint64_t addr) const;
  std::string SigAction(uint64_t addr, bool output) const;
  std::string SigSetAt(uint64_t addr, uint64_t size, bool output) const;
  std::string Timespec(uint64_t addr, bool output = false,
                       std::string_view fraction = "tv_nsec") const;
  std::string Rlimit(uint64_t addr, bool output) const;
  std::string Stack(uint64_t addr, bool output) const;
  std::string Uname(uint64_t addr) const;
  std::string Termios(uint64_t addr, bool output) const;
  std::string Winsize(uint64_t addr, bool output) const;
  std::string IntAt(uint64_t addr, bool output) const;
  std::string Int64At(uint64_t addr) const;
  void Ioctl(const std::array<uint64_t, 6>& a, std::vector<std::string>& out) const;
  void Futex(const std::array<uint64_t, 6>& a, std::vector<std::string>& out) const;
  void Fcntl(const std::array<uint64_t, 6>& a, std::vector<std::string>& out) const;
  std::string Generic(char kind, uint64_t v) const;

  // Output structs are only decoded after success; before that the address is all there is.
  bool Skip(uint64_t addr, bool output) const { return addr == 0 || (output && !Ok()); }

  const MemoryReader& read_;
  std::optional<uint64_t> result_;
};

std::string Decoder::Iovec(uint64_t addr, uint64_t count, std::optional<uint64_t> data) const {
  if (addr == 0) return "NULL";
  size_t shown = std::min<uint64_t>(count, kMaxStrLen);
  std::optional<std::string> raw = Bytes(addr, shown * 16);
  if (!raw) return Hex(addr);
  std::string out = "[";
  for (size_t i = 0; i < shown; ++i) {
    uint64_t base = LoadAt<uint64_t>(*raw, i * 16), len = LoadAt<uint64_t>(*raw, i * 16 + 8);
    std::string text = Ptr(base);
    if (data) {  // readv shows only the bytes that arrived, spread over the vectors in order
      uint64_t n = std::min(len, *data);
      *data -= n;
      text = Buffer(base, n);
    }
    fmt::format_to(std::back_inserter(out), "{}{{iov_base={}, iov_len={}}}", i ? ", " : "", text,
                   len);
  }
  return out + (count > shown ? ", ...]" : "]");
}

std::string Decoder::Argv(uint64_t addr) const {
  if (addr == 0) return "NULL";
  std::string out = "[";
  for (size_t i = 0;; ++i) {
    std::optional<uint64_t> p = Word(addr + i * 8);
    if (!p) return Hex(addr);
    if (*p == 0) break;
    if (i > 0) out += ", ";
    if (i == kMaxStrLen) {
      out += "...";
      break;
    }
    out += CString(*p, kMaxStrLen);
  }
  return out + "]";
}

// strace shows only how many variables there are.
std::string Decoder::Envp(uint64_t addr) const {
  if (addr == 0) return "NULL";
  size_t n = 0;
  for (;; ++n) {
    if (n == kMaxEnvCount) return fmt::format("{:#x} /* {}+ vars */", addr, n);
    std::optional<uint64_t> p = Word(addr + n * 8);
    if (!p) return Hex(addr);
    if (*p == 0) break;
  }
  return fmt::format("{:#x} /* {} var{} */", addr, n, n == 1 ? "" : "s");
}

std::string Decoder::Stat(uint64_t addr) const {
  if (Skip(addr, true)) return Ptr(addr);
  std::optional<std::string> st = Bytes(addr, 144);  // struct stat on amd64
  if (!st) return Hex(addr);
  auto mode = LoadAt<uint32_t>(*st, 24);
  auto rdev = LoadAt<uint64_t>(*st, 40);
  auto size = LoadAt<int64_t>(*st, 48);
  uint64_t type = mode & 0170000;
  if (type == 020000 || type == 060000) {
    uint64_t major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & ~uint64_t{0xfff});
    uint64_t minor = (rdev & 0xff) | ((rdev >> 12) & ~uint64_t{0xff});
    return fmt::format("{{st_mode={}, st_rdev=makedev({}, {}), ...}}", Mode(mode), Hex(major),
                       Hex(minor));
  }
  return fmt::format("{{st_mode={}, st_size={}, ...}}", Mode(mode), size);
}

std::string Decoder::SigAction(uint64_t addr, bool output) const {
  if (Skip(addr, output)) return Ptr(addr);
  std::optional<std::string> sa = Bytes(addr, 32);  // handler, flags, restorer, mask
  if (!sa) return Hex(addr);
  auto handler = LoadAt<uint64_t>(*sa, 0), flags = LoadAt<uint64_t>(*sa, 8);
  std::string out = fmt::format("{{sa_handler={}, sa_mask={}, sa_flags={}",
                                handler == 0   ? "SIG_DFL"
                                : handler == 1 ? "SIG_IGN"
                                               : Hex(handler),
                                SigSet(LoadAt<uint64_t>(*sa, 24)), Flags(flags, kSaFlags, "SA_"));
  if (flags & kSaRestorer) out += ", sa_restorer=" + Ptr(LoadAt<uint64_t>(*sa, 16));
  return out + "}";
}

std::string Decoder::SigSetAt(uint64_t addr, uint64_t size, bool output) const {
  // The kernel only takes 8-byte sets; strace shows no contents for any other size.
  if (Skip(addr, output) || size != 8) return Ptr(addr);
  std::optional<uint64_t> mask = Word(addr);
  return mask ? SigSet(*mask) : Hex(addr);
}

// struct timespec, or struct timeval when `fraction` is "tv_usec".
std::string Decoder::Timespec(uint64_t addr, bool output, std::string_view fraction) const {
  if (Skip(addr, output)) return Ptr(addr);
  std::optional<std::string> ts = Bytes(addr, 16);
  if (!ts) return Hex(addr);
  return fmt::format("{{tv_sec={}, {}={}}}", LoadAt<int64_t>(*ts, 0), fraction,
                     LoadAt<int64_t>(*ts, 8));
}

std::string Decoder::Rlimit(uint64_t addr, bool output) const {
  if (Skip(addr, output)) return Ptr(addr);
  std::optional<std::string> rl = Bytes(addr, 16);
  if (!rl) return Hex(addr);
  return fmt::format("{{rlim_cur={}, rlim_max={}}}", RlimValue(LoadAt<uint64_t>(*rl, 0)),
                     RlimValue(LoadAt<uint64_t>(*rl, 8)));
}

std::string Decoder::Stack(uint64_t addr, bool output) const {
  if (Skip(addr, output)) return Ptr(addr);
  std::optional<std::string> ss = Bytes(addr, 24);  // ss_sp, ss_flags (int, padded), ss_size
  if (!ss) return Hex(addr);
  return fmt::format("{{ss_sp={}, ss_flags={}, ss_size={}}}", Ptr(LoadAt<uint64_t>(*ss, 0)),
                     Flags(LoadAt<uint32_t>(*ss, 8), kSsFlags, "SS_"), LoadAt<uint64_t>(*ss, 16));
}

std::string Decoder::Uname(uint64_t addr) const {
  if (Skip(addr, true)) return Ptr(addr);
  constexpr size_t kFieldLen = 65;  // struct utsname: six char[65] fields
  std::optional<std::string> uts = Bytes(addr, 2 * kFieldLen);
  if (!uts) return Hex(addr);
  auto field = [&](size_t i) {
    std::string_view f = std::string_view(*uts).substr(i * kFieldLen, kFieldLen);
    return Quote(f.substr(0, f.find('\0')));
  };
  return fmt::format("{{sysname={}, nodename={}, ...}}", field(0), field(1));
}

std::string Decoder::Termios(uint64_t addr, bool output) const {
  if (Skip(addr, output)) return Ptr(addr);
  std::optional<std::string> t = Bytes(addr, 16);  // c_iflag, c_oflag, c_cflag, c_lflag
  if (!t) return Hex(addr);
  auto oflag = LoadAt<uint32_t>(*t, 4), cflag = LoadAt<uint32_t>(*t, 8);
  std::string o;
  for (const Field& f : kOflagFields) Join(o, Lookup(oflag & f.mask, f.values)->name);
  uint64_t orest = TakeFlags(o, oflag & ~kOflagFieldMask, kOflags);
  std::string c = Enum(cflag & kCbaud, kBauds, "B");
  if (uint64_t ibaud = (cflag >> kIbShift) & kCbaud; ibaud != 0) {
    Join(c, Enum(ibaud, kBauds, "B") + "<<IBSHIFT");
  }
  Join(c, Lookup(cflag & kCsize, kCsizes)->name);
  uint64_t crest = TakeFlags(c, cflag & ~(kCbaud | (kCbaud << kIbShift) | kCsize), kCflags);
  return fmt::format("{{c_iflag={}, c_oflag={}, c_cflag={}, c_lflag={}, ...}}",
                     Flags(LoadAt<uint32_t>(*t, 0), kIflags, "I"),
                     FinishFlags(std::move(o), orest, "O"), FinishFlags(std::move(c), crest, "C"),
                     Flags(LoadAt<uint32_t>(*t, 12), kLflags, "L"));
}

std::string Decoder::Winsize(uint64_t addr, bool output) const {
  if (Skip(addr, output)) return Ptr(addr);
  std::optional<std::string> w = Bytes(addr, 8);
  if (!w) return Hex(addr);
  return fmt::format("{{ws_row={}, ws_col={}, ws_xpixel={}, ws_ypixel={}}}",
                     LoadAt<uint16_t>(*w, 0), LoadAt<uint16_t>(*w, 2), LoadAt<uint16_t>(*w, 4),
                     LoadAt<uint16_t>(*w, 6));
}

std::string Decoder::IntAt(uint64_t addr, bool output) const {
  if (Skip(addr, output)) return Ptr(addr);
  std::optional<std::string> v = Bytes(addr, 4);
  return v ? fmt::format("[{}]", LoadAt<int32_t>(*v, 0)) : Hex(addr);
}

// A loff_t in and out (splice's offsets), as it reads after the call.
std::string Decoder::Int64At(uint64_t addr) const {
  if (addr == 0) return "NULL";
  std::optional<uint64_t> v = Word(addr);
  return v ? fmt::format("[{}]", static_cast<int64_t>(*v)) : Hex(addr);
}

void Decoder::Ioctl(const std::array<uint64_t, 6>& a, std::vector<std::string>& out) const {
  auto cmd = static_cast<uint32_t>(a[1]);
  out.push_back(Int(a[0]));
  const Named* known = Lookup(cmd, kIoctls);
  if (known == nullptr) {
    // Unknown commands show their _IOC() encoding: direction, type, number, size.
    out.push_back(fmt::format("_IOC({}, {}, {}, {})", kIocDirs[cmd >> 30], Hex((cmd >> 8) & 0xff),
                              Hex(cmd & 0xff), Hex((cmd >> 16) & 0x3fff)));
    out.push_back(Hex(a[2]));
    return;
  }
  auto [name, kind] = SplitKind(known->name);
  out.emplace_back(name);
  bool output = kind >= 'A' && kind <= 'Z';
  char lower = static_cast<char>(output ? kind - 'A' + 'a' : kind);
  if (lower == 'd') out.push_back(Int(a[2]));
  if (lower == 'i') out.push_back(IntAt(a[2], output));
  if (lower == 'w') out.push_back(Winsize(a[2], output));
  if (lower == 't') out.push_back(Termios(a[2], output));
}

void Decoder::Futex(const std::array<uint64_t, 6>& a, std::vector<std::string>& out) const {
  out.push_back(Ptr(a[0]));
  auto op = static_cast<uint32_t>(a[1]);
  const Named* known = Lookup(op & ~(kFutexPrivate | kFutexClockRealtime), kFutexOps);
  if (known == nullptr) {
    out.insert(out.end(), {Enum(op, {}, "FUTEX_"), Int(a[2]), Hex(a[3]), Hex(a[4]), Hex(a[5])});
    return;
  }
  size_t colon = known->name.find(':');
  std::string name(known->name.substr(0, colon));
  if (op & kFutexPrivate) name += "_PRIVATE";
  if (op & kFutexClockRealtime) name += "|FUTEX_CLOCK_REALTIME";
  out.push_back(std::move(name));
  for (char arg : known->name.substr(colon + 1)) {
    if (arg == 'v') out.push_back(Int(a[2]));
    if (arg == 't') out.push_back(Timespec(a[3]));
    if (arg == 'n') out.push_back(Dec(a[3]));
    if (arg == 'a') out.push_back(Ptr(a[4]));
    if (arg == 'c') out.push_back(Int(a[5]));
    if (arg == 'w') out.push_back(Hex(a[5]));
    if (arg == 'b') {
      out.push_back(static_cast<uint32_t>(a[5]) == ~uint32_t{0} ? "FUTEX_BITSET_MATCH_ANY"
                                                                : Hex(a[5]));
    }
  }
}

void Decoder::Fcntl(const std::array<uint64_t, 6>& a, std::vector<std::string>& out) const {
  out.push_back(Int(a[0]));
  auto cmd = static_cast<uint32_t>(a[1]);
  const Named* known = Lookup(cmd, kFcntlCmds);
  if (known == nullptr) {
    out.insert(out.end(), {Enum(cmd, {}, "F_"), Hex(a[2])});
    return;
  }
  auto [name, kind] = SplitKind(known->name);
  out.emplace_back(name);
  if (kind == 'i') out.push_back(Int(a[2]));
  if (kind == 'f') out.push_back(Flags(a[2], kFdFlags, "FD_"));
  if (kind == 'o') out.push_back(OpenFlags(a[2]));
  if (kind == 'g') out.push_back(Signal(a[2]));
  if (kind == 'l') out.push_back(Enum(a[2], kLeases, "F_"));
  if (kind == 's') out.push_back(Flags(a[2], kSeals, "F_SEAL_"));
  if (kind == 'x') out.push_back(Hex(a[2]));
}

std::string Decoder::Generic(char kind, uint64_t v) const {
  if (kind == 's') return Path(v);
  using Printer = std::string (*)(uint64_t);
  constexpr std::pair<char, Printer> kPrinters[] = {{'i', Int},    {'u', Dec},   {'l', Long},
                                                    {'p', Ptr},    {'a', DirFd}, {'o', Oct},
                                                    {'g', Signal}, {'c', Clock}};
  for (auto [k, print] : kPrinters) {
    if (k == kind) return print(v);
  }
  return Hex(v);
}

std::vector<std::string> Decoder::Args(uint64_t nr, const std::array<uint64_t, 6>& a) {
  auto access = [](uint64_t mode) {
    return mode == 0 ? std::string("F_OK") : Flags(mode, kAccessModes, "");
  };
  // readlink's buffer holds Ret() bytes and no NUL; strace shows it whole, like a path.
  auto LinkTarget = [&](uint64_t addr) {
    std::optional<std::string> target =
        Ok() ? Bytes(addr, std::min(Ret(), kPathMax)) : std::nullopt;
    return target ? Quote(*target) : Ptr(addr);
  };
  // A remaining-time output: only filled in when the sleep was interrupted.
  auto remaining = [&](uint64_t addr) { return Failed(EINTR) ? Timespec(addr) : Ptr(addr); };
  switch (nr) {
    case __NR_read:
      return {Int(a[0]), OutBuffer(a[1]), Dec(a[2])};
    case __NR_pread64:
      return {Int(a[0]), OutBuffer(a[1]), Dec(a[2]), Long(a[3])};
    case __NR_write:
      return {Int(a[0]), Buffer(a[1], a[2]), Dec(a[2])};
    case __NR_pwrite64:
      return {Int(a[0]), Buffer(a[1], a[2]), Dec(a[2]), Long(a[3])};
    case __NR_readv:
    case __NR_writev:
    case __NR_preadv:
    case __NR_pwritev:
    case __NR_preadv2:
    case __NR_pwritev2: {
      bool is_read = nr == __NR_readv || nr == __NR_preadv || nr == __NR_preadv2;
      std::optional<uint64_t> data = ~uint64_t{0};
      if (is_read) data = Ok() ? std::optional(Ret()) : std::nullopt;
      std::vector<std::string> out = {Int(a[0]), Iovec(a[1], a[2], data), Dec(a[2])};
      if (nr != __NR_readv && nr != __NR_writev) out.push_back(Long(a[3]));
      // a[4] is the offset's high half, always 0 on amd64.
      if (nr == __NR_preadv2 || nr == __NR_pwritev2) out.push_back(Flags(a[5], kRwfFlags, "RWF_"));
      return out;
    }
    case __NR_pipe:
    case __NR_pipe2: {
      std::optional<std::string> fds = Ok() ? Bytes(a[0], 8) : std::nullopt;
      std::vector<std::string> out = {
          fds ? fmt::format("[{}, {}]", LoadAt<int32_t>(*fds, 0), LoadAt<int32_t>(*fds, 4))
              : Ptr(a[0])};
      if (nr == __NR_pipe2) out.push_back(Flags(static_cast<uint32_t>(a[1]), kOpenFlags, "O_"));
      return out;
    }
    case __NR_open:
    case __NR_openat: {
      size_t at = nr == __NR_openat ? 1 : 0;
      std::vector<std::string> out;
      if (at) out.push_back(DirFd(a[0]));
      out.push_back(Path(a[at]));
      out.push_back(OpenFlags(a[at + 1]));
      if (a[at + 1] & (kOCreat | kOTmpfileBit)) out.push_back(Oct(a[at + 2]));
      return out;
    }
    case __NR_stat:
    case __NR_lstat:
      return {Path(a[0]), Stat(a[1])};
    case __NR_fstat:
      return {Int(a[0]), Stat(a[1])};
    case __NR_newfstatat:
      return {DirFd(a[0]), Path(a[1]), Stat(a[2]), Flags(a[3], kAtFlags, "AT_")};
    case __NR_access:
      return {Path(a[0]), access(a[1])};
    case __NR_faccessat:
      return {DirFd(a[0]), Path(a[1]), access(a[2])};
    case __NR_faccessat2:
      return {DirFd(a[0]), Path(a[1]), access(a[2]), Flags(a[3], kAtFlags, "AT_")};
    case __NR_lseek:
      return {Int(a[0]), Long(a[1]), Enum(static_cast<uint32_t>(a[2]), kWhence, "SEEK_")};
    case __NR_mmap:
      return {Ptr(a[0]), Dec(a[1]), Prot(a[2]), MapFlags(a[3]), Int(a[4]), Hex(a[5])};
    case __NR_mprotect:
      return {Ptr(a[0]), Dec(a[1]), Prot(a[2])};
    case __NR_munmap:
      return {Ptr(a[0]), Dec(a[1])};
    case __NR_mremap: {
      std::vector<std::string> out = {Ptr(a[0]), Dec(a[1]), Dec(a[2]),
                                      Flags(a[3], kMremapFlags, "MREMAP_")};
      if ((a[3] & 3) == 3) out.push_back(Ptr(a[4]));  // new_address counts with MAYMOVE|FIXED
      return out;
    }
    case __NR_madvise:
      return {Ptr(a[0]), Dec(a[1]), Enum(static_cast<uint32_t>(a[2]), kMadvise, "MADV_")};
    case __NR_brk:
      return {Ptr(a[0])};
    case __NR_arch_prctl: {
      auto code = static_cast<uint32_t>(a[0]);
      std::string arg = Hex(a[1]);
      if ((code == kArchGetFs || code == kArchGetGs) && Ok()) {
        if (std::optional<uint64_t> base = Word(a[1])) arg = fmt::format("[{}]", Hex(*base));
      }
      return {Enum(code, kArchPrctl, "ARCH_"), arg};
    }
    case __NR_rt_sigaction:
      return {Signal(a[0]), SigAction(a[1], false), SigAction(a[2], true), Dec(a[3])};
    case __NR_rt_sigprocmask:
      return {Enum(static_cast<uint32_t>(a[0]), kSigHow, "SIG_"), SigSetAt(a[1], a[3], false),
              SigSetAt(a[2], a[3], true), Dec(a[3])};
    case __NR_clock_gettime:
    case __NR_clock_getres:
      return {Clock(a[0]), Timespec(a[1], true)};
    case __NR_clock_settime:
      return {Clock(a[0]), Timespec(a[1])};
    case __NR_clock_nanosleep:
      return {Clock(a[0]), Flags(static_cast<uint32_t>(a[1]), kTimerFlags, "TIMER_"),
              Timespec(a[2]), remaining(a[3])};
    case __NR_nanosleep:
      return {Timespec(a[0]), remaining(a[1])};
    case __NR_gettimeofday:
      return {Timespec(a[0], true, "tv_usec"), Ptr(a[1])};
    case __NR_getrandom:
      return {OutBuffer(a[0], true), Dec(a[1]),
              Flags(static_cast<uint32_t>(a[2]), kGrndFlags, "GRND_")};
    case __NR_prlimit64:
      return {Int(a[0]), Enum(static_cast<uint32_t>(a[1]), kRlimits, "RLIMIT_"),
              Rlimit(a[2], false), Rlimit(a[3], true)};
    case __NR_getrlimit:
    case __NR_setrlimit:
      return {Enum(static_cast<uint32_t>(a[0]), kRlimits, "RLIMIT_"),
              Rlimit(a[1], nr == __NR_getrlimit)};
    case __NR_ioctl:
    case __NR_futex:
    case __NR_fcntl: {
      std::vector<std::string> out;
      if (nr == __NR_ioctl) Ioctl(a, out);
      if (nr == __NR_futex) Futex(a, out);
      if (nr == __NR_fcntl) Fcntl(a, out);
      return out;
    }
    case __NR_uname:
      return {Uname(a[0])};
    case __NR_sigaltstack:
      return {Stack(a[0], false), Stack(a[1], true)};
    case __NR_getcwd:
      return {Ok() ? CString(a[0], kPathMax) : Ptr(a[0]), Dec(a[1])};
    case __NR_readlink:
      return {Path(a[0]), LinkTarget(a[1]), Dec(a[2])};
    case __NR_readlinkat:
      return {DirFd(a[0]), Path(a[1]), LinkTarget(a[2]), Dec(a[3])};
    case __NR_splice:
      return {Int(a[0]), Int64At(a[1]),
              Int(a[2]), Int64At(a[3]),
              Dec(a[4]), Flags(static_cast<uint32_t>(a[5]), kSpliceFlags, "SPLICE_F_")};
    case __NR_tee:
      return {Int(a[0]), Int(a[1]), Dec(a[2]),
              Flags(static_cast<uint32_t>(a[3]), kSpliceFlags, "SPLICE_F_")};
    case __NR_copy_file_range:
      return {Int(a[0]),     Int64At(a[1]), Int(a[2]),
              Int64At(a[3]), Dec(a[4]),     Dec(static_cast<uint32_t>(a[5]))};
    case __NR_memfd_create:
      return {CString(a[0], kMaxStrLen), MemfdFlags(a[1])};  // cut as strings are, not paths
    case __NR_execve:
      return {Path(a[0]), Argv(a[1]), Envp(a[2])};
    case __NR_execveat:
      return {DirFd(a[0]), Path(a[1]), Argv(a[2]), Envp(a[3]), Flags(a[4], kAtFlags, "AT_")};
  }
  std::vector<std::string> out;
  std::string_view kinds = SyscallArgKinds(nr);
  for (size_t i = 0; i < kinds.size(); ++i) out.push_back(Generic(kinds[i], a[i]));
  return out;
}

std::string FormatResult(uint64_t nr, const std::array<uint64_t, 6>& args,
                         std::optional<uint64_t> result) {
  if (!result) return "?";
  auto value = static_cast<int64_t>(*result);
  if (value < 0 && value >= -4095) return ErrnoText(static_cast<int>(-value));
  switch (nr) {
    case __NR_mmap:
    case __NR_mremap:
    case __NR_brk:
    case __NR_shmat:
      return Hex(*result);
    case __NR_fcntl:  // the flags words that F_GETFD and F_GETFL return get spelled out
      if (static_cast<uint32_t>(args[1]) == kFGetFd && value != 0) {
        return fmt::format("{} (flags {})", Hex(value), Flags(value, kFdFlags, "FD_"));
      }
      if (static_cast<uint32_t>(args[1]) == kFGetFl) {
        return fmt::format("{} (flags {})", Hex(value), OpenFlags(value));
      }
      break;
    case __NR_time: {
      // strace adds the date; UTC, since the sandbox has no time zone of its own.
      time_t t = value;
      struct tm tm;
      char date[64];
      if (gmtime_r(&t, &tm) != nullptr && strftime(date, sizeof date, "%FT%T+0000", &tm) > 0) {
        return fmt::format("{} ({})", value, date);
      }
      break;
    }
  }
  return fmt::format("{}", value);
}

}  // namespace

std::string FormatSyscall(uint64_t nr, const std::array<uint64_t, 6>& args,
                          std::optional<uint64_t> result, const MemoryReader& read) {
  std::string_view name = SyscallName(nr);
  std::vector<std::string> parts;
  std::string unknown;
  if (name.empty()) {
    unknown = fmt::format("syscall_{:#x}", nr);
    name = unknown;
    for (uint64_t arg : args) parts.push_back(Hex(arg));
  } else {
    parts = Decoder(read, result).Args(nr, args);
  }
  return fmt::format("{}({}) = {}", name, fmt::join(parts, ", "), FormatResult(nr, args, result));
}

}  // namespace sentry::syscalls
