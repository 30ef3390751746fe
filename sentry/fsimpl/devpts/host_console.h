// The sandbox's side of a console that runsc hands over: a host terminal (the replica of a host
// pty whose master went to the --console-socket, put in raw mode by runsc) joined to a new
// terminal of the sandbox's devpts. Two host threads copy bytes between the host terminal and
// the sandbox terminal's master, so that the sandbox's line discipline does all the terminal
// processing (echo, ^C as SIGINT...). A third source, `winsize_events`, becomes readable when
// the host terminal's size changes (runsc's watcher turns SIGWINCH into bytes); the sandbox
// terminal then takes the host's size, and its foreground group gets SIGWINCH.
#pragma once

#include <memory>
#include <thread>

#include "sentry/base/errno.h"
#include "sentry/base/file_descriptor.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/mount.h"

namespace sentry::fsimpl::devpts {

class Terminal;
class MasterFile;

class HostConsole {
 public:
  // Opens a new terminal through /dev/ptmx in `mounts` and its replica (/dev/pts/N, owned by
  // uid:gid). Nothing runs until Start.
  static Result<std::unique_ptr<HostConsole>> Open(const vfs::MountNamespace& mounts,
                                                   FileDescriptor host_tty,
                                                   FileDescriptor winsize_events, uint32_t uid,
                                                   uint32_t gid);
  HostConsole(const HostConsole&) = delete;
  HostConsole& operator=(const HostConsole&) = delete;
  ~HostConsole();

  // The replica, for the process's stdio, and its terminal (the process's controlling one).
  const std::shared_ptr<vfs::FileDescription>& replica() const { return replica_; }
  std::shared_ptr<Terminal> terminal() const;

  // Starts the copying threads; they run until the host terminal or the sandbox side is gone
  // (then the sandbox terminal's master closes: a hangup). The object may be destroyed at once:
  // the threads own what they use.
  void Start();

  struct Shared;

 private:
  explicit HostConsole(std::shared_ptr<Shared> shared, std::shared_ptr<vfs::FileDescription> r)
      : shared_(std::move(shared)), replica_(std::move(r)) {}

  std::shared_ptr<Shared> shared_;
  std::shared_ptr<vfs::FileDescription> replica_;
};

}  // namespace sentry::fsimpl::devpts
