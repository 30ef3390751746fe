// The sentry's confinement (DESIGN.md, invariant 2): once boot has opened everything it needs,
// the sentry gives up its view of the host file system, its capabilities, and every host
// syscall it does not need, for good.
#pragma once

#include "absl/status/status.h"

namespace runsc {

struct ConfinementOptions {
  // The MemoryFile's fd. The stubs, which inherit the sentry's filter when they are forked,
  // map ranges of it with PROT_EXEC (application code); no other mapping may be executable.
  int memory_fd = -1;
  // Let a syscall outside the allow list run and have the kernel log it (SCMP_ACT_LOG: audit
  // type=1326 in dmesg, rate-limited by printk) instead of killing the sentry. Only for finding
  // out what a change needs; never in production.
  bool log_only = false;
};

// Confines the calling process, which must be single-threaded (the root change would move only
// the calling thread otherwise). In order:
// 1. Its root becomes an empty, read-only tmpfs in a mount namespace of its own (pivot_root,
//    the old root detached; chroot where pivot_root cannot be used). Lazily read files
//    (/etc/localtime, /sys/devices/system/cpu/online) are read before, so that nothing needs a
//    path afterwards; /proc/self/exe is not needed either, since the sentry never execs.
// 2. It drops every capability (bounding, ambient, effective, permitted, inheritable) and locks
//    the securebits: the sentry needs none, not even to ptrace its own children.
// 3. It sets PR_SET_NO_NEW_PRIVS and installs a libseccomp filter that kills the process on
//    any host syscall outside the allow list in sentry_confinement.cc (no open, openat, execve,
//    socket, connect, mount, chroot, pivot_root...). Processes it forks afterwards (the stubs)
//    inherit the filter.
// Needs CAP_SYS_ADMIN in its user namespace (runsc starts the sentry as root of a fresh one).
absl::Status ConfineSentry(const ConfinementOptions& options);

}  // namespace runsc
