// One pseudo-terminal pair: the line discipline between its ends, the counts of open ends, its
// window size, lock and controlling-terminal state (session, foreground process group), and the
// wait queues each end's pollers and blocked readers and writers sleep on.
//
// Locks: mu_ guards everything here. It is a leaf except for the kernel's process and terminal
// locks, which calls for the session state take with it held; signals are sent and wait queues
// notified only after it is released.
#pragma once

#include <sys/ioctl.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/fsimpl/devpts/line_discipline.h"
#include "sentry/kernel/ctty.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/wait_queue.h"

namespace sentry::kernel {
class Kernel;
class Task;
}  // namespace sentry::kernel
namespace sentry::mm {
class MemoryManager;
}

namespace sentry::fsimpl::devpts {

class Devpts;

class Terminal : public kernel::ControllingTerminal, public std::enable_shared_from_this<Terminal> {
 public:
  // Owner and mode of /dev/pts/N.
  struct Attributes {
    uint32_t mode = 0620;
    uint32_t uid = 0;
    uint32_t gid = 0;
  };
  Terminal(kernel::Kernel& kernel, std::shared_ptr<Devpts> fs, uint32_t index, Attributes attr);
  ~Terminal() override;

  uint32_t index() const { return index_; }
  Devpts& fs() { return *fs_; }
  Attributes attributes();
  void SetAttributes(const Attributes& a);

  // Open ends. The master opens once (with the terminal) and its close hangs the replica up.
  void MasterClosed() { Hangup(); }
  // What closing the master does, also for a master still open whose other side is gone (a
  // console whose host terminal closed): the replica reads end of file, writes and ioctls
  // fail with EIO, the session's leader gets SIGHUP and SIGCONT, and master reads EIO.
  void Hangup();
  // EIO while the terminal is locked (TIOCSPTLCK) or hung up.
  Result<void> ReplicaOpening();
  void ReplicaClosed();
  bool master_closed();

  Result<uint64_t> MasterRead(std::span<const iovec> dst, bool nonblocking);
  Result<uint64_t> MasterWrite(std::span<const iovec> src, bool nonblocking);
  uint32_t MasterReadiness(uint32_t mask);
  Result<uint64_t> ReplicaRead(std::span<const iovec> dst, bool nonblocking);
  Result<uint64_t> ReplicaWrite(std::span<const iovec> src, bool nonblocking);
  uint32_t ReplicaReadiness(uint32_t mask);
  vfs::WaitQueue& master_queue() { return master_queue_; }
  vfs::WaitQueue& replica_queue() { return replica_queue_; }

  // The ioctls both ends share (termios, window size, job control, queues). `master` says
  // which end `file` is.
  Result<uint64_t> Ioctl(bool master, vfs::FileDescription& file, mm::MemoryManager& mm,
                         uint64_t cmd, uint64_t arg);
  // TIOCSPTLCK / TIOCGPTLCK.
  void SetLocked(bool locked);
  bool locked();

  // The window size, and setting it as TIOCSWINSZ does (SIGWINCH to the foreground group when
  // it changes): runsc's console follows the host terminal's size with it.
  winsize WindowSize();
  void SetWindowSize(const winsize& ws);

  // Opening the replica without O_NOCTTY: a session leader without a controlling terminal
  // acquires this one if it controls no session yet.
  void MaybeAcquire(kernel::Task& task);

  // kernel::ControllingTerminal
  void SessionLeaderExited() override;
  Result<std::shared_ptr<vfs::FileDescription>> OpenAsDevTty(const vfs::VirtualDentry& path,
                                                             int flags) override;
  Result<void> AttachSession(pid_t sid, pid_t pgid) override;

 private:
  // Whether `task`'s controlling terminal is this one.
  bool IsControllingTerminalOf(kernel::Task& task);
  // Linux's tty_check_change / job_control: a background process group touching its
  // controlling terminal gets `sig` (SIGTTIN or SIGTTOU) and the call restarts after it (EINTR
  // here); EIO when the signal cannot stop it (ignored or blocked SIGTTIN, an orphaned group).
  // Success: the caller may go on.
  Result<void> CheckJobControl(int sig);
  // Sleeps until `attempt` stops saying EAGAIN, or until `deadline`: then attempt runs once
  // more with `timed_out` set. Interruptible through the task's Interrupter (EINTR).
  Result<uint64_t> Wait(vfs::WaitQueue& q, uint32_t mask, std::optional<timespec>* deadline,
                        const std::function<Result<uint64_t>(bool timed_out)>& attempt);
  // Wake-ups for both ends after a change; called with mu_ released.
  void NotifyAll();
  void SendSignals(pid_t pgrp, const std::vector<int>& signals);
  // TCSETS* and friends: the new termios, after TCSETSW's drain and TCSETSF's flush.
  Result<uint64_t> SetTermios(mm::MemoryManager& mm, uint64_t arg, bool flush, bool termios2);
  Result<uint64_t> SetForegroundGroup(mm::MemoryManager& mm, uint64_t arg);
  Result<uint64_t> SetControllingTerminal(vfs::FileDescription& file, uint64_t arg);
  Result<uint64_t> GiveUpControllingTerminal();

  kernel::Kernel& kernel_;
  const std::shared_ptr<Devpts> fs_;
  const uint32_t index_;

  absl::Mutex mu_;
  LineDiscipline ld_ ABSL_GUARDED_BY(mu_);
  Attributes attr_ ABSL_GUARDED_BY(mu_);
  winsize winsize_ ABSL_GUARDED_BY(mu_){};
  bool locked_ ABSL_GUARDED_BY(mu_) = true;  // a new pty is locked until unlockpt
  bool master_closed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t replicas_ ABSL_GUARDED_BY(mu_) = 0;
  bool replica_was_opened_ ABSL_GUARDED_BY(mu_) = false;
  pid_t session_ ABSL_GUARDED_BY(mu_) = 0;  // the session this terminal controls, 0 for none
  pid_t pgrp_ ABSL_GUARDED_BY(mu_) = 0;     // its foreground process group
  vfs::WaitQueue master_queue_;
  vfs::WaitQueue replica_queue_;
};

}  // namespace sentry::fsimpl::devpts
