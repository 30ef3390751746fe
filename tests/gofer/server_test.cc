// The gofer server, run in a child process with its seccomp filter on: every request's happy path
// and its errors, read-only trees, extra attach points, malformed messages.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>

#include "tests/gofer/server_fixture.h"

extern char** environ;

namespace gofer::testing {
namespace {

TEST_P(GoferServerTest, AttachPoints) {
  EXPECT_EQ(ch().Call(AttachRequest{1}).error(), Errno(ENOENT));
  auto again = ch().Call(AttachRequest{0});
  ASSERT_TRUE(again.has_value());
  EXPECT_NE(again->fid, root_);
  struct stat st;
  ASSERT_EQ(::stat(served_.c_str(), &st), 0);
  EXPECT_EQ(again->stat.ino, st.st_ino);
}

TEST_P(GoferServerTest, WalkResolvesAPathInOneRoundTrip) {
  auto r = Walk(ch(), root_, {"a", "b", "c"});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, kWalkComplete);
  ASSERT_EQ(r->entries.size(), 3u);
  EXPECT_TRUE(S_ISDIR(r->entries[0].stat.mode));
  EXPECT_TRUE(S_ISDIR(r->entries[1].stat.mode));
  EXPECT_TRUE(S_ISREG(r->entries[2].stat.mode));
  EXPECT_EQ(r->entries[2].stat.size, 6);
  // By default only the last component gets a fid.
  EXPECT_EQ(r->entries[0].fid, kNoFid);
  EXPECT_EQ(r->entries[1].fid, kNoFid);
  ASSERT_NE(r->entries[2].fid, kNoFid);
  auto st = ch().Call(StatRequest{r->entries[2].fid});
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->stat, r->entries[2].stat);

  auto each = Walk(ch(), root_, {"a", "b", "c"}, kWalkFidEach);
  ASSERT_TRUE(each.has_value());
  std::set<Fid> fids;
  for (const auto& e : each->entries) fids.insert(e.fid);
  EXPECT_EQ(fids.size(), 3u);
  EXPECT_FALSE(fids.contains(kNoFid));

  auto none = Walk(ch(), root_, {"a", "b", "c"}, kWalkNoFid);
  ASSERT_TRUE(none.has_value());
  ASSERT_EQ(none->entries.size(), 3u);
  for (const auto& e : none->entries) EXPECT_EQ(e.fid, kNoFid);

  EXPECT_EQ(Walk(ch(), root_, {"a"}, kWalkNoFid | kWalkFidEach).error(), Errno(EINVAL));
  EXPECT_EQ(Walk(ch(), root_, {"a"}, 4).error(), Errno(EINVAL));
  EXPECT_EQ(Walk(ch(), root_, std::vector<std::string>(kMaxWalkNames + 1, "a")).error(),
            Errno(EINVAL));
}

TEST_P(GoferServerTest, WalkStopsAndSaysWhere) {
  auto missing = Walk(ch(), root_, {"a", "nope", "c"});
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->status, kWalkMissing);
  ASSERT_EQ(missing->entries.size(), 1u);
  EXPECT_NE(missing->entries[0].fid, kNoFid);  // the deepest existing directory, for a Create

  auto first = Walk(ch(), root_, {"nope"});
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status, kWalkMissing);
  EXPECT_TRUE(first->entries.empty());

  auto notdir = Walk(ch(), root_, {"a", "b", "c", "x"});
  ASSERT_TRUE(notdir.has_value());
  EXPECT_EQ(notdir->status, kWalkNotDir);
  EXPECT_EQ(notdir->entries.size(), 3u);

  Fid c = MustWalk({"a", "b", "c"});
  EXPECT_EQ(Walk(ch(), c, {"x"}).error(), Errno(ENOTDIR));
}

TEST_P(GoferServerTest, WalkWithoutNamesClones) {
  auto clone = Walk(ch(), root_, {});
  ASSERT_TRUE(clone.has_value());
  ASSERT_EQ(clone->entries.size(), 1u);
  Fid fid = clone->entries[0].fid;
  EXPECT_NE(fid, root_);
  ASSERT_TRUE(ch().Call(CloseRequest{{root_}}).has_value());
  EXPECT_TRUE(Walk(ch(), fid, {"a"}).has_value());
}

