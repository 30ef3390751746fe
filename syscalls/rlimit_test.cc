// Resource limits: getrlimit, setrlimit, prlimit64.
//
// Tests that change a limit put the soft limit back. Hard limits are only ever lowered, on
// RLIMIT_RTTIME, which nothing in this program depends on: raising one again needs
// CAP_SYS_RESOURCE, which the test cannot count on.
#include <limits.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

#include <gtest/gtest.h>

#include "syscalls/test_util.h"

namespace {

// The x86-64 kernel's struct rlimit and struct rlimit64 are both two 64-bit values.
struct KernelRlimit {
  uint64_t cur;
  uint64_t max;
};

constexpr uint64_t kInfinity = ~uint64_t{0};

long Getrlimit(int resource, KernelRlimit* r) { return syscall(SYS_getrlimit, resource, r); }
long Setrlimit(int resource, const KernelRlimit* r) { return syscall(SYS_setrlimit, resource, r); }
long Prlimit(pid_t pid, int resource, const KernelRlimit* new_limit, KernelRlimit* old_limit) {
  return syscall(SYS_prlimit64, pid, resource, new_limit, old_limit);
}

// Every resource Linux defines: 0 (RLIMIT_CPU) through 15 (RLIMIT_RTTIME).
constexpr int kResources = RLIM_NLIMITS;
static_assert(kResources == 16);

TEST(RlimitTest, EveryResourceHasSoftAtMostHard) {
  for (int r = 0; r < kResources; r++) {
    KernelRlimit lim{};
    ASSERT_SYSCALL_OK(Getrlimit(r, &lim)) << "resource " << r;
    EXPECT_LE(lim.cur, lim.max) << "resource " << r;
  }
}

TEST(RlimitTest, GetrlimitAndPrlimitAgree) {
  for (int r = 0; r < kResources; r++) {
    KernelRlimit a{}, b{}, c{};
    ASSERT_SYSCALL_OK(Getrlimit(r, &a));
    ASSERT_SYSCALL_OK(Prlimit(0, r, nullptr, &b));
    // pid 0 and the caller's own pid name the same process.
    ASSERT_SYSCALL_OK(Prlimit(getpid(), r, nullptr, &c));
    EXPECT_EQ(a.cur, b.cur) << "resource " << r;
    EXPECT_EQ(a.max, b.max) << "resource " << r;
    EXPECT_EQ(a.cur, c.cur) << "resource " << r;
    EXPECT_EQ(a.max, c.max) << "resource " << r;
  }
}

TEST(RlimitTest, PrlimitWithNeitherArgumentSucceeds) {
  EXPECT_SYSCALL_OK(Prlimit(0, RLIMIT_CORE, nullptr, nullptr));
}

TEST(RlimitTest, BadResourceIsEINVAL) {
  KernelRlimit lim{};
  ASSERT_SYSCALL_OK(Getrlimit(RLIMIT_CORE, &lim));
  for (int r : {kResources, 100, -1, INT_MAX}) {
    KernelRlimit out{};
    EXPECT_SYSCALL_ERRNO(EINVAL, Getrlimit(r, &out)) << "resource " << r;
    EXPECT_SYSCALL_ERRNO(EINVAL, Setrlimit(r, &lim)) << "resource " << r;
    EXPECT_SYSCALL_ERRNO(EINVAL, Prlimit(0, r, nullptr, &out)) << "resource " << r;
    EXPECT_SYSCALL_ERRNO(EINVAL, Prlimit(0, r, &lim, nullptr)) << "resource " << r;
  }
}

TEST(RlimitTest, SoftAboveHardIsEINVAL) {
  KernelRlimit before{};
  ASSERT_SYSCALL_OK(Getrlimit(RLIMIT_CORE, &before));
  const KernelRlimit bad{.cur = 2, .max = 1};
  EXPECT_SYSCALL_ERRNO(EINVAL, Setrlimit(RLIMIT_CORE, &bad));
  EXPECT_SYSCALL_ERRNO(EINVAL, Prlimit(0, RLIMIT_CORE, &bad, nullptr));
  const KernelRlimit infinite_soft{.cur = kInfinity, .max = 1};
  EXPECT_SYSCALL_ERRNO(EINVAL, Setrlimit(RLIMIT_CORE, &infinite_soft));
  // A refused change leaves the limit as it was.
  KernelRlimit after{};
  ASSERT_SYSCALL_OK(Getrlimit(RLIMIT_CORE, &after));
  EXPECT_EQ(after.cur, before.cur);
  EXPECT_EQ(after.max, before.max);
}

TEST(RlimitTest, LoweredSoftLimitReadsBackAndCanBeRaisedToHard) {
  KernelRlimit orig{};
  ASSERT_SYSCALL_OK(Getrlimit(RLIMIT_CORE, &orig));
  const KernelRlimit lowered{.cur = 0, .max = orig.max};
  ASSERT_SYSCALL_OK(Setrlimit(RLIMIT_CORE, &lowered));
  KernelRlimit got{};
  ASSERT_SYSCALL_OK(Getrlimit(RLIMIT_CORE, &got));
  EXPECT_EQ(got.cur, 0u);
  EXPECT_EQ(got.max, orig.max);
  // Any process may move its soft limit anywhere up to the hard limit.
  const KernelRlimit raised{.cur = orig.max, .max = orig.max};
  EXPECT_SYSCALL_OK(Setrlimit(RLIMIT_CORE, &raised));
  ASSERT_SYSCALL_OK(Getrlimit(RLIMIT_CORE, &got));
  EXPECT_EQ(got.cur, orig.max);
  ASSERT_SYSCALL_OK(Setrlimit(RLIMIT_CORE, &orig));
}

TEST(RlimitTest, PrlimitSetsTheNewLimitAndReturnsTheOldOne) {
  KernelRlimit orig{};
  ASSERT_SYSCALL_OK(Getrlimit(RLIMIT_CORE, &orig));
  const KernelRlimit lowered{.cur = 0, .max = orig.max};
  KernelRlimit old{.cur = 12345, .max = 12345};
  ASSERT_SYSCALL_OK(Prlimit(0, RLIMIT_CORE, &lowered, &old));
  EXPECT_EQ(old.cur, orig.cur);
  EXPECT_EQ(old.max, orig.max);
  KernelRlimit got{};
  ASSERT_SYSCALL_OK(Getrlimit(RLIMIT_CORE, &got));
  EXPECT_EQ(got.cur, 0u);
  EXPECT_EQ(got.max, orig.max);
  ASSERT_SYSCALL_OK(Prlimit(0, RLIMIT_CORE, &orig, &old));
  EXPECT_EQ(old.cur, 0u);
}

TEST(RlimitTest, LoweredHardLimitReadsBack) {
  KernelRlimit orig{};
  ASSERT_SYSCALL_OK(Getrlimit(RLIMIT_RTTIME, &orig));
  if (orig.max < 2000) GTEST_SKIP() << "RLIMIT_RTTIME hard limit is already " << orig.max;
  const KernelRlimit lowered{.cur = 1000, .max = 2000};
  ASSERT_SYSCALL_OK(Setrlimit(RLIMIT_RTTIME, &lowered));
  KernelRlimit got{};
  ASSERT_SYSCALL_OK(Getrlimit(RLIMIT_RTTIME, &got));
  EXPECT_EQ(got.cur, 1000u);
  EXPECT_EQ(got.max, 2000u);
  // Lowering further needs no privilege either.
  const KernelRlimit lower{.cur = 500, .max = 500};
  ASSERT_SYSCALL_OK(Prlimit(0, RLIMIT_RTTIME, &lower, nullptr));
  ASSERT_SYSCALL_OK(Prlimit(0, RLIMIT_RTTIME, nullptr, &got));
  EXPECT_EQ(got.cur, 500u);
  EXPECT_EQ(got.max, 500u);
}

TEST(RlimitTest, NofileAboveNrOpenIsEPERM) {
  // No process, privileged or not, may raise RLIMIT_NOFILE beyond fs.nr_open, which is far below
  // infinity.
  KernelRlimit before{};
  ASSERT_SYSCALL_OK(Getrlimit(RLIMIT_NOFILE, &before));
  const KernelRlimit infinite{.cur = kInfinity, .max = kInfinity};
  EXPECT_SYSCALL_ERRNO(EPERM, Setrlimit(RLIMIT_NOFILE, &infinite));
  KernelRlimit after{};
  ASSERT_SYSCALL_OK(Getrlimit(RLIMIT_NOFILE, &after));
  EXPECT_EQ(after.cur, before.cur);
  EXPECT_EQ(after.max, before.max);
}

TEST(RlimitTest, AddressSpaceLimitIsEnforcedByMmap) {
  KernelRlimit orig{};
  ASSERT_SYSCALL_OK(Getrlimit(RLIMIT_AS, &orig));
  const uint64_t limit = uint64_t{1} << 30;
  if (orig.max < limit) GTEST_SKIP() << "RLIMIT_AS hard limit is already " << orig.max;
  // A static test binary uses a few megabytes of address space, far below 1 GiB.
  const KernelRlimit lowered{.cur = limit, .max = orig.max};
  ASSERT_SYSCALL_OK(Setrlimit(RLIMIT_AS, &lowered));
  void* big = mmap(nullptr, size_t{2} << 30, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  const int big_errno = errno;
  void* small = mmap(nullptr, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_SYSCALL_OK(Setrlimit(RLIMIT_AS, &orig));

  EXPECT_EQ(big, MAP_FAILED);
  EXPECT_EQ(big_errno, ENOMEM) << conformance::ErrnoName(big_errno);
  EXPECT_NE(small, MAP_FAILED);
  if (big != MAP_FAILED) munmap(big, size_t{2} << 30);
  if (small != MAP_FAILED) munmap(small, 1 << 20);
}

TEST(RlimitTest, NonexistentPidIsESRCH) {
  KernelRlimit lim{};
  // Above PID_MAX_LIMIT (4194304), so no process can have it.
  EXPECT_SYSCALL_ERRNO(ESRCH, Prlimit(INT_MAX, RLIMIT_CORE, nullptr, &lim));
  EXPECT_SYSCALL_ERRNO(ESRCH, Prlimit(-1, RLIMIT_CORE, nullptr, &lim));
}

TEST(RlimitTest, BadPointerIsEFAULT) {
  EXPECT_SYSCALL_ERRNO(EFAULT, Getrlimit(RLIMIT_CORE, nullptr));
  EXPECT_SYSCALL_ERRNO(EFAULT, Getrlimit(RLIMIT_CORE, reinterpret_cast<KernelRlimit*>(1)));
  EXPECT_SYSCALL_ERRNO(EFAULT, Setrlimit(RLIMIT_CORE, nullptr));
  EXPECT_SYSCALL_ERRNO(EFAULT,
                       Prlimit(0, RLIMIT_CORE, nullptr, reinterpret_cast<KernelRlimit*>(1)));
  EXPECT_SYSCALL_ERRNO(EFAULT,
                       Prlimit(0, RLIMIT_CORE, reinterpret_cast<KernelRlimit*>(1), nullptr));
}

TEST(RlimitTest, GlibcWrappersAgree) {
  rlimit glibc{};
  KernelRlimit raw{};
  ASSERT_EQ(getrlimit(RLIMIT_STACK, &glibc), 0);
  ASSERT_SYSCALL_OK(Getrlimit(RLIMIT_STACK, &raw));
  EXPECT_EQ(glibc.rlim_cur, raw.cur);
  EXPECT_EQ(glibc.rlim_max, raw.max);
}

}  // namespace
