// The pid index as /proc sees it: processes by tgid (alive or zombie), their threads, and the
// signal state status shows. Every answer is taken under procs_mu_ and holds what it names by
// shared_ptr, so the caller may use it after the lock, even if the task exits meanwhile.
#include <algorithm>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {

std::optional<Kernel::ProcessView> Kernel::FindProcess(pid_t tgid) {
  absl::MutexLock lock(&procs_mu_);
  auto it = tg_index_.find(tgid);
  if (it == tg_index_.end()) return std::nullopt;
  ProcessView v;
  v.tg = it->second.lock();
  if (!v.tg) return std::nullopt;
  v.threads = v.tg->tasks_;
  std::sort(v.threads.begin(), v.threads.end(),
            [](const auto& a, const auto& b) { return a->tid() < b->tid(); });
  for (const auto& t : v.threads) {
    if (t->tid() == tgid) v.leader = t;
  }
  v.exited_leader = v.tg->exited_leader_;
  v.zombie = v.tg->exited_;
  v.wait_status = v.tg->wait_status_;
  // Forked but not running yet: nothing to show until its first thread exists.
  if (!v.leader && !v.exited_leader) return std::nullopt;
  return v;
}

bool Kernel::IsVisible(const ThreadGroup& tg) {
  absl::MutexLock lock(&procs_mu_);
  auto it = tg_index_.find(tg.tgid());
  return it != tg_index_.end() && it->second.lock().get() == &tg;
}

std::vector<pid_t> Kernel::ProcessIds() {
  std::vector<pid_t> out;
  {
    absl::MutexLock lock(&procs_mu_);
    for (const auto& [tgid, weak] : tg_index_) {
      auto tg = weak.lock();
      if (tg && (!tg->tasks_.empty() || tg->exited_leader_)) out.push_back(tgid);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::pair<uint64_t, uint64_t> Kernel::PendingSets(Task& task) {
  absl::MutexLock lock(&sig_mu_);
  return {task.pending_.set, task.thread_group().shared_pending_.set};
}

size_t Kernel::QueuedSignals(ThreadGroup& tg) {
  std::vector<std::shared_ptr<Task>> threads;
  {
    absl::MutexLock lock(&procs_mu_);
    threads = tg.tasks_;
  }
  absl::MutexLock lock(&sig_mu_);
  size_t n = tg.shared_pending_.queue.size();
  for (const auto& t : threads) n += t->pending_.queue.size();
  return n;
}

void Kernel::RegisterTask(const std::shared_ptr<Task>& task) {
  absl::MutexLock lock(&procs_mu_);
  ThreadGroup& tg = task->thread_group();
  tg.tasks_.push_back(task);
  task_index_[task->tid()] = task;
  if (task->tid() == tg.tgid()) tg_index_[tg.tgid()] = task->thread_group_ptr();
}

}  // namespace sentry::kernel
