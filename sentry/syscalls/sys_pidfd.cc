// pidfd_open, pidfd_send_signal, pidfd_getfd: files that name processes (sentry/kernel/pidfd.h).
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/pidfd.h"
#include "sentry/kernel/task.h"
#include "sentry/syscalls/path_util.h"
#include "sentry/syscalls/table.h"

namespace sentry::syscalls {
namespace {

constexpr int kPidfdNonblock = O_NONBLOCK;
constexpr int kCapSysPtrace = 19;

Result<std::shared_ptr<kernel::PidFdFile>> GetPidFd(kernel::Task& t, int fd) {
  auto file = TRY(t.fds().Get(fd));
  auto pidfd = std::dynamic_pointer_cast<kernel::PidFdFile>(file);
  if (!pidfd) return Err(EBADF);
  return pidfd;
}

Result<uint64_t> Sys_pidfd_open(kernel::Task& t, const Args& a) {
  pid_t pid = ArgInt(a[0]);
  unsigned flags = static_cast<unsigned>(a[1]);
  // PIDFD_THREAD (Linux 6.9: a pidfd for one thread) is not served; EINVAL as before 6.9.
  if (flags & ~static_cast<unsigned>(kPidfdNonblock)) {
    if (flags == (flags & (kPidfdNonblock | O_EXCL))) t.kernel().ReportUnsupported(SYS_pidfd_open);
    return Err(EINVAL);
  }
  if (pid <= 0) return Err(EINVAL);
  auto process = t.kernel().FindUnreaped(pid);
  if (!process) {
    // A thread that is not its process's leader has no pidfd of the process kind.
    return Err(t.kernel().FindTask(pid) ? EINVAL : ESRCH);
  }
  auto file = std::make_shared<kernel::PidFdFile>(std::move(process), static_cast<int>(flags));
  return TRY(t.fds().Install(std::move(file), /*cloexec=*/true, 0, FdLimit(t)));
}

Result<uint64_t> Sys_pidfd_send_signal(kernel::Task& t, const Args& a) {
  int sig = ArgInt(a[1]);
  // PIDFD_SIGNAL_THREAD and friends (Linux 6.9) are not served: EINVAL, as before them.
  if (a[3] != 0) return Err(EINVAL);
  auto pidfd = TRY(GetPidFd(t, ArgInt(a[0])));
  if (sig < 0 || sig > kernel::kNumSignals) return Err(EINVAL);
  kernel::ThreadGroup& target = pidfd->process();
  siginfo_t info{};
  if (a[2] != 0) {
    info = TRY(t.mm().CopyInObject<siginfo_t>(UserAddr(a[2])));
    if (info.si_signo != sig) return Err(EINVAL);
    // Only the kernel may claim kernel or kill() origins, except towards oneself.
    if ((info.si_code >= 0 || info.si_code == SI_TKILL) && &target != &t.thread_group()) {
      return Err(EPERM);
    }
  } else {
    info.si_signo = sig;
    info.si_code = SI_USER;
    info.si_pid = t.thread_group().tgid();
    info.si_uid = t.creds().ruid;
  }
  TRY(t.kernel().SignalProcessFrom(t, target, info));
  return 0;
}

Result<uint64_t> Sys_pidfd_getfd(kernel::Task& t, const Args& a) {
  if (a[2] != 0) return Err(EINVAL);
  auto pidfd = TRY(GetPidFd(t, ArgInt(a[0])));
  int target_fd = ArgInt(a[1]);
  kernel::ThreadGroup& process = pidfd->process();
  if (process.exited()) return Err(ESRCH);
  auto leader = t.kernel().FindTask(process.tgid());
  if (!leader || &leader->thread_group() != &process || leader->exiting()) return Err(ESRCH);
  // ptrace's PTRACE_MODE_ATTACH_REALCREDS: the same uids (real, effective and saved all the
  // caller's real uid), or CAP_SYS_PTRACE; another process that is not dumpable needs the
  // capability too.
  if (&process != &t.thread_group()) {
    const kernel::Credentials& me = t.creds();
    const kernel::Credentials& them = leader->creds();
    bool same = me.ruid == them.ruid && me.ruid == them.euid && me.ruid == them.suid &&
                me.rgid == them.rgid && me.rgid == them.egid && me.rgid == them.sgid;
    bool cap = me.cap_effective & (uint64_t{1} << kCapSysPtrace);
    if ((!same || process.dumpable() != 1) && !cap) return Err(EPERM);
  }
  auto table = leader->fds_ptr();
  if (!table) return Err(ESRCH);
  auto file = TRY(table->Get(target_fd));
  return TRY(t.fds().Install(std::move(file), /*cloexec=*/true, 0, FdLimit(t)));
}

}  // namespace

void RegisterPidfdSyscalls(SyscallTable& t) {
  t.handlers[SYS_pidfd_open] = Sys_pidfd_open;
  t.handlers[SYS_pidfd_send_signal] = Sys_pidfd_send_signal;
  t.handlers[SYS_pidfd_getfd] = Sys_pidfd_getfd;
}

}  // namespace sentry::syscalls
