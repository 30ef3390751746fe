// System V semaphores: semget, semop, semtimedop, semctl.
#include <signal.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <vector>

#include "syscalls/test_util.h"

namespace {

using conformance::InChild;

union semun {
  int val;
  semid_ds* buf;
  unsigned short* array;
  seminfo* info;
};

// A semaphore set removed at the end of the test.
class SemSet {
 public:
  explicit SemSet(int id) : id_(id) {}
  ~SemSet() {
    if (id_ >= 0) semctl(id_, 0, IPC_RMID);
  }
  SemSet(const SemSet&) = delete;
  SemSet& operator=(const SemSet&) = delete;
  int id() const { return id_; }
  void Release() { id_ = -1; }

 private:
  int id_;
};

key_t UniqueKey(int n) { return static_cast<key_t>(0x53450000 | ((getpid() & 0xfff) << 4) | n); }

int SetVal(int id, int num, int val) {
  semun arg{};
  arg.val = val;
  return semctl(id, num, SETVAL, arg);
}

// Waits (at most about 30 s) until `count` tasks wait on semaphore `num` (GETNCNT, or GETZCNT).
bool WaitForWaiters(int id, int num, int cmd, int count) {
  for (int i = 0; i < 30000; ++i) {
    if (semctl(id, num, cmd) == count) return true;
    usleep(1000);
  }
  return false;
}

TEST(SemTest, CreateAndStat) {
  SemSet set(semget(IPC_PRIVATE, 3, IPC_CREAT | 0640));
  ASSERT_GE(set.id(), 0) << strerror(errno);
  semid_ds ds{};
  semun arg{};
  arg.buf = &ds;
  ASSERT_SYSCALL_OK(semctl(set.id(), 0, IPC_STAT, arg));
  EXPECT_EQ(ds.sem_nsems, 3u);
  EXPECT_EQ(ds.sem_perm.mode & 0777, 0640u);
  EXPECT_EQ(ds.sem_perm.cuid, geteuid());
  EXPECT_EQ(ds.sem_otime, 0);
  unsigned short values[3] = {9, 9, 9};
  arg.array = values;
  ASSERT_SYSCALL_OK(semctl(set.id(), 0, GETALL, arg));
  EXPECT_EQ(values[0], 0);
  EXPECT_EQ(values[2], 0);
}

TEST(SemTest, KeysAndSizes) {
  EXPECT_SYSCALL_ERRNO(EINVAL, semget(IPC_PRIVATE, 0, 0600));
  EXPECT_SYSCALL_ERRNO(EINVAL, semget(IPC_PRIVATE, -1, 0600));
  seminfo info{};
  semun arg{};
  arg.info = &info;
  ASSERT_GE(semctl(0, 0, IPC_INFO, arg), 0);
  EXPECT_GT(info.semmsl, 0);
  EXPECT_EQ(info.semvmx, 32767);
  EXPECT_SYSCALL_ERRNO(EINVAL, semget(IPC_PRIVATE, info.semmsl + 1, 0600));
  // /proc/sys/kernel/sem: SEMMSL, SEMMNS, SEMOPM, SEMMNI.
  int msl = 0, mns = 0, opm = 0, mni = 0;
  std::ifstream("/proc/sys/kernel/sem") >> msl >> mns >> opm >> mni;
  EXPECT_EQ(msl, info.semmsl);
  EXPECT_EQ(mns, info.semmns);
  EXPECT_EQ(opm, info.semopm);
  EXPECT_EQ(mni, info.semmni);

  key_t key = UniqueKey(1);
  SemSet set(semget(key, 2, IPC_CREAT | IPC_EXCL | 0600));
  ASSERT_GE(set.id(), 0);
  EXPECT_SYSCALL_ERRNO(EEXIST, semget(key, 2, IPC_CREAT | IPC_EXCL | 0600));
  EXPECT_EQ(semget(key, 0, 0), set.id());
  EXPECT_EQ(semget(key, 2, 0), set.id());
  EXPECT_SYSCALL_ERRNO(EINVAL, semget(key, 3, 0));
  EXPECT_SYSCALL_ERRNO(ENOENT, semget(UniqueKey(2), 1, 0600));
}

TEST(SemTest, SetAndGetValues) {
  SemSet set(semget(IPC_PRIVATE, 2, 0600));
  ASSERT_GE(set.id(), 0);
  ASSERT_SYSCALL_OK(SetVal(set.id(), 1, 5));
  EXPECT_EQ(semctl(set.id(), 1, GETVAL), 5);
  EXPECT_EQ(semctl(set.id(), 1, GETPID), getpid());
  EXPECT_SYSCALL_ERRNO(ERANGE, SetVal(set.id(), 0, 32768));
  EXPECT_SYSCALL_ERRNO(ERANGE, SetVal(set.id(), 0, -1));
  EXPECT_SYSCALL_ERRNO(EINVAL, SetVal(set.id(), 2, 1));
  EXPECT_SYSCALL_ERRNO(EINVAL, semctl(set.id(), 2, GETVAL));
  unsigned short values[2] = {3, 4};
  semun arg{};
  arg.array = values;
  ASSERT_SYSCALL_OK(semctl(set.id(), 0, SETALL, arg));
  unsigned short out[2] = {};
  arg.array = out;
  ASSERT_SYSCALL_OK(semctl(set.id(), 0, GETALL, arg));
  EXPECT_EQ(out[0], 3);
  EXPECT_EQ(out[1], 4);
  unsigned short too_big[2] = {1, 40000};
  arg.array = too_big;
  EXPECT_SYSCALL_ERRNO(ERANGE, semctl(set.id(), 0, SETALL, arg));
  arg.array = reinterpret_cast<unsigned short*>(8);
  EXPECT_SYSCALL_ERRNO(EFAULT, semctl(set.id(), 0, GETALL, arg));
  EXPECT_SYSCALL_ERRNO(EFAULT, semctl(set.id(), 0, SETALL, arg));
}

TEST(SemTest, OperationsApplyAtomically) {
  SemSet set(semget(IPC_PRIVATE, 2, 0600));
  ASSERT_GE(set.id(), 0);
  ASSERT_SYSCALL_OK(SetVal(set.id(), 0, 1));
  // The second operation cannot go through, so neither does the first.
  sembuf ops[2] = {{0, -1, IPC_NOWAIT}, {1, -1, IPC_NOWAIT}};
  EXPECT_SYSCALL_ERRNO(EAGAIN, semop(set.id(), ops, 2));
  EXPECT_EQ(semctl(set.id(), 0, GETVAL), 1);
  // Both at once; the same semaphore twice.
  sembuf both[3] = {{0, 2, 0}, {1, 1, 0}, {0, -1, 0}};
  ASSERT_SYSCALL_OK(semop(set.id(), both, 3));
  EXPECT_EQ(semctl(set.id(), 0, GETVAL), 2);
  EXPECT_EQ(semctl(set.id(), 1, GETVAL), 1);
  // Wait-for-zero that need not wait.
  sembuf zero = {0, 0, IPC_NOWAIT};
  EXPECT_SYSCALL_ERRNO(EAGAIN, semop(set.id(), &zero, 1));
  ASSERT_SYSCALL_OK(SetVal(set.id(), 0, 0));
  EXPECT_SYSCALL_OK(semop(set.id(), &zero, 1));
  semid_ds ds{};
  semun arg{};
  arg.buf = &ds;
  ASSERT_SYSCALL_OK(semctl(set.id(), 0, IPC_STAT, arg));
  EXPECT_NE(ds.sem_otime, 0);
}

TEST(SemTest, BadOperations) {
  SemSet set(semget(IPC_PRIVATE, 1, 0600));
  ASSERT_GE(set.id(), 0);
  sembuf op = {0, 1, 0};
  EXPECT_SYSCALL_ERRNO(EINVAL, semop(set.id(), &op, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, semop(-1, &op, 1));
  EXPECT_SYSCALL_ERRNO(EINVAL, semop(set.id() + 1, &op, 1));
  std::vector<sembuf> many(501, sembuf{0, 0, IPC_NOWAIT});
  EXPECT_SYSCALL_ERRNO(E2BIG, semop(set.id(), many.data(), many.size()));
  sembuf bad_num = {1, 1, 0};
  EXPECT_SYSCALL_ERRNO(EFBIG, semop(set.id(), &bad_num, 1));
  EXPECT_SYSCALL_ERRNO(EFAULT, semop(set.id(), reinterpret_cast<sembuf*>(8), 1));
  ASSERT_SYSCALL_OK(SetVal(set.id(), 0, 32767));
  EXPECT_SYSCALL_ERRNO(ERANGE, semop(set.id(), &op, 1));
  EXPECT_SYSCALL_ERRNO(EINVAL, semctl(set.id(), 0, 12345));
  EXPECT_SYSCALL_ERRNO(EINVAL, semctl(-1, 0, GETVAL));
  semun arg{};
  arg.buf = reinterpret_cast<semid_ds*>(8);
  EXPECT_SYSCALL_ERRNO(EFAULT, semctl(set.id(), 0, IPC_STAT, arg));
}

TEST(SemTest, TimedOp) {
  SemSet set(semget(IPC_PRIVATE, 1, 0600));
  ASSERT_GE(set.id(), 0);
  sembuf op = {0, -1, 0};
  timespec ts = {0, 10 * 1000 * 1000};
  EXPECT_SYSCALL_ERRNO(EAGAIN, semtimedop(set.id(), &op, 1, &ts));
  timespec bad = {0, 1000 * 1000 * 1000};
  EXPECT_SYSCALL_ERRNO(EINVAL, semtimedop(set.id(), &op, 1, &bad));
  EXPECT_SYSCALL_ERRNO(EFAULT, semtimedop(set.id(), &op, 1, reinterpret_cast<timespec*>(8)));
  ASSERT_SYSCALL_OK(SetVal(set.id(), 0, 1));
  EXPECT_SYSCALL_OK(semtimedop(set.id(), &op, 1, &ts));
}

TEST(SemTest, BlockedProcessWakesUp) {
  SemSet set(semget(IPC_PRIVATE, 1, 0600));
  ASSERT_GE(set.id(), 0);
  int id = set.id();
  pid_t pid = fork();
  if (pid == 0) {
    sembuf op = {0, -2, 0};
    _exit(semop(id, &op, 1) == 0 ? 0 : 1);
  }
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitForWaiters(id, 0, GETNCNT, 1));
  EXPECT_EQ(semctl(id, 0, GETZCNT), 0);
  sembuf one = {0, 1, 0};
  ASSERT_SYSCALL_OK(semop(id, &one, 1));  // not enough yet
  ASSERT_SYSCALL_OK(semop(id, &one, 1));
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(semctl(id, 0, GETVAL), 0);
  EXPECT_EQ(semctl(id, 0, GETPID), pid);
}

TEST(SemTest, WaitForZero) {
  SemSet set(semget(IPC_PRIVATE, 1, 0600));
  ASSERT_GE(set.id(), 0);
  int id = set.id();
  ASSERT_SYSCALL_OK(SetVal(id, 0, 1));
  pid_t pid = fork();
  if (pid == 0) {
    sembuf op = {0, 0, 0};
    _exit(semop(id, &op, 1) == 0 ? 0 : 1);
  }
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitForWaiters(id, 0, GETZCNT, 1));
  sembuf down = {0, -1, 0};
  ASSERT_SYSCALL_OK(semop(id, &down, 1));
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(SemTest, UndoAtExit) {
  SemSet set(semget(IPC_PRIVATE, 2, 0600));
  ASSERT_GE(set.id(), 0);
  int id = set.id();
  ASSERT_SYSCALL_OK(SetVal(id, 1, 5));
  EXPECT_EQ(InChild([&] {
              sembuf ops[2] = {{0, 3, SEM_UNDO}, {1, -2, SEM_UNDO}};
              if (semop(id, ops, 2) != 0) return 1;
              sembuf plain = {0, 1, 0};  // not undone
              if (semop(id, &plain, 1) != 0) return 2;
              return semctl(id, 0, GETVAL) == 4 && semctl(id, 1, GETVAL) == 3 ? 0 : 3;
            }),
            0);
  EXPECT_EQ(semctl(id, 0, GETVAL), 1);
  EXPECT_EQ(semctl(id, 1, GETVAL), 5);
  // SETVAL forgets the adjustments of that semaphore.
  EXPECT_EQ(InChild([&] {
              sembuf op = {0, 2, SEM_UNDO};
              if (semop(id, &op, 1) != 0) return 1;
              return SetVal(id, 0, 10) == 0 ? 0 : 2;
            }),
            0);
  EXPECT_EQ(semctl(id, 0, GETVAL), 10);
}

TEST(SemTest, RemovedWhileWaiting) {
  SemSet set(semget(IPC_PRIVATE, 1, 0600));
  ASSERT_GE(set.id(), 0);
  int id = set.id();
  pid_t pid = fork();
  if (pid == 0) {
    sembuf op = {0, -1, 0};
    _exit(semop(id, &op, 1) == -1 && errno == EIDRM ? 0 : 1);
  }
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitForWaiters(id, 0, GETNCNT, 1));
  ASSERT_SYSCALL_OK(semctl(id, 0, IPC_RMID));
  set.Release();
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

void Nothing(int) {}

TEST(SemTest, SignalInterruptsWaitEvenWithRestart) {
  SemSet set(semget(IPC_PRIVATE, 1, 0600));
  ASSERT_GE(set.id(), 0);
  int id = set.id();
  pid_t pid = fork();
  if (pid == 0) {
    struct sigaction sa {};
    sa.sa_handler = Nothing;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, nullptr);
    sembuf op = {0, -1, 0};
    _exit(semop(id, &op, 1) == -1 && errno == EINTR ? 0 : 1);
  }
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitForWaiters(id, 0, GETNCNT, 1));
  ASSERT_SYSCALL_OK(kill(pid, SIGUSR1));
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(semctl(id, 0, GETNCNT), 0);
}

