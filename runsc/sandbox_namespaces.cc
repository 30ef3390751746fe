#include "runsc/sandbox_namespaces.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "sentry/base/file_descriptor.h"

namespace runsc {
namespace {

// What runsc forwards to the sentry (runsc/cmd_do.cc) and what a terminal sends it.
constexpr int kInitSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

sigset_t InitSignalSet() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kInitSignals) sigaddset(&set, sig);
  return set;
}

absl::Status WriteProcFile(pid_t pid, absl::string_view name, absl::string_view content) {
  std::string path = absl::StrCat("/proc/", pid, "/", name);
  sentry::FileDescriptor fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  // The id map files take their whole content in one write.
  ssize_t n = write(fd.get(), content.data(), content.size());
  if (n != static_cast<ssize_t>(content.size())) {
    return absl::ErrnoToStatus(n < 0 ? errno : EIO, absl::StrCat("write ", path));
  }
  return absl::OkStatus();
}

// Maps the caller's euid and egid to root in the child's user namespace, and nothing else. The
// sentry needs root there (with its capabilities) only to build its empty root; on the host it
// stays the caller's uid, which after confinement reaches nothing: its PID namespace hides every
// host process and its seccomp filter forbids opening paths.
absl::Status WriteIdMaps(pid_t pid, uid_t uid, gid_t gid) {
  // Denying setgroups is what lets an unprivileged caller write gid_map; it also keeps the
  // sentry from dropping supplementary groups to get at files a group is denied.
  if (auto s = WriteProcFile(pid, "setgroups", "deny"); !s.ok()) return s;
  if (auto s = WriteProcFile(pid, "uid_map", absl::StrCat("0 ", uid, " 1\n")); !s.ok()) return s;
  return WriteProcFile(pid, "gid_map", absl::StrCat("0 ", gid, " 1\n"));
}

// Runs in the child of the raw clone: async-signal-safe calls only.
[[noreturn]] void ChildMain(sentry::FileDescriptor ready_read, sentry::FileDescriptor ready_write,
                            absl::FunctionRef<void()> child) {
  // The sandbox must not outlive runsc, whatever kills it. In a new PID namespace getppid()
  // is 0, so the usual "did the parent already die?" check is the pipe below instead: EOF
  // without the go-ahead byte means the parent is gone (or failed to write our id maps).
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  ready_write.Reset();
  char go = 0;
  ssize_t n;
  do {
    n = read(ready_read.get(), &go, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1) _exit(125);
  ready_read.Reset();
  child();
  _exit(125);
}

}  // namespace

absl::StatusOr<pid_t> StartInSandboxNamespaces(const SandboxNamespaces& namespaces,
                                               absl::FunctionRef<void()> child) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe2");
  sentry::FileDescriptor ready_read(fds[0]), ready_write(fds[1]);

  uint64_t flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
  if (namespaces.new_network) flags |= CLONE_NEWNET;
  uid_t uid = geteuid();
  gid_t gid = getegid();

  // The child starts with the init signals blocked, so that one sent before the sentry has
  // its handlers stays pending instead of being dropped (its default action does nothing to a
  // namespace's init). The caller gets its own mask back right after the clone.
  sigset_t block = InitSignalSet(), old_mask;
  pthread_sigmask(SIG_BLOCK, &block, &old_mask);
  // A raw clone rather than fork(): fork() has no way to ask for new namespaces. Without
  // CLONE_VM the child is a copy of this process, as after fork().
  long pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) ChildMain(std::move(ready_read), std::move(ready_write), child);
  int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  if (pid < 0) return absl::ErrnoToStatus(clone_errno, "clone with new namespaces");

  ready_read.Reset();
  absl::Status status = WriteIdMaps(static_cast<pid_t>(pid), uid, gid);
  if (status.ok() && write(ready_write.get(), "g", 1) != 1) {
    status = absl::ErrnoToStatus(errno, "starting the sandbox");
  }
  if (!status.ok()) {
    // Closing the pipe (on return) would end the child too; kill it outright and reap it.
    kill(static_cast<pid_t>(pid), SIGKILL);
    waitpid(static_cast<pid_t>(pid), nullptr, 0);
    return status;
  }
  return static_cast<pid_t>(pid);
}

namespace {

void ExitForSignal(int sig) {
  // Exiting ends the sentry's PID namespace: the kernel kills every stub in it.
  _exit(128 + sig);
}

}  // namespace

void InstallInitSignalHandlers() {
  struct sigaction sa = {};
  sa.sa_handler = ExitForSignal;
  sigfillset(&sa.sa_mask);
  for (int sig : kInitSignals) sigaction(sig, &sa, nullptr);
  // A write to a broken host pipe (an exec'd process's stdout that its reader closed, or
  // `runsc do yes | head`) is EPIPE for the task, which gets SIGPIPE inside the sandbox; the
  // sentry itself, serving every process of the container, must not die of it.
  signal(SIGPIPE, SIG_IGN);
  sigset_t set = InitSignalSet();
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

}  // namespace runsc
