// Kernel: the sandbox's kernel-wide state (the memory file, the platform, options, PIDs) and the
// start of the init process.
#pragma once

#include <array>
#include <atomic>
#include <bitset>
#include <expected>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sentry/base/file_descriptor.h"
#include "sentry/kernel/futex.h"
#include "sentry/mm/memory_file.h"
#include "sentry/platform/platform.h"
#include "sentry/vfs/mount.h"

namespace sentry::kernel {

class Task;
// Serves one syscall for a task and returns the value for rax; provided by sentry/syscalls, so
// the kernel does not depend on the layer above it.
using SyscallDispatcher = uint64_t (*)(Task& task, uint64_t nr, const std::array<uint64_t, 6>& args);

struct KernelOptions {
  bool strace = false;
  std::string hostname = "localhost";
  uint32_t uid = 0;
  uint32_t gid = 0;
  SyscallDispatcher dispatcher = nullptr;
};

struct InitProcessArgs {
  std::string path;  // resolved in the sandbox; also AT_EXECFN and argv[0]'s default
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  std::vector<FileDescriptor> stdio;  // become fds 0, 1, 2
  std::string cwd = "/";              // resolved in the mount tree
};

// Why the init process could not start: the errno execve would give, and the details.
struct StartError {
  int err;
  std::string message;
};

class Kernel {
 public:
  Kernel(KernelOptions options, std::unique_ptr<mm::MemoryFile> memory,
         std::unique_ptr<platform::Platform> platform);
  ~Kernel();

  // Starts the init process and runs it until it exits. Returns the exit code a shell would
  // show for it (the status, or 128+N for a fatal signal N).
  std::expected<int, StartError> RunInit(InitProcessArgs args);

  // The mount tree every process starts with; set once at boot, before RunInit.
  void SetMounts(std::shared_ptr<vfs::MountNamespace> mounts) { mounts_ = std::move(mounts); }
  vfs::MountNamespace& mounts() { return *mounts_; }

  const KernelOptions& options() const { return options_; }
  mm::MemoryFile& memory_file() { return *memory_; }
  platform::Platform& platform() { return *platform_; }
  FutexTable& futexes() { return futexes_; }

  // Logs an unsupported syscall the first time the sandbox sees it.
  void ReportUnsupported(uint64_t nr);

 private:
  KernelOptions options_;
  std::unique_ptr<mm::MemoryFile> memory_;
  std::unique_ptr<platform::Platform> platform_;
  FutexTable futexes_;
  std::shared_ptr<vfs::MountNamespace> mounts_;
  std::bitset<1024> reported_;
  std::atomic_flag report_lock_ = ATOMIC_FLAG_INIT;
};

}  // namespace sentry::kernel
