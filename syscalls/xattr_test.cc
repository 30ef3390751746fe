// Extended attributes: getxattr, setxattr, listxattr, removexattr and their l* and f* forms on
// tmpfs (/dev/shm, natively and in the sandbox) and on a scratch directory (the host's /tmp
// natively, the overlay's tmpfs upper layer in the sandbox): values, XATTR_CREATE/REPLACE, the
// size protocol (0 asks, too small is ERANGE), the namespaces' rules (user.* only on regular
// files and directories, trusted.* for CAP_SYS_ADMIN only, unknown prefixes EOPNOTSUPP), name
// and value limits, bad pointers, and file systems that keep none (/proc).
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "syscalls/fs_test_util.h"
#include "syscalls/test_util.h"

namespace {

using namespace conformance;  // NOLINT: the shared helpers

void* const kBadAddr = reinterpret_cast<void*>(8);

// A scratch directory on tmpfs (/dev/shm) and one where ScratchDir puts it.
class XattrTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) {
      char tmpl[] = "/dev/shm/xattr_test.XXXXXX";
      ASSERT_NE(mkdtemp(tmpl), nullptr);
      dir_ = tmpl;
    } else {
      ASSERT_SCRATCH(scratch_);
      dir_ = scratch_.path() + "/x";
      ASSERT_SYSCALL_OK(mkdir(dir_.c_str(), 0755));
      ASSERT_SYSCALL_OK(chmod(scratch_.path().c_str(), 0755));  // for the unprivileged children
    }
    ASSERT_SYSCALL_OK(chmod(dir_.c_str(), 0755));
    file_ = dir_ + "/f";
    ASSERT_TRUE(WriteFile(file_, "data"));
  }
  void TearDown() override {
    if (GetParam()) {
      for (const char* name : {"f", "link", "fifo"}) {
        std::string p = dir_ + "/" + name;
        unlink(p.c_str());
        rmdir(p.c_str());
      }
      rmdir(dir_.c_str());
    }
  }

  std::set<std::string> List(const std::string& path) {
    char buf[4096];
    ssize_t n = listxattr(path.c_str(), buf, sizeof(buf));
    EXPECT_GE(n, 0) << strerror(errno);
    std::set<std::string> names;
    for (ssize_t i = 0; i < n;) {
      std::string name(buf + i);
      i += static_cast<ssize_t>(name.size()) + 1;
      names.insert(name);
    }
    return names;
  }

  ScratchDir scratch_;
  std::string dir_;
  std::string file_;
};

TEST_P(XattrTest, SetGetListRemove) {
  ASSERT_SYSCALL_OK(setxattr(file_.c_str(), "user.a", "1234", 4, 0));
  ASSERT_SYSCALL_OK(setxattr(file_.c_str(), "user.b", "", 0, 0));  // empty values are values
  char buf[16] = {};
  EXPECT_EQ(getxattr(file_.c_str(), "user.a", buf, sizeof(buf)), 4);
  EXPECT_EQ(std::string(buf, 4), "1234");
  EXPECT_EQ(getxattr(file_.c_str(), "user.b", buf, sizeof(buf)), 0);
  EXPECT_EQ(List(file_), (std::set<std::string>{"user.a", "user.b"}));
  // Replacing a value, with a shorter one.
  ASSERT_SYSCALL_OK(setxattr(file_.c_str(), "user.a", "x", 1, 0));
  EXPECT_EQ(getxattr(file_.c_str(), "user.a", buf, sizeof(buf)), 1);
  EXPECT_EQ(buf[0], 'x');
  ASSERT_SYSCALL_OK(removexattr(file_.c_str(), "user.a"));
  EXPECT_SYSCALL_ERRNO(ENODATA, getxattr(file_.c_str(), "user.a", buf, sizeof(buf)));
  EXPECT_SYSCALL_ERRNO(ENODATA, removexattr(file_.c_str(), "user.a"));
  EXPECT_EQ(List(file_), (std::set<std::string>{"user.b"}));
}

