// Task: one application thread, run by its own sentry host thread. ThreadGroup: a process.
#pragma once

#include <linux/capability.h>
#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "sentry/arch/cpu_state.h"
#include "sentry/base/errno.h"
#include "sentry/base/interrupter.h"
#include "sentry/base/user_addr.h"
#include "sentry/kernel/exec_strings.h"
#include "sentry/kernel/limits.h"
#include "sentry/kernel/signal_state.h"
#include "sentry/kernel/timers.h"
#include "sentry/mm/memory_manager.h"
#include "sentry/platform/platform.h"
#include "sentry/vfs/fd_table.h"
#include "sentry/vfs/mount.h"
#include "sentry/vfs/wait_queue.h"

namespace sentry::kernel {

class Kernel;
class Task;

// A process's root, working directory and umask (Linux's fs_struct).
struct FsContext {
  std::mutex mu;
  vfs::VirtualDentry root;
  vfs::VirtualDentry cwd;
  mode_t umask = 022;
};

// Signals waiting for delivery: the set, and a siginfo per queued instance (a standard signal
// is queued at most once; real-time ones as often as they are sent).
struct PendingSignals {
  uint64_t set = 0;
  std::deque<siginfo_t> queue;
};

// Capability bits 0..kCapLastCap (CAP_CHECKPOINT_RESTORE, as /proc/sys/kernel/cap_last_cap).
inline constexpr int kCapLastCap = 40;
inline constexpr uint64_t kAllCaps = (uint64_t{1} << (kCapLastCap + 1)) - 1;

struct Credentials {
  uint32_t ruid = 0, euid = 0, suid = 0;
  uint32_t rgid = 0, egid = 0, sgid = 0;
  // Root in the sandbox starts with every capability, as in a fresh user namespace.
  uint64_t cap_effective = kAllCaps, cap_permitted = kAllCaps, cap_inheritable = 0;
  uint64_t cap_bounding = kAllCaps;
  uint64_t cap_ambient = 0;
  bool keep_caps = false;  // PR_SET_KEEPCAPS: setuid away from root keeps the permitted set

  bool HasCapability(int cap) const { return (cap_effective >> cap) & 1; }
};

// What a process's first thread (its leader) leaves behind when it exits, for /proc/PID while
// the process is a zombie (or runs on in other threads): Linux keeps the leader's task_struct
// until the process is reaped; the sentry keeps these few fields instead of the whole Task.
struct ExitedLeader {
  std::string comm;
  Credentials creds;
  std::vector<uint32_t> groups;
  uint64_t signal_mask = 0;
  uint64_t start_time_ns = 0;
  uint64_t user_ns = 0, sys_ns = 0;  // its CPU time
};

// A process. Its place in the process tree and its exit state are guarded by the Kernel's
// process lock; limits and signal dispositions by mu().
class ThreadGroup {
 public:
  ThreadGroup(pid_t tgid, std::shared_ptr<ThreadGroup> parent)
      : tgid_(tgid), parent_(std::move(parent)), limits_(Limits::Defaults()) {}

  pid_t tgid() const { return tgid_; }
  pid_t ppid() const {
    std::lock_guard lock(tree_mu_);
    auto p = parent_.lock();
    return p ? p->tgid() : 0;
  }
  Limits& limits() { return limits_; }
  KernelSigaction& action(int sig) { return actions_[sig - 1]; }
  std::mutex& mu() { return mu_; }  // guards limits and actions

