// inotify(7): inotify_init1's flags, inotify_add_watch's and inotify_rm_watch's errors, the
// events of each kind of change (with names for a watched directory's children, cookies for
// renames), coalescing, IN_ONESHOT, IN_MASK_ADD/IN_MASK_CREATE, IN_EXCL_UNLINK, watch removal
// (IN_IGNORED, IN_DELETE_SELF, IN_UNMOUNT), read(2)'s rules (EINVAL, EAGAIN, blocking and
// interrupted), FIONREAD, poll/epoll readiness, the queue limit (IN_Q_OVERFLOW) and the
// /proc/sys/fs/inotify limits. Files live in a scratch directory under /tmp, and, for the
// volume tests, in $CONFORMANCE_VOLUME (host files the sandbox reaches through its gofer).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "syscalls/test_util.h"

namespace {

using conformance::Fd;

struct Event {
  int wd;
  uint32_t mask;
  uint32_t cookie;
  std::string name;
};

std::ostream& operator<<(std::ostream& os, const Event& e) {
  return os << "{wd " << e.wd << ", mask 0x" << std::hex << e.mask << std::dec << ", cookie "
            << e.cookie << ", \"" << e.name << "\"}";
}

std::string Describe(const std::vector<Event>& events) {
  std::ostringstream os;
  for (const auto& e : events) os << e << "\n";
  return os.str();
}

// Every event queued now (the fd is nonblocking), in order.
std::vector<Event> Drain(int fd) {
  std::vector<Event> out;
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n <= 0) break;
    for (ssize_t at = 0; at < n;) {
      inotify_event ev;
      std::memcpy(&ev, buf.data() + at, sizeof(ev));
      std::string name(buf.data() + at + sizeof(ev), strnlen(buf.data() + at + sizeof(ev), ev.len));
      out.push_back({ev.wd, ev.mask, ev.cookie, name});
      at += sizeof(ev) + ev.len;
    }
  }
  return out;
}

bool Has(const std::vector<Event>& events, int wd, uint32_t mask, const std::string& name = "") {
  for (const auto& e : events) {
    if (e.wd == wd && e.mask == mask && e.name == name) return true;
  }
  return false;
}

// A scratch directory, removed (with what the test left in it) at the end.
class TempDir {
 public:
  explicit TempDir(const std::string& base = "/tmp") {
    std::string tmpl = base + "/inotify_XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) != nullptr) path_ = buf.data();
  }
  ~TempDir() {
    if (!path_.empty()) InChildRm();
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  void InChildRm() {
    pid_t pid = fork();
    if (pid == 0) {
      execl("/bin/rm", "rm", "-rf", path_.c_str(), nullptr);
      _exit(127);
    }
    int status;
    if (pid > 0) waitpid(pid, &status, 0);
  }
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& data) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0) << path << ": " << strerror(errno);
  ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  close(fd);
}

long ReadProcLong(const std::string& path) {
  std::ifstream in(path);
  long v = -1;
  in >> v;
  return v;
}

class InotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    ASSERT_GE(fd_, 0) << strerror(errno);
  }
  void TearDown() override {
    if (fd_ >= 0) close(fd_);
  }
  TempDir dir_;
  int fd_ = -1;
};

TEST(InotifyInit, Flags) {
  Fd plain(inotify_init());
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(fcntl(plain.get(), F_GETFL) & (O_NONBLOCK | O_ACCMODE), O_RDONLY);
  EXPECT_EQ(fcntl(plain.get(), F_GETFD), 0);
  Fd nb(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  ASSERT_TRUE(nb.ok());
  EXPECT_TRUE(fcntl(nb.get(), F_GETFL) & O_NONBLOCK);
  EXPECT_EQ(fcntl(nb.get(), F_GETFD), FD_CLOEXEC);
  EXPECT_SYSCALL_ERRNO(EINVAL, inotify_init1(1));
  EXPECT_SYSCALL_ERRNO(EINVAL, inotify_init1(O_RDWR));
  // Not writable, not seekable.
  char c = 0;
  EXPECT_SYSCALL_ERRNO(EBADF, write(nb.get(), &c, 1));
  EXPECT_SYSCALL_ERRNO(ESPIPE, pread(nb.get(), &c, 1, 0));
}

TEST(InotifyInit, ProcLimits) {
  EXPECT_EQ(ReadProcLong("/proc/sys/fs/inotify/max_queued_events"), 16384);
  EXPECT_GT(ReadProcLong("/proc/sys/fs/inotify/max_user_instances"), 0);
  EXPECT_GE(ReadProcLong("/proc/sys/fs/inotify/max_user_watches"), 8192);
}

// Instances per user are limited: opening more ends in EMFILE (other processes of the same
// user may hold some already).
TEST(InotifyInit, TooManyInstancesIsEmfile) {
  long max = ReadProcLong("/proc/sys/fs/inotify/max_user_instances");
  ASSERT_GT(max, 0);
  rlimit rl;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_cur < static_cast<rlim_t>(max) + 16) {
    rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, max + 16);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
  }
  std::vector<int> fds;
  int err = 0;
  for (long i = 0; i <= max; ++i) {
    int fd = inotify_init();
    if (fd < 0) {
      err = errno;
      break;
    }
    fds.push_back(fd);
  }
  for (int fd : fds) close(fd);
  EXPECT_EQ(err, EMFILE);
  EXPECT_LE(static_cast<long>(fds.size()), max);
  Fd again(inotify_init());
  EXPECT_TRUE(again.ok()) << "closing them gives the user its instances back";
}

