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
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "sentry/arch/cpu_state.h"
#include "sentry/base/file_descriptor.h"
#include "sentry/base/user_addr.h"
#include "sentry/kernel/exec_strings.h"
#include "sentry/kernel/futex.h"
#include "sentry/kernel/limits.h"
#include "sentry/kernel/timers.h"
#include "sentry/loader/vdso.h"
#include "sentry/mm/memory_file.h"
#include "sentry/mm/memory_manager.h"
#include "sentry/platform/platform.h"
#include "sentry/vfs/filesystem_type.h"
#include "sentry/vfs/mount.h"

namespace sentry::vfs {
struct FileOwner;
}

namespace sentry::kernel {

class Task;
class ThreadGroup;
class ControllingTerminal;
struct FsContext;
namespace ipc {
class IpcNamespace;
}
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
  // The vDSO may read the TSC for the clocks (loader::HostClocksRunOnTsc(), at boot).
  bool vdso_tsc_clocks = false;
};

// Who a container's process starts as: OCI's process.user, capabilities, rlimits and
// noNewPrivileges. Unset parts are what a root shell in a fresh user namespace has.
struct ProcessIdentity {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> groups;  // supplementary (OCI additionalGids)
  struct CapabilitySets {
    uint64_t bounding = 0, effective = 0, permitted = 0, inheritable = 0, ambient = 0;
  };
  // Unset: every capability for uid 0, none for another uid (as after setuid(2)).
  std::optional<CapabilitySets> caps;
  std::vector<std::pair<int, Rlimit>> rlimits;  // RLIMIT_* -> its soft and hard limits
  bool no_new_privs = false;
  std::optional<mode_t> umask;
};

struct InitProcessArgs {
  std::string path;  // resolved in the sandbox; also AT_EXECFN and argv[0]'s default
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  std::vector<FileDescriptor> stdio;  // become fds 0, 1, 2
  // Instead of `stdio`, when set: sandbox files for fds 0, 1, 2 (a terminal's replica).
  std::vector<std::shared_ptr<vfs::FileDescription>> stdio_files;
  // When set, the process leads a session of its own with this as its controlling terminal.
  std::shared_ptr<ControllingTerminal> terminal;
  std::string cwd = "/";              // resolved in the mount tree
  // Unset: KernelOptions' uid and gid with the defaults above.
  std::optional<ProcessIdentity> identity;
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
  // System V IPC objects (sentry/kernel/ipc): one namespace for the sandbox.
  ipc::IpcNamespace& ipc() { return *ipc_; }