// Directories are shared between walks, and only files keep their parent: fids cost the gofer
// one fd each, not one per path component.
TEST_P(GoferServerTest, WalksShareDirectoryFds) {
  auto count_fds = [&] {
    std::error_code ec;
    auto it =
        std::filesystem::directory_iterator("/proc/" + std::to_string(gofer_->pid()) + "/fd", ec);
    return static_cast<int>(std::distance(it, std::filesystem::directory_iterator()));
  };
  int before = count_fds();
  ASSERT_GT(before, 0);
  for (int i = 0; i < 100; ++i) MustWalk({"a", "b", "d"});
  EXPECT_LE(count_fds() - before, 3);
  for (int i = 0; i < 100; ++i) MustWalk({"a", "b", "c"});
  EXPECT_LE(count_fds() - before, 103);
}

TEST_P(GoferServerTest, OpenDonatesAHostFd) {
  Fid c = MustWalk({"a", "b", "c"});
  auto opened = ch().Call(OpenRequest{c, O_RDONLY});
  ASSERT_TRUE(opened.has_value()) << opened.error().value;
  EXPECT_EQ(ReadFile(opened->fd.get()), "hello\n");
  EXPECT_EQ(::fcntl(opened->fd.get(), F_GETFL) & O_ACCMODE, O_RDONLY);

  auto rw = ch().Call(OpenRequest{c, O_RDWR | O_APPEND});
  ASSERT_TRUE(rw.has_value());
  ASSERT_EQ(::write(rw->fd.get(), "more\n", 5), 5);
  EXPECT_EQ(ReadHostFile(served_ + "/a/b/c"), "hello\nmore\n");
  auto trunc = ch().Call(OpenRequest{c, O_WRONLY | O_TRUNC});
  ASSERT_TRUE(trunc.has_value());
  EXPECT_EQ(ReadHostFile(served_ + "/a/b/c"), "");

  Fid dir = MustWalk({"a"});
  auto d = ch().Call(OpenRequest{dir, O_RDONLY | O_DIRECTORY});
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(ch().Call(OpenRequest{dir, O_WRONLY}).error(), Errno(EISDIR));
  EXPECT_EQ(ch().Call(OpenRequest{c, O_RDONLY | O_DIRECTORY}).error(), Errno(ENOTDIR));

  // Only Create creates; O_PATH and unknown flags are refused.
  for (int bad : {O_CREAT, O_EXCL, O_TMPFILE, O_PATH, O_ACCMODE, 0x40000000}) {
    EXPECT_EQ(ch().Call(OpenRequest{c, static_cast<uint32_t>(bad)}).error(), Errno(EINVAL)) << bad;
  }
  EXPECT_EQ(ch().Call(OpenRequest{12345, O_RDONLY}).error(), Errno(EBADF));
}

TEST_P(GoferServerTest, OpenOfSpecialFiles) {
  // A FIFO opens without waiting for a writer (the gofer must never block).
  Fid fifo = MustWalk({"fifo"});
  auto f = ch().Call(OpenRequest{fifo, O_RDONLY});
  ASSERT_TRUE(f.has_value());
  EXPECT_NE(::fcntl(f->fd.get(), F_GETFL) & O_NONBLOCK, 0);
  // A symlink is never opened through.
  EXPECT_EQ(ch().Call(OpenRequest{MustWalk({"link_out"}), O_RDONLY}).error(), Errno(ELOOP));
  if (::geteuid() == 0) {
    EXPECT_EQ(ch().Call(OpenRequest{MustWalk({"null"}), O_RDWR}).error(), Errno(EPERM));
  }
}

TEST_P(GoferServerTest, Create) {
  Fid b = MustWalk({"a", "b"});
  uid_t me = ::geteuid();
  gid_t my_group = ::getegid();
  uid_t uid = me == 0 ? 1234 : me;
  gid_t gid = me == 0 ? 5678 : my_group;
  if (me != 0) {
    // Unprivileged, the gofer cannot give the file away: nothing is left behind.
    EXPECT_EQ(ch().Call(CreateRequest{b, "new", O_RDWR, 0640, 1234, 5678}).error(), Errno(EPERM));
    EXPECT_EQ(::access((served_ + "/a/b/new").c_str(), F_OK), -1);
  }
  auto made = ch().Call(CreateRequest{b, "new", O_RDWR, 0640, uid, gid});
  ASSERT_TRUE(made.has_value()) << made.error().value;
  EXPECT_TRUE(S_ISREG(made->stat.mode));
  EXPECT_EQ(made->stat.mode & 07777, 0640u);
  EXPECT_EQ(made->stat.uid, uid);
  EXPECT_EQ(made->stat.gid, gid);
  ASSERT_EQ(::write(made->fd.get(), "x", 1), 1);
  EXPECT_EQ(ReadHostFile(served_ + "/a/b/new"), "x");
  auto st = ch().Call(StatRequest{made->fid});
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->stat.size, 1);

  EXPECT_EQ(ch().Call(CreateRequest{b, "new", O_RDWR, 0640, me, my_group}).error(), Errno(EEXIST));
  EXPECT_EQ(ch().Call(CreateRequest{b, "x", O_RDWR | O_DIRECTORY, 0640, me, my_group}).error(),
            Errno(EINVAL));
  EXPECT_EQ(ch().Call(CreateRequest{b, "x", O_RDWR, S_IFDIR | 0640, me, my_group}).error(),
            Errno(EINVAL));
  EXPECT_EQ(
      ch().Call(CreateRequest{MustWalk({"a", "b", "c"}), "x", O_RDWR, 0600, me, my_group}).error(),
      Errno(ENOTDIR));
  // Creating over a dangling symlink must not create its target.
  EXPECT_EQ(ch().Call(CreateRequest{root_, "link_out", O_RDWR, 0600, me, my_group}).error(),
            Errno(EEXIST));
}

