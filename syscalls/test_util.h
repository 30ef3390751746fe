// Helpers shared by the conformance tests. Header-only: every test is one self-contained static
// binary.
#ifndef SYSCALLS_TEST_UTIL_H_
#define SYSCALLS_TEST_UTIL_H_

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>

#include <gtest/gtest.h>

namespace conformance {

// The symbolic name of an errno value ("EINVAL"), which says more in a failure than a number.
inline std::string ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : std::to_string(err);
}

// From the auxiliary vector: costs no system call.
inline size_t PageSize() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

// A system call's result as a long, so that the macros below take both syscall(2)'s long and
// pointer results such as mmap(2)'s (MAP_FAILED becomes -1).
template <typename T>
long ResultAsLong(T result) {
  if constexpr (std::is_pointer_v<T>) {
    return reinterpret_cast<long>(result);
  } else {
    return static_cast<long>(result);
  }
}

// What a system call returned and the errno it left.
struct Outcome {
  long ret;
  int err;
};

inline ::testing::AssertionResult FailedWith(const char* call, Outcome got, int expected_errno) {
  if (got.ret == -1 && got.err == expected_errno) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << call << " returned " << got.ret << " with errno " << ErrnoName(got.err)
         << "; expected -1 with errno " << ErrnoName(expected_errno);
}

inline ::testing::AssertionResult Succeeded(const char* call, Outcome got) {
  if (got.ret != -1) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << call << " failed with errno " << ErrnoName(got.err);
}

// Both ends of a pipe, closed at the end of the test (those still open).
class Pipe {
 public:
  explicit Pipe(int flags = 0) {
    if (pipe2(fds_, flags) != 0) fds_[0] = fds_[1] = -1;
  }
  ~Pipe() {
    CloseRead();
    CloseWrite();
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;

  bool ok() const { return fds_[0] >= 0 && fds_[1] >= 0; }
  int r() const { return fds_[0]; }
  int w() const { return fds_[1]; }
  void CloseRead() { Close(fds_[0]); }
  void CloseWrite() { Close(fds_[1]); }

 private:
  static void Close(int& fd) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
  int fds_[2];
};

// An fd closed at the end of the test (-1, a failed call's result, holds nothing).
class Fd {
 public:
  explicit Fd(long fd = -1) : fd_(static_cast<int>(fd)) {}
  ~Fd() { Reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// Runs `body` in a forked child and returns its exit code (body's return value), 128+N when
// signal N killed it, or -1 when fork or waitpid failed.
inline int InChild(const std::function<int()>& body) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Runs `blocking_call` in a forked child while a SIGALRM arrives 100 ms in, its handler (which
// does nothing) installed with `sa_flags` (0 or SA_RESTART). The child's exit code: 0 when the
// call failed with EINTR, 10 when it succeeded, 20 + errno for another error, 30+ when the
// set-up failed.
inline int InChildWithAlarm(int sa_flags, const std::function<long()>& blocking_call) {
  return InChild([&] {
    struct sigaction sa = {};
    sa.sa_handler = [](int) {};
    sa.sa_flags = sa_flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, nullptr) != 0) return 30;
    itimerval t = {};
    t.it_value.tv_usec = 100 * 1000;
    if (setitimer(ITIMER_REAL, &t, nullptr) != 0) return 31;
    if (blocking_call() == 0) return 10;
    return errno == EINTR ? 0 : 20 + errno;
  });
}

}  // namespace conformance

// Runs `call` and captures errno at once, before gtest's own work can change it.
#define CONFORMANCE_RUN_(call)                                      \
  ([&]() {                                                          \
    errno = 0;                                                      \
    const long conformance_ret = ::conformance::ResultAsLong(call); \
    return ::conformance::Outcome{conformance_ret, errno};          \
  }())

// Like gtest's own assertions, these take further context with <<, on a line of its own. The
// switch keeps an `else` after the macro from binding to the `if` inside it.
#define CONFORMANCE_CHECK_(result, fail)                              \
  switch (0)                                                          \
  case 0:                                                             \
  default:                                                            \
    if (const ::testing::AssertionResult conformance_ar = (result)) { \
    } else                                                            \
      fail() << conformance_ar.message() << "\n"

// EXPECT_SYSCALL_ERRNO(EINVAL, syscall(...)): the call returns -1 and sets errno to EINVAL.
#define EXPECT_SYSCALL_ERRNO(expected_errno, call)                                               \
  CONFORMANCE_CHECK_(::conformance::FailedWith(#call, CONFORMANCE_RUN_(call), (expected_errno)), \
                     ADD_FAILURE)
#define ASSERT_SYSCALL_ERRNO(expected_errno, call)                                               \
  CONFORMANCE_CHECK_(::conformance::FailedWith(#call, CONFORMANCE_RUN_(call), (expected_errno)), \
                     FAIL)

// EXPECT_SYSCALL_OK(syscall(...)): the call does not return -1; a failure names errno.
#define EXPECT_SYSCALL_OK(call) \
  CONFORMANCE_CHECK_(::conformance::Succeeded(#call, CONFORMANCE_RUN_(call)), ADD_FAILURE)
#define ASSERT_SYSCALL_OK(call) \
  CONFORMANCE_CHECK_(::conformance::Succeeded(#call, CONFORMANCE_RUN_(call)), FAIL)

#endif  // SYSCALLS_TEST_UTIL_H_