TEST_F(InotifyTest, AddWatchErrors) {
  std::string file = dir_ / "f";
  WriteFile(file, "x");
  // The mask is checked before the fd.
  EXPECT_SYSCALL_ERRNO(EINVAL, inotify_add_watch(-1, file.c_str(), 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, inotify_add_watch(-1, file.c_str(), 0x1000));
  EXPECT_SYSCALL_ERRNO(EBADF, inotify_add_watch(-1, file.c_str(), IN_MODIFY));
  EXPECT_SYSCALL_ERRNO(
      EINVAL, inotify_add_watch(fd_, file.c_str(), IN_MODIFY | IN_MASK_ADD | IN_MASK_CREATE));
  Fd other(open(file.c_str(), O_RDONLY));
  EXPECT_SYSCALL_ERRNO(EINVAL, inotify_add_watch(other.get(), file.c_str(), IN_MODIFY));
  EXPECT_SYSCALL_ERRNO(EFAULT, inotify_add_watch(fd_, reinterpret_cast<const char*>(8), IN_MODIFY));
  EXPECT_SYSCALL_ERRNO(ENOENT, inotify_add_watch(fd_, (dir_ / "missing").c_str(), IN_MODIFY));
  EXPECT_SYSCALL_ERRNO(ENOENT, inotify_add_watch(fd_, "", IN_MODIFY));
  EXPECT_SYSCALL_ERRNO(ENOTDIR, inotify_add_watch(fd_, file.c_str(), IN_MODIFY | IN_ONLYDIR));
  EXPECT_SYSCALL_OK(inotify_add_watch(fd_, dir_.path().c_str(), IN_MODIFY | IN_ONLYDIR));
  // A flag alone is a valid mask.
  EXPECT_SYSCALL_OK(inotify_add_watch(fd_, file.c_str(), IN_ONESHOT));
}

TEST_F(InotifyTest, SameInodeSameWd) {
  std::string file = dir_ / "f", hard = dir_ / "hard", sym = dir_ / "sym";
  WriteFile(file, "x");
  ASSERT_EQ(link(file.c_str(), hard.c_str()), 0);
  ASSERT_EQ(symlink(file.c_str(), sym.c_str()), 0);
  int wd = inotify_add_watch(fd_, file.c_str(), IN_MODIFY);
  ASSERT_GT(wd, 0);
  EXPECT_EQ(inotify_add_watch(fd_, hard.c_str(), IN_ATTRIB), wd);
  EXPECT_EQ(inotify_add_watch(fd_, sym.c_str(), IN_ATTRIB), wd) << "the symlink is followed";
  int sym_wd = inotify_add_watch(fd_, sym.c_str(), IN_ATTRIB | IN_DONT_FOLLOW);
  ASSERT_GT(sym_wd, 0);
  EXPECT_NE(sym_wd, wd) << "IN_DONT_FOLLOW watches the link itself";
  EXPECT_SYSCALL_ERRNO(EEXIST, inotify_add_watch(fd_, file.c_str(), IN_MODIFY | IN_MASK_CREATE));
  int dir_wd = inotify_add_watch(fd_, dir_.path().c_str(), IN_CREATE | IN_MASK_CREATE);
  EXPECT_GT(dir_wd, sym_wd);
  // Another instance numbers its own watches.
  Fd other(inotify_init1(IN_NONBLOCK));
  EXPECT_EQ(inotify_add_watch(other.get(), file.c_str(), IN_MODIFY), 1);
}

TEST_F(InotifyTest, AddWatchNeedsReadPermission) {
  std::string file = dir_ / "secret";
  WriteFile(file, "x");
  ASSERT_EQ(chmod(file.c_str(), 0), 0);
  ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
  int fd = fd_;
  EXPECT_EQ(conformance::InChild([&] {
              if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) {
                return 1;
              }
              if (inotify_add_watch(fd, file.c_str(), IN_MODIFY) != -1) return 2;
              return errno == EACCES ? 0 : 3;
            }),
            0);
}

TEST_F(InotifyTest, RmWatch) {
  std::string file = dir_ / "f";
  WriteFile(file, "x");
  int wd = inotify_add_watch(fd_, file.c_str(), IN_MODIFY);
  ASSERT_GT(wd, 0);
  EXPECT_SYSCALL_ERRNO(EINVAL, inotify_rm_watch(fd_, wd + 100));
  EXPECT_SYSCALL_ERRNO(EINVAL, inotify_rm_watch(fd_, -1));
  EXPECT_SYSCALL_ERRNO(EBADF, inotify_rm_watch(-1, wd));
  Fd other(open(file.c_str(), O_RDONLY));
  EXPECT_SYSCALL_ERRNO(EINVAL, inotify_rm_watch(other.get(), wd));
  ASSERT_SYSCALL_OK(inotify_rm_watch(fd_, wd));
  auto events = Drain(fd_);
  ASSERT_EQ(events.size(), 1u) << Describe(events);
  EXPECT_EQ(events[0].wd, wd);
  EXPECT_EQ(events[0].mask, static_cast<uint32_t>(IN_IGNORED));
  EXPECT_SYSCALL_ERRNO(EINVAL, inotify_rm_watch(fd_, wd));
  WriteFile(file, "y");
  EXPECT_TRUE(Drain(fd_).empty());
  // Watch descriptors are not reused at once.
  EXPECT_GT(inotify_add_watch(fd_, file.c_str(), IN_MODIFY), wd);
}

