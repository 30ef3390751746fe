// The amd64 signal frame (Linux's struct rt_sigframe): what a handler finds on its stack and
// what rt_sigreturn reads back. Its layout is ABI: glibc's ucontext_t and siginfo_t, debuggers
// and language runtimes (Go, the JVM) read it.
#pragma once

#include <signal.h>
#include <sys/user.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "sentry/arch/cpu_state.h"
#include "sentry/base/errno.h"
#include "sentry/kernel/signal_state.h"
#include "sentry/mm/memory_manager.h"

namespace sentry::kernel {

struct SignalFrameSetup {
  siginfo_t info;
  KernelSigaction action;
  uint64_t saved_mask;    // the mask to restore at rt_sigreturn
  KernelStack alt_stack;  // the task's sigaltstack setting
  // The FP state to save: the XSAVE area as PTRACE_GETREGSET(NT_X86_XSTATE) gives it (legacy
  // fxsave part, header, extended state), or only the 512-byte fxsave part.
  std::vector<uint8_t> fpstate;
};

// Builds the frame on the application's stack (or the alternate stack for SA_ONSTACK) and
// points `state` at the handler. EFAULT when the stack cannot hold it: the caller then kills
// the task with SIGSEGV, as Linux does.
Result<void> PushSignalFrame(mm::MemoryManager& mm, arch::CpuState& state,
                             const SignalFrameSetup& setup);

struct RestoredFrame {
  uint64_t mask;
  KernelStack stack;  // uc_stack, for restoring the sigaltstack setting
  // What the frame's fpstate held: the whole XSAVE area when the frame says it has one
  // (UC_FP_XSTATE and both magic words), else the legacy fxsave part.
  std::optional<std::vector<uint8_t>> xstate;
  std::optional<user_fpregs_struct> fp;
};

// rt_sigreturn: restores `state` from the frame the handler returned into (at rsp - 8).
Result<RestoredFrame> PopSignalFrame(mm::MemoryManager& mm, arch::CpuState& state);

// Whether sp lies on the alternate stack `s`.
bool OnAltStack(const KernelStack& s, uint64_t sp);

}  // namespace sentry::kernel
