// A controlling terminal as the process side of the kernel sees it. Terminals live in the file
// systems (sentry/fsimpl/devpts); sessions name theirs through this interface, so the kernel
// does not depend on the layer above it.
#pragma once

#include <sys/types.h>

#include <memory>

#include "sentry/base/errno.h"
#include "sentry/vfs/file_description.h"

namespace sentry::kernel {

class ControllingTerminal {
 public:
  virtual ~ControllingTerminal() = default;
  // The leader of the session this terminal controls has exited: SIGHUP to the foreground
  // process group, and the terminal controls no session any more (Linux's disassociate_ctty).
  // Called with no kernel lock held.
  virtual void SessionLeaderExited() = 0;
  // A process of the session opened /dev/tty (`path`): a new description of this terminal.
  virtual Result<std::shared_ptr<vfs::FileDescription>> OpenAsDevTty(const vfs::VirtualDentry& path,
                                                                     int flags) = 0;
  // Makes this terminal the controlling terminal of the session `sid`, led by a process of
  // group `pgid`, which becomes the foreground group (runsc's console for a new process).
  virtual Result<void> AttachSession(pid_t sid, pid_t pgid) = 0;
};

}  // namespace sentry::kernel