TEST_F(InotifyTest, FileEvents) {
  std::string file = dir_ / "f";
  WriteFile(file, "hello");
  int wd = inotify_add_watch(fd_, file.c_str(), IN_ALL_EVENTS);
  ASSERT_GT(wd, 0);
  {
    Fd f(open(file.c_str(), O_RDWR));
    ASSERT_TRUE(f.ok());
    char buf[8];
    ASSERT_EQ(read(f.get(), buf, sizeof(buf)), 5);
    ASSERT_EQ(pwrite(f.get(), "x", 1, 0), 1);
  }
  {
    Fd f(open(file.c_str(), O_RDONLY));
    ASSERT_TRUE(f.ok());
  }
  ASSERT_EQ(chmod(file.c_str(), 0600), 0);
  ASSERT_EQ(truncate(file.c_str(), 1), 0);
  auto events = Drain(fd_);
  std::vector<uint32_t> masks;
  for (const auto& e : events) {
    EXPECT_EQ(e.wd, wd);
    EXPECT_EQ(e.name, "");
    EXPECT_EQ(e.cookie, 0u);
    masks.push_back(e.mask);
  }
  EXPECT_EQ(masks, (std::vector<uint32_t>{IN_OPEN, IN_ACCESS, IN_MODIFY, IN_CLOSE_WRITE, IN_OPEN,
                                          IN_CLOSE_NOWRITE, IN_ATTRIB, IN_MODIFY}))
      << Describe(events);
}

TEST_F(InotifyTest, XattrChangesAreAttrib) {
  std::string file = dir_ / "f";
  WriteFile(file, "x");
  int wd = inotify_add_watch(fd_, file.c_str(), IN_ALL_EVENTS);
  ASSERT_GT(wd, 0);
  ASSERT_EQ(setxattr(file.c_str(), "user.k", "v", 1, 0), 0) << strerror(errno);
  ASSERT_EQ(removexattr(file.c_str(), "user.k"), 0);
  char buf[16];
  ASSERT_SYSCALL_ERRNO(ENODATA, getxattr(file.c_str(), "user.k", buf, sizeof(buf)));
  auto events = Drain(fd_);
  ASSERT_EQ(events.size(), 1u) << Describe(events);  // the two merge
  EXPECT_EQ(events[0].mask, static_cast<uint32_t>(IN_ATTRIB));
}

TEST_F(InotifyTest, OpenTruncateIsOpenThenModify) {
  std::string file = dir_ / "f";
  WriteFile(file, "hello");
  int wd = inotify_add_watch(fd_, file.c_str(), IN_OPEN | IN_MODIFY | IN_CLOSE);
  ASSERT_GT(wd, 0);
  Fd(open(file.c_str(), O_WRONLY | O_TRUNC));
  auto events = Drain(fd_);
  ASSERT_EQ(events.size(), 3u) << Describe(events);
  EXPECT_EQ(events[0].mask, static_cast<uint32_t>(IN_OPEN));
  EXPECT_EQ(events[1].mask, static_cast<uint32_t>(IN_MODIFY));
  EXPECT_EQ(events[2].mask, static_cast<uint32_t>(IN_CLOSE_WRITE));
}

TEST_F(InotifyTest, DirectoryChildEventsCarryNames) {
  int wd = inotify_add_watch(fd_, dir_.path().c_str(), IN_ALL_EVENTS);
  ASSERT_GT(wd, 0);
  std::string file = dir_ / "f";
  {
    Fd f(open(file.c_str(), O_WRONLY | O_CREAT, 0644));
    ASSERT_TRUE(f.ok());
    ASSERT_EQ(write(f.get(), "x", 1), 1);
  }
  ASSERT_EQ(mkdir((dir_ / "d").c_str(), 0755), 0);
  ASSERT_EQ(symlink("f", (dir_ / "s").c_str()), 0);
  ASSERT_EQ(link(file.c_str(), (dir_ / "l").c_str()), 0);
  ASSERT_EQ(mknod((dir_ / "p").c_str(), S_IFIFO | 0644, 0), 0);
  ASSERT_EQ(unlink((dir_ / "l").c_str()), 0);
  ASSERT_EQ(rmdir((dir_ / "d").c_str()), 0);
  auto events = Drain(fd_);
  std::vector<Event> want = {
      {wd, IN_CREATE, 0, "f"},
      {wd, IN_OPEN, 0, "f"},
      {wd, IN_MODIFY, 0, "f"},
      {wd, IN_CLOSE_WRITE, 0, "f"},
      {wd, IN_CREATE | IN_ISDIR, 0, "d"},
      {wd, IN_CREATE, 0, "s"},
      {wd, IN_CREATE, 0, "l"},
      {wd, IN_CREATE, 0, "p"},
      {wd, IN_DELETE, 0, "l"},
      {wd, IN_DELETE | IN_ISDIR, 0, "d"},
  };
  ASSERT_EQ(events.size(), want.size()) << Describe(events);
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(events[i].wd, want[i].wd) << i;
    EXPECT_EQ(events[i].mask, want[i].mask) << i << ": " << Describe(events);
    EXPECT_EQ(events[i].name, want[i].name) << i;
  }
}

TEST_F(InotifyTest, DirectoryOwnEvents) {
  int wd = inotify_add_watch(fd_, dir_.path().c_str(), IN_OPEN | IN_ACCESS | IN_CLOSE_NOWRITE);
  ASSERT_GT(wd, 0);
  {
    Fd d(open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY));
    ASSERT_TRUE(d.ok());
    char buf[4096];
    ASSERT_GE(syscall(SYS_getdents64, d.get(), buf, sizeof(buf)), 0);
  }
  auto events = Drain(fd_);
  ASSERT_EQ(events.size(), 3u) << Describe(events);
  EXPECT_EQ(events[0].mask, static_cast<uint32_t>(IN_OPEN | IN_ISDIR));
  EXPECT_EQ(events[1].mask, static_cast<uint32_t>(IN_ACCESS | IN_ISDIR));
  EXPECT_EQ(events[2].mask, static_cast<uint32_t>(IN_CLOSE_NOWRITE | IN_ISDIR));
  for (const auto& e : events) EXPECT_EQ(e.name, "");
}

