// The ptrace platform against real stubs: syscalls, faults, interrupts and CPU time.
#include "platform/ptrace/ptrace_platform.h"

#include <gtest/gtest.h>
#include <sys/syscall.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "sentry/mm/memory_file.h"

namespace platform::ptrace {
namespace {

using sentry::platform::kAccessExec;
using sentry::platform::kAccessRead;
using sentry::platform::kAccessWrite;
using sentry::platform::SwitchKind;

constexpr uint64_t kCodeAddr = 0x10000;
// mov eax, 39 (getpid); syscall; mov [0], eax (faults); spin: jmp spin
constexpr uint8_t kCode[] = {0xb8, 0x27, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x89,
                             0x04, 0x25, 0x00, 0x00, 0x00, 0x00, 0xeb, 0xfe};
constexpr uint64_t kFaultingStore = kCodeAddr + 7;
constexpr uint64_t kSpin = kCodeAddr + 14;

class PtracePlatformTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mf = sentry::mm::MemoryFile::Create(1 << 24);
    ASSERT_TRUE(mf.ok()) << mf.status();
    memory_ = std::move(*mf);
    auto p = PtracePlatform::Create(memory_->fd());
    ASSERT_TRUE(p.ok()) << p.status();
    platform_ = std::move(*p);
    auto as = platform_->NewAddressSpace();
    ASSERT_TRUE(as.ok()) << as.status();
    as_ = std::move(*as);
    auto ctx = platform_->NewContext();
    ASSERT_TRUE(ctx.ok());
    ctx_ = std::move(*ctx);
    code_offset_ = *memory_->Allocate(4096);
    std::memcpy(memory_->Access(code_offset_), kCode, sizeof(kCode));
    ASSERT_TRUE(as_->MapFile(kCodeAddr, code_offset_, 4096, kAccessRead | kAccessExec));
  }

  std::unique_ptr<sentry::mm::MemoryFile> memory_;
  std::unique_ptr<PtracePlatform> platform_;
  std::unique_ptr<sentry::platform::AddressSpace> as_;
  std::unique_ptr<sentry::platform::Context> ctx_;
  uint64_t code_offset_ = 0;
};

TEST_F(PtracePlatformTest, SyscallThenFault) {
  auto state = sentry::arch::CpuState::ForEntry(kCodeAddr, 0);
  auto r = ctx_->Switch(*as_, state);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, SwitchKind::kSyscall);
  EXPECT_EQ(state.SyscallNumber(), static_cast<uint64_t>(SYS_getpid));
  EXPECT_EQ(state.Ip(), kFaultingStore);  // after the syscall instruction
  state.SetReturn(1234);
  r = ctx_->Switch(*as_, state);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, SwitchKind::kFault);
  EXPECT_EQ(r->info.si_signo, SIGSEGV);
  EXPECT_EQ(r->info.si_addr, nullptr);
  EXPECT_EQ(state.Ip(), kFaultingStore);  // the faulting instruction did not retire
  EXPECT_EQ(state.regs.rax, 1234u);       // the syscall's result reached the application
}

TEST_F(PtracePlatformTest, NothingButMapFileIsMapped) {
  // The stub's own memory is gone: jumping to where the sentry's code would be faults.
  auto state = sentry::arch::CpuState::ForEntry(reinterpret_cast<uint64_t>(&::getpid), 0);
  auto r = ctx_->Switch(*as_, state);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, SwitchKind::kFault);
  // Memory mapped through MapFile is shared with the sentry's view of the file.
  uint64_t data = *memory_->Allocate(4096);
  ASSERT_TRUE(as_->MapFile(0x20000, data, 4096, kAccessRead | kAccessWrite));
  as_->Unmap(kCodeAddr, 4096);
  state = sentry::arch::CpuState::ForEntry(kCodeAddr, 0);
  r = ctx_->Switch(*as_, state);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, SwitchKind::kFault);
  EXPECT_EQ(reinterpret_cast<uint64_t>(r->info.si_addr), kCodeAddr);
}

