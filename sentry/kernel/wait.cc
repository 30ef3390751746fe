// wait4 / waitid: a child's exit, stop or continue, reported to its parent.
#include <signal.h>
#include <sys/wait.h>

#include "sentry/base/interrupter.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {
namespace {

// Whether `child` is one the request asks about (before looking at its state).
bool Selected(const ThreadGroup& child, pid_t pgid, const Kernel::WaitRequest& req) {
  using Select = Kernel::WaitRequest::Select;
  switch (req.select) {
    case Select::kAll:
      break;
    case Select::kPid:
      if (child.tgid() != req.id) return false;
      break;
    case Select::kPgid:
      if (child.pgid() != pgid) return false;
      break;
    case Select::kProcess:
      if (&child != req.process.get()) return false;
      break;
  }
  // A "clone" child is one that does not send SIGCHLD at its end: __WCLONE waits for those
  // only, __WALL for both kinds.
  bool clone_child = child.exit_signal() != SIGCHLD;
  if (!(req.options & __WALL) && clone_child != ((req.options & __WCLONE) != 0)) return false;
  return true;
}

}  // namespace

Result<Kernel::WaitResult> Kernel::Wait(Task& caller, const WaitRequest& req) {
  ThreadGroup& parent = caller.thread_group();
  const int opts = req.options;
  // wait4(0) and waitid(P_PGID, 0): the caller's group when the wait starts.
  const pid_t pgid = req.id != 0 ? req.id : parent.pgid();
  absl::MutexLock lock(&procs_mu_);
  while (true) {
    bool any = false;
    auto& kids = parent.children_;
    for (auto it = kids.begin(); it != kids.end(); ++it) {
      ThreadGroup& child = **it;
      if (!Selected(child, pgid, req)) continue;
      // __WNOTHREAD: only children of the calling thread.
      if ((opts & __WNOTHREAD) && child.creator_tid_ != caller.tid()) continue;
      any = true;
      ThreadGroup::CpuTimes usage = ThreadGroup::ReapedUsage(child);
      WaitResult r{.pid = child.tgid(),
                   .user_ns = usage.user_ns,
                   .sys_ns = usage.sys_ns,
                   .minflt = usage.minflt,
                   .majflt = usage.majflt,
                   .nvcsw = usage.nvcsw,
                   .nivcsw = usage.nivcsw,
                   .maxrss_bytes = usage.maxrss_bytes};
      if (child.exited_) {
        if (!(opts & WEXITED)) continue;
        r.uid = child.exit_uid_;
        r.wait_status = child.wait_status_;
        if (WIFEXITED(child.wait_status_)) {
          r.code = CLD_EXITED;
          r.status = WEXITSTATUS(child.wait_status_);
        } else {
          r.code = WCOREDUMP(child.wait_status_) ? CLD_DUMPED : CLD_KILLED;
          r.status = WTERMSIG(child.wait_status_);
        }
        if (!(opts & WNOWAIT)) {
          parent.AddReapedChildCpu(child);
          tg_index_.erase(child.tgid());
          child.reaped_.store(true);
          kids.erase(it);
        }
        return r;
      }
      for (auto& t : child.tasks_) r.user_ns += t->CpuTimesSplit().user_ns;
      r.uid = child.tasks_.empty() ? child.exit_uid_ : child.tasks_.front()->creds().ruid;
      if ((opts & WSTOPPED) && child.stop_report_ != 0) {
        r.code = CLD_STOPPED;
        r.status = child.stop_report_;
        r.wait_status = (child.stop_report_ << 8) | 0x7f;
        if (!(opts & WNOWAIT)) child.stop_report_ = 0;
        return r;
      }
      if ((opts & WCONTINUED) && child.continued_report_) {
        r.code = CLD_CONTINUED;
        r.status = SIGCONT;
        r.wait_status = 0xffff;
        if (!(opts & WNOWAIT)) child.continued_report_ = false;
        return r;
      }
    }
    if (!any) return Err(ECHILD);
    if (opts & WNOHANG) return WaitResult{};
    Interrupter* intr = CurrentInterrupter();
    ScopedArm arm(intr, [this] {
      absl::MutexLock l(&procs_mu_);
      procs_cv_.SignalAll();
    });
    // Checked only now: a child that is ready wins over the signal that its exit sent.
    if (arm.Interrupted()) return Err(EINTR);
    procs_cv_.Wait(&procs_mu_);
  }
}

}  // namespace sentry::kernel
