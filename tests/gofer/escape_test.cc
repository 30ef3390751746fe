// Invariant 3: whatever a client asks, the gofer serves nothing outside its trees. Names that
// could climb are refused, symlinks come back as symlinks, and its seccomp filter kills it on
// anything it does not need.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <deque>
#include <set>
#include <utility>

#include "gofer/confine.h"
#include "tests/gofer/server_fixture.h"

namespace gofer::testing {
namespace {

class GoferEscapeTest : public GoferServerTest {
 protected:
  std::pair<uint64_t, uint64_t> HostId(const std::string& path) {
    struct stat st;
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return {st.st_dev, st.st_ino};
  }
};

const std::vector<std::string> kClimbingNames = {
    "..", ".", "", "a/b", "/", "/etc", "../outside", std::string("a\0b", 3), "b/"};

TEST_P(GoferEscapeTest, NamesThatCouldClimbAreRefused) {
  Fid b = MustWalk({"a", "b"});
  Fid c = MustWalk({"a", "b", "c"});
  for (const auto& name : kClimbingNames) {
    SCOPED_TRACE("name \"" + name + "\"");
    EXPECT_EQ(Walk(ch(), b, {name}).error(), Errno(EINVAL));
    EXPECT_EQ(Walk(ch(), root_, {"a", name}).error(), Errno(EINVAL));
    EXPECT_EQ(ch().Call(CreateRequest{b, name, O_RDWR, 0600, 0, 0}).error(), Errno(EINVAL));
    EXPECT_EQ(ch().Call(MkdirRequest{b, name, 0700, 0, 0}).error(), Errno(EINVAL));
    EXPECT_EQ(ch().Call(MknodRequest{b, name, S_IFIFO | 0600, 0, 0}).error(), Errno(EINVAL));
    EXPECT_EQ(ch().Call(SymlinkRequest{b, name, "x", 0, 0}).error(), Errno(EINVAL));
    EXPECT_EQ(ch().Call(LinkRequest{b, name, c}).error(), Errno(EINVAL));
    EXPECT_EQ(ch().Call(UnlinkRequest{b, name, 0}).error(), Errno(EINVAL));
    EXPECT_EQ(ch().Call(RenameRequest{b, "c", b, name, 0}).error(), Errno(EINVAL));
    EXPECT_EQ(ch().Call(RenameRequest{b, name, b, "x", 0}).error(), Errno(EINVAL));
  }
  EXPECT_EQ(Walk(ch(), root_, {std::string(256, 'n')}).error(), Errno(ENAMETOOLONG));
  auto longest = Walk(ch(), root_, {std::string(255, 'n')});
  ASSERT_TRUE(longest.has_value());
  EXPECT_EQ(longest->status, kWalkMissing);
  // Nothing was made or removed by any of it.
  EXPECT_EQ(ReadHostFile(served_ + "/a/b/c"), "hello\n");
  EXPECT_EQ(ReadHostFile(outside_ + "/secret"), "secret\n");
}

TEST_P(GoferEscapeTest, SymlinksAreReturnedNotFollowed) {
  const std::vector<std::pair<std::string, std::string>> links = {
      {"link_root", "/"},
      {"link_up", "../../"},
      {"link_out", outside_ + "/secret"},
      {"chain1", "chain2"},
      {"chain2", "../outside"}};
  for (const auto& [name, target] : links) {
    SCOPED_TRACE(name);
    auto w = Walk(ch(), root_, {name});
    ASSERT_TRUE(w.has_value());
    ASSERT_EQ(w->status, kWalkComplete);
    EXPECT_TRUE(S_ISLNK(w->entries[0].stat.mode));
    Fid link = w->entries[0].fid;
    auto r = ch().Call(ReadlinkRequest{link});
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->target, target);
    // Walking on through the link stops at it: the client resolves the target itself.
    for (const char* next : {"etc", "secret", "outside", "a"}) {
      auto through = Walk(ch(), root_, {name, next});
      ASSERT_TRUE(through.has_value());
      EXPECT_EQ(through->status, kWalkSymlink);
      EXPECT_EQ(through->entries.size(), 1u);
    }
    EXPECT_EQ(Walk(ch(), link, {"secret"}).error(), Errno(ENOTDIR));
    EXPECT_EQ(ch().Call(OpenRequest{link, O_RDONLY}).error(), Errno(ELOOP));
    EXPECT_EQ(ch().Call(OpenRequest{link, O_RDONLY | O_DIRECTORY}).error(), Errno(ELOOP));
    EXPECT_EQ(ch().Call(GetdentsRequest{link, 0, 10}).error(), Errno(ENOTDIR));
    EXPECT_EQ(ch().Call(MkdirRequest{link, "x", 0700, 0, 0}).error(), Errno(ENOTDIR));
    EXPECT_EQ(ch().Call(CreateRequest{link, "x", O_RDWR, 0600, 0, 0}).error(), Errno(ENOTDIR));
    // Changing a link never changes its target.
    EXPECT_FALSE(ch().Call(SetStatRequest{link, kSetMode, 0777, 0, 0, 0, {}, {}}).has_value());
    EXPECT_EQ(ch().Call(SetStatRequest{link, kSetSize, 0, 0, 0, 0, {}, {}}).error(), Errno(EINVAL));
    // Making a name where a link is does not go through it either.
    EXPECT_EQ(ch().Call(CreateRequest{root_, name, O_RDWR, 0600, 0, 0}).error(), Errno(EEXIST));
    EXPECT_EQ(ch().Call(MkdirRequest{root_, name, 0700, 0, 0}).error(), Errno(EEXIST));
  }
  struct stat st;
  ASSERT_EQ(::stat((outside_ + "/secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_EQ(st.st_size, 7);
  ASSERT_TRUE(ch().Call(UnlinkRequest{root_, "link_out", 0}).has_value());
  EXPECT_EQ(ReadHostFile(outside_ + "/secret"), "secret\n");
}

// Explores everything a client can reach, the way a client would: reading directories, walking
// names, and resolving every symlink's target itself from the root (absolute) or the link's
// directory (relative), with ".." refused by the gofer. Nothing outside may show up.
TEST_P(GoferEscapeTest, EverythingReachableIsInside) {
  std::set<std::pair<uint64_t, uint64_t>> forbidden = {
      HostId(outside_), HostId(outside_ + "/secret"), HostId(tmp_.path()), HostId("/")};
  std::set<std::pair<uint64_t, uint64_t>> seen;
  std::deque<Fid> dirs = {root_};
  int steps = 0;
  auto visit = [&](const Stat& st) {
    EXPECT_FALSE(forbidden.contains({st.dev, st.ino})) << "reached inode " << st.ino;
    return seen.insert({st.dev, st.ino}).second;
  };
  while (!dirs.empty() && ++steps < 1000) {
    Fid dir = dirs.front();
    dirs.pop_front();
    auto dents = ch().Call(GetdentsRequest{dir, 0, kMaxGetdentsCount});
    ASSERT_TRUE(dents.has_value());
    for (const auto& e : dents->entries) {
      auto w = Walk(ch(), dir, {e.name});
      ASSERT_TRUE(w.has_value());
      ASSERT_EQ(w->entries.size(), 1u);
      const auto& [fid, st] = w->entries[0];
      if (!visit(st)) continue;
      if (S_ISDIR(st.mode)) dirs.push_back(fid);
      if (!S_ISLNK(st.mode)) continue;
      auto target = ch().Call(ReadlinkRequest{fid});
      ASSERT_TRUE(target.has_value());
      std::vector<std::string> names;
      for (size_t pos = 0; pos <= target->target.size();) {
        size_t slash = target->target.find('/', pos);
        if (slash == std::string::npos) slash = target->target.size();
        if (slash > pos) names.push_back(target->target.substr(pos, slash - pos));
        pos = slash + 1;
      }
      Fid from = target->target.starts_with("/") ? root_ : dir;
      auto resolved = Walk(ch(), from, names, kWalkFidEach);
      if (!resolved) {
        EXPECT_EQ(resolved.error(), Errno(EINVAL)) << "only \"..\" may refuse";
        continue;
      }
      for (const auto& r : resolved->entries) {
        if (visit(r.stat) && S_ISDIR(r.stat.mode)) dirs.push_back(r.fid);
      }
    }
  }
  EXPECT_TRUE(seen.contains(HostId(served_ + "/a/b/c")));
  EXPECT_TRUE(seen.contains(HostId(served_ + "/chain2")));
}

// Files swapped on the host after the gofer walked to them: a fid never re-opens a symlink, and
// a name that now names another file is ESTALE, not that file.
TEST_P(GoferEscapeTest, HostSwapsCannotRedirectAFid) {
  Fid c = MustWalk({"a", "b", "c"});
  ASSERT_EQ(::rename((served_ + "/a/b/c").c_str(), (served_ + "/a/b/c.old").c_str()), 0);
  ASSERT_EQ(::symlink((outside_ + "/secret").c_str(), (served_ + "/a/b/c").c_str()), 0);
  auto opened = ch().Call(OpenRequest{c, O_RDONLY});
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error(), Errno(ELOOP));
  EXPECT_EQ(ch().Call(SetStatRequest{c, kSetSize, 0, 0, 0, 0, {}, {}}).error(), Errno(ELOOP));
  EXPECT_EQ(ReadHostFile(outside_ + "/secret"), "secret\n");

  ASSERT_EQ(::unlink((served_ + "/a/b/c").c_str()), 0);
  WriteHostFile(served_ + "/a/b/c", "impostor\n");
  EXPECT_EQ(ch().Call(OpenRequest{c, O_RDONLY}).error(), Errno(ESTALE));

  // A directory replaced by a symlink: walks stop at it.
  Fid a = MustWalk({"a"});
  ASSERT_EQ(::rename((served_ + "/a/b").c_str(), (served_ + "/a/b.old").c_str()), 0);
  ASSERT_EQ(::symlink(outside_.c_str(), (served_ + "/a/b").c_str()), 0);
  auto w = Walk(ch(), a, {"b", "secret"});
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->status, kWalkSymlink);
}

TEST_P(GoferEscapeTest, DeviceNodesAreNeitherMadeNorOpened) {
  for (uint32_t type : {S_IFCHR, S_IFBLK}) {
    EXPECT_EQ(ch().Call(MknodRequest{root_, "dev", type | 0666, 0, 0}).error(), Errno(EPERM));
  }
  EXPECT_EQ(::access((served_ + "/dev").c_str(), F_OK), -1);
  if (::geteuid() != 0) GTEST_SKIP() << "making a host device node needs root";
  Fid null = MustWalk({"null"});
  for (uint32_t flags : {O_RDONLY, O_WRONLY, O_RDWR}) {
    EXPECT_EQ(ch().Call(OpenRequest{null, flags}).error(), Errno(EPERM));
  }
}

INSTANTIATE_TEST_SUITE_P(Confinement, GoferEscapeTest, ::testing::Values(true, false),
                         ConfinementName);

// The filter kills on what the gofer never needs: sockets, exec, an openat that would follow.
TEST(GoferSeccompTest, FilterKillsOutsideTheAllowList) {
  auto run = [](auto&& body) {
    pid_t pid = ::fork();
    if (pid == 0) {
      if (!InstallSeccompFilter()) ::_exit(100);
      body();
      ::syscall(SYS_exit_group, 0);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return status;
  };
  auto killed = [](int status) { return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS; };
  EXPECT_TRUE(killed(run([] { ::syscall(SYS_socket, AF_INET, SOCK_STREAM, 0); })));
  EXPECT_TRUE(killed(run([] {
    const char* argv[] = {"/bin/true", nullptr};
    ::syscall(SYS_execve, "/bin/true", argv, nullptr);
  })));
  EXPECT_TRUE(killed(run([] { ::syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY); })));
  EXPECT_TRUE(killed(run([] { ::syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, nullptr); })));
  EXPECT_TRUE(
      killed(run([] { ::syscall(SYS_mmap, 0, 4096, PROT_READ | PROT_EXEC, 0x22, -1, 0); })));
  // What serving needs stays allowed.
  int status = run([] {
    ::syscall(SYS_openat, AT_FDCWD, "/", O_PATH | O_NOFOLLOW);
    ::syscall(SYS_getpid);
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status;
}

// Start-up failures and a broken socket end RunGofer with a status, logged under the filter
// (not killed by it).
TEST(GoferSeccompTest, FailuresExitCleanly) {
  auto run = [](GoferConfig config) {
    pid_t pid = ::fork();
    if (pid == 0) ::syscall(SYS_exit_group, RunGofer(config));
    int status = 0;
    ::waitpid(pid, &status, 0);
    return status;
  };
  TempDir tmp;
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  FileDescriptor read_end(p[0]), write_end(p[1]);
  for (bool pivot : {true, false}) {
    GoferConfig config;
    config.root = tmp.path();
    config.pivot = pivot;
    config.socket_fd = ::dup(read_end.get());  // not a socket: recvmsg fails after the filter
    int status = run(config);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << "wait status " << status;

    config.root = tmp / "missing";
    config.socket_fd = ::dup(read_end.get());
    status = run(config);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << "wait status " << status;
  }
}

}  // namespace
}  // namespace gofer::testing