// Both the directory and the file watched: each hears, the directory first and with the name.
TEST_F(InotifyTest, ParentAndChildBothReport) {
  std::string file = dir_ / "f";
  WriteFile(file, "x");
  int dir_wd = inotify_add_watch(fd_, dir_.path().c_str(), IN_ATTRIB);
  int file_wd = inotify_add_watch(fd_, file.c_str(), IN_ATTRIB);
  ASSERT_GT(dir_wd, 0);
  ASSERT_GT(file_wd, 0);
  ASSERT_EQ(chmod(file.c_str(), 0600), 0);
  auto events = Drain(fd_);
  ASSERT_EQ(events.size(), 2u) << Describe(events);
  EXPECT_EQ(events[0].wd, dir_wd);
  EXPECT_EQ(events[0].name, "f");
  EXPECT_EQ(events[1].wd, file_wd);
  EXPECT_EQ(events[1].name, "");
}

TEST_F(InotifyTest, RenameCookies) {
  std::string sub = dir_ / "sub";
  ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
  std::string file = dir_ / "a";
  WriteFile(file, "x");
  int wd = inotify_add_watch(fd_, dir_.path().c_str(), IN_MOVE);
  int sub_wd = inotify_add_watch(fd_, sub.c_str(), IN_MOVE);
  int file_wd = inotify_add_watch(fd_, file.c_str(), IN_MOVE_SELF);
  ASSERT_GT(wd, 0);
  ASSERT_GT(sub_wd, 0);
  ASSERT_GT(file_wd, 0);
  ASSERT_EQ(rename(file.c_str(), (dir_ / "b").c_str()), 0);
  ASSERT_EQ(rename((dir_ / "b").c_str(), (sub + "/c").c_str()), 0);
  auto events = Drain(fd_);
  ASSERT_EQ(events.size(), 6u) << Describe(events);
  EXPECT_EQ(events[0].wd, wd);
  EXPECT_EQ(events[0].mask, static_cast<uint32_t>(IN_MOVED_FROM));
  EXPECT_EQ(events[0].name, "a");
  EXPECT_EQ(events[1].wd, wd);
  EXPECT_EQ(events[1].mask, static_cast<uint32_t>(IN_MOVED_TO));
  EXPECT_EQ(events[1].name, "b");
  EXPECT_NE(events[0].cookie, 0u);
  EXPECT_EQ(events[0].cookie, events[1].cookie);
  EXPECT_EQ(events[2].wd, file_wd);
  EXPECT_EQ(events[2].mask, static_cast<uint32_t>(IN_MOVE_SELF));
  EXPECT_EQ(events[3].wd, wd);
  EXPECT_EQ(events[3].mask, static_cast<uint32_t>(IN_MOVED_FROM));
  EXPECT_EQ(events[3].name, "b");
  EXPECT_EQ(events[4].wd, sub_wd);
  EXPECT_EQ(events[4].mask, static_cast<uint32_t>(IN_MOVED_TO));
  EXPECT_EQ(events[4].name, "c");
  EXPECT_EQ(events[3].cookie, events[4].cookie);
  EXPECT_NE(events[3].cookie, events[0].cookie);
  EXPECT_EQ(events[5].wd, file_wd);
  EXPECT_EQ(events[5].mask, static_cast<uint32_t>(IN_MOVE_SELF));
}

TEST_F(InotifyTest, RenameDirectoryHasIsdir) {
  ASSERT_EQ(mkdir((dir_ / "d").c_str(), 0755), 0);
  int wd = inotify_add_watch(fd_, dir_.path().c_str(), IN_MOVE);
  ASSERT_GT(wd, 0);
  ASSERT_EQ(rename((dir_ / "d").c_str(), (dir_ / "e").c_str()), 0);
  auto events = Drain(fd_);
  ASSERT_EQ(events.size(), 2u) << Describe(events);
  EXPECT_EQ(events[0].mask, static_cast<uint32_t>(IN_MOVED_FROM | IN_ISDIR));
  EXPECT_EQ(events[1].mask, static_cast<uint32_t>(IN_MOVED_TO | IN_ISDIR));
}

TEST_F(InotifyTest, WatchedDirectoryOwnEvents) {
  std::string sub = dir_ / "sub";
  ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
  int wd = inotify_add_watch(fd_, sub.c_str(), IN_ALL_EVENTS);
  ASSERT_GT(wd, 0);
  ASSERT_EQ(chmod(sub.c_str(), 0700), 0);
  ASSERT_EQ(rename(sub.c_str(), (dir_ / "moved").c_str()), 0);
  auto events = Drain(fd_);
  ASSERT_EQ(events.size(), 2u) << Describe(events);
  EXPECT_EQ(events[0].mask, static_cast<uint32_t>(IN_ATTRIB | IN_ISDIR));
  EXPECT_EQ(events[1].mask, static_cast<uint32_t>(IN_MOVE_SELF)) << "no IN_ISDIR";
}

