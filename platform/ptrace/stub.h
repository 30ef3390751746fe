// The stub: a process forked from the sentry that drops every mapping but one page of code,
// then waits, traced, for the sentry to run application code or host syscalls on it. One stub
// process is one address space; each task running in it has a stub thread of its own, traced
// by the task's host thread.
#pragma once

#include <sched.h>
#include <sys/types.h>
#include <sys/user.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "platform/ptrace/ptrace_platform.h"
#include "sentry/base/errno.h"
#include "sentry/platform/platform.h"

namespace platform::ptrace {

// Writes the stub code into the sentry's own copy of the stub page (once per sentry).
absl::Status InstallStubCode();

// A stub process. Its threads are either traced by exactly one host thread (the one running a
// task there) or parked: untraced, asleep in pause(2) inside the stub page, ready to be seized.
class StubProcess {
 public:
  // A new stub (from the template, see stub_factory.h; by forking the sentry should that
  // fail); its first thread is traced by the calling host thread.
  static absl::StatusOr<std::unique_ptr<StubProcess>> Create(int memory_fd);
  // Forks the sentry into the stub that later stubs are forked from (it ignores SIGCHLD, so
  // they need no reaping by it); traced by the calling host thread.
  static absl::StatusOr<std::unique_ptr<StubProcess>> CreateTemplate(int memory_fd);
  // Forks this stub from the caller's traced thread: the child's one thread is parked.
  sentry::Result<pid_t> ForkParked();
  ~StubProcess();
  StubProcess(const StubProcess&) = delete;
  StubProcess& operator=(const StubProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Unique for the life of the sentry (addresses of dead stubs are reused; ids are not).
  uint64_t id() const { return id_; }
  int memory_fd() const { return memory_fd_; }
  bool dead() const { return dead_.load(); }
  void MarkDead() { dead_.store(true); }

  // The stub thread the calling host thread traces here, or 0.
  pid_t CallerThread();
  // Gives the calling host thread a stub thread: a parked one, seized and stopped. EAGAIN when
  // none is parked (AddThread makes one).
  sentry::Result<pid_t> AttachCaller();
  // Parks one more thread for a later AttachCaller; the caller must trace a thread here.
  sentry::Result<void> AddThread();
  // The caller's thread stops serving it: it is parked and released for reuse.
  void DetachCaller();
  // Executes one host syscall on the caller's stub thread.
  sentry::Result<uint64_t> Syscall(uint64_t nr, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0,
                                   uint64_t a3 = 0, uint64_t a4 = 0, uint64_t a5 = 0);
  // Makes the spare thread (once): a parked thread no task uses, which host threads that trace
  // nothing here borrow for ForeignSyscall. The caller must trace a thread here.
  sentry::Result<void> AddSpareThread();
  // Executes one host syscall here from a host thread that traces no thread of this stub (a
  // process changing the mappings of another's, as when a file they share is truncated): seizes
  // the spare thread, runs the call, parks the thread again. EAGAIN without a spare thread.
  sentry::Result<uint64_t> ForeignSyscall(uint64_t nr, uint64_t a0 = 0, uint64_t a1 = 0,
                                          uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0,
                                          uint64_t a5 = 0);

  StubProcess(pid_t pid, int memory_fd, const user_regs_struct& regs);  // use Create

 private:
  // Runs the stub code at `rip` with `regs`' syscall arguments on traced thread `tid` until
  // its int3; returns rax.
  sentry::Result<uint64_t> RunStubCode(pid_t tid, uint64_t rip, user_regs_struct regs);
  // Clones a parked thread from the caller's traced thread; returns its tid.
  sentry::Result<pid_t> CloneParked();
  // The caller's traced thread runs clone(flags); the child parks. Returns its id.
  sentry::Result<pid_t> CloneParkedWith(uint64_t flags);
  // Forks the sentry into a stub traced by the calling host thread.
  static absl::StatusOr<std::unique_ptr<StubProcess>> ForkSentry(int memory_fd, bool as_template);
  // Seizes the parked only thread of the new stub `pid` for the calling host thread.
  static absl::StatusOr<std::unique_ptr<StubProcess>> Adopt(pid_t pid, int memory_fd);

  const pid_t pid_;
  const uint64_t id_;
  const int memory_fd_;
  const user_regs_struct syscall_regs_;  // valid register state for running stub code
  std::atomic<bool> dead_{false};
  std::mutex mu_;
  std::unordered_map<pid_t, pid_t> traced_;  // host tid -> stub tid
  std::vector<pid_t> parked_;
  size_t reserved_ = 0;    // parked threads promised to AddThread callers
  std::mutex foreign_mu_;  // one ForeignSyscall at a time; guards spare_
  pid_t spare_ = 0;
};

// Waits for the next stop of traced thread `tid`, retrying on EINTR. Returns the wait status.
int WaitStop(pid_t tid);

}  // namespace platform::ptrace
