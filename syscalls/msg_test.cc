// System V message queues: msgget, msgsnd, msgrcv, msgctl.
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <vector>

#include "syscalls/test_util.h"

namespace {

using conformance::InChild;

class Queue {
 public:
  explicit Queue(int id) : id_(id) {}
  ~Queue() {
    if (id_ >= 0) msgctl(id_, IPC_RMID, nullptr);
  }
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;
  int id() const { return id_; }
  void Release() { id_ = -1; }

 private:
  int id_;
};

struct Buf {
  long mtype;
  char mtext[8192];
};

key_t UniqueKey(int n) { return static_cast<key_t>(0x4d530000 | ((getpid() & 0xfff) << 4) | n); }

int Send(int id, long type, const char* text, int flags = 0) {
  Buf b{};
  b.mtype = type;
  strcpy(b.mtext, text);
  return msgsnd(id, &b, strlen(text), flags);
}

msqid_ds Stat(int id) {
  msqid_ds ds{};
  EXPECT_SYSCALL_OK(msgctl(id, IPC_STAT, &ds));
  return ds;
}

// Waits (at most about 30 s) until the queue holds `n` messages.
bool WaitForCount(int id, unsigned n) {
  for (int i = 0; i < 30000; ++i) {
    msqid_ds ds{};
    if (msgctl(id, IPC_STAT, &ds) == 0 && ds.msg_qnum == n) return true;
    usleep(1000);
  }
  return false;
}

TEST(MsgTest, CreateAndStat) {
  Queue q(msgget(IPC_PRIVATE, IPC_CREAT | 0640));
  ASSERT_GE(q.id(), 0) << strerror(errno);
  msqid_ds ds = Stat(q.id());
  EXPECT_EQ(ds.msg_perm.mode & 0777, 0640u);
  EXPECT_EQ(ds.msg_qnum, 0u);
  EXPECT_EQ(ds.msg_cbytes, 0u);
  EXPECT_EQ(ds.msg_qbytes, 16384u);
  EXPECT_EQ(ds.msg_perm.cuid, geteuid());
  key_t key = UniqueKey(1);
  Queue k(msgget(key, IPC_CREAT | IPC_EXCL | 0600));
  ASSERT_GE(k.id(), 0);
  EXPECT_SYSCALL_ERRNO(EEXIST, msgget(key, IPC_CREAT | IPC_EXCL | 0600));
  EXPECT_EQ(msgget(key, 0), k.id());
  EXPECT_SYSCALL_ERRNO(ENOENT, msgget(UniqueKey(2), 0600));
}

TEST(MsgTest, SendAndReceiveByType) {
  Queue q(msgget(IPC_PRIVATE, 0600));
  ASSERT_GE(q.id(), 0);
  ASSERT_SYSCALL_OK(Send(q.id(), 3, "three"));
  ASSERT_SYSCALL_OK(Send(q.id(), 1, "one"));
  ASSERT_SYSCALL_OK(Send(q.id(), 2, "two"));
  ASSERT_SYSCALL_OK(Send(q.id(), 1, "uno"));
  msqid_ds ds = Stat(q.id());
  EXPECT_EQ(ds.msg_qnum, 4u);
  EXPECT_EQ(ds.msg_cbytes, 14u);
  EXPECT_EQ(ds.msg_lspid, getpid());
  Buf b{};
  // A type: the first of it.
  ASSERT_EQ(msgrcv(q.id(), &b, sizeof(b.mtext), 2, 0), 3);
  EXPECT_EQ(b.mtype, 2);
  EXPECT_EQ(std::string(b.mtext, 3), "two");
  // Negative: the lowest type up to |msgtyp|, first of them.
  ASSERT_EQ(msgrcv(q.id(), &b, sizeof(b.mtext), -5, 0), 3);
  EXPECT_EQ(std::string(b.mtext, 3), "one");
  // MSG_EXCEPT: the first of another type.
  ASSERT_EQ(msgrcv(q.id(), &b, sizeof(b.mtext), 1, MSG_EXCEPT), 5);
  EXPECT_EQ(b.mtype, 3);
  // Zero: the first.
  ASSERT_EQ(msgrcv(q.id(), &b, sizeof(b.mtext), 0, 0), 3);
  EXPECT_EQ(std::string(b.mtext, 3), "uno");
  EXPECT_SYSCALL_ERRNO(ENOMSG, msgrcv(q.id(), &b, sizeof(b.mtext), 0, IPC_NOWAIT));
  ds = Stat(q.id());
  EXPECT_EQ(ds.msg_qnum, 0u);
  EXPECT_EQ(ds.msg_lrpid, getpid());
}

TEST(MsgTest, TooLongForTheBuffer) {
  Queue q(msgget(IPC_PRIVATE, 0600));
  ASSERT_GE(q.id(), 0);
  ASSERT_SYSCALL_OK(Send(q.id(), 1, "abcdef"));
  Buf b{};
  EXPECT_SYSCALL_ERRNO(E2BIG, msgrcv(q.id(), &b, 3, 0, IPC_NOWAIT));
  EXPECT_EQ(Stat(q.id()).msg_qnum, 1u);  // still there
  ASSERT_EQ(msgrcv(q.id(), &b, 3, 0, IPC_NOWAIT | MSG_NOERROR), 3);
  EXPECT_EQ(std::string(b.mtext, 3), "abc");
  EXPECT_EQ(Stat(q.id()).msg_qnum, 0u);  // the rest is gone
}

TEST(MsgTest, CopyLeavesTheMessage) {
  Queue q(msgget(IPC_PRIVATE, 0600));
  ASSERT_GE(q.id(), 0);
  ASSERT_SYSCALL_OK(Send(q.id(), 1, "a"));
  ASSERT_SYSCALL_OK(Send(q.id(), 2, "bc"));
  Buf b{};
  // msgtyp is the message's index in the queue.
  ASSERT_EQ(msgrcv(q.id(), &b, sizeof(b.mtext), 1, MSG_COPY | IPC_NOWAIT), 2);
  EXPECT_EQ(b.mtype, 2);
  EXPECT_EQ(std::string(b.mtext, 2), "bc");
  EXPECT_EQ(Stat(q.id()).msg_qnum, 2u);
  EXPECT_SYSCALL_ERRNO(EINVAL, msgrcv(q.id(), &b, sizeof(b.mtext), 0, MSG_COPY));
  EXPECT_SYSCALL_ERRNO(EINVAL,
                       msgrcv(q.id(), &b, sizeof(b.mtext), 0, MSG_COPY | IPC_NOWAIT | MSG_EXCEPT));
  EXPECT_SYSCALL_ERRNO(ENOMSG, msgrcv(q.id(), &b, sizeof(b.mtext), 5, MSG_COPY | IPC_NOWAIT));
}

TEST(MsgTest, BadArguments) {
  Queue q(msgget(IPC_PRIVATE, 0600));
  ASSERT_GE(q.id(), 0);
  EXPECT_SYSCALL_ERRNO(EINVAL, Send(q.id(), 0, "x"));
  EXPECT_SYSCALL_ERRNO(EINVAL, Send(q.id(), -1, "x"));
  EXPECT_SYSCALL_ERRNO(EINVAL, Send(-1, 1, "x"));
  EXPECT_SYSCALL_ERRNO(EINVAL, Send(q.id() + 1, 1, "x"));
  Buf b{};
  b.mtype = 1;
  EXPECT_SYSCALL_ERRNO(EINVAL, msgsnd(q.id(), &b, 8193, 0));
  EXPECT_SYSCALL_ERRNO(EFAULT, msgsnd(q.id(), reinterpret_cast<void*>(8), 1, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, msgrcv(-1, &b, 1, 0, IPC_NOWAIT));
  EXPECT_SYSCALL_ERRNO(EINVAL, msgrcv(q.id(), &b, static_cast<size_t>(-1), 0, IPC_NOWAIT));
  EXPECT_SYSCALL_ERRNO(EINVAL, msgctl(q.id(), 12345, nullptr));
  EXPECT_SYSCALL_ERRNO(EFAULT, msgctl(q.id(), IPC_STAT, reinterpret_cast<msqid_ds*>(8)));
  // A receive whose copy fails loses the message, as on Linux.
  ASSERT_SYSCALL_OK(Send(q.id(), 1, "lost"));
  EXPECT_SYSCALL_ERRNO(EFAULT, msgrcv(q.id(), reinterpret_cast<void*>(8), 100, 0, IPC_NOWAIT));
  EXPECT_EQ(Stat(q.id()).msg_qnum, 0u);
}

TEST(MsgTest, FullQueue) {
  Queue q(msgget(IPC_PRIVATE, 0600));
  ASSERT_GE(q.id(), 0);
  msqid_ds ds = Stat(q.id());
  ds.msg_qbytes = 10;
  ASSERT_SYSCALL_OK(msgctl(q.id(), IPC_SET, &ds));
  EXPECT_EQ(Stat(q.id()).msg_qbytes, 10u);
  ASSERT_SYSCALL_OK(Send(q.id(), 1, "12345678"));
  EXPECT_SYSCALL_ERRNO(EAGAIN, Send(q.id(), 1, "abc", IPC_NOWAIT));
  int id = q.id();
  // A blocked sender goes on once there is room.
  pid_t pid = fork();
  if (pid == 0) _exit(Send(id, 2, "abc") == 0 ? 0 : 1);
  ASSERT_GT(pid, 0);
  Buf b{};
  ASSERT_EQ(msgrcv(id, &b, sizeof(b.mtext), 1, 0), 8);
  ASSERT_EQ(msgrcv(id, &b, sizeof(b.mtext), 2, 0), 3);
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(MsgTest, BlockedReceiverWakesUp) {
  Queue q(msgget(IPC_PRIVATE, 0600));
  ASSERT_GE(q.id(), 0);
  int id = q.id();
  pid_t pid = fork();
  if (pid == 0) {
    Buf b{};
    ssize_t n = msgrcv(id, &b, sizeof(b.mtext), 7, 0);
    _exit(n == 5 && memcmp(b.mtext, "hello", 5) == 0 ? 0 : 1);
  }
  ASSERT_GT(pid, 0);
  ASSERT_SYSCALL_OK(Send(id, 6, "other"));
  ASSERT_SYSCALL_OK(Send(id, 7, "hello"));
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(Stat(id).msg_qnum, 1u);
}

TEST(MsgTest, RemovedWhileWaiting) {
  Queue q(msgget(IPC_PRIVATE, 0600));
  ASSERT_GE(q.id(), 0);
  int id = q.id();
  conformance::Pipe ready;
  ASSERT_TRUE(ready.ok());
  pid_t pid = fork();
  if (pid == 0) {
    Buf b{};
    // Take a first message, so the parent knows this process runs, then wait for one more.
    if (msgrcv(id, &b, sizeof(b.mtext), 1, 0) != 1) _exit(2);
    if (msgrcv(id, &b, sizeof(b.mtext), 1, 0) != -1) _exit(1);
    _exit(errno == EIDRM ? 0 : 3);
  }
  ASSERT_GT(pid, 0);
  ASSERT_SYSCALL_OK(Send(id, 1, "x"));
  ASSERT_TRUE(WaitForCount(id, 0));
  // Message queues count no waiters to synchronise on: give the child time to fall asleep.
  usleep(500 * 1000);
  ASSERT_SYSCALL_OK(msgctl(id, IPC_RMID, nullptr));
  q.Release();
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

void Nothing(int) {}

TEST(MsgTest, SignalInterruptsWait) {
  Queue q(msgget(IPC_PRIVATE, 0600));
  ASSERT_GE(q.id(), 0);
  int id = q.id();
  conformance::Pipe ready;
  ASSERT_TRUE(ready.ok());
  pid_t pid = fork();
  if (pid == 0) {
    struct sigaction sa {};
    sa.sa_handler = Nothing;
    sa.sa_flags = SA_RESTART;  // msgrcv is not restarted after a handler even so
    sigaction(SIGUSR1, &sa, nullptr);
    char c = 1;
    if (write(ready.w(), &c, 1) != 1) _exit(2);
    Buf b{};
    _exit(msgrcv(id, &b, sizeof(b.mtext), 0, 0) == -1 && errno == EINTR ? 0 : 1);
  }
  ASSERT_GT(pid, 0);
  char c;
  ASSERT_EQ(read(ready.r(), &c, 1), 1);
  // Signals until the child has left its wait (one may come before it sleeps; the handler
  // then runs and the wait begins afterwards, so keep sending).
  int status = 0;
  for (int i = 0; i < 300; ++i) {
    kill(pid, SIGUSR1);
    usleep(100 * 1000);
    if (waitpid(pid, &status, WNOHANG) == pid) break;
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(MsgTest, Permissions) {
  Queue q(msgget(IPC_PRIVATE, 0600));
  ASSERT_GE(q.id(), 0);
  Queue w(msgget(IPC_PRIVATE, 0602));
  ASSERT_GE(w.id(), 0);
  int id = q.id(), wid = w.id();
  EXPECT_EQ(InChild([&] {
              if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) {
                return 1;
              }
              if (Send(id, 1, "x", IPC_NOWAIT) != -1 || errno != EACCES) return 2;
              Buf b{};
              if (msgrcv(id, &b, 10, 0, IPC_NOWAIT) != -1 || errno != EACCES) return 3;
              if (msgctl(id, IPC_RMID, nullptr) != -1 || errno != EPERM) return 4;
              if (Send(wid, 1, "x", IPC_NOWAIT) != 0) return 5;
              if (msgrcv(wid, &b, 10, 0, IPC_NOWAIT) != -1 || errno != EACCES) return 6;
              msqid_ds ds{};
              if (msgctl(id, IPC_STAT, &ds) != -1 || errno != EACCES) return 7;
              return 0;
            }),
            0);
  EXPECT_EQ(Stat(wid).msg_qnum, 1u);
  // Growing a queue past msgmnb needs CAP_SYS_RESOURCE.
  EXPECT_EQ(InChild([&] {
              msqid_ds ds{};
              if (msgctl(wid, IPC_STAT, &ds) != 0) return 1;
              if (setresuid(65534, 65534, 65534) != 0) return 2;
              ds.msg_qbytes = 1 << 20;
              return msgctl(wid, IPC_SET, &ds) == -1 && errno == EPERM ? 0 : 3;
            }),
            0);
}

TEST(MsgTest, InfoAndStatByIndex) {
  Queue q(msgget(IPC_PRIVATE, 0600));
  ASSERT_GE(q.id(), 0);
  msginfo info{};
  int max_index = msgctl(0, IPC_INFO, reinterpret_cast<msqid_ds*>(&info));
  ASSERT_GE(max_index, 0);
  EXPECT_EQ(info.msgmax, 8192);
  EXPECT_EQ(info.msgmnb, 16384);
  int msgmax = 0, msgmnb = 0, msgmni = 0;
  std::ifstream("/proc/sys/kernel/msgmax") >> msgmax;
  std::ifstream("/proc/sys/kernel/msgmnb") >> msgmnb;
  std::ifstream("/proc/sys/kernel/msgmni") >> msgmni;
  EXPECT_EQ(msgmax, info.msgmax);
  EXPECT_EQ(msgmnb, info.msgmnb);
  EXPECT_EQ(msgmni, info.msgmni);
  bool found = false;
  for (int i = 0; i <= max_index; ++i) {
    msqid_ds ds{};
    if (msgctl(i, MSG_STAT, &ds) == q.id()) found = true;
  }
  EXPECT_TRUE(found);
}

}  // namespace
