// poll, ppoll, select and pselect6 over pipes, eventfds and regular files: readiness (POLLIN,
// POLLOUT, POLLHUP, POLLERR, POLLNVAL), timeouts and the time left written back, waking from
// another thread and another process, and the argument errors (EINVAL, EFAULT, EBADF).
// Signals are not used: the sigmask arguments are only checked.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "syscalls/fs_test_util.h"
#include "syscalls/test_util.h"

namespace {

using conformance::ScratchDir;

// An address no application can map (above the 47-bit user space).
void* const kBadAddr = reinterpret_cast<void*>(0xffff800000000000ULL);

class Fds {
 public:
  Fds() {
    if (pipe(fds_) != 0) fds_[0] = fds_[1] = -1;
  }
  ~Fds() {
    CloseRead();
    CloseWrite();
  }
  int r() const { return fds_[0]; }
  int w() const { return fds_[1]; }
  void CloseRead() {
    if (fds_[0] >= 0) close(fds_[0]);
    fds_[0] = -1;
  }
  void CloseWrite() {
    if (fds_[1] >= 0) close(fds_[1]);
    fds_[1] = -1;
  }

 private:
  int fds_[2];
};

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

TEST(Poll, EmptyPipeIsWritableNotReadable) {
  Fds p;
  pollfd fds[2] = {{p.r(), POLLIN, -1}, {p.w(), POLLOUT, -1}};
  ASSERT_EQ(poll(fds, 2, 0), 1);
  EXPECT_EQ(fds[0].revents, 0);
  EXPECT_EQ(fds[1].revents, POLLOUT);
}

TEST(Poll, PipeWithDataIsReadable) {
  Fds p;
  ASSERT_EQ(write(p.w(), "x", 1), 1);
  pollfd fds[1] = {{p.r(), POLLIN | POLLOUT | POLLRDNORM, 0}};
  ASSERT_EQ(poll(fds, 1, 0), 1);
  EXPECT_EQ(fds[0].revents, POLLIN | POLLRDNORM);  // a read end is never writable
}

TEST(Poll, HangupWhenWriterCloses) {
  Fds p;
  p.CloseWrite();
  pollfd fds[1] = {{p.r(), POLLIN, 0}};
  ASSERT_EQ(poll(fds, 1, 0), 1);
  EXPECT_EQ(fds[0].revents, POLLHUP);  // reported though not asked for
}

TEST(Poll, DataAndHangupTogether) {
  Fds p;
  ASSERT_EQ(write(p.w(), "x", 1), 1);
  p.CloseWrite();
  pollfd fds[1] = {{p.r(), POLLIN, 0}};
  ASSERT_EQ(poll(fds, 1, 0), 1);
  EXPECT_EQ(fds[0].revents, POLLIN | POLLHUP);
}

TEST(Poll, ErrorWhenReaderCloses) {
  Fds p;
  p.CloseRead();
  pollfd fds[1] = {{p.w(), POLLOUT, 0}};
  ASSERT_EQ(poll(fds, 1, 0), 1);
  EXPECT_EQ(fds[0].revents, POLLOUT | POLLERR);
}

TEST(Poll, FullPipeIsNotWritable) {
  Fds p;
  ASSERT_EQ(fcntl(p.w(), F_SETFL, O_NONBLOCK), 0);
  char buf[4096] = {};
  while (write(p.w(), buf, sizeof(buf)) > 0) {
  }
  pollfd fds[1] = {{p.w(), POLLOUT, 0}};
  EXPECT_EQ(poll(fds, 1, 0), 0);
  EXPECT_EQ(fds[0].revents, 0);
}

// A FIFO reader opened while no writer is there does not see a hang-up until a writer has come
// and gone.
TEST(Poll, FifoHangupOnlyAfterAWriter) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  std::string path = dir / "fifo";
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  int r = open(path.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(r, 0);
  pollfd fds[1] = {{r, POLLIN, 0}};
  EXPECT_EQ(poll(fds, 1, 0), 0);
  EXPECT_EQ(fds[0].revents, 0);
  int w = open(path.c_str(), O_WRONLY | O_NONBLOCK);
  ASSERT_GE(w, 0);
  EXPECT_EQ(poll(fds, 1, 0), 0);
  close(w);
  ASSERT_EQ(poll(fds, 1, 0), 1);
  EXPECT_EQ(fds[0].revents, POLLHUP);
  close(r);
}

TEST(Poll, NegativeFdIsIgnored) {
  Fds p;
  ASSERT_EQ(write(p.w(), "x", 1), 1);
  pollfd fds[2] = {{-1, POLLIN, -1}, {p.r(), POLLIN, 0}};
  ASSERT_EQ(poll(fds, 2, 0), 1);
  EXPECT_EQ(fds[0].revents, 0);
  EXPECT_EQ(fds[1].revents, POLLIN);
}

TEST(Poll, ClosedFdIsPollnval) {
  Fds p;
  int fd = dup(p.r());
  ASSERT_GE(fd, 0);
  close(fd);
  pollfd fds[1] = {{fd, POLLIN, 0}};
  ASSERT_EQ(poll(fds, 1, 0), 1);
  EXPECT_EQ(fds[0].revents, POLLNVAL);
  fds[0].events = 0;  // even when nothing is asked for
  ASSERT_EQ(poll(fds, 1, 0), 1);
  EXPECT_EQ(fds[0].revents, POLLNVAL);
}

TEST(Poll, RegularFileAlwaysReady) {
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  int fd = open((dir / "f").c_str(), O_CREAT | O_RDWR, 0600);
  ASSERT_GE(fd, 0);
  pollfd fds[1] = {{fd, POLLIN | POLLOUT | POLLPRI, 0}};
  ASSERT_EQ(poll(fds, 1, -1), 1);
  EXPECT_EQ(fds[0].revents, POLLIN | POLLOUT);
  close(fd);
}

TEST(Poll, Eventfd) {
  int fd = eventfd(0, 0);
  ASSERT_GE(fd, 0);
  pollfd fds[1] = {{fd, POLLIN | POLLOUT, 0}};
  ASSERT_EQ(poll(fds, 1, 0), 1);
  EXPECT_EQ(fds[0].revents, POLLOUT);
  uint64_t one = 1;
  ASSERT_EQ(write(fd, &one, 8), 8);
  ASSERT_EQ(poll(fds, 1, 0), 1);
  EXPECT_EQ(fds[0].revents, POLLIN | POLLOUT);
  close(fd);
}

TEST(Poll, CountsFdsNotEvents) {
  Fds p;
  ASSERT_EQ(write(p.w(), "x", 1), 1);
  pollfd fds[3] = {{p.r(), POLLIN, 0}, {p.w(), POLLOUT, 0}, {p.r(), POLLIN, 0}};
  EXPECT_EQ(poll(fds, 3, 0), 3);
}

TEST(Poll, TimesOut) {
  Fds p;
  pollfd fds[1] = {{p.r(), POLLIN, 0}};
  int64_t start = NowMs();
  ASSERT_EQ(poll(fds, 1, 50), 0);
  EXPECT_GE(NowMs() - start, 49);
  EXPECT_EQ(fds[0].revents, 0);
}

TEST(Poll, NoFdsSleeps) {
  int64_t start = NowMs();
  ASSERT_EQ(poll(nullptr, 0, 30), 0);
  EXPECT_GE(NowMs() - start, 29);
}

TEST(Poll, WokenByAnotherThread) {
  Fds p;
  std::thread writer([&] {
    usleep(30000);
    ASSERT_EQ(write(p.w(), "x", 1), 1);
  });
  pollfd fds[1] = {{p.r(), POLLIN, 0}};
  EXPECT_EQ(poll(fds, 1, -1), 1);
  EXPECT_EQ(fds[0].revents, POLLIN);
  writer.join();
}

TEST(Poll, WokenByWriterClosingInAnotherThread) {
  Fds p;
  std::thread closer([&] {
    usleep(30000);
    p.CloseWrite();
  });
  pollfd fds[1] = {{p.r(), POLLIN, 0}};
  EXPECT_EQ(poll(fds, 1, 5000), 1);
  EXPECT_EQ(fds[0].revents, POLLHUP);
  closer.join();
}

TEST(Poll, WokenByChildProcess) {
  Fds p;
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    usleep(30000);
    _exit(write(p.w(), "x", 1) == 1 ? 0 : 1);
  }
  pollfd fds[1] = {{p.r(), POLLIN, 0}};
  EXPECT_EQ(poll(fds, 1, 5000), 1);
  EXPECT_EQ(fds[0].revents, POLLIN);
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(status, 0);
}

