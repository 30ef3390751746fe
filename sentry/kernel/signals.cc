// Signal generation and delivery: kill and friends queue a signal on a thread or a process and
// interrupt a thread that can take it; that thread, between two switches into the application,
// runs the disposition (a handler frame, or the default action) and finishes the syscall the
// signal interrupted (restart or EINTR, by Linux's ERESTART* rules).
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstring>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/signal_frame.h"
#include "sentry/kernel/task.h"
#include "spdlog/spdlog.h"

namespace sentry::kernel {
namespace {

// Linux's internal "restart" errnos, which never reach the application.
constexpr int64_t kERestartSys = 512;
constexpr int64_t kERestartNoIntr = 513;
constexpr int64_t kERestartNoHand = 514;
constexpr int64_t kERestartRestartBlock = 516;

constexpr uint64_t kSynchronous = SigBit(SIGSEGV) | SigBit(SIGBUS) | SigBit(SIGILL) |
                                  SigBit(SIGTRAP) | SigBit(SIGFPE) | SigBit(SIGSYS);

bool IsRealtime(int sig) { return sig >= SIGRTMIN && sig <= kNumSignals; }

// The next signal to take from `ready`: synchronous ones first, then the lowest number.
int PickSignal(uint64_t ready) {
  uint64_t sync = ready & kSynchronous;
  uint64_t from = sync ? sync : ready;
  return __builtin_ctzll(from) + 1;
}

// Removes one instance of `sig` from `p`; returns its siginfo.
siginfo_t Take(PendingSignals& p, int sig) {
  siginfo_t info{};
  info.si_signo = sig;
  auto it = std::find_if(p.queue.begin(), p.queue.end(),
                         [sig](const siginfo_t& i) { return i.si_signo == sig; });
  if (it != p.queue.end()) {
    info = *it;
    p.queue.erase(it);
  }
  bool more = std::any_of(p.queue.begin(), p.queue.end(),
                          [sig](const siginfo_t& i) { return i.si_signo == sig; });
  if (!more) p.set &= ~SigBit(sig);
  return info;
}

siginfo_t KernelInfo(int sig, int code, pid_t pid, uint32_t uid) {
  siginfo_t info{};
  info.si_signo = sig;
  info.si_code = code;
  info.si_pid = pid;
  info.si_uid = uid;
  return info;
}

// The sandbox's init, like Linux's (SIGNAL_UNKILLABLE), takes only the signals it handles:
// the default action of any other, SIGKILL included, is to ignore it.
bool IsInit(const ThreadGroup& tg) { return tg.tgid() == 1; }

bool Ignored(const ThreadGroup& tg, const KernelSigaction& act, int sig) {
  if (act.handler == reinterpret_cast<uint64_t>(SIG_IGN)) return true;
  if (act.handler != reinterpret_cast<uint64_t>(SIG_DFL)) return false;
  if (IsInit(tg)) return true;
  auto d = DefaultActionOf(sig);
  return d == DefaultAction::kIgnore || d == DefaultAction::kContinue;
}

// Which syscalls Linux ends with ERESTARTNOHAND (restarted only when no handler runs) rather
// than ERESTARTSYS (restarted also after an SA_RESTART handler).
bool RestartsOnlyWithoutHandler(uint64_t nr) {
  switch (nr) {
    case SYS_pause:
    case SYS_rt_sigsuspend:
    case SYS_poll:
    case SYS_ppoll:
    case SYS_select:
    case SYS_pselect6:
    case SYS_epoll_wait:
    case SYS_epoll_pwait:
    case SYS_epoll_pwait2:
    case SYS_nanosleep:
    case SYS_clock_nanosleep:
    case SYS_msgsnd:
    case SYS_msgrcv:
      return true;
    default:
      return false;
  }
}

}  // namespace

uint64_t RestartCodeForInterruptedSyscall(uint64_t nr) {
  // rt_sigtimedwait's EINTR is final: it is how it reports an unwaited-for signal.
  // Nor is semop's: System V semaphores are never restarted (signal(7)).
  if (nr == SYS_rt_sigtimedwait || nr == SYS_semop || nr == SYS_semtimedop) {
    return static_cast<uint64_t>(-EINTR);
  }
  return static_cast<uint64_t>(RestartsOnlyWithoutHandler(nr) ? -kERestartNoHand : -kERestartSys);
}

std::shared_ptr<Task> Kernel::QueueLocked(ThreadGroup& tg, Task* task, const siginfo_t& info) {
  int sig = info.si_signo;
  PendingSignals& p = task ? task->pending_ : tg.shared_pending_;
  // A standard signal already pending is not queued twice.
  if (!IsRealtime(sig) && (p.set & SigBit(sig))) return nullptr;
  p.set |= SigBit(sig);
  p.queue.push_back(info);
  if (task != nullptr) {
    if (task->signal_mask() & SigBit(sig)) return nullptr;
    return task_index_.contains(task->tid()) ? task_index_[task->tid()].lock() : nullptr;
  }
  // A process-directed signal goes to a thread that does not block it.
  for (auto& t : tg.tasks_) {
    if (!(t->signal_mask() & SigBit(sig))) return t;
  }
  return nullptr;
}

Result<void> Kernel::SendToThreadGroup(ThreadGroup& tg, const siginfo_t& info) {
  int sig = info.si_signo;
  if (sig == SIGKILL) {
    if (!IsInit(tg)) KillThreadGroup(tg, SIGKILL);
    return {};
  }
  KernelSigaction act;
  {
    std::lock_guard lock(tg.mu());
    act = tg.action(sig);
  }
  std::vector<std::shared_ptr<Task>> wake;
  {
    absl::MutexLock lock(&procs_mu_);
    if (tg.exited_ || tg.tasks_.empty()) return {};  // a zombie takes signals and drops them
    PrepareSignalLocked(tg, sig, &wake);             // job control acts even on an ignored signal
    // An ignored signal is dropped at once unless every thread blocks it (then it waits, as
    // the disposition may change before it is unblocked).
    bool all_block = std::all_of(tg.tasks_.begin(), tg.tasks_.end(),
                                 [&](auto& t) { return t->blocked_for_ignore() & SigBit(sig); });
    if (!Ignored(tg, act, sig) || all_block) {
      absl::MutexLock slock(&sig_mu_);
      if (auto t = QueueLocked(tg, nullptr, info)) wake.push_back(std::move(t));
    }
  }
  tg.signalfd_queue().Notify(POLLIN);
  for (auto& t : wake) t->Interrupt();
  return {};
}

void Kernel::SendToTask(Task& task, const siginfo_t& info) {
  int sig = info.si_signo;
  ThreadGroup& tg = task.thread_group();
  if (sig == SIGKILL) {
    if (!IsInit(tg)) KillThreadGroup(tg, SIGKILL);
    return;
  }
  KernelSigaction act;
  {
    std::lock_guard lock(tg.mu());
    act = tg.action(sig);
  }
  std::vector<std::shared_ptr<Task>> others;  // woken by SIGCONT, or its parent told of it
  std::shared_ptr<Task> wake;
  {
    absl::MutexLock lock(&procs_mu_);
    if (!tg.exited_) PrepareSignalLocked(tg, sig, &others);
    if (!Ignored(tg, act, sig) || (task.blocked_for_ignore() & SigBit(sig))) {
      absl::MutexLock slock(&sig_mu_);
      wake = QueueLocked(tg, &task, info);
    }
  }
  tg.signalfd_queue().Notify(POLLIN);
  for (auto& t : others) t->Interrupt();
  if (wake && wake.get() != Task::Current()) {
    wake->Interrupt();
  } else if (wake) {
    wake->interrupter().Fire();
  }
}

void Kernel::SignalFromKernel(ThreadGroup& tg, pid_t tid, const siginfo_t& info) {
  if (tid != 0) {
    auto task = FindTask(tid);
    if (task && &task->thread_group() == &tg) SendToTask(*task, info);
    return;
  }
  (void)SendToThreadGroup(tg, info);
}

void Kernel::ForceSignal(Task& task, const siginfo_t& info) {
  int sig = info.si_signo;
  ThreadGroup& tg = task.thread_group();
  bool deliverable;
  {
    std::lock_guard lock(tg.mu());
    KernelSigaction& act = tg.action(sig);
    bool blocked = task.signal_mask() & SigBit(sig);
    // A blocked or ignored fault would only fault again: Linux resets it to the default.
    if (blocked || act.handler == reinterpret_cast<uint64_t>(SIG_IGN)) act = KernelSigaction{};
    deliverable = act.handler > 1;
  }
  if (!deliverable) {
    bool core = DefaultActionOf(sig) == DefaultAction::kCoreDump;
    KillThreadGroup(tg, sig | (core ? 0x80 : 0));
    return;
  }
  task.set_signal_mask(task.signal_mask() & ~SigBit(sig));
  {
    absl::MutexLock lock(&procs_mu_);
    absl::MutexLock slock(&sig_mu_);
    (void)QueueLocked(tg, &task, info);
  }
  task.interrupter().Fire();
}

void Kernel::KillThreadGroup(ThreadGroup& tg, int wait_status) {
  std::vector<std::shared_ptr<Task>> tasks;
  {
    absl::MutexLock lock(&procs_mu_);
    if (!tg.group_exiting_) {
      tg.group_exiting_ = true;
      tg.group_exit_status_ = wait_status;
    }
    tasks = tg.tasks_;
  }
  // Outside the lock: an interrupted wait4 takes it to wake up.
  for (auto& t : tasks) {
    t->RequestExit(wait_status);
    if (t.get() != Task::Current()) t->Interrupt();
  }
}

bool Kernel::RecalcSignalPending(Task& task) {
  absl::MutexLock lock(&sig_mu_);
  uint64_t ready =
      (task.pending_.set | task.thread_group().shared_pending_.set) & ~task.signal_mask();
  bool pending = ready != 0 || task.exiting() || task.stop_pending();
  task.interrupter().Reset(pending);
  return ready != 0;
}

uint64_t Kernel::PendingSet(Task& task) {
  absl::MutexLock lock(&sig_mu_);
  return task.pending_.set | task.thread_group().shared_pending_.set;
}

std::optional<siginfo_t> Kernel::DequeueSignal(Task& task, uint64_t set) {
  absl::MutexLock lock(&sig_mu_);
  PendingSignals& own = task.pending_;
  PendingSignals& shared = task.thread_group().shared_pending_;
  uint64_t ready = (own.set | shared.set) & set;
  if (ready == 0) return std::nullopt;
  int sig = PickSignal(ready);
  return (own.set & SigBit(sig)) ? Take(own, sig) : Take(shared, sig);
}

void Kernel::DeliverSignals(Task& task) {
  arch::CpuState& state = task.state();
  ThreadGroup& tg = task.thread_group();
  while (!task.exiting()) {
    if (task.stop_pending()) {
      ParkForGroupStop(task);  // until SIGCONT or exit; then what is pending runs
      continue;
    }
    siginfo_t info;
    uint64_t continue_count;
    {
      absl::MutexLock lock(&sig_mu_);
      uint64_t ready = (task.pending_.set | tg.shared_pending_.set) & ~task.signal_mask();
      if (ready == 0) break;
      int sig = PickSignal(ready);
      info = (task.pending_.set & SigBit(sig)) ? Take(task.pending_, sig)
                                               : Take(tg.shared_pending_, sig);
      continue_count = tg.continue_count_;
    }
    int sig = info.si_signo;
    KernelSigaction act;
    {
      std::lock_guard lock(tg.mu());
      act = tg.action(sig);
      if (act.handler > 1 && (act.flags & SA_RESETHAND)) tg.action(sig) = KernelSigaction{};
    }
    if (act.handler == reinterpret_cast<uint64_t>(SIG_IGN)) continue;
    if (act.handler == reinterpret_cast<uint64_t>(SIG_DFL)) {
      if (IsInit(tg)) continue;  // queued while blocked; init drops it now
      switch (DefaultActionOf(sig)) {
        case DefaultAction::kIgnore:
        case DefaultAction::kContinue:
          continue;
        case DefaultAction::kStop:
          BeginGroupStop(task, sig, continue_count);  // this thread parks at the loop's top
          continue;
        case DefaultAction::kTerminate:
          KillThreadGroup(tg, sig);
          return;
        case DefaultAction::kCoreDump:
          KillThreadGroup(tg, sig | 0x80);
          return;
      }
    }
    // A handler. First the syscall it interrupted, if any: restart it or fail it with EINTR.
    int64_t ret = static_cast<int64_t>(state.regs.rax);
    if (static_cast<int64_t>(state.regs.orig_rax) >= 0) {
      if (ret == -kERestartSys) {
        if (act.flags & SA_RESTART) {
          state.regs.rax = state.regs.orig_rax;
          state.regs.rip -= 2;
        } else {
          state.regs.rax = static_cast<uint64_t>(-EINTR);
        }
      } else if (ret == -kERestartNoHand || ret == -kERestartRestartBlock) {
        state.regs.rax = static_cast<uint64_t>(-EINTR);
      } else if (ret == -kERestartNoIntr) {
        state.regs.rax = state.regs.orig_rax;
        state.regs.rip -= 2;
      }
    }
    // The frame holds the whole XSAVE area, as Linux's does. State not yet installed (a
    // sigreturn or fork just now) is the task's real state: the pending XSAVE image with the
    // pending fxsave part over it.
    Result<std::vector<uint8_t>> xstate =
        state.xstate_to_load ? Result<std::vector<uint8_t>>(*state.xstate_to_load)
                             : task.context().ReadXState(task.mm().address_space());
    if (xstate && state.fp_to_load && xstate->size() >= sizeof(user_fpregs_struct)) {
      std::memcpy(xstate->data(), &*state.fp_to_load, sizeof(user_fpregs_struct));
    }
    SignalFrameSetup setup{.info = info,
                           .action = act,
                           .saved_mask = task.saved_mask_.value_or(task.signal_mask()),
                           .alt_stack = task.alt_stack(),
                           .fpstate = xstate ? std::move(*xstate) : std::vector<uint8_t>{}};
    task.saved_mask_.reset();
    if (!xstate || !PushSignalFrame(task.mm(), state, setup)) {
      spdlog::debug("task {}: cannot build the frame for signal {}", task.tid(), sig);
      KillThreadGroup(tg, SIGSEGV | 0x80);
      return;
    }
    if ((act.flags & SA_ONSTACK) && (task.alt_stack().flags & static_cast<int>(1U << 31))) {
      task.alt_stack() = KernelStack{};  // SS_AUTODISARM
    }
    uint64_t mask = task.signal_mask() | act.mask;
    if (!(act.flags & SA_NODEFER)) mask |= SigBit(sig);
    task.set_signal_mask(mask);
  }
  // No handler ran for the interrupted syscall: it restarts as if nothing had happened.
  int64_t ret = static_cast<int64_t>(state.regs.rax);
  if (static_cast<int64_t>(state.regs.orig_rax) >= 0 &&
      (ret == -kERestartSys || ret == -kERestartNoHand || ret == -kERestartNoIntr ||
       ret == -kERestartRestartBlock)) {
    // A restart block resumes through restart_syscall(2), which runs the task's restart block.
    state.regs.rax = ret == -kERestartRestartBlock ? SYS_restart_syscall : state.regs.orig_rax;
    state.regs.rip -= 2;
  }
  if (task.saved_mask_) {
    task.set_signal_mask(*task.saved_mask_);
    task.saved_mask_.reset();
  }
  RecalcSignalPending(task);
}

Result<void> Kernel::Kill(Task& sender, pid_t pid, int sig) {
  if (sig < 0 || sig > kNumSignals) return Err(EINVAL);
  siginfo_t info = KernelInfo(sig, SI_USER, sender.thread_group().tgid(), sender.creds().ruid);
  struct Target {
    std::shared_ptr<ThreadGroup> tg;
    bool allowed;
  };
  std::vector<Target> targets;
  {
    absl::MutexLock lock(&procs_mu_);
    if (pid > 0) {
      auto it = tg_index_.find(pid);
      auto tg = it == tg_index_.end() ? nullptr : it->second.lock();
      if (!tg) return Err(ESRCH);
      targets.push_back({tg, MaySignalLocked(sender, *tg, sig)});
    } else {
      pid_t pgid = pid == 0 ? sender.thread_group().pgid() : -pid;
      for (auto& [id, weak] : tg_index_) {
        auto tg = weak.lock();
        if (!tg) continue;
        if (pid == -1) {
          if (id == 1 || tg.get() == &sender.thread_group()) continue;
        } else if (tg->pgid() != pgid) {
          continue;
        }
        bool allowed = MaySignalLocked(sender, *tg, sig);
        targets.push_back({std::move(tg), allowed});
      }
      if (targets.empty()) return Err(ESRCH);
    }
  }
  // One process, or a group: EPERM when no target may be signalled. kill(-1) succeeds once
  // it has found any process besides init and the caller, permitted or not (as Linux).
  bool any_allowed = std::any_of(targets.begin(), targets.end(), [](auto& t) { return t.allowed; });
  if (!any_allowed && pid != -1) return Err(EPERM);
  if (sig == 0) return {};
  for (auto& t : targets) {
    if (t.allowed) TRY(SendToThreadGroup(*t.tg, info));
  }
  return {};
}

Result<void> Kernel::SignalThread(Task& sender, pid_t tgid, pid_t tid, int sig) {
  if (tid <= 0 || (tgid != -1 && tgid <= 0)) return Err(EINVAL);
  if (sig < 0 || sig > kNumSignals) return Err(EINVAL);
  std::shared_ptr<Task> target;
  {
    absl::MutexLock lock(&procs_mu_);
    auto it = task_index_.find(tid);
    if (it != task_index_.end()) target = it->second.lock();
  }
  if (!target || (tgid != -1 && target->thread_group().tgid() != tgid)) return Err(ESRCH);
  if (!MaySignal(sender, *target, sig)) return Err(EPERM);
  if (sig == 0) return {};
  SendToTask(*target, KernelInfo(sig, SI_TKILL, sender.thread_group().tgid(), sender.creds().ruid));
  return {};
}

Result<void> Kernel::QueueSignalInfo(Task& sender, pid_t tgid, pid_t tid, const siginfo_t& info) {
  std::shared_ptr<Task> task;
  std::shared_ptr<ThreadGroup> tg;
  {
    absl::MutexLock lock(&procs_mu_);
    if (tid > 0) {
      auto it = task_index_.find(tid);
      if (it != task_index_.end()) task = it->second.lock();
      if (!task || task->thread_group().tgid() != tgid) return Err(ESRCH);
      if (!MaySignal(sender, *task, info.si_signo)) return Err(EPERM);
    } else {
      auto it = tg_index_.find(tgid);
      if (it != tg_index_.end()) tg = it->second.lock();
      if (!tg) return Err(ESRCH);
      if (!MaySignalLocked(sender, *tg, info.si_signo)) return Err(EPERM);
    }
  }
  if (info.si_signo == 0) return {};
  if (task) {
    SendToTask(*task, info);
    return {};
  }
  return SendToThreadGroup(*tg, info);
}

Result<void> Kernel::SignalProcessFrom(Task& sender, ThreadGroup& tg, const siginfo_t& info) {
  {
    absl::MutexLock lock(&procs_mu_);
    // A zombie still takes (and drops) signals; a reaped process is gone.
    auto it = tg_index_.find(tg.tgid());
    if (it == tg_index_.end() || it->second.lock().get() != &tg) return Err(ESRCH);
    if (!MaySignalLocked(sender, tg, info.si_signo)) return Err(EPERM);
  }
  if (info.si_signo == 0) return {};
  return SendToThreadGroup(tg, info);
}

std::shared_ptr<ThreadGroup> Kernel::FindUnreaped(pid_t tgid) {
  absl::MutexLock lock(&procs_mu_);
  auto it = tg_index_.find(tgid);
  return it == tg_index_.end() ? nullptr : it->second.lock();
}

bool Kernel::NotifyParentLocked(ThreadGroup& child, int wait_status,
                                std::vector<std::shared_ptr<Task>>* wake) {
  auto parent = child.parent_.lock();
  if (!parent) return false;
  KernelSigaction act;
  {
    std::lock_guard lock(parent->mu());
    act = parent->action(SIGCHLD);
  }
  int sig = child.exit_signal();
  // A parent that ignores SIGCHLD (or asks for SA_NOCLDWAIT) leaves no zombie to reap.
  bool autoreap = sig == SIGCHLD && (act.handler == reinterpret_cast<uint64_t>(SIG_IGN) ||
                                     (act.flags & SA_NOCLDWAIT));
  if (sig > 0 && sig <= kNumSignals) {
    siginfo_t info = KernelInfo(sig, CLD_EXITED, child.tgid(), child.exit_uid_);
    if (WIFEXITED(wait_status)) {
      info.si_status = WEXITSTATUS(wait_status);
    } else {
      info.si_code = WCOREDUMP(wait_status) ? CLD_DUMPED : CLD_KILLED;
      info.si_status = WTERMSIG(wait_status);
    }
    QueueChildSignalLocked(*parent, info, wake);
  }
  if (autoreap) {
    std::erase_if(parent->children_, [&](auto& c) { return c.get() == &child; });
    tg_index_.erase(child.tgid());
    child.reaped_.store(true);
  }
  return autoreap;
}

Result<void> Kernel::SetPgid(Task& caller, pid_t pid, pid_t pgid) {
  if (pgid < 0) return Err(EINVAL);
  absl::MutexLock lock(&procs_mu_);
  std::shared_ptr<ThreadGroup> target = caller.thread_group_ptr();
  if (pid != 0 && pid != target->tgid()) {
    auto& kids = caller.thread_group().children_;
    auto it = std::find_if(kids.begin(), kids.end(), [&](auto& c) { return c->tgid() == pid; });
    if (it == kids.end()) return Err(ESRCH);
    target = *it;
    if (target->sid() != caller.thread_group().sid()) return Err(EPERM);
  }
  if (pgid == 0) pgid = target->tgid();
  if (target->sid() == target->tgid()) return Err(EPERM);  // a session leader stays put
  if (pgid != target->tgid()) {
    // Joining a group: it must exist in the caller's session.
    bool exists = false;
    for (auto& [id, weak] : tg_index_) {
      auto tg = weak.lock();
      if (tg && tg->pgid() == pgid && tg->sid() == caller.thread_group().sid()) exists = true;
    }
    if (!exists) return Err(EPERM);
  }
  target->set_pgid(pgid);
  return {};
}

Result<pid_t> Kernel::SetSid(Task& caller) {
  absl::MutexLock lock(&procs_mu_);
  ThreadGroup& tg = caller.thread_group();
  pid_t id = tg.tgid();
  for (auto& [other, weak] : tg_index_) {
    auto g = weak.lock();
    if (g && g->pgid() == id) return Err(EPERM);  // already leads a process group
  }
  tg.set_sid(id);
  tg.set_pgid(id);
  return id;
}

std::shared_ptr<Task> Kernel::FindTask(pid_t tid) {
  absl::MutexLock lock(&procs_mu_);
  auto it = task_index_.find(tid);
  return it == task_index_.end() ? nullptr : it->second.lock();
}

Result<pid_t> Kernel::GetPgid(Task& caller, pid_t pid) {
  if (pid == 0) return caller.thread_group().pgid();
  if (pid < 0) return Err(ESRCH);
  absl::MutexLock lock(&procs_mu_);
  auto it = tg_index_.find(pid);
  auto tg = it == tg_index_.end() ? nullptr : it->second.lock();
  if (!tg) return Err(ESRCH);
  return tg->pgid();
}

Result<pid_t> Kernel::GetSid(Task& caller, pid_t pid) {
  if (pid == 0) return caller.thread_group().sid();
  if (pid < 0) return Err(ESRCH);
  absl::MutexLock lock(&procs_mu_);
  auto it = tg_index_.find(pid);
  auto tg = it == tg_index_.end() ? nullptr : it->second.lock();
  if (!tg) return Err(ESRCH);
  return tg->sid();
}

}  // namespace sentry::kernel
