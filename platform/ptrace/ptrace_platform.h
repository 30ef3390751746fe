// The ptrace platform: each address space is a stub process whose only mappings are a page of
// stub code and what MapFile puts there; a task runs on a stub thread traced with PTRACE_SYSEMU,
// so the host never executes an application syscall. The sentry changes a stub's mappings by
// making the stub thread execute mmap/munmap on the MemoryFile fd it inherited.
#pragma once

#include <sched.h>
#include <signal.h>

#include <atomic>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "sentry/platform/platform.h"

namespace platform::ptrace {

// The stub code page sits at the top of every application address space; applications get
// everything below it.
inline constexpr uint64_t kStubCodeAddr = 0x7ffffffee000ULL;
inline constexpr uint64_t kStubCodeSize = 0x1000;

// The flags a stub thread clones a sibling with (for another task in the same address space):
// the sentry's seccomp filter, which stubs inherit, must allow exactly this clone.
inline constexpr uint64_t kStubThreadCloneFlags =
    CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;

// The flags a new stub process is forked with (from the sentry, or from the template stub):
// the seccomp filters of both must allow exactly this clone.
inline constexpr uint64_t kStubForkFlags = SIGCHLD;

class PtracePlatform : public sentry::platform::Platform {
 public:
  // memory_fd is the MemoryFile's memfd; every stub inherits it.
  static absl::StatusOr<std::unique_ptr<PtracePlatform>> Create(int memory_fd);

  std::string Name() const override { return "ptrace"; }
  uint64_t MaxUserAddress() const override { return kStubCodeAddr; }
  absl::StatusOr<std::unique_ptr<sentry::platform::AddressSpace>> NewAddressSpace() override;
  absl::StatusOr<std::unique_ptr<sentry::platform::Context>> NewContext() override;

  PtracePlatform(int memory_fd, std::vector<int> cpus);  // use Create

 private:
  int memory_fd_;
  std::vector<int> cpus_;  // CPUs the sentry may run on; contexts are spread over them
  std::atomic<size_t> next_cpu_{0};
};

}  // namespace platform::ptrace
