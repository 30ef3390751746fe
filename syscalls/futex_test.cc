// futex(2): wait/wake, requeue, wake-op, PI locks, timeouts, restarts and robust lists.
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdint>
#include <thread>
#include <vector>

#include "syscalls/test_util.h"

namespace {

using conformance::InChild;

long Futex(void* addr, int op, uint32_t val, const timespec* ts = nullptr, void* addr2 = nullptr,
           uint32_t val3 = 0) {
  return syscall(SYS_futex, addr, op, val, ts, addr2, val3);
}

// The forms whose fourth argument is a count, not a timeout.
long FutexCount(void* addr, int op, uint32_t val, uint32_t val2, void* addr2, uint32_t val3) {
  return syscall(SYS_futex, addr, op, val, static_cast<uintptr_t>(val2), addr2, val3);
}

pid_t Tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// How many tasks wait on `f`: a compare-requeue onto itself moves nothing and counts them.
long WaitersOn(std::atomic<uint32_t>* f, int priv = FUTEX_PRIVATE_FLAG) {
  return FutexCount(f, FUTEX_CMP_REQUEUE | priv, 0, INT_MAX, f, f->load());
}

void AwaitWaiters(std::atomic<uint32_t>* f, long n, int priv = FUTEX_PRIVATE_FLAG) {
  while (WaitersOn(f, priv) < n) usleep(1000);
}

timespec Plus(clockid_t clock, long ms) {
  timespec ts{};
  clock_gettime(clock, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (ms % 1000) * 1000000;
  if (ts.tv_nsec >= 1000000000) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000;
  }
  return ts;
}

TEST(Futex, WaitOnOtherValueIsEagain) {
  std::atomic<uint32_t> f{1};
  EXPECT_SYSCALL_ERRNO(EAGAIN, Futex(&f, FUTEX_WAIT_PRIVATE, 0));
  EXPECT_SYSCALL_ERRNO(EAGAIN, Futex(&f, FUTEX_WAIT, 0));
}

TEST(Futex, RelativeTimeout) {
  std::atomic<uint32_t> f{0};
  timespec ts{0, 20 * 1000000};
  EXPECT_SYSCALL_ERRNO(ETIMEDOUT, Futex(&f, FUTEX_WAIT_PRIVATE, 0, &ts));
}

TEST(Futex, AbsoluteTimeoutOnEitherClock) {
  std::atomic<uint32_t> f{0};
  timespec mono = Plus(CLOCK_MONOTONIC, 20);
  EXPECT_SYSCALL_ERRNO(ETIMEDOUT, Futex(&f, FUTEX_WAIT_BITSET_PRIVATE, 0, &mono, nullptr, ~0u));
  timespec real = Plus(CLOCK_REALTIME, 20);
  EXPECT_SYSCALL_ERRNO(ETIMEDOUT, Futex(&f, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 0,
                                        &real, nullptr, ~0u));
  // A deadline in the past expires at once.
  timespec past{1, 0};
  EXPECT_SYSCALL_ERRNO(ETIMEDOUT, Futex(&f, FUTEX_WAIT_BITSET_PRIVATE, 0, &past, nullptr, ~0u));
}

TEST(Futex, BadArguments) {
  alignas(8) uint32_t words[2] = {0, 0};
  void* unaligned = reinterpret_cast<char*>(words) + 1;
  EXPECT_SYSCALL_ERRNO(EINVAL, Futex(unaligned, FUTEX_WAIT_PRIVATE, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, Futex(unaligned, FUTEX_WAKE_PRIVATE, 1));
  EXPECT_SYSCALL_ERRNO(EFAULT, Futex(nullptr, FUTEX_WAIT_PRIVATE, 0));
  EXPECT_SYSCALL_ERRNO(EFAULT, Futex(nullptr, FUTEX_WAIT, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, Futex(words, FUTEX_WAIT_BITSET_PRIVATE, 0, nullptr, nullptr, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, Futex(words, FUTEX_WAKE_BITSET_PRIVATE, 1, nullptr, nullptr, 0));
  timespec bad{0, 1000000000};
  EXPECT_SYSCALL_ERRNO(EINVAL, Futex(words, FUTEX_WAIT_PRIVATE, 0, &bad));
  timespec negative{-1, 0};
  EXPECT_SYSCALL_ERRNO(EINVAL, Futex(words, FUTEX_WAIT_PRIVATE, 0, &negative));
  EXPECT_SYSCALL_ERRNO(EFAULT, Futex(words, FUTEX_WAIT_PRIVATE, 0, reinterpret_cast<timespec*>(8)));
  EXPECT_SYSCALL_ERRNO(ENOSYS, Futex(words, 99, 0));
  // FUTEX_CLOCK_REALTIME only goes with the waits that take an absolute time.
  EXPECT_SYSCALL_ERRNO(ENOSYS, Futex(words, FUTEX_WAKE_PRIVATE | FUTEX_CLOCK_REALTIME, 1));
  EXPECT_SYSCALL_ERRNO(ENOSYS, Futex(words, FUTEX_UNLOCK_PI | FUTEX_CLOCK_REALTIME, 0));
  timespec ts{0, 1000000};
  EXPECT_SYSCALL_ERRNO(ENOSYS, Futex(words, FUTEX_WAIT_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &ts));
}

TEST(Futex, WakeWithoutWaitersIsZero) {
  std::atomic<uint32_t> f{0};
  EXPECT_EQ(0, Futex(&f, FUTEX_WAKE_PRIVATE, 1));
  EXPECT_EQ(0, Futex(&f, FUTEX_WAKE, INT_MAX));
}

TEST(Futex, WakeOneThread) {
  std::atomic<uint32_t> f{0};
  std::atomic<long> result{-2};
  std::thread waiter([&] { result = Futex(&f, FUTEX_WAIT_PRIVATE, 0); });
  AwaitWaiters(&f, 1);
  f = 1;
  EXPECT_EQ(1, Futex(&f, FUTEX_WAKE_PRIVATE, 1));
  waiter.join();
  EXPECT_EQ(0, result.load());
}

TEST(Futex, WakeBitsetPicksWaiters) {
  std::atomic<uint32_t> f{0};
  std::atomic<int> woken_mask{0};
  std::vector<std::thread> threads;
  for (uint32_t bit : {1u, 2u}) {
    threads.emplace_back([&, bit] {
      while (f.load() == 0) {
        if (Futex(&f, FUTEX_WAIT_BITSET_PRIVATE, 0, nullptr, nullptr, bit) == 0) {
          woken_mask |= static_cast<int>(bit);
          return;
        }
      }
    });
  }
  AwaitWaiters(&f, 2);
  EXPECT_EQ(1, Futex(&f, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, nullptr, nullptr, 2));
  EXPECT_EQ(1, Futex(&f, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, nullptr, nullptr, 1));
  for (auto& t : threads) t.join();
  EXPECT_EQ(3, woken_mask.load());
}

// Waits on `from` until it is set; requeued waiters end up on `to` and need a wake there.
void RequeueWaiter(std::atomic<uint32_t>* from) {
  while (from->load() == 0) Futex(from, FUTEX_WAIT_PRIVATE, 0);
}

TEST(Futex, CmpRequeueMovesWaiters) {
  std::atomic<uint32_t> f1{0}, f2{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) threads.emplace_back(RequeueWaiter, &f1);
  AwaitWaiters(&f1, 3);
  EXPECT_SYSCALL_ERRNO(EAGAIN, FutexCount(&f1, FUTEX_CMP_REQUEUE_PRIVATE, 0, INT_MAX, &f2, 7));
  // Nothing woken, all three moved: the result counts both.
  EXPECT_EQ(3, FutexCount(&f1, FUTEX_CMP_REQUEUE_PRIVATE, 0, INT_MAX, &f2, 0));
  EXPECT_EQ(0, WaitersOn(&f1));
  EXPECT_EQ(3, WaitersOn(&f2));
  f1 = 1;
  EXPECT_EQ(0, Futex(&f1, FUTEX_WAKE_PRIVATE, INT_MAX));
  EXPECT_EQ(3, Futex(&f2, FUTEX_WAKE_PRIVATE, INT_MAX));
  for (auto& t : threads) t.join();
}

TEST(Futex, RequeueWakesThenMoves) {
  std::atomic<uint32_t> f1{0}, f2{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) threads.emplace_back(RequeueWaiter, &f1);
  AwaitWaiters(&f1, 3);
  f1 = 1;  // the one woken leaves
  EXPECT_EQ(2, FutexCount(&f1, FUTEX_REQUEUE_PRIVATE, 1, 1, &f2, 0));
  EXPECT_EQ(1, WaitersOn(&f1));
  EXPECT_EQ(1, WaitersOn(&f2));
  EXPECT_EQ(1, Futex(&f1, FUTEX_WAKE_PRIVATE, INT_MAX));
  EXPECT_EQ(1, Futex(&f2, FUTEX_WAKE_PRIVATE, INT_MAX));
  for (auto& t : threads) t.join();
}

TEST(Futex, RequeueErrors) {
  alignas(8) uint32_t words[2] = {0, 0};
  void* unaligned = reinterpret_cast<char*>(words) + 2;
  EXPECT_SYSCALL_ERRNO(EINVAL, FutexCount(words, FUTEX_REQUEUE_PRIVATE, 0, 1, unaligned, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL,
                       FutexCount(words, FUTEX_CMP_REQUEUE_PRIVATE, 1u << 31, 1, &words[1], 0));
  EXPECT_SYSCALL_ERRNO(EINVAL,
                       FutexCount(words, FUTEX_CMP_REQUEUE_PRIVATE, 1, 1u << 31, &words[1], 0));
  EXPECT_SYSCALL_ERRNO(EFAULT, FutexCount(nullptr, FUTEX_CMP_REQUEUE_PRIVATE, 1, 1, words, 0));
}

struct WakeOpCase {
  int op, oparg, cmp, cmparg;
  uint32_t before, after;
  bool hit;
};

TEST(Futex, WakeOpOperationsAndComparisons) {
  const WakeOpCase cases[] = {
      {FUTEX_OP_SET, 7, FUTEX_OP_CMP_EQ, 5, 5, 7, true},
      {FUTEX_OP_ADD, 3, FUTEX_OP_CMP_NE, 5, 5, 8, false},
      {FUTEX_OP_ADD, -1, FUTEX_OP_CMP_LT, 0, 0, 0xffffffff, false},
      {FUTEX_OP_OR, 6, FUTEX_OP_CMP_LE, 1, 1, 7, true},
      {FUTEX_OP_ANDN, 1, FUTEX_OP_CMP_GT, 2, 3, 2, true},
      {FUTEX_OP_XOR, 3, FUTEX_OP_CMP_GE, 6, 5, 6, false},
      {FUTEX_OP_SET | FUTEX_OP_OPARG_SHIFT, 4, FUTEX_OP_CMP_EQ, 0, 0, 16, true},
      {FUTEX_OP_OR | FUTEX_OP_OPARG_SHIFT, 31, FUTEX_OP_CMP_LT, 0, 0xffffffff, 0xffffffff, true},
  };
  for (const auto& c : cases) {
    std::atomic<uint32_t> f1{0}, f2{c.before};
    EXPECT_EQ(0, FutexCount(&f1, FUTEX_WAKE_OP_PRIVATE, 1, 1, &f2,
                            FUTEX_OP(c.op, c.oparg, c.cmp, c.cmparg)))
        << "op " << c.op;
    EXPECT_EQ(c.after, f2.load()) << "op " << c.op << " arg " << c.oparg;
  }
}

TEST(Futex, WakeOpWakesSecondOnlyWhenComparisonHolds) {
  for (bool hit : {false, true}) {
    std::atomic<uint32_t> f1{0}, f2{0};
    std::thread w1(RequeueWaiter, &f1), w2(RequeueWaiter, &f2);
    AwaitWaiters(&f1, 1);
    AwaitWaiters(&f2, 1);
    f1 = 1;
    // Sets f2 to 1; its old value 0 is compared with 0 (hit) or 9 (miss).
    long woken = FutexCount(&f1, FUTEX_WAKE_OP_PRIVATE, 1, 1, &f2,
                            FUTEX_OP(FUTEX_OP_SET, 1, FUTEX_OP_CMP_EQ, hit ? 0 : 9));
    EXPECT_EQ(hit ? 2 : 1, woken);
    EXPECT_EQ(1u, f2.load());
    if (!hit) {
      EXPECT_EQ(1, Futex(&f2, FUTEX_WAKE_PRIVATE, 1));
    }
    w1.join();
    w2.join();
  }
}

TEST(Futex, WakeOpErrors) {
  std::atomic<uint32_t> f1{0}, f2{0};
  EXPECT_SYSCALL_ERRNO(EFAULT, FutexCount(&f1, FUTEX_WAKE_OP_PRIVATE, 1, 1, nullptr,
                                          FUTEX_OP(FUTEX_OP_SET, 1, FUTEX_OP_CMP_EQ, 0)));
  void* ro = mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(MAP_FAILED, ro);
  EXPECT_SYSCALL_ERRNO(EFAULT, FutexCount(&f1, FUTEX_WAKE_OP_PRIVATE, 1, 1, ro,
                                          FUTEX_OP(FUTEX_OP_SET, 1, FUTEX_OP_CMP_EQ, 0)));
  munmap(ro, 4096);
  EXPECT_SYSCALL_ERRNO(ENOSYS, FutexCount(&f1, FUTEX_WAKE_OP_PRIVATE, 1, 1, &f2,
                                          FUTEX_OP(6, 1, FUTEX_OP_CMP_EQ, 0)));
  EXPECT_SYSCALL_ERRNO(
      ENOSYS, FutexCount(&f1, FUTEX_WAKE_OP_PRIVATE, 1, 1, &f2, FUTEX_OP(FUTEX_OP_SET, 1, 6, 0)));
}

TEST(Futex, PiTrylockLockUnlock) {
  std::atomic<uint32_t> f{0};
  ASSERT_EQ(0, Futex(&f, FUTEX_TRYLOCK_PI_PRIVATE, 0));
  EXPECT_EQ(static_cast<uint32_t>(Tid()), f.load());
  EXPECT_SYSCALL_ERRNO(EDEADLK, Futex(&f, FUTEX_LOCK_PI_PRIVATE, 0));
  EXPECT_SYSCALL_ERRNO(EDEADLK, Futex(&f, FUTEX_TRYLOCK_PI_PRIVATE, 0));
  EXPECT_EQ(0, Futex(&f, FUTEX_UNLOCK_PI_PRIVATE, 0));
  EXPECT_EQ(0u, f.load());
  EXPECT_SYSCALL_ERRNO(EPERM, Futex(&f, FUTEX_UNLOCK_PI_PRIVATE, 0));
  ASSERT_EQ(0, Futex(&f, FUTEX_LOCK_PI_PRIVATE, 0));
  EXPECT_EQ(static_cast<uint32_t>(Tid()), f.load());
  EXPECT_EQ(0, Futex(&f, FUTEX_UNLOCK_PI_PRIVATE, 0));
  ASSERT_EQ(0, Futex(&f, FUTEX_LOCK_PI2_PRIVATE, 0));
  EXPECT_EQ(0, Futex(&f, FUTEX_UNLOCK_PI_PRIVATE, 0));
  EXPECT_SYSCALL_ERRNO(EFAULT, Futex(nullptr, FUTEX_LOCK_PI_PRIVATE, 0));
  EXPECT_SYSCALL_ERRNO(EFAULT, Futex(nullptr, FUTEX_UNLOCK_PI_PRIVATE, 0));
}

TEST(Futex, PiOwnedByAnotherThread) {
  std::atomic<uint32_t> f{0};
  std::atomic<uint32_t> release{0};
  std::atomic<long> owner_unlock{-2};
  std::thread owner([&] {
    Futex(&f, FUTEX_LOCK_PI_PRIVATE, 0);
    while (release.load() == 0) Futex(&release, FUTEX_WAIT_PRIVATE, 0);
    owner_unlock = Futex(&f, FUTEX_UNLOCK_PI_PRIVATE, 0);
  });
  while (f.load() == 0) usleep(1000);
  uint32_t owner_tid = f.load() & FUTEX_TID_MASK;
  EXPECT_SYSCALL_ERRNO(EAGAIN, Futex(&f, FUTEX_TRYLOCK_PI_PRIVATE, 0));
  EXPECT_SYSCALL_ERRNO(EPERM, Futex(&f, FUTEX_UNLOCK_PI_PRIVATE, 0));
  timespec real = Plus(CLOCK_REALTIME, 30);
  EXPECT_SYSCALL_ERRNO(ETIMEDOUT, Futex(&f, FUTEX_LOCK_PI_PRIVATE, 0, &real));
  timespec mono = Plus(CLOCK_MONOTONIC, 30);
  EXPECT_SYSCALL_ERRNO(ETIMEDOUT, Futex(&f, FUTEX_LOCK_PI2_PRIVATE, 0, &mono));
  EXPECT_EQ(owner_tid, f.load() & FUTEX_TID_MASK);
  EXPECT_TRUE(f.load() & FUTEX_WAITERS);  // a waiter came by
  // Now block until the owner lets go: the lock is handed over to us.
  std::thread releaser([&] {
    while (!(f.load() & FUTEX_WAITERS)) usleep(1000);
    usleep(20000);
    release = 1;
    Futex(&release, FUTEX_WAKE_PRIVATE, 1);
  });
  f.fetch_and(~static_cast<uint32_t>(FUTEX_WAITERS));
  EXPECT_EQ(0, Futex(&f, FUTEX_LOCK_PI_PRIVATE, 0));
  EXPECT_EQ(static_cast<uint32_t>(Tid()), f.load() & FUTEX_TID_MASK);
  owner.join();
  releaser.join();
  EXPECT_EQ(0, owner_unlock.load());
  EXPECT_EQ(0, Futex(&f, FUTEX_UNLOCK_PI_PRIVATE, 0));
  EXPECT_EQ(0u, f.load());
}

TEST(Futex, PiOwnerThatDoesNotExistIsEsrch) {
  std::atomic<uint32_t> f{0x3ffffff0};  // no such thread
  EXPECT_SYSCALL_ERRNO(ESRCH, Futex(&f, FUTEX_LOCK_PI_PRIVATE, 0));
  EXPECT_SYSCALL_ERRNO(ESRCH, Futex(&f, FUTEX_TRYLOCK_PI_PRIVATE, 0));
}

TEST(Futex, PiLockOfAThreadThatExitsGoesToTheWaiter) {
  std::atomic<uint32_t> f{0};
  std::thread owner([&] {
    Futex(&f, FUTEX_LOCK_PI_PRIVATE, 0);
    while (!(f.load() & FUTEX_WAITERS)) usleep(1000);
    usleep(20000);
    // Ends holding the lock.
  });
  while (f.load() == 0) usleep(1000);
  EXPECT_EQ(0, Futex(&f, FUTEX_LOCK_PI_PRIVATE, 0));
  EXPECT_EQ(static_cast<uint32_t>(Tid()), f.load() & FUTEX_TID_MASK);
  owner.join();
  EXPECT_EQ(0, Futex(&f, FUTEX_UNLOCK_PI_PRIVATE, 0));
}

TEST(Futex, PiWakeIsEinval) {
  std::atomic<uint32_t> f{0};
  std::thread owner([&] {
    Futex(&f, FUTEX_LOCK_PI_PRIVATE, 0);
    while (!(f.load() & FUTEX_WAITERS)) usleep(1000);
    usleep(20000);
    // A plain wake of a PI futex with a PI waiter is refused.
    EXPECT_SYSCALL_ERRNO(EINVAL, Futex(&f, FUTEX_WAKE_PRIVATE, 1));
    Futex(&f, FUTEX_UNLOCK_PI_PRIVATE, 0);
  });
  while (f.load() == 0) usleep(1000);
  EXPECT_EQ(0, Futex(&f, FUTEX_LOCK_PI_PRIVATE, 0));
  owner.join();
  EXPECT_EQ(0, Futex(&f, FUTEX_UNLOCK_PI_PRIVATE, 0));
}

// A shared futex in MAP_SHARED memory is one futex in both processes; a private one is not.
TEST(Futex, SharedAcrossFork) {
  void* mem = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(MAP_FAILED, mem);
  auto* f = static_cast<std::atomic<uint32_t>*>(mem);
  pid_t pid = fork();
  if (pid == 0) {
    while (f->load() == 0) Futex(f, FUTEX_WAIT, 0);
    _exit(0);
  }
  ASSERT_GT(pid, 0);
  AwaitWaiters(f, 1, 0);
  f->store(1);
  EXPECT_EQ(0, Futex(f, FUTEX_WAKE_PRIVATE, 1));  // the parent's private futex: nobody
  EXPECT_EQ(1, Futex(f, FUTEX_WAKE, 1));
  int status = 0;
  ASSERT_EQ(pid, waitpid(pid, &status, 0));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  munmap(mem, 4096);
}

std::atomic<int> handled{0};
void CountSignal(int) { handled++; }

void InstallHandler(int flags) {
  struct sigaction sa {};
  sa.sa_handler = CountSignal;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, nullptr);
}

// Without a timeout an SA_RESTART handler restarts the wait; with one, or without SA_RESTART,
// the wait fails with EINTR.
TEST(Futex, InterruptedWaitRestartRules) {
  struct Case {
    int flags;
    bool timeout;
    bool restarts;
  };
  for (Case c :
       {Case{SA_RESTART, false, true}, Case{0, false, false}, Case{SA_RESTART, true, false}}) {
    InstallHandler(c.flags);
    handled = 0;
    std::atomic<uint32_t> f{0};
    std::atomic<pid_t> tid{0};
    std::atomic<long> ret{-2};
    std::atomic<int> err{0};
    std::thread waiter([&] {
      tid = Tid();
      timespec ts{30, 0};
      ret = Futex(&f, FUTEX_WAIT_PRIVATE, 0, c.timeout ? &ts : nullptr);
      err = errno;
    });
    AwaitWaiters(&f, 1);
    syscall(SYS_tgkill, getpid(), tid.load(), SIGUSR1);
    while (handled.load() == 0) usleep(1000);
    if (c.restarts) {
      AwaitWaiters(&f, 1);  // waiting again
      EXPECT_EQ(1, Futex(&f, FUTEX_WAKE_PRIVATE, 1));
    }
    waiter.join();
    if (c.restarts) {
      EXPECT_EQ(0, ret.load());
    } else {
      EXPECT_EQ(-1, ret.load());
      EXPECT_EQ(EINTR, err.load()) << conformance::ErrnoName(err.load());
    }
  }
  signal(SIGUSR1, SIG_DFL);
}

// --- Robust lists -------------------------------------------------------------------------

TEST(RobustList, SetAndGet) {
  struct robust_list_head head {};
  head.list.next = &head.list;
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_set_robust_list, &head, sizeof(head) + 1));
  // glibc registered its own list for this thread; read it back, replace it, restore it.
  void* glibc_head = nullptr;
  size_t len = 0;
  ASSERT_EQ(0, syscall(SYS_get_robust_list, 0, &glibc_head, &len));
  EXPECT_EQ(sizeof(head), len);
  ASSERT_EQ(0, syscall(SYS_set_robust_list, &head, sizeof(head)));
  void* got = nullptr;
  ASSERT_EQ(0, syscall(SYS_get_robust_list, Tid(), &got, &len));
  EXPECT_EQ(&head, got);
  ASSERT_EQ(0, syscall(SYS_set_robust_list, glibc_head, sizeof(head)));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_get_robust_list, 0, nullptr, &len));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_get_robust_list, 0, &got, nullptr));
  EXPECT_SYSCALL_ERRNO(ESRCH, syscall(SYS_get_robust_list, 0x3ffffff0, &got, &len));
}

