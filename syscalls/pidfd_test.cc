// pidfds: pidfd_open, CLONE_PIDFD, readiness when the process ends, pidfd_send_signal,
// waitid(P_PIDFD) and pidfd_getfd.
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "syscalls/test_util.h"

namespace {

using conformance::Fd;
using conformance::Pipe;

constexpr unsigned kPidfdNonblock = O_NONBLOCK;
void* const kBadAddr = reinterpret_cast<void*>(8);

long PidfdOpen(pid_t pid, unsigned flags) { return syscall(SYS_pidfd_open, pid, flags); }
long PidfdSendSignal(int fd, int sig, siginfo_t* info, unsigned flags) {
  return syscall(SYS_pidfd_send_signal, fd, sig, info, flags);
}
long PidfdGetfd(int pidfd, int fd, unsigned flags) {
  return syscall(SYS_pidfd_getfd, pidfd, fd, flags);
}

pid_t Spawn(const std::function<int()>& body) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  return pid;
}

// A child that exits with 0 once `gate`'s write end is closed everywhere.
pid_t SpawnGated(const Pipe& gate) {
  return Spawn([&gate] {
    close(gate.w());
    char c;
    (void)read(gate.r(), &c, 1);
    return 0;
  });
}

bool Readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

TEST(Pidfd, OpenSelfIsCloexec) {
  Fd fd(PidfdOpen(getpid(), 0));
  ASSERT_TRUE(fd.ok()) << conformance::ErrnoName(errno);
  EXPECT_EQ(fcntl(fd.get(), F_GETFD), FD_CLOEXEC);
  EXPECT_EQ(fcntl(fd.get(), F_GETFL) & O_NONBLOCK, 0);
  Fd nb(PidfdOpen(getpid(), kPidfdNonblock));
  ASSERT_TRUE(nb.ok());
  EXPECT_NE(fcntl(nb.get(), F_GETFL) & O_NONBLOCK, 0);
}

std::string FdInfo(int fd) {
  Fd f(open(("/proc/self/fdinfo/" + std::to_string(fd)).c_str(), O_RDONLY));
  std::string text;
  char buf[512];
  ssize_t n;
  while (f.ok() && (n = read(f.get(), buf, sizeof(buf))) > 0) text.append(buf, n);
  return text;
}

TEST(Pidfd, FdinfoShowsThePid) {
  pid_t pid = Spawn([] { return 0; });
  ASSERT_GT(pid, 0);
  Fd fd(PidfdOpen(pid, 0));
  ASSERT_TRUE(fd.ok());
  EXPECT_NE(FdInfo(fd.get()).find("\nPid:\t" + std::to_string(pid) + "\n"), std::string::npos)
      << FdInfo(fd.get());
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_NE(FdInfo(fd.get()).find("\nPid:\t-1\n"), std::string::npos) << FdInfo(fd.get());
}

TEST(Pidfd, OpenErrors) {
  EXPECT_SYSCALL_ERRNO(EINVAL, PidfdOpen(getpid(), 1));
  EXPECT_SYSCALL_ERRNO(EINVAL, PidfdOpen(0, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, PidfdOpen(-1, 0));
  // A reaped child's id names nothing.
  pid_t pid = Spawn([] { return 0; });
  ASSERT_GT(pid, 0);
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_SYSCALL_ERRNO(ESRCH, PidfdOpen(pid, 0));
}

TEST(Pidfd, OpenOfANonLeaderThreadIsEinval) {
  struct Shared {
    pid_t tid = 0;
    Pipe done;
  } shared;
  ASSERT_TRUE(shared.done.ok());
  Pipe ready;
  ASSERT_TRUE(ready.ok());
  static int ready_w;
  ready_w = ready.w();
  pthread_t th;
  ASSERT_EQ(pthread_create(
                &th, nullptr,
                [](void* arg) -> void* {
                  auto* s = static_cast<Shared*>(arg);
                  s->tid = static_cast<pid_t>(syscall(SYS_gettid));
                  write(ready_w, "r", 1);
                  char c;
                  (void)read(s->done.r(), &c, 1);
                  return nullptr;
                },
                &shared),
            0);
  char c;
  ASSERT_EQ(read(ready.r(), &c, 1), 1);
  // Not a process: EINVAL on the Linux the sandbox reports (6.1); recent kernels (6.18) say
  // ENOENT.
  errno = 0;
  EXPECT_EQ(PidfdOpen(shared.tid, 0), -1);
  EXPECT_TRUE(errno == EINVAL || errno == ENOENT) << conformance::ErrnoName(errno);
  ASSERT_EQ(write(shared.done.w(), "d", 1), 1);
  pthread_join(th, nullptr);
}

TEST(Pidfd, ReadableOnceTheProcessEnds) {
  Pipe gate;
  ASSERT_TRUE(gate.ok());
  pid_t pid = SpawnGated(gate);
  ASSERT_GT(pid, 0);
  Fd fd(PidfdOpen(pid, 0));
  ASSERT_TRUE(fd.ok());
  EXPECT_FALSE(Readable(fd.get(), 0));
  Fd ep(epoll_create1(EPOLL_CLOEXEC));
  ASSERT_TRUE(ep.ok());
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 77;
  ASSERT_SYSCALL_OK(epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd.get(), &ev));
  epoll_event out{};
  EXPECT_EQ(epoll_wait(ep.get(), &out, 1, 0), 0);
  gate.CloseWrite();
  // Both wake up for the end, before it is reaped.
  EXPECT_TRUE(Readable(fd.get(), 30000));
  ASSERT_EQ(epoll_wait(ep.get(), &out, 1, 30000), 1);
  EXPECT_EQ(out.data.u64, 77u);
  EXPECT_TRUE(out.events & EPOLLIN);
  pollfd p{fd.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 0), 1);
  EXPECT_EQ(p.revents, POLLIN);
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  // Reaped: it hangs up as well.
  p.revents = 0;
  ASSERT_EQ(poll(&p, 1, 0), 1);
  EXPECT_EQ(p.revents, POLLIN | POLLHUP);
}