// A process exiting while one of its threads waits in poll must not stay behind.
TEST(Poll, ExitEndsAWaitInAnotherThread) {
  Fds p;
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::thread([&] {
      pollfd fds[1] = {{p.r(), POLLIN, 0}};
      poll(fds, 1, -1);
    }).detach();
    std::thread([&] {
      fd_set r;
      FD_ZERO(&r);
      FD_SET(p.r(), &r);
      select(p.r() + 1, &r, nullptr, nullptr, nullptr);
    }).detach();
    usleep(30000);
    _exit(7);
  }
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7) << status;
}

TEST(Poll, TooManyFdsIsEinval) {
  rlimit rl;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  EXPECT_SYSCALL_ERRNO(EINVAL, poll(nullptr, rl.rlim_cur + 1, 0));
  // At the limit it is the array that is wrong.
  EXPECT_SYSCALL_ERRNO(EFAULT, poll(nullptr, rl.rlim_cur, 0));
}

TEST(Poll, BadArrayIsEfault) {
  EXPECT_SYSCALL_ERRNO(EFAULT, poll(static_cast<pollfd*>(kBadAddr), 1, 0));
}

TEST(Ppoll, NullTimeoutWaitsForever) {
  Fds p;
  std::thread writer([&] {
    usleep(20000);
    ASSERT_EQ(write(p.w(), "x", 1), 1);
  });
  pollfd fds[1] = {{p.r(), POLLIN, 0}};
  EXPECT_EQ(syscall(SYS_ppoll, fds, 1, nullptr, nullptr, 8), 1);
  writer.join();
}