TEST_P(XattrTest, CreateAndReplaceFlags) {
  EXPECT_SYSCALL_ERRNO(ENODATA, setxattr(file_.c_str(), "user.a", "1", 1, XATTR_REPLACE));
  ASSERT_SYSCALL_OK(setxattr(file_.c_str(), "user.a", "1", 1, XATTR_CREATE));
  EXPECT_SYSCALL_ERRNO(EEXIST, setxattr(file_.c_str(), "user.a", "2", 1, XATTR_CREATE));
  ASSERT_SYSCALL_OK(setxattr(file_.c_str(), "user.a", "3", 1, XATTR_REPLACE));
  char c = 0;
  EXPECT_EQ(getxattr(file_.c_str(), "user.a", &c, 1), 1);
  EXPECT_EQ(c, '3');
  EXPECT_SYSCALL_ERRNO(EINVAL, setxattr(file_.c_str(), "user.a", "4", 1, 4));
}

TEST_P(XattrTest, SizeZeroAsksAndTooSmallIsERANGE) {
  ASSERT_SYSCALL_OK(setxattr(file_.c_str(), "user.long", "0123456789", 10, 0));
  EXPECT_EQ(getxattr(file_.c_str(), "user.long", nullptr, 0), 10);
  char buf[4];
  EXPECT_SYSCALL_ERRNO(ERANGE, getxattr(file_.c_str(), "user.long", buf, sizeof(buf)));
  const ssize_t list_size = listxattr(file_.c_str(), nullptr, 0);
  EXPECT_EQ(list_size, static_cast<ssize_t>(sizeof("user.long")));
  EXPECT_SYSCALL_ERRNO(ERANGE, listxattr(file_.c_str(), buf, sizeof(buf)));
}

TEST_P(XattrTest, NameAndValueLimits) {
  EXPECT_SYSCALL_ERRNO(ERANGE, setxattr(file_.c_str(), "", "1", 1, 0));
  EXPECT_SYSCALL_ERRNO(ERANGE, getxattr(file_.c_str(), "", nullptr, 0));
  std::string longest = "user." + std::string(255 - 5, 'n');
  EXPECT_SYSCALL_OK(setxattr(file_.c_str(), longest.c_str(), "1", 1, 0));
  std::string too_long = longest + "n";
  EXPECT_SYSCALL_ERRNO(ERANGE, setxattr(file_.c_str(), too_long.c_str(), "1", 1, 0));
  EXPECT_SYSCALL_ERRNO(ERANGE, getxattr(file_.c_str(), too_long.c_str(), nullptr, 0));
  EXPECT_SYSCALL_ERRNO(ERANGE, removexattr(file_.c_str(), too_long.c_str()));
  std::vector<char> big(65537, 'v');
  EXPECT_SYSCALL_ERRNO(E2BIG, setxattr(file_.c_str(), "user.big", big.data(), big.size(), 0));
}

TEST_P(XattrTest, UnknownNamespacesAreEOPNOTSUPP) {
  EXPECT_SYSCALL_ERRNO(EOPNOTSUPP, setxattr(file_.c_str(), "foo.bar", "1", 1, 0));
  EXPECT_SYSCALL_ERRNO(EOPNOTSUPP, getxattr(file_.c_str(), "foo.bar", nullptr, 0));
  EXPECT_SYSCALL_ERRNO(EOPNOTSUPP, removexattr(file_.c_str(), "foo.bar"));
  EXPECT_SYSCALL_ERRNO(EOPNOTSUPP, setxattr(file_.c_str(), "user", "1", 1, 0));  // no dot
}

TEST_P(XattrTest, UserNamesOnlyOnRegularFilesAndDirectories) {
  ASSERT_SYSCALL_OK(setxattr(dir_.c_str(), "user.dir", "d", 1, 0));
  char c;
  EXPECT_EQ(getxattr(dir_.c_str(), "user.dir", &c, 1), 1);
  std::string link = dir_ + "/link";
  ASSERT_SYSCALL_OK(symlink("f", link.c_str()));
  EXPECT_SYSCALL_ERRNO(EPERM, lsetxattr(link.c_str(), "user.a", "1", 1, 0));
  EXPECT_SYSCALL_ERRNO(ENODATA, lgetxattr(link.c_str(), "user.a", &c, 1));
  // Through the link: the file's attributes.
  ASSERT_SYSCALL_OK(setxattr(link.c_str(), "user.via", "l", 1, 0));
  EXPECT_EQ(getxattr(file_.c_str(), "user.via", &c, 1), 1);
  std::string fifo = dir_ + "/fifo";
  ASSERT_SYSCALL_OK(mkfifo(fifo.c_str(), 0644));
  EXPECT_SYSCALL_ERRNO(EPERM, setxattr(fifo.c_str(), "user.a", "1", 1, 0));
  EXPECT_SYSCALL_ERRNO(ENODATA, getxattr(fifo.c_str(), "user.a", &c, 1));
}