TEST_F(InotifyTest, RenameOverWatchedFileDeletesIt) {
  std::string a = dir_ / "a", b = dir_ / "b";
  WriteFile(a, "a");
  WriteFile(b, "b");
  int wd = inotify_add_watch(fd_, b.c_str(), IN_ALL_EVENTS);
  ASSERT_GT(wd, 0);
  ASSERT_EQ(rename(a.c_str(), b.c_str()), 0);
  auto events = Drain(fd_);
  ASSERT_EQ(events.size(), 3u) << Describe(events);
  EXPECT_EQ(events[0].mask, static_cast<uint32_t>(IN_ATTRIB));
  EXPECT_EQ(events[1].mask, static_cast<uint32_t>(IN_DELETE_SELF));
  EXPECT_EQ(events[2].mask, static_cast<uint32_t>(IN_IGNORED));
  EXPECT_SYSCALL_ERRNO(EINVAL, inotify_rm_watch(fd_, wd));
}

TEST_F(InotifyTest, UnlinkWatchedFile) {
  std::string file = dir_ / "f";
  WriteFile(file, "x");
  int wd = inotify_add_watch(fd_, file.c_str(), IN_ALL_EVENTS);
  int dir_wd = inotify_add_watch(fd_, dir_.path().c_str(), IN_DELETE);
  ASSERT_GT(wd, 0);
  ASSERT_EQ(unlink(file.c_str()), 0);
  auto events = Drain(fd_);
  ASSERT_EQ(events.size(), 4u) << Describe(events);
  EXPECT_EQ(events[0].wd, wd);
  EXPECT_EQ(events[0].mask, static_cast<uint32_t>(IN_ATTRIB));
  EXPECT_EQ(events[1].wd, wd);
  EXPECT_EQ(events[1].mask, static_cast<uint32_t>(IN_DELETE_SELF));
  EXPECT_EQ(events[2].wd, wd);
  EXPECT_EQ(events[2].mask, static_cast<uint32_t>(IN_IGNORED));
  EXPECT_EQ(events[3].wd, dir_wd);
  EXPECT_EQ(events[3].mask, static_cast<uint32_t>(IN_DELETE));
  EXPECT_EQ(events[3].name, "f");
}

