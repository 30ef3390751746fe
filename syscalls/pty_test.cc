// Pseudo-terminals (pty(7), pts(4), tty_ioctl(4), termios(3)): opening a pair through /dev/ptmx,
// the N_TTY line discipline between its ends (canonical editing, echo, output processing,
// VMIN/VTIME), hangups, and the controlling terminal and job control ioctls. Tests that need a
// controlling terminal make a new session in a child (ctest gives the test none).
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <termios.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "syscalls/test_util.h"

namespace {

using conformance::Fd;
using conformance::InChild;
using conformance::Pipe;

// The name of the replica of `master` after grantpt and unlockpt; empty if one failed.
std::string UnlockedName(int master) {
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) return "";
  const char* name = ptsname(master);
  return name != nullptr ? name : "";
}

// A pty pair: the master and its replica (opened without becoming a controlling terminal
// unless the flags say so).
struct Pty {
  explicit Pty(int replica_flags = O_RDWR | O_NOCTTY)
      : master(posix_openpt(O_RDWR | O_NOCTTY)),
        name(UnlockedName(master.get())),
        replica(name.empty() ? -1 : open(name.c_str(), replica_flags)) {}
  Fd master;
  std::string name;
  Fd replica;
};

// What `fd` gives within 10 s, until there are at least `n` bytes (the pty's other end hands
// bytes on asynchronously on Linux); then whatever else comes within a tenth of a second.
std::string ReadAtLeast(int fd, size_t n) {
  std::string out;
  char buf[256];
  while (true) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, out.size() < n ? 10000 : 100) <= 0 || !(p.revents & POLLIN)) break;
    ssize_t got = read(fd, buf, sizeof(buf));
    if (got <= 0) break;
    out.append(buf, static_cast<size_t>(got));
  }
  return out;
}

// Waits (up to 10 s) until FIONREAD on `fd` shows `n` bytes; returns what it shows last.
int AwaitQueued(int fd, int n) {
  int avail = -1;
  for (int i = 0; i < 1000; ++i) {
    if (ioctl(fd, FIONREAD, &avail) != 0 || avail >= n) break;
    usleep(10000);
  }
  return avail;
}

// One read of up to `max` bytes, waiting up to 10 s for the fd to be readable.
std::string ReadOnce(int fd, size_t max = 256) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 10000) <= 0) return "<timeout>";
  std::string buf(max, '\0');
  ssize_t n = read(fd, buf.data(), max);
  if (n < 0) return "<error " + conformance::ErrnoName(errno) + ">";
  buf.resize(static_cast<size_t>(n));
  return buf;
}

bool WriteAll(int fd, const std::string& s) {
  return write(fd, s.data(), s.size()) == static_cast<ssize_t>(s.size());
}

// Waits (up to 10 s) for one byte on `fd`; false when none comes.
bool AwaitByte(int fd) {
  pollfd p{fd, POLLIN, 0};
  char c;
  return poll(&p, 1, 10000) == 1 && read(fd, &c, 1) == 1;
}

void SetLflag(int fd, tcflag_t on, tcflag_t off) {
  termios t;
  ASSERT_EQ(tcgetattr(fd, &t), 0);
  t.c_lflag = (t.c_lflag | on) & ~off;
  ASSERT_EQ(tcsetattr(fd, TCSANOW, &t), 0);
}

TEST(Pty, OpenGrantUnlockAndName) {
  Fd master(posix_openpt(O_RDWR | O_NOCTTY));
  ASSERT_TRUE(master.ok()) << strerror(errno);
  EXPECT_TRUE(isatty(master.get()));
  ASSERT_SYSCALL_OK(grantpt(master.get()));
  unsigned n = 0;
  ASSERT_SYSCALL_OK(ioctl(master.get(), TIOCGPTN, &n));
  const char* name = ptsname(master.get());
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(std::string(name), "/dev/pts/" + std::to_string(n));
  // A new pair is locked: the replica does not open until unlockpt.
  int locked = 0;
  ASSERT_SYSCALL_OK(ioctl(master.get(), TIOCGPTLCK, &locked));
  EXPECT_EQ(locked, 1);
  EXPECT_SYSCALL_ERRNO(EIO, open(name, O_RDWR | O_NOCTTY));
  ASSERT_SYSCALL_OK(unlockpt(master.get()));
  ASSERT_SYSCALL_OK(ioctl(master.get(), TIOCGPTLCK, &locked));
  EXPECT_EQ(locked, 0);
  Fd replica(open(name, O_RDWR | O_NOCTTY));
  ASSERT_TRUE(replica.ok()) << strerror(errno);
  EXPECT_TRUE(isatty(replica.get()));
  struct stat st;
  ASSERT_SYSCALL_OK(fstat(replica.get(), &st));
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(major(st.st_rdev), 136u);
  EXPECT_EQ(minor(st.st_rdev), n);
  // Locking again keeps further opens out.
  int one = 1;
  ASSERT_SYSCALL_OK(ioctl(master.get(), TIOCSPTLCK, &one));
  EXPECT_SYSCALL_ERRNO(EIO, open(name, O_RDWR | O_NOCTTY));
  // Replica-only and master-only ioctls.
  EXPECT_SYSCALL_ERRNO(ENOTTY, ioctl(replica.get(), TIOCGPTN, &n));
  // ttyname and /proc/self/fd name the replica by its path.
  char buf[64];
  ASSERT_EQ(ttyname_r(replica.get(), buf, sizeof(buf)), 0);
  EXPECT_EQ(std::string(buf), name);
}