  // Process group and session (setpgid, setsid); a child starts in its parent's.
  pid_t pgid() const { return pgid_.load(); }
  pid_t sid() const { return sid_.load(); }
  void set_pgid(pid_t p) { pgid_.store(p); }
  void set_sid(pid_t s) { sid_.store(s); }
  // The signal the parent gets when this process ends (clone's low byte; 0 for none).
  int exit_signal() const { return exit_signal_; }
  void set_exit_signal(int s) { exit_signal_ = s; }
  std::shared_ptr<ThreadGroup> parent() const {
    std::lock_guard lock(tree_mu_);
    return parent_.lock();
  }
  // PR_SET_CHILD_SUBREAPER: orphaned descendants are reparented here rather than to init.
  bool child_subreaper() const { return child_subreaper_.load(); }
  void set_child_subreaper(bool b) { child_subreaper_.store(b); }
  // PR_SET_DUMPABLE (Linux keeps it on the mm; execve resets it to 1).
  int dumpable() const { return dumpable_.load(); }
  void set_dumpable(int d) { dumpable_.store(d); }
  // membarrier registrations (MEMBARRIER_CMD_REGISTER_* bits), kept per process.
  uint32_t membarrier_registered() const { return membarrier_registered_.load(); }
  void add_membarrier_registration(uint32_t cmd) { membarrier_registered_.fetch_or(cmd); }
  // What getrusage and times report, for the threads that have ended (with the process's
  // peak resident set) and for reaped children (with their own reaped children): CPU time
  // split into user (application) and system (sentry) time, faults, context switches.
  struct CpuTimes {
    uint64_t user_ns = 0, sys_ns = 0;
    uint64_t minflt = 0, majflt = 0;
    uint64_t nvcsw = 0, nivcsw = 0;
    uint64_t maxrss_bytes = 0;  // a peak, not a sum
  };
  CpuTimes exited_threads_cpu() const {
    std::lock_guard lock(cpu_mu_);
    return exited_threads_cpu_;
  }
  CpuTimes reaped_children_cpu() const {
    std::lock_guard lock(cpu_mu_);
    return reaped_children_cpu_;
  }
  void AddExitedThreadCpu(CpuTimes t) {
    std::lock_guard lock(cpu_mu_);
    Accumulate(exited_threads_cpu_, t);
  }
  // The process's resident set is `bytes` now: its peak (ru_maxrss) is at least that.
  void NoteRss(uint64_t bytes) {
    std::lock_guard lock(cpu_mu_);
    exited_threads_cpu_.maxrss_bytes = std::max(exited_threads_cpu_.maxrss_bytes, bytes);
  }
  // What wait(2) reports for `child`, whose threads have all ended: its own figures and its
  // reaped children's, the largest peak of all of them. Each page of its peak resident set
  // counts as a minor fault, since the host serves those faults unseen by the sentry.
  static CpuTimes ReapedUsage(const ThreadGroup& child) {
    CpuTimes own = child.exited_threads_cpu(), kids = child.reaped_children_cpu();
    own.minflt += own.maxrss_bytes / 4096;
    Accumulate(own, kids);
    return own;
  }
  // wait(2) reaped `child`. Linux counts a child only here: one reaped on its own (its
  // parent ignores SIGCHLD) is not counted.
  void AddReapedChildCpu(const ThreadGroup& child) {
    CpuTimes usage = ReapedUsage(child);
    std::lock_guard lock(cpu_mu_);
    Accumulate(reaped_children_cpu_, usage);
  }
  // Adds `b`'s counts to `a`'s and keeps the larger peak.
  static void Accumulate(CpuTimes& a, const CpuTimes& b) {
    a.user_ns += b.user_ns;
    a.sys_ns += b.sys_ns;
    a.minflt += b.minflt;
    a.majflt += b.majflt;
    a.nvcsw += b.nvcsw;
    a.nivcsw += b.nivcsw;
    a.maxrss_bytes = std::max(a.maxrss_bytes, b.maxrss_bytes);
  }

  // signalfd readiness: notified (outside the signal lock) whenever a signal is queued for
  // the process or one of its threads.
  vfs::WaitQueue& signalfd_queue() { return signalfd_queue_; }

  // Timers (guarded by mu()): setitimer's ITIMER_REAL, and timer_create's by id.
  std::shared_ptr<IntervalTimer>& itimer_real() { return itimer_real_; }
  // ITIMER_VIRTUAL and ITIMER_PROF, on the process's CPU clocks.
  std::shared_ptr<IntervalTimer>& itimer_cpu(int which) { return itimer_cpu_[which == 1 ? 0 : 1]; }
  std::map<int, std::shared_ptr<IntervalTimer>>& posix_timers() { return posix_timers_; }
  int next_timer_id() { return next_timer_id_++; }

  // pidfds of this process: notified (POLLIN) when its last thread has gone.
  vfs::WaitQueue& exit_queue() { return exit_queue_; }
  // Whether every thread has ended (a zombie, or reaped); a pidfd is then readable.
  bool exited() const { return exited_flag_.load(); }
  bool reaped() const { return reaped_.load(); }
  // Set when its leader thread exits (Kernel::TaskExited); read under Kernel::procs_mu_.
  const std::shared_ptr<const ExitedLeader>& exited_leader() const { return exited_leader_; }

