// Processes: fork, vfork, clone, wait4, waitid, execve, and process-group identity.
#include <linux/sched.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <climits>

#include "sentry/kernel/kernel.h"
#include "sentry/syscalls/path_util.h"
#include "sentry/syscalls/table.h"

namespace sentry::syscalls {
namespace {

// Linux's per-string and total limits for execve's argv and envp.
constexpr size_t kMaxArgStrlen = 32 * 4096;
constexpr size_t kMaxArgCount = 0x7fffffff / sizeof(uint64_t);

kernel::Kernel::CloneRequest ForkRequest(uint64_t flags) {
  kernel::Kernel::CloneRequest req;
  req.flags = flags;
  return req;
}

Result<uint64_t> Sys_fork(kernel::Task& t, const Args&) {
  return static_cast<uint64_t>(TRY(t.kernel().Fork(t, ForkRequest(SIGCHLD))));
}

Result<uint64_t> Sys_vfork(kernel::Task& t, const Args&) {
  // The child gets a copy of the parent's memory, not the memory itself; programs that use
  // vfork only to exec (all that POSIX allows) cannot tell.
  return static_cast<uint64_t>(
      TRY(t.kernel().Fork(t, ForkRequest(CLONE_VFORK | CLONE_VM | SIGCHLD))));
}

// clone(flags, stack, parent_tid, child_tid, tls) on amd64.
Result<uint64_t> Sys_clone(kernel::Task& t, const Args& a) {
  kernel::Kernel::CloneRequest req{.flags = a[0],
                                   .parent_tid = UserAddr(a[2]),
                                   .child_tid = UserAddr(a[3]),
                                   .tls = a[4],
                                   .stack = a[1]};
  return static_cast<uint64_t>(TRY(t.kernel().Fork(t, req)));
}

Result<uint64_t> CopyOutStatus(kernel::Task& t, uint64_t addr, int status) {
  if (addr != 0) TRY(t.mm().CopyOutObject(UserAddr(addr), status));
  return 0;
}

Result<uint64_t> Sys_wait4(kernel::Task& t, const Args& a) {
  pid_t pid = ArgInt(a[0]);
  int options = ArgInt(a[2]);
  if (options & ~(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WALL | __WCLONE)) {
    return Err(EINVAL);
  }
  if (pid == INT_MIN) return Err(ESRCH);
  auto r = TRY(t.kernel().Wait(t.thread_group(), pid, options & WNOHANG));
  if (r.pid == 0) return 0;
  TRY(CopyOutStatus(t, a[1], r.wait_status));
  if (a[3] != 0) TRY(t.mm().CopyOutObject(UserAddr(a[3]), rusage{}));
  return static_cast<uint64_t>(r.pid);
}

Result<uint64_t> Sys_waitid(kernel::Task& t, const Args& a) {
  int which = ArgInt(a[0]);
  pid_t id = ArgInt(a[1]);
  int options = ArgInt(a[3]);
  if (options & ~(WNOHANG | WNOWAIT | WEXITED | WSTOPPED | WCONTINUED | __WNOTHREAD | __WALL |
                  __WCLONE)) {
    return Err(EINVAL);
  }
  if (!(options & (WEXITED | WSTOPPED | WCONTINUED))) return Err(EINVAL);
  pid_t pid;
  switch (which) {
    case P_ALL: pid = -1; break;
    case P_PID:
      if (id <= 0) return Err(EINVAL);
      pid = id;
      break;
    case P_PGID: pid = 0; break;
    default: return Err(EINVAL);
  }
  siginfo_t info{};
  if (!(options & WEXITED)) return Err(ECHILD);  // stops and continues are not tracked yet
  auto r = TRY(t.kernel().Wait(t.thread_group(), pid, options & (WNOHANG | WNOWAIT)));
  if (r.pid != 0) {
    info.si_signo = SIGCHLD;
    info.si_pid = r.pid;
    if (WIFEXITED(r.wait_status)) {
      info.si_code = CLD_EXITED;
      info.si_status = WEXITSTATUS(r.wait_status);
    } else {
      info.si_code = WCOREDUMP(r.wait_status) ? CLD_DUMPED : CLD_KILLED;
      info.si_status = WTERMSIG(r.wait_status);
    }
  }
  if (a[2] != 0) TRY(t.mm().CopyOutObject(UserAddr(a[2]), info));
  if (a[4] != 0) TRY(t.mm().CopyOutObject(UserAddr(a[4]), rusage{}));
  return 0;
}

// A NULL-terminated array of string pointers (argv, envp).
Result<std::vector<std::string>> CopyInStrings(kernel::Task& t, uint64_t addr) {
  std::vector<std::string> out;
  if (addr == 0) return out;
  for (size_t i = 0;; ++i) {
    if (i >= kMaxArgCount) return Err(E2BIG);
    uint64_t p = TRY(t.mm().CopyInObject<uint64_t>(UserAddr(addr + i * sizeof(uint64_t))));
    if (p == 0) break;
    auto s = t.mm().CopyInString(UserAddr(p), kMaxArgStrlen);
    if (!s) return Err(s.error().value == ENAMETOOLONG ? E2BIG : s.error().value);
    out.push_back(std::move(*s));
  }
  return out;
}

Result<uint64_t> ExecveAt(kernel::Task& t, int dirfd, uint64_t path_addr, uint64_t argv_addr,
                          uint64_t envp_addr, int flags) {
  if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) return Err(EINVAL);
  std::string path = TRY(CopyInPath(t, path_addr));
  auto argv = TRY(CopyInStrings(t, argv_addr));
  auto envp = TRY(CopyInStrings(t, envp_addr));
  if (path.empty() && !(flags & AT_EMPTY_PATH)) return Err(ENOENT);
  if (dirfd != AT_FDCWD && !path.empty() && path[0] != '/') {
    // Relative to a directory fd: resolve its absolute place first.
    vfs::VirtualDentry dir = TRY(StartDir(t, dirfd));
    vfs::VirtualDentry root;
    {
      std::lock_guard lock(t.fs().mu);
      root = t.fs().root;
    }
    path = t.kernel().mounts().PathOf(dir, root) + "/" + path;
  } else if (path.empty()) {
    return Err(ENOSYS);  // execveat(fd, "", AT_EMPTY_PATH) needs a path for the fd's file
  }
  TRY(t.kernel().Execve(t, path, std::move(argv), std::move(envp)));
  return 0;
}

Result<uint64_t> Sys_execve(kernel::Task& t, const Args& a) {
  return ExecveAt(t, AT_FDCWD, a[0], a[1], a[2], 0);
}
Result<uint64_t> Sys_execveat(kernel::Task& t, const Args& a) {
  return ExecveAt(t, ArgInt(a[0]), a[1], a[2], a[3], ArgInt(a[4]));
}

// Sessions and process groups are not modelled yet: every process is in the group and session
// of init, which is what a single-session sandbox looks like to the programs that ask.
Result<uint64_t> Sys_getpgrp(kernel::Task& t, const Args&) { return t.thread_group().pgid(); }
Result<uint64_t> Sys_getpgid(kernel::Task& t, const Args& a) {
  return static_cast<uint64_t>(TRY(t.kernel().GetPgid(t, static_cast<pid_t>(a[0]))));
}
Result<uint64_t> Sys_getsid(kernel::Task& t, const Args& a) {
  return static_cast<uint64_t>(TRY(t.kernel().GetSid(t, static_cast<pid_t>(a[0]))));
}
Result<uint64_t> Sys_setpgid(kernel::Task& t, const Args& a) {
  TRY(t.kernel().SetPgid(t, static_cast<pid_t>(a[0]), static_cast<pid_t>(a[1])));
  return 0;
}
Result<uint64_t> Sys_setsid(kernel::Task& t, const Args&) {
  return static_cast<uint64_t>(TRY(t.kernel().SetSid(t)));
}

// The CPUs a sandbox has are 0..num_cpus-1 (at most 64 here).
uint64_t OnlineCpus(kernel::Task& t) {
  unsigned n = std::min(64u, t.kernel().options().num_cpus);
  return n >= 64 ? ~0ULL : (1ULL << n) - 1;
}

// Linux's cpumask_size(): whole longs for nr_cpu_ids bits.
uint64_t CpuMaskBytes(kernel::Task& t) {
  uint64_t n = std::min(64u, t.kernel().options().num_cpus);
  return (n + 63) / 64 * sizeof(uint64_t);
}

Result<std::shared_ptr<kernel::Task>> AffinityTarget(kernel::Task& t, pid_t pid) {
  if (pid < 0) return Err(ESRCH);
  if (pid == 0 || pid == t.tid()) return std::shared_ptr<kernel::Task>();
  auto target = t.kernel().FindTask(pid);
  if (!target) return Err(ESRCH);
  return target;
}

Result<uint64_t> Sys_sched_getaffinity(kernel::Task& t, const Args& a) {
  uint64_t len = a[1];
  uint64_t size = CpuMaskBytes(t);
  if (len < size || (len & (sizeof(uint64_t) - 1))) return Err(EINVAL);
  auto target = TRY(AffinityTarget(t, static_cast<pid_t>(a[0])));
  uint64_t mask = (target ? target->cpu_affinity() : t.cpu_affinity()) & OnlineCpus(t);
  TRY(t.mm().CopyOut(UserAddr(a[2]), &mask, size));
  return size;
}

Result<uint64_t> Sys_sched_setaffinity(kernel::Task& t, const Args& a) {
  uint64_t len = std::min<uint64_t>(a[1], sizeof(uint64_t));
  uint64_t mask = 0;
  TRY(t.mm().CopyIn(UserAddr(a[2]), &mask, len));
  auto target = TRY(AffinityTarget(t, static_cast<pid_t>(a[0])));
  mask &= OnlineCpus(t);
  if (mask == 0) return Err(EINVAL);
  (target ? *target : t).set_cpu_affinity(mask);
  return 0;
}

}  // namespace

void RegisterProcessSyscalls(SyscallTable& t) {
  t.handlers[SYS_fork] = Sys_fork;
  t.handlers[SYS_vfork] = Sys_vfork;
  t.handlers[SYS_clone] = Sys_clone;
  t.quiet_enosys[SYS_clone3] = true;  // glibc falls back to clone, which is served
  t.handlers[SYS_wait4] = Sys_wait4;
  t.handlers[SYS_waitid] = Sys_waitid;
  t.handlers[SYS_execve] = Sys_execve;
  t.handlers[SYS_execveat] = Sys_execveat;
  t.handlers[SYS_getpgrp] = Sys_getpgrp;
  t.handlers[SYS_getpgid] = Sys_getpgid;
  t.handlers[SYS_getsid] = Sys_getsid;
  t.handlers[SYS_setpgid] = Sys_setpgid;
  t.handlers[SYS_setsid] = Sys_setsid;
  t.handlers[SYS_sched_getaffinity] = Sys_sched_getaffinity;
  t.handlers[SYS_sched_setaffinity] = Sys_sched_setaffinity;
}

}  // namespace sentry::syscalls
