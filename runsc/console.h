// Terminals on the host side (OCI process.terminal): the host pty whose master goes to the
// --console-socket (runc's protocol) and whose replica the sandbox's console reads and writes;
// and the watcher that tells the sentry when that terminal's size changes.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "sentry/base/file_descriptor.h"

namespace runsc {

struct HostPty {
  sentry::FileDescriptor master;
  sentry::FileDescriptor replica;  // in raw mode: the sandbox's line discipline does the work
};

// A new host pty pair, both ends close-on-exec.
absl::StatusOr<HostPty> OpenHostPty();

// Puts a host terminal in raw mode (cfmakeraw).
absl::Status MakeRaw(int fd);

// Sends `master` to the unix socket at `socket_path` as runc does: one message on a fresh
// connection, carrying the fd (SCM_RIGHTS) and, as its payload, the master's name.
absl::Status SendConsoleMaster(const std::string& socket_path, int master);

// Forks a process that makes `tty` its controlling terminal and writes a byte to the returned
// pipe each time the terminal's size changes (SIGWINCH), so that the sentry follows the size
// without polling. It ends when the pipe's reader is gone or its parent dies. Fails (and the
// caller goes on without size changes) when `tty` already controls a session, such as the
// terminal runsc runs in.
absl::StatusOr<sentry::FileDescriptor> StartWinsizeWatcher(int tty);

}  // namespace runsc