TEST(Pty, PeerOpensTheReplica) {
  Fd master(posix_openpt(O_RDWR | O_NOCTTY));
  ASSERT_TRUE(master.ok());
  ASSERT_SYSCALL_OK(unlockpt(master.get()));
  Fd peer(ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  ASSERT_TRUE(peer.ok()) << strerror(errno);
  EXPECT_EQ(fcntl(peer.get(), F_GETFD), FD_CLOEXEC);
  std::string link = "/proc/self/fd/" + std::to_string(peer.get());
  char buf[64] = {};
  ASSERT_GT(readlink(link.c_str(), buf, sizeof(buf) - 1), 0);
  EXPECT_EQ(std::string(buf), std::string(ptsname(master.get())));
  ASSERT_TRUE(WriteAll(master.get(), "x\n"));
  EXPECT_EQ(ReadOnce(peer.get()), "x\n");
  // Not from the replica's side.
  EXPECT_SYSCALL_ERRNO(EIO, ioctl(peer.get(), TIOCGPTPEER, O_RDWR));
}

TEST(Pty, DefaultTermios) {
  Pty p;
  ASSERT_TRUE(p.replica.ok());
  termios t;
  ASSERT_SYSCALL_OK(tcgetattr(p.replica.get(), &t));
  EXPECT_EQ(t.c_iflag, static_cast<tcflag_t>(ICRNL | IXON));
  EXPECT_EQ(t.c_oflag, static_cast<tcflag_t>(OPOST | ONLCR));
  EXPECT_EQ(t.c_lflag, static_cast<tcflag_t>(ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL |
                                             ECHOKE | IEXTEN));
  EXPECT_EQ(t.c_cflag & CSIZE, static_cast<tcflag_t>(CS8));
  EXPECT_TRUE(t.c_cflag & CREAD);
  EXPECT_EQ(cfgetospeed(&t), static_cast<speed_t>(B38400));
  EXPECT_EQ(t.c_cc[VINTR], 003);
  EXPECT_EQ(t.c_cc[VQUIT], 034);
  EXPECT_EQ(t.c_cc[VERASE], 0177);
  EXPECT_EQ(t.c_cc[VKILL], 025);
  EXPECT_EQ(t.c_cc[VEOF], 004);
  EXPECT_EQ(t.c_cc[VMIN], 1);
  EXPECT_EQ(t.c_cc[VTIME], 0);
  EXPECT_EQ(t.c_cc[VSTART], 021);
  EXPECT_EQ(t.c_cc[VSTOP], 023);
  EXPECT_EQ(t.c_cc[VSUSP], 032);
  EXPECT_EQ(t.c_cc[VWERASE], 027);
  EXPECT_EQ(t.c_cc[VLNEXT], 026);
  // The master shows (and sets) the replica's termios.
  termios m;
  ASSERT_SYSCALL_OK(tcgetattr(p.master.get(), &m));
  EXPECT_EQ(m.c_lflag, t.c_lflag);
  m.c_lflag &= ~ECHO;
  ASSERT_SYSCALL_OK(tcsetattr(p.master.get(), TCSANOW, &m));
  ASSERT_SYSCALL_OK(tcgetattr(p.replica.get(), &t));
  EXPECT_FALSE(t.c_lflag & ECHO);
  // A new pair has no size.
  winsize ws;
  ASSERT_SYSCALL_OK(ioctl(p.replica.get(), TIOCGWINSZ, &ws));
  EXPECT_EQ(ws.ws_row, 0);
  EXPECT_EQ(ws.ws_col, 0);
  EXPECT_SYSCALL_ERRNO(EFAULT, ioctl(p.replica.get(), TCGETS, nullptr));
  EXPECT_SYSCALL_ERRNO(ENOTTY, ioctl(p.replica.get(), 0x54ff, 0));
}

TEST(Pty, CanonicalReadsReturnALine) {
  Pty p(O_RDWR | O_NOCTTY | O_NONBLOCK);
  ASSERT_TRUE(p.replica.ok());
  SetLflag(p.replica.get(), 0, ECHO);
  char buf[64];
  ASSERT_TRUE(WriteAll(p.master.get(), "ab"));
  // Half a line is not readable yet.
  int avail = -1;
  ASSERT_SYSCALL_OK(ioctl(p.replica.get(), FIONREAD, &avail));
  EXPECT_EQ(avail, 0);
  EXPECT_SYSCALL_ERRNO(EAGAIN, read(p.replica.get(), buf, sizeof(buf)));
  ASSERT_TRUE(WriteAll(p.master.get(), "c\rdef\n"));  // ICRNL: the \r ends the first line
  EXPECT_EQ(AwaitQueued(p.replica.get(), 8), 8);
  EXPECT_EQ(ReadOnce(p.replica.get()), "abc\n");
  // A short buffer takes part of a line; the rest stays.
  EXPECT_EQ(ReadOnce(p.replica.get(), 2), "de");
  EXPECT_EQ(ReadOnce(p.replica.get()), "f\n");
  // VEOF ends a line without itself, and on an empty line makes a read return 0.
  ASSERT_TRUE(WriteAll(p.master.get(), "gh\x04\x04"));
  EXPECT_EQ(ReadOnce(p.replica.get()), "gh");
  EXPECT_EQ(ReadOnce(p.replica.get()), "");
}

TEST(Pty, LineEditing) {
  Pty p;
  ASSERT_TRUE(p.replica.ok());
  SetLflag(p.replica.get(), 0, ECHO);
  ASSERT_TRUE(WriteAll(p.master.get(),
                       "abx\x7f"
                       "c\n"));  // VERASE
  EXPECT_EQ(ReadOnce(p.replica.get()), "abc\n");
  ASSERT_TRUE(WriteAll(p.master.get(), "junk\x15ok\n"));  // VKILL
  EXPECT_EQ(ReadOnce(p.replica.get()), "ok\n");
  ASSERT_TRUE(WriteAll(p.master.get(), "one two  \x17three\n"));  // VWERASE
  EXPECT_EQ(ReadOnce(p.replica.get()), "one three\n");
  ASSERT_TRUE(WriteAll(p.master.get(), "\x16\x7f\n"));  // VLNEXT: the DEL is taken as it is
  EXPECT_EQ(ReadOnce(p.replica.get()), "\x7f\n");
  // Erasing past the start of the line does nothing.
  ASSERT_TRUE(WriteAll(p.master.get(), "\x7f\x7fz\n"));
  EXPECT_EQ(ReadOnce(p.replica.get()), "z\n");
}

TEST(Pty, Echo) {
  Pty p;
  ASSERT_TRUE(p.replica.ok());
  ASSERT_TRUE(WriteAll(p.master.get(), "hi\n"));
  EXPECT_EQ(ReadAtLeast(p.master.get(), 4), "hi\r\n");  // echo goes through ONLCR
  EXPECT_EQ(ReadOnce(p.replica.get()), "hi\n");
  ASSERT_TRUE(WriteAll(p.master.get(), "\x01"));  // ECHOCTL
  EXPECT_EQ(ReadAtLeast(p.master.get(), 2), "^A");
  ASSERT_TRUE(WriteAll(p.master.get(), "b\x7f"));  // ECHOE erases on the screen
  EXPECT_EQ(ReadAtLeast(p.master.get(), 4), "b\b \b");
  ASSERT_TRUE(WriteAll(p.master.get(), "\n"));
  ReadAtLeast(p.master.get(), 2);
  EXPECT_EQ(ReadOnce(p.replica.get()), "\x01\n");
  // Without ECHO nothing comes back.
  SetLflag(p.replica.get(), 0, ECHO);
  ASSERT_TRUE(WriteAll(p.master.get(), "quiet\n"));
  EXPECT_EQ(ReadOnce(p.replica.get()), "quiet\n");
  EXPECT_EQ(ReadAtLeast(p.master.get(), 0), "");
}

TEST(Pty, OutputProcessing) {
  Pty p;
  ASSERT_TRUE(p.replica.ok());
  ASSERT_TRUE(WriteAll(p.replica.get(), "a\nb"));
  EXPECT_EQ(ReadAtLeast(p.master.get(), 4), "a\r\nb");
  termios t;
  ASSERT_SYSCALL_OK(tcgetattr(p.replica.get(), &t));
  t.c_oflag &= ~OPOST;
  ASSERT_SYSCALL_OK(tcsetattr(p.replica.get(), TCSANOW, &t));
  ASSERT_TRUE(WriteAll(p.replica.get(), "a\nb"));
  EXPECT_EQ(ReadAtLeast(p.master.get(), 3), "a\nb");
  t.c_oflag |= OPOST | OCRNL;
  t.c_oflag &= ~ONLCR;
  ASSERT_SYSCALL_OK(tcsetattr(p.replica.get(), TCSANOW, &t));
  ASSERT_TRUE(WriteAll(p.replica.get(), "x\ry"));
  EXPECT_EQ(ReadAtLeast(p.master.get(), 3), "x\ny");
}

TEST(Pty, InputProcessing) {
  Pty p;
  ASSERT_TRUE(p.replica.ok());
  termios t;
  ASSERT_SYSCALL_OK(tcgetattr(p.replica.get(), &t));
  t.c_lflag &= ~ECHO;
  t.c_iflag |= IGNCR;
  ASSERT_SYSCALL_OK(tcsetattr(p.replica.get(), TCSANOW, &t));
  ASSERT_TRUE(WriteAll(p.master.get(), "a\rb\n"));
  EXPECT_EQ(ReadOnce(p.replica.get()), "ab\n");
  t.c_iflag &= ~(IGNCR | ICRNL);
  t.c_iflag |= INLCR;
  t.c_lflag &= ~ICANON;
  ASSERT_SYSCALL_OK(tcsetattr(p.replica.get(), TCSANOW, &t));
  ASSERT_TRUE(WriteAll(p.master.get(), "c\nd\r"));
  EXPECT_EQ(ReadAtLeast(p.replica.get(), 4), "c\rd\r");
}

TEST(Pty, NonCanonicalReads) {
  Pty p;
  ASSERT_TRUE(p.replica.ok());
  termios t;
  ASSERT_SYSCALL_OK(tcgetattr(p.replica.get(), &t));
  cfmakeraw(&t);
  ASSERT_SYSCALL_OK(tcsetattr(p.replica.get(), TCSANOW, &t));
  ASSERT_TRUE(WriteAll(p.master.get(), "xyz"));
  EXPECT_EQ(ReadAtLeast(p.replica.get(), 3), "xyz");  // no line needed, no echo
  EXPECT_EQ(ReadAtLeast(p.master.get(), 0), "");
  // VMIN 0, VTIME 0: a read returns at once, with nothing.
  t.c_cc[VMIN] = 0;
  t.c_cc[VTIME] = 0;
  ASSERT_SYSCALL_OK(tcsetattr(p.replica.get(), TCSANOW, &t));
  char buf[8];
  EXPECT_EQ(read(p.replica.get(), buf, sizeof(buf)), 0);
  // VMIN 0, VTIME 1: waits a tenth of a second for a byte, then returns 0.
  t.c_cc[VTIME] = 1;
  ASSERT_SYSCALL_OK(tcsetattr(p.replica.get(), TCSANOW, &t));
  EXPECT_EQ(read(p.replica.get(), buf, sizeof(buf)), 0);
  // VMIN 3: the read waits for three bytes, written one at a time by a child.
  t.c_cc[VMIN] = 3;
  t.c_cc[VTIME] = 0;
  ASSERT_SYSCALL_OK(tcsetattr(p.replica.get(), TCSANOW, &t));
  pid_t writer = fork();
  if (writer == 0) {
    for (char c : std::string("123")) {
      usleep(20000);
      if (write(p.master.get(), &c, 1) != 1) _exit(1);
    }
    _exit(0);
  }
  ASSERT_GT(writer, 0);
  EXPECT_EQ(read(p.replica.get(), buf, sizeof(buf)), 3);
  EXPECT_EQ(std::string(buf, 3), "123");
  int status;
  ASSERT_EQ(waitpid(writer, &status, 0), writer);
  // Leaving canonical mode makes a half-typed line readable.
  SetLflag(p.replica.get(), ICANON, 0);
  ASSERT_TRUE(WriteAll(p.master.get(), "half"));
  t.c_cc[VMIN] = 1;
  ASSERT_SYSCALL_OK(tcsetattr(p.replica.get(), TCSANOW, &t));
  EXPECT_EQ(ReadAtLeast(p.replica.get(), 4), "half");
}

TEST(Pty, QueuesAndFlush) {
  Pty p(O_RDWR | O_NOCTTY | O_NONBLOCK);
  ASSERT_TRUE(p.replica.ok());
  SetLflag(p.replica.get(), 0, ECHO);
  ASSERT_TRUE(WriteAll(p.replica.get(), "out"));
  EXPECT_EQ(AwaitQueued(p.master.get(), 3), 3);
  ASSERT_TRUE(WriteAll(p.master.get(), "in\n"));
  EXPECT_EQ(AwaitQueued(p.replica.get(), 3), 3);
  int n = -1;
  ASSERT_SYSCALL_OK(ioctl(p.replica.get(), TIOCINQ, &n));
  EXPECT_EQ(n, 3);
  ASSERT_SYSCALL_OK(tcflush(p.replica.get(), TCIFLUSH));
  ASSERT_SYSCALL_OK(ioctl(p.replica.get(), FIONREAD, &n));
  EXPECT_EQ(n, 0);
  char buf[8];
  EXPECT_SYSCALL_ERRNO(EAGAIN, read(p.replica.get(), buf, sizeof(buf)));
  EXPECT_SYSCALL_ERRNO(EINVAL, ioctl(p.replica.get(), TCFLSH, 7));
  EXPECT_SYSCALL_OK(tcdrain(p.replica.get()));
  // The replica's writes stop when the master does not read, and go on when it does.
  std::string block(1024, 'w');
  size_t written = 0;
  while (true) {
    ssize_t w = write(p.replica.get(), block.data(), block.size());
    if (w < 0) {
      EXPECT_EQ(errno, EAGAIN);
      break;
    }
    written += static_cast<size_t>(w);
    ASSERT_LT(written, size_t{1} << 24) << "the replica's writes never filled the queue";
  }
  EXPECT_GT(written, 0u);
  pollfd pfd{p.replica.get(), POLLOUT, 0};
  EXPECT_EQ(poll(&pfd, 1, 0), 0);
  ReadAtLeast(p.master.get(), written);
  EXPECT_EQ(poll(&pfd, 1, 10000), 1);
  EXPECT_TRUE(pfd.revents & POLLOUT);
}

TEST(Pty, Readiness) {
  Pty p;
  ASSERT_TRUE(p.replica.ok());
  SetLflag(p.replica.get(), 0, ECHO);
  pollfd fds[2] = {{p.master.get(), POLLIN | POLLOUT, 0}, {p.replica.get(), POLLIN | POLLOUT, 0}};
  ASSERT_EQ(poll(fds, 2, 0), 2);
  EXPECT_EQ(fds[0].revents, POLLOUT);
  EXPECT_EQ(fds[1].revents, POLLOUT);
  Fd ep(epoll_create1(EPOLL_CLOEXEC));
  ASSERT_TRUE(ep.ok());
  epoll_event ev{};
  ev.events = EPOLLIN;
  ASSERT_SYSCALL_OK(epoll_ctl(ep.get(), EPOLL_CTL_ADD, p.master.get(), &ev));
  ASSERT_TRUE(WriteAll(p.replica.get(), "r"));
  epoll_event got{};
  EXPECT_EQ(epoll_wait(ep.get(), &got, 1, 10000), 1);
  EXPECT_TRUE(got.events & EPOLLIN);
  ASSERT_TRUE(WriteAll(p.master.get(), "line\n"));
  fds[1].events = POLLIN;
  EXPECT_EQ(poll(&fds[1], 1, 10000), 1);
  EXPECT_TRUE(fds[1].revents & POLLIN);
}

TEST(Pty, ClosingTheMasterHangsUpTheReplica) {
  Pty p;
  ASSERT_TRUE(p.replica.ok());
  p.master.Reset();
  pollfd pfd{p.replica.get(), POLLIN | POLLOUT, 0};
  ASSERT_EQ(poll(&pfd, 1, 0), 1);
  EXPECT_TRUE(pfd.revents & POLLHUP);
  EXPECT_TRUE(pfd.revents & POLLERR);
  char buf[8];
  EXPECT_EQ(read(p.replica.get(), buf, sizeof(buf)), 0);
  EXPECT_SYSCALL_ERRNO(EIO, write(p.replica.get(), "x", 1));
  termios t;
  EXPECT_SYSCALL_ERRNO(EIO, tcgetattr(p.replica.get(), &t));
  // Its name is gone.
  EXPECT_SYSCALL_ERRNO(ENOENT, open(p.name.c_str(), O_RDWR | O_NOCTTY));
}

TEST(Pty, ClosingTheReplicasGivesTheMasterEio) {
  Pty p;
  ASSERT_TRUE(p.replica.ok());
  ASSERT_TRUE(WriteAll(p.replica.get(), "bye"));
  p.replica.Reset();
  pollfd pfd{p.master.get(), POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, 0), 1);
  EXPECT_TRUE(pfd.revents & POLLHUP);
  EXPECT_EQ(ReadOnce(p.master.get()), "bye");  // what was written comes first
  char buf[8];
  EXPECT_SYSCALL_ERRNO(EIO, read(p.master.get(), buf, sizeof(buf)));
  // Opening a replica again ends it.
  Fd again(open(p.name.c_str(), O_RDWR | O_NOCTTY));
  ASSERT_TRUE(again.ok());
  pfd.revents = 0;
  EXPECT_EQ(poll(&pfd, 1, 0), 0);
}

