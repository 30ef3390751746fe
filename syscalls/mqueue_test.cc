// POSIX message queues: mq_open, mq_unlink, mq_timedsend, mq_timedreceive, mq_notify,
// mq_getsetattr, and the mqueue file system.
#include <dirent.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "syscalls/test_util.h"

namespace {

using conformance::Fd;
using conformance::InChild;
using conformance::Pipe;

// A queue name no other run uses, unlinked at the end of the test.
class QueueName {
 public:
  explicit QueueName(int n)
      : name_("/conformance_mq_" + std::to_string(getpid()) + "_" + std::to_string(n)) {}
  ~QueueName() { mq_unlink(name_.c_str()); }
  QueueName(const QueueName&) = delete;
  QueueName& operator=(const QueueName&) = delete;
  const char* c_str() const { return name_.c_str(); }

 private:
  std::string name_;
};

mq_attr Attr(long maxmsg, long msgsize) {
  mq_attr a{};
  a.mq_maxmsg = maxmsg;
  a.mq_msgsize = msgsize;
  return a;
}

mqd_t Create(const QueueName& name, long maxmsg = 4, long msgsize = 64, int flags = O_RDWR) {
  mq_attr a = Attr(maxmsg, msgsize);
  return mq_open(name.c_str(), O_CREAT | O_EXCL | flags, 0600, &a);
}

timespec In(long ms) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_nsec -= 1000000000L;
    ts.tv_sec++;
  }
  return ts;
}

TEST(MqueueTest, CreateOpenUnlink) {
  QueueName name(1);
  Fd q(Create(name, 4, 64));
  ASSERT_TRUE(q.ok()) << strerror(errno);
  mq_attr a{};
  ASSERT_SYSCALL_OK(mq_getattr(q.get(), &a));
  EXPECT_EQ(a.mq_maxmsg, 4);
  EXPECT_EQ(a.mq_msgsize, 64);
  EXPECT_EQ(a.mq_curmsgs, 0);
  EXPECT_EQ(a.mq_flags, 0);
  // Queue descriptors are close-on-exec.
  EXPECT_EQ(fcntl(q.get(), F_GETFD), FD_CLOEXEC);
  struct stat st {};
  ASSERT_SYSCALL_OK(fstat(q.get(), &st));
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_uid, geteuid());
  mq_attr b = Attr(4, 64);
  EXPECT_SYSCALL_ERRNO(EEXIST, mq_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &b));
  Fd again(mq_open(name.c_str(), O_RDONLY));
  EXPECT_TRUE(again.ok()) << strerror(errno);
  // O_CREAT without O_EXCL opens the existing queue (its attributes stay).
  mq_attr other = Attr(2, 16);
  Fd third(mq_open(name.c_str(), O_CREAT | O_WRONLY, 0600, &other));
  ASSERT_TRUE(third.ok());
  ASSERT_SYSCALL_OK(mq_getattr(third.get(), &a));
  EXPECT_EQ(a.mq_maxmsg, 4);
  ASSERT_SYSCALL_OK(mq_unlink(name.c_str()));
  EXPECT_SYSCALL_ERRNO(ENOENT, mq_open(name.c_str(), O_RDONLY));
  EXPECT_SYSCALL_ERRNO(ENOENT, mq_unlink(name.c_str()));
}

TEST(MqueueTest, DefaultAttributes) {
  QueueName name(2);
  Fd q(mq_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, nullptr));
  ASSERT_TRUE(q.ok()) << strerror(errno);
  mq_attr a{};
  ASSERT_SYSCALL_OK(mq_getattr(q.get(), &a));
  EXPECT_GT(a.mq_maxmsg, 0);
  EXPECT_GT(a.mq_msgsize, 0);
}

