// Processes: fork, wait, exit and execve.
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <functional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "sentry/kernel/ipc/ipc_namespace.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/robust_list.h"
#include "sentry/kernel/pidfd.h"
#include "sentry/kernel/task.h"
#include "sentry/loader/loader.h"
#include "sentry/vfs/resolve.h"
#include "spdlog/spdlog.h"

namespace sentry::kernel {
namespace {

// Linux follows at most this many nested "#!" interpreters.
constexpr int kMaxInterpreterDepth = 4;

vfs::FsCredentials ExecCreds(const Credentials& c) {
  return vfs::FsCredentials{.uid = c.euid,
                            .gid = c.egid,
                            .groups = {},
                            .dac_override = c.HasCapability(CAP_DAC_OVERRIDE)};
}

// Parses a "#!interpreter [arg]" line; nullopt when the file does not start with "#!".
std::optional<std::pair<std::string, std::string>> ParseShebang(vfs::FileDescription& file) {
  char buf[256];
  iovec v{buf, sizeof(buf) - 1};
  auto n = file.Read({&v, 1}, 0);
  if (!n || *n < 2 || buf[0] != '#' || buf[1] != '!') return std::nullopt;
  std::string_view line(buf + 2, *n - 2);
  line = line.substr(0, line.find('\n'));
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
      s.remove_suffix(1);
    }
    return s;
  };
  line = trim(line);
  size_t sp = line.find_first_of(" \t");
  std::string interp(line.substr(0, sp));
  std::string arg = sp == std::string_view::npos ? "" : std::string(trim(line.substr(sp)));
  return std::pair{interp, arg};
}

}  // namespace

Result<LoadedProgram> Kernel::LoadProgram(const FsContextSnapshot& fs, const Credentials& creds,
                                          uint64_t stack_limit, std::string path,
                                          std::vector<std::string> argv,
                                          std::vector<std::string> envp, std::string* error) {
  vfs::FsCredentials fcreds = ExecCreds(creds);
  // Opens an executable file as execve does: a regular file someone may execute, on a mount
  // that allows it.
  loader::FileOpener open =
      [&](const std::string& p) -> Result<std::shared_ptr<vfs::FileDescription>> {
    vfs::ResolveContext ctx{*mounts_, fs.root, fcreds};
    vfs::VirtualDentry vd = TRY(vfs::Resolve(ctx, fs.cwd, p, vfs::kFollowFinal));
    if (vd.inode().IsDir()) return Err(EACCES);
    struct stat st = TRY(vd.inode().Stat());
    if (!S_ISREG(st.st_mode) || (vd.mount->flags() & MS_NOEXEC) ||
        !vfs::MayAccess(st, fcreds, X_OK)) {
      return Err(EACCES);
    }
    return vd.inode().Open(vd, O_RDONLY);
  };
  std::string execfn = path;
  std::shared_ptr<vfs::FileDescription> exe;
  for (int depth = 0;; ++depth) {
    exe = TRY(open(path));
    auto shebang = ParseShebang(*exe);
    if (!shebang) break;
    if (depth >= kMaxInterpreterDepth) return Err(ELOOP);
    if (shebang->first.empty()) return Err(ENOEXEC);
    // The script's path replaces argv[0]; the interpreter and its argument go in front.
    std::vector<std::string> new_argv{shebang->first};
    if (!shebang->second.empty()) new_argv.push_back(shebang->second);
    new_argv.push_back(path);
    for (size_t i = 1; i < argv.size(); ++i) new_argv.push_back(std::move(argv[i]));
    argv = std::move(new_argv);
    path = shebang->first;
  }

  auto as = platform_->NewAddressSpace();
  if (!as.ok()) {
    if (error) *error = std::string(as.status().message());
    return Err(ENOMEM);
  }
  auto mm = std::make_shared<mm::MemoryManager>(
      *memory_, std::move(*as),
      loader::ChooseLayout(platform_->MaxUserAddress(), stack_limit, vdso_ ? vdso_->span() : 0));
  if (vdso_) {
    if (auto r = vdso_->MapInto(*mm, mm->layout().vdso_base); !r) {
      if (error) *error = "cannot map the vDSO";
      return Err(r.error().value == EEXIST ? ENOMEM : r.error().value);
    }
  }
  loader::ExecArgs exec{.execfn = execfn,
                        .argv = argv,
                        .envp = std::move(envp),
                        .uid = creds.ruid,
                        .euid = creds.euid,
                        .gid = creds.rgid,
                        .egid = creds.egid};
  auto loaded = loader::Load(*mm, *exe, exec, open);
  if (!loaded) {
    if (error) *error = loaded.error().message;
    return Err(loaded.error().err);
  }
  ExecStrings strings{.arg_start = loaded->arg_start,
                      .arg_end = loaded->arg_end,
                      .env_start = loaded->env_start,
                      .env_end = loaded->env_end};
  return LoadedProgram{std::move(mm), loaded->state, execfn, std::move(argv), strings};
}

