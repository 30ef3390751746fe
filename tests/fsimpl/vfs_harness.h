// A small stand-in for the syscall layer: resolves paths through sentry/vfs on a mount
// namespace and calls the Inode operations the way the *at() handlers do (including their
// dentry-cache upkeep), so tests read like the system calls they mirror.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sentry/fsimpl/tmpfs/tmpfs.h"
#include "sentry/mm/memory_file.h"
#include "sentry/vfs/dentry.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/mount.h"
#include "sentry/vfs/resolve.h"

namespace sentry::fsimpl::testing {

// A Result's errno, or 0 for success: lets tests write EXPECT_EQ(Errno(op), ENOENT).
template <class T>
int ErrnoOf(const Result<T>& r) {
  return r ? 0 : r.error().value;
}

class VfsHarness {
 public:
  explicit VfsHarness(std::shared_ptr<vfs::Inode> root, std::string fs_type = "tmpfs")
      : mount_(std::make_shared<vfs::Mount>(vfs::Dentry::NewRoot(std::move(root)),
                                            std::move(fs_type), "none", 0)),
        mounts_(mount_) {}

  vfs::MountNamespace& mounts() { return mounts_; }
  vfs::VirtualDentry Root() const { return mounts_.Root(); }
  vfs::FsCredentials creds;  // root by default

  vfs::ResolveContext Ctx() { return vfs::ResolveContext{mounts_, Root(), creds}; }

  Result<vfs::VirtualDentry> Lookup(std::string_view path, bool follow = true) {
    vfs::ResolveContext ctx = Ctx();
    return vfs::Resolve(ctx, Root(), path, follow ? unsigned{vfs::kFollowFinal} : 0u);
  }
  Result<struct stat> Stat(std::string_view path) { return TRY(Lookup(path)).inode().Stat(); }
  Result<struct stat> Lstat(std::string_view path) {
    return TRY(Lookup(path, false)).inode().Stat();
  }

  Result<void> Mkdir(std::string_view path, mode_t mode = 0755) {
    auto pn = TRY(Parent(path));
    auto inode = TRY(pn.parent.inode().Mkdir(pn.name, mode, creds));
    pn.parent.dentry->AddChild(pn.name, std::move(inode));
    return {};
  }
  Result<void> Mknod(std::string_view path, mode_t mode, dev_t dev = 0) {
    auto pn = TRY(Parent(path));
    auto inode = TRY(pn.parent.inode().Mknod(pn.name, mode, dev, creds));
    pn.parent.dentry->AddChild(pn.name, std::move(inode));
    return {};
  }
  Result<void> Symlink(std::string_view target, std::string_view path) {
    auto pn = TRY(Parent(path));
    auto inode = TRY(pn.parent.inode().Symlink(pn.name, target, creds));
    pn.parent.dentry->AddChild(pn.name, std::move(inode));
    return {};
  }
  Result<std::string> ReadLink(std::string_view path) {
    return TRY(Lookup(path, false)).inode().ReadLink();
  }
  // link(2): the old path's last symlink is not followed.
  Result<void> Link(std::string_view old_path, std::string_view new_path) {
    vfs::VirtualDentry target = TRY(Lookup(old_path, false));
    auto pn = TRY(Parent(new_path));
    TRY(pn.parent.inode().Link(pn.name, target.inode()));
    pn.parent.dentry->AddChild(pn.name, target.dentry->inode_ptr());
    return {};
  }
  Result<void> Unlink(std::string_view path) {
    auto pn = TRY(Parent(path));
    TRY(pn.parent.inode().Unlink(pn.name));
    pn.parent.dentry->DropChild(pn.name);
    return {};
  }
  Result<void> Rmdir(std::string_view path) {
    auto pn = TRY(Parent(path));
    TRY(pn.parent.inode().Rmdir(pn.name));
    pn.parent.dentry->DropChild(pn.name);
    return {};
  }
  Result<void> Rename(std::string_view from, std::string_view to, unsigned flags = 0) {
    auto a = TRY(Parent(from));
    auto b = TRY(Parent(to));
    TRY(a.parent.inode().Rename(a.name, b.parent.inode(), b.name, flags));
    if (flags & RENAME_EXCHANGE) {
      a.parent.dentry->DropChild(a.name);
      b.parent.dentry->DropChild(b.name);
    } else {
      vfs::Dentry::MoveChild(*a.parent.dentry, a.name, *b.parent.dentry, b.name);
    }
    return {};
  }
  Result<void> Truncate(std::string_view path, uint64_t size) {
    vfs::SetStatRequest req;
    req.size = size;
    return TRY(Lookup(path)).inode().SetStat(req);
  }
  Result<void> SetStat(std::string_view path, const vfs::SetStatRequest& req) {
    return TRY(Lookup(path)).inode().SetStat(req);
  }

  // open(2), with O_CREAT creating a regular file (a dangling symlink is not followed to
  // create its target: tests that need that do not exist).
  Result<std::shared_ptr<vfs::FileDescription>> Open(std::string_view path, int flags,
                                                     mode_t mode = 0644) {
    if (flags & O_CREAT) {
      auto pn = TRY(Parent(path));
      auto existing = pn.parent.dentry->Child(pn.name);
      if (existing) {
        if (flags & O_EXCL) return Err(EEXIST);
      } else {
        if (existing.error().value != ENOENT) return std::unexpected(existing.error());
        auto inode = TRY(pn.parent.inode().Create(pn.name, mode, creds));
        pn.parent.dentry->AddChild(pn.name, inode);
      }
    }
    vfs::VirtualDentry vd = TRY(Lookup(path, !(flags & O_NOFOLLOW)));
    return vd.inode().Open(vd, flags);
  }

 private:
  Result<vfs::ParentAndName> Parent(std::string_view path) {
    vfs::ResolveContext ctx = Ctx();
    return vfs::ResolveParent(ctx, Root(), path);
  }

  std::shared_ptr<vfs::Mount> mount_;
  vfs::MountNamespace mounts_;
};

// I/O through a FileDescription with local buffers.
inline Result<uint64_t> WriteStr(vfs::FileDescription& f, std::string_view data,
                                 std::optional<int64_t> offset = std::nullopt) {
  iovec iov{const_cast<char*>(data.data()), data.size()};
  return f.Write({&iov, 1}, offset);
}
inline Result<std::string> ReadStr(vfs::FileDescription& f, size_t n,
                                   std::optional<int64_t> offset = std::nullopt) {
  std::string buf(n, '\xAA');
  iovec iov{buf.data(), buf.size()};
  uint64_t got = TRY(f.Read({&iov, 1}, offset));
  buf.resize(got);
  return buf;
}

// A MemoryFile small enough for tests.
inline std::unique_ptr<mm::MemoryFile> TestMemoryFile() {
  auto mf = mm::MemoryFile::Create(1ULL << 30);
  EXPECT_TRUE(mf.ok()) << mf.status();
  return std::move(*mf);
}

}  // namespace sentry::fsimpl::testing
