// The vDSO: the ELF image the kernel maps into every process (AT_SYSINFO_EHDR), whose
// clock_gettime, gettimeofday, time, getcpu and clock_getres must agree with the system calls
// they stand for. The test finds the entry points itself (hash tables, dynamic symbols and
// symbol versions, as glibc, musl and Go do) and calls them directly.
#include <elf.h>
#include <sched.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "syscalls/test_util.h"

namespace {

using conformance::InChild;

constexpr const char* kVersion = "LINUX_2.6";

// The vDSO's dynamic symbol table, read from memory as a dynamic linker reads it.
class VdsoImage {
 public:
  // nullopt with `why` set when the image is not what it must be.
  static std::optional<VdsoImage> Find(std::string* why) {
    VdsoImage v;
    v.base_ = getauxval(AT_SYSINFO_EHDR);
    if (v.base_ == 0) return Fail(why, "no AT_SYSINFO_EHDR");
    auto* eh = reinterpret_cast<const Elf64_Ehdr*>(v.base_);
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0) return Fail(why, "no ELF magic");
    if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_type != ET_DYN || eh->e_machine != EM_X86_64) {
      return Fail(why, "not an x86-64 shared object");
    }
    auto* ph = reinterpret_cast<const Elf64_Phdr*>(v.base_ + eh->e_phoff);
    const Elf64_Dyn* dyn = nullptr;
    bool have_load = false;
    for (int i = 0; i < eh->e_phnum; ++i) {
      if (ph[i].p_type == PT_LOAD && !have_load) {
        v.bias_ = v.base_ + ph[i].p_offset - ph[i].p_vaddr;
        have_load = true;
      }
      if (ph[i].p_type == PT_DYNAMIC) dyn = reinterpret_cast<const Elf64_Dyn*>(ph[i].p_offset);
    }
    if (!have_load || dyn == nullptr) return Fail(why, "no PT_LOAD or PT_DYNAMIC");
    dyn = reinterpret_cast<const Elf64_Dyn*>(v.base_ + reinterpret_cast<uintptr_t>(dyn));
    for (; dyn->d_tag != DT_NULL; ++dyn) {
      uintptr_t at = v.bias_ + dyn->d_un.d_ptr;
      switch (dyn->d_tag) {
        case DT_HASH:
          v.hash_ = reinterpret_cast<const uint32_t*>(at);
          break;
        case DT_GNU_HASH:
          v.gnu_hash_ = reinterpret_cast<const uint32_t*>(at);
          break;
        case DT_SYMTAB:
          v.symtab_ = reinterpret_cast<const Elf64_Sym*>(at);
          break;
        case DT_STRTAB:
          v.strtab_ = reinterpret_cast<const char*>(at);
          break;
        case DT_VERSYM:
          v.versym_ = reinterpret_cast<const Elf64_Versym*>(at);
          break;
        case DT_VERDEF:
          v.verdef_ = reinterpret_cast<const Elf64_Verdef*>(at);
          break;
      }
    }
    if (v.symtab_ == nullptr || v.strtab_ == nullptr) return Fail(why, "no symbol table");
    if (v.hash_ == nullptr && v.gnu_hash_ == nullptr) return Fail(why, "no hash table");
    if (v.versym_ == nullptr || v.verdef_ == nullptr) return Fail(why, "no symbol versions");
    return v;
  }

  uintptr_t base() const { return base_; }
  bool has_sysv_hash() const { return hash_ != nullptr; }
  bool has_gnu_hash() const { return gnu_hash_ != nullptr; }

  // The address of `name` at `version`, found through the SysV hash table (DT_HASH, which Go's
  // vDSO reader needs) or the GNU one.
  const void* Lookup(const char* name, const char* version, bool gnu) const {
    if (gnu) {
      if (gnu_hash_ == nullptr) return nullptr;
      uint32_t nbuckets = gnu_hash_[0], symoffset = gnu_hash_[1], bloom_size = gnu_hash_[2];
      const uint32_t* buckets = gnu_hash_ + 4 + bloom_size * 2;  // 64-bit bloom words
      const uint32_t* chain = buckets + nbuckets;
      uint32_t h = GnuHash(name);
      for (uint32_t i = buckets[h % nbuckets]; i >= symoffset && i != 0; ++i) {
        uint32_t ch = chain[i - symoffset];
        if ((ch | 1) == (h | 1) && Matches(i, name, version)) return Address(i);
        if (ch & 1) break;
      }
      return nullptr;
    }
    if (hash_ == nullptr) return nullptr;
    uint32_t nbucket = hash_[0];
    const uint32_t* bucket = hash_ + 2;
    const uint32_t* chain = bucket + nbucket;
    for (uint32_t i = bucket[SysvHash(name) % nbucket]; i != STN_UNDEF; i = chain[i]) {
      if (Matches(i, name, version)) return Address(i);
    }
    return nullptr;
  }

 private:
  static std::optional<VdsoImage> Fail(std::string* why, const char* what) {
    *why = what;
    return std::nullopt;
  }
  static uint32_t SysvHash(const char* s) {
    uint32_t h = 0;
    for (; *s; ++s) {
      h = (h << 4) + static_cast<unsigned char>(*s);
      uint32_t g = h & 0xf0000000;
      if (g != 0) h ^= g >> 24;
      h &= ~g;
    }
    return h;
  }
  static uint32_t GnuHash(const char* s) {
    uint32_t h = 5381;
    for (; *s; ++s) h = h * 33 + static_cast<unsigned char>(*s);
    return h;
  }
  bool Matches(uint32_t i, const char* name, const char* version) const {
    const Elf64_Sym& sym = symtab_[i];
    if (sym.st_shndx == SHN_UNDEF || ELF64_ST_TYPE(sym.st_info) != STT_FUNC) return false;
    if (strcmp(strtab_ + sym.st_name, name) != 0) return false;
    uint16_t index = versym_[i] & 0x7fff;
    for (const Elf64_Verdef* d = verdef_;;
         d = reinterpret_cast<const Elf64_Verdef*>(reinterpret_cast<const char*>(d) + d->vd_next)) {
      if (!(d->vd_flags & VER_FLG_BASE) && d->vd_ndx == index) {
        auto* aux =
            reinterpret_cast<const Elf64_Verdaux*>(reinterpret_cast<const char*>(d) + d->vd_aux);
        return strcmp(strtab_ + aux->vda_name, version) == 0;
      }
      if (d->vd_next == 0) return false;
    }
  }
  const void* Address(uint32_t i) const {
    return reinterpret_cast<const void*>(bias_ + symtab_[i].st_value);
  }

  uintptr_t base_ = 0, bias_ = 0;
  const uint32_t* hash_ = nullptr;
  const uint32_t* gnu_hash_ = nullptr;
  const Elf64_Sym* symtab_ = nullptr;
  const char* strtab_ = nullptr;
  const Elf64_Versym* versym_ = nullptr;
  const Elf64_Verdef* verdef_ = nullptr;
};