TEST_P(GoferServerTest, MkdirMknodSymlinkLink) {
  Fid b = MustWalk({"a", "b"});
  uid_t me = ::geteuid();
  gid_t my_group = ::getegid();
  auto dir = ch().Call(MkdirRequest{b, "sub", 0750, me, my_group});
  ASSERT_TRUE(dir.has_value());
  EXPECT_TRUE(S_ISDIR(dir->stat.mode));
  EXPECT_EQ(dir->stat.mode & 07777, 0750u);
  EXPECT_TRUE(Walk(ch(), dir->fid, {}).has_value());
  EXPECT_EQ(ch().Call(MkdirRequest{b, "sub", 0750, me, my_group}).error(), Errno(EEXIST));

  auto fifo = ch().Call(MknodRequest{b, "p", S_IFIFO | 0600, me, my_group});
  ASSERT_TRUE(fifo.has_value());
  EXPECT_TRUE(S_ISFIFO(fifo->stat.mode));
  auto sock = ch().Call(MknodRequest{b, "s", S_IFSOCK | 0600, me, my_group});
  ASSERT_TRUE(sock.has_value());
  EXPECT_TRUE(S_ISSOCK(sock->stat.mode));
  auto reg = ch().Call(MknodRequest{b, "r", 0600, me, my_group});
  ASSERT_TRUE(reg.has_value());
  EXPECT_TRUE(S_ISREG(reg->stat.mode));
  EXPECT_EQ(ch().Call(MknodRequest{b, "c", S_IFCHR | 0600, me, my_group}).error(), Errno(EPERM));
  EXPECT_EQ(ch().Call(MknodRequest{b, "k", S_IFBLK | 0600, me, my_group}).error(), Errno(EPERM));
  EXPECT_EQ(ch().Call(MknodRequest{b, "d", S_IFDIR | 0600, me, my_group}).error(), Errno(EINVAL));

  auto link = ch().Call(SymlinkRequest{b, "sl", "../../../../etc/passwd", me, my_group});
  ASSERT_TRUE(link.has_value());
  EXPECT_TRUE(S_ISLNK(link->stat.mode));
  auto target = ch().Call(ReadlinkRequest{link->fid});
  ASSERT_TRUE(target.has_value());
  EXPECT_EQ(target->target, "../../../../etc/passwd");
  EXPECT_EQ(ch().Call(ReadlinkRequest{b}).error(), Errno(EINVAL));
  EXPECT_EQ(ch().Call(SymlinkRequest{b, "e", "", me, my_group}).error(), Errno(ENOENT));
  EXPECT_EQ(ch().Call(SymlinkRequest{b, "e", std::string("a\0b", 3), me, my_group}).error(),
            Errno(EINVAL));
  EXPECT_EQ(ch().Call(SymlinkRequest{b, "e", std::string(5000, 'x'), me, my_group}).error(),
            Errno(ENAMETOOLONG));

  Fid c = MustWalk({"a", "b", "c"});
  auto hard = ch().Call(LinkRequest{root_, "c2", c});
  ASSERT_TRUE(hard.has_value()) << hard.error().value;
  EXPECT_EQ(hard->stat.nlink, 2u);
  EXPECT_EQ(ReadHostFile(served_ + "/c2"), "hello\n");
  EXPECT_EQ(ch().Call(LinkRequest{root_, "c2", c}).error(), Errno(EEXIST));
  EXPECT_EQ(ch().Call(LinkRequest{root_, "b2", b}).error(), Errno(EPERM));
}

