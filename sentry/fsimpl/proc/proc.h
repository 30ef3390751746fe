// procfs: the sandbox's /proc, a read-only file system whose files are generated from the
// kernel's state when they are opened (and again when a reader rewinds to offset 0, as top and
// free do). The lead mounts it like any other file system:
//
//   auto root = proc::NewProcRoot(kernel, proc::HostProcSnapshot::Capture());
//   auto mount = std::make_shared<vfs::Mount>(vfs::Dentry::NewRoot(root), "proc", "proc",
//                                             MS_NOSUID | MS_NODEV | MS_NOEXEC);
//
// Tasks are found in the kernel's pid index (Kernel::FindProcess): every process of the
// sandbox from its start until it is reaped, and each of its running threads.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

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

// The root directory of a new procfs instance. `k` must outlive it; its mount tree is read
// when a file asks for it (so the procfs can be created before Kernel::SetMounts).
std::shared_ptr<vfs::Inode> NewProcRoot(kernel::Kernel& k, HostProcSnapshot host = {});

}  // namespace sentry::fsimpl::proc
