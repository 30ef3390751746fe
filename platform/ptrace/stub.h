// The stub: a process forked from the sentry that drops every mapping but one page of code,
// then waits, traced, for the sentry to run application code or host syscalls on it.
#pragma once

#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sentry/base/errno.h"
#include "sentry/platform/platform.h"

namespace platform::ptrace {

// Writes the stub code into the sentry's own copy of the stub page (once per sentry).
absl::Status InstallStubCode();
// The host vDSO regions every stub keeps (empty when the host has none usable).
const std::vector<sentry::platform::SharedRegion>& HostVdsoRegions();

// A stub process with a single thread, traced by the host thread that created it.
class StubProcess {
 public:
  static absl::StatusOr<std::unique_ptr<StubProcess>> Create(int memory_fd);
  ~StubProcess();
  StubProcess(const StubProcess&) = delete;
  StubProcess& operator=(const StubProcess&) = delete;

  pid_t pid() const { return pid_; }
  pid_t tracer() const { return tracer_; }
  // Executes one host syscall in the stub (the calling thread must be the tracer).
  sentry::Result<uint64_t> Syscall(uint64_t nr, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0,
                                   uint64_t a3 = 0, uint64_t a4 = 0, uint64_t a5 = 0);
  int memory_fd() const { return memory_fd_; }
  bool dead() const { return dead_; }
  void MarkDead() { dead_ = true; }

  StubProcess(pid_t pid, pid_t tracer, int memory_fd, const user_regs_struct& regs);  // use Create

 private:
  pid_t pid_;
  pid_t tracer_;
  int memory_fd_;
  user_regs_struct syscall_regs_;  // valid register state for running the syscall loop
  bool dead_ = false;
};

// Waits for the next stop of traced thread `tid`, retrying on EINTR. Returns the wait status.
int WaitStop(pid_t tid);

}  // namespace platform::ptrace