Result<void> Kernel::Execve(Task& task, const std::string& path, std::vector<std::string> argv,
                            std::vector<std::string> envp) {
  FsContextSnapshot fs;
  {
    std::lock_guard lock(task.fs().mu);
    fs = {task.fs().root, task.fs().cwd};
  }
  uint64_t stack_limit;
  {
    std::lock_guard lock(task.thread_group().mu());
    stack_limit = task.thread_group().limits().Get(RLIMIT_STACK).cur;
  }
  std::string error;
  auto program =
      LoadProgram(fs, task.creds(), stack_limit, path, std::move(argv), std::move(envp), &error);
  if (!program) {
    if (!error.empty()) spdlog::debug("execve {}: {}", path, error);
    return std::unexpected(program.error());
  }
  // The point of no return: the old program is gone, with its other threads.
  TRY(KillOtherThreads(task));
  ReleaseRobustFutexes(task, false);  // Linux's futex_exec_release, before the old memory goes
  // The old memory's CLONE_CHILD_CLEARTID word is released now (Linux's exec_mm_release); the
  // address means nothing in the new program, where a write at exit would corrupt it.
  if (UserAddr ctid = task.clear_child_tid(); ctid.value != 0) {
    if (task.mm().CopyOutObject<uint32_t>(ctid, 0)) futexes_.WakeOne(task.mm(), ctid);
    task.set_clear_child_tid(UserAddr(0));
  }
  ipc().ExitMm(task);  // exec detaches shm, while the task can still change its address space
  task.context().Leave(task.mm().address_space());
  task.thread_group().NoteRss(task.mm().AccessibleBytes());  // the peak outlives the memory
  task.ReplaceMm(std::move(program->mm));
  task.ReleaseVforkParent();
  task.state() = program->state;
  task.fds().CloseOnExec();
  {
    std::lock_guard lock(task.thread_group().mu());
    for (int sig = 1; sig <= kNumSignals; ++sig) {
      KernelSigaction& act = task.thread_group().action(sig);
      if (act.handler > 1) act = KernelSigaction{};  // handlers are gone; SIG_IGN stays
    }
  }
  task.set_exe_path(program->execfn);
  task.set_argv(std::move(program->argv));
  task.set_exec_strings(program->strings);
  // POSIX timers do not survive execve (ITIMER_REAL does).
  std::map<int, std::shared_ptr<IntervalTimer>> timers;
  {
    std::lock_guard lock(task.thread_group().mu());
    timers.swap(task.thread_group().posix_timers());
  }
  for (auto& [id, t] : timers) timers_.Set(t, std::nullopt, Nanos(0));
  task.ResetCommOnExec();
  task.thread_group().set_dumpable(1);
  // Linux's capability rules for a file without capabilities: root gets its bounding set,
  // anyone else only its ambient set, PR_SET_KEEPCAPS or not (the flag itself does not
  // survive exec).
  Credentials creds = task.creds();
  bool root = creds.euid == 0 || creds.ruid == 0;
  creds.cap_permitted =
      (root ? (creds.cap_bounding | creds.cap_inheritable) : 0) | creds.cap_ambient;
  creds.cap_effective = creds.euid == 0 ? creds.cap_permitted : creds.cap_ambient;
  creds.keep_caps = false;
  task.set_creds(creds);
  return {};
}