TEST(Pty, BlockingReadIsInterruptible) {
  Pty p;
  ASSERT_TRUE(p.replica.ok());
  EXPECT_EQ(InChild([&] {
              struct sigaction sa = {};
              sa.sa_handler = [](int) {};
              sigaction(SIGALRM, &sa, nullptr);  // no SA_RESTART
              itimerval it = {};
              it.it_value.tv_usec = 100000;
              setitimer(ITIMER_REAL, &it, nullptr);
              char buf[8];
              ssize_t n = read(p.replica.get(), buf, sizeof(buf));
              return n == -1 && errno == EINTR ? 0 : 1;
            }),
            0);
}

TEST(Pty, DevTtyWithoutControllingTerminal) {
  EXPECT_EQ(InChild([] {
              if (setsid() < 0) return 1;
              int fd = open("/dev/tty", O_RDWR);
              return fd == -1 && errno == ENXIO ? 0 : 2;
            }),
            0);
}

TEST(Pty, ControllingTerminalIoctlsNeedOne) {
  Pty p;
  ASSERT_TRUE(p.replica.ok());
  pid_t pgrp;
  EXPECT_SYSCALL_ERRNO(ENOTTY, ioctl(p.replica.get(), TIOCGPGRP, &pgrp));
  EXPECT_SYSCALL_ERRNO(ENOTTY, ioctl(p.replica.get(), TIOCGSID, &pgrp));
  pgrp = getpgrp();
  EXPECT_SYSCALL_ERRNO(ENOTTY, ioctl(p.replica.get(), TIOCSPGRP, &pgrp));
  EXPECT_SYSCALL_ERRNO(ENOTTY, ioctl(p.replica.get(), TIOCNOTTY));
  // The master answers for its replica: no session, no group.
  EXPECT_SYSCALL_ERRNO(ENOTTY, ioctl(p.master.get(), TIOCGSID, &pgrp));
  EXPECT_SYSCALL_OK(ioctl(p.master.get(), TIOCGPGRP, &pgrp));
  EXPECT_EQ(pgrp, 0);
  // Only a session leader takes a controlling terminal.
  EXPECT_EQ(InChild([&] {
              if (getsid(0) == getpid()) return 1;
              return ioctl(p.replica.get(), TIOCSCTTY, 0) == -1 && errno == EPERM ? 0 : 2;
            }),
            0);
}

