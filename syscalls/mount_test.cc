// mount(2) and umount2(2): tmpfs with options, bind mounts (recursive, of files), read-only
// mounts and remounts, per-mount flags, propagation changes, moves, proc and sysfs, and the
// errors Linux gives.
//
// Natively the test process first moves to a mount namespace of its own, with every mount
// private, so nothing it mounts reaches the host; in the sandbox (where unshare is ENOSYS) the
// namespace is the sandbox's, private already. Every mount is undone before its scratch
// directory is removed.
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "syscalls/fs_test_util.h"
#include "syscalls/test_util.h"

namespace conformance {
namespace {

// statfs f_flags bits glibc does not name.
constexpr long kStValid = 0x20;

bool g_may_mount = false;
std::string g_why_not;

class PrivateMountNamespace : public ::testing::Environment {
 public:
  void SetUp() override {
    if (unshare(CLONE_NEWNS) == 0) {
      // A new namespace starts with the host's propagation: cut it before anything is mounted.
      if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        g_why_not = std::string("making / private: ") + strerror(errno);
        return;
      }
      g_may_mount = true;
    } else if (errno == ENOSYS) {
      g_may_mount = true;  // the sandbox: its mount namespace is its own
    } else {
      g_why_not = std::string("unshare(CLONE_NEWNS): ") + strerror(errno);
    }
  }
};
[[maybe_unused]] ::testing::Environment* const g_env =
    ::testing::AddGlobalTestEnvironment(new PrivateMountNamespace);

#define REQUIRE_MOUNTS()                                                  \
  do {                                                                    \
    if (!g_may_mount) GTEST_SKIP() << "cannot mount here: " << g_why_not; \
  } while (0)

// Undoes every mount on `path` at the end of the scope (lazily, so nothing can keep them).
class Unmounter {
 public:
  explicit Unmounter(std::string path) : path_(std::move(path)) {}
  ~Unmounter() {
    for (int i = 0; i < 16 && umount2(path_.c_str(), MNT_DETACH) == 0; ++i) {
    }
  }

 private:
  std::string path_;
};

long Mount(const std::string& source, const std::string& target, const char* type,
           unsigned long flags, const char* data = nullptr) {
  return mount(source.empty() ? nullptr : source.c_str(), target.c_str(), type, flags, data);
}

dev_t DevOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path << ": " << strerror(errno);
  return st.st_dev;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Fields(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string f; in >> f;) out.push_back(f);
  return out;
}

// The /proc/self/mounts line whose mount point is `path` (the last one: the mount on top).
std::vector<std::string> MountsEntry(const std::string& path) {
  std::vector<std::string> found;
  std::istringstream in(Slurp("/proc/self/mounts"));
  for (std::string line; std::getline(in, line);) {
    auto f = Fields(line);
    if (f.size() >= 4 && f[1] == path) found = f;
  }
  return found;
}

// The /proc/self/mountinfo lines, split into fields.
std::vector<std::vector<std::string>> MountInfo() {
  std::vector<std::vector<std::string>> out;
  std::istringstream in(Slurp("/proc/self/mountinfo"));
  for (std::string line; std::getline(in, line);) out.push_back(Fields(line));
  return out;
}

bool HasOption(const std::string& options, const std::string& want) {
  std::istringstream in(options);
  for (std::string o; std::getline(in, o, ',');) {
    if (o == want) return true;
  }
  return false;
}

