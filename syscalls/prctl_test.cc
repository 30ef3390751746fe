// prctl(2): thread names, the parent-death signal, child subreapers, the dumpable, keepcaps and
// no_new_privs flags, seccomp, the bounding set, timer slack, PR_GET_TID_ADDRESS, and errors.
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/prctl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "syscalls/test_util.h"

namespace {

void* const kBadPtr = reinterpret_cast<void*>(8);

using conformance::InChild;

std::string ReadFile(const char* path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return "";
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof(buf));
  close(fd);
  return n > 0 ? std::string(buf, n) : "";
}

TEST(Prctl, SetNameIsWhatGetNameAndProcShow) {
  EXPECT_EQ(InChild([] {
              if (prctl(PR_SET_NAME, "worker-1") != 0) return 1;
              char name[16] = {};
              if (prctl(PR_GET_NAME, name) != 0) return 2;
              if (std::string(name) != "worker-1") return 3;
              if (ReadFile("/proc/self/comm") != "worker-1\n") return 4;
              if (ReadFile("/proc/self/status").find("Name:\tworker-1\n") != 0) return 5;
              return 0;
            }),
            0);
}

TEST(Prctl, SetNameKeepsFifteenBytes) {
  EXPECT_EQ(InChild([] {
              if (prctl(PR_SET_NAME, "a-name-that-is-much-too-long") != 0) return 1;
              char name[16];
              memset(name, 'x', sizeof(name));
              if (prctl(PR_GET_NAME, name) != 0) return 2;
              if (name[15] != '\0' || std::string(name) != "a-name-that-is-") return 3;
              return 0;
            }),
            0);
}

TEST(Prctl, NameBadPointers) {
  EXPECT_SYSCALL_ERRNO(EFAULT, prctl(PR_SET_NAME, kBadPtr));
  EXPECT_SYSCALL_ERRNO(EFAULT, prctl(PR_GET_NAME, kBadPtr));
}

TEST(Prctl, PdeathsigRoundTripAndErrors) {
  EXPECT_EQ(InChild([] {
              int sig = -1;
              if (prctl(PR_GET_PDEATHSIG, &sig) != 0 || sig != 0) return 1;
              if (prctl(PR_SET_PDEATHSIG, SIGUSR1) != 0) return 2;
              if (prctl(PR_GET_PDEATHSIG, &sig) != 0 || sig != SIGUSR1) return 3;
              if (prctl(PR_SET_PDEATHSIG, 65) != -1 || errno != EINVAL) return 4;
              if (prctl(PR_GET_PDEATHSIG, kBadPtr) != -1 || errno != EFAULT) return 5;
              // A child does not inherit it.
              return InChild([] {
                       int s = -1;
                       return prctl(PR_GET_PDEATHSIG, &s) == 0 && s == 0 ? 0 : 1;
                     }) == 0
                         ? 0
                         : 6;
            }),
            0);
}

// A subreaper adopts its orphaned grandchild, which gets its parent-death signal when its
// parent exits.
TEST(Prctl, SubreaperAdoptsOrphanThatGetsPdeathsig) {
  EXPECT_EQ(InChild([] {
              if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) return 1;
              int is = -1;
              if (prctl(PR_GET_CHILD_SUBREAPER, &is) != 0 || is != 1) return 2;
              int ready[2];
              if (pipe(ready) != 0) return 3;
              pid_t middle = fork();
              if (middle == 0) {
                pid_t grandchild = fork();
                if (grandchild == 0) {
                  prctl(PR_SET_PDEATHSIG, SIGTERM);
                  char c = 'r';
                  (void)!write(ready[1], &c, 1);
                  for (;;) pause();
                }
                char c;
                (void)!read(ready[0], &c, 1);
                _exit(grandchild > 0 ? 0 : 1);
              }
              int status = 0;
              if (waitpid(middle, &status, 0) != middle || status != 0) return 4;
              // The grandchild is now ours to reap, killed by its parent-death signal.
              pid_t got = waitpid(-1, &status, 0);
              if (got <= 0) return 5;
              if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGTERM) return 6;
              return 0;
            }),
            0);
  EXPECT_SYSCALL_ERRNO(EFAULT, prctl(PR_GET_CHILD_SUBREAPER, kBadPtr));
}

