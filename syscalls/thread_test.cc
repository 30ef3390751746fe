// Threads: clone with the flags glibc's pthread_create uses, thread identity, the CLONE_*TID
// words pthread_join sleeps on, a thread's exit versus the process's (exit_group from any
// thread, execve from a thread other than the leader), blocked threads being taken down with
// their process, vfork's shared memory, and clone's flag-consistency errors.
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "syscalls/test_util.h"

namespace {

pid_t Gettid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// Runs `body` in a forked child and returns the child's wait status.
template <typename F>
int InChild(F body) {
  pid_t pid = fork();
  if (pid == 0) {
    body();
    _exit(100);
  }
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  return status;
}

TEST(Thread, ThreadsShareMemoryAndProcessButNotThreadId) {
  constexpr int kThreads = 6;
  std::atomic<int> counter{0};
  std::vector<pid_t> tids(kThreads);
  std::vector<pid_t> pids(kThreads);
  struct Arg {
    std::atomic<int>* counter;
    pid_t* tid;
    pid_t* pid;
  };
  std::vector<Arg> args(kThreads);
  std::vector<pthread_t> threads(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    args[i] = {&counter, &tids[i], &pids[i]};
    ASSERT_EQ(pthread_create(
                  &threads[i], nullptr,
                  [](void* p) -> void* {
                    auto* a = static_cast<Arg*>(p);
                    for (int j = 0; j < 1000; ++j) a->counter->fetch_add(1);
                    *a->tid = Gettid();
                    *a->pid = getpid();
                    return p;
                  },
                  &args[i]),
              0);
  }
  for (int i = 0; i < kThreads; ++i) {
    void* ret = nullptr;
    ASSERT_EQ(pthread_join(threads[i], &ret), 0);
    EXPECT_EQ(ret, &args[i]);
  }
  EXPECT_EQ(counter.load(), kThreads * 1000);
  std::set<pid_t> distinct(tids.begin(), tids.end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kThreads));
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_EQ(pids[i], getpid());
    EXPECT_NE(tids[i], getpid());
    EXPECT_GT(tids[i], 0);
  }
  EXPECT_EQ(Gettid(), getpid());  // the leader's tid is the process id
}

TEST(Thread, ChildTidWordsAreWrittenAndClearedWithAWake) {
  // pthread_join relies on CLONE_CHILD_CLEARTID: the kernel zeroes the word and wakes a futex
  // waiter when the thread ends. set_tid_address names the word for the calling thread.
  static std::atomic<int> word{-1};
  pthread_t t;
  ASSERT_EQ(pthread_create(
                &t, nullptr,
                [](void*) -> void* {
                  word.store(Gettid());
                  syscall(SYS_set_tid_address, &word);
                  return nullptr;
                },
                nullptr),
            0);
  // Wait for the word to become 0 the way pthread_join does.
  while (true) {
    int v = word.load();
    if (v == 0) break;
    if (v == -1) {
      sched_yield();
      continue;
    }
    syscall(SYS_futex, &word, FUTEX_WAIT, v, nullptr, nullptr, 0);
  }
  EXPECT_EQ(word.load(), 0);
  // glibc's own tid word was replaced, so a join would wait forever; let the thread go.
  pthread_detach(t);
}

// CLONE_PARENT_SETTID stores the child's TID before the child runs: a thread that exits at once
// must not have its CLONE_CHILD_CLEARTID zero overwritten by that TID afterwards, or
// pthread_join would sleep forever.
TEST(Thread, ParentTidIsWrittenBeforeTheChildRuns) {
  struct Shared {
    std::atomic<pid_t> parent_tid{0};
    std::atomic<pid_t> seen{-1};
  };
  constexpr size_t kStackSize = 64 * 1024;
  std::vector<char> stack(kStackSize);
  for (int i = 0; i < 20; ++i) {
    Shared shared;
    pid_t pid = clone(
        [](void* arg) -> int {
          auto* s = static_cast<Shared*>(arg);
          s->seen.store(s->parent_tid.load());
          return 0;
        },
        stack.data() + kStackSize, CLONE_VM | CLONE_PARENT_SETTID | SIGCHLD, &shared,
        reinterpret_cast<pid_t*>(&shared.parent_tid));
    ASSERT_GT(pid, 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_EQ(shared.seen.load(), pid);
    EXPECT_EQ(shared.parent_tid.load(), pid);
  }
}

TEST(Thread, ExitOfOneThreadLeavesTheOthersRunning) {
  int status = InChild([] {
    pthread_t t;
    pthread_create(
        &t, nullptr,
        [](void*) -> void* {
          syscall(SYS_exit, 3);  // this thread only
          return nullptr;
        },
        nullptr);
    pthread_join(t, nullptr);
    _exit(5);
  });
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 5);
}

