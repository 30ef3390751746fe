// Signal-driven I/O (Linux's fown_struct and fasync): an open file description's owner, set with
// fcntl F_SETOWN/F_SETOWN_EX, and the signal (F_SETSIG) the owner gets when O_ASYNC is on and
// the file becomes readable or writable. The vfs only records them; sending the signal is the
// kernel's job, reached through a SigioSender so that the vfs does not depend on the kernel.
#pragma once

#include <fcntl.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "sentry/vfs/wait_queue.h"

namespace sentry::vfs {

struct FileOwner {
  int type = F_OWNER_TID;  // F_OWNER_TID, F_OWNER_PID or F_OWNER_PGRP
  pid_t pid = 0;           // 0: nobody
  // The real and effective uids of whoever set the owner: sending is checked against them
  // (Linux's sigio_perm), not against whoever makes the file ready.
  uint32_t uid = 0, euid = 0;
};

// Sends the signal for `reason` (POLL_IN, POLL_OUT, ...) to `owner`: `signum`, or SIGIO when 0.
using SigioSender = std::function<void(const FileOwner& owner, int signum, int fd, int reason)>;

// What a description keeps for signal-driven I/O. Its lock is a leaf: the wait queue callback
// takes it to copy the owner, then sends with it released.
class AsyncState {
 public:
  AsyncState() = default;
  AsyncState(const AsyncState&) = delete;
  AsyncState& operator=(const AsyncState&) = delete;
  ~AsyncState();

  FileOwner owner() const;
  void set_owner(const FileOwner& owner);
  int signal() const;
  void set_signal(int sig);

  // O_ASYNC turned on (through fd `fd`, what si_fd reports) or off. `queue` is the file's wait
  // queue; `readable`/`writable` its access mode, which picks the events that signal. Turning
  // it on again only updates fd and sender, as Linux's fasync_helper does.
  void Enable(std::shared_ptr<WaitQueue> queue, bool readable, bool writable, int fd,
              SigioSender sender);
  // Whether it was on.
  bool Disable();

 private:
  void Fire(uint32_t events);

  mutable absl::Mutex mu_;
  FileOwner owner_ ABSL_GUARDED_BY(mu_);
  int signal_ ABSL_GUARDED_BY(mu_) = 0;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
  bool readable_ ABSL_GUARDED_BY(mu_) = false;
  bool writable_ ABSL_GUARDED_BY(mu_) = false;
  SigioSender sender_ ABSL_GUARDED_BY(mu_);

  // Registration on the file's queue; changed only under reg_mu_, never under mu_ (the queue's
  // lock is taken before mu_ when the callback runs).
  absl::Mutex reg_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::shared_ptr<WaitQueue> queue_ ABSL_GUARDED_BY(reg_mu_);
  std::unique_ptr<WaitEntry> entry_ ABSL_GUARDED_BY(reg_mu_);
};

}  // namespace sentry::vfs
