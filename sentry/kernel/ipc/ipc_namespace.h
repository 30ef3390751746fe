// The sandbox's one IPC namespace: its System V shared memory, semaphores and message queues.
#pragma once

#include <memory>

#include "sentry/kernel/ipc/msg.h"
#include "sentry/kernel/ipc/sem.h"
#include "sentry/kernel/ipc/shm.h"

namespace sentry::kernel::ipc {

class IpcNamespace {
 public:
  explicit IpcNamespace(mm::MemoryFile& file) : shm_(std::make_shared<ShmRegistry>(file)) {}

  ShmRegistry& shm() { return *shm_; }
  SemRegistry& sem() { return sem_; }
  MsgRegistry& msg() { return msg_; }

  // `task` is exiting or exec'ing: if no other task uses its address space, its segments are
  // detached (Linux's exit_mm, exec_mmap); a vfork child leaves its parent's alone.
  void ExitMm(Task& task);
  // The last thread of process `tgid` has exited: its SEM_UNDO adjustments apply.
  void ExitProcess(pid_t tgid) { sem_.ExitProcess(tgid); }

 private:
  std::shared_ptr<ShmRegistry> shm_;
  SemRegistry sem_;
  MsgRegistry msg_;
};

}  // namespace sentry::kernel::ipc
