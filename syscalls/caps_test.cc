// capget/capset (header versions, targets, the capset rules, what setuid does to the sets) and
// getgroups/setgroups.
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "syscalls/test_util.h"

namespace {

void* const kBadPtr = reinterpret_cast<void*>(8);
constexpr pid_t kNoSuchPid = 0x3ffffff0;

using conformance::InChild;

long CapGet(__user_cap_header_struct* h, __user_cap_data_struct* d) {
  return syscall(SYS_capget, h, d);
}
long CapSet(__user_cap_header_struct* h, const __user_cap_data_struct* d) {
  return syscall(SYS_capset, h, d);
}

bool Has(const __user_cap_data_struct& d, int cap) { return d.effective & (1u << cap); }

// Run as the program a test exec's: exits 0 when no capability and no keepcaps survived.
[[maybe_unused]] const int exec_check = [] {
  if (getenv("CAPS_TEST_EXEC_CHECK") == nullptr) return 0;
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[2] = {};
  if (syscall(SYS_capget, &h, d) != 0) _exit(2);
  if (d[0].permitted != 0 || d[1].permitted != 0 || d[0].effective != 0) _exit(3);
  _exit(prctl(PR_GET_KEEPCAPS) == 0 ? 0 : 4);
}();

TEST(Caps, ExecAsNonRootDropsKeptCapabilities) {
  EXPECT_EQ(InChild([] {
              if (prctl(PR_SET_KEEPCAPS, 1) != 0) return 1;
              if (setresuid(1000, 1000, 1000) != 0) return 2;
              setenv("CAPS_TEST_EXEC_CHECK", "1", 1);
              char* argv[] = {const_cast<char*>("caps_test"), nullptr};
              execv("/proc/self/exe", argv);
              return 5;
            }),
            0);
}

TEST(Caps, RootHoldsTheUsualCapabilities) {
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[2] = {};
  ASSERT_SYSCALL_OK(CapGet(&h, d));
  for (int cap : {CAP_CHOWN, CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_SETPCAP, CAP_SYS_ADMIN}) {
    EXPECT_TRUE(Has(d[0], cap)) << cap;
  }
  EXPECT_EQ(d[0].effective & ~d[0].permitted, 0u);
  EXPECT_EQ(d[1].effective & ~d[1].permitted, 0u);
  // Our own pid names us as 0 does.
  __user_cap_header_struct self{_LINUX_CAPABILITY_VERSION_3, getpid()};
  __user_cap_data_struct e[2] = {};
  ASSERT_SYSCALL_OK(CapGet(&self, e));
  EXPECT_EQ(e[0].effective, d[0].effective);
  EXPECT_EQ(e[1].permitted, d[1].permitted);
}

TEST(Caps, Version1WritesOneSet) {
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_1, 0};
  __user_cap_data_struct d[2];
  memset(d, 0xab, sizeof(d));
  ASSERT_SYSCALL_OK(CapGet(&h, d));
  EXPECT_TRUE(Has(d[0], CAP_SETUID));
  EXPECT_EQ(d[1].effective, 0xabababab);
}

TEST(Caps, BadVersionGetsThePreferredOne) {
  __user_cap_header_struct h{0x12345678, 0};
  __user_cap_data_struct d[2] = {};
  EXPECT_SYSCALL_ERRNO(EINVAL, CapGet(&h, d));
  EXPECT_EQ(h.version, static_cast<uint32_t>(_LINUX_CAPABILITY_VERSION_3));
  // Without a data pointer the same question is an ordinary query.
  h.version = 0x12345678;
  EXPECT_EQ(CapGet(&h, nullptr), 0);
  EXPECT_EQ(h.version, static_cast<uint32_t>(_LINUX_CAPABILITY_VERSION_3));
  h.version = 0x12345678;
  EXPECT_SYSCALL_ERRNO(EINVAL, CapSet(&h, d));
  EXPECT_EQ(h.version, static_cast<uint32_t>(_LINUX_CAPABILITY_VERSION_3));
}

TEST(Caps, CapgetErrors) {
  __user_cap_data_struct d[2] = {};
  EXPECT_SYSCALL_ERRNO(EFAULT, CapGet(static_cast<__user_cap_header_struct*>(kBadPtr), d));
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
  EXPECT_SYSCALL_ERRNO(EFAULT, CapGet(&h, static_cast<__user_cap_data_struct*>(kBadPtr)));
  h.pid = -1;
  EXPECT_SYSCALL_ERRNO(EINVAL, CapGet(&h, d));
  h.pid = kNoSuchPid;
  EXPECT_SYSCALL_ERRNO(ESRCH, CapGet(&h, d));
}