Result<void> Kernel::KillOtherThreads(Task& task) {
  ThreadGroup& tg = task.thread_group();
  std::vector<std::shared_ptr<Task>> others;
  {
    absl::MutexLock lock(&procs_mu_);
    if (tg.group_exiting_) return Err(EINTR);  // exit_group won the race: this thread ends too
    for (auto& t : tg.tasks_) {
      if (t.get() == &task) continue;
      t->RequestExit(0);
      others.push_back(t);
    }
  }
  if (others.empty()) return {};
  for (auto& t : others) t->Interrupt();
  others.clear();
  absl::MutexLock lock(&procs_mu_);
  while (tg.tasks_.size() > 1) procs_cv_.Wait(&procs_mu_);
  // The exec'ing thread becomes the leader, with the process's id.
  if (task.tid() != tg.tgid()) {
    auto self = task_index_[task.tid()];
    task_index_.erase(task.tid());
    task.set_tid(tg.tgid());
    task_index_[tg.tgid()] = self;
  }
  return {};
}

void Kernel::ExitGroup(Task& task, int wait_status) {
  task.RequestExit(wait_status);
  KillThreadGroup(task.thread_group(), wait_status);
}

void Kernel::TaskExited(Task& task, int wait_status) {
  task.thread_group().AddExitedThreadCpu(task.CpuTimesSplit());  // getrusage, times
  task.thread_group().NoteRss(task.mm().AccessibleBytes());
  task.ReleaseVforkParent();
  ReleaseRobustFutexes(task, true);  // locks it held wake their next owner with EOWNERDEAD
  // CLONE_CHILD_CLEARTID / set_tid_address: pthread_join waits on this word.
  if (UserAddr ctid = task.clear_child_tid(); ctid.value != 0) {
    if (task.mm().CopyOutObject<uint32_t>(ctid, 0)) futexes_.WakeOne(task.mm(), ctid);
  }
  ipc().ExitMm(task);  // shm detach, while the task can still change its address space
  task.context().Leave(task.mm().address_space());
  // Its files close before the parent can see it exit (Linux's exit_files comes before
  // exit_notify): a waiter finds its record locks and flocks gone.
  task.ReleaseFiles();
  ThreadGroup& tg = task.thread_group();
  // The leader's /proc/PID outlives it (as a zombie, or while other threads run on).
  std::shared_ptr<const ExitedLeader> leader;
  if (task.tid() == tg.tgid()) {
    ThreadGroup::CpuTimes cpu = task.CpuTimesSplit();
    leader =
        std::make_shared<const ExitedLeader>(ExitedLeader{.comm = task.comm(),
                                                          .creds = task.creds(),
                                                          .groups = task.groups(),
                                                          .signal_mask = task.signal_mask(),
                                                          .start_time_ns = task.start_time_ns(),
                                                          .user_ns = cpu.user_ns,
                                                          .sys_ns = cpu.sys_ns});
  }
  bool last;
  int status;
  std::vector<std::shared_ptr<Task>> wake;  // a parent told that the group stop is complete
  {
    absl::MutexLock lock(&procs_mu_);
    if (leader) tg.exited_leader_ = std::move(leader);
    std::erase_if(tg.tasks_, [&](const auto& t) { return t.get() == &task; });
    task_index_.erase(task.tid());
    last = tg.tasks_.empty();
    tg.exit_uid_ = task.creds().ruid;
    tg.exit_suid_ = task.creds().suid;
    LeaveGroupStopLocked(task, &wake);
    // Its children pass to a thread still alive (for __WNOTHREAD).
    if (!last) {
      for (auto& child : tg.children_) {
        if (child->creator_tid_ == task.tid()) child->creator_tid_ = tg.tasks_.front()->tid();
      }
    }
    // Threads that all end with exit(2): the process takes the last one's status (as Linux 6
    // reports it).
    status = tg.group_exiting_ ? tg.group_exit_status_ : wait_status;
    procs_cv_.SignalAll();  // KillOtherThreads waits for the others to go
  }
  for (auto& t : wake) t->Interrupt();
  if (last) {
    ipc().ExitProcess(tg.tgid());  // SEM_UNDO, before the parent can see the exit
    ProcessExited(tg, status);
  }
}

