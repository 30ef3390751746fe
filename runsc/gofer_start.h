// Starting the gofer: a process of its own, beside the sentry, serving the container's root.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gofer/gofer_server.h"
#include "sentry/base/file_descriptor.h"

namespace runsc {

struct GoferProcess {
  pid_t pid = -1;
  sentry::FileDescriptor socket;  // the sentry's end of the gofer's SOCK_SEQPACKET socket
};

// Forks the gofer serving `root` (read-only when asked) as attach point 0 and `mounts` as
// attach points 1..N; it exits when the sentry closes its end of the socket. It dies with runsc
// too, unless `detached` (runsc create, which exits and leaves the sandbox running): then it is
// in a session of its own.
absl::StatusOr<GoferProcess> StartGofer(const std::string& root, bool read_only,
                                        std::vector<gofer::GoferMount> mounts = {},
                                        bool detached = false);

}  // namespace runsc
