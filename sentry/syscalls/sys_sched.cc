// Scheduling attributes (sched_{get,set}{scheduler,param}, sched_get_priority_{max,min}, nice
// values through {get,set}priority), personality, getcpu and membarrier.
//
// The host schedules the sentry's threads; policies, priorities and nice values are kept per
// task and reported back, with Linux's argument and permission checks, but not acted upon.
#include <linux/membarrier.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "sentry/kernel/kernel.h"
#include "sentry/syscalls/table.h"

namespace sentry::syscalls {
namespace {

constexpr int kMinNice = -20, kMaxNice = 19;
constexpr int kMaxRtPriority = 99;
constexpr int kCapSysNice = 23;

bool CanSysNice(const kernel::Task& t) { return t.creds().cap_effective & (1ULL << kCapSysNice); }

bool IsRtPolicy(int policy) { return policy == SCHED_FIFO || policy == SCHED_RR; }
bool IsValidPolicy(int policy) {
  return policy == SCHED_OTHER || IsRtPolicy(policy) || policy == SCHED_BATCH ||
         policy == SCHED_IDLE || policy == SCHED_DEADLINE;
}

// A thread by id, 0 for the caller.
Result<std::shared_ptr<kernel::Task>> FindTarget(kernel::Task& t, pid_t pid) {
  if (pid == 0) return t.kernel().FindTask(t.tid());
  auto target = t.kernel().FindTask(pid);
  if (!target) return Err(ESRCH);
  return target;
}

// Linux's check_same_owner / set_one_prio_perm: the caller's effective UID owns the target.
bool SameOwner(const kernel::Task& caller, const kernel::Task& target) {
  uint32_t euid = caller.creds().euid;
  return euid == target.creds().ruid || euid == target.creds().euid;
}

uint64_t NiceLimit(kernel::Task& target) {
  std::lock_guard lock(target.thread_group().mu());
  return target.thread_group().limits().Get(RLIMIT_NICE).cur;
}

Result<uint64_t> SetScheduler(kernel::Task& t, pid_t pid, int policy, UserAddr param) {
  if (param.value == 0 || pid < 0) return Err(EINVAL);
  sched_param p = TRY(t.mm().CopyInObject<sched_param>(param));
  auto target = TRY(FindTarget(t, pid));
  kernel::Task::SchedAttr cur = target->sched();
  kernel::Task::SchedAttr next = cur;
  if (policy >= 0) {  // < 0: sched_setparam, which keeps the policy
    next.reset_on_fork = policy & SCHED_RESET_ON_FORK;
    policy &= ~SCHED_RESET_ON_FORK;
    if (!IsValidPolicy(policy)) return Err(EINVAL);
    next.policy = policy;
  }
  if (p.sched_priority < 0 || p.sched_priority > kMaxRtPriority) return Err(EINVAL);
  // SCHED_DEADLINE needs its runtime and period: only sched_setattr can give them.
  if (next.policy == SCHED_DEADLINE) return Err(EINVAL);
  if (IsRtPolicy(next.policy) != (p.sched_priority != 0)) return Err(EINVAL);
  next.priority = p.sched_priority;
  if (!CanSysNice(t)) {
    if (IsRtPolicy(next.policy)) {
      uint64_t rtprio;
      {
        std::lock_guard lock(target->thread_group().mu());
        rtprio = target->thread_group().limits().Get(RLIMIT_RTPRIO).cur;
      }
      if (next.policy != cur.policy && rtprio == 0) return Err(EPERM);
      int cur_prio = IsRtPolicy(cur.policy) ? cur.priority : 0;
      if (static_cast<uint64_t>(next.priority) > std::max<uint64_t>(cur_prio, rtprio)) {
        return Err(EPERM);
      }
    }
    if (!SameOwner(t, *target)) return Err(EPERM);
    if (cur.reset_on_fork && !next.reset_on_fork) return Err(EPERM);
  }
  target->set_sched(next);
  return 0;
}

Result<uint64_t> Sys_sched_setscheduler(kernel::Task& t, const Args& a) {
  int policy = ArgInt(a[1]);
  if (policy < 0) return Err(EINVAL);
  return SetScheduler(t, ArgInt(a[0]), policy, UserAddr(a[2]));
}

Result<uint64_t> Sys_sched_setparam(kernel::Task& t, const Args& a) {
  return SetScheduler(t, ArgInt(a[0]), -1, UserAddr(a[1]));
}

Result<uint64_t> Sys_sched_getscheduler(kernel::Task& t, const Args& a) {
  pid_t pid = ArgInt(a[0]);
  if (pid < 0) return Err(EINVAL);
  auto target = TRY(FindTarget(t, pid));
  kernel::Task::SchedAttr s = target->sched();
  return static_cast<uint64_t>(s.policy | (s.reset_on_fork ? SCHED_RESET_ON_FORK : 0));
}

Result<uint64_t> Sys_sched_getparam(kernel::Task& t, const Args& a) {
  pid_t pid = ArgInt(a[0]);
  if (a[1] == 0 || pid < 0) return Err(EINVAL);
  auto target = TRY(FindTarget(t, pid));
  kernel::Task::SchedAttr s = target->sched();
  sched_param p{.sched_priority = IsRtPolicy(s.policy) ? s.priority : 0};
  TRY(t.mm().CopyOutObject(UserAddr(a[1]), p));
  return 0;
}

Result<uint64_t> Sys_sched_get_priority_max(kernel::Task&, const Args& a) {
  int policy = ArgInt(a[0]);
  if (!IsValidPolicy(policy)) return Err(EINVAL);
  return IsRtPolicy(policy) ? kMaxRtPriority : 0;
}

Result<uint64_t> Sys_sched_get_priority_min(kernel::Task&, const Args& a) {
  int policy = ArgInt(a[0]);
  if (!IsValidPolicy(policy)) return Err(EINVAL);
  return IsRtPolicy(policy) ? 1 : 0;
}

// The threads that {get,set}priority's (which, who) names.
Result<std::vector<std::shared_ptr<kernel::Task>>> PriorityTargets(kernel::Task& t, int which,
                                                                   int who) {
  std::vector<std::shared_ptr<kernel::Task>> out;
  switch (which) {
    case PRIO_PROCESS: {
      if (who == 0) {
        out.push_back(t.kernel().FindTask(t.tid()));
      } else if (auto target = t.kernel().FindTask(who)) {
        out.push_back(std::move(target));
      }
      break;
    }
    case PRIO_PGRP: {
      pid_t pgrp = who == 0 ? t.thread_group().pgid() : who;
      for (auto& task : t.kernel().AllTasks()) {
        if (task->thread_group().pgid() == pgrp) out.push_back(task);
      }
      break;
    }
    case PRIO_USER: {
      uint32_t uid = who == 0 ? t.creds().ruid : static_cast<uint32_t>(who);
      for (auto& task : t.kernel().AllTasks()) {
        if (task->creds().ruid == uid) out.push_back(task);
      }
      break;
    }
    default:
      return Err(EINVAL);
  }
  std::erase(out, nullptr);
  return out;
}

Result<uint64_t> Sys_getpriority(kernel::Task& t, const Args& a) {
  auto targets = TRY(PriorityTargets(t, ArgInt(a[0]), ArgInt(a[1])));
  if (targets.empty()) return Err(ESRCH);
  int best = 0;
  // The raw syscall returns 20 - nice (1..40), so that no success looks like an error.
  for (auto& task : targets) best = std::max(best, 20 - task->sched().nice);
  return best;
}

Result<uint64_t> Sys_setpriority(kernel::Task& t, const Args& a) {
  auto targets = TRY(PriorityTargets(t, ArgInt(a[0]), ArgInt(a[1])));
  int nice = std::clamp(ArgInt(a[2]), kMinNice, kMaxNice);
  int err = ESRCH;
  for (auto& task : targets) {
    kernel::Task::SchedAttr s = task->sched();
    if (!SameOwner(t, *task) && !CanSysNice(t)) {
      err = EPERM;
      continue;
    }
    // Raising priority needs CAP_SYS_NICE or an RLIMIT_NICE that allows 20 - nice.
    if (nice<s.nice&& static_cast<uint64_t>(20 - nice)> NiceLimit(*task) && !CanSysNice(t)) {
      err = EACCES;
      continue;
    }
    if (err == ESRCH) err = 0;
    s.nice = nice;
    task->set_sched(s);
  }
  if (err != 0) return Err(err);
  return 0;
}

Result<uint64_t> Sys_personality(kernel::Task& t, const Args& a) {
  uint32_t old = t.personality();
  uint32_t next = static_cast<uint32_t>(a[0]);
  if (next != 0xffffffff) t.set_personality(next);
  return old;
}

Result<uint64_t> Sys_getcpu(kernel::Task& t, const Args& a) {
  // The host CPU the sentry thread is on, folded into the CPUs the sandbox reports.
  int host = sched_getcpu();
  unsigned cpu = host < 0 ? 0 : static_cast<unsigned>(host) % t.kernel().options().num_cpus;
  if (a[0] != 0) TRY(t.mm().CopyOutObject(UserAddr(a[0]), cpu));
  if (a[1] != 0) TRY(t.mm().CopyOutObject(UserAddr(a[1]), 0u));  // one NUMA node
  return 0;
}

constexpr int kMembarrierSupported =
    MEMBARRIER_CMD_GLOBAL | MEMBARRIER_CMD_GLOBAL_EXPEDITED |
    MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED | MEMBARRIER_CMD_PRIVATE_EXPEDITED |
    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED | MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE |
    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE;

// Every barrier is the host's MEMBARRIER_CMD_GLOBAL: it waits until each host CPU has passed
// a full barrier (and a kernel exit, which serialises the core), which covers the application's
// threads wherever they run, whatever their address space.
Result<uint64_t> HostBarrier() {
  if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) < 0) return Err(errno);
  return 0;
}