TEST_P(XattrTest, TrustedNamesNeedCapSysAdmin) {
  ASSERT_SYSCALL_OK(setxattr(file_.c_str(), "trusted.t", "t", 1, 0));
  ASSERT_SYSCALL_OK(setxattr(file_.c_str(), "user.u", "u", 1, 0));
  EXPECT_EQ(List(file_), (std::set<std::string>{"trusted.t", "user.u"}));
  ASSERT_SYSCALL_OK(chmod(file_.c_str(), 0666));
  const std::string file = file_;
  EXPECT_EQ(InChild([&] {
              // An unprivileged user: trusted.* is hidden, unreadable and unwritable.
              if (setresuid(65534, 65534, 65534) != 0) return 10;
              char c;
              if (getxattr(file.c_str(), "trusted.t", &c, 1) != -1 || errno != ENODATA) return 1;
              if (setxattr(file.c_str(), "trusted.t", "x", 1, 0) != -1 || errno != EPERM) return 2;
              if (removexattr(file.c_str(), "trusted.t") != -1 || errno != EPERM) return 3;
              char buf[64];
              ssize_t n = listxattr(file.c_str(), buf, sizeof(buf));
              if (n != static_cast<ssize_t>(sizeof("user.u")) || strcmp(buf, "user.u") != 0) {
                return 4;
              }
              // security.* other than capabilities needs CAP_SYS_ADMIN to change.
              if (setxattr(file.c_str(), "security.x", "x", 1, 0) != -1 || errno != EPERM) {
                return 5;
              }
              return 0;
            }),
            0);
}

TEST_P(XattrTest, UserNamesFollowFilePermissions) {
  ASSERT_SYSCALL_OK(setxattr(file_.c_str(), "user.a", "1", 1, 0));
  ASSERT_SYSCALL_OK(chmod(file_.c_str(), 0600));
  ASSERT_SYSCALL_OK(chmod(dir_.c_str(), 0777 | S_ISVTX));
  const std::string file = file_, dir = dir_;
  EXPECT_EQ(InChild([&] {
              if (setresuid(65534, 65534, 65534) != 0) return 10;
              char c;
              if (getxattr(file.c_str(), "user.a", &c, 1) != -1 || errno != EACCES) return 1;
              if (setxattr(file.c_str(), "user.a", "2", 1, 0) != -1 || errno != EACCES) return 2;
              // Listing needs no permission.
              if (listxattr(file.c_str(), nullptr, 0) != static_cast<ssize_t>(sizeof("user.a"))) {
                return 3;
              }
              // A sticky directory's attributes are its owner's to write.
              if (setxattr(dir.c_str(), "user.d", "d", 1, 0) != -1 || errno != EPERM) return 4;
              return 0;
            }),
            0);
}

