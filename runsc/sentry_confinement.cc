#include "runsc/sentry_confinement.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/falloc.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>
#include <malloc.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <limits>
#include <memory>
#include <vector>

#include "absl/base/internal/sysinfo.h"
#include "absl/strings/str_cat.h"
#include "platform/ptrace/ptrace_platform.h"

namespace runsc {
namespace {

// One row of the allow list: the syscall, the conditions on its arguments (all must hold; none
// means any arguments), and what the filter does. Several rows for one syscall are alternatives.
struct SyscallRule {
  int nr;
  std::vector<scmp_arg_cmp> when = {};
  uint32_t action = SCMP_ACT_ALLOW;
};

scmp_arg_cmp Eq(unsigned arg, uint64_t value) { return {arg, SCMP_CMP_EQ, value, 0}; }
scmp_arg_cmp MaskedEq(unsigned arg, uint64_t mask, uint64_t value) {
  return {arg, SCMP_CMP_MASKED_EQ, mask, value};
}

// The glibc 2.36 pthread_create flags (sysdeps/unix/sysv/linux/createthread.c).
constexpr uint64_t kThreadCloneFlags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SYSVSEM |
                                       CLONE_SIGHAND | CLONE_THREAD | CLONE_SETTLS |
                                       CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;

// Every host syscall the sentry makes after confinement. Found by reading the code and checked
// by tracing the sentry (strace -p, attached before it confines itself) through the conformance
// suite, the e2e programs and dynamic programs (ls, cat, find, grep, sed, awk, sh, python3),
// with and without --strace and --debug-log. Rows marked "threads" are for glibc's threads,
// which the sentry will run (one per task) but does not yet. The stubs inherit this filter at
// fork and stack their own (platform/ptrace/stub_seccomp.cc) on top, so what a stub does before
// and after installing its own filter must pass here too.
//
// When the sentry needs a new host syscall, add a row here: a missing one kills the sentry with
// SIGSYS ("runsc: the sentry died with signal 31"). To find the number, trace the sentry with
// `strace -p` (without -f: the stubs must stay free for the sentry to trace), attached before it
// confines itself; the kernel's audit lines in dmesg (type=1326 ... syscall=N, also what
// ConfinementOptions::log_only produces) are rate-limited by printk and can miss some.
std::vector<SyscallRule> SentryRules(int memory_fd) {
  std::vector<SyscallRule> rules = {
      // ---- Memory.
      {SCMP_SYS(brk)},  // malloc
      // malloc, thread stacks, the MemoryFile mapping: never executable...
      {SCMP_SYS(mmap), {MaskedEq(2, PROT_EXEC, 0)}},
      // ...except MemoryFile ranges: stubs map application code from it (MapFile).
      {SCMP_SYS(mmap), {Eq(4, static_cast<uint64_t>(memory_fd))}},
      // Thread stack guard pages, malloc heaps. Never PROT_EXEC: a stub that must change a
      // mapping to executable re-maps it from the MemoryFile (as MProtect does today).
      {SCMP_SYS(mprotect), {MaskedEq(2, PROT_EXEC, 0)}},
      {SCMP_SYS(munmap)},   // free, Unmap in stubs, the stub code's own clean-up
      {SCMP_SYS(mremap)},   // realloc of large blocks; keeps the protection it had
      {SCMP_SYS(madvise)},  // free and thread exit give memory back
      // MemoryFile::Decommit, and nothing else: no hole punched in a host file.
      {SCMP_SYS(fallocate),
       {Eq(0, static_cast<uint64_t>(memory_fd)),
        Eq(1, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)}},

      // ---- Threads, processes, synchronisation.
      {SCMP_SYS(futex)},                              // absl::Mutex, glibc locks, thread join
      {SCMP_SYS(clone), {Eq(0, SIGCHLD)}},            // a stub: a plain fork (StubProcess::Create)
      {SCMP_SYS(clone), {Eq(0, kThreadCloneFlags)}},  // threads: pthread_create
      // A stub thread for another task in the same address space, parked in pause(2).
      {SCMP_SYS(clone), {Eq(0, platform::ptrace::kStubThreadCloneFlags)}},
      {SCMP_SYS(pause)},
      // clone3's flags sit in memory, out of a filter's sight: ENOSYS makes glibc use clone.
      {SCMP_SYS(clone3), {}, SCMP_ACT_ERRNO(ENOSYS)},
      {SCMP_SYS(set_robust_list)},  // threads: glibc, in every new one
      {SCMP_SYS(rseq)},             // glibc registers it per thread; a stub unregisters it
      {SCMP_SYS(exit)},             // threads: one ends
      {SCMP_SYS(exit_group)},
      {SCMP_SYS(getpid)},             // glibc raise, spdlog
      {SCMP_SYS(gettid)},             // spdlog, the tracer check in the ptrace platform
      {SCMP_SYS(getppid)},            // a new stub checks that its parent is still the sentry
      {SCMP_SYS(sched_yield)},        // absl spin loops, sched_yield(2) for the application
      {SCMP_SYS(sched_setaffinity)},  // pinning a context's thread and stub to one CPU
      {SCMP_SYS(sched_getaffinity)},  // the CPUs a context may pin to
      {SCMP_SYS(sched_getparam)},     // pthread_create, for a forked task's host thread
      {SCMP_SYS(sched_getscheduler)},
      {SCMP_SYS(getcpu)},           // sched_getcpu without the vDSO; see also the clocks below
      {SCMP_SYS(membarrier)},       // MEMBARRIER_CMD_GLOBAL serves the application's membarrier
      {SCMP_SYS(restart_syscall)},  // the kernel resuming an interrupted sleep

      // ---- Signals.
      {SCMP_SYS(rt_sigaction)},
      {SCMP_SYS(rt_sigprocmask)},  // glibc (thread start, abort); a stub unblocks everything
      {SCMP_SYS(rt_sigreturn)},
      // SIGKILL for stubs, SIGCHLD to interrupt one, SIGABRT from abort(). The PID namespace
      // holds only the sentry and its stubs: there is nothing else to signal.
      {SCMP_SYS(kill)},
      {SCMP_SYS(tgkill)},
      {SCMP_SYS(wait4)},  // stub stops and exits (waitpid)

      // ---- ptrace: only register access and resumption of the sentry's own stubs, which are
      // the only processes it can see. No ATTACH and no PEEK/POKEDATA (application memory goes
      // through the sentry's mapping: invariant 4).
      {SCMP_SYS(ptrace), {Eq(0, PTRACE_TRACEME)}},  // a new stub, before it installs its filter
      {SCMP_SYS(ptrace), {Eq(0, PTRACE_SETOPTIONS)}},
      {SCMP_SYS(ptrace), {Eq(0, PTRACE_GETREGS)}},
      {SCMP_SYS(ptrace), {Eq(0, PTRACE_SETREGS)}},
      {SCMP_SYS(ptrace), {Eq(0, PTRACE_GETFPREGS)}},  // signal frames, fork (soon)
      {SCMP_SYS(ptrace), {Eq(0, PTRACE_SETFPREGS)}},
      {SCMP_SYS(ptrace), {Eq(0, PTRACE_GETREGSET)}},  // the xsave area (soon)
      {SCMP_SYS(ptrace), {Eq(0, PTRACE_SETREGSET)}},
      {SCMP_SYS(ptrace), {Eq(0, PTRACE_GETSIGINFO)}},
      {SCMP_SYS(ptrace), {Eq(0, PTRACE_CONT)}},
      {SCMP_SYS(ptrace), {Eq(0, PTRACE_SYSEMU)}},
      // A task's host thread takes a parked thread of its address space's stub, and gives it
      // back when the task leaves (exit, execve). Only the sentry's own stubs are visible.
      {SCMP_SYS(ptrace), {Eq(0, PTRACE_SEIZE)}},
      {SCMP_SYS(ptrace), {Eq(0, PTRACE_INTERRUPT)}},
      {SCMP_SYS(ptrace), {Eq(0, PTRACE_DETACH)}},

      // ---- Files: only the fds the sentry holds (stdio, the log, the MemoryFile, the gofer's
      // socket and the files the gofer donates). Nothing here takes a path.
      {SCMP_SYS(read)},
      {SCMP_SYS(write)},
      {SCMP_SYS(readv)},
      {SCMP_SYS(writev)},
      {SCMP_SYS(pread64)},
      {SCMP_SYS(pwrite64)},
      {SCMP_SYS(preadv)},  // HostFile, gofer files
      {SCMP_SYS(pwritev)},
      {SCMP_SYS(preadv2)},
      {SCMP_SYS(pwritev2)},
      {SCMP_SYS(lseek)},
      {SCMP_SYS(close)},
      {SCMP_SYS(ftruncate)},  // gofer files
      {SCMP_SYS(fsync)},
      {SCMP_SYS(fdatasync)},
      // glibc's fstat: newfstatat(fd, "", buf, AT_EMPTY_PATH), the path ignored.
      {SCMP_SYS(newfstatat), {Eq(3, AT_EMPTY_PATH)}},
      {SCMP_SYS(fcntl), {Eq(1, F_GETFL)}},  // HostFile::Create
      {SCMP_SYS(ioctl), {Eq(1, TCGETS)}},   // HostFile::Ioctl on a terminal; isatty
      {SCMP_SYS(ioctl), {Eq(1, TIOCGWINSZ)}},
      {SCMP_SYS(ioctl), {Eq(1, FIONREAD)}},
      {SCMP_SYS(close_range)},  // a new stub closes the sentry's fds
      // Waiting for files (vfs::Waiter): a task's host thread sleeps in ppoll on its own eventfd
      // (woken by wait queues and its interrupter) plus the host fds of the files it waits
      // for (host stdio, timerfds); a zero-timeout ppoll asks a host fd's readiness.
      {SCMP_SYS(eventfd2)},
      {SCMP_SYS(ppoll)},
      // timerfd_create(2) for the application: each sandbox timerfd is a host timerfd on the
      // same clock, so that its expiry wakes a waiter with no timer thread in the sentry.
      {SCMP_SYS(timerfd_create)},
      {SCMP_SYS(timerfd_settime)},
      {SCMP_SYS(timerfd_gettime)},
      {SCMP_SYS(sendmsg)},  // gofer requests (the gofer socket, donated by runsc)
      {SCMP_SYS(recvmsg)},  // gofer replies, with the fds it donates; control requests
      // The control channel (sentry/control): connections on the listening socket runsc bound
      // before the sentry started; sendmsg/recvmsg above carry the messages.
      {SCMP_SYS(accept4)},

      // ---- Time. Usually the vDSO; the syscalls for CPU clocks of other processes (a stub's,
      // AppCpuTimeNs) and where the vDSO is not used. gettimeofday, time and getcpu must stay
      // allowed here: a stub's own filter turns them into SIGSYS (the vsyscall page), and a
      // kill here would win over that trap.
      {SCMP_SYS(clock_gettime)},
      {SCMP_SYS(clock_getres)},
      {SCMP_SYS(gettimeofday)},
      {SCMP_SYS(time)},
      {SCMP_SYS(clock_nanosleep)},  // nanosleep(2) for the application (glibc's nanosleep too)

      // ---- Miscellaneous.
      {SCMP_SYS(getrandom)},  // AT_RANDOM, getrandom(2) for the application
      // Reading the host's own limits (Limits::Defaults), never setting them.
      {SCMP_SYS(prlimit64), {Eq(0, 0), Eq(2, 0)}},  // glibc's getrlimit
      // A new stub: dies with the sentry, then installs its own filter (which can only
      // restrict further).
      {SCMP_SYS(prctl), {Eq(0, PR_SET_PDEATHSIG)}},
      {SCMP_SYS(prctl), {Eq(0, PR_SET_NO_NEW_PRIVS)}},
      {SCMP_SYS(seccomp), {Eq(0, SECCOMP_SET_MODE_FILTER)}},
  };
  return rules;
}

using ScmpContext = std::unique_ptr<void, decltype(&seccomp_release)>;

absl::Status ScmpError(int rc, absl::string_view what) {
  return absl::ErrnoToStatus(-rc, absl::StrCat("libseccomp: ", what));
}

// Reads now what glibc and abseil would otherwise read from a path the first time they need it,
// when the sentry can no longer open anything.
void ReadLazilyLoadedFiles() {
  tzset();                         // /etc/localtime, for spdlog's timestamps (localtime_r)
  absl::base_internal::NumCPUs();  // /sys/devices/system/cpu/online, for absl::Mutex spinning
  // glibc's malloc opens /proc/sys/vm/overcommit_memory the first time a thread's heap shrinks
  // (heap_trim -> shrink_heap), which the filter punishes with SIGSYS: stress-ng's timer
  // stressor hit it when a task thread freed a burst of signal records. A trim threshold no
  // heap reaches means heaps never shrink (freed memory stays for reuse; whole heaps and
  // mmapped chunks still go back to the host).
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
  // And it asks for the CPU count (sched_getaffinity, else /sys/devices/system/cpu/online) the
  // first time a ninth thread wants an arena of its own; glibc's own limit, given up front.
  mallopt(M_ARENA_MAX, 8 * absl::base_internal::NumCPUs());
}

absl::Status CheckSingleThreaded() {
  std::error_code ec;
  int threads = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/task", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++threads;
  }
  if (ec) return absl::InternalError(absl::StrCat("listing /proc/self/task: ", ec.message()));
  if (threads != 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the sentry must be single-threaded to confine itself; it has ", threads, " threads"));
  }
  return absl::OkStatus();
}

// Makes an empty, read-only tmpfs the root, in a mount namespace of our own.
absl::Status EnterEmptyRoot() {
  // Usually runsc has already given us a mount namespace; a new one makes sure that nothing
  // below ever changes the host's, whoever started us.
  if (unshare(CLONE_NEWNS) != 0) return absl::ErrnoToStatus(errno, "unshare(CLONE_NEWNS)");
  // No mount event may propagate from here to the namespace we came from, or back.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return absl::ErrnoToStatus(errno, "making / private");
  }
  // Any existing directory will do as the mount point: the mount is only ever seen by us.
  const char* dir = nullptr;
  struct stat st;
  for (const char* candidate : {"/tmp", "/proc", "/dev", "/"}) {
    if (stat(candidate, &st) == 0 && S_ISDIR(st.st_mode)) {
      dir = candidate;
      break;
    }
  }
  if (mount("sentry-root", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
            "size=4k,nr_inodes=16,mode=0555") != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("mounting a tmpfs on ", dir));
  }
  if (chdir(dir) != 0) return absl::ErrnoToStatus(errno, absl::StrCat("chdir ", dir));
  // pivot_root(".", ".") stacks the old root on top of the new one; detaching it takes every
  // host mount with it. Some roots (an initramfs) refuse pivot_root: then chroot, which hides
  // the host tree as well, since the sentry will neither chroot again nor open a path.
  if (syscall(SYS_pivot_root, ".", ".") == 0) {
    if (umount2(".", MNT_DETACH) != 0) return absl::ErrnoToStatus(errno, "detaching the old root");
  } else if (chroot(".") != 0) {
    return absl::ErrnoToStatus(errno, "pivot_root and chroot into the empty root");
  }
  if (chdir("/") != 0) return absl::ErrnoToStatus(errno, "chdir /");
  if (mount(nullptr, "/", nullptr,
            MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    return absl::ErrnoToStatus(errno, "making the empty root read-only");
  }
  return absl::OkStatus();
}