using ClockGettimeFn = int (*)(clockid_t, timespec*);
using GettimeofdayFn = int (*)(timeval*, struct timezone*);
using TimeFn = time_t (*)(time_t*);
using GetcpuFn = int (*)(unsigned*, unsigned*, void*);
using ClockGetresFn = int (*)(clockid_t, timespec*);

struct Vdso {
  VdsoImage image;
  ClockGettimeFn clock_gettime;
  GettimeofdayFn gettimeofday;
  TimeFn time;
  GetcpuFn getcpu;
  ClockGetresFn clock_getres;
};

const Vdso& TheVdso() {
  static const Vdso vdso = [] {
    std::string why;
    auto image = VdsoImage::Find(&why);
    if (!image) {
      ADD_FAILURE() << "vDSO: " << why;
      abort();
    }
    bool gnu = !image->has_sysv_hash();
    auto fn = [&](const char* name) {
      const void* p = image->Lookup(name, kVersion, gnu);
      if (p == nullptr) {
        ADD_FAILURE() << name << "@" << kVersion << " missing";
        abort();
      }
      return p;
    };
    return Vdso{*image,
                reinterpret_cast<ClockGettimeFn>(fn("__vdso_clock_gettime")),
                reinterpret_cast<GettimeofdayFn>(fn("__vdso_gettimeofday")),
                reinterpret_cast<TimeFn>(fn("__vdso_time")),
                reinterpret_cast<GetcpuFn>(fn("__vdso_getcpu")),
                reinterpret_cast<ClockGetresFn>(fn("__vdso_clock_getres"))};
  }();
  return vdso;
}

int64_t Ns(const timespec& ts) { return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec; }

int64_t SyscallNs(clockid_t id) {
  timespec ts{};
  EXPECT_EQ(syscall(SYS_clock_gettime, id, &ts), 0) << "clock " << id;
  return Ns(ts);
}

