// signalfd(2): a file that reads the reader's pending signals in its mask as
// struct signalfd_siginfo, taking them off the thread's and the process's pending sets.
//
// As on Linux the file belongs to no task: reads and readiness are answered for the task that
// asks (Task::Current()). Readiness changes when a signal is queued for a process: the
// kernel notifies the process's signalfd queue (ThreadGroup::signalfd_queue), where this file
// registers its waiters for the task that registers them.
#pragma once

#include <sys/signalfd.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/wait_queue.h"

namespace sentry::kernel {
class ThreadGroup;
}

namespace sentry::fsimpl::signalfd {

class SignalFile : public vfs::AnonFile {
 public:
  // `mask`: signal bits (SIGKILL and SIGSTOP are dropped); `flags`: O_NONBLOCK.
  SignalFile(uint64_t mask, int flags);

  uint64_t mask() const { return mask_.load(); }
  // signalfd on an existing signalfd: replaces the mask (and wakes waiters to look again).
  void SetMask(uint64_t mask);

  Result<uint64_t> Read(std::span<const iovec> dst, std::optional<int64_t> offset) override;
  Result<uint64_t> Write(std::span<const iovec>, std::optional<int64_t>) override {
    return Err(EINVAL);
  }
  uint32_t Readiness(uint32_t mask) override;
  bool Pollable() const override { return true; }
  void EventRegister(vfs::WaitEntry* e) override;
  void EventUnregister(vfs::WaitEntry* e) override;

 private:
  Result<uint64_t> TryRead(std::span<const iovec> dst, uint64_t max);

  std::atomic<uint64_t> mask_;
  absl::Mutex mu_;
  // Where each registered entry waits: the signalfd queue of the process that registered it.
  std::vector<std::pair<vfs::WaitEntry*, std::weak_ptr<kernel::ThreadGroup>>> registered_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace sentry::fsimpl::signalfd