TEST(Pidfd, SendSignal) {
  Pipe gate;
  ASSERT_TRUE(gate.ok());
  pid_t pid = SpawnGated(gate);
  ASSERT_GT(pid, 0);
  Fd fd(PidfdOpen(pid, 0));
  ASSERT_TRUE(fd.ok());
  EXPECT_SYSCALL_OK(PidfdSendSignal(fd.get(), 0, nullptr, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, PidfdSendSignal(fd.get(), SIGTERM, nullptr, 1 << 20));
  EXPECT_SYSCALL_ERRNO(EINVAL, PidfdSendSignal(fd.get(), 65, nullptr, 0));
  EXPECT_SYSCALL_ERRNO(EFAULT,
                       PidfdSendSignal(fd.get(), SIGTERM, static_cast<siginfo_t*>(kBadAddr), 0));
  siginfo_t info{};
  info.si_signo = SIGUSR1;  // does not match
  info.si_code = SI_QUEUE;
  EXPECT_SYSCALL_ERRNO(EINVAL, PidfdSendSignal(fd.get(), SIGTERM, &info, 0));
  // Only the kernel (or kill) may claim SI_USER towards another process.
  info.si_signo = SIGTERM;
  info.si_code = SI_USER;
  EXPECT_SYSCALL_ERRNO(EPERM, PidfdSendSignal(fd.get(), SIGTERM, &info, 0));
  info.si_code = SI_QUEUE;
  ASSERT_SYSCALL_OK(PidfdSendSignal(fd.get(), SIGTERM, &info, 0));
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
  // Reaped: gone.
  EXPECT_SYSCALL_ERRNO(ESRCH, PidfdSendSignal(fd.get(), 0, nullptr, 0));
}

TEST(Pidfd, SendSignalToAZombieSucceeds) {
  pid_t pid = Spawn([] { return 0; });
  ASSERT_GT(pid, 0);
  Fd fd(PidfdOpen(pid, 0));
  ASSERT_TRUE(fd.ok());
  ASSERT_TRUE(Readable(fd.get(), 30000));
  EXPECT_SYSCALL_OK(PidfdSendSignal(fd.get(), SIGTERM, nullptr, 0));
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
}

TEST(Pidfd, SendSignalNeedsAPidfd) {
  Pipe p;
  ASSERT_TRUE(p.ok());
  EXPECT_SYSCALL_ERRNO(EBADF, PidfdSendSignal(p.r(), 0, nullptr, 0));
  EXPECT_SYSCALL_ERRNO(EBADF, PidfdSendSignal(1000000, 0, nullptr, 0));
}

TEST(Pidfd, SendSignalChecksPermission) {
  Fd self(PidfdOpen(getpid(), 0));
  ASSERT_TRUE(self.ok());
  int fd = self.get();
  // A child that gives up root may no longer signal this (root) process.
  int rc = conformance::InChild([fd] {
    if (setresuid(65534, 65534, 65534) != 0) return 10;
    if (PidfdSendSignal(fd, SIGUSR1, nullptr, 0) != -1) return 11;
    return errno == EPERM ? 0 : 12;
  });
  EXPECT_EQ(rc, 0);
}

TEST(Pidfd, WaitidOnAPidfd) {
  Pipe gate;
  ASSERT_TRUE(gate.ok());
  pid_t pid = SpawnGated(gate);
  ASSERT_GT(pid, 0);
  Fd fd(PidfdOpen(pid, 0));
  ASSERT_TRUE(fd.ok());
  Fd nb(PidfdOpen(pid, kPidfdNonblock));
  ASSERT_TRUE(nb.ok());
  siginfo_t info{};
  // A nonblocking pidfd: EAGAIN while the child runs (and WNOHANG still returns 0).
  EXPECT_SYSCALL_ERRNO(EAGAIN, waitid(P_PIDFD, nb.get(), &info, WEXITED));
  ASSERT_SYSCALL_OK(waitid(P_PIDFD, fd.get(), &info, WEXITED | WNOHANG));
  EXPECT_EQ(info.si_pid, 0);
  gate.CloseWrite();
  ASSERT_SYSCALL_OK(waitid(P_PIDFD, fd.get(), &info, WEXITED));
  EXPECT_EQ(info.si_pid, pid);
  EXPECT_EQ(info.si_code, CLD_EXITED);
  EXPECT_SYSCALL_ERRNO(ECHILD, waitid(P_PIDFD, fd.get(), &info, WEXITED));
}

TEST(Pidfd, WaitidOnThePidfdOfANonChildIsEchild) {
  Fd self(PidfdOpen(getpid(), 0));
  ASSERT_TRUE(self.ok());
  siginfo_t info{};
  EXPECT_SYSCALL_ERRNO(ECHILD, waitid(P_PIDFD, self.get(), &info, WEXITED | WNOHANG));
}

TEST(Pidfd, ClonePidfd) {
  int pidfd = -1;
  long pid = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &pidfd, 0, 0);
  if (pid == 0) _exit(3);
  ASSERT_GT(pid, 0);
  Fd fd(pidfd);
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(fcntl(fd.get(), F_GETFD), FD_CLOEXEC);
  siginfo_t info{};
  ASSERT_SYSCALL_OK(waitid(P_PIDFD, fd.get(), &info, WEXITED));
  EXPECT_EQ(info.si_pid, pid);
  EXPECT_EQ(info.si_status, 3);
}