TEST(Pty, SessionLeaderAcquiresItsTerminal) {
  Pty p;
  ASSERT_TRUE(p.replica.ok());
  std::string name = p.name;
  EXPECT_EQ(InChild([&] {
              if (setsid() < 0) return 1;
              // O_NOCTTY keeps it from becoming the controlling terminal...
              int a = open(name.c_str(), O_RDWR | O_NOCTTY);
              pid_t v;
              if (a < 0 || ioctl(a, TIOCGSID, &v) != -1 || errno != ENOTTY) return 2;
              // ...without it, the first open makes it so.
              int fd = open(name.c_str(), O_RDWR);
              if (fd < 0) return 3;
              if (ioctl(fd, TIOCGSID, &v) != 0 || v != getpid()) return 4;
              if (ioctl(a, TIOCGPGRP, &v) != 0 || v != getpgrp()) return 5;
              if (tcgetpgrp(fd) != getpgrp()) return 6;
              int tty = open("/dev/tty", O_RDWR);
              if (tty < 0) return 7;
              if (write(tty, "via-dev-tty", 11) != 11) return 8;
              // TIOCSCTTY on its own terminal is a no-op; TIOCSPGRP's errors.
              if (ioctl(fd, TIOCSCTTY, 0) != 0) return 9;
              pid_t bad = -1;
              if (ioctl(fd, TIOCSPGRP, &bad) != -1 || errno != EINVAL) return 10;
              bad = INT_MAX - 1;
              if (ioctl(fd, TIOCSPGRP, &bad) != -1 || errno != ESRCH) return 11;
              pid_t other = getpgid(getppid());  // a group of the test's own session
              if (ioctl(fd, TIOCSPGRP, &other) != -1 || errno != EPERM) return 12;
              // Giving it up hangs up the foreground group (this one): SIGHUP, then SIGCONT.
              // After that /dev/tty no longer opens.
              signal(SIGHUP, SIG_IGN);
              if (ioctl(fd, TIOCNOTTY) != 0) return 13;
              if (open("/dev/tty", O_RDWR) != -1 || errno != ENXIO) return 14;
              return 0;
            }),
            0);
  EXPECT_NE(ReadAtLeast(p.master.get(), 11).find("via-dev-tty"), std::string::npos);
}