TEST(MqueueTest, NameRules) {
  EXPECT_SYSCALL_ERRNO(EINVAL, mq_open("no_slash", O_CREAT | O_RDWR, 0600, nullptr));
  EXPECT_SYSCALL_ERRNO(EACCES, mq_open("/two/slashes", O_CREAT | O_RDWR, 0600, nullptr));
  std::string long_name = "/" + std::string(NAME_MAX + 1, 'x');
  EXPECT_SYSCALL_ERRNO(ENAMETOOLONG, mq_open(long_name.c_str(), O_CREAT | O_RDWR, 0600, nullptr));
  EXPECT_SYSCALL_ERRNO(EINVAL, mq_unlink("no_slash"));
  EXPECT_SYSCALL_ERRNO(ENOENT, mq_open("/", O_CREAT | O_RDWR, 0600, nullptr));
  EXPECT_SYSCALL_ERRNO(ENOENT, mq_unlink("/"));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_mq_open, 8, O_RDONLY, 0, nullptr));
  EXPECT_SYSCALL_ERRNO(ENOENT, mq_open("/conformance_mq_never_created", O_RDONLY));
}

TEST(MqueueTest, AttributeLimits) {
  QueueName name(3);
  mq_attr a = Attr(0, 64);
  EXPECT_SYSCALL_ERRNO(EINVAL, mq_open(name.c_str(), O_CREAT | O_RDWR, 0600, &a));
  a = Attr(4, 0);
  EXPECT_SYSCALL_ERRNO(EINVAL, mq_open(name.c_str(), O_CREAT | O_RDWR, 0600, &a));
  a = Attr(-1, 64);
  EXPECT_SYSCALL_ERRNO(EINVAL, mq_open(name.c_str(), O_CREAT | O_RDWR, 0600, &a));
  a = Attr(65537, 64);  // above HARD_MSGMAX, which even CAP_SYS_RESOURCE cannot pass
  EXPECT_SYSCALL_ERRNO(EINVAL, mq_open(name.c_str(), O_CREAT | O_RDWR, 0600, &a));
  a = Attr(4, (16 << 20) + 1);
  EXPECT_SYSCALL_ERRNO(EINVAL, mq_open(name.c_str(), O_CREAT | O_RDWR, 0600, &a));
  EXPECT_SYSCALL_ERRNO(
      EFAULT, mq_open(name.c_str(), O_CREAT | O_RDWR, 0600, reinterpret_cast<mq_attr*>(8)));
  // Without CAP_SYS_RESOURCE, /proc/sys/fs/mqueue's msg_max (10 by default) is the limit.
  EXPECT_EQ(InChild([&] {
              if (setresuid(65534, 65534, 65534) != 0) return 1;
              mq_attr big = Attr(100000, 64);
              if (mq_open(name.c_str(), O_CREAT | O_RDWR, 0600, &big) != -1 || errno != EINVAL) {
                return 2;
              }
              return 0;
            }),
            0);
}

TEST(MqueueTest, QueuesCountAgainstRlimitMsgqueue) {
  QueueName big(18), small(19);
  // Another user, whose queues are all this test's.
  EXPECT_EQ(InChild([&] {
              if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) {
                return 1;
              }
              rlimit lim = {1000, 1000};
              if (setrlimit(RLIMIT_MSGQUEUE, &lim) != 0) return 2;
              mq_attr a = Attr(4, 1024);
              if (mq_open(big.c_str(), O_CREAT | O_RDWR, 0600, &a) != -1 || errno != EMFILE) {
                return 3;
              }
              a = Attr(2, 8);
              mqd_t q = mq_open(small.c_str(), O_CREAT | O_RDWR, 0600, &a);
              if (q == -1) return 4;
              // The charge goes with the queue.
              mq_close(q);
              if (mq_unlink(small.c_str()) != 0) return 5;
              q = mq_open(small.c_str(), O_CREAT | O_RDWR, 0600, &a);
              if (q == -1) return 6;
              mq_close(q);
              return mq_unlink(small.c_str()) == 0 ? 0 : 7;
            }),
            0);
}

