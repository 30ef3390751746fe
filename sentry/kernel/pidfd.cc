#include "sentry/kernel/pidfd.h"

#include <poll.h>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {

PidFdFile::PidFdFile(std::shared_ptr<ThreadGroup> process, int flags)
    : vfs::AnonFile(O_RDWR | (flags & O_NONBLOCK)), process_(std::move(process)) {}

PidFdFile::~PidFdFile() = default;

uint32_t PidFdFile::Readiness(uint32_t mask) {
  // Linux reports the end of the whole process (the leader a zombie, no thread left).
  // Once reaped it also hangs up, which poll reports whatever the mask.
  uint32_t ready = process_->exited() ? (POLLIN | POLLRDNORM) : 0;
  return (ready & mask) | (process_->reaped() ? POLLHUP : 0);
}

std::string PidFdFile::FdInfoLines() {
  pid_t pid = -1;
  if (Task* self = Task::Current()) {
    if (self->kernel().FindUnreaped(process_->tgid()).get() == process_.get()) {
      pid = process_->tgid();
    }
  }
  std::string id = std::to_string(pid);
  return "Pid:\t" + id + "\nNSpid:\t" + id + "\n";
}

void PidFdFile::EventRegister(vfs::WaitEntry* e) { process_->exit_queue().Add(e); }
void PidFdFile::EventUnregister(vfs::WaitEntry* e) { process_->exit_queue().Remove(e); }

}  // namespace sentry::kernel
