// Signal dispositions, masks, the alternate stack, sending (kill, tgkill, sigqueue), waiting
// (pause, sigsuspend, sigtimedwait) and the return from a handler. Delivery itself is in
// sentry/kernel/signals.cc.
#include <signal.h>
#include <sys/syscall.h>

#include <memory>
#include <optional>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "sentry/base/interrupter.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/signal_frame.h"
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
  // Unblocking may have made a pending signal deliverable on the way out.
  t.kernel().RecalcSignalPending(t);
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

// Sleeps until the task is interrupted (a signal it does not block, or the process ending)
// or `deadline` passes.
void WaitForInterrupt(kernel::Task& t, std::optional<absl::Time> deadline = std::nullopt) {
  auto gate = std::make_shared<absl::Mutex>();  // the wake-up may outlive this call
  absl::MutexLock lock(gate.get());
  ScopedArm arm(&t.interrupter(), [gate] { absl::MutexLock l(gate.get()); });
  auto interrupted = [&] { return arm.Interrupted(); };
  if (deadline) {
    gate->AwaitWithDeadline(absl::Condition(&interrupted), *deadline);
  } else {
    gate->Await(absl::Condition(&interrupted));
  }
}

Result<uint64_t> Sys_pause(kernel::Task& t, const Args&) {
  if (!t.kernel().RecalcSignalPending(t)) WaitForInterrupt(t);
  return Err(EINTR);
}

Result<uint64_t> Sys_rt_sigsuspend(kernel::Task& t, const Args& a) {
  if (a[1] != kSigsetSize) return Err(EINVAL);
  uint64_t mask = TRY(t.mm().CopyInObject<uint64_t>(UserAddr(a[0])));
  // The old mask comes back after the handler, through the frame (or at once without one).
  t.set_saved_mask(t.signal_mask());
  t.set_signal_mask(mask);
  if (!t.kernel().RecalcSignalPending(t)) WaitForInterrupt(t);
  return Err(EINTR);
}

Result<uint64_t> Sys_rt_sigpending(kernel::Task& t, const Args& a) {
  if (a[1] > kSigsetSize) return Err(EINVAL);
  uint64_t set = t.kernel().PendingSet(t) & t.signal_mask();
  TRY(t.mm().CopyOut(UserAddr(a[0]), &set, a[1]));
  return 0;
}

Result<uint64_t> Sys_rt_sigreturn(kernel::Task& t, const Args&) {
  auto frame = kernel::PopSignalFrame(t.mm(), t.state());
  if (!frame) {
    // A corrupt frame: Linux kills with SIGSEGV.
    siginfo_t info{};
    info.si_signo = SIGSEGV;
    info.si_code = SI_KERNEL;
    t.kernel().ForceSignal(t, info);
    return t.state().regs.rax;
  }
  t.set_signal_mask(frame->mask);
  (void)t.TakeRestartBlock();  // as Linux: a restart_syscall after a handler is EINTR
  if (frame->xstate) {
    t.state().xstate_to_load = std::move(frame->xstate);
    t.state().fp_to_load.reset();
  } else if (frame->fp) {
    t.state().fp_to_load = frame->fp;
  }
  // uc_stack restores the sigaltstack setting, errors ignored (as restore_altstack does).
  kernel::KernelStack ss = frame->stack;
  int mode = ss.flags & ~kSsAutoDisarm;
  if (!kernel::OnAltStack(t.alt_stack(), t.state().regs.rsp)) {
    if (mode == SS_DISABLE) {
      t.alt_stack() = kernel::KernelStack{};
    } else if (mode == 0 || mode == SS_ONSTACK) {
      if (ss.size >= kMinSigStackSize) {
        ss.flags &= kSsAutoDisarm;
        t.alt_stack() = ss;
      }
    }
  }
  t.kernel().RecalcSignalPending(t);
  return t.state().regs.rax;  // the interrupted code's rax, which the return writes back
}

Result<uint64_t> Sys_kill(kernel::Task& t, const Args& a) {
  TRY(t.kernel().Kill(t, static_cast<pid_t>(a[0]), ArgInt(a[1])));
  return 0;
}

Result<uint64_t> Sys_tkill(kernel::Task& t, const Args& a) {
  TRY(t.kernel().SignalThread(t, -1, static_cast<pid_t>(a[0]), ArgInt(a[1])));
  return 0;
}

Result<uint64_t> Sys_tgkill(kernel::Task& t, const Args& a) {
  TRY(t.kernel().SignalThread(t, static_cast<pid_t>(a[0]), static_cast<pid_t>(a[1]), ArgInt(a[2])));
  return 0;
}

