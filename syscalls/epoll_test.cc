// epoll_create, epoll_create1, epoll_ctl, epoll_wait, epoll_pwait and epoll_pwait2 over pipes,
// eventfds and nested epolls: level- and edge-triggered events, EPOLLONESHOT, hang-ups, the
// user data, timeouts, waking from another thread, and the argument errors.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <thread>
#include <utility>

#include <gtest/gtest.h>

#include "syscalls/fs_test_util.h"
#include "syscalls/test_util.h"

namespace {

using conformance::ScratchDir;

void* const kBadAddr = reinterpret_cast<void*>(0xffff800000000000ULL);

// An fd closed at the end of the test.
using conformance::Fd;

struct Pipe {
  Pipe() : Pipe(Make()) {}
  Fd r, w;

 private:
  explicit Pipe(std::pair<int, int> fds) : r(fds.first), w(fds.second) {}
  static std::pair<int, int> Make() {
    int fds[2] = {-1, -1};
    if (pipe(fds) != 0) fds[0] = fds[1] = -1;
    return {fds[0], fds[1]};
  }
};

int Add(int ep, int fd, uint32_t events, uint64_t data) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = data;
  return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

TEST(EpollCreate, Flags) {
  EXPECT_SYSCALL_ERRNO(EINVAL, epoll_create(0));
  EXPECT_SYSCALL_ERRNO(EINVAL, epoll_create(-1));
  Fd a(epoll_create(1));
  ASSERT_GE(a.get(), 0);
  EXPECT_EQ(fcntl(a.get(), F_GETFD), 0);
  Fd b(epoll_create1(EPOLL_CLOEXEC));
  ASSERT_GE(b.get(), 0);
  EXPECT_EQ(fcntl(b.get(), F_GETFD), FD_CLOEXEC);
  EXPECT_SYSCALL_ERRNO(EINVAL, epoll_create1(1));
  EXPECT_SYSCALL_ERRNO(EINVAL, epoll_create1(O_NONBLOCK));
}

TEST(EpollCtl, Errors) {
  Fd ep(epoll_create1(0));
  Pipe p;
  epoll_event ev{};
  ev.events = EPOLLIN;
  EXPECT_SYSCALL_ERRNO(EBADF, epoll_ctl(-1, EPOLL_CTL_ADD, p.r.get(), &ev));
  EXPECT_SYSCALL_ERRNO(EBADF, epoll_ctl(ep.get(), EPOLL_CTL_ADD, -1, &ev));
  // The epoll fd must be an epoll.
  EXPECT_SYSCALL_ERRNO(EINVAL, epoll_ctl(p.w.get(), EPOLL_CTL_ADD, p.r.get(), &ev));
  // Not itself.
  EXPECT_SYSCALL_ERRNO(EINVAL, epoll_ctl(ep.get(), EPOLL_CTL_ADD, ep.get(), &ev));
  EXPECT_SYSCALL_ERRNO(ENOENT, epoll_ctl(ep.get(), EPOLL_CTL_MOD, p.r.get(), &ev));
  EXPECT_SYSCALL_ERRNO(ENOENT, epoll_ctl(ep.get(), EPOLL_CTL_DEL, p.r.get(), nullptr));
  ASSERT_EQ(epoll_ctl(ep.get(), EPOLL_CTL_ADD, p.r.get(), &ev), 0);
  EXPECT_SYSCALL_ERRNO(EEXIST, epoll_ctl(ep.get(), EPOLL_CTL_ADD, p.r.get(), &ev));
  EXPECT_SYSCALL_ERRNO(EINVAL, epoll_ctl(ep.get(), 42, p.r.get(), &ev));
  // The event is read for every operation but DEL.
  EXPECT_SYSCALL_ERRNO(
      EFAULT, epoll_ctl(ep.get(), EPOLL_CTL_MOD, p.r.get(), static_cast<epoll_event*>(kBadAddr)));
  EXPECT_SYSCALL_ERRNO(
      EFAULT, epoll_ctl(ep.get(), EPOLL_CTL_ADD, p.w.get(), static_cast<epoll_event*>(kBadAddr)));
  EXPECT_SYSCALL_OK(
      epoll_ctl(ep.get(), EPOLL_CTL_DEL, p.r.get(), static_cast<epoll_event*>(kBadAddr)));
  // Another fd for the same file is another item.
  Fd dup_r(dup(p.r.get()));
  EXPECT_SYSCALL_OK(Add(ep.get(), p.r.get(), EPOLLIN, 0));
  EXPECT_SYSCALL_OK(Add(ep.get(), dup_r.get(), EPOLLIN, 0));
}

TEST(EpollCtl, RegularFileIsEperm) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  Fd f(open((dir / "f").c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_GE(f.get(), 0);
  Fd d(open(dir.path().c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_GE(d.get(), 0);
  Fd ep(epoll_create1(0));
  EXPECT_SYSCALL_ERRNO(EPERM, Add(ep.get(), f.get(), EPOLLIN, 0));
  EXPECT_SYSCALL_ERRNO(EPERM, Add(ep.get(), d.get(), EPOLLIN, 0));
}

TEST(EpollCtl, Loops) {
  Fd a(epoll_create1(0)), b(epoll_create1(0)), c(epoll_create1(0));
  ASSERT_EQ(Add(a.get(), b.get(), EPOLLIN, 0), 0);
  EXPECT_SYSCALL_ERRNO(ELOOP, Add(b.get(), a.get(), EPOLLIN, 0));
  ASSERT_EQ(Add(b.get(), c.get(), EPOLLIN, 0), 0);
  EXPECT_SYSCALL_ERRNO(ELOOP, Add(c.get(), a.get(), EPOLLIN, 0));
}

TEST(EpollCtl, Exclusive) {
  Fd ep(epoll_create1(0)), inner(epoll_create1(0));
  Pipe p;
  EXPECT_SYSCALL_OK(Add(ep.get(), p.r.get(), EPOLLIN | EPOLLEXCLUSIVE, 0));
  epoll_event ev{};
  ev.events = EPOLLIN;
  EXPECT_SYSCALL_ERRNO(EINVAL, epoll_ctl(ep.get(), EPOLL_CTL_MOD, p.r.get(), &ev));
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;
  EXPECT_SYSCALL_ERRNO(EINVAL, epoll_ctl(ep.get(), EPOLL_CTL_MOD, p.r.get(), &ev));
  EXPECT_SYSCALL_ERRNO(EINVAL,
                       Add(ep.get(), p.w.get(), EPOLLOUT | EPOLLEXCLUSIVE | EPOLLONESHOT, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, Add(ep.get(), inner.get(), EPOLLIN | EPOLLEXCLUSIVE, 0));
}

TEST(EpollWait, Errors) {
  Fd ep(epoll_create1(0));
  Pipe p;
  epoll_event evs[2];
  EXPECT_SYSCALL_ERRNO(EINVAL, epoll_wait(ep.get(), evs, 0, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_epoll_wait, ep.get(), evs, -1, 0));
  EXPECT_SYSCALL_ERRNO(EBADF, epoll_wait(-1, evs, 1, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, epoll_wait(p.r.get(), evs, 1, 0));
  EXPECT_SYSCALL_ERRNO(EFAULT, epoll_wait(ep.get(), static_cast<epoll_event*>(kBadAddr), 1, 0));
  // maxevents is checked before the address.
  EXPECT_SYSCALL_ERRNO(EINVAL, epoll_wait(ep.get(), static_cast<epoll_event*>(kBadAddr), 0, 0));
  // An unmapped (but user) address only faults when there is an event to copy.
  EXPECT_EQ(syscall(SYS_epoll_wait, ep.get(), nullptr, 1, 0), 0);
  ASSERT_EQ(Add(ep.get(), p.w.get(), EPOLLOUT, 0), 0);
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_epoll_wait, ep.get(), nullptr, 1, 0));
}

TEST(EpollWait, LevelTriggered) {
  Fd ep(epoll_create1(0));
  Pipe p;
  ASSERT_EQ(Add(ep.get(), p.r.get(), EPOLLIN, 0x1234567890ULL), 0);
  epoll_event ev[4];
  EXPECT_EQ(epoll_wait(ep.get(), ev, 4, 0), 0);
  ASSERT_EQ(write(p.w.get(), "xy", 2), 2);
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(epoll_wait(ep.get(), ev, 4, 0), 1);
    EXPECT_EQ(ev[0].events, static_cast<uint32_t>(EPOLLIN));
    EXPECT_EQ(ev[0].data.u64, 0x1234567890ULL);
  }
  char buf[2];
  ASSERT_EQ(read(p.r.get(), buf, 2), 2);
  EXPECT_EQ(epoll_wait(ep.get(), ev, 4, 0), 0);
}

TEST(EpollWait, EdgeTriggered) {
  Fd ep(epoll_create1(0));
  Pipe p;
  ASSERT_EQ(Add(ep.get(), p.r.get(), EPOLLIN | EPOLLET, 7), 0);
  epoll_event ev[4];
  ASSERT_EQ(write(p.w.get(), "x", 1), 1);
  ASSERT_EQ(epoll_wait(ep.get(), ev, 4, 0), 1);
  EXPECT_EQ(ev[0].events, static_cast<uint32_t>(EPOLLIN));
  EXPECT_EQ(epoll_wait(ep.get(), ev, 4, 0), 0);  // still readable, but no new edge
  ASSERT_EQ(write(p.w.get(), "y", 1), 1);
  EXPECT_EQ(epoll_wait(ep.get(), ev, 4, 0), 1);
  EXPECT_EQ(epoll_wait(ep.get(), ev, 4, 0), 0);
}

TEST(EpollWait, OneShot) {
  Fd ep(epoll_create1(0));
  Pipe p;
  ASSERT_EQ(Add(ep.get(), p.r.get(), EPOLLIN | EPOLLONESHOT, 1), 0);
  ASSERT_EQ(write(p.w.get(), "x", 1), 1);
  epoll_event ev[4];
  ASSERT_EQ(epoll_wait(ep.get(), ev, 4, 0), 1);
  EXPECT_EQ(epoll_wait(ep.get(), ev, 4, 0), 0);
  ASSERT_EQ(write(p.w.get(), "y", 1), 1);
  EXPECT_EQ(epoll_wait(ep.get(), ev, 4, 0), 0);  // disabled until re-armed
  epoll_event mod{};
  mod.events = EPOLLIN | EPOLLONESHOT;
  mod.data.u64 = 2;
  ASSERT_EQ(epoll_ctl(ep.get(), EPOLL_CTL_MOD, p.r.get(), &mod), 0);
  ASSERT_EQ(epoll_wait(ep.get(), ev, 4, 0), 1);
  EXPECT_EQ(ev[0].data.u64, 2u);
}

TEST(EpollWait, HangupAndError) {
  Fd ep(epoll_create1(0));
  Pipe p;
  ASSERT_EQ(Add(ep.get(), p.r.get(), EPOLLIN, 1), 0);
  ASSERT_EQ(Add(ep.get(), p.w.get(), EPOLLOUT, 2), 0);
  epoll_event ev[4];
  ASSERT_EQ(epoll_wait(ep.get(), ev, 4, 0), 1);
  EXPECT_EQ(ev[0].data.u64, 2u);
  // The reader sees the hang-up once the write end is gone.
  ASSERT_EQ(epoll_ctl(ep.get(), EPOLL_CTL_DEL, p.w.get(), nullptr), 0);
  p.w.Reset();
  ASSERT_EQ(epoll_wait(ep.get(), ev, 4, 0), 1);
  EXPECT_EQ(ev[0].events, static_cast<uint32_t>(EPOLLHUP));
  EXPECT_EQ(ev[0].data.u64, 1u);

  Pipe q;
  ASSERT_EQ(Add(ep.get(), q.w.get(), EPOLLOUT, 3), 0);
  q.r.Reset();
  epoll_event got[4];
  int n = epoll_wait(ep.get(), got, 4, 0);
  bool found = false;
  for (int i = 0; i < n; ++i) {
    if (got[i].data.u64 == 3) {
      found = true;
      EXPECT_EQ(got[i].events, static_cast<uint32_t>(EPOLLOUT | EPOLLERR));
    }
  }
  EXPECT_TRUE(found);
}

TEST(EpollWait, MaxEventsLimits) {
  Fd ep(epoll_create1(0));
  Pipe a, b;
  ASSERT_EQ(Add(ep.get(), a.w.get(), EPOLLOUT, 1), 0);
  ASSERT_EQ(Add(ep.get(), b.w.get(), EPOLLOUT, 2), 0);
  epoll_event ev[2];
  EXPECT_EQ(epoll_wait(ep.get(), ev, 1, 0), 1);
  EXPECT_EQ(epoll_wait(ep.get(), ev, 2, 0), 2);
}

TEST(EpollWait, TimesOut) {
  Fd ep(epoll_create1(0));
  Pipe p;
  ASSERT_EQ(Add(ep.get(), p.r.get(), EPOLLIN, 0), 0);
  epoll_event ev[1];
  int64_t start = NowMs();
  EXPECT_EQ(epoll_wait(ep.get(), ev, 1, 40), 0);
  EXPECT_GE(NowMs() - start, 39);
}

TEST(EpollWait, WokenByAnotherThread) {
  Fd ep(epoll_create1(0));
  Pipe p;
  ASSERT_EQ(Add(ep.get(), p.r.get(), EPOLLIN | EPOLLET, 5), 0);
  std::thread writer([&] {
    usleep(30000);
    ASSERT_EQ(write(p.w.get(), "x", 1), 1);
  });
  epoll_event ev[1];
  ASSERT_EQ(epoll_wait(ep.get(), ev, 1, -1), 1);
  EXPECT_EQ(ev[0].data.u64, 5u);
  writer.join();
}

// A process exiting while one of its threads waits in epoll_wait or a blocking eventfd read
// must not stay behind.
TEST(EpollWait, ExitEndsAWaitInAnotherThread) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int ep = epoll_create1(0);
    int efd = eventfd(0, 0);
    epoll_event ev{};
    ev.events = EPOLLIN;
    epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
    std::thread([ep] {
      epoll_event got[1];
      epoll_wait(ep, got, 1, -1);
    }).detach();
    std::thread([efd] {
      uint64_t v;
      (void)!read(efd, &v, 8);
    }).detach();
    usleep(30000);
    _exit(7);
  }
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7) << status;
}