TEST(MqueueTest, PriorityOrder) {
  QueueName name(4);
  Fd q(Create(name, 8, 16));
  ASSERT_TRUE(q.ok());
  ASSERT_SYSCALL_OK(mq_send(q.get(), "a", 1, 1));
  ASSERT_SYSCALL_OK(mq_send(q.get(), "bb", 2, 5));
  ASSERT_SYSCALL_OK(mq_send(q.get(), "c", 1, 1));
  ASSERT_SYSCALL_OK(mq_send(q.get(), "dd", 2, 5));
  ASSERT_SYSCALL_OK(mq_send(q.get(), "", 0, 0));
  mq_attr a{};
  ASSERT_SYSCALL_OK(mq_getattr(q.get(), &a));
  EXPECT_EQ(a.mq_curmsgs, 5);
  const char* want[] = {"bb", "dd", "a", "c", ""};
  unsigned want_prio[] = {5, 5, 1, 1, 0};
  for (int i = 0; i < 5; ++i) {
    char buf[16] = {};
    unsigned prio = 99;
    ASSERT_EQ(mq_receive(q.get(), buf, sizeof(buf), &prio), static_cast<ssize_t>(strlen(want[i])));
    EXPECT_STREQ(buf, want[i]);
    EXPECT_EQ(prio, want_prio[i]);
  }
}

TEST(MqueueTest, SizesAndPriorities) {
  QueueName name(5);
  Fd q(Create(name, 4, 8));
  ASSERT_TRUE(q.ok());
  char buf[64] = {};
  EXPECT_SYSCALL_ERRNO(EMSGSIZE, mq_send(q.get(), buf, 9, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, mq_send(q.get(), buf, 1, 32768));
  ASSERT_SYSCALL_OK(mq_send(q.get(), buf, 8, 32767));
  EXPECT_SYSCALL_ERRNO(EMSGSIZE, mq_receive(q.get(), buf, 7, nullptr));
  EXPECT_SYSCALL_ERRNO(EFAULT, mq_send(q.get(), reinterpret_cast<char*>(8), 1, 0));
  unsigned prio;
  EXPECT_EQ(mq_receive(q.get(), buf, 8, &prio), 8);
  EXPECT_EQ(prio, 32767u);
}

TEST(MqueueTest, NonBlocking) {
  QueueName name(6);
  Fd q(Create(name, 2, 8, O_RDWR | O_NONBLOCK));
  ASSERT_TRUE(q.ok());
  char buf[8];
  EXPECT_SYSCALL_ERRNO(EAGAIN, mq_receive(q.get(), buf, sizeof(buf), nullptr));
  ASSERT_SYSCALL_OK(mq_send(q.get(), "1", 1, 0));
  ASSERT_SYSCALL_OK(mq_send(q.get(), "2", 1, 0));
  EXPECT_SYSCALL_ERRNO(EAGAIN, mq_send(q.get(), "3", 1, 0));
  mq_attr a{};
  ASSERT_SYSCALL_OK(mq_getattr(q.get(), &a));
  EXPECT_EQ(a.mq_flags, O_NONBLOCK);
  EXPECT_EQ(a.mq_curmsgs, 2);
}

TEST(MqueueTest, Timeouts) {
  QueueName name(7);
  Fd q(Create(name, 1, 8));
  ASSERT_TRUE(q.ok());
  char buf[8];
  timespec soon = In(20);
  EXPECT_SYSCALL_ERRNO(ETIMEDOUT, mq_timedreceive(q.get(), buf, sizeof(buf), nullptr, &soon));
  timespec past = {1, 0};
  EXPECT_SYSCALL_ERRNO(ETIMEDOUT, mq_timedreceive(q.get(), buf, sizeof(buf), nullptr, &past));
  timespec bad = In(1000);
  bad.tv_nsec = 1000000000L;
  EXPECT_SYSCALL_ERRNO(EINVAL, mq_timedreceive(q.get(), buf, sizeof(buf), nullptr, &bad));
  bad.tv_nsec = -1;
  EXPECT_SYSCALL_ERRNO(EINVAL, mq_timedsend(q.get(), "x", 1, 0, &bad));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_mq_timedreceive, q.get(), buf, sizeof(buf), nullptr, 8));
  ASSERT_SYSCALL_OK(mq_send(q.get(), "x", 1, 0));
  soon = In(20);
  EXPECT_SYSCALL_ERRNO(ETIMEDOUT, mq_timedsend(q.get(), "y", 1, 0, &soon));
  // A timeout does not matter when the call need not wait.
  EXPECT_EQ(mq_timedreceive(q.get(), buf, sizeof(buf), nullptr, &past), 1);
}

