// signalfd(2) and signalfd4(2).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include "syscalls/test_util.h"

namespace {

using conformance::Fd;

pid_t Tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// Blocks `sig` (so that it stays pending for the signalfd) for the test's duration, and
// drops whatever of it is still pending at the end.
class Blocked {
 public:
  explicit Blocked(std::initializer_list<int> sigs) {
    sigemptyset(&set_);
    for (int s : sigs) sigaddset(&set_, s);
    sigprocmask(SIG_BLOCK, &set_, &old_);
  }
  ~Blocked() {
    timespec zero{0, 0};
    while (sigtimedwait(&set_, nullptr, &zero) > 0) {
    }
    sigprocmask(SIG_SETMASK, &old_, nullptr);
  }
  const sigset_t& set() const { return set_; }

 private:
  sigset_t set_, old_;
};

long Signalfd4(int fd, const sigset_t* mask, size_t size, int flags) {
  return syscall(SYS_signalfd4, fd, mask, size, flags);
}

constexpr size_t kSigsetSize = 8;

TEST(Signalfd, ReadsAPendingSignal) {
  Blocked b({SIGUSR1});
  Fd fd(Signalfd4(-1, &b.set(), kSigsetSize, SFD_NONBLOCK));
  ASSERT_TRUE(fd.ok()) << conformance::ErrnoName(errno);
  signalfd_siginfo info{};
  EXPECT_SYSCALL_ERRNO(EAGAIN, read(fd.get(), &info, sizeof(info)));
  ASSERT_SYSCALL_OK(kill(getpid(), SIGUSR1));
  ASSERT_EQ(static_cast<ssize_t>(sizeof(info)), read(fd.get(), &info, sizeof(info)));
  EXPECT_EQ(static_cast<uint32_t>(SIGUSR1), info.ssi_signo);
  EXPECT_EQ(SI_USER, info.ssi_code);
  EXPECT_EQ(static_cast<uint32_t>(getpid()), info.ssi_pid);
  EXPECT_EQ(getuid(), info.ssi_uid);
  // Taken: no longer pending.
  sigset_t pending;
  sigpending(&pending);
  EXPECT_FALSE(sigismember(&pending, SIGUSR1));
  EXPECT_SYSCALL_ERRNO(EAGAIN, read(fd.get(), &info, sizeof(info)));
}

TEST(Signalfd, SigqueueValueAndThreadDirectedSignals) {
  Blocked b({SIGUSR1, SIGRTMIN});
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR1);
  sigaddset(&mask, SIGRTMIN);
  Fd fd(signalfd(-1, &mask, SFD_NONBLOCK));
  ASSERT_TRUE(fd.ok());
  sigval v{};
  v.sival_int = 1234;
  ASSERT_SYSCALL_OK(sigqueue(getpid(), SIGRTMIN, v));
  ASSERT_SYSCALL_OK(sigqueue(getpid(), SIGRTMIN, v));  // real-time signals queue twice
  ASSERT_SYSCALL_OK(syscall(SYS_tgkill, getpid(), Tid(), SIGUSR1));
  signalfd_siginfo infos[4]{};
  // One read takes all three; the lowest number comes first.
  ASSERT_EQ(static_cast<ssize_t>(3 * sizeof(signalfd_siginfo)),
            read(fd.get(), infos, sizeof(infos)));
  EXPECT_EQ(static_cast<uint32_t>(SIGUSR1), infos[0].ssi_signo);
  EXPECT_EQ(SI_TKILL, infos[0].ssi_code);
  for (int i : {1, 2}) {
    EXPECT_EQ(static_cast<uint32_t>(SIGRTMIN), infos[i].ssi_signo);
    EXPECT_EQ(SI_QUEUE, infos[i].ssi_code);
    EXPECT_EQ(1234, infos[i].ssi_int);
  }
}

