// Sessions' controlling terminals and what terminals ask of the process tree: signalling a
// process group, whether a group is in a session or orphaned. Kept apart from signals.cc and
// process.cc, which change for other reasons.
#include <signal.h>

#include "sentry/kernel/ctty.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {

std::shared_ptr<ControllingTerminal> Kernel::TerminalOf(const ThreadGroup& tg) {
  absl::MutexLock lock(&ctty_mu_);
  if (ctty_dropped_.contains(tg.tgid())) return nullptr;
  auto it = session_ttys_.find(tg.sid());
  return it == session_ttys_.end() ? nullptr : it->second;
}

Result<void> Kernel::SetSessionTerminal(pid_t sid, std::shared_ptr<ControllingTerminal> tty) {
  absl::MutexLock lock(&ctty_mu_);
  auto [it, inserted] = session_ttys_.try_emplace(sid, std::move(tty));
  if (!inserted) return Err(EPERM);
  ctty_dropped_.erase(sid);
  return {};
}

void Kernel::ClearSessionTerminal(pid_t sid, const ControllingTerminal* tty) {
  std::shared_ptr<ControllingTerminal> gone;  // released outside the lock
  absl::MutexLock lock(&ctty_mu_);
  auto it = session_ttys_.find(sid);
  if (it == session_ttys_.end() || it->second.get() != tty) return;
  gone = std::move(it->second);
  session_ttys_.erase(it);
}

void Kernel::DropTerminal(const ThreadGroup& tg) {
  absl::MutexLock lock(&ctty_mu_);
  ctty_dropped_.insert(tg.tgid());
}

void Kernel::SessionLeaderExited(ThreadGroup& tg) {
  std::shared_ptr<ControllingTerminal> tty;
  {
    absl::MutexLock lock(&ctty_mu_);
    ctty_dropped_.erase(tg.tgid());
    if (tg.tgid() != tg.sid()) return;
    auto it = session_ttys_.find(tg.sid());
    if (it == session_ttys_.end()) return;
    tty = std::move(it->second);
    session_ttys_.erase(it);
  }
  tty->SessionLeaderExited();
}

void Kernel::SignalProcessGroup(pid_t pgid, int sig) {
  if (pgid <= 0) return;
  std::vector<std::shared_ptr<ThreadGroup>> targets;
  {
    absl::MutexLock lock(&procs_mu_);
    for (auto& [id, weak] : tg_index_) {
      auto tg = weak.lock();
      if (tg && tg->pgid() == pgid && !tg->exited_) targets.push_back(std::move(tg));
    }
  }
  siginfo_t info{};
  info.si_signo = sig;
  info.si_code = SI_KERNEL;
  for (auto& tg : targets) (void)SendToThreadGroup(*tg, info);
}

void Kernel::SignalProcessFromKernel(pid_t tgid, int sig) {
  std::shared_ptr<ThreadGroup> tg;
  {
    absl::MutexLock lock(&procs_mu_);
    if (auto it = tg_index_.find(tgid); it != tg_index_.end()) tg = it->second.lock();
    if (!tg || tg->exited_) return;
  }
  siginfo_t info{};
  info.si_signo = sig;
  info.si_code = SI_KERNEL;
  (void)SendToThreadGroup(*tg, info);
}

bool Kernel::ProcessGroupInSession(pid_t pgid, pid_t sid) {
  absl::MutexLock lock(&procs_mu_);
  for (auto& [id, weak] : tg_index_) {
    auto tg = weak.lock();
    if (tg && !tg->exited_ && tg->pgid() == pgid) return tg->sid() == sid;
  }
  return false;
}

bool Kernel::ProcessGroupExists(pid_t pgid) {
  absl::MutexLock lock(&procs_mu_);
  for (auto& [id, weak] : tg_index_) {
    auto tg = weak.lock();
    if (tg && !tg->exited_ && tg->pgid() == pgid) return true;
  }
  return false;
}

bool Kernel::ProcessGroupOrphaned(pid_t pgid) {
  // POSIX: orphaned when no member has a parent in another group of the same session.
  absl::MutexLock lock(&procs_mu_);
  for (auto& [id, weak] : tg_index_) {
    auto tg = weak.lock();
    if (!tg || tg->exited_ || tg->pgid() != pgid) continue;
    auto parent = tg->parent();
    if (parent && !parent->exited_ && parent->pgid() != pgid && parent->sid() == tg->sid()) {
      return false;
    }
  }
  return true;
}

}  // namespace sentry::kernel