// A session whose controlling terminal is `name`, with a child process in a group of its own
// made the foreground group; `child_body` runs in that child once it is in the foreground, and
// its result (128+N if signal N ended it) is the session leader's.
int SessionWithForegroundChild(const std::string& name, const std::function<int()>& child_body) {
  if (setsid() < 0) return 101;
  int fd = open(name.c_str(), O_RDWR);
  if (fd < 0) return 102;
  Pipe go;
  pid_t child = fork();
  if (child == 0) {
    setpgid(0, 0);
    char c;
    if (read(go.r(), &c, 1) != 1) _exit(103);
    _exit(child_body());
  }
  if (child < 0 || (setpgid(child, child) != 0 && errno != EACCES)) return 104;
  if (tcsetpgrp(fd, child) != 0) return 105;
  if (write(go.w(), "g", 1) != 1) return 106;
  int status;
  if (waitpid(child, &status, 0) != child) return 107;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(Pty, InterruptCharacterSignalsTheForegroundGroup) {
  Pty p;
  ASSERT_TRUE(p.replica.ok());
  Pipe ready;
  std::string name = p.name;
  pid_t leader = fork();
  if (leader == 0) {
    _exit(SessionWithForegroundChild(name, [&] {
      // In the foreground: say so, then wait for the SIGINT that ends this process.
      if (write(ready.w(), "r", 1) != 1) return 1;
      for (int i = 0; i < 300; ++i) usleep(100000);
      return 2;
    }));
  }
  ASSERT_GT(leader, 0);
  ASSERT_TRUE(AwaitByte(ready.r()));
  ASSERT_TRUE(WriteAll(p.master.get(), "\x03"));
  int status;
  ASSERT_EQ(waitpid(leader, &status, 0), leader);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGINT);
  EXPECT_NE(ReadAtLeast(p.master.get(), 2).find("^C"), std::string::npos);
}

