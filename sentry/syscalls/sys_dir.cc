// Names and directories: getdents64, mkdir, mknod, rmdir, unlink, rename, link, symlink,
// chdir, fchdir, getcwd, chroot, umask.
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "sentry/kernel/kernel.h"
#include "sentry/syscalls/path_util.h"
#include "sentry/syscalls/table.h"
#include "sentry/vfs/fsnotify.h"

namespace sentry::syscalls {
namespace {

Result<uint64_t> Sys_getdents64(kernel::Task& t, const Args& a) {
  auto file = TRY(t.fds().Get(ArgInt(a[0])));
  uint64_t count = static_cast<unsigned>(a[2]);
  std::vector<uint8_t> buf;
  bool too_small = false;
  TRY(file->ReadDir([&](const vfs::DirEntry& e, int64_t next) {
    size_t reclen = (offsetof(struct dirent64, d_name) + e.name.size() + 1 + 7) & ~size_t{7};
    if (buf.size() + reclen > count) {
      too_small = buf.empty();
      return false;
    }
    size_t at = buf.size();
    buf.resize(at + reclen, 0);
    auto* d = reinterpret_cast<struct dirent64*>(buf.data() + at);
    d->d_ino = e.ino;
    d->d_off = next;
    d->d_reclen = static_cast<uint16_t>(reclen);
    d->d_type = e.type;
    std::memcpy(d->d_name, e.name.c_str(), e.name.size() + 1);
    return true;
  }));
  // Linux reports every directory read, even one at the end.
  vfs::fsnotify::NotifyFile(*file, vfs::fsnotify::kAccess);
  if (too_small) return Err(EINVAL);
  TRY(t.mm().CopyOut(UserAddr(a[1]), buf.data(), buf.size()));
  return buf.size();
}

// The parent of a name to create or remove, checked for write access and a writable mount.
Result<vfs::ParentAndName> WritableParent(kernel::Task& t, int dirfd, const std::string& path) {
  auto pn = TRY(ResolveParentAt(t, dirfd, path));
  if (pn.parent.mount->read_only()) return Err(EROFS);
  struct stat st = TRY(pn.parent.inode().Stat());
  if (!vfs::MayAccess(st, FsCreds(t), W_OK | X_OK)) return Err(EACCES);
  return pn;
}

Result<uint64_t> MkdirAt(kernel::Task& t, int dirfd, uint64_t path_addr, mode_t mode) {
  std::string path = TRY(CopyInPath(t, path_addr));
  auto pn = TRY(ResolveParentAt(t, dirfd, path));
  if (pn.name.empty() || pn.name == "." || pn.name == ".." || pn.parent.dentry->Child(pn.name)) {
    return Err(EEXIST);
  }
  if (pn.parent.mount->read_only()) return Err(EROFS);
  struct stat st = TRY(pn.parent.inode().Stat());
  if (!vfs::MayAccess(st, FsCreds(t), W_OK | X_OK)) return Err(EACCES);
  auto inode = TRY(pn.parent.inode().Mkdir(pn.name, mode & 07777 & ~Umask(t), FsCreds(t)));
  pn.parent.dentry->AddChild(pn.name, std::move(inode));
  vfs::fsnotify::NotifyChild(pn.parent.inode(), vfs::fsnotify::kCreate, pn.name, true);
  return 0;
}

Result<uint64_t> Sys_mkdir(kernel::Task& t, const Args& a) {
  return MkdirAt(t, AT_FDCWD, a[0], static_cast<mode_t>(a[1]));
}
Result<uint64_t> Sys_mkdirat(kernel::Task& t, const Args& a) {
  return MkdirAt(t, ArgInt(a[0]), a[1], static_cast<mode_t>(a[2]));
}

Result<uint64_t> MknodAt(kernel::Task& t, int dirfd, uint64_t path_addr, mode_t mode, dev_t dev) {
  std::string path = TRY(CopyInPath(t, path_addr));
  mode_t type = mode & S_IFMT;
  if (type == 0) type = S_IFREG;
  if (type == S_IFDIR) return Err(EPERM);
  if (type != S_IFREG && type != S_IFIFO && type != S_IFSOCK && type != S_IFCHR &&
      type != S_IFBLK) {
    return Err(EINVAL);
  }
  auto pn = TRY(ResolveParentAt(t, dirfd, path));
  if (pn.name.empty() || pn.name == "." || pn.name == ".." || pn.parent.dentry->Child(pn.name)) {
    return Err(EEXIST);
  }
  if (pn.trailing_slash) return Err(ENOENT);
  if (pn.parent.mount->read_only()) return Err(EROFS);
  struct stat st = TRY(pn.parent.inode().Stat());
  if (!vfs::MayAccess(st, FsCreds(t), W_OK | X_OK)) return Err(EACCES);
  auto inode =
      TRY(pn.parent.inode().Mknod(pn.name, type | (mode & 07777 & ~Umask(t)), dev, FsCreds(t)));
  pn.parent.dentry->AddChild(pn.name, std::move(inode));
  vfs::fsnotify::NotifyChild(pn.parent.inode(), vfs::fsnotify::kCreate, pn.name, false);
  return 0;
}

Result<uint64_t> Sys_mknod(kernel::Task& t, const Args& a) {
  return MknodAt(t, AT_FDCWD, a[0], static_cast<mode_t>(a[1]), static_cast<dev_t>(a[2]));
}
Result<uint64_t> Sys_mknodat(kernel::Task& t, const Args& a) {
  return MknodAt(t, ArgInt(a[0]), a[1], static_cast<mode_t>(a[2]), static_cast<dev_t>(a[3]));
}

Result<uint64_t> RmdirAt(kernel::Task& t, int dirfd, const std::string& path) {
  auto pn = TRY(ResolveParentAt(t, dirfd, path));
  if (pn.name == ".") return Err(EINVAL);
  if (pn.name == "..") return Err(ENOTEMPTY);
  if (pn.name.empty()) return Err(EBUSY);
  auto child = TRY(pn.parent.dentry->Child(pn.name));
  if (!child->inode().IsDir()) return Err(ENOTDIR);
  if (t.kernel().mounts().MountedAt({pn.parent.mount, child})) return Err(EBUSY);
  if (pn.parent.mount->read_only()) return Err(EROFS);
  struct stat st = TRY(pn.parent.inode().Stat());
  if (!vfs::MayAccess(st, FsCreds(t), W_OK | X_OK)) return Err(EACCES);
  bool watched = vfs::fsnotify::MarkedLastLink(child->inode());
  TRY(pn.parent.inode().Rmdir(pn.name));
  pn.parent.dentry->DropChild(pn.name);
  // The directory's own watchers hear it go, then its parent's (Linux's d_delete_notify).
  if (watched) vfs::fsnotify::Unlinked(child);
  vfs::fsnotify::NotifyChild(pn.parent.inode(), vfs::fsnotify::kDelete, pn.name, true);
  return 0;
}

Result<uint64_t> UnlinkAt(kernel::Task& t, int dirfd, const std::string& path) {
  auto pn = TRY(ResolveParentAt(t, dirfd, path));
  if (pn.name.empty() || pn.name == "." || pn.name == "..") return Err(EISDIR);
  auto child = TRY(pn.parent.dentry->Child(pn.name));
  if (child->inode().IsDir()) return Err(EISDIR);
  if (pn.trailing_slash) return Err(ENOTDIR);
  if (pn.parent.mount->read_only()) return Err(EROFS);
  struct stat st = TRY(pn.parent.inode().Stat());
  if (!vfs::MayAccess(st, FsCreds(t), W_OK | X_OK)) return Err(EACCES);
  if (t.kernel().mounts().MountedAt({pn.parent.mount, child})) return Err(EBUSY);
  bool last_link = vfs::fsnotify::MarkedLastLink(child->inode());
  TRY(pn.parent.inode().Unlink(pn.name));
  pn.parent.dentry->DropChild(pn.name);
  // The link count changed (IN_ATTRIB on the file), the file may be gone (IN_DELETE_SELF), and
  // the directory lost a name (IN_DELETE), in Linux's order.
  vfs::fsnotify::NotifyInode(child->inode(), vfs::fsnotify::kAttrib);
  if (last_link) vfs::fsnotify::Unlinked(child);
  vfs::fsnotify::NotifyChild(pn.parent.inode(), vfs::fsnotify::kDelete, pn.name, false);
  return 0;
}

Result<uint64_t> Sys_rmdir(kernel::Task& t, const Args& a) {
  return RmdirAt(t, AT_FDCWD, TRY(CopyInPath(t, a[0])));
}
Result<uint64_t> Sys_unlink(kernel::Task& t, const Args& a) {
  return UnlinkAt(t, AT_FDCWD, TRY(CopyInPath(t, a[0])));
}
Result<uint64_t> Sys_unlinkat(kernel::Task& t, const Args& a) {
  int flags = ArgInt(a[2]);
  if (flags & ~AT_REMOVEDIR) return Err(EINVAL);
  std::string path = TRY(CopyInPath(t, a[1]));
  return (flags & AT_REMOVEDIR) ? RmdirAt(t, ArgInt(a[0]), path) : UnlinkAt(t, ArgInt(a[0]), path);
}

// A rename's events, as Linux's fsnotify_move: the two halves of the move with one cookie, a
// rename inside one directory for dnotify, the replaced file's link count (and maybe its end),
// and the moved file's own IN_MOVE_SELF. An exchange is two moves.
void NotifyRename(const vfs::ParentAndName& from, const vfs::ParentAndName& to,
                  const vfs::Dentry& moved, const std::shared_ptr<vfs::Dentry>& replaced,
                  unsigned flags, bool replaced_last_link) {
  namespace fsn = vfs::fsnotify;
  auto move = [](const vfs::ParentAndName& a, const vfs::ParentAndName& b, vfs::Inode& inode) {
    uint32_t cookie = fsn::NextCookie();
    bool dir = inode.IsDir();
    fsn::NotifyChild(a.parent.inode(), fsn::kMovedFrom, a.name, dir, cookie);
    fsn::NotifyChild(b.parent.inode(), fsn::kMovedTo, b.name, dir, cookie);
    if (a.parent.dentry == b.parent.dentry)
      fsn::NotifyChild(a.parent.inode(), fsn::kRename, a.name, dir);
  };
  move(from, to, moved.inode());
  bool exchange = flags & RENAME_EXCHANGE;
  if (replaced != nullptr && !exchange) fsn::NotifyInode(replaced->inode(), fsn::kAttrib);
  fsn::NotifyInode(moved.inode(), fsn::kMoveSelf);
  if (replaced != nullptr && exchange) {
    move(to, from, replaced->inode());
    fsn::NotifyInode(replaced->inode(), fsn::kMoveSelf);
  } else if (replaced_last_link) {
    fsn::Unlinked(replaced);
  }
}

Result<uint64_t> RenameAt(kernel::Task& t, int olddirfd, uint64_t oldpath_addr, int newdirfd,
                          uint64_t newpath_addr, unsigned flags) {
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) return Err(EINVAL);
  if ((flags & RENAME_EXCHANGE) && (flags & (RENAME_NOREPLACE | RENAME_WHITEOUT))) {
    return Err(EINVAL);
  }
  if (flags & RENAME_WHITEOUT) return Err(EINVAL);  // overlay whiteouts are the sentry's own
  std::string oldpath = TRY(CopyInPath(t, oldpath_addr));
  std::string newpath = TRY(CopyInPath(t, newpath_addr));
  auto from = TRY(WritableParent(t, olddirfd, oldpath));
  auto to = TRY(WritableParent(t, newdirfd, newpath));
  for (const auto* pn : {&from, &to}) {
    if (pn->name.empty() || pn->name == "." || pn->name == "..") return Err(EBUSY);
  }
  if (from.parent.mount != to.parent.mount) return Err(EXDEV);
  auto moved = TRY(from.parent.dentry->Child(from.name));
  if ((from.trailing_slash || to.trailing_slash) && !moved->inode().IsDir()) return Err(ENOTDIR);
  // A mountpoint stays where it is (Linux's is_local_mountpoint check).
  vfs::MountNamespace& mounts = t.kernel().mounts();
  if (mounts.MountedAt({from.parent.mount, moved})) return Err(EBUSY);
  // The one reference to the replaced name besides its users', so that fsnotify can tell
  // when nothing else holds it.
  std::shared_ptr<vfs::Dentry> replaced = to.parent.dentry->Child(to.name).value_or(nullptr);
  if (replaced && mounts.MountedAt({to.parent.mount, replaced})) return Err(EBUSY);
  if (from.parent.dentry == to.parent.dentry && from.name == to.name) {
    return (flags & RENAME_NOREPLACE) ? Result<uint64_t>(Err(EEXIST)) : Result<uint64_t>(0);
  }
  bool replaced_last_link =
      replaced && !(flags & RENAME_EXCHANGE) && vfs::fsnotify::MarkedLastLink(replaced->inode());
  TRY(from.parent.inode().Rename(from.name, to.parent.inode(), to.name, flags));
  if (flags & RENAME_EXCHANGE) {
    // Both names still exist with swapped files: let the next lookups find them afresh.
    from.parent.dentry->DropChild(from.name);
    to.parent.dentry->DropChild(to.name);
  } else {
    vfs::Dentry::MoveChild(*from.parent.dentry, from.name, *to.parent.dentry, to.name);
  }
  if (vfs::fsnotify::Active()) {
    NotifyRename(from, to, *moved, replaced, flags, replaced_last_link);
  }
  return 0;
}

Result<uint64_t> Sys_rename(kernel::Task& t, const Args& a) {
  return RenameAt(t, AT_FDCWD, a[0], AT_FDCWD, a[1], 0);
}
Result<uint64_t> Sys_renameat(kernel::Task& t, const Args& a) {
  return RenameAt(t, ArgInt(a[0]), a[1], ArgInt(a[2]), a[3], 0);
}
Result<uint64_t> Sys_renameat2(kernel::Task& t, const Args& a) {
  return RenameAt(t, ArgInt(a[0]), a[1], ArgInt(a[2]), a[3], static_cast<unsigned>(a[4]));
}

Result<uint64_t> LinkAt(kernel::Task& t, int olddirfd, uint64_t oldpath_addr, int newdirfd,
                        uint64_t newpath_addr, int flags) {
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return Err(EINVAL);
  std::string oldpath = TRY(CopyInPath(t, oldpath_addr));
  std::string newpath = TRY(CopyInPath(t, newpath_addr));
  unsigned rflags = (flags & AT_SYMLINK_FOLLOW) ? unsigned{vfs::kFollowFinal} : 0u;
  vfs::VirtualDentry target = TRY(ResolveAt(t, olddirfd, oldpath, rflags, flags & AT_EMPTY_PATH));
  if (target.inode().IsDir()) return Err(EPERM);
  auto pn = TRY(WritableParent(t, newdirfd, newpath));
  if (pn.name.empty() || pn.name == "." || pn.name == ".." || pn.parent.dentry->Child(pn.name)) {
    return Err(EEXIST);
  }
  if (pn.trailing_slash) return Err(ENOENT);
  if (pn.parent.mount != target.mount) return Err(EXDEV);
  TRY(pn.parent.inode().Link(pn.name, target.inode()));
  pn.parent.dentry->AddChild(pn.name, target.dentry->inode_ptr());
  vfs::fsnotify::NotifyInode(target.inode(), vfs::fsnotify::kAttrib);
  vfs::fsnotify::NotifyChild(pn.parent.inode(), vfs::fsnotify::kCreate, pn.name, false);
  return 0;
}

Result<uint64_t> Sys_link(kernel::Task& t, const Args& a) {
  return LinkAt(t, AT_FDCWD, a[0], AT_FDCWD, a[1], 0);
}
Result<uint64_t> Sys_linkat(kernel::Task& t, const Args& a) {
  return LinkAt(t, ArgInt(a[0]), a[1], ArgInt(a[2]), a[3], ArgInt(a[4]));
}

Result<uint64_t> SymlinkAt(kernel::Task& t, uint64_t target_addr, int dirfd, uint64_t path_addr) {
  std::string target = TRY(CopyInPath(t, target_addr));
  std::string path = TRY(CopyInPath(t, path_addr));
  if (target.empty()) return Err(ENOENT);
  auto pn = TRY(ResolveParentAt(t, dirfd, path));
  if (pn.name.empty() || pn.name == "." || pn.name == ".." || pn.parent.dentry->Child(pn.name)) {
    return Err(EEXIST);
  }
  if (pn.trailing_slash) return Err(ENOENT);
  if (pn.parent.mount->read_only()) return Err(EROFS);
  struct stat st = TRY(pn.parent.inode().Stat());
  if (!vfs::MayAccess(st, FsCreds(t), W_OK | X_OK)) return Err(EACCES);
  auto inode = TRY(pn.parent.inode().Symlink(pn.name, target, FsCreds(t)));
  pn.parent.dentry->AddChild(pn.name, std::move(inode));
  vfs::fsnotify::NotifyChild(pn.parent.inode(), vfs::fsnotify::kCreate, pn.name, false);
  return 0;
}

Result<uint64_t> Sys_symlink(kernel::Task& t, const Args& a) {
  return SymlinkAt(t, a[0], AT_FDCWD, a[1]);
}
Result<uint64_t> Sys_symlinkat(kernel::Task& t, const Args& a) {
  return SymlinkAt(t, a[0], ArgInt(a[1]), a[2]);
}

Result<void> SetCwd(kernel::Task& t, const vfs::VirtualDentry& vd) {
  if (!vd.inode().IsDir()) return Err(ENOTDIR);
  if (!FsCreds(t).dac_override) {
    struct stat st = TRY(vd.inode().Stat());
    if (!vfs::MayAccess(st, FsCreds(t), X_OK)) return Err(EACCES);
  }
  std::lock_guard lock(t.fs().mu);
  t.fs().cwd = vd;
  return {};
}

Result<uint64_t> Sys_chdir(kernel::Task& t, const Args& a) {
  std::string path = TRY(CopyInPath(t, a[0]));
  TRY(SetCwd(t, TRY(ResolveAt(t, AT_FDCWD, path, vfs::kFollowFinal))));
  return 0;
}

Result<uint64_t> Sys_fchdir(kernel::Task& t, const Args& a) {
  auto file = TRY(t.fds().Get(ArgInt(a[0])));
  if (!file->path().dentry) return Err(ENOTDIR);
  TRY(SetCwd(t, file->path()));
  return 0;
}

Result<uint64_t> Sys_chroot(kernel::Task& t, const Args& a) {
  std::string path = TRY(CopyInPath(t, a[0]));
  vfs::VirtualDentry vd = TRY(ResolveAt(t, AT_FDCWD, path, vfs::kFollowFinal));
  if (!vd.inode().IsDir()) return Err(ENOTDIR);
  if (!t.creds().HasCapability(CAP_SYS_CHROOT)) return Err(EPERM);
  std::lock_guard lock(t.fs().mu);
  t.fs().root = vd;
  return 0;
}

Result<uint64_t> Sys_getcwd(kernel::Task& t, const Args& a) {
  vfs::VirtualDentry cwd, root;
  {
    std::lock_guard lock(t.fs().mu);
    cwd = t.fs().cwd;
    root = t.fs().root;
  }
  if (cwd.dentry->unlinked()) return Err(ENOENT);
  std::string path = t.kernel().mounts().PathOf(cwd, root);
  if (a[1] < path.size() + 1) return Err(ERANGE);
  TRY(t.mm().CopyOut(UserAddr(a[0]), path.c_str(), path.size() + 1));
  return path.size() + 1;
}

Result<uint64_t> Sys_umask(kernel::Task& t, const Args& a) {
  std::lock_guard lock(t.fs().mu);
  mode_t old = t.fs().umask;
  t.fs().umask = static_cast<mode_t>(a[0]) & 0777;
  return old;
}

}  // namespace

