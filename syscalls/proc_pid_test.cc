// /proc/PID for processes other than the caller: a forked child (stat, status, readdir of
// /proc), one exec'd with a known argv and environment (cmdline, environ, both read from its
// memory), a second thread (task/), a zombie (state Z) and what is left once it is reaped
// (ENOENT, ESRCH from a file opened before), a process stopped by job control (state T until
// SIGCONT), and who may read another process's environ and fd/
// (root, with CAP_SYS_PTRACE; not another user).
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "syscalls/test_util.h"

namespace {

using conformance::Fd;
using conformance::Pipe;

// The flag that makes this binary, exec'd as its own child, wait instead of running the tests.
constexpr char kChildFlag[] = "--proc-test-child";
constexpr char kChildArg[] = "arg two";
constexpr char kRewrittenArg[] = "ARG TWO";

// In child mode (argv[1] == kChildFlag) the program rewrites its last argument in place, as
// setproctitle does, writes one byte to stdout and waits for stdin to reach EOF. glibc passes
// argc, argv and envp to constructors, so this runs before gtest's main.
__attribute__((constructor)) void ChildMode(int argc, char** argv, char**) {
  if (argc != 3 || strcmp(argv[1], kChildFlag) != 0) return;
  memcpy(argv[2], kRewrittenArg, sizeof(kRewrittenArg) - 1);
  char c = 'r';
  if (write(STDOUT_FILENO, &c, 1) != 1) _exit(2);
  while (read(STDIN_FILENO, &c, 1) > 0) {
  }
  _exit(0);
}

// The contents of `path`, or nullopt-like failure reported through `ok`.
bool ReadFile(const std::string& path, std::string* out) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.ok()) return false;
  out->clear();
  char buf[4096];
  while (true) {
    ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n < 0) return false;
    if (n == 0) return true;
    out->append(buf, static_cast<size_t>(n));
  }
}

std::string Contents(const std::string& path) {
  std::string s;
  EXPECT_TRUE(ReadFile(path, &s)) << path << ": " << strerror(errno);
  return s;
}

// The fields of a stat line; the comm (field 2) is taken whole, parentheses included.
std::vector<std::string> StatFields(const std::string& line) {
  std::vector<std::string> f;
  size_t open = line.find('('), close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos) return f;
  f.push_back(line.substr(0, open - 1));
  f.push_back(line.substr(open, close - open + 1));
  std::string rest = line.substr(close + 2);
  for (size_t i = 0, j; i < rest.size(); i = j + 1) {
    j = rest.find_first_of(" \n", i);
    if (j == std::string::npos) j = rest.size();
    f.push_back(rest.substr(i, j - i));
  }
  return f;
}

// The value of status line `key` ("PPid"), without the tab after the colon.
std::string StatusField(const std::string& status, const std::string& key) {
  std::string prefix = "\n" + key + ":\t";
  size_t at = ("\n" + status).find(prefix);
  if (at == std::string::npos) return "<missing>";
  size_t start = at + prefix.size() - 1;
  return status.substr(start, status.find('\n', start) - start);
}