TEST(Caps, CapsetRules) {
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, kNoSuchPid};
  __user_cap_data_struct d[2] = {};
  EXPECT_SYSCALL_ERRNO(EPERM, CapSet(&h, d));  // another process's sets are never ours to set
  h.pid = 0;
  EXPECT_SYSCALL_ERRNO(EFAULT, CapSet(&h, static_cast<__user_cap_data_struct*>(kBadPtr)));
  EXPECT_EQ(InChild([] {
              __user_cap_header_struct hh{_LINUX_CAPABILITY_VERSION_3, 0};
              __user_cap_data_struct cur[2] = {};
              if (CapGet(&hh, cur) != 0) return 1;
              __user_cap_data_struct next[2] = {cur[0], cur[1]};
              // Effective beyond permitted.
              next[0].permitted &= ~(1u << CAP_CHOWN);
              if (CapSet(&hh, next) != -1 || errno != EPERM) return 2;
              next[0].effective &= ~(1u << CAP_CHOWN);
              if (CapSet(&hh, next) != 0) return 3;
              if (CapGet(&hh, cur) != 0 || Has(cur[0], CAP_CHOWN)) return 4;
              if (cur[0].permitted & (1u << CAP_CHOWN)) return 5;
              // Permitted never grows back.
              next[0].permitted |= 1u << CAP_CHOWN;
              if (CapSet(&hh, next) != -1 || errno != EPERM) return 6;
              return 0;
            }),
            0);
}

TEST(Caps, SetuidAwayFromRootDropsThem) {
  EXPECT_EQ(InChild([] {
              if (setresuid(1000, 1000, 1000) != 0) return 1;
              __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
              __user_cap_data_struct d[2] = {};
              if (CapGet(&h, d) != 0) return 2;
              if (d[0].effective != 0 || d[0].permitted != 0 || d[1].permitted != 0) return 3;
              int fd = open("/proc/self/status", O_RDONLY);
              char buf[4096] = {};
              if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0) return 4;
              close(fd);
              std::string status(buf);
              if (status.find("\nCapEff:\t0000000000000000\n") == std::string::npos) return 5;
              return status.find("\nCapPrm:\t0000000000000000\n") == std::string::npos ? 6 : 0;
            }),
            0);
  EXPECT_EQ(InChild([] {
              if (prctl(PR_SET_KEEPCAPS, 1) != 0) return 1;
              if (setresuid(1000, 1000, 1000) != 0) return 2;
              __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
              __user_cap_data_struct d[2] = {};
              if (CapGet(&h, d) != 0) return 3;
              if (d[0].effective != 0) return 4;
              return (d[0].permitted & (1u << CAP_SETUID)) ? 0 : 5;
            }),
            0);
}

TEST(Groups, SetAndGet) {
  EXPECT_EQ(InChild([] {
              gid_t want[] = {30, 10, 20};
              if (setgroups(3, want) != 0) return 1;
              if (getgroups(0, nullptr) != 3) return 2;
              gid_t got[8] = {};
              if (getgroups(2, got) != -1 || errno != EINVAL) return 3;
              if (getgroups(8, got) != 3) return 4;
              bool all = true;
              for (gid_t g : want) all = all && (got[0] == g || got[1] == g || got[2] == g);
              if (!all) return 5;
              if (setgroups(0, nullptr) != 0 || getgroups(0, nullptr) != 0) return 6;
              return 0;
            }),
            0);
}

// Permission checks count the supplementary groups.
TEST(Groups, GrantAccess) {
  char dir[] = "/tmp/caps_groups_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  ASSERT_SYSCALL_OK(chown(dir, 0, 4242));
  ASSERT_SYSCALL_OK(chmod(dir, 0070));
  auto as_user = [&dir](gid_t group) {
    return InChild([&dir, group] {
      if (setgroups(group != 0 ? 1 : 0, &group) != 0) return 10;
      if (setresgid(1000, 1000, 1000) != 0 || setresuid(1000, 1000, 1000) != 0) return 11;
      if (access(dir, R_OK | X_OK) == 0) return 0;
      return errno == EACCES ? 1 : 12;
    });
  };
  EXPECT_EQ(as_user(4242), 0);
  EXPECT_EQ(as_user(0), 1);
  rmdir(dir);
}

TEST(Groups, Errors) {
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_getgroups, -1, nullptr));
  gid_t one = 0;
  EXPECT_SYSCALL_ERRNO(EINVAL, setgroups(static_cast<size_t>(-1), &one));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_setgroups, 65537, &one));
  EXPECT_SYSCALL_ERRNO(EFAULT, setgroups(2, static_cast<gid_t*>(kBadPtr)));
  EXPECT_EQ(InChild([] {
              gid_t g = 7;
              if (setgroups(1, &g) != 0) return 1;
              return syscall(SYS_getgroups, 64, kBadPtr) == -1 && errno == EFAULT ? 0 : 2;
            }),
            0);
  EXPECT_EQ(InChild([] {
              if (setresuid(1000, 1000, 1000) != 0) return 1;
              gid_t g = 5;
              return setgroups(1, &g) == -1 && errno == EPERM ? 0 : 2;
            }),
            0);
}

}  // namespace