  // fork: the child starts with the parent's limits and dispositions.
  void InheritFrom(ThreadGroup& parent) {
    std::scoped_lock lock(mu_, parent.mu_);
    limits_ = parent.limits_;
    actions_ = parent.actions_;
    pgid_.store(parent.pgid());
    sid_.store(parent.sid());
  }

 private:
  friend class Kernel;
  pid_t tgid_;
  mutable std::mutex tree_mu_;  // parent_ (reparenting happens while others read ppid)
  std::weak_ptr<ThreadGroup> parent_;
  std::mutex mu_;
  Limits limits_;
  std::array<KernelSigaction, kNumSignals> actions_{};
  std::shared_ptr<IntervalTimer> itimer_real_;
  std::array<std::shared_ptr<IntervalTimer>, 2> itimer_cpu_;
  vfs::WaitQueue signalfd_queue_;
  std::map<int, std::shared_ptr<IntervalTimer>> posix_timers_;
  int next_timer_id_ = 0;
  // Guarded by Kernel::procs_mu_.
  std::vector<std::shared_ptr<ThreadGroup>> children_;
  std::vector<std::shared_ptr<Task>> tasks_;  // its live threads
  PendingSignals shared_pending_;             // process-directed; Kernel::sig_mu_
  std::atomic<pid_t> pgid_{1};
  std::atomic<pid_t> sid_{1};
  int exit_signal_ = SIGCHLD;
  std::atomic<bool> child_subreaper_{false};
  std::atomic<int> dumpable_{1};
  std::atomic<uint32_t> membarrier_registered_{0};
  mutable std::mutex cpu_mu_;
  CpuTimes exited_threads_cpu_;
  CpuTimes reaped_children_cpu_;
  bool group_exiting_ = false;  // exit_group, a fatal signal
  int group_exit_status_ = 0;
  bool exited_ = false;
  int wait_status_ = 0;
  std::atomic<bool> exited_flag_{false};  // exited_, readable without the process lock
  std::atomic<bool> reaped_{false};       // wait took it (or no one had to): pidfds hang up
  uint32_t exit_uid_ = 0;   // its last thread's real uid (si_uid, kill's permission check)
  uint32_t exit_suid_ = 0;  // and saved uid
  vfs::WaitQueue exit_queue_;

  // Job control (sentry/kernel/job_control.cc), guarded by Kernel::procs_mu_. A stop signal
  // moves the group to kStopping; it is kStopped once every thread has parked itself.
  enum class StopState { kRunning, kStopping, kStopped };
  StopState stop_state_ = StopState::kRunning;
  int stop_signal_ = 0;            // the signal of the stop in progress or in force
  int threads_to_stop_ = 0;        // threads of a kStopping group that have not parked yet
  int stop_report_ = 0;            // a stop wait(WUNTRACED) has yet to see: its signal, or 0
  bool continued_report_ = false;  // a continue wait(WCONTINUED) has yet to see
  uint64_t continue_count_ = 0;    // SIGCONTs sent; a stop dequeued before one is void
  pid_t creator_tid_ = 0;          // the thread that forked it (__WNOTHREAD)
  std::shared_ptr<const ExitedLeader> exited_leader_;
};

// Signalled once: a vfork child has exec'd or exited, and its parent may go on.
class Completion : public std::enable_shared_from_this<Completion> {
 public:
  void Complete() {
    absl::MutexLock lock(&mu_);
    done_ = true;
  }
  // Waits until Complete(), or until the waiter is interrupted (false then).
  bool Wait(Interrupter* intr);