int64_t VdsoNs(clockid_t id) {
  timespec ts{};
  EXPECT_EQ(TheVdso().clock_gettime(id, &ts), 0) << "clock " << id;
  return Ns(ts);
}

// Clocks the vDSO answers for, or passes on to the kernel.
constexpr clockid_t kClocks[] = {CLOCK_REALTIME,
                                 CLOCK_MONOTONIC,
                                 CLOCK_MONOTONIC_RAW,
                                 CLOCK_BOOTTIME,
                                 CLOCK_TAI,
                                 CLOCK_REALTIME_COARSE,
                                 CLOCK_MONOTONIC_COARSE,
                                 CLOCK_PROCESS_CPUTIME_ID,
                                 CLOCK_THREAD_CPUTIME_ID};
constexpr clockid_t kInvalidClocks[] = {10, 16, 100, 0x7fffffff};

TEST(VdsoTest, ImageExportsTheEntryPointsAtLinux26) {
  std::string why;
  auto image = VdsoImage::Find(&why);
  ASSERT_TRUE(image) << why;
  // Both hash tables, when present, must find every entry point.
  for (bool gnu : {false, true}) {
    if (gnu ? !image->has_gnu_hash() : !image->has_sysv_hash()) continue;
    for (const char* name : {"__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time",
                             "__vdso_getcpu", "__vdso_clock_getres"}) {
      EXPECT_NE(image->Lookup(name, kVersion, gnu), nullptr)
          << name << " (" << (gnu ? "DT_GNU_HASH" : "DT_HASH") << ")";
      EXPECT_EQ(image->Lookup(name, "LINUX_9.9", gnu), nullptr) << name;
    }
  }
  // Go finds the vDSO through DT_HASH alone.
  EXPECT_TRUE(image->has_sysv_hash());
}

TEST(VdsoTest, EveryClockAgreesWithTheSyscallInOrder) {
  for (clockid_t id : kClocks) {
    for (int i = 0; i < 200; ++i) {
      int64_t a = VdsoNs(id);
      int64_t b = SyscallNs(id);
      int64_t c = VdsoNs(id);
      ASSERT_LE(a, b) << "clock " << id << ": the vDSO read ahead of a later syscall";
      ASSERT_LE(b, c) << "clock " << id << ": the vDSO read behind an earlier syscall";
    }
  }
}

TEST(VdsoTest, ClocksNeverGoBackwards) {
  for (clockid_t id : {CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_BOOTTIME, CLOCK_REALTIME}) {
    int64_t last = VdsoNs(id);
    for (int i = 0; i < 1'000'000; ++i) {
      int64_t now = VdsoNs(id);
      ASSERT_GE(now, last) << "clock " << id << " at read " << i;
      last = now;
    }
  }
}