TEST_P(GoferServerTest, Unlink) {
  Fid b = MustWalk({"a", "b"});
  EXPECT_EQ(ch().Call(UnlinkRequest{b, "d", 0}).error(), Errno(EISDIR));
  EXPECT_EQ(ch().Call(UnlinkRequest{b, "c", AT_REMOVEDIR}).error(), Errno(ENOTDIR));
  EXPECT_EQ(ch().Call(UnlinkRequest{b, "c", 0x1}).error(), Errno(EINVAL));
  ASSERT_TRUE(ch().Call(UnlinkRequest{b, "c", 0}).has_value());
  ASSERT_TRUE(ch().Call(UnlinkRequest{b, "d", AT_REMOVEDIR}).has_value());
  EXPECT_EQ(ch().Call(UnlinkRequest{b, "c", 0}).error(), Errno(ENOENT));
  EXPECT_EQ(::access((served_ + "/a/b/c").c_str(), F_OK), -1);
  EXPECT_EQ(ch().Call(UnlinkRequest{root_, "a", AT_REMOVEDIR}).error(), Errno(ENOTEMPTY));
}

// A walk without fids is how the sentry revalidates its cache of a volume: each one reports
// the host's tree as it is now, not as an earlier walk found it.
TEST_P(GoferServerTest, WalkWithoutFidsSeesTheHostsChanges) {
  auto walk = [&](std::vector<std::string> names) {
    auto r = Walk(ch(), root_, std::move(names), kWalkNoFid);
    EXPECT_TRUE(r.has_value());
    return r.value_or(WalkResponse{});
  };
  WalkResponse before = walk({"a", "b", "c"});
  ASSERT_EQ(before.status, kWalkComplete);
  ASSERT_EQ(before.entries.size(), 3u);
  WriteHostFile(served_ + "/a/b/c", "hello, and more\n");
  ASSERT_EQ(::chmod((served_ + "/a/b/c").c_str(), 0600), 0);
  WalkResponse appended = walk({"a", "b", "c"});
  ASSERT_EQ(appended.entries.size(), 3u);
  EXPECT_EQ(appended.entries[2].stat.ino, before.entries[2].stat.ino);
  EXPECT_EQ(appended.entries[2].stat.size, 16);
  EXPECT_EQ(appended.entries[2].stat.mode, S_IFREG | 0600u);

  ASSERT_EQ(::unlink((served_ + "/a/b/c").c_str()), 0);
  WalkResponse gone = walk({"a", "b", "c"});
  EXPECT_EQ(gone.status, kWalkMissing);
  EXPECT_EQ(gone.entries.size(), 2u);
  ASSERT_EQ(::mkdir((served_ + "/a/b/c").c_str(), 0700), 0);
  WalkResponse remade = walk({"a", "b", "c", "x"});
  EXPECT_EQ(remade.status, kWalkMissing);
  ASSERT_EQ(remade.entries.size(), 3u);
  EXPECT_TRUE(S_ISDIR(remade.entries[2].stat.mode));
}

// A directory removed and made again on the host is a new directory even when the host gives it
// the old inode number, although a fid still holds the removed one.
TEST_P(GoferServerTest, ARemadeDirectoryIsNotTheRemovedOne) {
  Fid old_d = MustWalk({"a", "b", "d"});
  ASSERT_NE(old_d, kNoFid);
  ASSERT_EQ(::rmdir((served_ + "/a/b/d").c_str()), 0);
  ASSERT_EQ(::mkdir((served_ + "/a/b/d").c_str(), 0755), 0);
  WriteHostFile(served_ + "/a/b/d/x", "x\n");
  auto r = Walk(ch(), root_, {"a", "b", "d", "x"}, kWalkNoFid);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, kWalkComplete);
  EXPECT_EQ(r->entries.size(), 4u);
  // The old fid still names the removed directory, empty as Linux keeps it.
  EXPECT_EQ(Walk(ch(), old_d, {"x"}, kWalkNoFid)->status, kWalkMissing);
}

TEST_P(GoferServerTest, RenameKeepsFidsUsable) {
  Fid b = MustWalk({"a", "b"});
  Fid c = MustWalk({"a", "b", "c"});
  ASSERT_TRUE(ch().Call(RenameRequest{b, "c", root_, "moved", 0}).has_value());
  EXPECT_EQ(ReadHostFile(served_ + "/moved"), "hello\n");
  // The fid re-opens by its new name.
  auto opened = ch().Call(OpenRequest{c, O_RDONLY});
  ASSERT_TRUE(opened.has_value()) << opened.error().value;
  EXPECT_EQ(ReadFile(opened->fd.get()), "hello\n");

  WriteHostFile(served_ + "/other", "other\n");
  EXPECT_EQ(ch().Call(RenameRequest{root_, "moved", root_, "other", RENAME_NOREPLACE}).error(),
            Errno(EEXIST));
  ASSERT_TRUE(ch().Call(RenameRequest{root_, "moved", root_, "other", RENAME_EXCHANGE}));
  EXPECT_EQ(ReadHostFile(served_ + "/other"), "hello\n");
  EXPECT_EQ(ReadHostFile(served_ + "/moved"), "other\n");
  opened = ch().Call(OpenRequest{c, O_RDONLY});
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(ReadFile(opened->fd.get()), "hello\n");

  EXPECT_EQ(ch().Call(RenameRequest{root_, "moved", root_, "x", RENAME_WHITEOUT}).error(),
            Errno(EINVAL));
  EXPECT_EQ(ch().Call(RenameRequest{root_, "nope", root_, "x", 0}).error(), Errno(ENOENT));
  // Replaced by a rename: the old fid's name now names another file.
  Fid other = MustWalk({"moved"});
  ASSERT_TRUE(ch().Call(RenameRequest{root_, "other", root_, "moved", 0}));
  EXPECT_EQ(ch().Call(OpenRequest{other, O_RDONLY}).error(), Errno(ESTALE));
}