TEST(Ppoll, WritesBackTimeLeft) {
  Fds p;
  pollfd fds[1] = {{p.r(), POLLIN, 0}};
  timespec ts{0, 20000000};
  ASSERT_EQ(syscall(SYS_ppoll, fds, 1, &ts, nullptr, 8), 0);
  EXPECT_EQ(ts.tv_sec, 0);
  EXPECT_EQ(ts.tv_nsec, 0);
  ASSERT_EQ(write(p.w(), "x", 1), 1);
  ts = {100, 0};
  ASSERT_EQ(syscall(SYS_ppoll, fds, 1, &ts, nullptr, 8), 1);
  EXPECT_TRUE(ts.tv_sec == 99 || ts.tv_sec == 100) << ts.tv_sec;
}

TEST(Ppoll, SigmaskIsChecked) {
  Fds p;
  pollfd fds[1] = {{p.w(), POLLOUT, 0}};
  sigset_t mask;
  sigemptyset(&mask);
  timespec zero{0, 0};
  EXPECT_EQ(syscall(SYS_ppoll, fds, 1, &zero, &mask, 8), 1);
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_ppoll, fds, 1, &zero, &mask, 7));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_ppoll, fds, 1, &zero, &mask, 128));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_ppoll, fds, 1, &zero, kBadAddr, 8));
  // No mask: its size does not matter.
  EXPECT_EQ(syscall(SYS_ppoll, fds, 1, &zero, nullptr, 7), 1);
}

TEST(Ppoll, BadTimeout) {
  Fds p;
  pollfd fds[1] = {{p.w(), POLLOUT, 0}};
  timespec bad{0, 1000000000};
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_ppoll, fds, 1, &bad, nullptr, 8));
  bad = {-1, 0};
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_ppoll, fds, 1, &bad, nullptr, 8));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_ppoll, fds, 1, kBadAddr, nullptr, 8));
  // The timeout is checked before the mask.
  bad = {0, -1};
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_ppoll, fds, 1, &bad, kBadAddr, 7));
}

TEST(Select, ReadableAndWritable) {
  Fds p;
  ASSERT_EQ(write(p.w(), "x", 1), 1);
  fd_set r, w;
  FD_ZERO(&r);
  FD_ZERO(&w);
  FD_SET(p.r(), &r);
  FD_SET(p.w(), &r);  // a write end is never readable
  FD_SET(p.r(), &w);  // nor a read end writable
  FD_SET(p.w(), &w);
  timeval tv{0, 0};
  int n = std::max(p.r(), p.w()) + 1;
  ASSERT_EQ(select(n, &r, &w, nullptr, &tv), 2);
  EXPECT_TRUE(FD_ISSET(p.r(), &r));
  EXPECT_FALSE(FD_ISSET(p.w(), &r));
  EXPECT_FALSE(FD_ISSET(p.r(), &w));
  EXPECT_TRUE(FD_ISSET(p.w(), &w));
}

TEST(Select, HangupIsReadable) {
  Fds p;
  p.CloseWrite();
  fd_set r;
  FD_ZERO(&r);
  FD_SET(p.r(), &r);
  timeval tv{0, 0};
  ASSERT_EQ(select(p.r() + 1, &r, nullptr, nullptr, &tv), 1);
  EXPECT_TRUE(FD_ISSET(p.r(), &r));
}

