// Kernel: the sandbox's kernel-wide state (the memory file, the platform, options, PIDs) and the
// start of the init process.
#pragma once

#include <array>
#include <atomic>
#include <bitset>
#include <expected>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "sentry/arch/cpu_state.h"
#include "sentry/base/file_descriptor.h"
#include "sentry/base/user_addr.h"
#include "sentry/kernel/exec_strings.h"
#include "sentry/kernel/futex.h"
#include "sentry/kernel/timers.h"
#include "sentry/mm/memory_file.h"
#include "sentry/mm/memory_manager.h"
#include "sentry/platform/platform.h"
#include "sentry/vfs/filesystem_type.h"
#include "sentry/vfs/mount.h"

namespace sentry::kernel {

class Task;
class ThreadGroup;
struct FsContext;
struct ExitedLeader;
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
  unsigned num_cpus = 1;         // CPUs the sandbox may run on: what sched_getaffinity reports
  uint64_t mem_total_bytes = 0;  // the memory sysinfo(2) reports (the host's, read at boot)
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
  ExecStrings strings;            // where argv and envp went in the new memory
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

  // Mounts that no namespace shows, for files with no name anywhere (memfds: Linux's shm_mnt),
  // one per `key`: made by `make` on first use, then kept for the kernel's life.
  std::shared_ptr<vfs::Mount> InternalMount(std::string_view key,
                                            absl::FunctionRef<std::shared_ptr<vfs::Mount>()> make);

  const KernelOptions& options() const { return options_; }
  mm::MemoryFile& memory_file() { return *memory_; }
  platform::Platform& platform() { return *platform_; }
  FutexTable& futexes() { return futexes_; }
  TimerService& timers() { return timers_; }

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
  // The first task of a process started from outside (init, runsc exec): its stdio are host
  // files; it is registered in `tg` and the pid indexes.
  std::shared_ptr<Task> NewFirstTask(std::shared_ptr<ThreadGroup> tg, LoadedProgram program,
                                     std::vector<FileDescriptor> stdio,
                                     std::shared_ptr<FsContext> fs,
                                     std::unique_ptr<platform::Context> context);

 public:
  // Signals (sentry/kernel/signals.cc).
  // kill(2): pid > 0 a process, 0 the caller's process group, -1 every process but init and
  // the caller, < -1 the process group -pid. sig 0 only checks that the target exists.
  Result<void> Kill(Task& sender, pid_t pid, int sig);
  // tgkill/tkill (tgid -1): one thread.
  Result<void> SignalThread(Task& sender, pid_t tgid, pid_t tid, int sig);
  // rt_sigqueueinfo / rt_tgsigqueueinfo with the caller's siginfo.
  Result<void> QueueSignalInfo(pid_t tgid, pid_t tid, const siginfo_t& info);
  // A signal from the kernel (a timer) to a process, or to its thread `tid` when nonzero.
  void SignalFromKernel(ThreadGroup& tg, pid_t tid, const siginfo_t& info);
  // A signal from the kernel itself to one thread (SIGPIPE, a fault the handler may catch).
  void SendToTask(Task& task, const siginfo_t& info);
  // A synchronous fault: delivered to a handler if the program has one and does not block it,
  // else the process dies of it (Linux's force_sig).
  void ForceSignal(Task& task, const siginfo_t& info);
  // On the task's own thread between switches: runs what is pending (handler frames, default
  // actions) and finishes an interrupted syscall (restart or EINTR).
  void DeliverSignals(Task& task);
  // Whether the task has an unblocked signal pending; also re-arms its interrupter to match.
  bool RecalcSignalPending(Task& task);
  // rt_sigtimedwait: takes a pending signal in `set` (nullopt when none).
  std::optional<siginfo_t> DequeueSignal(Task& task, uint64_t set);
  uint64_t PendingSet(Task& task);
  // Ends every thread of `tg` with `wait_status` (exit_group, SIGKILL, a fatal signal).
  void KillThreadGroup(ThreadGroup& tg, int wait_status);
  // The live task with thread id `tid`, or null.
  std::shared_ptr<Task> FindTask(pid_t tid);
  // Process groups and sessions.
  Result<void> SetPgid(Task& caller, pid_t pid, pid_t pgid);
  Result<pid_t> SetSid(Task& caller);
  Result<pid_t> GetPgid(Task& caller, pid_t pid);
  Result<pid_t> GetSid(Task& caller, pid_t pid);