TEST(Pty, WindowSizeChangeSignalsTheForegroundGroup) {
  Pty p;
  ASSERT_TRUE(p.replica.ok());
  Pipe ready;
  std::string name = p.name;
  pid_t leader = fork();
  if (leader == 0) {
    _exit(SessionWithForegroundChild(name, [&] {
      // Caught (SIGWINCH is ignored by default), blocked until sigsuspend waits for it.
      static volatile sig_atomic_t got = 0;
      struct sigaction sa = {};
      sa.sa_handler = [](int) { got = 1; };
      sigaction(SIGWINCH, &sa, nullptr);
      sigset_t set, empty;
      sigemptyset(&set);
      sigemptyset(&empty);
      sigaddset(&set, SIGWINCH);
      sigprocmask(SIG_BLOCK, &set, nullptr);
      if (write(ready.w(), "r", 1) != 1) return 1;
      alarm(30);  // never waits for ever
      while (!got) sigsuspend(&empty);
      winsize ws;
      int fd = open("/dev/tty", O_RDWR);
      if (fd < 0 || ioctl(fd, TIOCGWINSZ, &ws) != 0) return 3;
      return ws.ws_row == 40 && ws.ws_col == 120 ? 0 : 4;
    }));
  }
  ASSERT_GT(leader, 0);
  ASSERT_TRUE(AwaitByte(ready.r()));
  winsize ws = {};
  ws.ws_row = 40;
  ws.ws_col = 120;
  ASSERT_SYSCALL_OK(ioctl(p.master.get(), TIOCSWINSZ, &ws));
  int status;
  ASSERT_EQ(waitpid(leader, &status, 0), leader);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(Pty, BackgroundReadGetsSigttin) {
  Pty p;
  ASSERT_TRUE(p.replica.ok());
  std::string name = p.name;
  EXPECT_EQ(InChild([&] {
              if (setsid() < 0) return 1;
              int fd = open(name.c_str(), O_RDWR);
              if (fd < 0) return 2;
              // A child in a group of its own is in the background.
              pid_t child = fork();
              if (child == 0) {
                setpgid(0, 0);
                static volatile sig_atomic_t got = 0;
                struct sigaction sa = {};
                sa.sa_handler = [](int) { got = 1; };
                sigaction(SIGTTIN, &sa, nullptr);
                char c;
                if (read(fd, &c, 1) != -1 || errno != EINTR || !got) _exit(3);
                // Ignored, SIGTTIN turns into EIO.
                signal(SIGTTIN, SIG_IGN);
                if (read(fd, &c, 1) != -1 || errno != EIO) _exit(4);
                // Writes go through without TOSTOP...
                if (write(fd, "bg", 2) != 2) _exit(5);
                // ...and with it get SIGTTOU.
                termios t;
                tcgetattr(fd, &t);
                t.c_lflag |= TOSTOP;
                signal(SIGTTOU, SIG_IGN);  // tcsetattr from the background needs it ignored
                if (tcsetattr(fd, TCSANOW, &t) != 0) _exit(6);
                got = 0;
                sa.sa_handler = [](int) { got = 1; };
                sigaction(SIGTTOU, &sa, nullptr);
                if (write(fd, "x", 1) != -1 || errno != EINTR || !got) _exit(7);
                _exit(0);
              }
              int status;
              if (child < 0 || waitpid(child, &status, 0) != child) return 8;
              return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
            }),
            0);
}

TEST(Pty, SessionLeaderExitHangsUpTheForegroundGroup) {
  Pty p;
  ASSERT_TRUE(p.replica.ok());
  Pipe ready, result;
  std::string name = p.name;
  pid_t leader = fork();
  if (leader == 0) {
    if (setsid() < 0) _exit(1);
    int fd = open(name.c_str(), O_RDWR);
    if (fd < 0) _exit(2);
    pid_t child = fork();
    if (child == 0) {
      setpgid(0, 0);
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGHUP);
      sigprocmask(SIG_BLOCK, &set, nullptr);
      if (write(ready.w(), "r", 1) != 1) _exit(3);
      timespec timeout{30, 0};
      char verdict = sigtimedwait(&set, nullptr, &timeout) == SIGHUP ? 'h' : 'n';
      (void)!write(result.w(), &verdict, 1);
      _exit(0);
    }
    setpgid(child, child);
    char c;
    if (read(ready.r(), &c, 1) != 1) _exit(4);
    if (tcsetpgrp(fd, child) != 0) _exit(5);
    _exit(0);  // the leader goes: its terminal's foreground group hears of it
  }
  ASSERT_GT(leader, 0);
  int status;
  ASSERT_EQ(waitpid(leader, &status, 0), leader);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  pollfd pfd{result.r(), POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, 40000), 1);
  char verdict = 0;
  ASSERT_EQ(read(result.r(), &verdict, 1), 1);
  EXPECT_EQ(verdict, 'h');
}