TEST(RobustList, GetOfAnotherUsersProcessIsEperm) {
  if (getuid() != 0) GTEST_SKIP() << "needs to change its uid";
  pid_t parent = getpid();
  EXPECT_EQ(0, InChild([&] {
              void* got = nullptr;
              size_t len = 0;
              if (syscall(SYS_get_robust_list, parent, &got, &len) != 0) return 1;
              if (setresuid(65534, 65534, 65534) != 0) return 2;
              if (syscall(SYS_get_robust_list, parent, &got, &len) != -1) return 3;
              return errno == EPERM ? 0 : 4;
            }));
}

void InitRobustMutex(pthread_mutex_t* m, bool pshared, bool pi) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  if (pshared) pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  if (pi) pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT);
  pthread_mutex_init(m, &attr);
  pthread_mutexattr_destroy(&attr);
}

class RobustMutex : public ::testing::TestWithParam<bool> {};

TEST_P(RobustMutex, OwnerThreadDiesThenNextLockerSeesEownerdead) {
  pthread_mutex_t m;
  InitRobustMutex(&m, false, GetParam());
  std::thread owner([&] { ASSERT_EQ(0, pthread_mutex_lock(&m)); });
  owner.join();  // ended holding it
  ASSERT_EQ(EOWNERDEAD, pthread_mutex_lock(&m));
  EXPECT_EQ(0, pthread_mutex_consistent(&m));
  EXPECT_EQ(0, pthread_mutex_unlock(&m));
  EXPECT_EQ(0, pthread_mutex_lock(&m));
  EXPECT_EQ(0, pthread_mutex_unlock(&m));
  pthread_mutex_destroy(&m);
}