std::vector<std::string> DirNames(const std::string& path) {
  std::vector<std::string> names;
  DIR* d = opendir(path.c_str());
  if (d == nullptr) return names;
  while (dirent* e = readdir(d)) names.push_back(e->d_name);
  closedir(d);
  return names;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string P(pid_t pid, const char* file = nullptr) {
  std::string s = "/proc/" + std::to_string(pid);
  if (file != nullptr) s += std::string("/") + file;
  return s;
}

// A forked child that blocks reading a pipe until the test closes its end, then exits 0.
class BlockedChild {
 public:
  BlockedChild() {
    pid_ = fork();
    if (pid_ == 0) {
      pipe_.CloseWrite();
      char c;
      while (read(pipe_.r(), &c, 1) > 0) {
      }
      _exit(0);
    }
    pipe_.CloseRead();
  }
  ~BlockedChild() { Reap(); }
  pid_t pid() const { return pid_; }
  void Reap() {
    if (pid_ <= 0) return;
    pipe_.CloseWrite();
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  Pipe pipe_;
  pid_t pid_ = -1;
};

TEST(ProcSelf, StatAndStatusDescribeTheCaller) {
  std::vector<std::string> f = StatFields(Contents("/proc/self/stat"));
  ASSERT_EQ(f.size(), 52u);
  EXPECT_EQ(f[0], std::to_string(getpid()));
  EXPECT_EQ(f[2], "R");  // it is reading
  EXPECT_EQ(f[3], std::to_string(getppid()));
  EXPECT_EQ(f[4], std::to_string(getpgrp()));
  EXPECT_EQ(f[5], std::to_string(getsid(0)));
  EXPECT_EQ(f[19], "1");  // num_threads

  std::string status = Contents("/proc/self/status");
  EXPECT_EQ(StatusField(status, "Pid"), std::to_string(getpid()));
  EXPECT_EQ(StatusField(status, "Tgid"), std::to_string(getpid()));
  EXPECT_EQ(StatusField(status, "PPid"), std::to_string(getppid()));
  std::string uid = std::to_string(getuid());
  EXPECT_EQ(StatusField(status, "Uid"), uid + "\t" + uid + "\t" + uid + "\t" + uid);
  EXPECT_EQ(StatusField(status, "State"), "R (running)");
  EXPECT_EQ(StatusField(status, "Threads"), "1");
}

TEST(ProcPid, ForkedChildHasItsOwnDirectory) {
  BlockedChild child;
  ASSERT_GT(child.pid(), 0);
  std::vector<std::string> f = StatFields(Contents(P(child.pid(), "stat")));
  ASSERT_EQ(f.size(), 52u);
  EXPECT_EQ(f[0], std::to_string(child.pid()));
  EXPECT_NE(f[2], "Z");
  EXPECT_EQ(f[3], std::to_string(getpid()));  // ppid
  EXPECT_EQ(f[4], std::to_string(getpgrp()));
  EXPECT_EQ(f[5], std::to_string(getsid(0)));
  EXPECT_EQ(f[6], "0");  // no controlling terminal

  std::string status = Contents(P(child.pid(), "status"));
  EXPECT_EQ(StatusField(status, "Pid"), std::to_string(child.pid()));
  EXPECT_EQ(StatusField(status, "Tgid"), std::to_string(child.pid()));
  EXPECT_EQ(StatusField(status, "PPid"), std::to_string(getpid()));
  std::string uid = std::to_string(getuid());
  EXPECT_EQ(StatusField(status, "Uid"), uid + "\t" + uid + "\t" + uid + "\t" + uid);

  // The child is listed in /proc; the caller's own cmdline is the child's too (fork copies it).
  EXPECT_TRUE(Contains(DirNames("/proc"), std::to_string(child.pid())));
  EXPECT_TRUE(Contains(DirNames("/proc"), std::to_string(getpid())));
  EXPECT_EQ(Contents(P(child.pid(), "cmdline")), Contents("/proc/self/cmdline"));
}

TEST(ProcPid, ExecedChildShowsItsArgumentsAndEnvironment) {
  Pipe to_child(O_CLOEXEC), from_child(O_CLOEXEC);
  ASSERT_TRUE(to_child.ok() && from_child.ok());
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    dup2(to_child.r(), STDIN_FILENO);
    dup2(from_child.w(), STDOUT_FILENO);
    char arg0[] = "proc_test", flag[] = "--proc-test-child", arg[] = "arg two";
    char* argv[] = {arg0, flag, arg, nullptr};
    char env_a[] = "PROC_TEST_A=1", env_b[] = "PROC_TEST_B=two words";
    char* envp[] = {env_a, env_b, nullptr};
    execve("/proc/self/exe", argv, envp);
    _exit(127);
  }
  to_child.CloseRead();
  from_child.CloseWrite();
  char c = 0;
  ASSERT_EQ(read(from_child.r(), &c, 1), 1) << "the child did not start";

  // The last argument as the child rewrote it in its own memory.
  EXPECT_EQ(Contents(P(pid, "cmdline")),
            std::string("proc_test\0--proc-test-child\0ARG TWO\0", 36));
  EXPECT_EQ(Contents(P(pid, "environ")), std::string("PROC_TEST_A=1\0PROC_TEST_B=two words\0", 36));
  std::string comm = Contents(P(pid, "comm"));
  EXPECT_EQ(comm, "exe\n");  // the name of the file exec'd: /proc/self/exe

  to_child.CloseWrite();
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(ProcPid, TaskListsEveryThread) {
  Pipe gate;
  ASSERT_TRUE(gate.ok());
  pid_t tid = 0;
  Pipe started;
  ASSERT_TRUE(started.ok());
  std::thread worker([&] {
    pid_t me = static_cast<pid_t>(syscall(SYS_gettid));
    (void)!write(started.w(), &me, sizeof(me));
    char c;
    while (read(gate.r(), &c, 1) > 0) {
    }
  });
  ASSERT_EQ(read(started.r(), &tid, sizeof(tid)), static_cast<ssize_t>(sizeof(tid)));
  std::string pid = std::to_string(getpid()), t = std::to_string(tid);

  std::vector<std::string> threads = DirNames("/proc/self/task");
  EXPECT_TRUE(Contains(threads, pid));
  EXPECT_TRUE(Contains(threads, t));
  std::vector<std::string> f = StatFields(Contents("/proc/self/task/" + t + "/stat"));
  ASSERT_EQ(f.size(), 52u);
  EXPECT_EQ(f[0], t);
  EXPECT_EQ(f[19], "2");  // num_threads
  std::string status = Contents("/proc/self/task/" + t + "/status");
  EXPECT_EQ(StatusField(status, "Pid"), t);
  EXPECT_EQ(StatusField(status, "Tgid"), pid);
  EXPECT_EQ(StatusField(status, "Threads"), "2");
  EXPECT_FALSE(Contents("/proc/self/task/" + t + "/comm").empty());
  // A thread's own id resolves at the top level too, though only processes are listed there.
  struct stat st {};
  EXPECT_SYSCALL_OK(stat(P(tid).c_str(), &st));
  EXPECT_EQ(StatusField(Contents(P(tid, "status")), "Pid"), t);
  EXPECT_FALSE(Contains(DirNames("/proc"), t));
  // task/ has no task/ of its own.
  EXPECT_SYSCALL_ERRNO(ENOENT, stat(("/proc/self/task/" + t + "/task").c_str(), &st));

  gate.CloseWrite();
  worker.join();
}

TEST(ProcPid, ZombieThenReaped) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) _exit(7);
  // Wait for the exit without reaping: the child stays a zombie.
  siginfo_t info{};
  ASSERT_SYSCALL_OK(waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT));

  std::vector<std::string> f = StatFields(Contents(P(pid, "stat")));
  ASSERT_EQ(f.size(), 52u);
  EXPECT_EQ(f[2], "Z");
  EXPECT_EQ(f[3], std::to_string(getpid()));
  EXPECT_EQ(StatusField(Contents(P(pid, "status")), "State"), "Z (zombie)");
  EXPECT_EQ(Contents(P(pid, "cmdline")), "");
  char buf[256];
  EXPECT_SYSCALL_ERRNO(ENOENT, readlink(P(pid, "exe").c_str(), buf, sizeof(buf)));
  EXPECT_SYSCALL_ERRNO(ENOENT, readlink(P(pid, "cwd").c_str(), buf, sizeof(buf)));
  EXPECT_TRUE(Contains(DirNames("/proc"), std::to_string(pid)));
  // Its fd table is gone: fd/ lists nothing.
  std::vector<std::string> fds = DirNames(P(pid, "fd"));
  EXPECT_EQ(fds.size(), 2u);  // "." and ".."

  Fd stat_fd(open(P(pid, "stat").c_str(), O_RDONLY));
  ASSERT_TRUE(stat_fd.ok());
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7);

  // Reaped: the directory is gone, and a file opened before fails its reads.
  EXPECT_SYSCALL_ERRNO(ESRCH, pread(stat_fd.get(), buf, sizeof(buf), 0));
  struct stat st {};
  EXPECT_SYSCALL_ERRNO(ENOENT, stat(P(pid).c_str(), &st));
  EXPECT_SYSCALL_ERRNO(ENOENT, open(P(pid, "stat").c_str(), O_RDONLY));
  EXPECT_FALSE(Contains(DirNames("/proc"), std::to_string(pid)));
}

