// arch_prctl(2): the FS and GS segment bases. FS holds glibc's thread pointer (the TCB, whose
// first word points to itself), so FS is only ever read back or set to the value it already has.
#include <asm/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

#include <gtest/gtest.h>

#include "syscalls/test_util.h"

namespace {

long ArchPrctl(int code, uintptr_t arg) { return syscall(SYS_arch_prctl, code, arg); }

uintptr_t ReadFsWord0() {
  uintptr_t v;
  asm volatile("mov %%fs:0, %0" : "=r"(v));
  return v;
}

uintptr_t ReadGsWord0() {
  uintptr_t v;
  asm volatile("mov %%gs:0, %0" : "=r"(v));
  return v;
}

// Restores GS base 0, which is what a fresh x86-64 process has.
class ResetGs {
 public:
  ~ResetGs() { ArchPrctl(ARCH_SET_GS, 0); }
};

TEST(ArchPrctlTest, GetFsReturnsTheThreadPointer) {
  uintptr_t fs = 0;
  ASSERT_SYSCALL_OK(ArchPrctl(ARCH_GET_FS, reinterpret_cast<uintptr_t>(&fs)));
  EXPECT_NE(fs, 0u);
  // glibc's TCB starts with a pointer to itself, and %fs:0 reads it through the FS base.
  EXPECT_EQ(ReadFsWord0(), fs);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(__builtin_thread_pointer()), fs);
}

TEST(ArchPrctlTest, SetFsToItsOwnValueKeepsTls) {
  thread_local int tls_variable = 42;
  uintptr_t fs = 0;
  ASSERT_SYSCALL_OK(ArchPrctl(ARCH_GET_FS, reinterpret_cast<uintptr_t>(&fs)));
  ASSERT_SYSCALL_OK(ArchPrctl(ARCH_SET_FS, fs));
  uintptr_t again = 0;
  ASSERT_SYSCALL_OK(ArchPrctl(ARCH_GET_FS, reinterpret_cast<uintptr_t>(&again)));
  EXPECT_EQ(again, fs);
  EXPECT_EQ(tls_variable, 42);
}

TEST(ArchPrctlTest, SetGsThenGetGsRoundTrips) {
  ResetGs reset;
  static uintptr_t gs_target[2] = {0x1122334455667788, 0};
  const uintptr_t base = reinterpret_cast<uintptr_t>(&gs_target[0]);
  ASSERT_SYSCALL_OK(ArchPrctl(ARCH_SET_GS, base));
  uintptr_t got = 0;
  ASSERT_SYSCALL_OK(ArchPrctl(ARCH_GET_GS, reinterpret_cast<uintptr_t>(&got)));
  EXPECT_EQ(got, base);
  // The new base is live in the CPU, not just recorded.
  EXPECT_EQ(ReadGsWord0(), 0x1122334455667788u);
}

TEST(ArchPrctlTest, GsStartsAtZero) {
  uintptr_t got = 1;
  ASSERT_SYSCALL_OK(ArchPrctl(ARCH_GET_GS, reinterpret_cast<uintptr_t>(&got)));
  EXPECT_EQ(got, 0u);
}

TEST(ArchPrctlTest, NonCanonicalOrKernelBaseIsEPERM) {
  ResetGs reset;
  EXPECT_SYSCALL_ERRNO(EPERM, ArchPrctl(ARCH_SET_GS, uintptr_t{1} << 63));
  EXPECT_SYSCALL_ERRNO(EPERM, ArchPrctl(ARCH_SET_GS, ~uintptr_t{0}));
  EXPECT_SYSCALL_ERRNO(EPERM, ArchPrctl(ARCH_SET_FS, uintptr_t{1} << 63));
  // The failed calls changed nothing.
  uintptr_t fs = 0;
  ASSERT_SYSCALL_OK(ArchPrctl(ARCH_GET_FS, reinterpret_cast<uintptr_t>(&fs)));
  EXPECT_EQ(ReadFsWord0(), fs);
}

TEST(ArchPrctlTest, BadCodeIsEINVAL) {
  uintptr_t v = 0;
  for (int code : {0, 0x1000, 0x1005, 0x9999, -1}) {
    EXPECT_SYSCALL_ERRNO(EINVAL, ArchPrctl(code, reinterpret_cast<uintptr_t>(&v)))
        << "code " << code;
  }
}

TEST(ArchPrctlTest, GetWithBadPointerIsEFAULT) {
  EXPECT_SYSCALL_ERRNO(EFAULT, ArchPrctl(ARCH_GET_FS, 0));
  EXPECT_SYSCALL_ERRNO(EFAULT, ArchPrctl(ARCH_GET_GS, 1));
}

}  // namespace
