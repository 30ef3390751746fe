// sysfs: the sandbox's /sys, a small read-only tree with what glibc and common tools read:
//
//   /sys/devices/system/cpu/{online,possible,present,offline}   CPU lists ("0-1\n")
//   /sys/devices/system/cpu/cpuN/                                one per CPU
//   /sys/fs/cgroup/, /sys/kernel/, and Linux's other top-level directories, empty
//
// The CPU count is the sandbox's (the CPUs its affinity mask allows), which runsc boot reads
// before the sentry is confined. As on Linux, every instance mounted in the sandbox is the same
// tree, attribute files are 0444 with st_size 4096, opening one for writing is EACCES, and
// names can neither be created (EACCES) nor removed or renamed (EPERM).
//
//   auto root = sys::NewSysRoot({.num_cpus = host.num_cpus});
//   auto mount = std::make_shared<vfs::Mount>(vfs::Dentry::NewRoot(root), "sysfs", "sysfs",
//                                             MS_NOSUID | MS_NODEV | MS_NOEXEC);
#pragma once

#include <memory>
#include <string>

#include "sentry/vfs/inode.h"

namespace sentry::fsimpl::sys {

struct SysfsOptions {
  unsigned num_cpus = 1;  // 0 counts as 1
};

// The root directory of a new sysfs tree.
std::shared_ptr<vfs::Inode> NewSysRoot(SysfsOptions options);

// A CPU list as Linux prints one for CPUs 0..n-1: "0\n", "0-3\n".
std::string CpuListText(unsigned n);

}  // namespace sentry::fsimpl::sys
