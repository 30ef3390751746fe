// Boot: turns the sentry process (runsc boot) into a running sandbox: memory file, platform,
// kernel, init.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runsc/container_setup.h"

namespace runsc {

// A host directory (or file) the gofer serves as attach point `index + 1`, mounted at `path`.
struct VolumeMount {
  std::string path;  // absolute, in the sandbox
  bool read_only = false;
  // How /proc/mounts shows it: the host file system it binds (type, source device, and the
  // directory's path inside it). Empty type: unknown, shown as "gofer" from "none".
  std::string fs_type;
  std::string source;
  std::string fs_root;
};

struct BootConfig {
  std::string platform = "ptrace";
  bool strace = false;
  std::string debug_log_dir;  // empty: warnings and errors go to stderr only
  int gofer_fd = -1;          // the gofer's socket, serving the root
  std::string executable_path;
  std::string cwd = "/";
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  std::string hostname = "localhost";
  std::vector<VolumeMount> volumes;  // in the gofer's attach-point order
  bool root_read_only = false;       // the root mount itself is read-only (OCI root.readonly)
  // The gofer serves the root read-write and the sandbox writes through to it (OCI
  // root.readonly false); else an in-memory overlay takes the writes.
  bool root_writable = false;
  // A listening unix socket (runsc create): the sentry serves the control channel on it and
  // runs init only once runsc sends "start". -1: run init at once (runsc do).
  int control_fd = -1;
  // Init's stdin, stdout and stderr are this fd and the next two (runsc create passes the
  // caller's); -1: the sentry's own 0..2 (runsc do).
  int stdio_fd = -1;
  uint32_t uid = 0;  // the container's user (OCI process.user)
  uint32_t gid = 0;
  // A host terminal in raw mode (OCI process.terminal): init gets a sandbox terminal, joined
  // to it, as its stdio and controlling terminal. -1: init's stdio are the sentry's own.
  int console_fd = -1;
  // Readable when the console's size changes (runsc run forwards its SIGWINCH); -1: the
  // sentry forks a watcher that makes the console its controlling terminal.
  int console_winsize_fd = -1;
  ContainerSetup container;  // runsc create's: config.json's mounts and process identity
};

// Runs the sandbox to completion. Returns the process exit code for the sentry: the init
// process's exit status, 128+N if a signal N killed it, or 126/127/1 when it could not start
// (with the reason on stderr).
int Boot(BootConfig config);

}  // namespace runsc
