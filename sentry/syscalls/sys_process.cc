// Processes: fork, vfork, clone, wait4, waitid, execve, and process-group identity.
#include <linux/sched.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <fcntl.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <vector>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/pidfd.h"
#include "sentry/syscalls/path_util.h"
#include "sentry/syscalls/rusage_util.h"
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
  kernel::Kernel::CloneRequest req;
  req.flags = a[0];
  req.parent_tid = UserAddr(a[2]);
  req.child_tid = UserAddr(a[3]);
  req.tls = a[4];
  req.stack = a[1];
  req.pidfd = UserAddr(a[2]);  // CLONE_PIDFD: clone() has no field of its own for it
  return static_cast<uint64_t>(TRY(t.kernel().Fork(t, req)));
}

// clone3(args, size): struct clone_args, as big as the caller's kernel headers made it.
Result<uint64_t> Sys_clone3(kernel::Task& t, const Args& a) {
  constexpr uint64_t kVer0 = 64;  // CLONE_ARGS_SIZE_VER0: up to tls
  constexpr uint64_t kVer2 = 88;  // CLONE_ARGS_SIZE_VER2: with cgroup
  constexpr uint64_t kMaxPidNsLevel = 32;
  uint64_t size = a[1];
  if (size > kPageSize) return Err(E2BIG);
  if (size < kVer0) return Err(EINVAL);
  clone_args args{};
  TRY(t.mm().CopyIn(UserAddr(a[0]), &args, std::min<uint64_t>(size, sizeof(args))));
  // A newer caller's fields that this kernel does not know must be zero.
  for (uint64_t off = sizeof(args); off < size; off += sizeof(uint64_t)) {
    uint64_t chunk = 0;
    uint64_t n = std::min<uint64_t>(sizeof(chunk), size - off);
    TRY(t.mm().CopyIn(UserAddr(a[0] + off), &chunk, n));
    if (chunk != 0) return Err(E2BIG);
  }
  if (args.set_tid_size > kMaxPidNsLevel) return Err(EINVAL);
  if ((args.set_tid == 0) != (args.set_tid_size == 0)) return Err(EINVAL);
  if ((args.exit_signal & ~uint64_t{CSIGNAL}) || args.exit_signal > kernel::kNumSignals) {
    return Err(EINVAL);
  }
  if ((args.flags & CLONE_INTO_CGROUP) && (args.cgroup > INT_MAX || size < kVer2)) {
    return Err(EINVAL);
  }
  pid_t set_tid = 0;
  if (args.set_tid_size != 0) {
    // One entry per pid namespace level, the innermost first; the sandbox has one level.
    std::vector<pid_t> tids(args.set_tid_size);
    TRY(t.mm().CopyIn(UserAddr(args.set_tid), tids.data(), tids.size() * sizeof(pid_t)));
    if (tids.size() > 1) return Err(EINVAL);
    set_tid = tids[0];
    if (set_tid <= 0) return Err(EINVAL);
  }
  // clone3_args_valid: no flags beyond clone's and CLONE_CLEAR_SIGHAND / CLONE_INTO_CGROUP;
  // CLONE_DETACHED and the exit-signal byte (but CLONE_NEWTIME) are not flags here.
  constexpr uint64_t kLegacyFlags = 0xffffffffULL;
  if (args.flags & ~(kLegacyFlags | CLONE_CLEAR_SIGHAND | CLONE_INTO_CGROUP)) return Err(EINVAL);
  if (args.flags & (CLONE_DETACHED | (CSIGNAL & ~uint64_t{CLONE_NEWTIME}))) return Err(EINVAL);
  if ((args.flags & CLONE_SIGHAND) && (args.flags & CLONE_CLEAR_SIGHAND)) return Err(EINVAL);
  if ((args.flags & (CLONE_THREAD | CLONE_PARENT)) && args.exit_signal != 0) return Err(EINVAL);
  uint64_t stack = 0;
  if (args.stack == 0) {
    if (args.stack_size != 0) return Err(EINVAL);
  } else {
    if (args.stack_size == 0) return Err(EINVAL);
    if (args.stack_size > arch::kTaskSize || args.stack > arch::kTaskSize - args.stack_size) {
      return Err(EINVAL);
    }
    stack = args.stack + args.stack_size;  // the stack grows down from its end
  }
  if (args.flags & CLONE_INTO_CGROUP) {
    // The sandbox has no cgroup2 file system, so no fd names a cgroup: EBADF, as Linux says
    // for an fd that is not a cgroup directory.
    return Err(EBADF);
  }
  kernel::Kernel::CloneRequest req{.flags = (args.flags & ~uint64_t{CSIGNAL}) | args.exit_signal,
                                   .parent_tid = UserAddr(args.parent_tid),
                                   .child_tid = UserAddr(args.child_tid),
                                   .tls = args.tls,
                                   .stack = stack,
                                   .pidfd = UserAddr(args.pidfd),
                                   .set_tid = set_tid};
  return static_cast<uint64_t>(TRY(t.kernel().Fork(t, req)));
}

