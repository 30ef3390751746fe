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
#include "absl/synchronization/mutex.h"
#include "sentry/arch/cpu_state.h"
#include "sentry/base/file_descriptor.h"
#include "sentry/base/user_addr.h"
#include "sentry/kernel/futex.h"
#include "sentry/mm/memory_file.h"
#include "sentry/mm/memory_manager.h"
#include "sentry/platform/platform.h"
#include "sentry/vfs/filesystem_type.h"
#include "sentry/vfs/mount.h"

namespace sentry::kernel {

class Task;
class ThreadGroup;
// Serves one syscall for a task and returns the value for rax; provided by sentry/syscalls, so
// the kernel does not depend on the layer above it.
using SyscallDispatcher = uint64_t (*)(Task& task, uint64_t nr,
                                       const std::array<uint64_t, 6>& args);

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

// What execve and the init process start from: where paths resolve.
struct FsContextSnapshot {
  vfs::VirtualDentry root;
  vfs::VirtualDentry cwd;
};

struct LoadedProgram {
  std::shared_ptr<mm::MemoryManager> mm;
  arch::CpuState state;
  std::string execfn;
  std::vector<std::string> argv;  // after "#!" rewriting
};

struct Credentials;

class Kernel {
 public:
  Kernel(KernelOptions options, std::unique_ptr<mm::MemoryFile> memory,
         std::unique_ptr<platform::Platform> platform);
  ~Kernel();

  // Starts the init process and runs it until it exits. Returns the exit code a shell would
  // show for it (the status, or 128+N for a fatal signal N).
  std::expected<int, StartError> RunInit(InitProcessArgs args);

  // Entry points for the control channel (sentry/kernel/control.cc), which runsc reaches
  // through sentry/control. StartProcess starts a process with no parent in the sandbox (as
  // `runsc exec` does), finding args.path on $PATH (from args.envp) when it has no slash.
  std::expected<pid_t, StartError> StartProcess(InitProcessArgs args);
  // Until the process StartProcess started exits: its wait(2) status. ESRCH for another pid.
  Result<int> WaitProcess(pid_t pid);
  // Ends a whole process as a fatal `sig` would (no handler runs: signal delivery is not there
  // yet). As Linux, init ignores signals other than SIGKILL that it has no handler for.
  Result<void> SignalProcess(pid_t pid, int sig);
  struct ProcessInfo {
    pid_t pid = 0;
    pid_t ppid = 0;
    std::vector<std::string> argv;
  };
  // Every live process, init's tree first, then those StartProcess started.
  std::vector<ProcessInfo> Processes();

  // The mount tree every process starts with; set once at boot, before RunInit.
  void SetMounts(std::shared_ptr<vfs::MountNamespace> mounts) { mounts_ = std::move(mounts); }
  vfs::MountNamespace& mounts() { return *mounts_; }
  // The file system types mount(2) knows by name; registered at boot, before RunInit.
  vfs::FilesystemRegistry& filesystems() { return filesystems_; }

  const KernelOptions& options() const { return options_; }
  mm::MemoryFile& memory_file() { return *memory_; }
  platform::Platform& platform() { return *platform_; }
  FutexTable& futexes() { return futexes_; }

  // Processes (sentry/kernel/process.cc).
  struct CloneRequest {
    uint64_t flags = 0;   // CLONE_* plus the exit signal in the low byte
    UserAddr parent_tid;  // CLONE_PARENT_SETTID
    UserAddr child_tid;   // CLONE_CHILD_SETTID / CLONE_CHILD_CLEARTID
    uint64_t tls = 0;     // CLONE_SETTLS
    uint64_t stack = 0;   // a new stack pointer for the child, 0 to keep the parent's
  };
  // fork/vfork/clone: a new process, or with CLONE_THREAD a new thread of the caller's. Returns
  // the new task's id once it exists (it then runs on a host thread of its own); a vfork
  // returns when the child has exec'd or exited.
  Result<pid_t> Fork(Task& parent, const CloneRequest& req);
  // exit_group, or a fatal signal: every thread of the task's process ends with `wait_status`.
  void ExitGroup(Task& task, int wait_status);
  // Called on a task's host thread when its Run has returned: the thread is gone, and with the
  // last one the process.
  void TaskExited(Task& task, int wait_status);
  // wait4/waitid: reaps a child of `parent` that has exited; 0 with WNOHANG when none has.
  struct Reaped {
    pid_t pid = 0;
    int wait_status = 0;
  };
  Result<Reaped> Wait(ThreadGroup& parent, pid_t pid, int options);
  // execve: replaces the task's program. On failure the old program goes on.
  Result<void> Execve(Task& task, const std::string& path, std::vector<std::string> argv,
                      std::vector<std::string> envp);
  // Opens `path` (following "#!" scripts) and loads it into a fresh address space.
  Result<LoadedProgram> LoadProgram(const FsContextSnapshot& fs, const Credentials& creds,
                                    uint64_t stack_limit, std::string path,
                                    std::vector<std::string> argv, std::vector<std::string> envp,
                                    std::string* error);

 private:
  // A process has ended with a wait(2) status: it becomes a zombie its parent can reap, and its
  // children pass to init.
  void ProcessExited(ThreadGroup& tg, int wait_status);
  // execve in a process with several threads: the others end first (Linux's de_thread).
  Result<void> KillOtherThreads(Task& task);
  // Runs `task` on the calling host thread until it exits, then retires it.
  void RunTask(std::shared_ptr<Task> task);

 public:
  // Logs an unsupported syscall the first time the sandbox sees it.
  void ReportUnsupported(uint64_t nr);

 private:
  KernelOptions options_;
  std::unique_ptr<mm::MemoryFile> memory_;
  std::unique_ptr<platform::Platform> platform_;
  FutexTable futexes_;
  std::atomic<pid_t> next_pid_{2};
  absl::Mutex procs_mu_;
  absl::CondVar procs_cv_;  // a process exited
  std::shared_ptr<ThreadGroup> init_ ABSL_GUARDED_BY(procs_mu_);
  // Processes StartProcess started, until WaitProcess has seen them exit.
  std::vector<std::shared_ptr<ThreadGroup>> started_ ABSL_GUARDED_BY(procs_mu_);
  std::shared_ptr<vfs::MountNamespace> mounts_;
  vfs::FilesystemRegistry filesystems_;
  std::bitset<1024> reported_;
  std::atomic_flag report_lock_ = ATOMIC_FLAG_INIT;
};

}  // namespace sentry::kernel
