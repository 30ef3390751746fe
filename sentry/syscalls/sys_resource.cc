// Resource usage and system figures: getrusage, times, sysinfo.
//
// A task's CPU time has two parts: what the application ran (user time) and what its sentry
// thread spent serving it (system time: the sentry is its kernel).
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/times.h>

#include <algorithm>

#include "sentry/kernel/kernel.h"
#include "sentry/syscalls/rusage_util.h"
#include "sentry/syscalls/table.h"

namespace sentry::syscalls {
namespace {

using CpuTimes = kernel::ThreadGroup::CpuTimes;

constexpr uint64_t kNsPerTick = 1'000'000'000 / 100;  // USER_HZ

// The process's figures: its live threads' and its ended ones'.
CpuTimes ProcessCpu(kernel::Task& t) {
  CpuTimes sum = t.thread_group().exited_threads_cpu();
  for (auto& task : t.kernel().AllTasks()) {
    if (&task->thread_group() != &t.thread_group()) continue;
    kernel::ThreadGroup::Accumulate(sum, task->CpuTimesSplit());
  }
  return sum;
}

Result<uint64_t> Sys_getrusage(kernel::Task& t, const Args& a) {
  int who = ArgInt(a[0]);
  if (who != RUSAGE_SELF && who != RUSAGE_CHILDREN && who != RUSAGE_THREAD) return Err(EINVAL);
  // The peak so far includes what the process holds now (Linux's mm hiwater).
  if (who != RUSAGE_CHILDREN) t.thread_group().NoteRss(t.mm().AccessibleBytes());
  CpuTimes c;
  if (who == RUSAGE_SELF) {
    c = ProcessCpu(t);
    // The host serves the faults of fresh memory unseen: each page of the peak counts once.
    c.minflt += c.maxrss_bytes / 4096;
  } else if (who == RUSAGE_CHILDREN) {
    c = t.thread_group().reaped_children_cpu();
  } else {
    c = t.CpuTimesSplit();
    c.maxrss_bytes = t.thread_group().exited_threads_cpu().maxrss_bytes;
  }
  TRY(t.mm().CopyOutObject(UserAddr(a[1]), ToRusage(c)));
  return 0;
}

Result<uint64_t> Sys_times(kernel::Task& t, const Args& a) {
  if (a[0] != 0) {
    CpuTimes self = ProcessCpu(t);
    CpuTimes kids = t.thread_group().reaped_children_cpu();
    tms buf{.tms_utime = static_cast<clock_t>(self.user_ns / kNsPerTick),
            .tms_stime = static_cast<clock_t>(self.sys_ns / kNsPerTick),
            .tms_cutime = static_cast<clock_t>(kids.user_ns / kNsPerTick),
            .tms_cstime = static_cast<clock_t>(kids.sys_ns / kNsPerTick)};
    TRY(t.mm().CopyOutObject(UserAddr(a[0]), buf));
  }
  // Ticks since the sandbox booted: only differences between two calls mean anything.
  return t.kernel().UptimeNs() / kNsPerTick;
}

Result<uint64_t> Sys_sysinfo(kernel::Task& t, const Args& a) {
  constexpr uint64_t kDefaultMemTotal = uint64_t{4} << 30;  // /proc/meminfo's fallback too
  uint64_t total = t.kernel().options().mem_total_bytes;
  if (total == 0) total = kDefaultMemTotal;
  uint64_t used = std::min(t.kernel().memory_file().AllocatedBytes(), total);
  struct sysinfo si {};
  si.uptime = static_cast<long>(t.kernel().UptimeNs() / 1'000'000'000);
  // No run queue to average: the loads are 0, as in /proc/loadavg.
  si.totalram = total;
  si.freeram = total - used;
  si.procs = static_cast<uint16_t>(std::min<size_t>(t.kernel().NumTasks(), UINT16_MAX));
  si.mem_unit = 1;
  TRY(t.mm().CopyOutObject(UserAddr(a[0]), si));
  return 0;
}

}  // namespace

void RegisterResourceSyscalls(SyscallTable& t) {
  t.handlers[SYS_getrusage] = Sys_getrusage;
  t.handlers[SYS_times] = Sys_times;
  t.handlers[SYS_sysinfo] = Sys_sysinfo;
}

}  // namespace sentry::syscalls
