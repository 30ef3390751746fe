// Signal dispositions, masks and the alternate stack. Recorded only: delivery comes with the
// processes issue, so a handler set here is never called yet.
#include <signal.h>
#include <sys/syscall.h>

#include <memory>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "sentry/base/interrupter.h"
#include "sentry/kernel/task.h"
#include "sentry/syscalls/table.h"

namespace sentry::syscalls {
namespace {

constexpr uint64_t kSigsetSize = sizeof(uint64_t);
constexpr uint64_t kSaRestorer = 0x04000000;
constexpr uint64_t kSaExposeTagbits = 0x00000800;
// Flags the kernel keeps; it drops the rest so programs can probe for support (SA_UNSUPPORTED).
constexpr uint64_t kKnownSaFlags = SA_NOCLDSTOP | SA_NOCLDWAIT | SA_SIGINFO | SA_ONSTACK |
                                   SA_RESTART | SA_NODEFER | SA_RESETHAND | kSaExposeTagbits |
                                   kSaRestorer;
// Linux's MINSIGSTKSZ on amd64 (glibc's macro is now a sysconf call).
constexpr size_t kMinSigStackSize = 2048;
constexpr int kSsAutoDisarm = static_cast<int>(1U << 31);  // SS_AUTODISARM, not in glibc's headers

Result<uint64_t> Sys_rt_sigaction(kernel::Task& t, const Args& a) {
  int sig = ArgInt(a[0]);
  if (a[3] != kSigsetSize) return Err(EINVAL);
  if (sig < 1 || sig > kernel::kNumSignals) return Err(EINVAL);
  std::optional<kernel::KernelSigaction> act;
  if (a[1] != 0) {
    act = TRY(t.mm().CopyInObject<kernel::KernelSigaction>(UserAddr(a[1])));
    if (sig == SIGKILL || sig == SIGSTOP) return Err(EINVAL);
    act->mask &= ~kernel::kUnblockable;
    act->flags &= kKnownSaFlags;
  }
  kernel::KernelSigaction old;
  {
    std::lock_guard lock(t.thread_group().mu());
    old = t.thread_group().action(sig);
    if (act) t.thread_group().action(sig) = *act;
  }
  if (a[2] != 0) TRY(t.mm().CopyOutObject(UserAddr(a[2]), old));
  return 0;
}

Result<uint64_t> Sys_rt_sigprocmask(kernel::Task& t, const Args& a) {
  int how = ArgInt(a[0]);
  if (a[3] != kSigsetSize) return Err(EINVAL);
  uint64_t old = t.signal_mask();
  if (a[1] != 0) {
    uint64_t set = TRY(t.mm().CopyInObject<uint64_t>(UserAddr(a[1])));
    switch (how) {
      case SIG_BLOCK:
        t.set_signal_mask(old | set);
        break;
      case SIG_UNBLOCK:
        t.set_signal_mask(old & ~set);
        break;
      case SIG_SETMASK:
        t.set_signal_mask(set);
        break;
      default:
        return Err(EINVAL);
    }
  }
  if (a[2] != 0) TRY(t.mm().CopyOutObject(UserAddr(a[2]), old));
  return 0;
}

Result<uint64_t> Sys_sigaltstack(kernel::Task& t, const Args& a) {
  kernel::KernelStack old = t.alt_stack();
  if (a[0] != 0) {
    auto ss = TRY(t.mm().CopyInObject<kernel::KernelStack>(UserAddr(a[0])));
    int mode = ss.flags & ~kSsAutoDisarm;
    if (mode != 0 && mode != SS_DISABLE && mode != SS_ONSTACK) return Err(EINVAL);
    if (mode == SS_DISABLE) {
      ss = kernel::KernelStack{};
    } else {
      if (ss.size < kMinSigStackSize) return Err(ENOMEM);
      ss.flags &= kSsAutoDisarm;
    }
    t.alt_stack() = ss;
  }
  if (a[1] != 0) TRY(t.mm().CopyOutObject(UserAddr(a[1]), old));
  return 0;
}

// pause(2) sleeps until a signal handler runs or the process ends. Without signal delivery
// only the latter (the process exiting, or another thread's execve) ends the sleep.
Result<uint64_t> Sys_pause(kernel::Task& t, const Args&) {
  auto gate = std::make_shared<absl::Mutex>();  // the wake-up may outlive this call
  absl::MutexLock lock(gate.get());
  ScopedArm arm(&t.interrupter(), [gate] { absl::MutexLock l(gate.get()); });
  auto interrupted = [&] { return arm.Interrupted(); };
  gate->Await(absl::Condition(&interrupted));
  return Err(EINTR);
}

}  // namespace

void RegisterSignalSyscalls(SyscallTable& t) {
  t.handlers[SYS_rt_sigaction] = Sys_rt_sigaction;
  t.handlers[SYS_rt_sigprocmask] = Sys_rt_sigprocmask;
  t.handlers[SYS_sigaltstack] = Sys_sigaltstack;
  t.handlers[SYS_pause] = Sys_pause;
}

}  // namespace sentry::syscalls
