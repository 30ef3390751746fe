// The gofer: the process that opens host files for the sentry. It confines itself to the trees
// it serves, then answers gofer protocol requests on one socket until the peer closes it.
#pragma once

#include <string>
#include <vector>

namespace gofer {

struct GoferMount {
  std::string host_path;  // a directory or a single file
  bool read_only = false;
};

struct GoferConfig {
  std::string root;                // the served root directory (attach point 0)
  int socket_fd = -1;              // a SOCK_SEQPACKET unix socket; RunGofer owns it
  bool read_only = false;          // for the root
  std::vector<GoferMount> mounts;  // attach points 1..N, in order

  // Off only in tests: skip the mount namespace and pivot_root and serve from an O_PATH fd of
  // the root, which is also what happens when the gofer is not allowed to pivot.
  bool pivot = true;
  // Off only for debugging.
  bool seccomp = true;
};

// Confines the process (see confine.h), then serves. Returns 0 when the peer closes the
// socket, non-zero when start-up fails or the socket breaks. The process is not fit for anything
// else afterwards: its root, capabilities and seccomp filter have changed for good.
int RunGofer(const GoferConfig& config);

}  // namespace gofer
