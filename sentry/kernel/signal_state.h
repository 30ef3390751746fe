// Signal dispositions and masks as the application set them. Delivery comes with the
// processes issue; for now the kernel records what rt_sigaction/rt_sigprocmask/sigaltstack set.
#pragma once

#include <signal.h>

#include <array>
#include <cstdint>

namespace sentry::kernel {

inline constexpr int kNumSignals = 64;

// struct sigaction as the amd64 kernel ABI lays it out (not glibc's).
struct KernelSigaction {
  uint64_t handler = 0;  // SIG_DFL (0), SIG_IGN (1), or an address
  uint64_t flags = 0;
  uint64_t restorer = 0;
  uint64_t mask = 0;
};

struct KernelStack {  // stack_t
  uint64_t sp = 0;
  int32_t flags = SS_DISABLE;
  int32_t pad = 0;
  uint64_t size = 0;
};

constexpr uint64_t SigBit(int sig) { return 1ULL << (sig - 1); }
inline constexpr uint64_t kUnblockable = SigBit(SIGKILL) | SigBit(SIGSTOP);

// What a signal's default action does, per signal(7).
enum class DefaultAction { kTerminate, kCoreDump, kIgnore, kStop, kContinue };
DefaultAction DefaultActionOf(int sig);

// What a syscall that a signal interrupted (it returned EINTR with a signal pending) returns
// to the kernel: Linux's ERESTARTSYS or ERESTARTNOHAND as a negated value, which signal
// delivery turns into a restart or EINTR (sentry/kernel/signals.cc).
uint64_t RestartCodeForInterruptedSyscall(uint64_t nr);

// Linux's internal restart errnos that a handler may return itself (Err(...)), when its rule is
// not the one its syscall number implies: ERESTARTNOINTR restarts even after a handler ran;
// ERESTART_RESTARTBLOCK resumes through restart_syscall(2) and the task's restart block, or
// fails with EINTR when a handler runs.
inline constexpr int kErrRestartNoIntr = 513;
inline constexpr int kErrRestartRestartBlock = 516;

}  // namespace sentry::kernel