void RegisterDirSyscalls(SyscallTable& t) {
  t.handlers[SYS_getdents64] = Sys_getdents64;
  t.handlers[SYS_mkdir] = Sys_mkdir;
  t.handlers[SYS_mkdirat] = Sys_mkdirat;
  t.handlers[SYS_mknod] = Sys_mknod;
  t.handlers[SYS_mknodat] = Sys_mknodat;
  t.handlers[SYS_rmdir] = Sys_rmdir;
  t.handlers[SYS_unlink] = Sys_unlink;
  t.handlers[SYS_unlinkat] = Sys_unlinkat;
  t.handlers[SYS_rename] = Sys_rename;
  t.handlers[SYS_renameat] = Sys_renameat;
  t.handlers[SYS_renameat2] = Sys_renameat2;
  t.handlers[SYS_link] = Sys_link;
  t.handlers[SYS_linkat] = Sys_linkat;
  t.handlers[SYS_symlink] = Sys_symlink;
  t.handlers[SYS_symlinkat] = Sys_symlinkat;
  t.handlers[SYS_chdir] = Sys_chdir;
  t.handlers[SYS_fchdir] = Sys_fchdir;
  t.handlers[SYS_chroot] = Sys_chroot;
  t.handlers[SYS_getcwd] = Sys_getcwd;
  t.handlers[SYS_umask] = Sys_umask;
}

}  // namespace sentry::syscalls
