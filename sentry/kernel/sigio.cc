// Signal-driven I/O on the kernel's side: whether an fcntl F_SETOWN target exists, and sending
// SIGIO (or the F_SETSIG signal) to a file's owner, as Linux's send_sigio.
#include <poll.h>
#include <signal.h>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/vfs/file_owner.h"

namespace sentry::kernel {
namespace {

// Linux's sigio_perm: the uids of whoever set the owner against the target's, root always.
// Unlike kill(2) there is no capability check, and the signal is not asked about.
bool SigioPermitted(const vfs::FileOwner& owner, const Credentials& target) {
  return owner.euid == 0 || owner.euid == target.suid || owner.euid == target.ruid ||
         owner.uid == target.suid || owner.uid == target.ruid;
}

// Signals with si_codes of their own (besides SIGPOLL's POLL_*): their info says SI_SIGIO
// rather than a POLL_* code that would mean something else for them.
bool HasSpecificCodes(int sig) {
  switch (sig) {
    case SIGILL:
    case SIGFPE:
    case SIGSEGV:
    case SIGBUS:
    case SIGTRAP:
    case SIGCHLD:
    case SIGSYS:
      return true;
    default:
      return false;
  }
}

// si_band for each POLL_* reason, in poll(2)'s bits.
long BandOf(int reason) {
  switch (reason) {
    case POLL_IN:
      return POLLIN | POLLRDNORM;
    case POLL_OUT:
      return POLLOUT | POLLWRNORM | POLLWRBAND;
    case POLL_MSG:
      return POLLIN | POLLRDNORM | POLLMSG;
    case POLL_ERR:
      return POLLERR;
    case POLL_PRI:
      return POLLPRI | POLLRDBAND;
    case POLL_HUP:
      return POLLHUP | POLLERR;
    default:
      return ~0L;
  }
}

}  // namespace

bool Kernel::IdInUse(pid_t id) {
  if (id <= 0) return false;
  absl::MutexLock lock(&procs_mu_);
  if (auto it = task_index_.find(id); it != task_index_.end() && it->second.lock()) return true;
  for (auto& [tgid, weak] : tg_index_) {
    auto tg = weak.lock();
    if (tg && (tgid == id || tg->pgid() == id || tg->sid() == id)) return true;
  }
  return false;
}

bool Kernel::OwnerExists(const vfs::FileOwner& owner) {
  if (owner.pid <= 0) return false;
  absl::MutexLock lock(&procs_mu_);
  switch (owner.type) {
    case F_OWNER_TID: {
      auto it = task_index_.find(owner.pid);
      return it != task_index_.end() && it->second.lock() != nullptr;
    }
    case F_OWNER_PID: {
      auto it = tg_index_.find(owner.pid);
      return it != tg_index_.end() && it->second.lock() != nullptr;
    }
    default:
      for (auto& [tgid, weak] : tg_index_) {
        auto tg = weak.lock();
        if (tg && tg->pgid() == owner.pid) return true;
      }
      return false;
  }
}

void Kernel::SendSigio(const vfs::FileOwner& owner, int signum, int fd, int reason) {
  siginfo_t info{};
  if (signum == 0) {
    info.si_signo = SIGIO;
    info.si_code = SI_KERNEL;
  } else {
    info.si_signo = signum;
    info.si_code = signum != SIGPOLL && HasSpecificCodes(signum) ? SI_SIGIO : reason;
    info.si_band = BandOf(reason);
    info.si_fd = fd;
  }
  std::shared_ptr<Task> thread;
  std::vector<std::shared_ptr<ThreadGroup>> groups;
  {
    absl::MutexLock lock(&procs_mu_);
    if (owner.type == F_OWNER_TID) {
      auto it = task_index_.find(owner.pid);
      if (it != task_index_.end()) thread = it->second.lock();
    } else if (owner.type == F_OWNER_PID) {
      // The owner's id names a thread (a process's leader, as a rule, which may have exited
      // while the others run on); the signal goes to its whole process.
      auto it = task_index_.find(owner.pid);
      auto task = it == task_index_.end() ? nullptr : it->second.lock();
      if (task) {
        groups.push_back(task->thread_group_ptr());
      } else if (auto tg_it = tg_index_.find(owner.pid); tg_it != tg_index_.end()) {
        if (auto tg = tg_it->second.lock()) groups.push_back(std::move(tg));
      }
    } else {
      for (auto& [tgid, weak] : tg_index_) {
        auto tg = weak.lock();
        if (tg && tg->pgid() == owner.pid && !tg->tasks_.empty()) groups.push_back(std::move(tg));
      }
    }
    // Checked against a live thread's credentials; a process with none left takes nothing.
    std::erase_if(groups, [&](auto& tg) {
      return tg->tasks_.empty() || !SigioPermitted(owner, tg->tasks_.front()->CredsCopy());
    });
  }
  if (thread) {
    if (SigioPermitted(owner, thread->CredsCopy())) SendToTask(*thread, info);
    return;
  }
  for (auto& tg : groups) (void)SendToThreadGroup(*tg, info);
}

}  // namespace sentry::kernel