  // Processes (sentry/kernel/process.cc).
  struct CloneRequest {
    uint64_t flags = 0;   // CLONE_* plus the exit signal in the low byte
    UserAddr parent_tid;  // CLONE_PARENT_SETTID
    UserAddr child_tid;   // CLONE_CHILD_SETTID / CLONE_CHILD_CLEARTID
    uint64_t tls = 0;     // CLONE_SETTLS
    uint64_t stack = 0;   // a new stack pointer for the child, 0 to keep the parent's
    UserAddr pidfd;       // CLONE_PIDFD: where the parent gets the child's pidfd
    pid_t set_tid = 0;    // clone3's set_tid: the id the child must have (0: any)
  };
  // fork/vfork/clone: a new process, or with CLONE_THREAD a new thread of the caller's. Returns
  // the new task's id once it exists (it then runs on a host thread of its own); a vfork
  // returns when the child has exec'd or exited.
  Result<pid_t> Fork(Task& parent, const CloneRequest& req);
  // /proc/sys/kernel/pid_max's default: ids are below it.
  static constexpr pid_t kPidMax = 4194304;
  // exit_group, or a fatal signal: every thread of the task's process ends with `wait_status`.
  void ExitGroup(Task& task, int wait_status);
  // Called on a task's host thread when its Run has returned: the thread is gone, and with the
  // last one the process.
  void TaskExited(Task& task, int wait_status);
  // wait4/waitid (sentry/kernel/wait.cc): which children, and which of their changes.
  struct WaitRequest {
    enum class Select { kAll, kPid, kPgid, kProcess } select = Select::kAll;
    pid_t id = 0;                          // kPid, kPgid
    std::shared_ptr<ThreadGroup> process;  // kProcess (P_PIDFD)
    int options = 0;  // WEXITED WSTOPPED WCONTINUED WNOHANG WNOWAIT __WALL __WCLONE __WNOTHREAD
  };
  // What a wait saw: pid 0 with WNOHANG when no child was ready.
  struct WaitResult {
    pid_t pid = 0;
    uint32_t uid = 0;     // the child's real uid
    int code = 0;         // CLD_EXITED, CLD_KILLED, CLD_DUMPED, CLD_STOPPED, CLD_CONTINUED
    int status = 0;       // waitid's si_status: exit code or signal
    int wait_status = 0;  // wait4's status word
    uint64_t user_ns = 0, sys_ns = 0;  // the child's CPU time (with its reaped children's)
    // The rest of its rusage, likewise (ThreadGroup::CpuTimes' fields).
    uint64_t minflt = 0, majflt = 0, nvcsw = 0, nivcsw = 0, maxrss_bytes = 0;
  };
  Result<WaitResult> Wait(Task& caller, const WaitRequest& req);
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
                                     InitProcessArgs& args,
                                     std::shared_ptr<FsContext> fs,
                                     std::unique_ptr<platform::Context> context);
  // The credentials such a process starts with, and its limits and umask, set before its
  // program loads (RLIMIT_STACK shapes the new address space).
  Credentials StartingCredentials(const std::optional<ProcessIdentity>& identity) const;
  void PrepareFirstTask(ThreadGroup& tg, FsContext& fs,
                        const std::optional<ProcessIdentity>& identity);

 public:
  // Signals (sentry/kernel/signals.cc).
  // kill(2): pid > 0 a process, 0 the caller's process group, -1 every process but init and
  // the caller, < -1 the process group -pid. sig 0 only checks that the target exists.
  Result<void> Kill(Task& sender, pid_t pid, int sig);
  // tgkill/tkill (tgid -1): one thread.
  Result<void> SignalThread(Task& sender, pid_t tgid, pid_t tid, int sig);
  // rt_sigqueueinfo / rt_tgsigqueueinfo with the caller's siginfo.
  Result<void> QueueSignalInfo(Task& sender, pid_t tgid, pid_t tid, const siginfo_t& info);
  // pidfd_send_signal: `info` (already checked) to the process, with kill's permission rules.
  Result<void> SignalProcessFrom(Task& sender, ThreadGroup& tg, const siginfo_t& info);
  // The live or zombie process with id `tgid`, or null (pidfd_open, waitid).
  std::shared_ptr<ThreadGroup> FindUnreaped(pid_t tgid);
  // Whether `sender` may send `sig` to `target` (Linux's check_kill_permission): the same
  // process, matching real/effective against real/saved uids, CAP_KILL, or SIGCONT within
  // a session.
  bool MaySignal(const Task& sender, const Task& target, int sig);
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
  // Signal-driven I/O (sentry/kernel/sigio.cc). Whether `id` is a live thread's, an unreaped
  // process's, a process group's or a session's (Linux's find_vpid: what F_SETOWN accepts).
  bool IdInUse(pid_t id);
  // Whether the owner still has someone of its kind (F_GETOWN reports 0 otherwise).
  bool OwnerExists(const vfs::FileOwner& owner);
  // SIGIO (signum 0) or `signum` with POLL_* `reason` and si_fd `fd` to the owner's thread,
  // process or process group, to each target the owner's uids may signal (sigio_perm).
  void SendSigio(const vfs::FileOwner& owner, int signum, int fd, int reason);
  // The live task with thread id `tid`, or null.
  std::shared_ptr<Task> FindTask(pid_t tid);
  // Process groups and sessions.
  Result<void> SetPgid(Task& caller, pid_t pid, pid_t pgid);
  Result<pid_t> SetSid(Task& caller);
  Result<pid_t> GetPgid(Task& caller, pid_t pid);
  Result<pid_t> GetSid(Task& caller, pid_t pid);

  // Controlling terminals and what terminals ask of the process tree (sessions.cc).
  // A process's controlling terminal (its session's, unless it gave it up with TIOCNOTTY).
  std::shared_ptr<ControllingTerminal> TerminalOf(const ThreadGroup& tg);
  // The session `sid` gets `tty` as its controlling terminal; EPERM if it has one.
  Result<void> SetSessionTerminal(pid_t sid, std::shared_ptr<ControllingTerminal> tty);
  // The session `sid` loses its controlling terminal, if that is `tty`.
  void ClearSessionTerminal(pid_t sid, const ControllingTerminal* tty);
  // TIOCNOTTY by a process that does not lead its session: it alone loses the terminal.
  void DropTerminal(const ThreadGroup& tg);
  // A process ended: if it led a session, the session's terminal hears of it.
  void SessionLeaderExited(ThreadGroup& tg);
  // A signal from the kernel (si_code SI_KERNEL) to every process of group `pgid`, or to one.
  void SignalProcessGroup(pid_t pgid, int sig);
  void SignalProcessFromKernel(pid_t tgid, int sig);
  // Whether a live process of group `pgid` exists, and whether it is in session `sid`.
  bool ProcessGroupExists(pid_t pgid);
  bool ProcessGroupInSession(pid_t pgid, pid_t sid);
  // POSIX's orphaned process group: no member has a parent in another group of its session.
  bool ProcessGroupOrphaned(pid_t pgid);
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
  // The live threads of `tg`, and the live process `tgid` (sentry/kernel/cpu_clocks.cc).
  std::vector<std::shared_ptr<Task>> ThreadsOf(ThreadGroup& tg);
  std::shared_ptr<ThreadGroup> FindThreadGroup(pid_t tgid);
  size_t NumTasks();
  // Time since the kernel started (CLOCK_BOOTTIME), for sysinfo and times.
  uint64_t UptimeNs() const;

  // Logs an unsupported syscall the first time the sandbox sees it.
  void ReportUnsupported(uint64_t nr);

 private:
  KernelOptions options_;
  std::unique_ptr<mm::MemoryFile> memory_;
  std::unique_ptr<loader::Vdso> vdso_;  // null if it could not be made: programs then trap
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
  // Job control (sentry/kernel/job_control.cc).
  // What generating `sig` does to `tg` before it is queued: a stop signal discards a pending
  // SIGCONT; SIGCONT discards pending stop signals and ends a stop. Wakes go into `wake`.
  void PrepareSignalLocked(ThreadGroup& tg, int sig, std::vector<std::shared_ptr<Task>>* wake)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(procs_mu_);
  // A stop signal with the default action, dequeued by `task` when the group had seen
  // `continue_count` SIGCONTs: starts a group stop (or drops the signal, for an orphaned
  // process group or a SIGCONT since).
  void BeginGroupStop(Task& task, int sig, uint64_t continue_count);
  // The task parks for a group stop until SIGCONT, or until it must exit.
  void ParkForGroupStop(Task& task);
  // SIGCHLD with CLD_STOPPED / CLD_CONTINUED to the parent, unless it asked SA_NOCLDSTOP.
  void NotifyParentJobLocked(ThreadGroup& child, int code, int status,
                             std::vector<std::shared_ptr<Task>>* wake)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(procs_mu_);
  // Queues SIGCHLD-like `info` on `parent` unless it ignores it (and not every thread
  // blocks it).
  void QueueChildSignalLocked(ThreadGroup& parent, const siginfo_t& info,
                              std::vector<std::shared_ptr<Task>>* wake)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(procs_mu_);
  // Whether process group `pgid` is orphaned: no live member has a parent in another group
  // of the same session.
  bool IsOrphanedPgrpLocked(pid_t pgid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(procs_mu_);
  // `tg` has exited: groups this orphans that have a stopped member get SIGHUP and SIGCONT.
  // `adopted` are its children, already reparented.
  void HangUpOrphanedPgrpsLocked(ThreadGroup& tg,
                                 const std::vector<std::shared_ptr<ThreadGroup>>& adopted,
                                 std::vector<pid_t>* pgids)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(procs_mu_);
  // A thread that leaves while its group stops no longer holds the stop up.
  void LeaveGroupStopLocked(Task& task, std::vector<std::shared_ptr<Task>>* wake)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(procs_mu_);
  bool MaySignalLocked(const Task& sender, ThreadGroup& target, int sig)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(procs_mu_);
  // A free id for a new task, reserved in task_index_ until the task takes it: `wanted` when
  // nonzero (EEXIST if taken), else the next unused one.
  Result<pid_t> AllocatePid(pid_t wanted);
  // Processes StartProcess started, until WaitProcess has seen them exit.
  std::vector<std::shared_ptr<ThreadGroup>> started_ ABSL_GUARDED_BY(procs_mu_);
  std::shared_ptr<vfs::MountNamespace> mounts_;
  absl::Mutex internal_mounts_mu_;
  std::map<std::string, std::shared_ptr<vfs::Mount>, std::less<>> internal_mounts_
      ABSL_GUARDED_BY(internal_mounts_mu_);
  vfs::FilesystemRegistry filesystems_;
  // Sessions' controlling terminals, by session id; a leaf lock.
  absl::Mutex ctty_mu_;
  absl::flat_hash_map<pid_t, std::shared_ptr<ControllingTerminal>> session_ttys_
      ABSL_GUARDED_BY(ctty_mu_);
  absl::flat_hash_set<pid_t> ctty_dropped_ ABSL_GUARDED_BY(ctty_mu_);  // TIOCNOTTY'd processes
  std::bitset<1024> reported_;
  timespec boot_boottime_{};
  std::atomic_flag report_lock_ = ATOMIC_FLAG_INIT;
  // Last, so that it goes first: segments give their memory back to memory_.
  std::unique_ptr<ipc::IpcNamespace> ipc_;
};

}  // namespace sentry::kernel