TEST(Signalfd, OnlySignalsInTheMask) {
  Blocked b({SIGUSR1, SIGUSR2});
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR2);
  Fd fd(signalfd(-1, &mask, SFD_NONBLOCK));
  ASSERT_TRUE(fd.ok());
  kill(getpid(), SIGUSR1);
  signalfd_siginfo info{};
  EXPECT_SYSCALL_ERRNO(EAGAIN, read(fd.get(), &info, sizeof(info)));
  // A new mask through the same fd.
  sigaddset(&mask, SIGUSR1);
  ASSERT_EQ(fd.get(), signalfd(fd.get(), &mask, 0));
  ASSERT_EQ(static_cast<ssize_t>(sizeof(info)), read(fd.get(), &info, sizeof(info)));
  EXPECT_EQ(static_cast<uint32_t>(SIGUSR1), info.ssi_signo);
}

TEST(Signalfd, Errors) {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR1);
  EXPECT_SYSCALL_ERRNO(EINVAL, Signalfd4(-1, &mask, 4, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, Signalfd4(-1, &mask, 16, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, Signalfd4(-1, &mask, kSigsetSize, O_RDWR));
  EXPECT_SYSCALL_ERRNO(EFAULT, Signalfd4(-1, nullptr, kSigsetSize, 0));
  EXPECT_SYSCALL_ERRNO(EBADF, Signalfd4(999, &mask, kSigsetSize, 0));
  EXPECT_SYSCALL_ERRNO(EBADF, Signalfd4(-2, &mask, kSigsetSize, 0));
  conformance::Pipe p;
  EXPECT_SYSCALL_ERRNO(EINVAL, Signalfd4(p.r(), &mask, kSigsetSize, 0));
  Fd fd(Signalfd4(-1, &mask, kSigsetSize, SFD_NONBLOCK));
  ASSERT_TRUE(fd.ok());
  char small[sizeof(signalfd_siginfo) - 1];
  EXPECT_SYSCALL_ERRNO(EINVAL, read(fd.get(), small, sizeof(small)));
  EXPECT_SYSCALL_ERRNO(EINVAL, write(fd.get(), small, sizeof(small)));
}

TEST(Signalfd, ReadIntoABadBufferIsEfault) {
  Blocked b({SIGUSR1});
  Fd fd(Signalfd4(-1, &b.set(), kSigsetSize, SFD_NONBLOCK));
  ASSERT_TRUE(fd.ok());
  ASSERT_SYSCALL_OK(kill(getpid(), SIGUSR1));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_read, fd.get(), nullptr, sizeof(signalfd_siginfo)));
}

TEST(Signalfd, Flags) {
  sigset_t mask;
  sigemptyset(&mask);
  Fd plain(Signalfd4(-1, &mask, kSigsetSize, 0));
  Fd both(Signalfd4(-1, &mask, kSigsetSize, SFD_NONBLOCK | SFD_CLOEXEC));
  ASSERT_TRUE(plain.ok());
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(0, fcntl(plain.get(), F_GETFD));
  EXPECT_EQ(FD_CLOEXEC, fcntl(both.get(), F_GETFD));
  EXPECT_FALSE(fcntl(plain.get(), F_GETFL) & O_NONBLOCK);
  EXPECT_TRUE(fcntl(both.get(), F_GETFL) & O_NONBLOCK);
  EXPECT_EQ(O_RDWR, fcntl(plain.get(), F_GETFL) & O_ACCMODE);
}

// SIGKILL and SIGSTOP are taken out of the mask silently: a full mask is no error, and the
// other signals in it are read as usual.
TEST(Signalfd, AFullMaskIsAccepted) {
  Blocked b({SIGUSR2});
  sigset_t mask;
  sigfillset(&mask);
  Fd fd(Signalfd4(-1, &mask, kSigsetSize, SFD_NONBLOCK));
  ASSERT_TRUE(fd.ok()) << conformance::ErrnoName(errno);
  ASSERT_EQ(fd.get(), Signalfd4(fd.get(), &mask, kSigsetSize, 0));
  kill(getpid(), SIGUSR2);
  signalfd_siginfo info{};
  ASSERT_EQ(static_cast<ssize_t>(sizeof(info)), read(fd.get(), &info, sizeof(info)));
  EXPECT_EQ(static_cast<uint32_t>(SIGUSR2), info.ssi_signo);
}