TEST(Pidfd, ClonePidfdErrors) {
  int pidfd = -1;
  // clone() returns the pidfd where CLONE_PARENT_SETTID would write: not both.
  EXPECT_SYSCALL_ERRNO(
      EINVAL, syscall(SYS_clone, CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, 0, &pidfd, 0, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL,
                       syscall(SYS_clone, CLONE_PIDFD | CLONE_DETACHED | SIGCHLD, 0, &pidfd, 0, 0));
}

TEST(Pidfd, GetfdDuplicatesAnotherProcesssFd) {
  Pipe data, gate;
  ASSERT_TRUE(data.ok() && gate.ok());
  pid_t pid = SpawnGated(gate);
  ASSERT_GT(pid, 0);
  Fd fd(PidfdOpen(pid, 0));
  ASSERT_TRUE(fd.ok());
  EXPECT_SYSCALL_ERRNO(EINVAL, PidfdGetfd(fd.get(), data.w(), 1));
  EXPECT_SYSCALL_ERRNO(EBADF, PidfdGetfd(fd.get(), 100000, 0));
  EXPECT_SYSCALL_ERRNO(EBADF, PidfdGetfd(data.r(), data.w(), 0));
  // The child's copy of the pipe's write end.
  Fd dup(PidfdGetfd(fd.get(), data.w(), 0));
  ASSERT_TRUE(dup.ok()) << conformance::ErrnoName(errno);
  EXPECT_EQ(fcntl(dup.get(), F_GETFD), FD_CLOEXEC);
  ASSERT_EQ(write(dup.get(), "z", 1), 1);
  char c = 0;
  ASSERT_EQ(read(data.r(), &c, 1), 1);
  EXPECT_EQ(c, 'z');
  gate.CloseWrite();
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_SYSCALL_ERRNO(ESRCH, PidfdGetfd(fd.get(), data.w(), 0));
}

TEST(Pidfd, GetfdChecksPermission) {
  Pipe data;
  ASSERT_TRUE(data.ok());
  Fd self(PidfdOpen(getpid(), 0));
  ASSERT_TRUE(self.ok());
  int pidfd = self.get(), target = data.w();
  int rc = conformance::InChild([pidfd, target] {
    if (setresuid(65534, 65534, 65534) != 0) return 10;
    if (PidfdGetfd(pidfd, target, 0) != -1) return 11;
    return errno == EPERM ? 0 : 12;
  });
  EXPECT_EQ(rc, 0);
}

}  // namespace
