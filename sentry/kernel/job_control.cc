// Job control: group stop and continue, the parent's CLD_STOPPED / CLD_CONTINUED notices,
// orphaned process groups, and who may signal whom.
//
// A stop signal with the default action, once dequeued by one thread, moves its process to
// kStopping and marks every thread stop-pending; each thread parks itself the next time it
// handles signals (interrupting a blocked syscall, which then restarts by the ERESTART* rules
// once the process continues). The last one to park makes the stop complete (kStopped) and
// tells the parent. SIGCONT, when it is generated (not delivered), ends the stop whatever the
// disposition or mask. All the state is under procs_mu_, and a parked thread sleeps on that
// mutex until SIGCONT or its exit.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {
namespace {

constexpr uint64_t kStopSignals =
    SigBit(SIGSTOP) | SigBit(SIGTSTP) | SigBit(SIGTTIN) | SigBit(SIGTTOU);
constexpr int kCapKill = 5;  // CAP_KILL

void RemovePending(PendingSignals& p, uint64_t mask) {
  p.set &= ~mask;
  std::erase_if(p.queue, [mask](const siginfo_t& i) { return (SigBit(i.si_signo) & mask) != 0; });
}

// Whether the signal would be dropped on arrival (as signals.cc decides for any signal).
bool IgnoredBy(const ThreadGroup& tg, const KernelSigaction& act, int sig) {
  if (act.handler == reinterpret_cast<uint64_t>(SIG_IGN)) return true;
  if (act.handler != reinterpret_cast<uint64_t>(SIG_DFL)) return false;
  if (tg.tgid() == 1) return true;  // init takes only the signals it handles
  auto d = DefaultActionOf(sig);
  return d == DefaultAction::kIgnore || d == DefaultAction::kContinue;
}

}  // namespace

void Kernel::PrepareSignalLocked(ThreadGroup& tg, int sig,
                                 std::vector<std::shared_ptr<Task>>* wake) {
  if (SigBit(sig) & kStopSignals) {
    absl::MutexLock slock(&sig_mu_);
    RemovePending(tg.shared_pending_, SigBit(SIGCONT));
    for (auto& t : tg.tasks_) RemovePending(t->pending_, SigBit(SIGCONT));
    return;
  }
  if (sig != SIGCONT) return;
  {
    absl::MutexLock slock(&sig_mu_);
    RemovePending(tg.shared_pending_, kStopSignals);
    for (auto& t : tg.tasks_) RemovePending(t->pending_, kStopSignals);
    // Read under sig_mu_ by DeliverSignals when it dequeues a stop signal.
    ++tg.continue_count_;
  }
  for (auto& t : tg.tasks_) {
    t->stop_pending_.store(false);
    t->group_stopped_.store(false);
  }
  tg.threads_to_stop_ = 0;
  if (tg.stop_state_ == ThreadGroup::StopState::kRunning) return;
  bool was_stopped = tg.stop_state_ == ThreadGroup::StopState::kStopped;
  // Parked threads wake up as procs_mu_ is released: their condition now holds.
  tg.stop_state_ = ThreadGroup::StopState::kRunning;
  if (!was_stopped) return;  // the parent never heard of a stop that did not complete
  tg.stop_report_ = 0;
  tg.continued_report_ = true;
  NotifyParentJobLocked(tg, CLD_CONTINUED, SIGCONT, wake);
  procs_cv_.SignalAll();
}

void Kernel::BeginGroupStop(Task& task, int sig, uint64_t continue_count) {
  ThreadGroup& tg = task.thread_group();
  std::vector<std::shared_ptr<Task>> others;
  {
    absl::MutexLock lock(&procs_mu_);
    if (tg.group_exiting_ || tg.continue_count_ != continue_count) return;
    // The terminal stop signals would leave an orphaned group stopped with no one to
    // continue it: Linux discards them.
    if (sig != SIGSTOP && IsOrphanedPgrpLocked(tg.pgid())) return;
    if (tg.stop_state_ != ThreadGroup::StopState::kRunning) return;  // joins the one under way
    tg.stop_state_ = ThreadGroup::StopState::kStopping;
    tg.stop_signal_ = sig;
    tg.threads_to_stop_ = 0;
    for (auto& t : tg.tasks_) {
      if (t->exiting()) continue;
      t->stop_pending_.store(true);
      ++tg.threads_to_stop_;
      if (t.get() != &task) others.push_back(t);
    }
  }
  for (auto& t : others) t->Interrupt();
}

void Kernel::LeaveGroupStopLocked(Task& task, std::vector<std::shared_ptr<Task>>* wake) {
  ThreadGroup& tg = task.thread_group();
  if (!task.stop_pending_.exchange(false)) return;
  if (tg.stop_state_ != ThreadGroup::StopState::kStopping || --tg.threads_to_stop_ > 0) return;
  if (tg.group_exiting_) return;  // a dying process does not report a stop
  tg.stop_state_ = ThreadGroup::StopState::kStopped;
  tg.stop_report_ = tg.stop_signal_;
  tg.continued_report_ = false;
  NotifyParentJobLocked(tg, CLD_STOPPED, tg.stop_signal_, wake);
  procs_cv_.SignalAll();
}