TEST(MqueueTest, WrongDescriptor) {
  QueueName name(8);
  Fd rw(Create(name, 2, 8));
  ASSERT_TRUE(rw.ok());
  Fd ro(mq_open(name.c_str(), O_RDONLY));
  Fd wo(mq_open(name.c_str(), O_WRONLY));
  ASSERT_TRUE(ro.ok());
  ASSERT_TRUE(wo.ok());
  char buf[8];
  EXPECT_SYSCALL_ERRNO(EBADF, mq_send(ro.get(), "x", 1, 0));
  EXPECT_SYSCALL_ERRNO(EBADF, mq_receive(wo.get(), buf, sizeof(buf), nullptr));
  ASSERT_SYSCALL_OK(mq_send(wo.get(), "x", 1, 0));
  EXPECT_EQ(mq_receive(ro.get(), buf, sizeof(buf), nullptr), 1);
  Pipe p;
  ASSERT_TRUE(p.ok());
  EXPECT_SYSCALL_ERRNO(EBADF, mq_send(p.w(), "x", 1, 0));
  mq_attr a{};
  EXPECT_SYSCALL_ERRNO(EBADF, mq_getattr(p.r(), &a));
  EXPECT_SYSCALL_ERRNO(EBADF, mq_notify(p.r(), nullptr));
  EXPECT_SYSCALL_ERRNO(EBADF, mq_receive(-1, buf, sizeof(buf), nullptr));
  EXPECT_SYSCALL_ERRNO(EINVAL, mq_open(name.c_str(), O_RDWR | O_WRONLY));
}

TEST(MqueueTest, SetAttributes) {
  QueueName name(9);
  Fd q(Create(name, 2, 8));
  ASSERT_TRUE(q.ok());
  mq_attr set{}, old{};
  set.mq_flags = O_NONBLOCK;
  set.mq_maxmsg = 100;  // ignored: only O_NONBLOCK changes
  ASSERT_SYSCALL_OK(mq_setattr(q.get(), &set, &old));
  EXPECT_EQ(old.mq_flags, 0);
  EXPECT_EQ(old.mq_maxmsg, 2);
  mq_attr now{};
  ASSERT_SYSCALL_OK(mq_getattr(q.get(), &now));
  EXPECT_EQ(now.mq_flags, O_NONBLOCK);
  EXPECT_EQ(now.mq_maxmsg, 2);
  EXPECT_TRUE(fcntl(q.get(), F_GETFL) & O_NONBLOCK);
  char buf[8];
  EXPECT_SYSCALL_ERRNO(EAGAIN, mq_receive(q.get(), buf, sizeof(buf), nullptr));
  set.mq_flags = O_NONBLOCK | O_APPEND;
  EXPECT_SYSCALL_ERRNO(EINVAL, mq_setattr(q.get(), &set, nullptr));
  EXPECT_SYSCALL_ERRNO(EFAULT, mq_setattr(q.get(), reinterpret_cast<mq_attr*>(8), nullptr));
  EXPECT_SYSCALL_ERRNO(EFAULT, mq_getattr(q.get(), reinterpret_cast<mq_attr*>(8)));
  // fcntl changes the same flag.
  ASSERT_SYSCALL_OK(fcntl(q.get(), F_SETFL, 0));
  ASSERT_SYSCALL_OK(mq_getattr(q.get(), &now));
  EXPECT_EQ(now.mq_flags, 0);
}