// Runs `body` in a child process that has become user and group 65534; its exit status is
// the number of failed checks.
int AsNobody(const std::function<int()>& body) {
  pid_t pid = fork();
  if (pid == 0) {
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(100);
    _exit(body());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
}

TEST(MountTest, TmpfsWithSizeAndMode) {
  REQUIRE_MOUNTS();
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  const std::string m = dir / "m";
  ASSERT_EQ(mkdir(m.c_str(), 0755), 0);
  const dev_t before = DevOf(m);
  Unmounter undo(m);
  ASSERT_SYSCALL_OK(Mount("mysrc", m, "tmpfs", 0, "size=1m,mode=0700"));
  EXPECT_NE(DevOf(m), before);
  struct statfs sfs {};
  ASSERT_EQ(statfs(m.c_str(), &sfs), 0);
  EXPECT_EQ(sfs.f_type, TMPFS_MAGIC);
  EXPECT_EQ(static_cast<uint64_t>(sfs.f_blocks) * sfs.f_bsize, 1u << 20);
  EXPECT_TRUE(sfs.f_flags & kStValid);
  EXPECT_FALSE(sfs.f_flags & ST_RDONLY);
  EXPECT_EQ(Lstat(m).st_mode, S_IFDIR | 0700u);
  EXPECT_TRUE(WriteFile(m + "/f", "in tmpfs"));
  EXPECT_EQ(ReadFile(m + "/f"), "in tmpfs");

  auto entry = MountsEntry(m);
  ASSERT_EQ(entry.size(), 6u) << Slurp("/proc/self/mounts");
  EXPECT_EQ(entry[0], "mysrc");
  EXPECT_EQ(entry[2], "tmpfs");
  EXPECT_TRUE(HasOption(entry[3], "rw")) << entry[3];

  ASSERT_SYSCALL_OK(umount2(m.c_str(), 0));
  EXPECT_EQ(DevOf(m), before);
  EXPECT_FALSE(Exists(m + "/f"));
  EXPECT_TRUE(MountsEntry(m).empty());
}

// Root may mount over a process's /proc entries (Linux takes such mounts away when the
// process goes); the mount is found there, through /proc/self too, until it is undone.
TEST(MountTest, BindOverAProcPidFile) {
  REQUIRE_MOUNTS();
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "f", "bound\n"));
  const std::string pid_dir = "/proc/" + std::to_string(getpid());
  const std::string target = pid_dir + "/comm";
  const std::string comm = ReadFile(target);
  ASSERT_NE(comm, "<error>");
  {
    Unmounter undo(target);
    ASSERT_SYSCALL_OK(Mount(dir / "f", target, nullptr, MS_BIND));
    EXPECT_EQ(ReadFile(target), "bound\n");
    EXPECT_EQ(ReadFile("/proc/self/comm"), "bound\n");
    EXPECT_EQ(MountsEntry(target).size(), 6u) << Slurp("/proc/self/mounts");
    ASSERT_SYSCALL_OK(umount2(target.c_str(), 0));
    EXPECT_EQ(ReadFile(target), comm);
    EXPECT_TRUE(MountsEntry(target).empty());
  }
}

TEST(MountTest, TmpfsOnAProcPidDirectory) {
  REQUIRE_MOUNTS();
  const std::string target = "/proc/" + std::to_string(getpid()) + "/fdinfo";
  Unmounter undo(target);
  ASSERT_SYSCALL_OK(Mount("none", target, "tmpfs", 0));
  EXPECT_TRUE(WriteFile(target + "/f", "in tmpfs"));
  EXPECT_EQ(ReadFile("/proc/self/fdinfo/f"), "in tmpfs");
  struct statfs sfs {};
  ASSERT_EQ(statfs(target.c_str(), &sfs), 0);
  EXPECT_EQ(sfs.f_type, TMPFS_MAGIC);
  ASSERT_SYSCALL_OK(umount2(target.c_str(), 0));
  ASSERT_EQ(statfs(target.c_str(), &sfs), 0);
  EXPECT_EQ(sfs.f_type, PROC_SUPER_MAGIC);
  EXPECT_FALSE(Exists(target + "/f"));
}

