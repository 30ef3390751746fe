// Random operation sequences (fixed seeds). Each operation runs on the sandbox's tmpfs and on a
// scratch directory of the host (a tmpfs when /dev/shm is one), and both must answer alike:
// the same errno, the same data, the same tree. A threaded variant checks that concurrent
// operations never crash, deadlock or break the tree's invariants.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "sentry/fsimpl/tmpfs/regular_file.h"
#include "tests/fsimpl/vfs_harness.h"

namespace sentry::fsimpl::tmpfs {
namespace {

using testing::ErrnoOf;
using testing::ReadStr;
using testing::VfsHarness;
using testing::WriteStr;

// The host side: the same operations as system calls relative to a scratch directory.
class HostTree {
 public:
  HostTree() {
    struct statfs sfs;
    std::string base = statfs("/dev/shm", &sfs) == 0 && sfs.f_type == TMPFS_MAGIC
                           ? "/dev/shm"
                           : std::filesystem::temp_directory_path().string();
    std::string tmpl = base + "/tmpfs_random_test.XXXXXX";
    root_ = mkdtemp(tmpl.data()) ? tmpl : "";
    dirfd_ = root_.empty() ? -1 : open(root_.c_str(), O_DIRECTORY | O_RDONLY);
  }
  ~HostTree() {
    if (dirfd_ >= 0) close(dirfd_);
    std::error_code ec;
    if (!root_.empty()) std::filesystem::remove_all(root_, ec);
  }
  bool ok() const { return dirfd_ >= 0; }
  int fd() const { return dirfd_; }
  const std::string& root() const { return root_; }

 private:
  std::string root_;
  int dirfd_ = -1;
};

int Check(int r) { return r < 0 ? errno : 0; }

struct Outcome {
  int err = 0;
  std::string data;  // what a read returned
  bool operator==(const Outcome&) const = default;
};

class Differential {
 public:
  Differential(VfsHarness& vfs, HostTree& host, uint32_t seed)
      : vfs_(vfs), host_(host), rng_(seed) {}

  std::string RandomPath() {
    static const char* kNames[] = {"a", "b", "c", "d"};
    // Mostly shallow paths, so that many operations find what they name.
    int roll = Pick(20);
    int depth = roll < 10 ? 1 : roll < 17 ? 2 : 3;
    std::string p;
    for (int i = 0; i < depth; ++i) {
      if (i) p += '/';
      p += kNames[Pick(4)];
    }
    return p;
  }
  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

  // Runs one random operation on both sides; returns a description and both outcomes.
  void Step(std::string& what, Outcome& sandbox, Outcome& host) {
    std::string p = RandomPath(), q = RandomPath();
    int h = host_.fd();
    switch (Pick(13)) {
      case 0:
        what = "mkdir " + p;
        sandbox.err = ErrnoOf(vfs_.Mkdir(p, 0755));
        host.err = Check(mkdirat(h, p.c_str(), 0755));
        break;
      case 1:
        what = "create " + p;
        sandbox.err = ErrnoOf(vfs_.Open(p, O_CREAT | O_EXCL | O_WRONLY, 0644));
        host.err = HostOpenClose(p, O_CREAT | O_EXCL | O_WRONLY);
        break;
      case 2: {
        int64_t off = Pick(3) == 0 ? Pick(3 * 4096) : Pick(64);
        std::string data(1 + Pick(5000), static_cast<char>('A' + Pick(26)));
        what = "pwrite " + p + " @" + std::to_string(off) + " +" + std::to_string(data.size());
        auto f = vfs_.Open(p, O_WRONLY);
        sandbox.err = f ? ErrnoOf(WriteStr(**f, data, off)) : ErrnoOf(f);
        int fd = openat(h, p.c_str(), O_WRONLY);
        host.err =
            fd < 0 ? errno : Check(static_cast<int>(pwrite(fd, data.data(), data.size(), off)));
        if (fd >= 0) close(fd);
        break;
      }
      case 3: {
        std::string data(1 + Pick(100), static_cast<char>('a' + Pick(26)));
        what = "append " + p;
        auto f = vfs_.Open(p, O_WRONLY | O_APPEND);
        sandbox.err = f ? ErrnoOf(WriteStr(**f, data)) : ErrnoOf(f);
        int fd = openat(h, p.c_str(), O_WRONLY | O_APPEND);
        host.err = fd < 0 ? errno : Check(static_cast<int>(write(fd, data.data(), data.size())));
        if (fd >= 0) close(fd);
        break;
      }
      case 4: {
        uint64_t size = Pick(2) ? Pick(100) : Pick(4 * 4096);
        what = "truncate " + p + " " + std::to_string(size);
        sandbox.err = ErrnoOf(vfs_.Truncate(p, size));
        host.err = Check(truncate((host_.root() + "/" + p).c_str(), static_cast<off_t>(size)));
        break;
      }
      case 5:
        what = "unlink " + p;
        sandbox.err = ErrnoOf(vfs_.Unlink(p));
        host.err = Check(unlinkat(h, p.c_str(), 0));
        break;
      case 6:
        what = "rmdir " + p;
        sandbox.err = ErrnoOf(vfs_.Rmdir(p));
        host.err = Check(unlinkat(h, p.c_str(), AT_REMOVEDIR));
        break;
      case 7:
      case 8: {
        static const unsigned kFlags[] = {0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE};
        unsigned flags = kFlags[Pick(4)];
        what = "rename " + p + " " + q + " flags " + std::to_string(flags);
        sandbox.err = ErrnoOf(vfs_.Rename(p, q, flags));
        host.err =
            Check(static_cast<int>(syscall(SYS_renameat2, h, p.c_str(), h, q.c_str(), flags)));
        break;
      }
      case 9:
        what = "link " + p + " " + q;
        sandbox.err = ErrnoOf(vfs_.Link(p, q));
        host.err = Check(linkat(h, p.c_str(), h, q.c_str(), 0));
        break;
      case 10: {
        std::string target = Pick(4) == 0 ? RandomPath() : std::string(1, "abcd"[Pick(4)]);
        what = "symlink " + target + " " + p;
        sandbox.err = ErrnoOf(vfs_.Symlink(target, p));
        host.err = Check(symlinkat(target.c_str(), h, p.c_str()));
        break;
      }
      case 11: {
        what = "read " + p;
        auto f = vfs_.Open(p, O_RDONLY);
        if (f) {
          auto data = ReadStr(**f, 1 << 16);
          sandbox.err = ErrnoOf(data);
          sandbox.data = data.value_or("");
        } else {
          sandbox.err = ErrnoOf(f);
        }
        host = HostRead(p);
        break;
      }
      default: {
        what = "lstat " + p;
        auto st = vfs_.Lstat(p);
        sandbox.err = ErrnoOf(st);
        if (st) sandbox.data = Describe(*st);
        struct stat hst;
        host.err = Check(fstatat(h, p.c_str(), &hst, AT_SYMLINK_NOFOLLOW));
        if (host.err == 0) host.data = Describe(hst);
        break;
      }
    }
  }

