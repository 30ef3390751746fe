// clone3: struct clone_args checking (size, unknown fields, flags, exit signal, stack, set_tid)
// and the clone features it reaches (fork, pidfd, CLONE_CLEAR_SIGHAND, threads via glibc).
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "syscalls/test_util.h"

namespace {

using conformance::Fd;

constexpr size_t kVer0 = 64;  // CLONE_ARGS_SIZE_VER0
void* const kBadAddr = reinterpret_cast<void*>(8);

long Clone3(clone_args* args, size_t size) { return syscall(SYS_clone3, args, size); }

// clone3 whose child, running on a stack of its own from the instruction after the syscall,
// exits with `code` at once: a libc wrapper could not return there.
long Clone3ExitingChild(clone_args* args, size_t size, int code) {
  long ret;
  asm volatile(
      "syscall\n\t"
      "test %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      "mov %%edx, %%edi\n\t"
      "mov $60, %%eax\n\t"  // exit
      "syscall\n\t"
      "1:\n\t"
      : "=a"(ret)
      : "0"(static_cast<long>(SYS_clone3)), "D"(args), "S"(size), "d"(code)
      : "rcx", "r11", "memory");
  if (ret < 0) {
    errno = static_cast<int>(-ret);
    return -1;
  }
  return ret;
}

clone_args ForkArgs() {
  clone_args a{};
  a.exit_signal = SIGCHLD;
  return a;
}

// Runs clone3 with `args`; a child exits at once with 0. Returns clone3's result for the
// parent (reaping the child) and sets errno on failure.
long TryClone3(clone_args args, size_t size = sizeof(clone_args)) {
  long pid = Clone3(&args, size);
  if (pid == 0) _exit(0);
  if (pid > 0) {
    int saved = errno;
    int status;
    waitpid(static_cast<pid_t>(pid), &status, __WALL);
    errno = saved;
  }
  return pid;
}

TEST(Clone3, ForksAChild) {
  clone_args args = ForkArgs();
  long pid = Clone3(&args, sizeof(args));
  if (pid == 0) _exit(getppid() > 0 ? 7 : 1);
  ASSERT_GT(pid, 0) << conformance::ErrnoName(errno);
  int status = 0;
  ASSERT_EQ(waitpid(static_cast<pid_t>(pid), &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7) << std::hex << status;
}

TEST(Clone3, SmallestSizeWorks) { EXPECT_GT(TryClone3(ForkArgs(), kVer0), 0); }

TEST(Clone3, SizeChecks) {
  clone_args args = ForkArgs();
  EXPECT_SYSCALL_ERRNO(EINVAL, Clone3(&args, kVer0 - 8));
  EXPECT_SYSCALL_ERRNO(EINVAL, Clone3(&args, 0));
  // Larger than a page: E2BIG, whatever it holds.
  std::vector<uint8_t> big(2 * conformance::PageSize(), 0);
  memcpy(big.data(), &args, sizeof(args));
  EXPECT_SYSCALL_ERRNO(
      E2BIG, Clone3(reinterpret_cast<clone_args*>(big.data()), conformance::PageSize() + 8));
}

TEST(Clone3, UnknownTrailingBytesMustBeZero) {
  std::vector<uint8_t> buf(sizeof(clone_args) + 16, 0);
  clone_args args = ForkArgs();
  memcpy(buf.data(), &args, sizeof(args));
  auto* p = reinterpret_cast<clone_args*>(buf.data());
  // Zeros past the known struct are fine.
  long pid = Clone3(p, buf.size());
  if (pid == 0) _exit(0);
  ASSERT_GT(pid, 0) << conformance::ErrnoName(errno);
  int status;
  waitpid(static_cast<pid_t>(pid), &status, 0);
  buf[sizeof(clone_args) + 9] = 1;
  EXPECT_SYSCALL_ERRNO(E2BIG, Clone3(p, buf.size()));
}

TEST(Clone3, BadArgsPointerIsEfault) {
  EXPECT_SYSCALL_ERRNO(EFAULT, Clone3(static_cast<clone_args*>(kBadAddr), sizeof(clone_args)));
}

TEST(Clone3, FlagChecks) {
  clone_args a = ForkArgs();
  a.flags = CLONE_DETACHED;
  EXPECT_SYSCALL_ERRNO(EINVAL, TryClone3(a));
  a = ForkArgs();
  a.flags = 0x1ULL << 40;  // unknown
  EXPECT_SYSCALL_ERRNO(EINVAL, TryClone3(a));
  a = ForkArgs();
  a.flags = SIGCHLD;  // the exit signal is its own field here
  EXPECT_SYSCALL_ERRNO(EINVAL, TryClone3(a));
  a = ForkArgs();
  a.flags = CLONE_SIGHAND | CLONE_VM | CLONE_CLEAR_SIGHAND;
  EXPECT_SYSCALL_ERRNO(EINVAL, TryClone3(a));
  a = ForkArgs();
  a.flags = CLONE_PARENT;  // with an exit signal
  EXPECT_SYSCALL_ERRNO(EINVAL, TryClone3(a));
  a = ForkArgs();
  a.flags = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;
  EXPECT_SYSCALL_ERRNO(EINVAL, TryClone3(a));
  a = ForkArgs();
  a.flags = CLONE_INTO_CGROUP;  // needs the VER2 size
  EXPECT_SYSCALL_ERRNO(EINVAL, TryClone3(a, kVer0));
  // clone's own consistency rules still hold.
  a = ForkArgs();
  a.flags = CLONE_SIGHAND;
  EXPECT_SYSCALL_ERRNO(EINVAL, TryClone3(a));
}

TEST(Clone3, ExitSignalChecks) {
  clone_args a = ForkArgs();
  a.exit_signal = 65;
  EXPECT_SYSCALL_ERRNO(EINVAL, TryClone3(a));
  a.exit_signal = (1ULL << 32) | SIGCHLD;
  EXPECT_SYSCALL_ERRNO(EINVAL, TryClone3(a));
  a.exit_signal = 0x100;
  EXPECT_SYSCALL_ERRNO(EINVAL, TryClone3(a));
  // No exit signal at all: a "clone" child, waited for with __WALL.
  a.exit_signal = 0;
  EXPECT_GT(TryClone3(a), 0);
}

TEST(Clone3, StackChecks) {
  clone_args a = ForkArgs();
  a.stack_size = 4096;  // without a stack
  EXPECT_SYSCALL_ERRNO(EINVAL, TryClone3(a));
  static char stack[16384];
  a = ForkArgs();
  a.stack = reinterpret_cast<uint64_t>(stack);  // without a size
  EXPECT_SYSCALL_ERRNO(EINVAL, TryClone3(a));
}

TEST(Clone3, VforkOnItsOwnStack) {
  size_t size = 64 * 1024;
  void* stack = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(stack, MAP_FAILED);
  clone_args a = ForkArgs();
  a.flags = CLONE_VM | CLONE_VFORK;
  a.stack = reinterpret_cast<uint64_t>(stack);
  a.stack_size = size;
  long pid = Clone3ExitingChild(&a, sizeof(a), 6);
  ASSERT_GT(pid, 0) << conformance::ErrnoName(errno);
  int status = 0;
  ASSERT_EQ(waitpid(static_cast<pid_t>(pid), &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 6) << std::hex << status;
  munmap(stack, size);
}

TEST(Clone3, SetTidChecks) {
  pid_t tids[2] = {getpid(), 0};
  clone_args a = ForkArgs();
  a.set_tid = reinterpret_cast<uint64_t>(tids);
  a.set_tid_size = 0;  // a pointer without a count
  EXPECT_SYSCALL_ERRNO(EINVAL, TryClone3(a));
  a.set_tid = 0;
  a.set_tid_size = 1;  // a count without a pointer
  EXPECT_SYSCALL_ERRNO(EINVAL, TryClone3(a));
  a.set_tid = reinterpret_cast<uint64_t>(tids);
  a.set_tid_size = 33;  // more than the deepest nesting of pid namespaces
  EXPECT_SYSCALL_ERRNO(EINVAL, TryClone3(a));
  a.set_tid_size = 2;  // more levels than the caller's namespace has
  EXPECT_SYSCALL_ERRNO(EINVAL, TryClone3(a));
  a.set_tid_size = 1;
  a.set_tid = reinterpret_cast<uint64_t>(kBadAddr);
  EXPECT_SYSCALL_ERRNO(EFAULT, TryClone3(a));
  // An id in use.
  a.set_tid = reinterpret_cast<uint64_t>(tids);
  EXPECT_SYSCALL_ERRNO(EEXIST, TryClone3(a));
  tids[0] = -5;
  EXPECT_SYSCALL_ERRNO(EINVAL, TryClone3(a));
}

TEST(Clone3, SetTidNeedsPrivilege) {
  int rc = conformance::InChild([] {
    if (setresuid(65534, 65534, 65534) != 0) return 10;
    pid_t tid = 2;  // in range (EINVAL is checked first), taken or not (EEXIST comes after)
    clone_args a = ForkArgs();
    a.set_tid = reinterpret_cast<uint64_t>(&tid);
    a.set_tid_size = 1;
    long pid = Clone3(&a, sizeof(a));
    if (pid == 0) _exit(0);
    if (pid > 0) return 11;
    return errno == EPERM ? 0 : 12;
  });
  EXPECT_EQ(rc, 0);
}

TEST(Clone3, PidfdField) {
  int pidfd = -1;
  clone_args a = ForkArgs();
  a.flags = CLONE_PIDFD;
  a.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  long pid = Clone3(&a, sizeof(a));
  if (pid == 0) _exit(4);
  ASSERT_GT(pid, 0) << conformance::ErrnoName(errno);
  Fd fd(pidfd);
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(fcntl(fd.get(), F_GETFD), FD_CLOEXEC);
  siginfo_t info{};
  ASSERT_SYSCALL_OK(waitid(P_PIDFD, fd.get(), &info, WEXITED));
  EXPECT_EQ(info.si_pid, pid);
  EXPECT_EQ(info.si_status, 4);

  // A pidfd that cannot be written back: EFAULT, and no child.
  a.pidfd = reinterpret_cast<uint64_t>(kBadAddr);
  EXPECT_SYSCALL_ERRNO(EFAULT, TryClone3(a));
  int status;
  EXPECT_SYSCALL_ERRNO(ECHILD, waitpid(-1, &status, WNOHANG | __WALL));
}

TEST(Clone3, ParentAndChildTid) {
  pid_t parent_tid = 0;
  clone_args a = ForkArgs();
  a.flags = CLONE_PARENT_SETTID;
  a.parent_tid = reinterpret_cast<uint64_t>(&parent_tid);
  long pid = Clone3(&a, sizeof(a));
  if (pid == 0) _exit(0);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(parent_tid, pid);
  int status;
  waitpid(static_cast<pid_t>(pid), &status, 0);
}

TEST(Clone3, ClearSighandResetsHandlersButNotIgnores) {
  struct sigaction sa {
  }, old_usr1{}, old_usr2{};
  sa.sa_handler = [](int) {};
  ASSERT_SYSCALL_OK(sigaction(SIGUSR1, &sa, &old_usr1));
  sa.sa_handler = SIG_IGN;
  ASSERT_SYSCALL_OK(sigaction(SIGUSR2, &sa, &old_usr2));
  clone_args a = ForkArgs();
  a.flags = CLONE_CLEAR_SIGHAND;
  long pid = Clone3(&a, sizeof(a));
  if (pid == 0) {
    struct sigaction now1 {
    }, now2{};
    sigaction(SIGUSR1, nullptr, &now1);
    sigaction(SIGUSR2, nullptr, &now2);
    _exit(now1.sa_handler == SIG_DFL && now2.sa_handler == SIG_IGN ? 0 : 1);
  }
  ASSERT_GT(pid, 0) << conformance::ErrnoName(errno);
  int status = 0;
  ASSERT_EQ(waitpid(static_cast<pid_t>(pid), &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << std::hex << status;
  sigaction(SIGUSR1, &old_usr1, nullptr);
  sigaction(SIGUSR2, &old_usr2, nullptr);
}

TEST(Clone3, IntoCgroupWithoutACgroupFdIsEbadf) {
  clone_args a = ForkArgs();
  a.flags = CLONE_INTO_CGROUP;
  a.cgroup = 1000000;  // no such fd
  EXPECT_SYSCALL_ERRNO(EBADF, TryClone3(a));
}

// glibc creates threads with clone3 where the kernel has it.
TEST(Clone3, PthreadCreateAndJoin) {
  pthread_t th;
  static int value;
  value = 0;
  ASSERT_EQ(pthread_create(
                &th, nullptr,
                [](void*) -> void* {
                  value = static_cast<int>(syscall(SYS_gettid));
                  return nullptr;
                },
                nullptr),
            0);
  ASSERT_EQ(pthread_join(th, nullptr), 0);
  EXPECT_NE(value, 0);
  EXPECT_NE(value, getpid());
}

}  // namespace