// The state letter of stat (field 3) and status's State line of /proc/PID/`where`.
std::pair<std::string, std::string> StateOfEntry(pid_t pid, const std::string& where) {
  std::vector<std::string> f = StatFields(Contents(P(pid, (where + "stat").c_str())));
  std::string letter = f.size() > 2 ? f[2] : "<short stat>";
  return {letter, StatusField(Contents(P(pid, (where + "status").c_str())), "State")};
}

TEST(ProcPid, JobControlStopShowsStoppedUntilContinued) {
  Pipe gate, ready;
  ASSERT_TRUE(gate.ok() && ready.ok());
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    gate.CloseWrite();
    auto block = [&] {
      char c;
      while (read(gate.r(), &c, 1) > 0) {
      }
    };
    std::thread worker([&] {
      pid_t me = static_cast<pid_t>(syscall(SYS_gettid));
      (void)!write(ready.w(), &me, sizeof(me));
      block();
    });
    block();
    worker.join();
    _exit(0);
  }
  gate.CloseRead();
  ready.CloseWrite();
  pid_t tid = 0;
  ASSERT_EQ(read(ready.r(), &tid, sizeof(tid)), static_cast<ssize_t>(sizeof(tid)));
  const std::vector<std::string> entries = {"", "task/" + std::to_string(pid) + "/",
                                            "task/" + std::to_string(tid) + "/"};

  ASSERT_SYSCALL_OK(kill(pid, SIGSTOP));
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, WUNTRACED), pid);
  ASSERT_TRUE(WIFSTOPPED(status)) << status;
  for (const std::string& where : entries) {
    auto [letter, state] = StateOfEntry(pid, where);
    EXPECT_EQ(letter, "T") << where;
    EXPECT_EQ(state, "T (stopped)") << where;
  }

  // SIGCONT wakes every thread before kill returns; blocked in read, they sleep again.
  ASSERT_SYSCALL_OK(kill(pid, SIGCONT));
  ASSERT_EQ(waitpid(pid, &status, WCONTINUED), pid);
  ASSERT_TRUE(WIFCONTINUED(status)) << status;
  for (const std::string& where : entries) {
    auto [letter, state] = StateOfEntry(pid, where);
    EXPECT_TRUE(letter == "S" || letter == "R") << where << ": " << letter;
    EXPECT_TRUE(state == "S (sleeping)" || state == "R (running)") << where << ": " << state;
  }

  gate.CloseWrite();
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