TEST(VdsoTest, MonotonicAcrossThreads) {
  // Whatever one thread read before another read must not be later than what that one got.
  std::atomic<int64_t> latest{VdsoNs(CLOCK_MONOTONIC)};
  std::atomic<bool> backwards{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200'000 && !backwards; ++i) {
        int64_t seen = latest.load();
        int64_t now = VdsoNs(CLOCK_MONOTONIC);
        if (now < seen) backwards = true;
        while (seen < now && !latest.compare_exchange_weak(seen, now)) {
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_FALSE(backwards);
}

TEST(VdsoTest, GettimeofdayAgreesWithRealtime) {
  for (int i = 0; i < 200; ++i) {
    int64_t before = SyscallNs(CLOCK_REALTIME);
    timeval tv{};
    ASSERT_EQ(TheVdso().gettimeofday(&tv, nullptr), 0);
    int64_t after = SyscallNs(CLOCK_REALTIME);
    int64_t us = tv.tv_sec * 1'000'000LL + tv.tv_usec;
    ASSERT_GE(tv.tv_usec, 0);
    ASSERT_LT(tv.tv_usec, 1'000'000);
    ASSERT_LE(before / 1000, us);
    ASSERT_LE(us, after / 1000);
  }
  struct timezone tz {};
  EXPECT_EQ(TheVdso().gettimeofday(nullptr, &tz), 0);
  EXPECT_EQ(TheVdso().gettimeofday(nullptr, nullptr), 0);
}

TEST(VdsoTest, TimeAgreesWithRealtimeAndTheSyscall) {
  for (int i = 0; i < 200; ++i) {
    long before = syscall(SYS_time, nullptr);
    int64_t rt_before = SyscallNs(CLOCK_REALTIME);
    time_t stored = 0;
    time_t t = TheVdso().time(&stored);
    int64_t rt_after = SyscallNs(CLOCK_REALTIME);
    long after = syscall(SYS_time, nullptr);
    EXPECT_EQ(stored, t);
    ASSERT_LE(before, t);
    ASSERT_LE(t, after);
    // time() may count in the kernel's coarse ticks, a little behind the precise clock.
    ASSERT_LE(rt_before / 1'000'000'000 - 1, t);
    ASSERT_LE(t, rt_after / 1'000'000'000);
  }
  EXPECT_GT(TheVdso().time(nullptr), 1'000'000'000);
}

TEST(VdsoTest, ClockGetresMatchesTheSyscall) {
  for (clockid_t id : kClocks) {
    timespec vdso{-1, -1}, sys{-2, -2};
    ASSERT_EQ(TheVdso().clock_getres(id, &vdso), 0) << "clock " << id;
    ASSERT_EQ(syscall(SYS_clock_getres, id, &sys), 0) << "clock " << id;
    EXPECT_EQ(vdso.tv_sec, sys.tv_sec) << "clock " << id;
    EXPECT_EQ(vdso.tv_nsec, sys.tv_nsec) << "clock " << id;
    EXPECT_EQ(TheVdso().clock_getres(id, nullptr), 0) << "clock " << id;
  }
}

TEST(VdsoTest, InvalidClockIsEinvalLikeTheSyscall) {
  for (clockid_t id : kInvalidClocks) {
    timespec ts{};
    EXPECT_EQ(TheVdso().clock_gettime(id, &ts), -EINVAL) << "clock " << id;
    // Linux 6.17 made 16 the first auxiliary clock (CLOCK_AUX), whose resolution its vDSO
    // reports even while the syscall refuses the clock: no answer there is the reference.
    if (id != 16) {
      EXPECT_EQ(TheVdso().clock_getres(id, &ts), -EINVAL) << "clock " << id;
    }
    EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_clock_gettime, id, &ts)) << "clock " << id;
    // glibc's wrapper, which goes through the vDSO, turns it into errno.
    EXPECT_SYSCALL_ERRNO(EINVAL, clock_gettime(id, &ts)) << "clock " << id;
  }
}

TEST(VdsoTest, GetcpuNamesAnOnlineCpuAsTheSyscallDoes) {
  const unsigned ncpus = static_cast<unsigned>(get_nprocs_conf());
  bool compared = false;
  for (int i = 0; i < 1000 && !compared; ++i) {
    unsigned sys_cpu = ~0u, sys_node = ~0u, cpu = ~0u, node = ~0u, sys_cpu2 = ~0u;
    ASSERT_EQ(syscall(SYS_getcpu, &sys_cpu, &sys_node, nullptr), 0);
    ASSERT_EQ(TheVdso().getcpu(&cpu, &node, nullptr), 0);
    ASSERT_EQ(syscall(SYS_getcpu, &sys_cpu2, nullptr, nullptr), 0);
    ASSERT_LT(cpu, ncpus);
    EXPECT_EQ(node, sys_node);
    if (sys_cpu == sys_cpu2) {  // not migrated meanwhile (most likely)
      EXPECT_EQ(cpu, sys_cpu);
      compared = true;
    }
  }
  EXPECT_TRUE(compared);
  EXPECT_EQ(TheVdso().getcpu(nullptr, nullptr, nullptr), 0);
}

TEST(VdsoTest, PinnedThreadSeesItsCpu) {
  cpu_set_t old;
  ASSERT_EQ(sched_getaffinity(0, sizeof(old), &old), 0);
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &old)) continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
    unsigned vdso_cpu = ~0u, sys_cpu = ~0u;
    ASSERT_EQ(TheVdso().getcpu(&vdso_cpu, nullptr, nullptr), 0);
    ASSERT_EQ(syscall(SYS_getcpu, &sys_cpu, nullptr, nullptr), 0);
    EXPECT_EQ(vdso_cpu, sys_cpu) << "pinned to CPU " << cpu;
  }
  ASSERT_EQ(sched_setaffinity(0, sizeof(old), &old), 0);
}

