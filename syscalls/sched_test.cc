// CPU affinity: sched_getaffinity/sched_setaffinity sizes, masks and errors.
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

#include <gtest/gtest.h>

#include "syscalls/test_util.h"

namespace {

long GetAffinity(pid_t pid, size_t len, void* mask) {
  return syscall(SYS_sched_getaffinity, pid, len, mask);
}

TEST(Sched, GetaffinityReturnsTheMaskSize) {
  cpu_set_t set;
  CPU_ZERO(&set);
  long n = GetAffinity(0, sizeof(set), &set);
  ASSERT_GT(n, 0) << conformance::ErrnoName(errno);
  EXPECT_EQ(n % static_cast<long>(sizeof(long)), 0);
  EXPECT_GT(CPU_COUNT(&set), 0);
  EXPECT_EQ(CPU_COUNT(&set), sysconf(_SC_NPROCESSORS_ONLN));
}

TEST(Sched, GetaffinityRejectsShortOrOddLengths) {
  uint64_t mask[16] = {};
  EXPECT_SYSCALL_ERRNO(EINVAL, GetAffinity(0, 1, mask));
  EXPECT_SYSCALL_ERRNO(EINVAL, GetAffinity(0, 12, mask));
  EXPECT_SYSCALL_ERRNO(EFAULT, GetAffinity(0, sizeof(mask), nullptr));
  EXPECT_SYSCALL_ERRNO(ESRCH, GetAffinity(-1, sizeof(mask), mask));
}

TEST(Sched, SetaffinityNarrowsTheMask) {
  cpu_set_t old;
  ASSERT_EQ(sched_getaffinity(0, sizeof(old), &old), 0);
  cpu_set_t one;
  CPU_ZERO(&one);
  int first = 0;
  while (!CPU_ISSET(first, &old)) ++first;
  CPU_SET(first, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
  cpu_set_t now;
  ASSERT_EQ(sched_getaffinity(0, sizeof(now), &now), 0);
  EXPECT_EQ(CPU_COUNT(&now), 1);
  EXPECT_TRUE(CPU_ISSET(first, &now));
  // A mask with no usable CPU is refused.
  cpu_set_t none;
  CPU_ZERO(&none);
  EXPECT_SYSCALL_ERRNO(EINVAL, sched_setaffinity(0, sizeof(none), &none));
  ASSERT_EQ(sched_setaffinity(0, sizeof(old), &old), 0);
}

}  // namespace