  // The whole tree, as text: names, types, link counts, sizes and contents.
  std::string SandboxTree(const std::string& dir = "") {
    std::ostringstream out;
    auto vd = dir.empty() ? Result<vfs::VirtualDentry>(vfs_.Root()) : vfs_.Lookup(dir, false);
    auto entries = vd->inode().ReadDir();
    std::vector<std::string> names;
    for (auto& e : *entries) names.push_back(e.name);
    std::sort(names.begin(), names.end());
    for (auto& n : names) {
      std::string p = dir.empty() ? n : dir + "/" + n;
      struct stat st = *vfs_.Lstat(p);
      out << p << " " << Describe(st);
      if (S_ISLNK(st.st_mode)) out << " -> " << *vfs_.ReadLink(p);
      if (S_ISREG(st.st_mode))
        out << " " << std::hash<std::string>()(*ReadStr(**vfs_.Open(p, O_RDONLY), 1 << 16));
      out << "\n";
      if (S_ISDIR(st.st_mode)) out << SandboxTree(p);
    }
    return out.str();
  }
  std::string HostTreeText(const std::string& dir = "") {
    std::ostringstream out;
    int fd = openat(host_.fd(), dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
    DIR* d = fdopendir(fd);
    std::vector<std::string> names;
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    for (auto& n : names) {
      std::string p = dir.empty() ? n : dir + "/" + n;
      struct stat st;
      fstatat(host_.fd(), p.c_str(), &st, AT_SYMLINK_NOFOLLOW);
      out << p << " " << Describe(st);
      if (S_ISLNK(st.st_mode)) {
        char buf[4096];
        ssize_t len = readlinkat(host_.fd(), p.c_str(), buf, sizeof(buf));
        out << " -> " << std::string(buf, std::max<ssize_t>(len, 0));
      }
      if (S_ISREG(st.st_mode)) out << " " << std::hash<std::string>()(HostRead(p).data);
      out << "\n";
      if (S_ISDIR(st.st_mode)) out << HostTreeText(p);
    }
    return out.str();
  }

 private:
  // What both sides must agree on: the type, link count and (but for directories, whose size
  // depends on the host file system) the size.
  static std::string Describe(const struct stat& st) {
    std::string s = "mode " + std::to_string(st.st_mode) + " nlink " + std::to_string(st.st_nlink);
    if (!S_ISDIR(st.st_mode)) s += " size " + std::to_string(st.st_size);
    return s;
  }
  int HostOpenClose(const std::string& p, int flags) {
    int fd = openat(host_.fd(), p.c_str(), flags, 0644);
    if (fd < 0) return errno;
    close(fd);
    return 0;
  }
  Outcome HostRead(const std::string& p) {
    Outcome o;
    int fd = openat(host_.fd(), p.c_str(), O_RDONLY);
    if (fd < 0) {
      o.err = errno;
      return o;
    }
    std::string buf(1 << 16, 0);
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0) {
      o.err = errno;
    } else {
      buf.resize(static_cast<size_t>(n));
      o.data = buf;
    }
    close(fd);
    return o;
  }