// A file or directory still open when its last name goes ends (IN_DELETE_SELF) at its last
// close, after the close's own event.
TEST_F(InotifyTest, DeleteSelfWaitsForTheLastClose) {
  std::string file = dir_ / "f", sub = dir_ / "d";
  WriteFile(file, "x");
  ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
  Fd f(open(file.c_str(), O_RDWR));
  Fd d(open(sub.c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(d.ok());
  int fwd = inotify_add_watch(fd_, file.c_str(), IN_ALL_EVENTS);
  int dwd = inotify_add_watch(fd_, sub.c_str(), IN_ALL_EVENTS);
  ASSERT_GT(fwd, 0);
  ASSERT_GT(dwd, 0);
  ASSERT_EQ(unlink(file.c_str()), 0);
  ASSERT_EQ(rmdir(sub.c_str()), 0);
  auto events = Drain(fd_);
  ASSERT_EQ(events.size(), 1u) << Describe(events);
  EXPECT_EQ(events[0].wd, fwd);
  EXPECT_EQ(events[0].mask, static_cast<uint32_t>(IN_ATTRIB));
  ASSERT_EQ(write(f.get(), "y", 1), 1);
  f.Reset();
  d.Reset();
  events = Drain(fd_);
  std::vector<std::pair<int, uint32_t>> got;
  for (const auto& e : events) got.emplace_back(e.wd, e.mask);
  EXPECT_EQ(got, (std::vector<std::pair<int, uint32_t>>{{fwd, IN_MODIFY},
                                                        {fwd, IN_CLOSE_WRITE},
                                                        {fwd, IN_DELETE_SELF},
                                                        {fwd, IN_IGNORED},
                                                        {dwd, IN_CLOSE_NOWRITE | IN_ISDIR},
                                                        {dwd, IN_DELETE_SELF},
                                                        {dwd, IN_IGNORED}}))
      << Describe(events);
}

TEST_F(InotifyTest, UnlinkOneOfTwoLinksIsAttribOnly) {
  std::string file = dir_ / "f";
  WriteFile(file, "x");
  ASSERT_EQ(link(file.c_str(), (dir_ / "g").c_str()), 0);
  int wd = inotify_add_watch(fd_, file.c_str(), IN_ALL_EVENTS);
  ASSERT_GT(wd, 0);
  ASSERT_EQ(unlink(file.c_str()), 0);
  auto events = Drain(fd_);
  ASSERT_EQ(events.size(), 1u) << Describe(events);
  EXPECT_EQ(events[0].mask, static_cast<uint32_t>(IN_ATTRIB));
}

TEST_F(InotifyTest, RmdirWatchedDirectory) {
  std::string sub = dir_ / "sub";
  ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
  int wd = inotify_add_watch(fd_, sub.c_str(), IN_ALL_EVENTS);
  ASSERT_GT(wd, 0);
  ASSERT_EQ(rmdir(sub.c_str()), 0);
  auto events = Drain(fd_);
  ASSERT_EQ(events.size(), 2u) << Describe(events);
  EXPECT_EQ(events[0].wd, wd);
  EXPECT_EQ(events[0].mask, static_cast<uint32_t>(IN_DELETE_SELF)) << "no IN_ISDIR";
  EXPECT_EQ(events[1].wd, wd);
  EXPECT_EQ(events[1].mask, static_cast<uint32_t>(IN_IGNORED));
}

TEST_F(InotifyTest, IdenticalEventsCoalesce) {
  std::string file = dir_ / "f";
  WriteFile(file, "x");
  int wd = inotify_add_watch(fd_, file.c_str(), IN_MODIFY | IN_ACCESS);
  ASSERT_GT(wd, 0);
  Fd f(open(file.c_str(), O_RDWR));
  ASSERT_TRUE(f.ok());
  char c;
  ASSERT_EQ(write(f.get(), "a", 1), 1);
  ASSERT_EQ(write(f.get(), "b", 1), 1);
  ASSERT_EQ(pread(f.get(), &c, 1, 0), 1);
  ASSERT_EQ(write(f.get(), "c", 1), 1);
  auto events = Drain(fd_);
  ASSERT_EQ(events.size(), 3u) << Describe(events);
  EXPECT_EQ(events[0].mask, static_cast<uint32_t>(IN_MODIFY));
  EXPECT_EQ(events[1].mask, static_cast<uint32_t>(IN_ACCESS));
  EXPECT_EQ(events[2].mask, static_cast<uint32_t>(IN_MODIFY));
  // Once read, the same event queues anew.
  ASSERT_EQ(write(f.get(), "d", 1), 1);
  events = Drain(fd_);
  ASSERT_EQ(events.size(), 1u) << Describe(events);
}

TEST_F(InotifyTest, Oneshot) {
  std::string file = dir_ / "f";
  WriteFile(file, "x");
  int wd = inotify_add_watch(fd_, file.c_str(), IN_ATTRIB | IN_ONESHOT);
  ASSERT_GT(wd, 0);
  ASSERT_EQ(chmod(file.c_str(), 0600), 0);
  ASSERT_EQ(chmod(file.c_str(), 0644), 0);
  auto events = Drain(fd_);
  ASSERT_EQ(events.size(), 2u) << Describe(events);
  EXPECT_EQ(events[0].mask, static_cast<uint32_t>(IN_ATTRIB));
  EXPECT_EQ(events[1].mask, static_cast<uint32_t>(IN_IGNORED));
  EXPECT_SYSCALL_ERRNO(EINVAL, inotify_rm_watch(fd_, wd));
}

TEST_F(InotifyTest, MaskAddAndReplace) {
  std::string file = dir_ / "f";
  WriteFile(file, "x");
  int wd = inotify_add_watch(fd_, file.c_str(), IN_ATTRIB);
  ASSERT_GT(wd, 0);
  ASSERT_EQ(inotify_add_watch(fd_, file.c_str(), IN_OPEN | IN_MASK_ADD), wd);
  ASSERT_EQ(chmod(file.c_str(), 0600), 0);
  Fd(open(file.c_str(), O_RDONLY));
  auto events = Drain(fd_);
  ASSERT_EQ(events.size(), 2u) << Describe(events);
  EXPECT_EQ(events[0].mask, static_cast<uint32_t>(IN_ATTRIB));
  EXPECT_EQ(events[1].mask, static_cast<uint32_t>(IN_OPEN));
  // Without IN_MASK_ADD the new mask replaces the old one.
  ASSERT_EQ(inotify_add_watch(fd_, file.c_str(), IN_OPEN), wd);
  ASSERT_EQ(chmod(file.c_str(), 0644), 0);
  Fd(open(file.c_str(), O_RDONLY));
  events = Drain(fd_);
  ASSERT_EQ(events.size(), 1u) << Describe(events);
  EXPECT_EQ(events[0].mask, static_cast<uint32_t>(IN_OPEN));
}

TEST_F(InotifyTest, ExclUnlink) {
  std::string file = dir_ / "f";
  WriteFile(file, "x");
  Fd f(open(file.c_str(), O_WRONLY));
  ASSERT_TRUE(f.ok());
  ASSERT_EQ(unlink(file.c_str()), 0);
  int wd = inotify_add_watch(fd_, dir_.path().c_str(), IN_MODIFY | IN_EXCL_UNLINK);
  ASSERT_GT(wd, 0);
  ASSERT_EQ(write(f.get(), "a", 1), 1);
  EXPECT_TRUE(Drain(fd_).empty());
  // By default an unlinked child still reports to its old directory.
  ASSERT_EQ(inotify_add_watch(fd_, dir_.path().c_str(), IN_MODIFY), wd);
  ASSERT_EQ(write(f.get(), "b", 1), 1);
  auto events = Drain(fd_);
  ASSERT_EQ(events.size(), 1u) << Describe(events);
  EXPECT_EQ(events[0].mask, static_cast<uint32_t>(IN_MODIFY));
  EXPECT_EQ(events[0].name, "f");
}

TEST_F(InotifyTest, ClosingTheInstanceEndsItsWatches) {
  std::string file = dir_ / "f";
  WriteFile(file, "x");
  ASSERT_GT(inotify_add_watch(fd_, file.c_str(), IN_MODIFY), 0);
  close(fd_);
  fd_ = -1;
  WriteFile(file, "y");  // nothing left to hear it
  Fd again(inotify_init1(IN_NONBLOCK));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(inotify_add_watch(again.get(), file.c_str(), IN_MODIFY), 1);
}

TEST_F(InotifyTest, ReadRules) {
  char small[sizeof(inotify_event) + 4];
  EXPECT_SYSCALL_ERRNO(EAGAIN, read(fd_, small, sizeof(small)));
  int wd = inotify_add_watch(fd_, dir_.path().c_str(), IN_CREATE);
  ASSERT_GT(wd, 0);
  WriteFile(dir_ / "abc", "");
  int queued = -1;
  ASSERT_EQ(ioctl(fd_, FIONREAD, &queued), 0);
  EXPECT_EQ(queued, static_cast<int>(2 * sizeof(inotify_event)));
  // Too small for the event with its name: EINVAL, and the event stays.
  EXPECT_SYSCALL_ERRNO(EINVAL, read(fd_, small, sizeof(small)));
  EXPECT_SYSCALL_ERRNO(EINVAL, read(fd_, small, 0));
  alignas(inotify_event) char buf[4096];
  ASSERT_EQ(read(fd_, buf, sizeof(buf)), static_cast<ssize_t>(2 * sizeof(inotify_event)));
  inotify_event ev;
  std::memcpy(&ev, buf, sizeof(ev));
  EXPECT_EQ(ev.wd, wd);
  EXPECT_EQ(ev.mask, static_cast<uint32_t>(IN_CREATE));
  EXPECT_EQ(ev.len, sizeof(inotify_event));
  EXPECT_STREQ(buf + sizeof(ev), "abc");
  ASSERT_EQ(ioctl(fd_, FIONREAD, &queued), 0);
  EXPECT_EQ(queued, 0);
  // A read takes only whole events: with room for one and a half, one.
  WriteFile(dir_ / "d", "");
  WriteFile(dir_ / "e", "");
  ASSERT_EQ(read(fd_, buf, 3 * sizeof(inotify_event)),
            static_cast<ssize_t>(2 * sizeof(inotify_event)));
  ASSERT_EQ(read(fd_, buf, sizeof(buf)), static_cast<ssize_t>(2 * sizeof(inotify_event)));
}

TEST_F(InotifyTest, BlockingReadInterruptedBySignal) {
  Fd blocking(inotify_init());
  ASSERT_TRUE(blocking.ok());
  ASSERT_GT(inotify_add_watch(blocking.get(), dir_.path().c_str(), IN_CREATE), 0);
  int fd = blocking.get();
  EXPECT_EQ(conformance::InChildWithAlarm(0,
                                          [&] {
                                            char buf[4096];
                                            return read(fd, buf, sizeof(buf));
                                          }),
            0);
}

// A blocked read returns once another process makes a change.
TEST_F(InotifyTest, BlockingReadWokenByChange) {
  Fd blocking(inotify_init());
  ASSERT_TRUE(blocking.ok());
  int wd = inotify_add_watch(blocking.get(), dir_.path().c_str(), IN_CREATE);
  ASSERT_GT(wd, 0);
  std::string file = dir_ / "late";
  pid_t pid = fork();
  if (pid == 0) {
    usleep(50 * 1000);
    int fd = open(file.c_str(), O_CREAT | O_WRONLY, 0644);
    _exit(fd >= 0 ? 0 : 1);
  }
  ASSERT_GT(pid, 0);
  alignas(inotify_event) char buf[4096];
  ssize_t n = read(blocking.get(), buf, sizeof(buf));
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(status, 0);
  ASSERT_GE(n, static_cast<ssize_t>(sizeof(inotify_event)));
  inotify_event ev;
  std::memcpy(&ev, buf, sizeof(ev));
  EXPECT_EQ(ev.wd, wd);
  EXPECT_EQ(ev.mask, static_cast<uint32_t>(IN_CREATE));
  EXPECT_STREQ(buf + sizeof(ev), "late");
}

TEST_F(InotifyTest, PollAndEpollReadiness) {
  pollfd p = {fd_, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 0), 0);
  Fd ep(epoll_create1(0));
  ASSERT_TRUE(ep.ok());
  epoll_event ee = {};
  ee.events = EPOLLIN;
  ee.data.fd = fd_;
  ASSERT_EQ(epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd_, &ee), 0);
  epoll_event out;
  ASSERT_EQ(epoll_wait(ep.get(), &out, 1, 0), 0);
  ASSERT_GT(inotify_add_watch(fd_, dir_.path().c_str(), IN_CREATE), 0);
  // A child makes the change while the parent waits, with a generous limit.
  pid_t pid = fork();
  if (pid == 0) {
    usleep(20 * 1000);
    int fd = open((dir_ / "x").c_str(), O_CREAT | O_WRONLY, 0644);
    _exit(fd >= 0 ? 0 : 1);
  }
  ASSERT_GT(pid, 0);
  ASSERT_EQ(epoll_wait(ep.get(), &out, 1, 30000), 1);
  EXPECT_EQ(out.events, static_cast<uint32_t>(EPOLLIN));
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  p.revents = 0;
  ASSERT_EQ(poll(&p, 1, 0), 1);
  EXPECT_EQ(p.revents, POLLIN);
  fd_set set;
  FD_ZERO(&set);
  FD_SET(fd_, &set);
  timeval tv = {0, 0};
  EXPECT_EQ(select(fd_ + 1, &set, nullptr, nullptr, &tv), 1);
  Drain(fd_);
  EXPECT_EQ(poll(&p, 1, 0), 0);
}

