// Process and user identity: getpid, gettid, getppid, getuid, geteuid, getgid, getegid. These
// never fail; what matters is that they agree with each other and with glibc's wrappers.
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "syscalls/test_util.h"

namespace {

TEST(GetpidTest, PidIsPositiveAndStable) {
  const long pid = syscall(SYS_getpid);
  EXPECT_GT(pid, 0);
  EXPECT_EQ(syscall(SYS_getpid), pid);
  EXPECT_EQ(getpid(), pid);
}

TEST(GetpidTest, SingleThreadedProcessHasTidEqualToPid) {
  // The first thread's id is the thread group's id.
  EXPECT_EQ(syscall(SYS_gettid), syscall(SYS_getpid));
  EXPECT_EQ(gettid(), getpid());
}

TEST(GetpidTest, ParentIsAnotherProcess) {
  const long pid = syscall(SYS_getpid);
  const long ppid = syscall(SYS_getppid);
  EXPECT_GE(ppid, 0);
  EXPECT_NE(ppid, pid);
  EXPECT_EQ(getppid(), ppid);
  // The init process of a PID namespace sees its parent, which is outside, as 0.
  if (pid == 1) {
    EXPECT_EQ(ppid, 0);
  }
}

TEST(GetpidTest, UserAndGroupIdsAreConsistent) {
  const long uid = syscall(SYS_getuid);
  const long euid = syscall(SYS_geteuid);
  const long gid = syscall(SYS_getgid);
  const long egid = syscall(SYS_getegid);
  // Ids are unsigned 32-bit values; (uid_t)-1 is never a process's id.
  for (long id : {uid, euid, gid, egid}) {
    EXPECT_GE(id, 0);
    EXPECT_LT(id, 0xffffffffL);
  }
  // The test binary is not set-user-ID or set-group-ID, so effective ids are the real ones.
  EXPECT_EQ(uid, euid);
  EXPECT_EQ(gid, egid);
  EXPECT_EQ(static_cast<long>(getuid()), uid);
  EXPECT_EQ(static_cast<long>(geteuid()), euid);
  EXPECT_EQ(static_cast<long>(getgid()), gid);
  EXPECT_EQ(static_cast<long>(getegid()), egid);
}

TEST(GetpidTest, IdsIgnoreArguments) {
  // These syscalls take no arguments; whatever is in the argument registers does not matter.
  EXPECT_EQ(syscall(SYS_getpid, 1, 2, 3), syscall(SYS_getpid));
  EXPECT_EQ(syscall(SYS_getuid, -1, -1), syscall(SYS_getuid));
}

}  // namespace