// The rusage wait4 and waitid report for a child.
rusage ChildRusage(const kernel::Kernel::WaitResult& r) {
  return ToRusage({.user_ns = r.user_ns,
                   .sys_ns = r.sys_ns,
                   .minflt = r.minflt,
                   .majflt = r.majflt,
                   .nvcsw = r.nvcsw,
                   .nivcsw = r.nivcsw,
                   .maxrss_bytes = r.maxrss_bytes});
}

Result<uint64_t> Sys_wait4(kernel::Task& t, const Args& a) {
  pid_t pid = ArgInt(a[0]);
  int options = ArgInt(a[2]);
  if (options & ~(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WALL | __WCLONE)) {
    return Err(EINVAL);
  }
  if (pid == INT_MIN) return Err(ESRCH);
  using Select = kernel::Kernel::WaitRequest::Select;
  kernel::Kernel::WaitRequest req;
  req.options = options | WEXITED;
  if (pid < -1) {
    req.select = Select::kPgid;
    req.id = -pid;
  } else if (pid == 0) {
    req.select = Select::kPgid;  // id 0: the caller's group
  } else if (pid > 0) {
    req.select = Select::kPid;
    req.id = pid;
  }
  auto r = TRY(t.kernel().Wait(t, req));
  if (r.pid == 0) return 0;
  if (a[1] != 0) TRY(t.mm().CopyOutObject(UserAddr(a[1]), r.wait_status));
  if (a[3] != 0) TRY(t.mm().CopyOutObject(UserAddr(a[3]), ChildRusage(r)));
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
  using Select = kernel::Kernel::WaitRequest::Select;
  kernel::Kernel::WaitRequest req;
  req.options = options;
  bool nonblocking_pidfd = false;
  switch (which) {
    case P_ALL:
      break;
    case P_PID:
      if (id <= 0) return Err(EINVAL);
      req.select = Select::kPid;
      req.id = id;
      break;
    case P_PGID:
      if (id < 0) return Err(EINVAL);
      req.select = Select::kPgid;
      req.id = id;  // 0: the caller's group
      break;
    case P_PIDFD: {
      if (id < 0) return Err(EINVAL);
      auto file = TRY(t.fds().Get(id));
      auto* pidfd = dynamic_cast<kernel::PidFdFile*>(file.get());
      if (pidfd == nullptr) return Err(EBADF);
      req.select = Select::kProcess;
      req.process = pidfd->process_ptr();
      if (file->status_flags() & O_NONBLOCK) {
        nonblocking_pidfd = true;
        req.options |= WNOHANG;
      }
      break;
    }
    default:
      return Err(EINVAL);
  }
  auto r = TRY(t.kernel().Wait(t, req));
  if (r.pid == 0 && nonblocking_pidfd && !(options & WNOHANG)) return Err(EAGAIN);
  if (r.pid != 0 && a[4] != 0) TRY(t.mm().CopyOutObject(UserAddr(a[4]), ChildRusage(r)));
  if (a[2] != 0) {
    // Linux writes these fields only (zeros when WNOHANG found nothing), not the whole siginfo.
    constexpr uint64_t kSiPidOffset = 16;  // si_pid, si_uid, si_status follow one another
    int head[3] = {r.pid != 0 ? SIGCHLD : 0, 0, r.code};  // si_signo, si_errno, si_code
    struct {
      pid_t pid;
      uint32_t uid;
      int status;
    } body{r.pid, r.uid, r.status};
    TRY(t.mm().CopyOut(UserAddr(a[2]), head, sizeof(head)));
    TRY(t.mm().CopyOut(UserAddr(a[2] + kSiPidOffset), &body, sizeof(body)));
  }
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
  t.handlers[SYS_clone3] = Sys_clone3;
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
