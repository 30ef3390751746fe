// pidfd: a file that names a process (pidfd_open, clone's CLONE_PIDFD). It is readable (poll)
// once every thread of the process has ended; waitid(P_PIDFD) and pidfd_send_signal act on it.
#pragma once

#include <fcntl.h>

#include <memory>
#include <string>

#include "sentry/vfs/file_description.h"

namespace sentry::kernel {

class ThreadGroup;

class PidFdFile : public vfs::AnonFile {
 public:
  // `flags`: O_NONBLOCK (PIDFD_NONBLOCK), which makes waitid on it fail with EAGAIN rather
  // than wait.
  PidFdFile(std::shared_ptr<ThreadGroup> process, int flags);
  ~PidFdFile() override;

  ThreadGroup& process() const { return *process_; }
  std::shared_ptr<ThreadGroup> process_ptr() const { return process_; }

  uint32_t Readiness(uint32_t mask) override;
  bool Pollable() const override { return true; }
  void EventRegister(vfs::WaitEntry* e) override;
  void EventUnregister(vfs::WaitEntry* e) override;
  // "Pid:" and "NSpid:": the process's id, or -1 once it has been reaped.
  std::string FdInfoLines();

 private:
  std::shared_ptr<ThreadGroup> process_;
};

}  // namespace sentry::kernel