Result<uint64_t> Sys_membarrier(kernel::Task& t, const Args& a) {
  int cmd = ArgInt(a[0]);
  if (a[1] != 0) return Err(EINVAL);  // MEMBARRIER_CMD_FLAG_CPU is only for the rseq command
  kernel::ThreadGroup& tg = t.thread_group();
  switch (cmd) {
    case MEMBARRIER_CMD_QUERY:
      return kMembarrierSupported;
    case MEMBARRIER_CMD_GLOBAL:
    case MEMBARRIER_CMD_GLOBAL_EXPEDITED:
      return HostBarrier();
    case MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED:
    case MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED:
    case MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE:
      tg.add_membarrier_registration(cmd);
      return 0;
    case MEMBARRIER_CMD_PRIVATE_EXPEDITED:
      if (!(tg.membarrier_registered() & MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED)) {
        return Err(EPERM);
      }
      return HostBarrier();
    case MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE:
      if (!(tg.membarrier_registered() & MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE)) {
        return Err(EPERM);
      }
      return HostBarrier();
    default:
      return Err(EINVAL);  // the rseq commands (no rseq), GET_REGISTRATIONS, unknown ones
  }
}

}  // namespace

void RegisterSchedSyscalls(SyscallTable& t) {
  t.handlers[SYS_sched_setparam] = Sys_sched_setparam;
  t.handlers[SYS_sched_getparam] = Sys_sched_getparam;
  t.handlers[SYS_sched_setscheduler] = Sys_sched_setscheduler;
  t.handlers[SYS_sched_getscheduler] = Sys_sched_getscheduler;
  t.handlers[SYS_sched_get_priority_max] = Sys_sched_get_priority_max;
  t.handlers[SYS_sched_get_priority_min] = Sys_sched_get_priority_min;
  t.handlers[SYS_getpriority] = Sys_getpriority;
  t.handlers[SYS_setpriority] = Sys_setpriority;
  t.handlers[SYS_personality] = Sys_personality;
  t.handlers[SYS_getcpu] = Sys_getcpu;
  t.handlers[SYS_membarrier] = Sys_membarrier;
}

}  // namespace sentry::syscalls