 private:
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

// A task's Interrupter: fired when its thread group exits (and, later, for signals).
class TaskInterrupter final : public Interrupter {
 public:
  bool Interrupted() override { return pending_.load(std::memory_order_acquire); }
  void Arm(std::function<void()> wake) override {
    arms_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    wake_ = std::move(wake);
  }
  // How often the task got ready to block (ru_nvcsw: Linux counts each voluntary switch).
  uint64_t arms() const { return arms_.load(std::memory_order_relaxed); }
  void Disarm() override {
    std::lock_guard lock(mu_);
    wake_ = nullptr;
  }
  // The task itself, once it has dealt with what was pending: whether anything still is.
  void Reset(bool still_pending) { pending_.store(still_pending, std::memory_order_release); }
  void Fire() {
    pending_.store(true, std::memory_order_release);
    std::function<void()> wake;
    {
      std::lock_guard lock(mu_);
      wake = wake_;
    }
    if (wake) wake();
  }

 private:
  std::atomic<bool> pending_{false};
  std::atomic<uint64_t> arms_{0};
  std::mutex mu_;
  std::function<void()> wake_;
};

class Task {
 public:
  // The task the calling host thread runs (each task has its own), or null outside any task.
  // File systems such as /proc use it to answer "self".
  static Task* Current();

  Task(Kernel& kernel, std::shared_ptr<ThreadGroup> tg, pid_t tid,
       std::shared_ptr<mm::MemoryManager> mm, std::shared_ptr<vfs::FdTable> fds,
       std::shared_ptr<FsContext> fs, std::unique_ptr<platform::Context> context);

  // Runs the task until it exits; returns its wait(2) status.
  int Run();

  Kernel& kernel() { return kernel_; }
  ThreadGroup& thread_group() { return *tg_; }
  const ThreadGroup& thread_group() const { return *tg_; }
  mm::MemoryManager& mm() { return *mm_; }
  vfs::FdTable& fds() { return *fds_; }
  FsContext& fs() { return *fs_; }
  platform::Context& context() { return *context_; }
  arch::CpuState& state() { return state_; }
  // Only the task's own thread changes its credentials, so it reads them through creds();
  // any other thread (/proc, a signal's permission check) takes a copy with CredsCopy().
  const Credentials& creds() const { return creds_; }
  Credentials CredsCopy() const {
    std::lock_guard lock(res_mu_);
    return creds_;
  }
  pid_t tid() const { return tid_.load(); }

  // After execve: a new address space and what goes with it.
  void ReplaceMm(std::shared_ptr<mm::MemoryManager> mm) {
    std::lock_guard lock(res_mu_);
    mm_ = std::move(mm);
  }
  std::shared_ptr<ThreadGroup> thread_group_ptr() { return tg_; }
  // The _ptr() getters may be called from any thread (mm() and fds() only from the task's own):
  // fds_ptr() is null once the task has exited (ReleaseFiles).
  std::shared_ptr<vfs::FdTable> fds_ptr() const {
    std::lock_guard lock(res_mu_);
    return fds_;
  }
  std::shared_ptr<FsContext> fs_ptr() const { return fs_; }
  std::shared_ptr<mm::MemoryManager> mm_ptr() const {
    std::lock_guard lock(res_mu_);
    return mm_;
  }
  void set_creds(const Credentials& c) {
    std::lock_guard lock(res_mu_);
    creds_ = c;
  }
  // When the task was created, in nanoseconds since the kernel started (stat's starttime).
  uint64_t start_time_ns() const { return start_time_ns_; }
  UserAddr clear_child_tid() const { return clear_child_tid_; }

  // Ends this thread with a wait(2) status (exit(2); Kernel::ExitGroup ends them all).
  void RequestExit(int wait_status) {
    exit_status_.store(wait_status);
    exiting_.store(true);
  }
  bool exiting() const { return exiting_.load(); }
  // A group stop wants this thread to park (set and cleared under Kernel::procs_mu_).
  bool stop_pending() const { return stop_pending_.load(); }
  // Parked by a group stop (Linux's TASK_STOPPED, /proc's "T"): set as the thread parks, and
  // cleared by the SIGCONT that ends the stop, before the thread has even woken, so that
  // whoever sent it sees the thread running again, as on Linux.
  bool group_stopped() const { return group_stopped_.load(); }
  // From any thread: cuts short what the task is doing (running, or blocked in the sentry) so
  // that it notices a request such as RequestExit.
  void Interrupt() {
    interrupter_.Fire();
    context_->Interrupt();
  }
  TaskInterrupter& interrupter() { return interrupter_; }
  void set_tid(pid_t tid) { tid_.store(tid); }
  // A vfork child's parent waits on this until the child execs or exits.
  void set_vfork_done(std::shared_ptr<Completion> c) { vfork_done_ = std::move(c); }
  void ReleaseVforkParent() {
    if (vfork_done_) vfork_done_->Complete();
    vfork_done_.reset();
  }
  // At exit: lets go of the fd table, which closes its files if no other task shares it.
  void ReleaseFiles() {
    std::shared_ptr<vfs::FdTable> fds;  // the files close outside the lock
    std::lock_guard lock(res_mu_);
    fds.swap(fds_);
  }