TEST(SemTest, Permissions) {
  SemSet set(semget(IPC_PRIVATE, 1, 0600));
  ASSERT_GE(set.id(), 0);
  SemSet readable(semget(IPC_PRIVATE, 1, 0604));
  ASSERT_GE(readable.id(), 0);
  int id = set.id(), rid = readable.id();
  EXPECT_EQ(InChild([&] {
              if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) {
                return 1;
              }
              sembuf op = {0, 1, IPC_NOWAIT};
              if (semop(id, &op, 1) != -1 || errno != EACCES) return 2;
              if (semctl(id, 0, GETVAL) != -1 || errno != EACCES) return 3;
              if (semctl(id, 0, IPC_RMID) != -1 || errno != EPERM) return 4;
              if (semctl(rid, 0, GETVAL) != 0) return 5;
              if (semop(rid, &op, 1) != -1 || errno != EACCES) return 6;
              sembuf zero = {0, 0, IPC_NOWAIT};  // reading is enough to wait for zero
              if (semop(rid, &zero, 1) != 0) return 7;
              if (SetVal(rid, 0, 1) != -1 || errno != EACCES) return 8;
              return 0;
            }),
            0);
}

TEST(SemTest, SetChangesMode) {
  SemSet set(semget(IPC_PRIVATE, 1, 0600));
  ASSERT_GE(set.id(), 0);
  semid_ds ds{};
  semun arg{};
  arg.buf = &ds;
  ASSERT_SYSCALL_OK(semctl(set.id(), 0, IPC_STAT, arg));
  ds.sem_perm.mode = 0666;
  ASSERT_SYSCALL_OK(semctl(set.id(), 0, IPC_SET, arg));
  semid_ds now{};
  arg.buf = &now;
  ASSERT_SYSCALL_OK(semctl(set.id(), 0, IPC_STAT, arg));
  EXPECT_EQ(now.sem_perm.mode & 0777, 0666u);
}

}  // namespace
