// The amd64 signal frame's FP part: Linux saves the whole XSAVE area there (UC_FP_XSTATE, the
// software-reserved bytes of the fxsave image describing it, a second magic word after it),
// and rt_sigreturn restores what the handler left in it, AVX upper halves included.
#include <cpuid.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include <gtest/gtest.h>

namespace {

constexpr uint64_t kUcFpXstate = 0x1;

struct FrameReport {
  bool has_xstate_flag = false;
  uint32_t magic1 = 0;
  uint32_t extended_size = 0;
  uint32_t xstate_size = 0;
  uint32_t magic2 = 0;
};
FrameReport g_report;

// Where YMM0's upper 128 bits live in the standard XSAVE layout (CPUID.0xD.2:EBX).
uint32_t YmmUpperOffset() {
  unsigned eax, ebx, ecx, edx;
  __cpuid_count(0xd, 2, eax, ebx, ecx, edx);
  return ebx;
}

const uint8_t* FpState(void* uc_void) {
  auto* uc = static_cast<ucontext_t*>(uc_void);
  return reinterpret_cast<const uint8_t*>(uc->uc_mcontext.fpregs);
}

void Describe(int, siginfo_t*, void* uc_void) {
  auto* uc = static_cast<ucontext_t*>(uc_void);
  const uint8_t* fp = FpState(uc_void);
  g_report.has_xstate_flag = uc->uc_flags & kUcFpXstate;
  _fpx_sw_bytes sw;
  memcpy(&sw, fp + 464, sizeof(sw));
  g_report.magic1 = sw.magic1;
  g_report.extended_size = sw.extended_size;
  g_report.xstate_size = sw.xstate_size;
  if (sw.magic1 == FP_XSTATE_MAGIC1) memcpy(&g_report.magic2, fp + sw.xstate_size, 4);
}

uint8_t g_new_upper[16];

// Writes a new upper half for YMM0 into the frame, for rt_sigreturn to restore.
void EditYmm0(int, siginfo_t*, void* uc_void) {
  auto* fp = const_cast<uint8_t*>(FpState(uc_void));
  memcpy(fp + YmmUpperOffset(), g_new_upper, sizeof(g_new_upper));
  uint64_t bv;
  memcpy(&bv, fp + 512, 8);
  bv |= 4;  // the YMM component is in the area now
  memcpy(fp + 512, &bv, 8);
}

void Install(void (*handler)(int, siginfo_t*, void*)) {
  struct sigaction sa = {};
  sa.sa_sigaction = handler;
  sa.sa_flags = SA_SIGINFO;
  ASSERT_EQ(sigaction(SIGUSR1, &sa, nullptr), 0);
}

TEST(SignalFrame, HoldsTheWholeXsaveArea) {
  if (!__builtin_cpu_supports("avx")) GTEST_SKIP() << "no AVX on this CPU";
  Install(Describe);
  ASSERT_EQ(raise(SIGUSR1), 0);
  EXPECT_TRUE(g_report.has_xstate_flag);
  EXPECT_EQ(g_report.magic1, FP_XSTATE_MAGIC1);
  EXPECT_GE(g_report.xstate_size, 576u);  // fxsave + header at least
  EXPECT_EQ(g_report.extended_size, g_report.xstate_size + 4);
  EXPECT_EQ(g_report.magic2, FP_XSTATE_MAGIC2);
  signal(SIGUSR1, SIG_DFL);
}

TEST(SignalFrame, SigreturnRestoresTheAvxStateTheHandlerLeft) {
  if (!__builtin_cpu_supports("avx")) GTEST_SKIP() << "no AVX on this CPU";
  Install(EditYmm0);
  alignas(32) uint8_t before[32], after[32];
  for (int i = 0; i < 32; ++i) before[i] = static_cast<uint8_t>(i + 1);
  for (int i = 0; i < 16; ++i) g_new_upper[i] = static_cast<uint8_t>(0xa0 + i);
  long pid = getpid(), tid = syscall(SYS_gettid);
  // YMM0 is loaded, the signal comes with the return of tgkill (no libc code runs in between
  // to touch YMM0), and YMM0 is stored right after the handler's rt_sigreturn.
  long ret;
  asm volatile(
      "vmovdqu (%[in]), %%ymm0\n"
      "syscall\n"
      "vmovdqu %%ymm0, (%[out])\n"
      : "=a"(ret)
      : "a"(SYS_tgkill), "D"(pid), "S"(tid), "d"(SIGUSR1), [in] "r"(before), [out] "r"(after)
      : "rcx", "r11", "memory", "xmm0");
  ASSERT_EQ(ret, 0);
  EXPECT_EQ(memcmp(after, before, 16), 0) << "the lower half (the fxsave part) changed";
  EXPECT_EQ(memcmp(after + 16, g_new_upper, 16), 0)
      << "rt_sigreturn did not restore YMM0's upper half from the frame";
  signal(SIGUSR1, SIG_DFL);
}

TEST(SignalFrame, HandlerUseOfAvxDoesNotLeakIntoTheInterruptedCode) {
  if (!__builtin_cpu_supports("avx")) GTEST_SKIP() << "no AVX on this CPU";
  struct sigaction sa = {};
  sa.sa_handler = +[](int) {
    asm volatile("vpcmpeqd %%ymm0, %%ymm0, %%ymm0" ::: "xmm0");  // all ones
  };
  ASSERT_EQ(sigaction(SIGUSR1, &sa, nullptr), 0);
  alignas(32) uint8_t before[32], after[32];
  for (int i = 0; i < 32; ++i) before[i] = static_cast<uint8_t>(3 * i);
  long pid = getpid(), tid = syscall(SYS_gettid);
  long ret;
  asm volatile(
      "vmovdqu (%[in]), %%ymm0\n"
      "syscall\n"
      "vmovdqu %%ymm0, (%[out])\n"
      : "=a"(ret)
      : "a"(SYS_tgkill), "D"(pid), "S"(tid), "d"(SIGUSR1), [in] "r"(before), [out] "r"(after)
      : "rcx", "r11", "memory", "xmm0");
  ASSERT_EQ(ret, 0);
  EXPECT_EQ(memcmp(after, before, 32), 0);
  signal(SIGUSR1, SIG_DFL);
}

}  // namespace
