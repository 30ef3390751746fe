#include "sentry/kernel/ipc/ipc_namespace.h"

#include "sentry/kernel/task.h"

namespace sentry::kernel::ipc {

void IpcNamespace::ExitMm(Task& task) {
  // The task object keeps its MM until it is freed, which may be after the parent has reaped
  // it; the attachments go now when this task is the MM's only user (the copy made here is
  // the other reference). Threads exiting together leave it to the MM's destruction.
  if (task.mm_ptr().use_count() <= 2) shm_->DetachAll(task);
}

}  // namespace sentry::kernel::ipc