TEST(EpollWait, Eventfd) {
  Fd ep(epoll_create1(0));
  Fd efd(eventfd(0, EFD_NONBLOCK));
  ASSERT_EQ(Add(ep.get(), efd.get(), EPOLLIN, 9), 0);
  epoll_event ev[1];
  EXPECT_EQ(epoll_wait(ep.get(), ev, 1, 0), 0);
  uint64_t v = 3;
  ASSERT_EQ(write(efd.get(), &v, 8), 8);
  ASSERT_EQ(epoll_wait(ep.get(), ev, 1, 0), 1);
  EXPECT_EQ(ev[0].data.u64, 9u);
}

TEST(EpollWait, Nested) {
  Fd outer(epoll_create1(0)), inner(epoll_create1(0));
  Pipe p;
  ASSERT_EQ(Add(inner.get(), p.r.get(), EPOLLIN, 1), 0);
  ASSERT_EQ(Add(outer.get(), inner.get(), EPOLLIN, 2), 0);
  epoll_event ev[1];
  EXPECT_EQ(epoll_wait(outer.get(), ev, 1, 0), 0);
  pollfd pfd{inner.get(), POLLIN, 0};
  EXPECT_EQ(poll(&pfd, 1, 0), 0);
  std::thread writer([&] {
    usleep(20000);
    ASSERT_EQ(write(p.w.get(), "x", 1), 1);
  });
  ASSERT_EQ(epoll_wait(outer.get(), ev, 1, 5000), 1);
  EXPECT_EQ(ev[0].events, static_cast<uint32_t>(EPOLLIN));
  EXPECT_EQ(ev[0].data.u64, 2u);
  writer.join();
  EXPECT_EQ(poll(&pfd, 1, 0), 1);
  EXPECT_EQ(pfd.revents, POLLIN);
  ASSERT_EQ(epoll_wait(inner.get(), ev, 1, 0), 1);
  EXPECT_EQ(ev[0].data.u64, 1u);
}