void Kernel::RunTask(std::shared_ptr<Task> task) {
  int status = task->Run();
  TaskExited(*task, status);
}

Result<pid_t> Kernel::AllocatePid(pid_t wanted) {
  absl::MutexLock lock(&procs_mu_);
  auto used = [&](pid_t id) { return task_index_.contains(id) || tg_index_.contains(id); };
  pid_t id = wanted;
  if (id != 0) {
    if (used(id)) return Err(EEXIST);
  } else {
    do {
      id = next_pid_.fetch_add(1);
    } while (used(id));
  }
  task_index_[id] = std::weak_ptr<Task>();  // taken from now on
  return id;
}

Result<pid_t> Kernel::Fork(Task& parent, const CloneRequest& req) {
  uint64_t flags = req.flags & ~uint64_t{CSIGNAL};
  // Linux's own consistency rules come first (copy_process).
  if ((flags & CLONE_NEWNS) && (flags & CLONE_FS)) return Err(EINVAL);
  if ((flags & CLONE_THREAD) && !(flags & CLONE_SIGHAND)) return Err(EINVAL);
  if ((flags & CLONE_SIGHAND) && !(flags & CLONE_VM)) return Err(EINVAL);
  if ((flags & CLONE_THREAD) && (req.flags & CSIGNAL)) return Err(EINVAL);
  if ((flags & CLONE_SIGHAND) && (flags & CLONE_CLEAR_SIGHAND)) return Err(EINVAL);
  if (flags & CLONE_PIDFD) {
    // CLONE_DETACHED is kept for later use with pidfds; a thread's pidfd (PIDFD_THREAD,
    // Linux 6.9) is not served: EINVAL, as Linux said before it.
    if (flags & (CLONE_DETACHED | CLONE_THREAD)) return Err(EINVAL);
    if ((flags & CLONE_PARENT_SETTID) && req.pidfd.value == req.parent_tid.value) {
      return Err(EINVAL);
    }
  }
  constexpr uint64_t kSupported = CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | CLONE_PARENT_SETTID |
                                  CLONE_SETTLS | CLONE_VFORK | CLONE_VM | CLONE_FILES | CLONE_FS |
                                  CLONE_THREAD | CLONE_SIGHAND | CLONE_SYSVSEM | CLONE_PARENT |
                                  CLONE_DETACHED | CLONE_PIDFD | CLONE_CLEAR_SIGHAND;
  // Namespaces, and signal handlers shared between processes, come later.
  if ((flags & ~kSupported) || ((flags & CLONE_SIGHAND) && !(flags & CLONE_THREAD))) {
    ReportUnsupported(56 /* clone */);
    return Err(ENOSYS);
  }
  bool thread = flags & CLONE_THREAD;
  bool share_vm = flags & CLONE_VM;
  if (req.set_tid != 0) {
    // Choosing an id is for checkpoint/restore: CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE.
    constexpr uint64_t kCaps = (uint64_t{1} << 21) | (uint64_t{1} << 40);
    if (req.set_tid < 0 || req.set_tid >= kPidMax) return Err(EINVAL);
    if (!(parent.creds().cap_effective & kCaps)) return Err(EPERM);
  }
  pid_t tid = TRY(AllocatePid(req.set_tid));
  // Until the task is registered, a failure gives the id back.
  struct ReleaseOnFailure {
    std::function<void()> release;
    ~ReleaseOnFailure() {
      if (release) release();
    }
  } pid_guard{[this, tid] {
    absl::MutexLock lock(&procs_mu_);
    if (auto it = task_index_.find(tid); it != task_index_.end() && it->second.expired()) {
      task_index_.erase(it);
    }
  }};

  std::shared_ptr<ThreadGroup> tg = parent.thread_group_ptr();
  std::shared_ptr<ThreadGroup> real_parent;  // of a new process
  if (!thread) {
    real_parent = tg;
    if (flags & CLONE_PARENT) {
      if (tg->tgid() == 1) return Err(EINVAL);  // init has no parent to share
      std::lock_guard tree(tg->tree_mu_);
      real_parent = tg->parent_.lock();
      if (!real_parent) return Err(EINVAL);
    }
    tg = std::make_shared<ThreadGroup>(tid, real_parent);
    tg->InheritFrom(parent.thread_group());
    tg->set_exit_signal(static_cast<int>(req.flags & CSIGNAL));
    // CLONE_PARENT makes it a sibling: its parent's leader stands for the forking thread.
    tg->creator_tid_ = (flags & CLONE_PARENT) ? real_parent->tgid() : parent.tid();
    if (flags & CLONE_CLEAR_SIGHAND) {
      std::lock_guard lock(tg->mu());
      for (int sig = 1; sig <= kNumSignals; ++sig) {
        if (tg->action(sig).handler > 1) tg->action(sig) = KernelSigaction{};
      }
    }
  }

  arch::CpuState state = parent.state();
  state.SetReturn(0);
  if (flags & CLONE_SETTLS) state.regs.fs_base = req.tls;
  if (req.stack != 0) state.regs.rsp = req.stack;
  state.fp_to_load = TRY(parent.context().ReadFpState(parent.mm().address_space()));

  std::shared_ptr<vfs::FdTable> fds = parent.fds_ptr();
  if (!(flags & CLONE_FILES)) fds = fds->Clone();
  std::shared_ptr<FsContext> fs = parent.fs_ptr();
  if (!(flags & CLONE_FS)) {
    auto copy = std::make_shared<FsContext>();
    std::lock_guard lock(fs->mu);
    copy->root = fs->root;
    copy->cwd = fs->cwd;
    copy->umask = fs->umask;
    fs = std::move(copy);
  }
  // CLONE_PIDFD: the parent's fd is there before the child runs (and, as in Linux, not in a
  // child that does not share the table).
  std::optional<int> pidfd;
  if (flags & CLONE_PIDFD) {
    uint64_t limit;
    {
      std::lock_guard lock(parent.thread_group().mu());
      limit = parent.thread_group().limits().Get(RLIMIT_NOFILE).cur;
    }
    int fd = TRY(parent.fds().Install(std::make_shared<PidFdFile>(tg, 0), true, 0, limit));
    if (!parent.mm().CopyOutObject(req.pidfd, fd)) {
      (void)parent.fds().Close(fd);
      return Err(EFAULT);
    }
    pidfd = fd;
  }
  auto drop_pidfd = [&] {
    if (pidfd) (void)parent.fds().Close(*pidfd);
  };
  if (share_vm && !parent.mm().address_space().AddThread()) {
    drop_pidfd();
    return Err(EAGAIN);
  }
  // The parent's private memory becomes copy-on-write here, on the parent's own thread: only a
  // thread that drives its address space can take write access away there.
  std::unique_ptr<mm::ForkImage> image;
  if (!share_vm) {
    auto prepared = parent.mm().PrepareFork();
    if (!prepared) {
      drop_pidfd();
      return std::unexpected(prepared.error());
    }
    image = std::move(*prepared);
  }
  std::shared_ptr<Completion> vfork_done;
  if (flags & CLONE_VFORK) vfork_done = std::make_shared<Completion>();
  if (real_parent) {
    absl::MutexLock lock(&procs_mu_);
    real_parent->children_.push_back(tg);
    tg_index_[tid] = tg;
  }

  // A new address space must be built by the host thread that will run it (a ptrace stub
  // answers only to the thread that traces it); the parent waits until the child exists.
  struct Handoff {
    absl::Mutex mu;
    bool done = false;
    Result<void> status;
  } handoff;
  std::thread([&, tg, fds, fs, state, tid, flags, share_vm, vfork_done,
               image = std::move(image)]() mutable {
    auto fail = [&](int err) {
      absl::MutexLock lock(&handoff.mu);
      handoff.status = Err(err);
      handoff.done = true;
    };
    auto context = platform_->NewContext();
    if (!context.ok()) return fail(EAGAIN);
    std::shared_ptr<mm::MemoryManager> mm;
    if (share_vm) {
      mm = parent.mm_ptr();
    } else {
      auto as = platform_->NewAddressSpace();
      if (!as.ok()) return fail(EAGAIN);
      auto copy = parent.mm().CompleteFork(std::move(*as), std::move(image));
      if (!copy) return fail(copy.error().value);
      mm = std::move(*copy);
    }
    // Moved, not copied: this closure lives as long as the thread, and a table it kept would
    // outlive the task's exit (and the locks held through it).
    auto task = std::make_shared<Task>(*this, tg, tid, std::move(mm), std::move(fds), std::move(fs),
                                       std::move(*context));
    task->state() = state;
    task->set_creds(parent.creds());
    task->set_exe_path(parent.exe_path());
    task->set_argv(parent.argv());
    task->set_exec_strings(parent.exec_strings());
    task->InheritAttrsFrom(parent);
    task->set_signal_mask(parent.signal_mask());
    task->set_cpu_affinity(parent.cpu_affinity());
    task->set_vfork_done(vfork_done);
    if (flags & CLONE_CHILD_SETTID) (void)task->mm().CopyOutObject(req.child_tid, tid);
    if (flags & CLONE_CHILD_CLEARTID) task->set_clear_child_tid(req.child_tid);
    {
      absl::MutexLock lock(&procs_mu_);
      tg->tasks_.push_back(task);
      task_index_[tid] = task;
      // An exit_group that ran while this thread was being made takes it too.
      if (tg->group_exiting_) task->RequestExit(tg->group_exit_status_);
      // So does a group stop under way: the new thread parks before it runs.
      if (tg->stop_state_ != ThreadGroup::StopState::kRunning) {
        task->stop_pending_.store(true);
        ++tg->threads_to_stop_;
        task->interrupter().Fire();
      }
    }
    // Before the child can run (Linux's kernel_clone writes it before waking the child): a
    // thread that exited at once would otherwise have its CLONE_CHILD_CLEARTID zero, which
    // pthread_join sleeps on, overwritten by its TID afterwards.
    if (flags & CLONE_PARENT_SETTID) (void)parent.mm().CopyOutObject(req.parent_tid, tid);
    {
      absl::MutexLock lock(&handoff.mu);
      handoff.done = true;
    }
    // From here on the parent and its stack (handoff, req) may be gone.
    RunTask(std::move(task));
  }).detach();

  {
    absl::MutexLock lock(&handoff.mu);
    handoff.mu.Await(absl::Condition(&handoff.done));
  }
  if (!handoff.status) {
    if (real_parent) {
      absl::MutexLock lock(&procs_mu_);
      std::erase(real_parent->children_, tg);
      tg_index_.erase(tid);
    }
    drop_pidfd();
    return std::unexpected(handoff.status.error());
  }
  pid_guard.release = nullptr;
  // vfork: the parent sleeps until the child lets go of the memory they share.
  // Not cut short by the parent's pending signals (Linux waits killably): a parent that ran on
  // while the child still used their shared stack would corrupt it.
  if (vfork_done) vfork_done->Wait(nullptr);
  return tid;
}