TEST_P(GoferServerTest, SetStat) {
  Fid c = MustWalk({"a", "b", "c"});
  SetStatRequest req{c, kSetMode | kSetSize, 0604, 0, 0, 3, {}, {}};
  auto r = ch().Call(req);
  ASSERT_TRUE(r.has_value()) << r.error().value;
  EXPECT_EQ(r->stat.mode & 07777, 0604u);
  EXPECT_EQ(r->stat.size, 3);
  EXPECT_EQ(ReadHostFile(served_ + "/a/b/c"), "hel");

  req = {c, kSetAtime | kSetMtime, 0, 0, 0, 0, {1000, 5}, {2000, 7}};
  r = ch().Call(req);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->stat.atime, (Timespec{1000, 5}));
  EXPECT_EQ(r->stat.mtime, (Timespec{2000, 7}));
  req = {c, kSetAtime | kSetMtime, 0, 0, 0, 0, {0, UTIME_NOW}, {0, UTIME_OMIT}};
  r = ch().Call(req);
  ASSERT_TRUE(r.has_value());
  EXPECT_GT(r->stat.atime.sec, 2000);
  EXPECT_EQ(r->stat.mtime, (Timespec{2000, 7}));

  if (::geteuid() == 0) {
    req = {c, kSetUid | kSetGid, 0, 4321, 8765, 0, {}, {}};
    r = ch().Call(req);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->stat.uid, 4321u);
    EXPECT_EQ(r->stat.gid, 8765u);
    // A symlink's own owner changes; its target's does not.
    Fid link = MustWalk({"link_out"});
    req = {link, kSetUid, 0, 99, 0, 0, {}, {}};
    r = ch().Call(req);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->stat.uid, 99u);
    struct stat st;
    ASSERT_EQ(::stat((outside_ + "/secret").c_str(), &st), 0);
    EXPECT_NE(st.st_uid, 99u);
  }

  Fid dir = MustWalk({"a"});
  req = {dir, kSetMode, 0700, 0, 0, 0, {}, {}};
  r = ch().Call(req);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->stat.mode & 07777, 0700u);
  req = {dir, kSetSize, 0, 0, 0, 0, {}, {}};
  EXPECT_EQ(ch().Call(req).error(), Errno(EISDIR));
  req = {MustWalk({"fifo"}), kSetSize, 0, 0, 0, 0, {}, {}};
  EXPECT_EQ(ch().Call(req).error(), Errno(EINVAL));
  req = {c, 64, 0, 0, 0, 0, {}, {}};
  EXPECT_EQ(ch().Call(req).error(), Errno(EINVAL));
  req = {c, kSetMtime, 0, 0, 0, 0, {}, {0, 2000000000}};
  EXPECT_EQ(ch().Call(req).error(), Errno(EINVAL));
}

TEST_P(GoferServerTest, StatFs) {
  auto r = ch().Call(StatFsRequest{root_});
  ASSERT_TRUE(r.has_value());
  struct statfs st;
  ASSERT_EQ(::statfs(served_.c_str(), &st), 0);
  EXPECT_EQ(r->statfs.type, static_cast<uint64_t>(st.f_type));
  EXPECT_EQ(r->statfs.bsize, static_cast<uint64_t>(st.f_bsize));
  EXPECT_EQ(r->statfs.namelen, static_cast<uint64_t>(st.f_namelen));
}