TEST(EpollPwait, Sigmask) {
  Fd ep(epoll_create1(0));
  Pipe p;
  ASSERT_EQ(Add(ep.get(), p.w.get(), EPOLLOUT, 0), 0);
  epoll_event ev[1];
  sigset_t mask;
  sigemptyset(&mask);
  EXPECT_EQ(syscall(SYS_epoll_pwait, ep.get(), ev, 1, 0, &mask, 8), 1);
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_epoll_pwait, ep.get(), ev, 1, 0, &mask, 7));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_epoll_pwait, ep.get(), ev, 1, 0, kBadAddr, 8));
  // The mask is checked before maxevents.
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_epoll_pwait, ep.get(), ev, 0, 0, kBadAddr, 8));
  EXPECT_EQ(syscall(SYS_epoll_pwait, ep.get(), ev, 1, 0, nullptr, 7), 1);
}

TEST(EpollPwait2, Timeout) {
  Fd ep(epoll_create1(0));
  Pipe p;
  ASSERT_EQ(Add(ep.get(), p.r.get(), EPOLLIN, 0), 0);
  epoll_event ev[1];
  timespec ts{0, 30000000};
  int64_t start = NowMs();
  EXPECT_EQ(syscall(SYS_epoll_pwait2, ep.get(), ev, 1, &ts, nullptr, 8), 0);
  EXPECT_GE(NowMs() - start, 29);
  ts = {0, 1000000000};
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_epoll_pwait2, ep.get(), ev, 1, &ts, nullptr, 8));
  ts = {-1, 0};
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_epoll_pwait2, ep.get(), ev, 1, &ts, nullptr, 8));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_epoll_pwait2, ep.get(), ev, 1, kBadAddr, nullptr, 8));
  sigset_t mask;
  sigemptyset(&mask);
  ts = {0, 0};
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_epoll_pwait2, ep.get(), ev, 1, &ts, &mask, 4));
  ASSERT_EQ(write(p.w.get(), "x", 1), 1);
  EXPECT_EQ(syscall(SYS_epoll_pwait2, ep.get(), ev, 1, nullptr, &mask, 8), 1);
}

}  // namespace