TEST(VdsoTest, ReadsAfterAnAbsoluteSleepAreAtOrPastTheDeadline) {
  for (clockid_t id : {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME}) {
    for (int i = 0; i < 300; ++i) {
      timespec deadline{};
      ASSERT_EQ(TheVdso().clock_gettime(id, &deadline), 0);
      deadline.tv_nsec += 20'000 + (i % 10) * 10'000;
      if (deadline.tv_nsec >= 1'000'000'000) {
        deadline.tv_nsec -= 1'000'000'000;
        ++deadline.tv_sec;
      }
      ASSERT_EQ(clock_nanosleep(id, TIMER_ABSTIME, &deadline, nullptr), 0);
      ASSERT_GE(VdsoNs(id), Ns(deadline)) << "clock " << id << " sleep " << i;
    }
  }
}

struct MapsLine {
  uintptr_t start = 0, end = 0;
  std::string perms;
};

std::optional<MapsLine> FindMapping(const std::string& name) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.size() < name.size() || line.compare(line.size() - name.size(), name.size(), name))
      continue;
    MapsLine m;
    m.start = std::stoull(line.substr(0, line.find('-')), nullptr, 16);
    m.end = std::stoull(line.substr(line.find('-') + 1), nullptr, 16);
    m.perms = line.substr(line.find(' ') + 1, 4);
    return m;
  }
  return std::nullopt;
}

TEST(VdsoTest, MapsShowsVdsoAndVvar) {
  auto vdso = FindMapping("[vdso]");
  ASSERT_TRUE(vdso);
  EXPECT_EQ(vdso->start, getauxval(AT_SYSINFO_EHDR));
  EXPECT_EQ(vdso->perms, "r-xp");
  auto vvar = FindMapping("[vvar]");
  ASSERT_TRUE(vvar);
  EXPECT_EQ(vvar->perms, "r--p");
  EXPECT_LT(vvar->start, vdso->start);
}

TEST(VdsoTest, VvarCannotBeMadeWritable) {
  auto vvar = FindMapping("[vvar]");
  ASSERT_TRUE(vvar);
  EXPECT_SYSCALL_ERRNO(EACCES, mprotect(reinterpret_cast<void*>(vvar->start),
                                        conformance::PageSize(), PROT_READ | PROT_WRITE));
}

TEST(VdsoTest, ForkedChildUsesTheSameVdso) {
  const Vdso& v = TheVdso();  // resolved before the fork
  int rc = InChild([&] {
    if (getauxval(AT_SYSINFO_EHDR) != v.image.base()) return 1;
    for (clockid_t id : {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME}) {
      for (int i = 0; i < 100; ++i) {
        timespec a{}, b{}, c{};
        if (v.clock_gettime(id, &a) != 0 || syscall(SYS_clock_gettime, id, &b) != 0 ||
            v.clock_gettime(id, &c) != 0) {
          return 2;
        }
        if (Ns(a) > Ns(b) || Ns(b) > Ns(c)) return 3;
      }
    }
    unsigned cpu = ~0u;
    if (v.getcpu(&cpu, nullptr, nullptr) != 0 || cpu >= static_cast<unsigned>(get_nprocs_conf()))
      return 4;
    return 0;
  });
  EXPECT_EQ(rc, 0);
}

TEST(VdsoTest, UnmappingTheVdsoIsAllowed) {
  auto vdso = FindMapping("[vdso]");
  auto vvar = FindMapping("[vvar]");
  ASSERT_TRUE(vdso && vvar);
  int rc = InChild([&] {
    if (munmap(reinterpret_cast<void*>(vdso->start), vdso->end - vdso->start) != 0) return 1;
    if (munmap(reinterpret_cast<void*>(vvar->start), vvar->end - vvar->start) != 0) return 2;
    return FindMapping("[vdso]") ? 3 : 0;
  });
  EXPECT_EQ(rc, 0);
}