Result<siginfo_t> CopyInQueuedInfo(kernel::Task& t, pid_t target_tgid, int sig, uint64_t addr) {
  if (sig < 0 || sig > kernel::kNumSignals) return Err(EINVAL);
  siginfo_t info = TRY(t.mm().CopyInObject<siginfo_t>(UserAddr(addr)));
  // Only the kernel may claim kernel or kill() origins for another process.
  if ((info.si_code >= 0 || info.si_code == SI_TKILL) && target_tgid != t.thread_group().tgid()) {
    return Err(EPERM);
  }
  info.si_signo = sig;
  return info;
}

Result<uint64_t> Sys_rt_sigqueueinfo(kernel::Task& t, const Args& a) {
  pid_t tgid = static_cast<pid_t>(a[0]);
  siginfo_t info = TRY(CopyInQueuedInfo(t, tgid, ArgInt(a[1]), a[2]));
  TRY(t.kernel().QueueSignalInfo(t, tgid, 0, info));
  return 0;
}

Result<uint64_t> Sys_rt_tgsigqueueinfo(kernel::Task& t, const Args& a) {
  pid_t tgid = static_cast<pid_t>(a[0]);
  pid_t tid = static_cast<pid_t>(a[1]);
  if (tgid <= 0 || tid <= 0) return Err(EINVAL);
  siginfo_t info = TRY(CopyInQueuedInfo(t, tgid, ArgInt(a[2]), a[3]));
  TRY(t.kernel().QueueSignalInfo(t, tgid, tid, info));
  return 0;
}

Result<uint64_t> Sys_rt_sigtimedwait(kernel::Task& t, const Args& a) {
  if (a[3] != kSigsetSize) return Err(EINVAL);
  uint64_t set = TRY(t.mm().CopyInObject<uint64_t>(UserAddr(a[0]))) & ~kernel::kUnblockable;
  std::optional<absl::Time> deadline;
  if (a[2] != 0) {
    auto ts = TRY(t.mm().CopyInObject<timespec>(UserAddr(a[2])));
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) return Err(EINVAL);
    deadline = absl::Now() + absl::DurationFromTimespec(ts);
  }
  // The waited-for signals are unblocked for the wait, so that sending them interrupts it;
  // they are then taken here, not delivered.
  uint64_t old_mask = t.signal_mask();
  struct RealBlocked {
    kernel::Task& t;
    ~RealBlocked() { t.set_real_blocked(0); }
  } real_blocked{t};
  t.set_real_blocked(old_mask);
  while (true) {
    if (auto info = t.kernel().DequeueSignal(t, set)) {
      t.set_signal_mask(old_mask);
      t.kernel().RecalcSignalPending(t);
      if (a[1] != 0) TRY(t.mm().CopyOutObject(UserAddr(a[1]), *info));
      return static_cast<uint64_t>(info->si_signo);
    }
    t.set_signal_mask(old_mask & ~set);
    if (t.kernel().RecalcSignalPending(t)) {
      // Something else deliverable is pending: it ends the wait with EINTR, unless it is one
      // of ours after all (the loop takes it).
      if (t.kernel().PendingSet(t) & set) continue;
      t.set_signal_mask(old_mask);
      return Err(EINTR);
    }
    // A group stop ends the wait: once continued, Linux returns EINTR (signal(7)).
    if (t.stop_pending()) {
      t.set_signal_mask(old_mask);
      return Err(EINTR);
    }
    if (deadline && absl::Now() >= *deadline) {
      t.set_signal_mask(old_mask);
      t.kernel().RecalcSignalPending(t);
      return Err(EAGAIN);
    }
    WaitForInterrupt(t, deadline);
    if (t.exiting()) return Err(EINTR);
  }
}

}  // namespace

void RegisterSignalSyscalls(SyscallTable& t) {
  t.handlers[SYS_rt_sigaction] = Sys_rt_sigaction;
  t.handlers[SYS_rt_sigprocmask] = Sys_rt_sigprocmask;
  t.handlers[SYS_sigaltstack] = Sys_sigaltstack;
  t.handlers[SYS_pause] = Sys_pause;
  t.handlers[SYS_rt_sigsuspend] = Sys_rt_sigsuspend;
  t.handlers[SYS_rt_sigpending] = Sys_rt_sigpending;
  t.handlers[SYS_rt_sigreturn] = Sys_rt_sigreturn;
  t.handlers[SYS_rt_sigtimedwait] = Sys_rt_sigtimedwait;
  t.handlers[SYS_rt_sigqueueinfo] = Sys_rt_sigqueueinfo;
  t.handlers[SYS_rt_tgsigqueueinfo] = Sys_rt_tgsigqueueinfo;
  t.handlers[SYS_kill] = Sys_kill;
  t.handlers[SYS_tkill] = Sys_tkill;
  t.handlers[SYS_tgkill] = Sys_tgkill;
}

}  // namespace sentry::syscalls