TEST_P(GoferServerTest, GetdentsPagesThroughADirectory) {
  ASSERT_EQ(::mkdir((served_ + "/many").c_str(), 0755), 0);
  std::set<std::string> expected;
  for (int i = 0; i < 500; ++i) {
    std::string name = "file_" + std::to_string(i) + std::string(100, 'x');
    WriteHostFile(served_ + "/many/" + name, "");
    expected.insert(name);
  }
  Fid many = MustWalk({"many"});
  std::set<std::string> seen;
  uint64_t offset = 0;
  int calls = 0;
  for (;;) {
    auto r = ch().Call(GetdentsRequest{many, offset, 64});
    ASSERT_TRUE(r.has_value()) << r.error().value;
    if (r->entries.empty()) break;
    EXPECT_LE(r->entries.size(), 64u);
    for (const auto& e : r->entries) {
      EXPECT_TRUE(seen.insert(e.name).second) << "twice: " << e.name;
      EXPECT_EQ(e.type, DT_REG);
      EXPECT_NE(e.ino, 0u);
    }
    offset = r->entries.back().offset;
    ASSERT_LT(++calls, 100);
  }
  EXPECT_EQ(seen, expected);

  // From the start again, a large count: as many as fit in one message.
  auto big = ch().Call(GetdentsRequest{many, 0, kMaxGetdentsCount});
  ASSERT_TRUE(big.has_value());
  EXPECT_GT(big->entries.size(), 64u);

  auto root = ch().Call(GetdentsRequest{root_, 0, 100});
  ASSERT_TRUE(root.has_value());
  std::set<std::string> names;
  for (const auto& e : root->entries) names.insert(e.name);
  EXPECT_FALSE(names.contains("."));
  EXPECT_FALSE(names.contains(".."));
  EXPECT_TRUE(names.contains("a"));
  EXPECT_TRUE(names.contains("link_root"));

  EXPECT_EQ(ch().Call(GetdentsRequest{many, 0, 0}).error(), Errno(EINVAL));
  EXPECT_EQ(ch().Call(GetdentsRequest{many, 0, kMaxGetdentsCount + 1}).error(), Errno(EINVAL));
  EXPECT_EQ(ch().Call(GetdentsRequest{MustWalk({"a", "b", "c"}), 0, 10}).error(), Errno(ENOTDIR));
}

TEST_P(GoferServerTest, FsyncAndClose) {
  Fid c = MustWalk({"a", "b", "c"});
  EXPECT_TRUE(ch().Call(FsyncRequest{c, 0}).has_value());
  EXPECT_TRUE(ch().Call(FsyncRequest{c, kFsyncDataOnly}).has_value());
  EXPECT_TRUE(ch().Call(FsyncRequest{root_, 0}).has_value());
  EXPECT_EQ(ch().Call(FsyncRequest{c, 2}).error(), Errno(EINVAL));
  EXPECT_EQ(ch().Call(FsyncRequest{MustWalk({"fifo"}), 0}).error(), Errno(EINVAL));

  Fid d = MustWalk({"a"});
  ASSERT_TRUE(ch().Call(CloseRequest{{c, d}}).has_value());
  EXPECT_EQ(ch().Call(StatRequest{c}).error(), Errno(EBADF));
  EXPECT_EQ(ch().Call(CloseRequest{{c}}).error(), Errno(EBADF));
  EXPECT_TRUE(ch().Call(StatRequest{root_}).has_value());
}

TEST_P(GoferServerTest, ReadOnlyRefusesEveryChange) {
  Stop();
  Start(/*read_only=*/true);
  Fid b = MustWalk({"a", "b"});
  Fid c = MustWalk({"a", "b", "c"});
  EXPECT_EQ(ch().Call(CreateRequest{b, "n", O_RDWR, 0600, 0, 0}).error(), Errno(EROFS));
  EXPECT_EQ(ch().Call(MkdirRequest{b, "n", 0700, 0, 0}).error(), Errno(EROFS));
  EXPECT_EQ(ch().Call(MknodRequest{b, "n", S_IFIFO | 0600, 0, 0}).error(), Errno(EROFS));
  EXPECT_EQ(ch().Call(MknodRequest{b, "n", S_IFCHR | 0600, 0, 0}).error(), Errno(EROFS));
  EXPECT_EQ(ch().Call(SymlinkRequest{b, "n", "t", 0, 0}).error(), Errno(EROFS));
  EXPECT_EQ(ch().Call(LinkRequest{b, "n", c}).error(), Errno(EROFS));
  EXPECT_EQ(ch().Call(UnlinkRequest{b, "c", 0}).error(), Errno(EROFS));
  EXPECT_EQ(ch().Call(RenameRequest{b, "c", b, "n", 0}).error(), Errno(EROFS));
  EXPECT_EQ(ch().Call(SetStatRequest{c, kSetMode, 0777, 0, 0, 0, {}, {}}).error(), Errno(EROFS));
  EXPECT_EQ(ch().Call(SetStatRequest{c, kSetSize, 0, 0, 0, 0, {}, {}}).error(), Errno(EROFS));
  for (uint32_t flags : {O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC}) {
    EXPECT_EQ(ch().Call(OpenRequest{c, flags}).error(), Errno(EROFS)) << flags;
  }
  auto r = ch().Call(OpenRequest{c, O_RDONLY});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(ReadFile(r->fd.get()), "hello\n");
  EXPECT_TRUE(ch().Call(GetdentsRequest{b, 0, 10}).has_value());
  EXPECT_TRUE(ch().Call(FsyncRequest{c, 0}).has_value());
  EXPECT_EQ(ReadHostFile(served_ + "/a/b/c"), "hello\n");
}