TEST(Signalfd, BlockingReadWakesOnSignal) {
  Blocked b({SIGUSR1});
  Fd fd(signalfd(-1, &b.set(), 0));
  ASSERT_TRUE(fd.ok());
  std::thread sender([] {
    usleep(50000);
    kill(getpid(), SIGUSR1);
  });
  signalfd_siginfo info{};
  EXPECT_EQ(static_cast<ssize_t>(sizeof(info)), read(fd.get(), &info, sizeof(info)));
  EXPECT_EQ(static_cast<uint32_t>(SIGUSR1), info.ssi_signo);
  sender.join();
}

std::atomic<int> handled{0};
void OnUsr2(int) { handled++; }

TEST(Signalfd, BlockingReadIsInterruptible) {
  Blocked b({SIGUSR1});
  struct sigaction sa {};
  sa.sa_handler = OnUsr2;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR2, &sa, nullptr);
  Fd fd(signalfd(-1, &b.set(), 0));
  ASSERT_TRUE(fd.ok());
  pid_t self = Tid();
  std::thread sender([self] {
    usleep(50000);
    syscall(SYS_tgkill, getpid(), self, SIGUSR2);
  });
  signalfd_siginfo info{};
  EXPECT_SYSCALL_ERRNO(EINTR, read(fd.get(), &info, sizeof(info)));
  EXPECT_EQ(1, handled.load());
  sender.join();
  signal(SIGUSR2, SIG_DFL);
}

TEST(Signalfd, PollAndEpollReadiness) {
  Blocked b({SIGUSR1});
  Fd fd(signalfd(-1, &b.set(), SFD_NONBLOCK));
  ASSERT_TRUE(fd.ok());
  pollfd pfd{fd.get(), POLLIN, 0};
  EXPECT_EQ(0, poll(&pfd, 1, 0));
  Fd ep(epoll_create1(0));
  ASSERT_TRUE(ep.ok());
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd.get();
  ASSERT_SYSCALL_OK(epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd.get(), &ev));
  epoll_event out{};
  EXPECT_EQ(0, epoll_wait(ep.get(), &out, 1, 0));
  // A sender wakes a sleeping epoll_wait (no polling loop: the wait is long).
  std::thread sender([] {
    usleep(50000);
    kill(getpid(), SIGUSR1);
  });
  ASSERT_EQ(1, epoll_wait(ep.get(), &out, 1, 10000));
  EXPECT_EQ(fd.get(), out.data.fd);
  EXPECT_TRUE(out.events & EPOLLIN);
  sender.join();
  pfd.revents = 0;
  EXPECT_EQ(1, poll(&pfd, 1, 0));
  EXPECT_TRUE(pfd.revents & POLLIN);
  signalfd_siginfo info{};
  ASSERT_EQ(static_cast<ssize_t>(sizeof(info)), read(fd.get(), &info, sizeof(info)));
  pfd.revents = 0;
  EXPECT_EQ(0, poll(&pfd, 1, 0));
}

TEST(Signalfd, SigchldFromAChild) {
  Blocked b({SIGCHLD});
  Fd fd(signalfd(-1, &b.set(), 0));
  ASSERT_TRUE(fd.ok());
  pid_t child = fork();
  if (child == 0) _exit(7);
  ASSERT_GT(child, 0);
  signalfd_siginfo info{};
  ASSERT_EQ(static_cast<ssize_t>(sizeof(info)), read(fd.get(), &info, sizeof(info)));
  EXPECT_EQ(static_cast<uint32_t>(SIGCHLD), info.ssi_signo);
  EXPECT_EQ(CLD_EXITED, info.ssi_code);
  EXPECT_EQ(static_cast<uint32_t>(child), info.ssi_pid);
  EXPECT_EQ(7, info.ssi_status);
  ASSERT_EQ(child, waitpid(child, nullptr, 0));
}

}  // namespace