void Kernel::ParkForGroupStop(Task& task) {
  ThreadGroup& tg = task.thread_group();
  std::vector<std::shared_ptr<Task>> wake;
  {
    absl::MutexLock lock(&procs_mu_);
    LeaveGroupStopLocked(task, &wake);
  }
  for (auto& t : wake) t->Interrupt();
  absl::MutexLock lock(&procs_mu_);
  // SIGKILL (or the process ending otherwise) sets exiting and fires the interrupter, whose
  // wake-up passes through procs_mu_ so that the condition is looked at again. Other signals
  // wait until the process continues.
  ScopedArm arm(&task.interrupter(), [this] { absl::MutexLock l(&procs_mu_); });
  auto resumed = [&] {
    return tg.stop_state_ == ThreadGroup::StopState::kRunning || task.stop_pending() ||
           task.exiting();
  };
  task.group_stopped_.store(!resumed());
  procs_mu_.Await(absl::Condition(&resumed));
  task.group_stopped_.store(false);
}

void Kernel::QueueChildSignalLocked(ThreadGroup& parent, const siginfo_t& info,
                                    std::vector<std::shared_ptr<Task>>* wake) {
  int sig = info.si_signo;
  KernelSigaction act;
  {
    std::lock_guard lock(parent.mu());
    act = parent.action(sig);
  }
  if (parent.tasks_.empty()) return;
  bool all_block = std::all_of(parent.tasks_.begin(), parent.tasks_.end(),
                               [&](auto& t) { return t->blocked_for_ignore() & SigBit(sig); });
  if (IgnoredBy(parent, act, sig) && !all_block) return;
  {
    absl::MutexLock slock(&sig_mu_);
    if (auto t = QueueLocked(parent, nullptr, info)) wake->push_back(std::move(t));
  }
  parent.signalfd_queue().Notify(POLLIN);  // under procs_mu_, not the signal lock
}

void Kernel::NotifyParentJobLocked(ThreadGroup& child, int code, int status,
                                   std::vector<std::shared_ptr<Task>>* wake) {
  auto parent = child.parent();
  if (!parent || parent->exited_) return;
  {
    std::lock_guard lock(parent->mu());
    if (parent->action(SIGCHLD).flags & SA_NOCLDSTOP) return;
  }
  siginfo_t info{};
  info.si_signo = SIGCHLD;
  info.si_code = code;
  info.si_pid = child.tgid();
  info.si_uid = child.tasks_.empty() ? child.exit_uid_ : child.tasks_.front()->creds().ruid;
  info.si_status = status;
  QueueChildSignalLocked(*parent, info, wake);
}

bool Kernel::IsOrphanedPgrpLocked(pid_t pgid) {
  for (auto& [id, weak] : tg_index_) {
    auto member = weak.lock();
    if (!member || member->exited_ || member->pgid() != pgid) continue;
    auto parent = member->parent();
    if (parent && !parent->exited_ && parent->pgid() != pgid && parent->sid() == member->sid()) {
      return false;
    }
  }
  return true;
}

void Kernel::HangUpOrphanedPgrpsLocked(ThreadGroup& tg,
                                       const std::vector<std::shared_ptr<ThreadGroup>>& adopted,
                                       std::vector<pid_t>* pgids) {
  // The groups that `tg` may have kept from being orphaned: its own (through its parent) and
  // those of its children in other groups of its session.
  std::vector<pid_t> candidates;
  if (auto parent = tg.parent();
      parent && parent->pgid() != tg.pgid() && parent->sid() == tg.sid()) {
    candidates.push_back(tg.pgid());
  }
  for (auto& child : adopted) {
    if (child->pgid() != tg.pgid() && child->sid() == tg.sid()) {
      candidates.push_back(child->pgid());
    }
  }
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  for (pid_t pgid : candidates) {
    bool stopped = false;
    for (auto& [id, weak] : tg_index_) {
      auto member = weak.lock();
      if (member && !member->exited_ && member->pgid() == pgid &&
          member->stop_state_ == ThreadGroup::StopState::kStopped) {
        stopped = true;
      }
    }
    if (stopped && IsOrphanedPgrpLocked(pgid)) pgids->push_back(pgid);
  }
}

bool Kernel::MaySignal(const Task& sender, const Task& target, int sig) {
  const ThreadGroup& stg = sender.thread_group();
  const ThreadGroup& ttg = target.thread_group();
  if (&stg == &ttg) return true;
  const Credentials& s = sender.creds();
  const Credentials& t = target.creds();
  if (s.euid == t.suid || s.euid == t.ruid || s.ruid == t.suid || s.ruid == t.ruid) return true;
  if (s.cap_effective & (uint64_t{1} << kCapKill)) return true;
  return sig == SIGCONT && stg.sid() == ttg.sid();
}

bool Kernel::MaySignalLocked(const Task& sender, ThreadGroup& target, int sig) {
  if (!target.tasks_.empty()) return MaySignal(sender, *target.tasks_.front(), sig);
  // A zombie: its last thread's credentials, as Linux keeps them on the dead leader.
  const ThreadGroup& stg = sender.thread_group();
  if (&stg == &target) return true;
  const Credentials& s = sender.creds();
  if (s.euid == target.exit_uid_ || s.ruid == target.exit_uid_ || s.euid == target.exit_suid_ ||
      s.ruid == target.exit_suid_) {
    return true;
  }
  if (s.cap_effective & (uint64_t{1} << kCapKill)) return true;
  return sig == SIGCONT && stg.sid() == target.sid();
}

}  // namespace sentry::kernel