TEST_P(XattrTest, FdFormsAndOPathIsEBADF) {
  int fd = open(file_.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  // Writing attributes needs permission on the file, not a writable descriptor.
  ASSERT_SYSCALL_OK(fsetxattr(fd, "user.fd", "f", 1, 0));
  char c;
  EXPECT_EQ(fgetxattr(fd, "user.fd", &c, 1), 1);
  EXPECT_EQ(flistxattr(fd, nullptr, 0), static_cast<ssize_t>(sizeof("user.fd")));
  ASSERT_SYSCALL_OK(fremovexattr(fd, "user.fd"));
  close(fd);
  int path_fd = open(file_.c_str(), O_PATH);
  ASSERT_GE(path_fd, 0);
  EXPECT_SYSCALL_ERRNO(EBADF, fgetxattr(path_fd, "user.fd", &c, 1));
  EXPECT_SYSCALL_ERRNO(EBADF, fsetxattr(path_fd, "user.fd", "f", 1, 0));
  EXPECT_SYSCALL_ERRNO(EBADF, flistxattr(path_fd, nullptr, 0));
  EXPECT_SYSCALL_ERRNO(EBADF, fremovexattr(path_fd, "user.fd"));
  close(path_fd);
  EXPECT_SYSCALL_ERRNO(EBADF, fgetxattr(-1, "user.fd", &c, 1));
}

// Raw calls: the compiler rejects bad pointers passed to glibc's declared wrappers.
TEST_P(XattrTest, BadPointersAreEFAULT) {
  ASSERT_SYSCALL_OK(setxattr(file_.c_str(), "user.a", "1", 1, 0));
  const char* path = file_.c_str();
  char c;
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_getxattr, path, kBadAddr, &c, 1));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_getxattr, path, "user.a", kBadAddr, 1));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_setxattr, path, "user.a", kBadAddr, 1, 0));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_listxattr, path, kBadAddr, 64));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_getxattr, kBadAddr, "user.a", &c, 1));
  // The name is read before the path is looked up.
  EXPECT_SYSCALL_ERRNO(ERANGE, getxattr("/nonexistent", "", &c, 1));
  EXPECT_SYSCALL_ERRNO(ENOENT, getxattr("/nonexistent", "user.a", &c, 1));
}

TEST_P(XattrTest, FileCapabilitiesAreValidated) {
  // A revision 2 vfs_cap_data is 20 bytes; anything else of that name is EINVAL.
  vfs_cap_data caps{};
  caps.magic_etc = VFS_CAP_REVISION_2;
  caps.data[0].permitted = 1u << CAP_NET_BIND_SERVICE;
  EXPECT_SYSCALL_ERRNO(EINVAL, setxattr(file_.c_str(), "security.capability", &caps, 12, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, setxattr(file_.c_str(), "security.capability", "junk", 4, 0));
  ASSERT_SYSCALL_OK(setxattr(file_.c_str(), "security.capability", &caps, XATTR_CAPS_SZ_2, 0));
  vfs_cap_data back{};
  EXPECT_EQ(getxattr(file_.c_str(), "security.capability", &back, sizeof(back)),
            static_cast<ssize_t>(XATTR_CAPS_SZ_2));
  EXPECT_EQ(back.data[0].permitted, caps.data[0].permitted);
  ASSERT_SYSCALL_OK(removexattr(file_.c_str(), "security.capability"));
}

TEST_P(XattrTest, SettingChangesCtimeNotMtime) {
  struct stat before, after;
  ASSERT_SYSCALL_OK(stat(file_.c_str(), &before));
  usleep(20000);
  ASSERT_SYSCALL_OK(setxattr(file_.c_str(), "user.t", "1", 1, 0));
  ASSERT_SYSCALL_OK(stat(file_.c_str(), &after));
  EXPECT_TRUE(after.st_ctim.tv_sec > before.st_ctim.tv_sec ||
              (after.st_ctim.tv_sec == before.st_ctim.tv_sec &&
               after.st_ctim.tv_nsec > before.st_ctim.tv_nsec));
  EXPECT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
}

INSTANTIATE_TEST_SUITE_P(Tmpfs, XattrTest, ::testing::Values(true));
INSTANTIATE_TEST_SUITE_P(Scratch, XattrTest, ::testing::Values(false));

// procfs keeps no attributes: nothing to list, EOPNOTSUPP for the rest.
TEST(XattrProc, ProcFilesHaveNone) {
  EXPECT_EQ(listxattr("/proc/self/status", nullptr, 0), 0);
  char c;
  EXPECT_SYSCALL_ERRNO(EOPNOTSUPP, getxattr("/proc/self/status", "user.a", &c, 1));
  EXPECT_SYSCALL_ERRNO(EOPNOTSUPP, getxattr("/proc/self/status", "trusted.a", &c, 1));
  EXPECT_SYSCALL_ERRNO(EOPNOTSUPP, getxattr("/proc/self/status", "security.a", &c, 1));
}

}  // namespace