TEST(MqueueTest, PollAndEpoll) {
  QueueName name(10);
  Fd q(Create(name, 1, 8));
  ASSERT_TRUE(q.ok());
  pollfd pfd = {q.get(), POLLIN | POLLOUT, 0};
  ASSERT_EQ(poll(&pfd, 1, 0), 1);
  EXPECT_EQ(pfd.revents, POLLOUT);
  Fd ep(epoll_create1(0));
  ASSERT_TRUE(ep.ok());
  epoll_event ev{};
  ev.events = EPOLLIN;
  ASSERT_SYSCALL_OK(epoll_ctl(ep.get(), EPOLL_CTL_ADD, q.get(), &ev));
  epoll_event out{};
  EXPECT_EQ(epoll_wait(ep.get(), &out, 1, 0), 0);
  // Another process sends while this one waits.
  Pipe go;
  ASSERT_TRUE(go.ok());
  int qfd = q.get();
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    if (read(go.r(), &c, 1) != 1) _exit(1);
    _exit(mq_send(qfd, "x", 1, 0) == 0 ? 0 : 2);
  }
  ASSERT_GT(pid, 0);
  char c = 1;
  ASSERT_EQ(write(go.w(), &c, 1), 1);
  ASSERT_EQ(epoll_wait(ep.get(), &out, 1, 30000), 1);
  EXPECT_EQ(out.events, static_cast<uint32_t>(EPOLLIN));
  pfd.revents = 0;
  ASSERT_EQ(poll(&pfd, 1, 0), 1);
  EXPECT_EQ(pfd.revents, POLLIN);  // full: not writable
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(status, 0);
}

TEST(MqueueTest, BlockedReceiverAcrossFork) {
  QueueName name(11);
  Fd q(Create(name, 2, 16));
  ASSERT_TRUE(q.ok());
  int qfd = q.get();
  pid_t pid = fork();
  if (pid == 0) {
    char buf[16] = {};
    unsigned prio;
    ssize_t n = mq_receive(qfd, buf, sizeof(buf), &prio);
    _exit(n == 5 && prio == 3 && memcmp(buf, "hello", 5) == 0 ? 0 : 1);
  }
  ASSERT_GT(pid, 0);
  ASSERT_SYSCALL_OK(mq_send(q.get(), "hello", 5, 3));
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(MqueueTest, UnlinkedQueueLivesUntilClosed) {
  QueueName name(12);
  Fd q(Create(name, 2, 8));
  ASSERT_TRUE(q.ok());
  ASSERT_SYSCALL_OK(mq_send(q.get(), "x", 1, 0));
  ASSERT_SYSCALL_OK(mq_unlink(name.c_str()));
  char buf[8];
  EXPECT_EQ(mq_receive(q.get(), buf, sizeof(buf), nullptr), 1);
  // The name is free for a new, empty queue.
  Fd fresh(Create(name, 2, 8, O_RDWR | O_NONBLOCK));
  ASSERT_TRUE(fresh.ok());
  ASSERT_SYSCALL_OK(mq_send(q.get(), "y", 1, 0));
  EXPECT_SYSCALL_ERRNO(EAGAIN, mq_receive(fresh.get(), buf, sizeof(buf), nullptr));
}

TEST(MqueueTest, Permissions) {
  QueueName name(13);
  mq_attr a = Attr(2, 8);
  Fd q(mq_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0604, &a));
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(InChild([&] {
              if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) {
                return 1;
              }
              if (mq_open(name.c_str(), O_WRONLY) != -1 || errno != EACCES) return 2;
              mqd_t r = mq_open(name.c_str(), O_RDONLY);
              if (r == -1) return 3;
              // Only the owner removes a queue from the sticky directory: EPERM, which glibc
              // reports as EACCES.
              if (syscall(SYS_mq_unlink, name.c_str() + 1) != -1 || errno != EPERM) return 4;
              if (mq_unlink(name.c_str()) != -1 || errno != EACCES) return 5;
              return 0;
            }),
            0);
}