void Kernel::ProcessExited(ThreadGroup& tg, int wait_status) {
  std::vector<std::shared_ptr<IntervalTimer>> timers;
  {
    std::lock_guard lock(tg.mu());
    if (tg.itimer_real()) timers.push_back(std::move(tg.itimer_real()));
    for (int which : {ITIMER_VIRTUAL, ITIMER_PROF}) {
      if (tg.itimer_cpu(which)) timers.push_back(std::move(tg.itimer_cpu(which)));
    }
    for (auto& [id, t] : tg.posix_timers()) timers.push_back(t);
    tg.posix_timers().clear();
  }
  for (auto& t : timers) timers_.Set(t, std::nullopt, Nanos(0));
  std::vector<std::shared_ptr<Task>> wake;
  std::vector<std::pair<std::shared_ptr<Task>, int>> pdeath;  // PR_SET_PDEATHSIG
  std::vector<pid_t> orphaned_stopped;  // process groups to hang up
  {
    absl::MutexLock lock(&procs_mu_);
    tg.exited_ = true;
    tg.exited_flag_.store(true);
    tg.wait_status_ = wait_status;
    tg.stop_state_ = ThreadGroup::StopState::kRunning;
    tg.stop_report_ = 0;
    tg.continued_report_ = false;
    // Orphans go to the nearest living PR_SET_CHILD_SUBREAPER ancestor, else to init.
    std::shared_ptr<ThreadGroup> reaper = init_;
    for (auto p = tg.parent(); p; p = p->parent()) {
      if (p->child_subreaper() && !p->exited_) {
        reaper = p;
        break;
      }
    }
    // Init itself ending leaves no one to adopt its orphans (the sandbox ends with it), and
    // adopting into the vector being walked would invalidate it.
    if (reaper.get() == &tg) reaper = nullptr;
    for (auto& child : tg.children_) {
      {
        std::lock_guard tree(child->tree_mu_);
        child->parent_ = reaper;
      }
      if (reaper) reaper->children_.push_back(child);
      for (auto& t : child->tasks_) {
        if (int sig = t->pdeath_signal()) pdeath.emplace_back(t, sig);
      }
      // An adopted zombie is announced to its new parent, which reaps it at once if it
      // ignores SIGCHLD (Linux's reparent_leader).
      if (reaper && child->exited_) NotifyParentLocked(*child, child->wait_status_, &wake);
    }
    HangUpOrphanedPgrpsLocked(tg, tg.children_, &orphaned_stopped);
    tg.children_.clear();
    NotifyParentLocked(tg, wait_status, &wake);
    procs_cv_.SignalAll();
  }
  for (auto& t : wake) t->Interrupt();
  tg.exit_queue().Notify(POLLIN | POLLRDNORM);  // pidfds
  for (pid_t pgid : orphaned_stopped) {
    // POSIX: a newly orphaned group with a stopped member gets SIGHUP, then SIGCONT.
    for (int sig : {SIGHUP, SIGCONT}) {
      std::vector<std::shared_ptr<ThreadGroup>> members;
      {
        absl::MutexLock lock(&procs_mu_);
        for (auto& [id, weak] : tg_index_) {
          auto m = weak.lock();
          if (m && !m->exited_ && m->pgid() == pgid) members.push_back(std::move(m));
        }
      }
      siginfo_t info{};
      info.si_signo = sig;
      info.si_code = SI_KERNEL;
      for (auto& m : members) (void)SendToThreadGroup(*m, info);
    }
  }
  SessionLeaderExited(tg);  // its controlling terminal hangs up the foreground group
  for (auto& [t, sig] : pdeath) {
    siginfo_t info{};
    info.si_signo = sig;
    info.si_code = SI_USER;
    info.si_pid = tg.tgid();
    SendToTask(*t, info);
  }
}

}  // namespace sentry::kernel
