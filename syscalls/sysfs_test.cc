// /sys: the CPU lists glibc and common tools read, the cpuN directories, the top-level
// directories, and sysfs's refusals (attributes are read-only, names cannot be made or removed).
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "syscalls/fs_test_util.h"
#include "syscalls/test_util.h"

namespace conformance {
namespace {

const std::string kCpu = "/sys/devices/system/cpu";

// Parses a CPU list ("0-3,5\n"); ADD_FAILUREs on a malformed one.
std::set<int> ParseCpuList(const std::string& text) {
  static const std::regex kList(R"((\d+(-\d+)?)(,\d+(-\d+)?)*\n)");
  std::set<int> out;
  if (!std::regex_match(text, kList)) {
    ADD_FAILURE() << "not a CPU list: '" << text << "'";
    return out;
  }
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    int lo = 0, hi = 0;
    if (sscanf(item.c_str(), "%d-%d", &lo, &hi) == 2) {
      for (int i = lo; i <= hi; ++i) out.insert(i);
    } else {
      out.insert(lo);
    }
  }
  return out;
}

bool IsDir(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Whether /sys is mounted read-only (as some containers do): writes are EROFS there first.
bool SysReadOnly() {
  struct statfs sfs {};
  return statfs("/sys", &sfs) == 0 && (sfs.f_flags & ST_RDONLY);
}

TEST(SysfsTest, CpuLists) {
  const std::set<int> online = ParseCpuList(ReadFile(kCpu + "/online"));
  const std::set<int> possible = ParseCpuList(ReadFile(kCpu + "/possible"));
  const std::set<int> present = ParseCpuList(ReadFile(kCpu + "/present"));
  ASSERT_FALSE(online.empty());
  EXPECT_TRUE(std::includes(possible.begin(), possible.end(), online.begin(), online.end()));
  EXPECT_TRUE(std::includes(present.begin(), present.end(), online.begin(), online.end()));
  // The CPUs this process may run on are online.
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  for (int i = 0; i < CPU_SETSIZE; ++i) {
    if (CPU_ISSET(i, &set)) {
      EXPECT_TRUE(online.contains(i)) << "cpu " << i;
    }
  }
  // glibc counts online CPUs from this file.
  EXPECT_EQ(sysconf(_SC_NPROCESSORS_ONLN), static_cast<long>(online.size()));
  EXPECT_GE(sysconf(_SC_NPROCESSORS_CONF), sysconf(_SC_NPROCESSORS_ONLN));
}

TEST(SysfsTest, CpuDirectories) {
  ASSERT_TRUE(IsDir(kCpu));
  for (int cpu : ParseCpuList(ReadFile(kCpu + "/online"))) {
    EXPECT_TRUE(IsDir(kCpu + "/cpu" + std::to_string(cpu))) << cpu;
  }
  std::set<std::string> names;
  DIR* dir = opendir(kCpu.c_str());
  ASSERT_NE(dir, nullptr);
  while (const dirent* e = readdir(dir)) names.insert(e->d_name);
  closedir(dir);
  for (const char* want : {".", "..", "online", "possible", "present", "cpu0"}) {
    EXPECT_TRUE(names.contains(want)) << want;
  }
}

TEST(SysfsTest, TopLevelDirectories) {
  for (const char* d : {"/sys", "/sys/kernel", "/sys/fs", "/sys/fs/cgroup", "/sys/devices",
                        "/sys/devices/system"}) {
    EXPECT_TRUE(IsDir(d)) << d;
  }
}

TEST(SysfsTest, Statfs) {
  struct statfs sfs {};
  ASSERT_EQ(statfs("/sys", &sfs), 0);
  EXPECT_EQ(sfs.f_type, SYSFS_MAGIC);
  const long fd = Open(kCpu + "/online", O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(fstatfs(static_cast<int>(fd), &sfs), 0);
  EXPECT_EQ(sfs.f_type, SYSFS_MAGIC);
  Close(fd);
}

TEST(SysfsTest, AttributeFiles) {
  const std::string path = kCpu + "/online";
  struct stat st = Lstat(path);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0444u);
  EXPECT_EQ(st.st_size, 4096);  // what sysfs says of every attribute
  EXPECT_EQ(Lstat(kCpu).st_mode & 07777, 0755u);

  const std::string text = ReadFile(path);
  ASSERT_GE(text.size(), 2u);
  const long fd = Open(path, O_RDONLY);
  ASSERT_GE(fd, 0);
  char buf[64] = {};
  EXPECT_EQ(pread(static_cast<int>(fd), buf, sizeof(buf), 1), static_cast<long>(text.size() - 1));
  EXPECT_EQ(std::string(buf), text.substr(1));
  EXPECT_EQ(pread(static_cast<int>(fd), buf, sizeof(buf), static_cast<off_t>(text.size())), 0);
  Close(fd);
}

TEST(SysfsTest, AttributesAreReadOnly) {
  const std::string path = kCpu + "/online";
  const int refused = SysReadOnly() ? EROFS : EACCES;
  EXPECT_SYSCALL_ERRNO(refused, Open(path, O_WRONLY));
  EXPECT_SYSCALL_ERRNO(refused, Open(path, O_RDWR));
  EXPECT_SYSCALL_ERRNO(refused, Open("/sys/kernel/conformance_new", O_WRONLY | O_CREAT, 0644));
}

TEST(SysfsTest, NamesCannotChange) {
  if (geteuid() != 0) GTEST_SKIP() << "root sees sysfs's own refusals; others see EACCES first";
  const int refused = SysReadOnly() ? EROFS : EPERM;
  EXPECT_SYSCALL_ERRNO(refused, mkdir("/sys/kernel/conformance_dir", 0755));
  EXPECT_SYSCALL_ERRNO(refused, unlink((kCpu + "/online").c_str()));
  EXPECT_SYSCALL_ERRNO(refused, rmdir((kCpu + "/cpu0").c_str()));
  EXPECT_SYSCALL_ERRNO(refused, rename((kCpu + "/online").c_str(), (kCpu + "/online2").c_str()));
  EXPECT_SYSCALL_ERRNO(refused, symlink("x", "/sys/kernel/conformance_link"));
  EXPECT_TRUE(Exists(kCpu + "/online"));
}

TEST(SysfsTest, ShownInMounts) {
  bool found = false;
  std::istringstream in(ReadFile("/proc/self/mounts"));
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string source, dir, type;
    fields >> source >> dir >> type;
    if (dir == "/sys" && type == "sysfs") found = true;
  }
  EXPECT_TRUE(found) << ReadFile("/proc/self/mounts");
}

}  // namespace
}  // namespace conformance