TEST(MqueueTest, NotifySignal) {
  QueueName name(14);
  Fd q(Create(name, 2, 8));
  ASSERT_TRUE(q.ok());
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigset_t old;
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &set, &old), 0);
  sigevent sev{};
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = SIGUSR1;
  sev.sigev_value.sival_int = 42;
  ASSERT_SYSCALL_OK(mq_notify(q.get(), &sev));
  // One registration per queue, even for the same process, and not for another.
  EXPECT_SYSCALL_ERRNO(EBUSY, mq_notify(q.get(), &sev));
  int qfd = q.get();
  EXPECT_EQ(InChild([&] {
              sigevent s{};
              s.sigev_notify = SIGEV_NONE;
              return mq_notify(qfd, &s) == -1 && errno == EBUSY ? 0 : 1;
            }),
            0);
  // The queue file says who is registered.
  char text[128] = {};
  ASSERT_GT(pread(q.get(), text, sizeof(text) - 1, 0), 0);
  char want[128];
  snprintf(want, sizeof(want), "QSIZE:%-10lu NOTIFY:%-5d SIGNO:%-5d NOTIFY_PID:%-6d\n", 0UL,
           SIGEV_SIGNAL, SIGUSR1, getpid());
  EXPECT_STREQ(text, want);

  ASSERT_SYSCALL_OK(mq_send(q.get(), "abc", 3, 0));
  siginfo_t info{};
  timespec wait = {30, 0};
  ASSERT_EQ(sigtimedwait(&set, &info, &wait), SIGUSR1);
  EXPECT_EQ(info.si_code, SI_MESGQ);
  EXPECT_EQ(info.si_value.sival_int, 42);
  EXPECT_EQ(info.si_pid, getpid());
  // The registration went with the notification.
  memset(text, 0, sizeof(text));
  ASSERT_GT(pread(q.get(), text, sizeof(text) - 1, 0), 0);
  snprintf(want, sizeof(want), "QSIZE:%-10lu NOTIFY:%-5d SIGNO:%-5d NOTIFY_PID:%-6d\n", 3UL, 0, 0,
           0);
  EXPECT_STREQ(text, want);
  // Only a message into an empty queue notifies.
  ASSERT_SYSCALL_OK(mq_notify(q.get(), &sev));
  ASSERT_SYSCALL_OK(mq_send(q.get(), "d", 1, 0));
  timespec none = {0, 0};
  EXPECT_SYSCALL_ERRNO(EAGAIN, sigtimedwait(&set, &info, &none));
  // Unregistering lets another process register.
  ASSERT_SYSCALL_OK(mq_notify(q.get(), nullptr));
  EXPECT_EQ(InChild([&] {
              sigevent s{};
              s.sigev_notify = SIGEV_NONE;
              return mq_notify(qfd, &s) == 0 ? 0 : 1;
            }),
            0);
  sigprocmask(SIG_SETMASK, &old, nullptr);
}

TEST(MqueueTest, NotifyAnotherProcess) {
  QueueName name(20);
  Fd q(Create(name, 2, 8));
  ASSERT_TRUE(q.ok());
  int qfd = q.get();
  pid_t parent = getpid();
  Pipe registered;
  ASSERT_TRUE(registered.ok());
  pid_t pid = fork();
  if (pid == 0) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    sigevent sev{};
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGUSR2;
    sev.sigev_value.sival_int = 7;
    if (mq_notify(qfd, &sev) != 0) _exit(1);
    char c = 1;
    if (write(registered.w(), &c, 1) != 1) _exit(2);
    siginfo_t info{};
    timespec wait = {30, 0};
    if (sigtimedwait(&set, &info, &wait) != SIGUSR2) _exit(3);
    _exit(info.si_code == SI_MESGQ && info.si_pid == parent && info.si_value.sival_int == 7 ? 0
                                                                                            : 4);
  }
  ASSERT_GT(pid, 0);
  char c;
  ASSERT_EQ(read(registered.r(), &c, 1), 1);
  sigevent mine{};
  mine.sigev_notify = SIGEV_NONE;
  EXPECT_SYSCALL_ERRNO(EBUSY, mq_notify(q.get(), &mine));
  // Unregistering is the owner's business: this does nothing.
  EXPECT_SYSCALL_OK(mq_notify(q.get(), nullptr));
  ASSERT_SYSCALL_OK(mq_send(q.get(), "m", 1, 0));
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(MqueueTest, NotifyArguments) {
  QueueName name(15);
  Fd q(Create(name, 2, 8));
  ASSERT_TRUE(q.ok());
  sigevent sev{};
  sev.sigev_notify = 12345;
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_mq_notify, q.get(), &sev));
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = 65;
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_mq_notify, q.get(), &sev));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_mq_notify, q.get(), 8));
  // SIGEV_THREAD wants a netlink socket in sigev_signo (glibc makes one).
  char cookie[32] = {};
  Pipe p;
  ASSERT_TRUE(p.ok());
  sev.sigev_notify = SIGEV_THREAD;
  sev.sigev_value.sival_ptr = cookie;
  sev.sigev_signo = p.r();
  EXPECT_SYSCALL_ERRNO(ENOTSOCK, syscall(SYS_mq_notify, q.get(), &sev));
  sev.sigev_signo = 1000;
  EXPECT_SYSCALL_ERRNO(EBADF, syscall(SYS_mq_notify, q.get(), &sev));
  // Unregistering when not registered is fine.
  EXPECT_SYSCALL_OK(mq_notify(q.get(), nullptr));
}