TEST(MountTest, TmpfsSizeLimitIsEnforced) {
  REQUIRE_MOUNTS();
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  const std::string m = dir / "m";
  ASSERT_EQ(mkdir(m.c_str(), 0755), 0);
  Unmounter undo(m);
  ASSERT_SYSCALL_OK(Mount("tmpfs", m, "tmpfs", 0, "size=64k"));
  const long fd = Open(m + "/big", O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  std::string chunk(16 << 10, 'x');
  long total = 0, n = 0;
  int err = 0;
  for (int i = 0; i < 16; ++i) {
    n = write(static_cast<int>(fd), chunk.data(), chunk.size());
    if (n < 0) {
      err = errno;
      break;
    }
    total += n;
  }
  EXPECT_EQ(err, ENOSPC);
  EXPECT_LE(total, 64 << 10);
  Close(fd);
}

TEST(MountTest, TmpfsSizeSuffixes) {
  REQUIRE_MOUNTS();
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  const std::string m = dir / "m";
  ASSERT_EQ(mkdir(m.c_str(), 0755), 0);
  for (const auto& [data, bytes] :
       std::vector<std::pair<const char*, uint64_t>>{{"size=8k", 8 << 10},
                                                     {"size=2M", 2 << 20},
                                                     {"size=5000", 8192},
                                                     {"nr_blocks=3", 3 * 4096}}) {
    Unmounter undo(m);
    ASSERT_SYSCALL_OK(Mount("tmpfs", m, "tmpfs", 0, data)) << data;
    struct statfs sfs {};
    ASSERT_EQ(statfs(m.c_str(), &sfs), 0);
    EXPECT_EQ(static_cast<uint64_t>(sfs.f_blocks) * sfs.f_bsize, bytes) << data;
  }
}

TEST(MountTest, BadOptionsAreEinval) {
  REQUIRE_MOUNTS();
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  const std::string m = dir / "m";
  ASSERT_EQ(mkdir(m.c_str(), 0755), 0);
  Unmounter undo(m);
  for (const char* data :
       {"size=abc", "size=1q", "mode=999", "nosuchoption", "size", "inode64=1", "uid=x", "bind"}) {
    EXPECT_SYSCALL_ERRNO(EINVAL, Mount("tmpfs", m, "tmpfs", 0, data)) << data;
  }
  EXPECT_SYSCALL_ERRNO(EINVAL, Mount("proc", m, "proc", 0, "bogus=1"));
  EXPECT_SYSCALL_ERRNO(EINVAL, Mount("sysfs", m, "sysfs", 0, "bogus"));
  EXPECT_TRUE(MountsEntry(m).empty());
}

TEST(MountTest, UnknownTypeIsEnodev) {
  REQUIRE_MOUNTS();
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  Unmounter undo(dir.path());
  EXPECT_SYSCALL_ERRNO(ENODEV, Mount("x", dir.path(), "nosuchfs", 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, Mount("x", dir.path(), nullptr, 0));  // a new mount needs a type
  EXPECT_SYSCALL_ERRNO(EINVAL, Mount("x", dir.path(), "tmpfs", MS_NOUSER));
}

TEST(MountTest, TargetErrors) {
  REQUIRE_MOUNTS();
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  ASSERT_TRUE(WriteFile(dir / "file", "x"));
  Unmounter undo(dir / "file");
  EXPECT_SYSCALL_ERRNO(ENOENT, Mount("tmpfs", dir / "missing", "tmpfs", 0));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Mount("tmpfs", dir / "file/x", "tmpfs", 0));
  // A file system's root is a directory: it cannot cover a file.
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Mount("tmpfs", dir / "file", "tmpfs", 0));
  EXPECT_SYSCALL_ERRNO(EFAULT,
                       mount("tmpfs", reinterpret_cast<const char*>(8), "tmpfs", 0, nullptr));
  EXPECT_SYSCALL_ERRNO(
      EFAULT, mount("tmpfs", dir.path().c_str(), reinterpret_cast<const char*>(8), 0, nullptr));
}

TEST(MountTest, OnlyRootMounts) {
  REQUIRE_MOUNTS();
  int failures = AsNobody([] {
    int bad = 0;
    // The target is resolved first: a missing one is ENOENT whoever asks.
    if (mount("tmpfs", "/nonexistent-mount-target", "tmpfs", 0, nullptr) != -1 || errno != ENOENT)
      ++bad;
    if (mount("tmpfs", "/tmp", "tmpfs", 0, nullptr) != -1 || errno != EPERM) ++bad;
    if (mount("/tmp", "/tmp", nullptr, MS_BIND, nullptr) != -1 || errno != EPERM) ++bad;
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != -1 || errno != EPERM) ++bad;
    if (umount2("/proc", 0) != -1 || errno != EPERM) ++bad;
    if (umount2("/tmp", MNT_DETACH) != -1 || errno != EPERM) ++bad;
    return bad;
  });
  EXPECT_EQ(failures, 0) << "(100: could not become uid 65534)";
}