// Linux maps the vDSO as a special mapping: MADV_DONTNEED drops the pages, and the next access
// faults the image in again, so the clocks keep working.
TEST(VdsoTest, DontNeedOverTheVdsoKeepsItWorking) {
  const Vdso& v = TheVdso();  // resolved before the fork
  auto vdso = FindMapping("[vdso]");
  ASSERT_TRUE(vdso);
  int rc = InChild([&] {
    auto* image = reinterpret_cast<const unsigned char*>(vdso->start);
    std::vector<unsigned char> before(image, image + (vdso->end - vdso->start));
    if (madvise(reinterpret_cast<void*>(vdso->start), vdso->end - vdso->start, MADV_DONTNEED))
      return 1;
    if (std::memcmp(before.data(), image, before.size()) != 0) return 2;
    for (clockid_t id : {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME}) {
      for (int i = 0; i < 100; ++i) {
        timespec a{}, b{}, c{};
        if (v.clock_gettime(id, &a) != 0 || syscall(SYS_clock_gettime, id, &b) != 0 ||
            v.clock_gettime(id, &c) != 0) {
          return 3;
        }
        if (Ns(a) > Ns(b) || Ns(b) > Ns(c)) return 4;
      }
    }
    return 0;
  });
  EXPECT_EQ(rc, 0);
}

// A write into the vDSO (made writable as a whole, as a debugger does) goes to a copy of the
// page, which MADV_DONTNEED drops: the image comes back.
TEST(VdsoTest, DontNeedBringsBackAWrittenVdsoPage) {
  auto vdso = FindMapping("[vdso]");
  ASSERT_TRUE(vdso);
  int rc = InChild([&] {
    auto* image = reinterpret_cast<unsigned char*>(vdso->start);
    size_t len = vdso->end - vdso->start;
    std::vector<unsigned char> before(image, image + len);
    if (mprotect(image, len, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) return 1;
    image[0] = 0;  // the ELF magic's 0x7f
    if (image[0] != 0) return 2;
    if (madvise(image, len, MADV_DONTNEED) != 0) return 3;
    if (std::memcmp(before.data(), image, len) != 0) return 4;
    return mprotect(image, len, PROT_READ | PROT_EXEC) == 0 ? 0 : 5;
  });
  EXPECT_EQ(rc, 0);
}

// [vvar] holds the kernel's data, not pages to drop (Linux: a VM_PFNMAP mapping); MADV_FREE is
// for private anonymous memory only.
TEST(VdsoTest, VvarAndVdsoRefuseDiscards) {
  auto vdso = FindMapping("[vdso]");
  auto vvar = FindMapping("[vvar]");
  ASSERT_TRUE(vdso && vvar);
  auto* vvar_start = reinterpret_cast<void*>(vvar->start);
  EXPECT_SYSCALL_ERRNO(EINVAL, madvise(vvar_start, vvar->end - vvar->start, MADV_DONTNEED));
  EXPECT_SYSCALL_ERRNO(EINVAL, madvise(vvar_start, vvar->end - vvar->start, MADV_FREE));
  EXPECT_SYSCALL_ERRNO(
      EINVAL, madvise(reinterpret_cast<void*>(vdso->start), vdso->end - vdso->start, MADV_FREE));
}

// Linux never splits a special mapping: changing part of the vDSO is EINVAL, the whole of it
// (or nothing) is fine.
TEST(VdsoTest, TheVdsoCannotBeSplit) {
  auto vdso = FindMapping("[vdso]");
  ASSERT_TRUE(vdso);
  const size_t page = conformance::PageSize();
  ASSERT_GE(vdso->end - vdso->start, 2 * page);  // this image spans two pages
  int rc = InChild([&] {
    auto* start = reinterpret_cast<char*>(vdso->start);
    size_t len = vdso->end - vdso->start;
    if (mprotect(start, page, PROT_READ) != -1 || errno != EINVAL) return 1;
    if (mprotect(start + page, len - page, PROT_READ) != -1 || errno != EINVAL) return 2;
    if (mprotect(start, page, PROT_READ | PROT_EXEC) != 0) return 3;  // no change, no split
    if (munmap(start + page, len - page) != -1 || errno != EINVAL) return 4;
    if (madvise(start, page, MADV_DONTFORK) != -1 || errno != EINVAL) return 5;
    if (mremap(start, len, page, 0) != MAP_FAILED || errno != EINVAL) return 6;
    if (mmap(start, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) !=
            MAP_FAILED ||
        errno != EINVAL) {
      return 7;
    }
    if (mprotect(start, len, PROT_READ) != 0) return 8;  // the whole mapping
    if (mprotect(start, len, PROT_READ | PROT_EXEC) != 0) return 9;
    if (madvise(start, len, MADV_DONTFORK) != 0) return 10;
    if (FindMapping("[vdso]")->end != vdso->end) return 11;
    return munmap(start, len) == 0 && !FindMapping("[vdso]") ? 0 : 12;
  });
  EXPECT_EQ(rc, 0);
}

}  // namespace