  // What /proc sees of the pid index (sentry/kernel/pid_index.cc). A process is visible from
  // the moment its first thread runs until it is reaped, zombies included; a thread while it
  // runs. Everything is handed out by shared_ptr: a task that exits meanwhile stays valid
  // (if dead) for as long as the caller holds it.
  struct ProcessView {
    std::shared_ptr<ThreadGroup> tg;
    // Its thread whose tid is the tgid; null once that has exited (the process is a zombie,
    // or runs on in its other threads), when exited_leader says what it was.
    std::shared_ptr<Task> leader;
    std::shared_ptr<const ExitedLeader> exited_leader;
    std::vector<std::shared_ptr<Task>> threads;  // the live ones, by tid
    bool zombie = false;                         // every thread has exited; not reaped yet
    int wait_status = 0;                         // a zombie's
  };
  // The process `tgid`, or nullopt when there is none (never was, reaped, not started yet).
  std::optional<ProcessView> FindProcess(pid_t tgid);
  // Whether `tg` is still the unreaped process with its id.
  bool IsVisible(const ThreadGroup& tg);
  // The ids of every visible process, ascending.
  std::vector<pid_t> ProcessIds();
  // The signals pending for the thread (first) and for its whole process (second).
  std::pair<uint64_t, uint64_t> PendingSets(Task& task);
  // Signals queued to `tg` and its threads (status's SigQ).
  size_t QueuedSignals(ThreadGroup& tg);
  // Enters a task made outside Fork (a test's) in its thread group and the pid index, as
  // NewFirstTask does for init.
  void RegisterTask(const std::shared_ptr<Task>& task);

  // Every live task, for the calls that act on a process group or a user (setpriority).
  std::vector<std::shared_ptr<Task>> AllTasks();
  size_t NumTasks();
  // Time since the kernel started (CLOCK_BOOTTIME), for sysinfo and times.
  uint64_t UptimeNs() const;

  // Logs an unsupported syscall the first time the sandbox sees it.
  void ReportUnsupported(uint64_t nr);

 private:
  KernelOptions options_;
  std::unique_ptr<mm::MemoryFile> memory_;
  std::unique_ptr<platform::Platform> platform_;
  FutexTable futexes_;
  TimerService timers_{*this};
  std::atomic<pid_t> next_pid_{2};
  absl::Mutex procs_mu_;
  absl::CondVar procs_cv_;  // a process exited
  std::shared_ptr<ThreadGroup> init_ ABSL_GUARDED_BY(procs_mu_);
  // Every task and process by id, for kill and friends (entries die with their objects).
  absl::flat_hash_map<pid_t, std::weak_ptr<Task>> task_index_ ABSL_GUARDED_BY(procs_mu_);
  absl::flat_hash_map<pid_t, std::weak_ptr<ThreadGroup>> tg_index_ ABSL_GUARDED_BY(procs_mu_);
  // Pending signal sets and queues. Taken after procs_mu_, never before it; nothing that may
  // take another lock (an interrupter's wake-up) runs under it.
  absl::Mutex sig_mu_ ABSL_ACQUIRED_AFTER(procs_mu_);
  // Queues `info` for `tg` (task null) or one thread; returns the thread to interrupt, if any.
  std::shared_ptr<Task> QueueLocked(ThreadGroup& tg, Task* task, const siginfo_t& info)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(sig_mu_);
  Result<void> SendToThreadGroup(ThreadGroup& tg, const siginfo_t& info);
  // The parent hears of a child's end: SIGCHLD, or reaping it at once when it ignores SIGCHLD.
  // Returns whether the child was reaped.
  bool NotifyParentLocked(ThreadGroup& child, int wait_status,
                          std::vector<std::shared_ptr<Task>>* wake)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(procs_mu_);
  // Processes StartProcess started, until WaitProcess has seen them exit.
  std::vector<std::shared_ptr<ThreadGroup>> started_ ABSL_GUARDED_BY(procs_mu_);
  std::shared_ptr<vfs::MountNamespace> mounts_;
  absl::Mutex internal_mounts_mu_;
  std::map<std::string, std::shared_ptr<vfs::Mount>, std::less<>> internal_mounts_
      ABSL_GUARDED_BY(internal_mounts_mu_);
  vfs::FilesystemRegistry filesystems_;
  std::bitset<1024> reported_;
  timespec boot_boottime_{};
  std::atomic_flag report_lock_ = ATOMIC_FLAG_INIT;
};

}  // namespace sentry::kernel