// Processes come and go by the thousand in a long-lived sandbox: each reaped one's directory
// goes with it, whether or not it was looked up while the process lived.
TEST(ProcPid, ReapedChildrenLeaveNoEntries) {
  constexpr int kChildren = 1000;
  std::vector<pid_t> reaped;
  for (int i = 0; i < kChildren; ++i) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) _exit(0);
    struct stat st {};
    if (i % 2 == 0) {
      ASSERT_EQ(stat(P(pid).c_str(), &st), 0) << pid;
      ASSERT_EQ(stat(P(pid, "status").c_str(), &st), 0) << pid;
    }
    ASSERT_EQ(waitpid(pid, nullptr, 0), pid);
    ASSERT_NE(stat(P(pid).c_str(), &st), 0) << pid;
    ASSERT_EQ(errno, ENOENT) << pid;
    reaped.push_back(pid);
  }
  std::vector<std::string> listed = DirNames("/proc");
  for (pid_t pid : reaped) EXPECT_FALSE(Contains(listed, std::to_string(pid))) << pid;
}

TEST(ProcPid, NoSuchProcess) {
  struct stat st {};
  EXPECT_SYSCALL_ERRNO(ENOENT, stat("/proc/0", &st));
  EXPECT_SYSCALL_ERRNO(ENOENT, stat("/proc/2147483647", &st));
  EXPECT_SYSCALL_ERRNO(ENOENT, stat("/proc/-1", &st));
  EXPECT_SYSCALL_ERRNO(ENOENT, stat("/proc/01", &st));
}

TEST(ProcPid, AnotherUsersPrivateFilesAreRootsOnly) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to change user";
  // A child of another user, waiting.
  Pipe gate, ready;
  ASSERT_TRUE(gate.ok() && ready.ok());
  pid_t other = fork();
  ASSERT_GE(other, 0);
  if (other == 0) {
    gate.CloseWrite();
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(1);
    char c = 'r';
    (void)!write(ready.w(), &c, 1);
    while (read(gate.r(), &c, 1) > 0) {
    }
    _exit(0);
  }
  gate.CloseRead();
  ready.CloseWrite();
  char c;
  ASSERT_EQ(read(ready.r(), &c, 1), 1);

  // Root with CAP_SYS_PTRACE reads it all.
  std::string env;
  EXPECT_TRUE(ReadFile(P(other, "environ"), &env)) << strerror(errno);
  Fd fd_dir(open(P(other, "fd").c_str(), O_RDONLY | O_DIRECTORY));
  EXPECT_TRUE(fd_dir.ok()) << strerror(errno);

  // The other user may not read root's, though the public files read.
  int code = conformance::InChild([&] {
    pid_t parent = getppid();
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) return 10;
    errno = 0;
    if (open(P(parent, "environ").c_str(), O_RDONLY) >= 0 || errno != EACCES) return 11;
    errno = 0;
    if (open(P(parent, "fd").c_str(), O_RDONLY | O_DIRECTORY) >= 0 || errno != EACCES) return 12;
    if (open(P(parent, "stat").c_str(), O_RDONLY) < 0) return 13;
    return 0;
  });
  EXPECT_EQ(code, 0);

  gate.CloseWrite();
  int status = 0;
  ASSERT_EQ(waitpid(other, &status, 0), other);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