TEST_P(GoferServerTest, ExtraAttachPoints) {
  Stop();
  WriteHostFile(outside_ + "/rw_file", "rw\n");
  Start(false, {{outside_, true}, {outside_ + "/rw_file", false}});
  auto dir = ch().Call(AttachRequest{1});
  ASSERT_TRUE(dir.has_value());
  Fid secret = MustWalk({"secret"}, dir->fid);
  auto opened = ch().Call(OpenRequest{secret, O_RDONLY});
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(ReadFile(opened->fd.get()), "secret\n");
  EXPECT_EQ(ch().Call(OpenRequest{secret, O_RDWR}).error(), Errno(EROFS));
  EXPECT_EQ(ch().Call(CreateRequest{dir->fid, "n", O_RDWR, 0600, 0, 0}).error(), Errno(EROFS));

  auto file = ch().Call(AttachRequest{2});
  ASSERT_TRUE(file.has_value());
  EXPECT_TRUE(S_ISREG(file->stat.mode));
  auto rw = ch().Call(OpenRequest{file->fid, O_RDWR | O_APPEND});
  ASSERT_TRUE(rw.has_value()) << rw.error().value;
  ASSERT_EQ(::write(rw->fd.get(), "more\n", 5), 5);
  EXPECT_EQ(ReadHostFile(outside_ + "/rw_file"), "rw\nmore\n");
  EXPECT_EQ(Walk(ch(), file->fid, {"x"}).error(), Errno(ENOTDIR));
  // Names cannot move between attach points.
  EXPECT_EQ(ch().Call(LinkRequest{root_, "stolen", file->fid}).error(), Errno(EXDEV));
  EXPECT_EQ(ch().Call(AttachRequest{3}).error(), Errno(ENOENT));
}

TEST_P(GoferServerTest, ConfinedBeforeServing) {
  // The child has served a request (Start attached), so it is past its set-up.
  EXPECT_EQ(ProcStatus(gofer_->pid(), "Seccomp"), "2");
  EXPECT_EQ(ProcStatus(gofer_->pid(), "NoNewPrivs"), "1");
  if (::geteuid() == 0) {
    // CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID.
    EXPECT_EQ(ProcStatus(gofer_->pid(), "CapEff"), "000000000000001f");
    EXPECT_EQ(ProcStatus(gofer_->pid(), "CapBnd"), "000000000000001f");
  }
  if (GetParam() && ::geteuid() == 0) {
    char mine[64] = {}, its[64] = {};
    ASSERT_GT(::readlink("/proc/self/ns/mnt", mine, sizeof(mine) - 1), 0);
    std::string path = "/proc/" + std::to_string(gofer_->pid()) + "/ns/mnt";
    ASSERT_GT(::readlink(path.c_str(), its, sizeof(its) - 1), 0);
    EXPECT_STRNE(mine, its);
  }
}

