// The sentry's namespaces and confinement (runsc/sandbox_namespaces.h,
// runsc/sentry_confinement.h), on a probe that runs where the sentry runs: started by
// StartInSandboxNamespaces, confined by ConfineSentry (tests/confinement/confine_probe.cc).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "runsc/sandbox_namespaces.h"
#include "sentry/base/file_descriptor.h"

extern char** environ;

namespace runsc {
namespace {

using sentry::FileDescriptor;

struct Probe {
  pid_t pid = -1;
  FileDescriptor stdin_write;  // closing it ends the "pause" scenario
  FileDescriptor stdout_read;
};

Probe StartProbe(const std::string& scenario) {
  int in[2], out[2];
  EXPECT_EQ(pipe2(in, O_CLOEXEC), 0);
  EXPECT_EQ(pipe2(out, O_CLOEXEC), 0);
  FileDescriptor in_read(in[0]), in_write(in[1]), out_read(out[0]), out_write(out[1]);
  std::string path = CONFINE_PROBE;
  char* argv[] = {path.data(), const_cast<char*>(scenario.c_str()), nullptr};
  auto pid = StartInSandboxNamespaces(SandboxNamespaces{}, [&] {
    if (dup2(in_read.get(), 0) < 0 || dup2(out_write.get(), 1) < 0) _exit(126);
    execve(argv[0], argv, environ);
  });
  EXPECT_TRUE(pid.ok()) << pid.status();
  return Probe{pid.ok() ? *pid : -1, std::move(in_write), std::move(out_read)};
}

int WaitFor(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

std::string ReadLine(int fd) {
  std::string line;
  char c;
  while (read(fd, &c, 1) == 1 && c != '\n') line += c;
  return line;
}

std::map<std::string, std::string> Status(pid_t pid) {
  std::map<std::string, std::string> fields;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto value = line.find_first_not_of(" \t", colon + 1);
    fields[line.substr(0, colon)] = value == std::string::npos ? "" : line.substr(value);
  }
  return fields;
}

std::string NamespaceOf(const std::string& pid, const std::string& ns) {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/" + pid + "/ns/" + ns, ec).string();
}

TEST(SentryConfinement, WhatTheSentryNeedsStillWorks) {
  Probe probe = StartProbe("allowed");
  probe.stdin_write.Reset();
  int status = WaitFor(probe.pid);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(ReadLine(probe.stdout_read.get()), "ok");
}

class ForbiddenSyscallTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ForbiddenSyscallTest, KillsWithSigsys) {
  Probe probe = StartProbe(GetParam());
  probe.stdin_write.Reset();
  int status = WaitFor(probe.pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << GetParam() << " came back: exit " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGSYS) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Syscalls, ForbiddenSyscallTest,
                         ::testing::Values("open", "openat", "openat2", "creat", "execve",
                                           "execveat", "socket", "connect", "bind", "mount",
                                           "chroot", "pivot_root", "unshare", "ptrace_attach",
                                           "ptrace_peekdata", "process_vm_readv", "clone_newuser",
                                           "mmap_exec", "mprotect_exec", "ioctl_tiocsti",
                                           "fallocate_other_fd", "prlimit_set", "setuid",
                                           "kexec_load"),
                         [](const auto& info) { return info.param; });

TEST(SentryConfinement, NamespacesEmptyRootNoCapabilities) {
  Probe probe = StartProbe("pause");
  ASSERT_EQ(ReadLine(probe.stdout_read.get()), "ready");
  std::string pid = std::to_string(probe.pid);

  auto status = Status(probe.pid);
  EXPECT_EQ(status["Seccomp"], "2");
  EXPECT_EQ(status["NoNewPrivs"], "1");
  for (const char* caps : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
    EXPECT_EQ(status[caps], "0000000000000000") << caps;
  }
  // PID 1 of its own PID namespace.
  EXPECT_TRUE(status["NSpid"].ends_with("\t1")) << status["NSpid"];

  for (const char* ns : {"user", "mnt", "pid", "ipc", "uts", "net"}) {
    std::string theirs = NamespaceOf(pid, ns);
    EXPECT_FALSE(theirs.empty()) << ns;
    EXPECT_NE(theirs, NamespaceOf("self", ns)) << ns;
  }
  // Root inside is our euid outside, and nothing else is mapped.
  std::ifstream uid_map("/proc/" + pid + "/uid_map");
  int inside = -1, outside = -1, count = -1;
  uid_map >> inside >> outside >> count;
  EXPECT_EQ(inside, 0);
  EXPECT_EQ(outside, static_cast<int>(geteuid()));
  EXPECT_EQ(count, 1);

  // Its root is an empty directory.
  std::error_code ec;
  std::filesystem::directory_iterator root("/proc/" + pid + "/root", ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(root, std::filesystem::directory_iterator()) << "first entry: " << root->path();

  probe.stdin_write.Reset();
  int st = WaitFor(probe.pid);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

// A stub forked by the confined sentry runs under both filters: it starts, maps the
// MemoryFile, traps the application's syscalls, and gets SIGSYS on the vsyscall page.
TEST(SentryConfinement, StubsWorkUnderTheSentrysFilter) {
  Probe probe = StartProbe("platform");
  probe.stdin_write.Reset();
  int status = WaitFor(probe.pid);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "step that failed: see confine_probe.cc Platform()";
}

// As PID 1 of its namespace the sentry would ignore the signals runsc forwards; with its
// handlers it ends with the status a death by that signal would give.
TEST(SandboxNamespaces, ForwardedSignalEndsTheSentry) {
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT}) {
    Probe probe = StartProbe("signals");
    ASSERT_EQ(ReadLine(probe.stdout_read.get()), "ready");
    kill(probe.pid, sig);
    int status = WaitFor(probe.pid);
    ASSERT_TRUE(WIFEXITED(status)) << "signal " << sig;
    EXPECT_EQ(WEXITSTATUS(status), 128 + sig);
  }
}

// A host SIGPIPE (the sentry wrote to a pipe an exec'd process's reader closed) is the task's
// EPIPE, not the sentry's death: the sentry serves every process of the container.
TEST(SandboxNamespaces, HostSigpipeDoesNotEndTheSentry) {
  Probe probe = StartProbe("signals");
  ASSERT_EQ(ReadLine(probe.stdout_read.get()), "ready");
  kill(probe.pid, SIGPIPE);
  kill(probe.pid, SIGTERM);  // still there to take it
  int status = WaitFor(probe.pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM);
}

// A signal sent before the sentry has its handlers is kept pending, not dropped.
TEST(SandboxNamespaces, EarlySignalIsNotLost) {
  Probe probe = StartProbe("signals");
  kill(probe.pid, SIGTERM);
  int status = WaitFor(probe.pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM);
}

// The sandbox dies with whoever started it (PR_SET_PDEATHSIG), namespaces notwithstanding.
TEST(SandboxNamespaces, DiesWithItsParent) {
  int report[2];
  ASSERT_EQ(pipe(report), 0);
  pid_t parent = fork();
  ASSERT_GE(parent, 0);
  if (parent == 0) {
    close(report[0]);
    Probe probe = StartProbe("pause");
    if (write(report[1], &probe.pid, sizeof(probe.pid)) != sizeof(probe.pid)) _exit(1);
    pause();
    _exit(0);
  }
  close(report[1]);
  pid_t probe = -1;
  ASSERT_EQ(read(report[0], &probe, sizeof(probe)), static_cast<ssize_t>(sizeof(probe)));
  close(report[0]);
  ASSERT_EQ(kill(probe, 0), 0);
  kill(parent, SIGKILL);
  WaitFor(parent);
  // Gone, or a zombie waiting for the host's init to reap it.
  bool dead = false;
  for (int i = 0; i < 100 && !dead; ++i) {
    auto state = Status(probe)["State"];
    dead = state.empty() || state.starts_with("Z");
    if (!dead) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(dead);
}

}  // namespace
}  // namespace runsc
