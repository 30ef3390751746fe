// procfs: the sandbox's /proc, a read-only file system whose files are generated from the
// kernel's state when they are opened (and again when a reader rewinds to offset 0, as top and
// free do). The lead mounts it like any other file system:
//
//   auto root = proc::NewProcRoot(kernel, proc::HostProcSnapshot::Capture());
//   auto mount = std::make_shared<vfs::Mount>(vfs::Dentry::NewRoot(root), "proc", "proc",
//                                             MS_NOSUID | MS_NODEV | MS_NOEXEC);
//
// Tasks are found through a TaskLookup; the kernel has no task registry yet, so the default one
// knows only the calling task (Task::Current()), which is all there is today.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sentry/vfs/inode.h"

namespace sentry::kernel {
class Kernel;
class Task;
}  // namespace sentry::kernel

namespace sentry::fsimpl::proc {

// What /proc shows of the host. The sentry opens no host path once it is confined, so runsc
// boot fills this in before that (Capture() does it all) and hands it to NewProcRoot.
struct HostProcSnapshot {
  std::string cpuinfo;           // the host's /proc/cpuinfo, verbatim
  uint64_t mem_total_bytes = 0;  // sysinfo(2): totalram * mem_unit; MemTotal in meminfo
  unsigned num_cpus = 0;         // CPUs the sandbox may run on (its affinity mask's count)

  // Reads all of the above from the host. Call it before the sentry is confined: it opens
  // /proc/cpuinfo. Fields it cannot read stay empty and get defaults in NewProcRoot.
  static HostProcSnapshot Capture();
};

// How /proc finds tasks: the seam where the kernel's task registry slots in. Until there is
// one, CurrentTaskLookup() serves the only task there is, the caller. A Task* it returns is
// valid while the caller's operation runs (today: the caller itself, which cannot exit under
// it); a registry with exiting tasks will need to hand out references that keep them alive.
class TaskLookup {
 public:
  virtual ~TaskLookup() = default;
  // The task the calling thread runs ("self"), or null outside any task.
  virtual kernel::Task* Current() const = 0;
  // The thread `tid` (a TID in the caller's PID namespace), or null if there is none.
  virtual kernel::Task* Find(pid_t tid) const = 0;
  // The TGIDs of every process the caller can see, ascending: the numbered /proc entries.
  virtual std::vector<pid_t> ThreadGroups() const = 0;
  // The TIDs of process `tgid`'s threads, ascending: /proc/TGID/task.
  virtual std::vector<pid_t> Threads(pid_t tgid) const = 0;
};

// The lookup that knows only Task::Current().
std::shared_ptr<TaskLookup> CurrentTaskLookup();

// The root directory of a new procfs instance. `k` must outlive it; its mount tree is read
// when a file asks for it (so the procfs can be created before Kernel::SetMounts).
std::shared_ptr<vfs::Inode> NewProcRoot(kernel::Kernel& k, HostProcSnapshot host = {},
                                        std::shared_ptr<TaskLookup> tasks = CurrentTaskLookup());

}  // namespace sentry::fsimpl::proc