  VfsHarness& vfs_;
  HostTree& host_;
  std::mt19937 rng_;
};

class TmpfsRandomTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(TmpfsRandomTest, BehavesLikeTheHost) {
  HostTree host;
  if (!host.ok()) GTEST_SKIP() << "no scratch directory on the host";
  auto memory = testing::TestMemoryFile();
  uint64_t base = memory->AllocatedBytes();
  {
    auto fs = Filesystem::Create(*memory, 0755, 0, 0);
    VfsHarness vfs(fs->root());
    Differential diff(vfs, host, GetParam());
    std::vector<std::string> log;
    std::map<int, int> errnos;
    for (int i = 0; i < 3000; ++i) {
      std::string what;
      Outcome sandbox, on_host;
      diff.Step(what, sandbox, on_host);
      log.push_back(what + " -> " + std::to_string(on_host.err));
      ++errnos[on_host.err];
      if (!(sandbox == on_host)) {
        std::string recent;
        for (size_t j = log.size() > 30 ? log.size() - 30 : 0; j < log.size(); ++j) {
          recent += "  " + log[j] + "\n";
        }
        FAIL() << "step " << i << ": " << what << ": sandbox errno " << sandbox.err << " data ["
               << sandbox.data.substr(0, 80) << "], host errno " << on_host.err << " data ["
               << on_host.data.substr(0, 80) << "]\nrecent steps:\n"
               << recent;
      }
    }
    EXPECT_EQ(diff.SandboxTree(), diff.HostTreeText());
    // Not a vacuous comparison: many steps succeed, and many kinds of failure are seen.
    EXPECT_GT(errnos[0], 400);
    EXPECT_GE(errnos.size(), 7u);
    std::string summary;
    for (auto [e, n] : errnos) summary += " " + std::to_string(e) + ":" + std::to_string(n);
    RecordProperty("errnos", summary);
    std::printf("errno counts:%s\n", summary.c_str());
  }
  EXPECT_EQ(memory->AllocatedBytes(), base);  // every page went back with the file system
}

INSTANTIATE_TEST_SUITE_P(Seeds, TmpfsRandomTest, ::testing::Values(1u, 2u, 3u, 4u, 5u, 6u));

// Checks, for every directory, nlink == 2 + subdirectories and size == 40 + 20 * entries.
void CheckInvariants(vfs::Inode& dir, const std::string& path) {
  auto entries = dir.ReadDir();
  ASSERT_TRUE(entries) << path;
  int subdirs = 0;
  for (auto& e : *entries) {
    auto child = dir.Lookup(e.name);
    if (!child) continue;  // raced with a removal: no longer ours to check
    if ((*child)->IsDir()) {
      ++subdirs;
      CheckInvariants(**child, path + "/" + e.name);
    }
  }
  struct stat st = *dir.Stat();
  EXPECT_EQ(st.st_nlink, 2u + subdirs) << path;
  EXPECT_EQ(st.st_size, 40 + 20 * static_cast<off_t>(entries->size())) << path;
}

TEST(TmpfsConcurrencyTest, RandomOperationsFromManyThreads) {
  auto memory = testing::TestMemoryFile();
  uint64_t base = memory->AllocatedBytes();
  {
    auto fs = Filesystem::Create(*memory, 0755, 0, 0);
    // Each thread drives the inodes through its own mount namespace and dentry cache: the
    // caches are the VFS's business, the tree underneath is shared.
    std::vector<std::thread> threads;
    for (uint32_t t = 0; t < 4; ++t) {
      threads.emplace_back([&fs, t] {
        std::mt19937 rng(100 + t);
        auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
        auto path = [&] {
          static const char* kNames[] = {"a", "b", "c"};
          std::string p = kNames[pick(3)];
          for (int d = pick(3); d > 0; --d) p += std::string("/") + kNames[pick(3)];
          return p;
        };
        for (int i = 0; i < 3000; ++i) {
          std::string p = path(), q = path();
          // Fresh lookups each time: other threads change the tree under this cache.
          VfsHarness fresh(fs->root());
          switch (pick(9)) {
            case 0:
              (void)fresh.Mkdir(p);
              break;
            case 1:
              (void)fresh.Open(p, O_CREAT | O_WRONLY);
              break;
            case 2: {
              auto f = fresh.Open(p, O_WRONLY | O_APPEND);
              if (f) (void)WriteStr(**f, std::string(1 + pick(9000), 'x'));
              break;
            }
            case 3:
              (void)fresh.Truncate(p, pick(10000));
              break;
            case 4:
              (void)fresh.Unlink(p);
              break;
            case 5:
              (void)fresh.Rmdir(p);
              break;
            case 6:
              (void)fresh.Rename(p, q, pick(2) ? 0 : RENAME_EXCHANGE);
              break;
            case 7:
              (void)fresh.Link(p, q);
              break;
            default: {
              auto f = fresh.Open(p, O_RDONLY);
              if (f) (void)ReadStr(**f, 1 << 14);
              break;
            }
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    CheckInvariants(*fs->root(), "");
  }
  EXPECT_EQ(memory->AllocatedBytes(), base);
}

}  // namespace
}  // namespace sentry::fsimpl::tmpfs
