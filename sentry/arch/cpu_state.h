// The amd64 register file of one task as the platforms exchange it, and the syscall ABI view of
// it (number in orig_rax, arguments in rdi, rsi, rdx, r10, r8, r9, result in rax).
#pragma once

#include <sys/user.h>

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

namespace sentry::arch {

struct CpuState {
  user_regs_struct regs{};
  // FP/SSE state to install before the task next runs (fork copies the parent's); otherwise the
  // platform keeps a task's FP state where it lives and never copies it on a switch.
  std::optional<user_fpregs_struct> fp_to_load;
  // The whole extended state (the XSAVE area: AVX and beyond) to install before the task next
  // runs, before fp_to_load; rt_sigreturn restores what the handler may have changed.
  std::optional<std::vector<uint8_t>> xstate_to_load;

  uint64_t SyscallNumber() const { return regs.orig_rax; }
  std::array<uint64_t, 6> SyscallArgs() const {
    return {regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9};
  }
  void SetReturn(uint64_t v) { regs.rax = v; }
  uint64_t Ip() const { return regs.rip; }
  uint64_t Sp() const { return regs.rsp; }

  // A fresh user-mode register file starting at ip with stack sp (Linux's start_thread).
  static CpuState ForEntry(uint64_t ip, uint64_t sp) {
    CpuState s;
    s.regs.rip = ip;
    s.regs.rsp = sp;
    s.regs.cs = kUserCs;
    s.regs.ss = kUserDs;
    s.regs.eflags = 0x202;  // IF, and the always-one bit
    s.regs.orig_rax = ~0ULL;
    return s;
  }

  static constexpr uint64_t kUserCs = 0x33;  // __USER_CS
  static constexpr uint64_t kUserDs = 0x2b;  // __USER_DS
};

// Highest address (exclusive) of the amd64 user address space with 4-level paging.
inline constexpr uint64_t kTaskSize = 0x7ffffffff000ULL;

}  // namespace sentry::arch