TEST_P(RobustMutex, WaiterIsWokenWhenTheOwnerDies) {
  pthread_mutex_t m;
  InitRobustMutex(&m, false, GetParam());
  std::atomic<bool> locked{false};
  std::thread owner([&] {
    ASSERT_EQ(0, pthread_mutex_lock(&m));
    locked = true;
    usleep(50000);  // let the main thread block on it (it need not have, for the test to hold)
  });
  while (!locked.load()) usleep(1000);
  EXPECT_EQ(EOWNERDEAD, pthread_mutex_lock(&m));
  EXPECT_EQ(0, pthread_mutex_consistent(&m));
  EXPECT_EQ(0, pthread_mutex_unlock(&m));
  owner.join();
  pthread_mutex_destroy(&m);
}

TEST_P(RobustMutex, OwnerProcessDiesAcrossFork) {
  void* mem = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(MAP_FAILED, mem);
  auto* m = static_cast<pthread_mutex_t*>(mem);
  InitRobustMutex(m, true, GetParam());
  EXPECT_EQ(0, InChild([&] { return pthread_mutex_lock(m) == 0 ? 0 : 1; }));
  ASSERT_EQ(EOWNERDEAD, pthread_mutex_lock(m));
  EXPECT_EQ(0, pthread_mutex_consistent(m));
  EXPECT_EQ(0, pthread_mutex_unlock(m));
  munmap(mem, 4096);
}

INSTANTIATE_TEST_SUITE_P(PlainAndPi, RobustMutex, ::testing::Bool());

}  // namespace
