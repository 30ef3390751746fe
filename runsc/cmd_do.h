// `runsc do`: runs one program in a new sandbox and exits with its status.
#pragma once

#include <string>
#include <vector>

namespace runsc {

struct GlobalFlags {
  std::string platform = "ptrace";
  bool strace = false;
  std::string debug_log_dir;
  std::string network = "none";
  std::string root = "/var/run/runsc";
  std::string log;                  // runsc's own log (errors), appended to
  std::string log_format = "text";  // or json
  bool debug = false;
  bool systemd_cgroup = false;  // accepted for runc compatibility; cgroupfs is used
  // A writable container root (root.readonly false) still gets the in-memory overlay, so the
  // bundle's rootfs never changes (gVisor's --overlay).
  bool overlay = false;
};

struct BootFlags {
  int gofer_fd = -1;
  std::vector<std::string> volumes;  // "ro:PATH" or "rw:PATH", in attach-point order
  // "TYPE SOURCE ROOT" per volume, in the same order (the host mount each binds; fields
  // escaped as in mountinfo); may be shorter than `volumes`.
  std::vector<std::string> volume_fs;
  std::string executable_path;
  std::string cwd = "/";
  std::string hostname = "localhost";
  int control_fd = -1;
  int stdio_fd = -1;
  bool root_read_only = false;
  bool root_writable = false;
  std::vector<std::string> env;  // with --control-fd: the container's environment
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string container;        // runsc create's ContainerSetup, as JSON (runsc/container_setup.h)
  int console_fd = -1;          // a host terminal: init's console (OCI process.terminal)
  int console_winsize_fd = -1;  // readable when its size changes (else a watcher is forked)
};

// `runsc do`'s own flags.
struct DoFlags {
  // --volume HOST:SANDBOX[:ro]: the host's directory (or file) HOST, served by the gofer, bind
  // mounted at the absolute path SANDBOX; writes reach HOST unless :ro (then EROFS).
  std::vector<std::string> volumes;
};

// program[0] is resolved on the PATH like a shell would; the rest are its arguments. Returns the
// program's exit status (128+N for a fatal signal N), or 126/127 when it cannot be started.
int Do(const GlobalFlags& flags, const DoFlags& do_flags, const std::vector<std::string>& program);

}  // namespace runsc
