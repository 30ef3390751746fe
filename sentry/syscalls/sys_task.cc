// Process and thread identity, exit, limits, uname, arch_prctl and getrandom.
#include <asm/prctl.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include <cstring>

#include "sentry/kernel/kernel.h"
#include "sentry/syscalls/table.h"

namespace sentry::syscalls {
namespace {

Result<uint64_t> Sys_exit(kernel::Task& t, const Args& a) {
  // This thread only; the process ends with its last thread.
  t.RequestExit((ArgInt(a[0]) & 0xff) << 8);
  return 0;
}

Result<uint64_t> Sys_exit_group(kernel::Task& t, const Args& a) {
  t.kernel().ExitGroup(t, (ArgInt(a[0]) & 0xff) << 8);
  return 0;
}

Result<uint64_t> Sys_getpid(kernel::Task& t, const Args&) { return t.thread_group().tgid(); }
Result<uint64_t> Sys_gettid(kernel::Task& t, const Args&) { return t.tid(); }
Result<uint64_t> Sys_getppid(kernel::Task& t, const Args&) { return t.thread_group().ppid(); }
Result<uint64_t> Sys_getuid(kernel::Task& t, const Args&) { return t.creds().ruid; }
Result<uint64_t> Sys_geteuid(kernel::Task& t, const Args&) { return t.creds().euid; }
Result<uint64_t> Sys_getgid(kernel::Task& t, const Args&) { return t.creds().rgid; }
Result<uint64_t> Sys_getegid(kernel::Task& t, const Args&) { return t.creds().egid; }

Result<uint64_t> Sys_set_tid_address(kernel::Task& t, const Args& a) {
  t.set_clear_child_tid(UserAddr(a[0]));
  return t.tid();
}

Result<uint64_t> Sys_sched_yield(kernel::Task&, const Args&) {
  sched_yield();
  return 0;
}

Result<uint64_t> Sys_arch_prctl(kernel::Task& t, const Args& a) {
  auto& regs = t.state().regs;
  switch (ArgInt(a[0])) {
    case ARCH_SET_FS:
      if (a[1] >= arch::kTaskSize) return Err(EPERM);
      regs.fs_base = a[1];
      regs.fs = 0;
      return 0;
    case ARCH_SET_GS:
      if (a[1] >= arch::kTaskSize) return Err(EPERM);
      regs.gs_base = a[1];
      regs.gs = 0;
      return 0;
    case ARCH_GET_FS:
      TRY(t.mm().CopyOutObject(UserAddr(a[1]), static_cast<uint64_t>(regs.fs_base)));
      return 0;
    case ARCH_GET_GS:
      TRY(t.mm().CopyOutObject(UserAddr(a[1]), static_cast<uint64_t>(regs.gs_base)));
      return 0;
    case ARCH_GET_CPUID:
      return 1;  // cpuid executes normally
    case ARCH_SET_CPUID:
      return Err(ENODEV);  // no CPUID faulting: what Linux says on hardware without it
    default:
      return Err(EINVAL);
  }
}

Result<uint64_t> Sys_uname(kernel::Task& t, const Args& a) {
  struct utsname u;
  std::memset(&u, 0, sizeof(u));
  auto set = [](char* field, std::string_view v) {
    std::memcpy(field, v.data(), std::min<size_t>(v.size(), _UTSNAME_LENGTH - 1));
  };
  set(u.sysname, "Linux");
  set(u.nodename, t.kernel().options().hostname);
  set(u.release, "6.1.0");
  set(u.version, "#1 SMP PREEMPT_DYNAMIC sandbox");
  set(u.machine, "x86_64");
  set(u.domainname, "(none)");
  TRY(t.mm().CopyOutObject(UserAddr(a[0]), u));
  return 0;
}

Result<kernel::Rlimit> CopyInRlimit(kernel::Task& t, uint64_t addr) {
  struct rlimit r = TRY(t.mm().CopyInObject<struct rlimit>(UserAddr(addr)));
  return kernel::Rlimit{r.rlim_cur, r.rlim_max};
}

Result<void> CopyOutRlimit(kernel::Task& t, uint64_t addr, const kernel::Rlimit& r) {
  struct rlimit out {
    r.cur, r.max
  };
  return t.mm().CopyOutObject(UserAddr(addr), out);
}

// The core of prlimit64/getrlimit/setrlimit for the calling process.
Result<void> DoPrlimit(kernel::Task& t, int resource, std::optional<kernel::Rlimit> new_limit,
                       uint64_t old_addr) {
  if (resource < 0 || resource >= RLIM_NLIMITS) return Err(EINVAL);
  if (new_limit) {
    if (new_limit->cur > new_limit->max) return Err(EINVAL);
    if (resource == RLIMIT_NOFILE && new_limit->max > kernel::kNrOpen) return Err(EPERM);
  }
  kernel::Rlimit old;
  {
    std::lock_guard lock(t.thread_group().mu());
    old = t.thread_group().limits().Get(resource);
    // Raising the hard limit needs CAP_SYS_RESOURCE, which the sandbox's root has.
    if (new_limit && new_limit->max > old.max && !t.creds().HasCapability(CAP_SYS_RESOURCE))
      return Err(EPERM);
    if (new_limit) t.thread_group().limits().Set(resource, *new_limit);
  }
  if (old_addr != 0) TRY(CopyOutRlimit(t, old_addr, old));
  return {};
}

Result<uint64_t> Sys_prlimit64(kernel::Task& t, const Args& a) {
  pid_t pid = ArgInt(a[0]);
  if (pid != 0 && pid != t.thread_group().tgid()) return Err(ESRCH);
  std::optional<kernel::Rlimit> new_limit;
  if (a[2] != 0) new_limit = TRY(CopyInRlimit(t, a[2]));
  TRY(DoPrlimit(t, ArgInt(a[1]), new_limit, a[3]));
  return 0;
}

Result<uint64_t> Sys_getrlimit(kernel::Task& t, const Args& a) {
  int resource = ArgInt(a[0]);
  if (resource < 0 || resource >= RLIM_NLIMITS) return Err(EINVAL);
  if (a[1] == 0) return Err(EFAULT);
  TRY(DoPrlimit(t, resource, std::nullopt, a[1]));
  return 0;
}

Result<uint64_t> Sys_setrlimit(kernel::Task& t, const Args& a) {
  int resource = ArgInt(a[0]);
  if (resource < 0 || resource >= RLIM_NLIMITS) return Err(EINVAL);
  kernel::Rlimit r = TRY(CopyInRlimit(t, a[1]));
  TRY(DoPrlimit(t, resource, r, 0));
  return 0;
}

Result<uint64_t> Sys_getrandom(kernel::Task& t, const Args& a) {
  unsigned flags = static_cast<unsigned>(a[2]);
  if (flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE)) return Err(EINVAL);
  if ((flags & GRND_INSECURE) && (flags & GRND_RANDOM)) return Err(EINVAL);
  // Linux returns at most 32 MiB - 1 per call.
  uint64_t len = std::min<uint64_t>(a[1], (1 << 25) - 1);
  if (len == 0) return 0;
  mm::FileStores stores;  // goes after the stores below: see FileStores
  auto views = TRY(t.mm().Translate(UserAddr(a[0]), len, platform::kAccessWrite, 1024, &stores));
  uint64_t done = 0;
  for (const iovec& v : views) {
    uint64_t filled = 0;
    while (filled < v.iov_len) {
      ssize_t n = getrandom(static_cast<char*>(v.iov_base) + filled, v.iov_len - filled, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return done + filled > 0 ? Result<uint64_t>(done + filled) : Err(errno);
      filled += static_cast<uint64_t>(n);
    }
    done += filled;
  }
  return done;
}

}  // namespace

void RegisterTaskSyscalls(SyscallTable& t) {
  t.handlers[SYS_exit] = Sys_exit;
  t.handlers[SYS_exit_group] = Sys_exit_group;
  t.handlers[SYS_getpid] = Sys_getpid;
  t.handlers[SYS_gettid] = Sys_gettid;
  t.handlers[SYS_getppid] = Sys_getppid;
  t.handlers[SYS_getuid] = Sys_getuid;
  t.handlers[SYS_geteuid] = Sys_geteuid;
  t.handlers[SYS_getgid] = Sys_getgid;
  t.handlers[SYS_getegid] = Sys_getegid;
  t.handlers[SYS_set_tid_address] = Sys_set_tid_address;
  t.quiet_enosys[SYS_rseq] = true;  // glibc falls back cleanly; gVisor does the same
  t.handlers[SYS_sched_yield] = Sys_sched_yield;
  t.handlers[SYS_arch_prctl] = Sys_arch_prctl;
  t.handlers[SYS_uname] = Sys_uname;
  t.handlers[SYS_prlimit64] = Sys_prlimit64;
  t.handlers[SYS_getrlimit] = Sys_getrlimit;
  t.handlers[SYS_setrlimit] = Sys_setrlimit;
  t.handlers[SYS_getrandom] = Sys_getrandom;
}

}  // namespace sentry::syscalls