TEST(Prctl, Dumpable) {
  EXPECT_EQ(prctl(PR_GET_DUMPABLE), 1);
  EXPECT_EQ(InChild([] {
              if (prctl(PR_SET_DUMPABLE, 0) != 0 || prctl(PR_GET_DUMPABLE) != 0) return 1;
              if (prctl(PR_SET_DUMPABLE, 1) != 0 || prctl(PR_GET_DUMPABLE) != 1) return 2;
              return 0;
            }),
            0);
  EXPECT_SYSCALL_ERRNO(EINVAL, prctl(PR_SET_DUMPABLE, 2));
}

TEST(Prctl, NewEffectiveIdClearsDumpableAndPdeathsig) {
  EXPECT_EQ(InChild([] {
              if (prctl(PR_SET_PDEATHSIG, SIGUSR1) != 0) return 1;
              if (setresuid(1000, 1000, 1000) != 0) return 2;
              if (prctl(PR_GET_DUMPABLE) != 0) return 3;
              int sig = -1;
              if (prctl(PR_GET_PDEATHSIG, &sig) != 0 || sig != 0) return 4;
              return 0;
            }),
            0);
}

TEST(Prctl, Keepcaps) {
  EXPECT_EQ(prctl(PR_GET_KEEPCAPS), 0);
  EXPECT_EQ(InChild([] {
              if (prctl(PR_SET_KEEPCAPS, 1) != 0 || prctl(PR_GET_KEEPCAPS) != 1) return 1;
              if (prctl(PR_SET_KEEPCAPS, 0) != 0 || prctl(PR_GET_KEEPCAPS) != 0) return 2;
              return 0;
            }),
            0);
  EXPECT_SYSCALL_ERRNO(EINVAL, prctl(PR_SET_KEEPCAPS, 2));
}

TEST(Prctl, NoNewPrivsIsSetOnceAndInherited) {
  EXPECT_EQ(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0);
  EXPECT_SYSCALL_ERRNO(EINVAL, prctl(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, prctl(PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0));
  EXPECT_EQ(
      InChild([] {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return 1;
        if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return 2;
        if (ReadFile("/proc/self/status").find("\nNoNewPrivs:\t1\n") == std::string::npos) {
          return 4;
        }
        return InChild([] { return prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? 0 : 1; }) == 0 ? 0
                                                                                                : 3;
      }),
      0);
}

TEST(Prctl, Seccomp) {
  EXPECT_EQ(prctl(PR_GET_SECCOMP), 0);
  EXPECT_SYSCALL_ERRNO(EINVAL, prctl(PR_SET_SECCOMP, 99, 0, 0, 0));
}

TEST(Prctl, CapbsetRead) {
  EXPECT_EQ(prctl(PR_CAPBSET_READ, CAP_SETUID), 1);
  EXPECT_EQ(prctl(PR_CAPBSET_READ, CAP_KILL), 1);
  EXPECT_SYSCALL_ERRNO(EINVAL, prctl(PR_CAPBSET_READ, 64));
  EXPECT_SYSCALL_ERRNO(EINVAL, prctl(PR_CAPBSET_READ, -1L));
}

TEST(Prctl, TimerSlack) {
  long initial = prctl(PR_GET_TIMERSLACK);
  ASSERT_GT(initial, 0);
  EXPECT_EQ(InChild([initial] {
              if (prctl(PR_SET_TIMERSLACK, 123456) != 0) return 1;
              if (prctl(PR_GET_TIMERSLACK) != 123456) return 2;
              // 0 goes back to the default, which is what the task started with.
              if (prctl(PR_SET_TIMERSLACK, 0) != 0) return 3;
              return prctl(PR_GET_TIMERSLACK) == initial ? 0 : 4;
            }),
            0);
}

TEST(Prctl, GetTidAddress) {
  EXPECT_EQ(InChild([] {
              static int word;
              syscall(SYS_set_tid_address, &word);
              int* got = nullptr;
              if (prctl(PR_GET_TID_ADDRESS, &got) != 0) return 1;
              return got == &word ? 0 : 2;
            }),
            0);
  EXPECT_SYSCALL_ERRNO(EFAULT, prctl(PR_GET_TID_ADDRESS, kBadPtr));
}

TEST(Prctl, BadOptions) {
  EXPECT_SYSCALL_ERRNO(EINVAL, prctl(0x7fff1234, 0, 0, 0, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, prctl(PR_SET_VMA, 99, 0, 0, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, prctl(PR_SET_MM, PR_SET_MM_START_CODE, 0, 0, 1));
  EXPECT_SYSCALL_ERRNO(EINVAL, prctl(PR_SET_MM, PR_SET_MM_START_CODE, 0, 1, 0));
}

}  // namespace
