#include "sentry/kernel/cpu_clocks.h"

#include <algorithm>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {

std::vector<std::shared_ptr<Task>> Kernel::ThreadsOf(ThreadGroup& tg) {
  absl::MutexLock lock(&procs_mu_);
  return tg.tasks_;
}

std::shared_ptr<ThreadGroup> Kernel::FindThreadGroup(pid_t tgid) {
  absl::MutexLock lock(&procs_mu_);
  auto it = tg_index_.find(tgid);
  auto tg = it == tg_index_.end() ? nullptr : it->second.lock();
  if (tg && (tg->exited_ || tg->tasks_.empty())) return nullptr;
  return tg;
}

Result<CpuClock> ResolveCpuClock(Task& caller, clockid_t id) {
  CpuClock c;
  if (id == CLOCK_PROCESS_CPUTIME_ID || id == CLOCK_THREAD_CPUTIME_ID) {
    c.per_thread = id == CLOCK_THREAD_CPUTIME_ID;
    if (c.per_thread) {
      c.thread = caller.kernel().FindTask(caller.tid());
    } else {
      c.process = caller.thread_group_ptr();
    }
    return c;
  }
  if (id >= 0 || (id & 3) == 3) return Err(EINVAL);
  c.kind = static_cast<CpuClockKind>(id & 3);
  c.per_thread = IsThreadCpuClockId(id);
  pid_t pid = CpuClockPid(id);
  Kernel& k = caller.kernel();
  if (c.per_thread) {
    auto t = k.FindTask(pid == 0 ? caller.tid() : pid);
    if (!t || &t->thread_group() != &caller.thread_group()) return Err(EINVAL);
    c.thread = t;
    return c;
  }
  if (pid == 0 || pid == caller.tid()) {
    c.process = caller.thread_group_ptr();
    return c;
  }
  auto tg = k.FindThreadGroup(pid);
  if (!tg) return Err(EINVAL);
  c.process = tg;
  return c;
}

std::optional<uint64_t> ReadCpuClock(Kernel& kernel, const CpuClock& clock) {
  if (clock.per_thread) {
    auto t = clock.thread.lock();
    if (!t || t->exiting()) return std::nullopt;
    auto split = t->CpuTimesSplit();
    return clock.kind == CpuClockKind::kVirt ? split.user_ns : split.user_ns + split.sys_ns;
  }
  auto tg = clock.process.lock();
  if (!tg) return std::nullopt;
  auto threads = kernel.ThreadsOf(*tg);
  ThreadGroup::CpuTimes gone = tg->exited_threads_cpu();
  if (threads.empty()) {
    return clock.kind == CpuClockKind::kVirt ? gone.user_ns : gone.user_ns + gone.sys_ns;
  }
  uint64_t user = gone.user_ns, sys = gone.sys_ns;
  for (auto& t : threads) {
    auto split = t->CpuTimesSplit();
    user += split.user_ns;
    sys += split.sys_ns;
  }
  return clock.kind == CpuClockKind::kVirt ? user : user + sys;
}

}  // namespace sentry::kernel