// Past max_queued_events, events are lost and one IN_Q_OVERFLOW (wd -1) says so.
TEST_F(InotifyTest, QueueOverflow) {
  long max = ReadProcLong("/proc/sys/fs/inotify/max_queued_events");
  ASSERT_GT(max, 0);
  std::string file = dir_ / "f";
  WriteFile(file, "x");
  ASSERT_GT(inotify_add_watch(fd_, file.c_str(), IN_OPEN | IN_CLOSE_NOWRITE), 0);
  // Open and close alternate, so no two neighbours merge.
  for (long i = 0; i < max / 2 + 2; ++i) {
    int f = open(file.c_str(), O_RDONLY);
    ASSERT_GE(f, 0);
    close(f);
  }
  auto events = Drain(fd_);
  ASSERT_EQ(static_cast<long>(events.size()), max + 1);
  EXPECT_EQ(events.back().wd, -1);
  EXPECT_EQ(events.back().mask, static_cast<uint32_t>(IN_Q_OVERFLOW));
  EXPECT_EQ(events.back().name, "");
  EXPECT_EQ(events[max - 1].mask & IN_Q_OVERFLOW, 0u);
}

TEST_F(InotifyTest, CopiesReportAccessAndModify) {
  std::string a = dir_ / "a", b = dir_ / "b";
  WriteFile(a, "hello");
  WriteFile(b, "");
  int wa = inotify_add_watch(fd_, a.c_str(), IN_ACCESS | IN_MODIFY);
  int wb = inotify_add_watch(fd_, b.c_str(), IN_ACCESS | IN_MODIFY);
  ASSERT_GT(wa, 0);
  ASSERT_GT(wb, 0);
  Fd in(open(a.c_str(), O_RDONLY));
  Fd out(open(b.c_str(), O_WRONLY));
  ASSERT_EQ(sendfile(out.get(), in.get(), nullptr, 5), 5);
  auto events = Drain(fd_);
  ASSERT_EQ(events.size(), 2u) << Describe(events);
  EXPECT_TRUE(Has(events, wa, IN_ACCESS)) << Describe(events);
  EXPECT_TRUE(Has(events, wb, IN_MODIFY)) << Describe(events);
  loff_t off_in = 0;
  ASSERT_EQ(copy_file_range(in.get(), &off_in, out.get(), nullptr, 5, 0), 5);
  events = Drain(fd_);
  ASSERT_EQ(events.size(), 2u) << Describe(events);
  EXPECT_TRUE(Has(events, wa, IN_ACCESS)) << Describe(events);
  EXPECT_TRUE(Has(events, wb, IN_MODIFY)) << Describe(events);
  // Nothing copied, nothing reported.
  ASSERT_EQ(sendfile(out.get(), in.get(), nullptr, 5), 0);
  EXPECT_TRUE(Drain(fd_).empty());
}