TEST(MqueueTest, QueueFileText) {
  QueueName name(16);
  Fd q(Create(name, 4, 16));
  ASSERT_TRUE(q.ok());
  ASSERT_SYSCALL_OK(mq_send(q.get(), "12345", 5, 0));
  ASSERT_SYSCALL_OK(mq_send(q.get(), "678", 3, 0));
  char text[128] = {};
  ASSERT_GT(read(q.get(), text, sizeof(text) - 1), 0);
  char want[128];
  snprintf(want, sizeof(want), "QSIZE:%-10lu NOTIFY:%-5d SIGNO:%-5d NOTIFY_PID:%-6d\n", 8UL, 0, 0,
           0);
  EXPECT_STREQ(text, want);
  EXPECT_EQ(read(q.get(), text, sizeof(text)), 0);  // the position moved past it
}

TEST(MqueueTest, MountedFilesystem) {
  QueueName name(17);
  Fd q(Create(name, 2, 8));
  ASSERT_TRUE(q.ok());
  ASSERT_SYSCALL_OK(mq_send(q.get(), "abcd", 4, 0));
  std::string base = name.c_str() + 1;
  EXPECT_EQ(
      InChild([&] {
        // A mount namespace of our own (natively; the sandbox's is its own already).
        if (unshare(CLONE_NEWNS) == 0) {
          if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 1;
        } else if (errno != ENOSYS) {
          return 2;
        }
        char dir[] = "/tmp/mqueue_test_XXXXXX";
        if (mkdtemp(dir) == nullptr) return 3;
        int ret = 0;
        if (mount("none", dir, "mqueue", 0, nullptr) != 0) {
          ret = 4;
        } else {
          std::string path = std::string(dir) + "/" + base;
          struct stat st {};
          struct statfs fs {};
          char text[128] = {};
          int fd = open(path.c_str(), O_RDONLY);
          if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0777) != 0600) {
            ret = 5;
          } else if (statfs(dir, &fs) != 0 || fs.f_type != 0x19800202) {
            ret = 6;
          } else if (fd < 0 || read(fd, text, sizeof(text)) <= 0 ||
                     strncmp(text, "QSIZE:4 ", 8) != 0) {
            ret = 7;
          } else if (unlink(path.c_str()) != 0) {
            ret = 8;
          } else if (mq_open(("/" + base).c_str(), O_RDONLY) != -1 || errno != ENOENT) {
            ret = 9;
          } else if (mkdir((std::string(dir) + "/sub").c_str(), 0700) != -1) {
            ret = 10;
          }
          if (fd >= 0) close(fd);
          umount(dir);
        }
        rmdir(dir);
        return ret;
      }),
      0);
  // The queue went with its name; the open one still works.
  EXPECT_SYSCALL_ERRNO(ENOENT, mq_open(name.c_str(), O_RDONLY));
  char buf[8];
  EXPECT_EQ(mq_receive(q.get(), buf, sizeof(buf), nullptr), 4);
}

}  // namespace