TEST(Select, TimesOutAndWritesBackTimeLeft) {
  Fds p;
  fd_set r;
  FD_ZERO(&r);
  FD_SET(p.r(), &r);
  timeval tv{0, 30000};
  int64_t start = NowMs();
  ASSERT_EQ(select(p.r() + 1, &r, nullptr, nullptr, &tv), 0);
  EXPECT_GE(NowMs() - start, 29);
  EXPECT_FALSE(FD_ISSET(p.r(), &r));
  EXPECT_EQ(tv.tv_sec, 0);
  EXPECT_EQ(tv.tv_usec, 0);
}

TEST(Select, MicrosecondsCarryOver) {
  Fds p;
  fd_set w;
  FD_ZERO(&w);
  FD_SET(p.w(), &w);
  timeval tv{0, 1500000};  // not EINVAL: 1.5 s
  EXPECT_EQ(syscall(SYS_select, p.w() + 1, nullptr, &w, nullptr, &tv), 1);
}

TEST(Select, WokenByAnotherThread) {
  Fds p;
  std::thread writer([&] {
    usleep(30000);
    ASSERT_EQ(write(p.w(), "x", 1), 1);
  });
  fd_set r;
  FD_ZERO(&r);
  FD_SET(p.r(), &r);
  EXPECT_EQ(select(p.r() + 1, &r, nullptr, nullptr, nullptr), 1);
  EXPECT_TRUE(FD_ISSET(p.r(), &r));
  writer.join();
}

TEST(Select, Errors) {
  Fds p;
  fd_set r;
  FD_ZERO(&r);
  timeval tv{0, 0};
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_select, -1, &r, nullptr, nullptr, &tv));
  tv = {-1, 0};
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_select, 1, &r, nullptr, nullptr, &tv));
  tv = {0, -1};
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_select, 1, &r, nullptr, nullptr, &tv));
  tv = {0, 0};
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_select, 1, &r, nullptr, nullptr, kBadAddr));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_select, 1, kBadAddr, nullptr, nullptr, &tv));
  int fd = dup(p.r());
  close(fd);
  FD_SET(fd, &r);
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_select, fd + 1, &r, nullptr, nullptr, &tv));
  // A closed fd beyond nfds is not looked at.
  EXPECT_EQ(syscall(SYS_select, fd, &r, nullptr, nullptr, &tv), 0);
}

TEST(Select, NoSetsSleeps) {
  timeval tv{0, 20000};
  int64_t start = NowMs();
  EXPECT_EQ(select(0, nullptr, nullptr, nullptr, &tv), 0);
  EXPECT_GE(NowMs() - start, 19);
}

struct SigmaskPack {
  const void* ss;
  size_t ss_len;
};

TEST(Pselect6, SigmaskAndTimeout) {
  Fds p;
  fd_set w;
  FD_ZERO(&w);
  FD_SET(p.w(), &w);
  sigset_t mask;
  sigemptyset(&mask);
  timespec ts{0, 0};
  SigmaskPack pack{&mask, 8};
  EXPECT_EQ(syscall(SYS_pselect6, p.w() + 1, nullptr, &w, nullptr, &ts, &pack), 1);
  pack.ss_len = 7;
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_pselect6, p.w() + 1, nullptr, &w, nullptr, &ts, &pack));
  pack = {kBadAddr, 8};
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_pselect6, p.w() + 1, nullptr, &w, nullptr, &ts, &pack));
  EXPECT_SYSCALL_ERRNO(EFAULT,
                       syscall(SYS_pselect6, p.w() + 1, nullptr, &w, nullptr, &ts, kBadAddr));
  pack = {nullptr, 7};  // no mask: the size is not looked at
  EXPECT_EQ(syscall(SYS_pselect6, p.w() + 1, nullptr, &w, nullptr, &ts, &pack), 1);
  ts = {0, 1000000000};
  EXPECT_SYSCALL_ERRNO(EINVAL,
                       syscall(SYS_pselect6, p.w() + 1, nullptr, &w, nullptr, &ts, nullptr));
}

TEST(Pselect6, WritesBackTimeLeft) {
  Fds p;
  fd_set r;
  FD_ZERO(&r);
  FD_SET(p.r(), &r);
  timespec ts{0, 20000000};
  ASSERT_EQ(syscall(SYS_pselect6, p.r() + 1, &r, nullptr, nullptr, &ts, nullptr), 0);
  EXPECT_EQ(ts.tv_sec, 0);
  EXPECT_EQ(ts.tv_nsec, 0);
}

}  // namespace