TEST(Thread, ExitGroupFromAThreadEndsBlockedSiblings) {
  // The main thread blocks in a pipe read and a third thread in a futex wait; a thread's
  // exit_group must take both down and give the process its status.
  int status = InChild([] {
    int fds[2];
    if (pipe(fds) != 0) _exit(90);
    pthread_t sleeper, exiter;
    pthread_create(
        &sleeper, nullptr,
        [](void*) -> void* {
          static int never = 0;
          syscall(SYS_futex, &never, FUTEX_WAIT, 0, nullptr, nullptr, 0);
          return nullptr;
        },
        nullptr);
    pthread_create(
        &exiter, nullptr,
        [](void*) -> void* {
          timespec ts{0, 50 * 1000 * 1000};
          nanosleep(&ts, nullptr);
          syscall(SYS_exit_group, 7);
          return nullptr;
        },
        nullptr);
    char c;
    (void)!read(fds[0], &c, 1);  // never returns
    _exit(91);
  });
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 7);
}

TEST(Thread, ProcessEndsWithItsLastThreadAndThatThreadsStatus) {
  // The leader leaves first (exit(2) of its thread only); the process lives on in the other
  // thread and ends when that one does. Linux 6 reports the last thread's status.
  int status = InChild([] {
    pthread_t t;
    pthread_create(
        &t, nullptr,
        [](void*) -> void* {
          timespec ts{0, 50 * 1000 * 1000};
          nanosleep(&ts, nullptr);
          syscall(SYS_exit, 6);
          return nullptr;
        },
        nullptr);
    syscall(SYS_exit, 4);
  });
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 6);
}

TEST(Thread, ExecveFromAThreadEndsTheOthersAndTakesTheProcessId) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    static int out;
    out = fds[1];
    pthread_t t;
    pthread_create(
        &t, nullptr,
        [](void*) -> void* {
          // The shell prints its pid ($$), which must be the process's, not this thread's.
          dup2(out, 1);
          char* const argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"),
                                const_cast<char*>("echo $$; exit 9"), nullptr};
          execve("/bin/sh", argv, environ);
          _exit(92);
        },
        nullptr);
    pause();  // the leader blocks until execve ends it
    _exit(93);
  }
  close(fds[1]);
  char buf[32] = {};
  ssize_t n = 0, r;
  while ((r = read(fds[0], buf + n, sizeof(buf) - 1 - n)) > 0) n += r;
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 9);
  EXPECT_EQ(atoi(buf), pid);
}

TEST(Thread, VforkChildSharesMemoryUntilItExits) {
  static volatile int shared = 0;
  pid_t pid = vfork();
  if (pid == 0) {
    shared = 42;
    _exit(0);
  }
  ASSERT_GT(pid, 0);
  // The parent did not run until the child had exited, and sees what it wrote.
  EXPECT_EQ(shared, 42);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
}

TEST(Thread, CloneRejectsInconsistentFlags) {
  // No child is made for any of these.
  EXPECT_SYSCALL_ERRNO(
      EINVAL, syscall(SYS_clone, CLONE_THREAD | CLONE_VM, nullptr, nullptr, nullptr, nullptr));
  EXPECT_SYSCALL_ERRNO(EINVAL,
                       syscall(SYS_clone, CLONE_SIGHAND, nullptr, nullptr, nullptr, nullptr));
  EXPECT_SYSCALL_ERRNO(
      EINVAL, syscall(SYS_clone, CLONE_FS | CLONE_NEWNS, nullptr, nullptr, nullptr, nullptr));
}

}  // namespace
