#include "runsc/console.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace runsc {

using sentry::FileDescriptor;

absl::StatusOr<HostPty> OpenHostPty() {
  FileDescriptor master(posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master.valid()) return absl::ErrnoToStatus(errno, "opening /dev/ptmx");
  if (unlockpt(master.get()) != 0) return absl::ErrnoToStatus(errno, "unlockpt");
  // TIOCGPTPEER: the replica without going through a path in /dev/pts.
  FileDescriptor replica(ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!replica.valid()) return absl::ErrnoToStatus(errno, "opening the pty's replica");
  return HostPty{std::move(master), std::move(replica)};
}

absl::Status MakeRaw(int fd) {
  termios t;
  if (tcgetattr(fd, &t) != 0) return absl::ErrnoToStatus(errno, "tcgetattr");
  cfmakeraw(&t);
  if (tcsetattr(fd, TCSANOW, &t) != 0) return absl::ErrnoToStatus(errno, "tcsetattr");
  return absl::OkStatus();
}

absl::Status SendConsoleMaster(const std::string& socket_path, int master) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("--console-socket ", socket_path, ": too long"));
  }
  memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  FileDescriptor sock(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return absl::ErrnoToStatus(errno, "socket");
  if (connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("connecting to --console-socket ", socket_path));
  }
  // runc's utils.SendFile: the file's name as the payload, the fd alongside.
  static char name[] = "/dev/ptmx";
  iovec iov{name, sizeof(name) - 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &master, sizeof(int));
  while (sendmsg(sock.get(), &msg, MSG_NOSIGNAL) < 0) {
    if (errno != EINTR)
      return absl::ErrnoToStatus(errno, "sending the console to --console-socket");
  }
  return absl::OkStatus();
}

namespace {

// The watcher's life, after fork: async-signal-safe calls only.
[[noreturn]] void WatchWinsize(int tty, int pipe_write) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGWINCH);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  int sfd = signalfd(-1, &set, SFD_CLOEXEC);
  if (sfd < 0 || setsid() < 0 || ioctl(tty, TIOCSCTTY, 0) != 0) _exit(1);
  // Ready: the parent waits for this byte before relying on the watcher.
  char one = 1;
  if (write(pipe_write, &one, 1) != 1) _exit(1);
  while (true) {
    // POLLERR on the pipe's write end: the reader (the sentry) is gone.
    pollfd fds[2] = {{sfd, POLLIN, 0}, {pipe_write, 0, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      _exit(1);
    }
    if (fds[1].revents) _exit(0);
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info;
      if (read(sfd, &info, sizeof(info)) < 0 && errno != EAGAIN && errno != EINTR) _exit(1);
      // Nonblocking: a full pipe already says "changed".
      (void)!write(pipe_write, &one, 1);
    }
  }
}

}  // namespace

absl::StatusOr<FileDescriptor> StartWinsizeWatcher(int tty) {
  int p[2];
  if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return absl::ErrnoToStatus(errno, "pipe2");
  FileDescriptor read_end(p[0]), write_end(p[1]);
  pid_t pid = fork();
  if (pid < 0) return absl::ErrnoToStatus(errno, "fork");
  if (pid == 0) {
    // Only the terminal and the pipe: nothing else of the parent's stays open here.
    int keep_lo = std::min(tty, write_end.get()), keep_hi = std::max(tty, write_end.get());
    if (keep_lo > 3) syscall(SYS_close_range, 3, keep_lo - 1, 0);
    if (keep_hi > keep_lo + 1) syscall(SYS_close_range, keep_lo + 1, keep_hi - 1, 0);
    syscall(SYS_close_range, keep_hi + 1, ~0U, 0);
    WatchWinsize(tty, write_end.get());
  }
  write_end.Reset();
  // Its first byte says it has the terminal; end of file says it could not.
  pollfd pfd{read_end.get(), POLLIN, 0};
  while (poll(&pfd, 1, -1) < 0 && errno == EINTR) {
  }
  char c;
  if (read(read_end.get(), &c, 1) != 1) {
    return absl::FailedPreconditionError(
        "the terminal's size changes cannot be followed: it controls another session");
  }
  return read_end;
}

}  // namespace runsc