TEST_P(GoferServerTest, MalformedMessagesGetErrorsAndServingGoesOn) {
  int sock = gofer_->socket();
  // Too short for a header: EINVAL with tag 0.
  EXPECT_EQ(RawError(RawExchange(sock, {1, 2, 3, 4, 5}), 0), EINVAL);
  // A header whose length lies.
  auto good = EncodeMessage(StatRequest{root_}, 77).bytes;
  auto bad = good;
  bad[4] = 99;
  EXPECT_EQ(RawError(RawExchange(sock, bad), 77), EINVAL);
  // A body cut short (with an honest header).
  bad = good;
  bad.pop_back();
  uint32_t n = static_cast<uint32_t>(bad.size());
  std::memcpy(bad.data() + 4, &n, 4);
  EXPECT_EQ(RawError(RawExchange(sock, bad), 77), EINVAL);
  // A type the gofer does not know, and a reply sent as a request.
  for (uint32_t type : {999u, ReplyType(MessageType::kStat)}) {
    bad = good;
    std::memcpy(bad.data(), &type, 4);
    EXPECT_EQ(RawError(RawExchange(sock, bad), 77), ENOSYS);
  }
  // A string length far beyond the message.
  auto walk = EncodeMessage(WalkRequest{root_, 0, {"a"}}, 78).bytes;
  uint32_t huge = 0xffffffff;
  std::memcpy(walk.data() + kHeaderSize + 12, &huge, 4);
  EXPECT_EQ(RawError(RawExchange(sock, walk), 78), EINVAL);
  // More than a message may be.
  std::vector<uint8_t> big(kMaxMessageSize + 10);
  std::memcpy(big.data(), good.data(), kHeaderSize);
  EXPECT_EQ(RawError(RawExchange(sock, big), 77), EINVAL);
  // Fds nobody asked for are closed by the gofer, and the request is served.
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
  FileDescriptor read_end(p[0]), write_end(p[1]);
  auto reply = RawExchange(sock, good, {write_end.get()});
  auto header = DecodeHeader(reply);
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(header->type, ReplyType(MessageType::kStat));
  write_end.Reset();
  char c;
  EXPECT_EQ(::read(read_end.get(), &c, 1), 0);
  // Noise.
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> noise(1 + rng() % 100);
    for (auto& b : noise) b = static_cast<uint8_t>(rng());
    auto r = RawExchange(sock, noise);
    ASSERT_FALSE(r.empty()) << "the gofer stopped answering at message " << i;
  }
  EXPECT_TRUE(ch().Call(StatRequest{root_}).has_value());
}

// What `runsc do` serves: the host's own root, read-only.
TEST_P(GoferServerTest, ServesTheHostRootReadOnly) {
  GoferConfig config;
  config.root = "/";
  config.read_only = true;
  config.pivot = GetParam();
  GoferChild host(config);
  auto root = host.channel().Call(AttachRequest{0});
  ASSERT_TRUE(root.has_value()) << root.error().value;
  struct stat st;
  ASSERT_EQ(::stat("/", &st), 0);
  EXPECT_EQ(root->stat.ino, st.st_ino);
  auto w = Walk(host.channel(), root->fid, {"etc", "passwd"});
  ASSERT_TRUE(w.has_value());
  ASSERT_EQ(w->status, kWalkComplete);
  auto opened = host.channel().Call(OpenRequest{w->entries.back().fid, O_RDONLY});
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(ReadFile(opened->fd.get()), ReadHostFile("/etc/passwd"));
  EXPECT_EQ(host.channel().Call(MkdirRequest{root->fid, "x", 0700, 0, 0}).error(), Errno(EROFS));
  // The served tree is the host's own, so this test's directory is visible, read-only.
  auto mine = Walk(host.channel(), root->fid, {"tmp", tmp_.path().substr(5), "served", "a"});
  ASSERT_TRUE(mine.has_value());
  EXPECT_EQ(mine->status, kWalkComplete);
  int status = host.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status;
}

// The real runsc-gofer binary (not ASan), with its seccomp filter: the allow list must hold for
// the build that ships, not only for the ASan one.
TEST_P(GoferServerTest, RunscGoferBinaryServes) {
  const char* binary = std::getenv("RUNSC_GOFER");
  if (binary == nullptr) GTEST_SKIP() << "RUNSC_GOFER not set";
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  FileDescriptor mine(sv[0]);
  // The child end must survive exec: not close-on-exec, at a fixed number.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, sv[1], 10);
  std::string root = served_;
  std::vector<std::string> args = {binary, "--root", root, "--fd", "10", "--ro"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  ASSERT_EQ(posix_spawn(&pid, binary, &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(sv[1]);
  {
    Channel channel(std::move(mine));
    auto a = channel.Call(AttachRequest{0});
    ASSERT_TRUE(a.has_value());
    auto w = Walk(channel, a->fid, {"a", "b", "c"});
    ASSERT_TRUE(w.has_value());
    ASSERT_EQ(w->status, kWalkComplete);
    auto o = channel.Call(OpenRequest{w->entries.back().fid, O_RDONLY});
    ASSERT_TRUE(o.has_value());
    EXPECT_EQ(ReadFile(o->fd.get()), "hello\n");
    EXPECT_TRUE(channel.Call(GetdentsRequest{a->fid, 0, 100}).has_value());
    EXPECT_EQ(channel.Call(MkdirRequest{a->fid, "x", 0700, 0, 0}).error(), Errno(EROFS));
    EXPECT_EQ(ProcStatus(pid, "Seccomp"), "2");
  }
  int status;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status;
}

INSTANTIATE_TEST_SUITE_P(Confinement, GoferServerTest, ::testing::Values(true, false),
                         ConfinementName);

}  // namespace
}  // namespace gofer::testing