// A watch on a file system that goes away: IN_UNMOUNT, then IN_IGNORED.
TEST_F(InotifyTest, Unmount) {
  std::string mnt = dir_ / "mnt";
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
  ASSERT_EQ(mount("none", mnt.c_str(), "tmpfs", 0, nullptr), 0) << strerror(errno);
  std::string file = mnt + "/f";
  WriteFile(file, "x");
  int wd = inotify_add_watch(fd_, file.c_str(), IN_MODIFY);
  ASSERT_GT(wd, 0);
  ASSERT_EQ(umount(mnt.c_str()), 0) << strerror(errno);
  auto events = Drain(fd_);
  ASSERT_EQ(events.size(), 2u) << Describe(events);
  EXPECT_EQ(events[0].wd, wd);
  EXPECT_EQ(events[0].mask, static_cast<uint32_t>(IN_UNMOUNT));
  EXPECT_EQ(events[1].wd, wd);
  EXPECT_EQ(events[1].mask, static_cast<uint32_t>(IN_IGNORED));
}

TEST_F(InotifyTest, FdInfoListsWatches) {
  int wd = inotify_add_watch(fd_, dir_.path().c_str(), IN_CREATE);
  ASSERT_GT(wd, 0);
  std::ifstream in("/proc/self/fdinfo/" + std::to_string(fd_));
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(all.find("inotify wd:1 "), std::string::npos) << all;
  char target[256] = {};
  ASSERT_GT(readlink(("/proc/self/fd/" + std::to_string(fd_)).c_str(), target, sizeof(target) - 1),
            0);
  EXPECT_STREQ(target, "anon_inode:inotify");
}

// Host files seen through the gofer: changes the sandbox makes are reported as for any file.
TEST(InotifyVolume, EventsOnHostFiles) {
  const char* volume = getenv("CONFORMANCE_VOLUME");
  ASSERT_NE(volume, nullptr);
  TempDir dir(volume);
  ASSERT_FALSE(dir.path().empty());
  Fd in(inotify_init1(IN_NONBLOCK));
  ASSERT_TRUE(in.ok());
  int wd = inotify_add_watch(in.get(), dir.path().c_str(), IN_ALL_EVENTS);
  ASSERT_GT(wd, 0);
  WriteFile(dir / "f", "x");
  ASSERT_EQ(rename((dir / "f").c_str(), (dir / "g").c_str()), 0);
  ASSERT_EQ(unlink((dir / "g").c_str()), 0);
  auto events = Drain(in.get());
  EXPECT_TRUE(Has(events, wd, IN_CREATE, "f")) << Describe(events);
  EXPECT_TRUE(Has(events, wd, IN_MODIFY, "f")) << Describe(events);
  EXPECT_TRUE(Has(events, wd, IN_CLOSE_WRITE, "f")) << Describe(events);
  EXPECT_TRUE(Has(events, wd, IN_MOVED_FROM, "f")) << Describe(events);
  EXPECT_TRUE(Has(events, wd, IN_MOVED_TO, "g")) << Describe(events);
  EXPECT_TRUE(Has(events, wd, IN_DELETE, "g")) << Describe(events);
  // A watched host file that loses its last link.
  WriteFile(dir / "h", "x");
  int file_wd = inotify_add_watch(in.get(), (dir / "h").c_str(), IN_ALL_EVENTS);
  ASSERT_GT(file_wd, 0);
  ASSERT_EQ(unlink((dir / "h").c_str()), 0);
  events = Drain(in.get());
  EXPECT_TRUE(Has(events, file_wd, IN_ATTRIB)) << Describe(events);
  EXPECT_TRUE(Has(events, file_wd, IN_DELETE_SELF)) << Describe(events);
  EXPECT_TRUE(Has(events, file_wd, IN_IGNORED)) << Describe(events);
}

}  // namespace