TEST_F(PtracePlatformTest, AThreadThatRunsNoTaskThereChangesMappingsThroughTheSpareThread) {
  // As when another process truncates a file this address space maps.
  ASSERT_TRUE(as_->EnableForeignAccess());
  std::thread([this] { as_->Unmap(kCodeAddr, 4096); }).join();
  auto state = sentry::arch::CpuState::ForEntry(kCodeAddr, 0);
  auto r = ctx_->Switch(*as_, state);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, SwitchKind::kFault);
  EXPECT_EQ(reinterpret_cast<uint64_t>(r->info.si_addr), kCodeAddr);
  // Mapping works the same way, and more than once (the spare thread is parked again).
  sentry::Result<void> mapped;
  std::thread([&] {
    mapped = as_->MapFile(kCodeAddr, code_offset_, 4096, kAccessRead | kAccessExec);
  }).join();
  ASSERT_TRUE(mapped);
  state = sentry::arch::CpuState::ForEntry(kCodeAddr, 0);
  r = ctx_->Switch(*as_, state);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, SwitchKind::kSyscall);
}

TEST_F(PtracePlatformTest, InterruptFromAnotherThreadStopsASpinningTask) {
  auto state = sentry::arch::CpuState::ForEntry(kSpin, 0);
  std::thread interrupter([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ctx_->Interrupt();
  });
  auto r = ctx_->Switch(*as_, state);
  interrupter.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, SwitchKind::kInterrupted);
  EXPECT_EQ(state.Ip(), kSpin);
  // The spin ran on the stub's CPU clock, which the context reports. How much of the 200 ms
  // it got depends on the machine's load (it was 36-49 ms with five builds running), so only
  // that the clock moved is asserted: no test asserts a time.
  EXPECT_GT(ctx_->AppCpuTimeNs(), 0u);
}

TEST_F(PtracePlatformTest, InterruptBeforeSwitchIsNotLost) {
  ctx_->Interrupt();
  auto state = sentry::arch::CpuState::ForEntry(kSpin, 0);
  auto r = ctx_->Switch(*as_, state);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, SwitchKind::kInterrupted);
}

TEST_F(PtracePlatformTest, MapFileRejectsBadRanges) {
  // The host refuses what the sentry should never ask for; the stub survives it.
  EXPECT_FALSE(as_->MapFile(0x30001, code_offset_, 4096, kAccessRead));
  auto state = sentry::arch::CpuState::ForEntry(kCodeAddr, 0);
  auto r = ctx_->Switch(*as_, state);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, SwitchKind::kSyscall);
}

TEST_F(PtracePlatformTest, ThreadsShareTheAddressSpace) {
  // A second task (a thread) runs in the same stub from its own host thread, sees the same
  // memory, and can map into it; both can leave and the stub thread is reused.
  uint64_t data = *memory_->Allocate(4096);
  ASSERT_TRUE(as_->AddThread());
  std::thread second([&] {
    auto ctx = platform_->NewContext();
    ASSERT_TRUE(ctx.ok());
    auto state = sentry::arch::CpuState::ForEntry(kCodeAddr, 0);
    auto r = (*ctx)->Switch(*as_, state);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->kind, SwitchKind::kSyscall);
    EXPECT_EQ(state.SyscallNumber(), static_cast<uint64_t>(SYS_getpid));
    EXPECT_TRUE(as_->MapFile(0x40000, data, 4096, kAccessRead | kAccessWrite));
    (*ctx)->Leave(*as_);
  });
  second.join();
  // The first context still runs, and the mapping the second made is visible to it.
  auto state = sentry::arch::CpuState::ForEntry(kCodeAddr, 0);
  auto r = ctx_->Switch(*as_, state);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, SwitchKind::kSyscall);
  as_->Unmap(0x40000, 4096);

  // The parked thread serves the next task without a new clone.
  ASSERT_TRUE(as_->AddThread());
  std::thread third([&] {
    auto ctx = platform_->NewContext();
    ASSERT_TRUE(ctx.ok());
    auto st = sentry::arch::CpuState::ForEntry(kSpin, 0);
    std::thread interrupter([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      (*ctx)->Interrupt();
    });
    auto res = (*ctx)->Switch(*as_, st);
    interrupter.join();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->kind, SwitchKind::kInterrupted);
    (*ctx)->Leave(*as_);
  });
  third.join();
  r = ctx_->Switch(*as_, state);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, SwitchKind::kFault);  // the store after the syscall
}

TEST_F(PtracePlatformTest, AThreadWithoutRoomCannotSwitchIn) {
  std::thread other([&] {
    auto ctx = platform_->NewContext();
    ASSERT_TRUE(ctx.ok());
    auto state = sentry::arch::CpuState::ForEntry(kCodeAddr, 0);
    EXPECT_FALSE((*ctx)->Switch(*as_, state));
  });
  other.join();
}

}  // namespace
}  // namespace platform::ptrace