  uint64_t signal_mask() const { return signal_mask_.load(); }
  // rt_sigtimedwait unblocks the signals it waits for; they still count as blocked when
  // deciding whether an ignored signal is dropped (Linux's real_blocked).
  void set_real_blocked(uint64_t m) { real_blocked_.store(m); }
  uint64_t blocked_for_ignore() const { return signal_mask_.load() | real_blocked_.load(); }
  void set_signal_mask(uint64_t m) { signal_mask_.store(m & ~kUnblockable); }
  // sched_setaffinity's mask (bit N: CPU N); the sentry does not place tasks by it.
  uint64_t cpu_affinity() const { return cpu_affinity_.load(); }
  void set_cpu_affinity(uint64_t m) { cpu_affinity_.store(m); }
  // rt_sigsuspend and the p* waits: the mask to go back to once a handler has run.
  void set_saved_mask(uint64_t m) { saved_mask_ = m; }
  void clear_saved_mask() { saved_mask_.reset(); }
  KernelStack& alt_stack() { return alt_stack_; }
  void set_clear_child_tid(UserAddr a) { clear_child_tid_ = a; }
  void set_robust_list(UserAddr head) { robust_list_ = head; }
  UserAddr robust_list() const { return robust_list_; }
  // Set as an exiting thread lets go of its futexes: from then on it owns no PI lock it could
  // hand over, and locking one it still names is ESRCH (Linux's FUTEX_STATE_DEAD).
  bool futexes_released() const { return futexes_released_.load(); }
  void set_futexes_released() { futexes_released_.store(true); }
  // Linux's restart_block: how restart_syscall(2) resumes a call that ended with
  // ERESTART_RESTARTBLOCK (a relative sleep goes on with what was left of it). One shot.
  using RestartFn = std::function<Result<uint64_t>(Task&)>;
  void set_restart_block(RestartFn fn) { restart_block_ = std::move(fn); }
  RestartFn TakeRestartBlock() { return std::exchange(restart_block_, nullptr); }
  // CPU time of the sentry thread serving this task plus that of the application itself.
  uint64_t CpuTimeNs() const;
  // CPU time of the sentry thread serving this task (readable from any thread once it runs).
  uint64_t SentryCpuTimeNs() const;
  // The path the current executable was started from (AT_EXECFN), for /proc/PID/exe.
  // Copies, because other threads (/proc, runsc ps) read them while exec may change them.
  std::string exe_path() const {
    std::lock_guard lock(attr_mu_);
    return exe_path_;
  }
  void set_exe_path(std::string p) {
    std::lock_guard lock(attr_mu_);
    exe_path_ = std::move(p);
  }
  std::vector<std::string> argv() const {
    std::lock_guard lock(attr_mu_);
    return argv_;
  }
  void set_argv(std::vector<std::string> a) {
    std::lock_guard lock(attr_mu_);
    argv_ = std::move(a);
  }
  ExecStrings exec_strings() const {
    std::lock_guard lock(attr_mu_);
    return exec_strings_;
  }
  void set_exec_strings(const ExecStrings& s) {
    std::lock_guard lock(attr_mu_);
    exec_strings_ = s;
  }
  // The thread's name (comm): PR_SET_NAME's, or else the executable's file name.
  std::string comm() const;
  void set_comm(std::string name) {
    std::lock_guard lock(attr_mu_);
    comm_ = std::move(name);
  }
  // execve: the new program's file name becomes the name again.
  void ResetCommOnExec() {
    std::lock_guard lock(attr_mu_);
    comm_.reset();
  }
  // The signal PR_SET_PDEATHSIG asks for when the parent dies (0: none).
  int pdeath_signal() const { return pdeath_signal_.load(); }
  void set_pdeath_signal(int s) { pdeath_signal_.store(s); }
  bool no_new_privs() const { return no_new_privs_.load(); }
  void set_no_new_privs() { no_new_privs_.store(true); }
  static constexpr uint64_t kDefaultTimerSlackNs = 50'000;
  uint64_t timer_slack_ns() const { return timer_slack_ns_.load(); }
  void set_timer_slack_ns(uint64_t ns) { timer_slack_ns_.store(ns); }
  uint32_t personality() const { return personality_.load(); }
  void set_personality(uint32_t p) { personality_.store(p); }
  // Scheduling as the sched_* calls and setpriority see it; the sentry does not act on it.
  struct SchedAttr {
    int policy = 0;  // SCHED_OTHER
    int priority = 0;
    bool reset_on_fork = false;
    int nice = 0;
  };
  SchedAttr sched() const {
    std::lock_guard lock(attr_mu_);
    return sched_;
  }
  void set_sched(const SchedAttr& a) {
    std::lock_guard lock(attr_mu_);
    sched_ = a;
  }
  // Supplementary groups (setgroups); apart from Credentials, which other tasks copy unlocked.
  std::vector<uint32_t> groups() const {
    std::lock_guard lock(attr_mu_);
    return groups_;
  }
  void set_groups(std::vector<uint32_t> g) {
    std::lock_guard lock(attr_mu_);
    groups_ = std::move(g);
  }
  // fork/clone: what a new task takes over from the one that created it.
  void InheritAttrsFrom(const Task& parent);
  // CPU time split into application (user) and sentry (system) parts, with the thread's
  // faults and voluntary context switches.
  ThreadGroup::CpuTimes CpuTimesSplit() const;
  // A fault the sentry served for the application (a minor fault: nothing is read from disk).
  void CountFault() { minflt_.fetch_add(1, std::memory_order_relaxed); }