absl::Status DropCapabilities() {
  // While we still hold CAP_SETPCAP: uid 0 shall never mean capabilities again (execve is
  // forbidden anyway), and nothing can undo that.
  if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                                   SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                                   SECBIT_NO_CAP_AMBIENT_RAISE |
                                   SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED) != 0) {
    return absl::ErrnoToStatus(errno, "PR_SET_SECUREBITS");
  }
  for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; ++cap) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("PR_CAPBSET_DROP ", cap));
    }
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
    return absl::ErrnoToStatus(errno, "PR_CAP_AMBIENT_CLEAR_ALL");
  }
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capset, &header, data) != 0) return absl::ErrnoToStatus(errno, "capset");
  return absl::OkStatus();
}

absl::Status InstallFilter(const ConfinementOptions& options) {
  ScmpContext ctx(seccomp_init(options.log_only ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS),
                  seccomp_release);
  if (!ctx) return absl::InternalError("seccomp_init failed");
  // A syscall through another ABI (int 0x80, x32) is as unknown as any other.
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) {
    return ScmpError(rc, "bad-arch action");
  }
  // Every thread, should there be any, gets the filter at once.
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_TSYNC, 1)) return ScmpError(rc, "tsync");
  for (const SyscallRule& r : SentryRules(options.memory_fd)) {
    int rc = seccomp_rule_add_exact_array(ctx.get(), r.action, r.nr,
                                          static_cast<unsigned>(r.when.size()), r.when.data());
    if (rc != 0) {
      char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, r.nr);
      std::string what = absl::StrCat("rule for ", name ? name : "?");
      free(name);
      return ScmpError(rc, what);
    }
  }
  if (int rc = seccomp_load(ctx.get())) return ScmpError(rc, "loading the filter");
  return absl::OkStatus();
}

}  // namespace

absl::Status ConfineSentry(const ConfinementOptions& options) {
  if (options.memory_fd < 0) return absl::InvalidArgumentError("no memory file fd");
  if (auto s = CheckSingleThreaded(); !s.ok()) return s;
  ReadLazilyLoadedFiles();
  if (auto s = EnterEmptyRoot(); !s.ok()) return s;
  if (auto s = DropCapabilities(); !s.ok()) return s;
  // The filter can be installed without CAP_SYS_ADMIN only this way; it also means no execve
  // could ever give privileges back.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return absl::ErrnoToStatus(errno, "PR_SET_NO_NEW_PRIVS");
  }
  return InstallFilter(options);
}

}  // namespace runsc
