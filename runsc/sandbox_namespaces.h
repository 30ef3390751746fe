// The sentry's namespaces: `runsc do` starts the sentry in fresh user, mount, PID, IPC, UTS and
// network namespaces (DESIGN.md, invariant 2), and the sentry, which is then PID 1 of its PID
// namespace, takes on the signal duties of an init process.
#pragma once

#include <sys/types.h>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"

namespace runsc {

struct SandboxNamespaces {
  // A new network namespace (only a loopback device, down). False only for a future
  // --network=host.
  bool new_network = true;
};

// Starts a child process in new user, mount, PID, IPC and UTS namespaces (and network, as
// `namespaces` says) and returns its pid in the caller's namespaces. `child` runs in the new
// process once it is ready and must not return: it is meant to execve the sentry.
//
// In the child, when `child` starts:
// - uid 0 and gid 0 inside are the caller's euid and egid outside, and nothing else is mapped
//   (setgroups is denied). The child is root in its own user namespace, with every capability
//   there and none in the caller's: enough to build its empty root, nothing on the host.
// - It gets SIGKILL when the caller dies (PR_SET_PDEATHSIG), and never starts if the caller
//   died first. It is PID 1 of its PID namespace, so when it dies the kernel kills every process
//   left in that namespace (the stubs): nothing of the sandbox outlives the sentry.
// - SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGPIPE are blocked (see InstallInitSignalHandlers):
//   they stay pending across execve until the sentry can serve them.
// `child` runs in a copy of the caller made by a raw clone: it may use only async-signal-safe
// calls, as after fork().
absl::StatusOr<pid_t> StartInSandboxNamespaces(const SandboxNamespaces& namespaces,
                                               absl::FunctionRef<void()> child);

// For the sentry, early in boot. The kernel delivers a signal to the init process of a PID
// namespace only if it has a handler for it (SIGKILL from outside aside), so the signals runsc
// forwards (SIGINT, SIGTERM, SIGHUP, SIGQUIT) and the SIGPIPE of a write to a broken pipe would
// otherwise be dropped. This installs handlers that end the sentry with 128+N, the status runsc
// would report for death by signal N (the stubs die with it), and unblocks those signals.
void InstallInitSignalHandlers();

}  // namespace runsc