 private:
  friend class Kernel;
  void HandleSyscall();

  Kernel& kernel_;
  std::shared_ptr<ThreadGroup> tg_;
  std::atomic<pid_t> tid_;
  std::shared_ptr<mm::MemoryManager> mm_;
  std::shared_ptr<vfs::FdTable> fds_;
  std::shared_ptr<FsContext> fs_;
  std::unique_ptr<platform::Context> context_;
  arch::CpuState state_;
  Credentials creds_;
  std::atomic<uint64_t> signal_mask_{0};  // read by senders choosing a thread
  std::atomic<uint64_t> real_blocked_{0};
  std::optional<uint64_t> saved_mask_;
  std::atomic<uint64_t> cpu_affinity_{~0ULL};
  PendingSignals pending_;  // thread-directed; Kernel::sig_mu_
  KernelStack alt_stack_;
  UserAddr clear_child_tid_;
  UserAddr robust_list_;
  RestartFn restart_block_;
  std::atomic<bool> futexes_released_{false};
  std::atomic<bool> exiting_{false};
  std::atomic<int> exit_status_{0};
  std::atomic<bool> stop_pending_{false};
  std::atomic<bool> group_stopped_{false};  // under Kernel::procs_mu_
  std::atomic<uint64_t> minflt_{0};
  TaskInterrupter interrupter_;
  std::shared_ptr<Completion> vfork_done_;
  // Guards mm_, fds_ and creds_ against a reader on another thread while the task's own
  // thread replaces them (exec, exit, setuid).
  mutable std::mutex res_mu_;
  const uint64_t start_time_ns_;
  // comm_, sched_, groups_, exe_path_, argv_ and exec_strings_, read by /proc and other tasks.
  mutable std::mutex attr_mu_;
  std::string exe_path_;
  std::vector<std::string> argv_;
  ExecStrings exec_strings_;
  std::vector<uint32_t> groups_;
  std::optional<std::string> comm_;
  SchedAttr sched_;
  std::atomic<int> pdeath_signal_{0};
  std::atomic<bool> no_new_privs_{false};
  std::atomic<uint64_t> timer_slack_ns_{kDefaultTimerSlackNs};
  std::atomic<uint32_t> personality_{0};
  std::atomic<clockid_t> host_cpu_clock_{0};  // the serving host thread's CPU clock, once running
  std::atomic<bool> host_cpu_clock_set_{false};
};

}  // namespace sentry::kernel
