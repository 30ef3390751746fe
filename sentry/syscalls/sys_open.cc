// open, openat, openat2, creat, close, close_range.
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sentry/syscalls/path_util.h"
#include "sentry/syscalls/table.h"

namespace sentry::syscalls {
namespace {

constexpr int kValidOpenFlags = O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND |
                                O_NONBLOCK | O_DSYNC | FASYNC | O_DIRECT | O_LARGEFILE |
                                O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC | O_PATH |
                                O_SYNC | O_TMPFILE;

int AccessWanted(int flags) {
  int want = 0;
  int mode = flags & O_ACCMODE;
  if (mode == O_RDONLY || mode == O_RDWR) want |= R_OK;
  if (mode == O_WRONLY || mode == O_RDWR || (flags & O_TRUNC)) want |= W_OK;
  return want;
}

// Opens what `vd` names, after Linux's checks: symlinks, directories, permissions, read-only
// mounts and O_TRUNC.
Result<std::shared_ptr<vfs::FileDescription>> OpenResolved(kernel::Task& t,
                                                           const vfs::VirtualDentry& vd,
                                                           int flags, bool created) {
  vfs::Inode& inode = vd.inode();
  if (flags & O_PATH) {
    return std::shared_ptr<vfs::FileDescription>(std::make_shared<vfs::PathFile>(
        flags & (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), vd));
  }
  if (inode.IsSymlink()) return Err(ELOOP);  // O_NOFOLLOW on a symlink
  if ((flags & O_DIRECTORY) && !inode.IsDir()) return Err(ENOTDIR);
  int want = AccessWanted(flags);
  if (inode.IsDir() && (want & W_OK)) return Err(EISDIR);
  if ((S_ISCHR(inode.type()) || S_ISBLK(inode.type())) && (vd.mount->flags() & MS_NODEV)) {
    return Err(EACCES);
  }
  if (!created) {
    struct stat st = TRY(inode.Stat());
    if (!vfs::MayAccess(st, FsCreds(t), want)) return Err(EACCES);
  }
  if ((want & W_OK) && vd.mount->read_only() && !S_ISCHR(inode.type()) &&
      !S_ISFIFO(inode.type()) && !S_ISSOCK(inode.type())) {
    return Err(EROFS);
  }
  auto file = TRY(inode.Open(vd, flags));
  if ((flags & O_TRUNC) && inode.IsRegular() && (want & W_OK) && !created) {
    vfs::SetStatRequest truncate;
    truncate.size = 0;
    TRY(inode.SetStat(truncate));
  }
  return file;
}

// Flags that name how the file was opened rather than how it is used: F_GETFL never shows them.
constexpr int kOpenOnlyFlags = O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC;

Result<uint64_t> DoOpen(kernel::Task& t, int dirfd, uint64_t path_addr, int flags, mode_t mode,
                        unsigned resolve) {
  std::string path = TRY(CopyInPath(t, path_addr));
  if (flags & O_PATH) flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;  // the rest ignored
  if ((flags & O_TMPFILE) == O_TMPFILE) return Err(EOPNOTSUPP);  // no file system has it yet
  vfs::ResolveContext ctx = MakeResolveContext(t);
  // RESOLVE_IN_ROOT and RESOLVE_BENEATH make even absolute paths start at dirfd.
  bool scoped = resolve & (vfs::kInRoot | vfs::kBeneath);
  vfs::VirtualDentry start = !scoped && !path.empty() && path[0] == '/' ? ctx.root
                                                                        : TRY(StartDir(t, dirfd));
  std::shared_ptr<vfs::FileDescription> file;
  if (flags & O_CREAT) {
    // A final symlink is followed to the name it points at, which may be created in turn.
    for (int hops = 0;; ++hops) {
      auto pn = TRY(vfs::ResolveParent(ctx, start, path, resolve));
      if (pn.trailing_slash || pn.name.empty() || pn.name == "." || pn.name == "..") {
        return Err(EISDIR);
      }
      auto existing = pn.parent.dentry->Child(pn.name);
      if (existing) {
        if (flags & O_EXCL) return Err(EEXIST);
        std::shared_ptr<vfs::Dentry> child = *existing;
        // A magic link (/proc/self/fd/N, and /dev/stdout through it) leads to a file that
        // exists; only plain symlinks are followed by name to what they would create.
        if (child->inode().IsSymlink() && !(flags & O_NOFOLLOW) &&
            !TRY(child->inode().MagicLinkTarget())) {
          if (resolve & vfs::kNoSymlinks) return Err(ELOOP);
          if (hops >= vfs::kMaxSymlinks) return Err(ELOOP);
          path = TRY(child->inode().ReadLink());
          if (path.empty()) return Err(ENOENT);
          start = pn.parent;
          continue;
        }
        unsigned rflags = resolve | ((flags & O_NOFOLLOW) ? 0u : unsigned{vfs::kFollowFinal});
        vfs::VirtualDentry vd = TRY(vfs::Resolve(ctx, pn.parent, pn.name, rflags));
        if (vd.inode().IsDir()) return Err(EISDIR);
        file = TRY(OpenResolved(t, vd, flags, false));
        break;
      }
      if (existing.error().value != ENOENT) return std::unexpected(existing.error());
      if (pn.parent.mount->read_only()) return Err(EROFS);
      struct stat dir_st = TRY(pn.parent.inode().Stat());
      if (!vfs::MayAccess(dir_st, ctx.creds, W_OK | X_OK)) return Err(EACCES);
      mode_t umask;
      {
        std::lock_guard lock(t.fs().mu);
        umask = t.fs().umask;
      }
      auto inode = TRY(pn.parent.inode().Create(pn.name, (mode & 07777 & ~umask), ctx.creds));
      pn.parent.dentry->AddChild(pn.name, inode);
      auto child = TRY(pn.parent.dentry->Child(pn.name));
      file = TRY(OpenResolved(t, {pn.parent.mount, child}, flags, true));
      break;
    }
  } else {
    unsigned rflags = resolve | ((flags & O_NOFOLLOW) ? 0u : unsigned{vfs::kFollowFinal}) |
                      ((flags & O_DIRECTORY) ? unsigned{vfs::kMustBeDir} : 0u);
    vfs::VirtualDentry vd = TRY(vfs::Resolve(ctx, start, path, rflags));
    file = TRY(OpenResolved(t, vd, flags, false));
  }
  file->set_status_flags(file->status_flags() & ~kOpenOnlyFlags);
  int fd = TRY(t.fds().Install(std::move(file), flags & O_CLOEXEC, 0, FdLimit(t)));
  return static_cast<uint64_t>(fd);
}

Result<uint64_t> Sys_open(kernel::Task& t, const Args& a) {
  int flags = ArgInt(a[1]) & kValidOpenFlags;  // open(2) ignores unknown flags
  return DoOpen(t, AT_FDCWD, a[0], flags, static_cast<mode_t>(a[2]), 0);
}

Result<uint64_t> Sys_openat(kernel::Task& t, const Args& a) {
  int flags = ArgInt(a[2]) & kValidOpenFlags;
  return DoOpen(t, ArgInt(a[0]), a[1], flags, static_cast<mode_t>(a[3]), 0);
}

Result<uint64_t> Sys_creat(kernel::Task& t, const Args& a) {
  return DoOpen(t, AT_FDCWD, a[0], O_CREAT | O_WRONLY | O_TRUNC, static_cast<mode_t>(a[1]), 0);
}

// openat2 validates strictly, unlike openat.
Result<uint64_t> Sys_openat2(kernel::Task& t, const Args& a) {
  uint64_t size = a[3];
  if (size < sizeof(open_how)) return Err(EINVAL);
  if (size > kPageSize) return Err(E2BIG);
  open_how how{};
  TRY(t.mm().CopyIn(UserAddr(a[2]), &how, sizeof(how)));
  // Bytes beyond the struct we know must be zero.
  for (uint64_t off = sizeof(how); off < size; ++off) {
    uint8_t b = TRY(t.mm().CopyInObject<uint8_t>(UserAddr(a[2] + off)));
    if (b != 0) return Err(E2BIG);
  }
  if (how.flags & ~static_cast<uint64_t>(kValidOpenFlags)) return Err(EINVAL);
  int flags = static_cast<int>(how.flags);
  // Unlike open, openat2 refuses flags that O_PATH would ignore.
  if ((flags & O_PATH) && (flags & ~(O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC))) {
    return Err(EINVAL);
  }
  bool creating = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
  if (how.mode & ~07777ULL) return Err(EINVAL);
  if (how.mode != 0 && !creating) return Err(EINVAL);
  constexpr uint64_t kKnownResolve = RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS |
                                     RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_IN_ROOT |
                                     RESOLVE_CACHED;
  if (how.resolve & ~kKnownResolve) return Err(EINVAL);
  if ((how.resolve & RESOLVE_BENEATH) && (how.resolve & RESOLVE_IN_ROOT)) return Err(EINVAL);
  if (how.resolve & RESOLVE_CACHED) return Err(EAGAIN);  // no lookup is guaranteed cached
  unsigned resolve = 0;
  if (how.resolve & RESOLVE_NO_XDEV) resolve |= vfs::kNoXdev;
  if (how.resolve & RESOLVE_NO_SYMLINKS) resolve |= vfs::kNoSymlinks;
  if (how.resolve & RESOLVE_NO_MAGICLINKS) resolve |= vfs::kNoMagicLinks;
  if (how.resolve & RESOLVE_BENEATH) resolve |= vfs::kBeneath;
  if (how.resolve & RESOLVE_IN_ROOT) resolve |= vfs::kInRoot;
  return DoOpen(t, ArgInt(a[0]), a[1], flags, static_cast<mode_t>(how.mode), resolve);
}

Result<uint64_t> Sys_close(kernel::Task& t, const Args& a) {
  TRY(t.fds().Close(ArgInt(a[0])));
  return 0;
}

Result<uint64_t> Sys_close_range(kernel::Task& t, const Args& a) {
  unsigned first = static_cast<unsigned>(a[0]), last = static_cast<unsigned>(a[1]);
  unsigned flags = static_cast<unsigned>(a[2]);
  if (flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) return Err(EINVAL);
  if (first > last) return Err(EINVAL);
  // The table is not shared between processes yet, so CLOSE_RANGE_UNSHARE has nothing to do.
  if (flags & CLOSE_RANGE_CLOEXEC) {
    t.fds().SetCloexecRange(first, last);
  } else {
    t.fds().CloseRange(first, last);
  }
  return 0;
}

}  // namespace

void RegisterOpenSyscalls(SyscallTable& t) {
  t.handlers[SYS_open] = Sys_open;
  t.handlers[SYS_openat] = Sys_openat;
  t.handlers[SYS_openat2] = Sys_openat2;
  t.handlers[SYS_creat] = Sys_creat;
  t.handlers[SYS_close] = Sys_close;
  t.handlers[SYS_close_range] = Sys_close_range;
}

}  // namespace sentry::syscalls