TEST(MountTest, UmountErrors) {
  REQUIRE_MOUNTS();
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  EXPECT_SYSCALL_ERRNO(EINVAL, umount2(dir.path().c_str(), 0));  // not a mountpoint
  EXPECT_SYSCALL_ERRNO(ENOENT, umount2((dir / "missing").c_str(), 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, umount2(dir.path().c_str(), 0x100));  // an unknown flag
  EXPECT_SYSCALL_ERRNO(EINVAL, umount2(dir.path().c_str(), MNT_EXPIRE | MNT_DETACH));
}

TEST(MountTest, BusyMountNeedsDetach) {
  REQUIRE_MOUNTS();
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  const std::string m = dir / "m";
  ASSERT_EQ(mkdir(m.c_str(), 0755), 0);
  const dev_t below = DevOf(m);
  Unmounter undo(m);
  ASSERT_SYSCALL_OK(Mount("tmpfs", m, "tmpfs", 0));
  ASSERT_TRUE(WriteFile(m + "/f", "still here"));

  // An open file keeps it busy.
  long fd = Open(m + "/f", O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_SYSCALL_ERRNO(EBUSY, umount2(m.c_str(), 0));
  Close(fd);
  // So does a working directory.
  {
    ScopedCwd cwd;
    ASSERT_EQ(chdir(m.c_str()), 0);
    EXPECT_SYSCALL_ERRNO(EBUSY, umount2(m.c_str(), 0));
  }
  // MNT_DETACH takes it away at once; the open file goes on working.
  fd = Open(m + "/f", O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_SYSCALL_OK(umount2(m.c_str(), MNT_DETACH));
  EXPECT_EQ(DevOf(m), below);
  EXPECT_FALSE(Exists(m + "/f"));
  char buf[32] = {};
  EXPECT_EQ(pread(static_cast<int>(fd), buf, sizeof(buf), 0), 10);
  EXPECT_STREQ(buf, "still here");
  Close(fd);
  EXPECT_TRUE(MountsEntry(m).empty());
}

TEST(MountTest, MountWithSubmountsIsBusy) {
  REQUIRE_MOUNTS();
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  const std::string m = dir / "m";
  ASSERT_EQ(mkdir(m.c_str(), 0755), 0);
  Unmounter undo(m);
  ASSERT_SYSCALL_OK(Mount("tmpfs", m, "tmpfs", 0));
  ASSERT_EQ(mkdir((m + "/sub").c_str(), 0755), 0);
  ASSERT_SYSCALL_OK(Mount("tmpfs", m + "/sub", "tmpfs", 0));
  EXPECT_SYSCALL_ERRNO(EBUSY, umount2(m.c_str(), 0));
  // A lazy unmount takes the whole tree.
  ASSERT_SYSCALL_OK(umount2(m.c_str(), MNT_DETACH));
  EXPECT_TRUE(MountsEntry(m).empty());
  EXPECT_TRUE(MountsEntry(m + "/sub").empty());
  EXPECT_FALSE(Exists(m + "/sub"));
}

TEST(MountTest, StackedMounts) {
  REQUIRE_MOUNTS();
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  const std::string m = dir / "m";
  ASSERT_EQ(mkdir(m.c_str(), 0755), 0);
  Unmounter undo(m);
  ASSERT_SYSCALL_OK(Mount("first", m, "tmpfs", 0));
  ASSERT_TRUE(WriteFile(m + "/f", "first"));
  ASSERT_SYSCALL_OK(Mount("second", m, "tmpfs", 0));
  EXPECT_FALSE(Exists(m + "/f"));
  EXPECT_EQ(MountsEntry(m)[0], "second");
  ASSERT_SYSCALL_OK(umount2(m.c_str(), 0));
  EXPECT_EQ(ReadFile(m + "/f"), "first");
  EXPECT_EQ(MountsEntry(m)[0], "first");
}

TEST(MountTest, BindMount) {
  REQUIRE_MOUNTS();
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  const std::string src = dir / "src", dst = dir / "dst";
  ASSERT_EQ(mkdir(src.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(dst.c_str(), 0755), 0);
  ASSERT_TRUE(WriteFile(src + "/f", "shared"));
  Unmounter undo(dst);
  EXPECT_SYSCALL_ERRNO(EINVAL, Mount("", dst, nullptr, MS_BIND));  // no source
  EXPECT_SYSCALL_ERRNO(ENOENT, Mount(dir / "missing", dst, nullptr, MS_BIND));
  ASSERT_SYSCALL_OK(Mount(src, dst, nullptr, MS_BIND));
  EXPECT_EQ(ReadFile(dst + "/f"), "shared");
  ASSERT_TRUE(WriteFile(dst + "/g", "through the bind"));
  EXPECT_EQ(ReadFile(src + "/g"), "through the bind");
  // ".." from the bind mount's root is the mountpoint's parent, not the source's.
  ASSERT_SYSCALL_OK(mkdir((src + "/inner").c_str(), 0755));
  EXPECT_EQ(Lstat(dst + "/..").st_ino, Lstat(dir.path()).st_ino);
  {
    ScopedCwd cwd;
    ASSERT_EQ(chdir(dst.c_str()), 0);
    ASSERT_EQ(chdir(".."), 0);
    char buf[PATH_MAX];
    ASSERT_NE(getcwd(buf, sizeof(buf)), nullptr);
    EXPECT_EQ(std::string(buf), dir.path());
  }
  EXPECT_FALSE(MountsEntry(dst).empty());
  ASSERT_SYSCALL_OK(umount2(dst.c_str(), 0));
  EXPECT_FALSE(Exists(dst + "/f"));
  EXPECT_EQ(ReadFile(src + "/g"), "through the bind");
}

TEST(MountTest, RecursiveBindCarriesSubmounts) {
  REQUIRE_MOUNTS();
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  const std::string src = dir / "src", plain = dir / "plain", rec = dir / "rec";
  for (const auto& p : {src, src + "/sub", plain, rec}) ASSERT_EQ(mkdir(p.c_str(), 0755), 0);
  Unmounter undo_src(src + "/sub"), undo_plain(plain), undo_rec(rec);
  ASSERT_SYSCALL_OK(Mount("tmpfs", src + "/sub", "tmpfs", 0));
  ASSERT_TRUE(WriteFile(src + "/sub/f", "in the submount"));

  ASSERT_SYSCALL_OK(Mount(src, plain, nullptr, MS_BIND));
  EXPECT_FALSE(Exists(plain + "/sub/f"));  // the submount stays behind
  EXPECT_EQ(DevOf(plain + "/sub"), DevOf(plain));

  ASSERT_SYSCALL_OK(Mount(src, rec, nullptr, MS_BIND | MS_REC));
  EXPECT_EQ(ReadFile(rec + "/sub/f"), "in the submount");
  EXPECT_FALSE(MountsEntry(rec + "/sub").empty());
  // The copy has a submount of its own, so it is busy without MNT_DETACH.
  EXPECT_SYSCALL_ERRNO(EBUSY, umount2(rec.c_str(), 0));
  ASSERT_SYSCALL_OK(umount2((rec + "/sub").c_str(), 0));
  ASSERT_SYSCALL_OK(umount2(rec.c_str(), 0));
  EXPECT_EQ(ReadFile(src + "/sub/f"), "in the submount");  // the original is untouched
}

TEST(MountTest, BindMountOfAFile) {
  REQUIRE_MOUNTS();
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  const std::string a = dir / "a", b = dir / "b", d = dir / "d";
  ASSERT_TRUE(WriteFile(a, "A"));
  ASSERT_TRUE(WriteFile(b, "B"));
  ASSERT_EQ(mkdir(d.c_str(), 0755), 0);
  Unmounter undo_b(b), undo_d(d);
  ASSERT_SYSCALL_OK(Mount(a, b, nullptr, MS_BIND));
  EXPECT_EQ(ReadFile(b), "A");
  // A mountpoint cannot be removed or renamed over.
  EXPECT_SYSCALL_ERRNO(EBUSY, unlink(b.c_str()));
  EXPECT_SYSCALL_ERRNO(EBUSY, rename(a.c_str(), b.c_str()));
  // Files and directories do not cover each other.
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Mount(a, d, nullptr, MS_BIND));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, Mount(d, b, nullptr, MS_BIND));
  ASSERT_SYSCALL_OK(umount2(b.c_str(), 0));
  EXPECT_EQ(ReadFile(b), "B");
}

TEST(MountTest, ReadOnlyMount) {
  REQUIRE_MOUNTS();
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  const std::string m = dir / "m";
  ASSERT_EQ(mkdir(m.c_str(), 0755), 0);
  Unmounter undo(m);
  ASSERT_SYSCALL_OK(Mount("tmpfs", m, "tmpfs", MS_RDONLY));
  EXPECT_SYSCALL_ERRNO(EROFS, Open(m + "/f", O_WRONLY | O_CREAT, 0644));
  EXPECT_SYSCALL_ERRNO(EROFS, mkdir((m + "/d").c_str(), 0755));
  struct statfs sfs {};
  ASSERT_EQ(statfs(m.c_str(), &sfs), 0);
  EXPECT_TRUE(sfs.f_flags & ST_RDONLY);
  auto entry = MountsEntry(m);
  ASSERT_EQ(entry.size(), 6u);
  EXPECT_TRUE(HasOption(entry[3], "ro")) << entry[3];
  // "ro" in the options does the same.
  ASSERT_SYSCALL_OK(umount2(m.c_str(), 0));
  ASSERT_SYSCALL_OK(Mount("tmpfs", m, "tmpfs", 0, "ro"));
  EXPECT_SYSCALL_ERRNO(EROFS, mkdir((m + "/d").c_str(), 0755));
}

TEST(MountTest, RemountBindReadOnly) {
  REQUIRE_MOUNTS();
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  const std::string src = dir / "src", dst = dir / "dst";
  ASSERT_EQ(mkdir(src.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(dst.c_str(), 0755), 0);
  Unmounter undo(dst);
  // Only a mount's root can be remounted.
  EXPECT_SYSCALL_ERRNO(EINVAL, Mount("", src, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY));
  ASSERT_SYSCALL_OK(Mount(src, dst, nullptr, MS_BIND));
  ASSERT_SYSCALL_OK(Mount("", dst, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY));
  EXPECT_SYSCALL_ERRNO(EROFS, Open(dst + "/f", O_WRONLY | O_CREAT, 0644));
  EXPECT_TRUE(WriteFile(src + "/f", "the source stays writable"));
  EXPECT_EQ(ReadFile(dst + "/f"), "the source stays writable");
  EXPECT_SYSCALL_ERRNO(EROFS, Open(dst + "/f", O_WRONLY));
  EXPECT_TRUE(HasOption(MountsEntry(dst)[3], "ro"));
  // And back.
  ASSERT_SYSCALL_OK(Mount("", dst, nullptr, MS_REMOUNT | MS_BIND));
  EXPECT_TRUE(WriteFile(dst + "/f", "writable again"));
  EXPECT_TRUE(HasOption(MountsEntry(dst)[3], "rw"));
}

TEST(MountTest, RemountReadOnlyWhileWritingIsBusy) {
  REQUIRE_MOUNTS();
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  const std::string m = dir / "m";
  ASSERT_EQ(mkdir(m.c_str(), 0755), 0);
  Unmounter undo(m);
  ASSERT_SYSCALL_OK(Mount("tmpfs", m, "tmpfs", 0));
  const long fd = Open(m + "/f", O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  EXPECT_SYSCALL_ERRNO(EBUSY, Mount("", m, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY));
  Close(fd);
  EXPECT_SYSCALL_OK(Mount("", m, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY));
}

TEST(MountTest, RemountTmpfsOptions) {
  REQUIRE_MOUNTS();
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  const std::string m = dir / "m";
  ASSERT_EQ(mkdir(m.c_str(), 0755), 0);
  Unmounter undo(m);
  ASSERT_SYSCALL_OK(Mount("tmpfs", m, "tmpfs", 0, "size=1m"));
  ASSERT_SYSCALL_OK(Mount("", m, nullptr, MS_REMOUNT, "size=2m"));
  struct statfs sfs {};
  ASSERT_EQ(statfs(m.c_str(), &sfs), 0);
  EXPECT_EQ(static_cast<uint64_t>(sfs.f_blocks) * sfs.f_bsize, 2u << 20);
  EXPECT_SYSCALL_ERRNO(EINVAL, Mount("", m, nullptr, MS_REMOUNT, "nosuchoption"));
  // Too small for what the file system holds.
  std::string data(64 << 10, 'x');
  ASSERT_TRUE(WriteFile(m + "/f", data));
  EXPECT_SYSCALL_ERRNO(EINVAL, Mount("", m, nullptr, MS_REMOUNT, "size=16k"));
  ASSERT_SYSCALL_OK(Mount("", m, nullptr, MS_REMOUNT | MS_RDONLY, nullptr));
  EXPECT_SYSCALL_ERRNO(EROFS, mkdir((m + "/d").c_str(), 0755));
}

TEST(MountTest, PerMountFlags) {
  REQUIRE_MOUNTS();
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  const std::string m = dir / "m";
  ASSERT_EQ(mkdir(m.c_str(), 0755), 0);
  Unmounter undo(m);
  ASSERT_SYSCALL_OK(Mount("tmpfs", m, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME));
  auto entry = MountsEntry(m);
  ASSERT_EQ(entry.size(), 6u);
  for (const char* o : {"rw", "nosuid", "nodev", "noexec", "noatime"}) {
    EXPECT_TRUE(HasOption(entry[3], o)) << o << " in " << entry[3];
  }
  struct statfs sfs {};
  ASSERT_EQ(statfs(m.c_str(), &sfs), 0);
  EXPECT_EQ(sfs.f_flags & (ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_NOATIME | ST_RDONLY),
            ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_NOATIME);

  // noexec: nothing on the mount runs.
  const std::string script = m + "/script";
  ASSERT_TRUE(WriteFile(script, "#!/bin/sh\nexit 0\n"));
  ASSERT_EQ(chmod(script.c_str(), 0755), 0);
  pid_t pid = fork();
  if (pid == 0) {
    char* argv[] = {const_cast<char*>(script.c_str()), nullptr};
    execve(script.c_str(), argv, environ);
    _exit(errno == EACCES ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "execve on a noexec mount";

  // A remount that names no atime mode keeps the mount's.
  ASSERT_SYSCALL_OK(Mount("", m, nullptr, MS_REMOUNT | MS_BIND | MS_NOSUID));
  entry = MountsEntry(m);
  EXPECT_TRUE(HasOption(entry[3], "noatime")) << entry[3];
  EXPECT_TRUE(HasOption(entry[3], "nosuid")) << entry[3];
  EXPECT_FALSE(HasOption(entry[3], "noexec")) << entry[3];
}

TEST(MountTest, NodevRefusesDevices) {
  REQUIRE_MOUNTS();
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  const std::string null = dir / "null";
  ASSERT_TRUE(WriteFile(null, ""));
  Unmounter undo(null);
  ASSERT_SYSCALL_OK(Mount("/dev/null", null, nullptr, MS_BIND));
  long fd = Open(null, O_RDWR);
  EXPECT_GE(fd, 0) << strerror(errno);
  Close(fd);
  ASSERT_SYSCALL_OK(Mount("", null, nullptr, MS_REMOUNT | MS_BIND | MS_NODEV));
  EXPECT_SYSCALL_ERRNO(EACCES, Open(null, O_RDWR));
}

TEST(MountTest, PropagationChanges) {
  REQUIRE_MOUNTS();
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  const std::string m = dir / "m";
  ASSERT_EQ(mkdir(m.c_str(), 0755), 0);
  Unmounter undo(m);
  EXPECT_SYSCALL_OK(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr));
  ASSERT_SYSCALL_OK(Mount("tmpfs", m, "tmpfs", 0));
  EXPECT_SYSCALL_OK(Mount("", m, nullptr, MS_SLAVE));
  EXPECT_SYSCALL_OK(Mount("", m, nullptr, MS_PRIVATE | MS_REC));
  // One propagation type at a time, nothing else with it, and only on a mount's root.
  EXPECT_SYSCALL_ERRNO(EINVAL, Mount("", m, nullptr, MS_PRIVATE | MS_SHARED));
  EXPECT_SYSCALL_ERRNO(EINVAL, Mount("", m, nullptr, MS_PRIVATE | MS_NOSUID));
  EXPECT_SYSCALL_ERRNO(EINVAL, Mount("", dir.path(), nullptr, MS_PRIVATE));
}

TEST(MountTest, MoveMount) {
  REQUIRE_MOUNTS();
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  const std::string a = dir / "a", b = dir / "b";
  ASSERT_EQ(mkdir(a.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(b.c_str(), 0755), 0);
  Unmounter undo_a(a), undo_b(b);
  ASSERT_SYSCALL_OK(Mount("moved", a, "tmpfs", 0));
  ASSERT_TRUE(WriteFile(a + "/f", "moved along"));
  ASSERT_SYSCALL_OK(Mount(a, b, nullptr, MS_MOVE));
  EXPECT_EQ(ReadFile(b + "/f"), "moved along");
  EXPECT_FALSE(Exists(a + "/f"));
  EXPECT_TRUE(MountsEntry(a).empty());
  EXPECT_EQ(MountsEntry(b)[0], "moved");
  // Not into itself, and only whole mounts.
  ASSERT_EQ(mkdir((b + "/sub").c_str(), 0755), 0);
  EXPECT_SYSCALL_ERRNO(ELOOP, Mount(b, b + "/sub", nullptr, MS_MOVE));
  EXPECT_SYSCALL_ERRNO(EINVAL, Mount(b + "/sub", a, nullptr, MS_MOVE));
}

TEST(MountTest, ProcAndSysfs) {
  REQUIRE_MOUNTS();
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  const std::string p = dir / "p", s = dir / "s";
  ASSERT_EQ(mkdir(p.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(s.c_str(), 0755), 0);
  Unmounter undo_p(p), undo_s(s);
  ASSERT_SYSCALL_OK(Mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC));
  EXPECT_NE(ReadFile(p + "/self/status").find("Pid:"), std::string::npos);
  struct statfs sfs {};
  ASSERT_EQ(statfs((p + "/self").c_str(), &sfs), 0);
  EXPECT_EQ(sfs.f_type, PROC_SUPER_MAGIC);
  ASSERT_SYSCALL_OK(Mount("sysfs", s, "sysfs", 0));
  EXPECT_EQ(ReadFile(s + "/devices/system/cpu/online"), ReadFile("/sys/devices/system/cpu/online"));
  ASSERT_EQ(statfs(s.c_str(), &sfs), 0);
  EXPECT_EQ(sfs.f_type, SYSFS_MAGIC);
  EXPECT_EQ(MountsEntry(s)[2], "sysfs");
  EXPECT_EQ(MountsEntry(p)[2], "proc");
  // sysfs is one tree: mounting it again where it is already is EBUSY.
  EXPECT_SYSCALL_ERRNO(EBUSY, Mount("sysfs", s, "sysfs", 0));
  ASSERT_SYSCALL_OK(umount2(s.c_str(), 0));
  ASSERT_SYSCALL_OK(umount2(p.c_str(), 0));
}

TEST(MountTest, MountinfoFields) {
  REQUIRE_MOUNTS();
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  const std::string m = dir / "m";
  ASSERT_EQ(mkdir(m.c_str(), 0755), 0);
  Unmounter undo(m);
  ASSERT_SYSCALL_OK(Mount("infosrc", m, "tmpfs", MS_NOSUID));
  // The mount that holds the mountpoint: the one whose mount point is the longest prefix.
  std::string parent_id, own_parent;
  size_t best = 0;
  bool found = false;
  for (const auto& f : MountInfo()) {
    ASSERT_GE(f.size(), 10u);
    if (f[4] == m) {
      found = true;
      own_parent = f[1];
      EXPECT_EQ(f[3], "/");  // the root of the file system is mounted
      EXPECT_TRUE(HasOption(f[5], "nosuid")) << f[5];
      size_t dash = 6;
      while (dash < f.size() && f[dash] != "-") ++dash;
      ASSERT_LT(dash + 2, f.size());
      EXPECT_EQ(f[dash + 1], "tmpfs");
      EXPECT_EQ(f[dash + 2], "infosrc");
      continue;
    }
    const std::string& mp = f[4];
    bool prefix = mp == "/" || m.compare(0, mp.size() + 1, mp + "/") == 0;
    if (prefix && mp.size() >= best) {
      best = mp.size();
      parent_id = f[0];
    }
  }
  ASSERT_TRUE(found) << Slurp("/proc/self/mountinfo");
  EXPECT_EQ(own_parent, parent_id);
}

TEST(MountTest, UmountFlags) {
  REQUIRE_MOUNTS();
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  const std::string m = dir / "m", link = dir / "link";
  ASSERT_EQ(mkdir(m.c_str(), 0755), 0);
  ASSERT_EQ(symlink(m.c_str(), link.c_str()), 0);
  Unmounter undo(m);
  ASSERT_SYSCALL_OK(Mount("tmpfs", m, "tmpfs", 0));
  // UMOUNT_NOFOLLOW stops at the symlink, which is no mountpoint.
  EXPECT_SYSCALL_ERRNO(EINVAL, umount2(link.c_str(), UMOUNT_NOFOLLOW));
  ASSERT_SYSCALL_OK(umount2(link.c_str(), 0));
  EXPECT_TRUE(MountsEntry(m).empty());

  ASSERT_SYSCALL_OK(Mount("tmpfs", m, "tmpfs", 0));
  ASSERT_SYSCALL_OK(umount2(m.c_str(), MNT_FORCE));
  EXPECT_TRUE(MountsEntry(m).empty());

  // MNT_EXPIRE: the first call marks the mount, the next (with no use between) unmounts it.
  ASSERT_SYSCALL_OK(Mount("tmpfs", m, "tmpfs", 0));
  EXPECT_SYSCALL_ERRNO(EAGAIN, umount2(m.c_str(), MNT_EXPIRE));
  EXPECT_SYSCALL_OK(umount2(m.c_str(), MNT_EXPIRE));
  EXPECT_TRUE(MountsEntry(m).empty());
}

TEST(MountTest, NosymfollowRefusesSymlinks) {
  REQUIRE_MOUNTS();
  ScratchDir dir;
  ASSERT_SCRATCH(dir);
  const std::string m = dir / "m";
  ASSERT_EQ(mkdir(m.c_str(), 0755), 0);
  Unmounter undo(m);
  ASSERT_SYSCALL_OK(Mount("tmpfs", m, "tmpfs", 0));
  ASSERT_TRUE(WriteFile(m + "/target", "t"));
  ASSERT_EQ(symlink("target", (m + "/link").c_str()), 0);
  EXPECT_EQ(ReadFile(m + "/link"), "t");
  ASSERT_SYSCALL_OK(Mount("", m, nullptr, MS_REMOUNT | MS_BIND | MS_NOSYMFOLLOW));
  EXPECT_SYSCALL_ERRNO(ELOOP, Open(m + "/link", O_RDONLY));
  char buf[16];
  EXPECT_EQ(readlink((m + "/link").c_str(), buf, sizeof(buf)), 6);  // readlink still works
  EXPECT_TRUE(HasOption(MountsEntry(m)[3], "nosymfollow"));
}

}  // namespace
}  // namespace conformance