TEST(Pty, DevptsIsMountedAndMountable) {
  std::ifstream mounts("/proc/mounts");
  std::string line;
  bool found = false;
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string source, target, type;
    fields >> source >> target >> type;
    if (target == "/dev/pts" && type == "devpts") found = true;
  }
  EXPECT_TRUE(found) << "no devpts on /dev/pts in /proc/mounts";
  // A new instance numbers its terminals from 0.
  char dir[] = "/tmp/devpts_test.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  ASSERT_SYSCALL_OK(mount("devpts", dir, "devpts", 0, "newinstance,ptmxmode=0666"));
  std::string ptmx = std::string(dir) + "/ptmx";
  struct stat st;
  EXPECT_SYSCALL_OK(stat(ptmx.c_str(), &st));
  EXPECT_EQ(st.st_rdev, makedev(5, 2));
  {
    Fd m(open(ptmx.c_str(), O_RDWR | O_NOCTTY));
    EXPECT_TRUE(m.ok()) << strerror(errno);
    unsigned n = 99;
    EXPECT_SYSCALL_OK(ioctl(m.get(), TIOCGPTN, &n));
    EXPECT_EQ(n, 0u);
    EXPECT_SYSCALL_OK(stat((std::string(dir) + "/0").c_str(), &st));
  }
  EXPECT_SYSCALL_ERRNO(EINVAL, mount("devpts", dir, "devpts", 0, "bogus=1"));
  EXPECT_SYSCALL_OK(umount(dir));
  rmdir(dir);
}

}  // namespace
