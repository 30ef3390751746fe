// open, openat, openat2, creat, close, close_range, memfd_create.
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/memfd.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "sentry/fsimpl/tmpfs/memfd.h"
#include "sentry/kernel/kernel.h"
#include "sentry/syscalls/path_util.h"
#include "sentry/syscalls/table.h"
#include "sentry/vfs/fsnotify.h"
#include "sentry/vfs/lease.h"

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
  // Leases break with the new description counted among the file's opens, and before O_TRUNC
  // truncates, as Linux's do_dentry_open. O_TRUNC alone does not make a reader a writer.
  TRY(vfs::BreakLease(inode, (flags & O_ACCMODE) != O_RDONLY, flags & O_NONBLOCK));
  // Open, then (for O_TRUNC) modify, as Linux reports them; the close comes with the last
  // reference to the description.
  file->NoteOpenNotified();
  vfs::fsnotify::NotifyFile(*file, vfs::fsnotify::kOpen);
  if ((flags & O_TRUNC) && inode.IsRegular() && (want & W_OK) && !created) {
    vfs::SetStatRequest truncate;
    truncate.size = 0;
    TRY(inode.SetStat(truncate));
    vfs::fsnotify::NotifyFile(*file, vfs::fsnotify::kModify);
  }
  return file;
}

// The kernel's __O_TMPFILE: O_TMPFILE without its O_DIRECTORY (glibc's __O_TMPFILE has both).
constexpr int kTmpfileBit = O_TMPFILE & ~O_DIRECTORY;

// Flags that name how the file was opened rather than how it is used: F_GETFL never shows them.
constexpr int kOpenOnlyFlags = O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC;

// open(O_TMPFILE) (Linux's do_tmpfile): a nameless regular file made by the directory `path`
// names, opened through a name that no lookup finds, "#<inode number>", as Linux names it (so
// /proc/PID/fd shows "DIR/#INO (deleted)"). Without O_EXCL linkat(2) may name it later.
Result<std::shared_ptr<vfs::FileDescription>> OpenTmpFile(kernel::Task& t, vfs::ResolveContext& ctx,
                                                          const vfs::VirtualDentry& start,
                                                          const std::string& path, int flags,
                                                          mode_t mode, unsigned resolve) {
  unsigned follow = (flags & O_NOFOLLOW) ? 0U : unsigned{vfs::kFollowFinal};
  vfs::VirtualDentry dir = TRY(vfs::Resolve(ctx, start, path, resolve | follow | vfs::kMustBeDir));
  if (dir.mount->read_only()) return Err(EROFS);
  struct stat dir_st = TRY(dir.inode().Stat());
  if (!vfs::MayAccess(dir_st, ctx.creds, W_OK | X_OK)) return Err(EACCES);
  auto inode = TRY(dir.inode().TmpFile(mode & 07777 & ~Umask(t), ctx.creds, !(flags & O_EXCL)));
  struct stat st = TRY(inode->Stat());
  auto dentry = vfs::Dentry::NewUnlinked(absl::StrCat("#", st.st_ino), dir.dentry, inode);
  auto file = TRY(inode->Open({dir.mount, std::move(dentry)}, flags & ~(O_TMPFILE | O_CREAT)));
  // F_GETFL goes on showing O_TMPFILE (with its O_DIRECTORY), as on Linux.
  file->set_status_flags(file->status_flags() | O_TMPFILE);
  file->NoteOpenNotified();
  vfs::fsnotify::NotifyFile(*file, vfs::fsnotify::kOpen);
  return file;
}

Result<uint64_t> DoOpen(kernel::Task& t, int dirfd, uint64_t path_addr, int flags, mode_t mode,
                        unsigned resolve) {
  std::string path = TRY(CopyInPath(t, path_addr));
  if (flags & O_PATH) flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;  // the rest ignored
  // Linux 6.4 on: O_CREAT with O_DIRECTORY (which O_TMPFILE includes) is refused.
  if ((flags & (O_DIRECTORY | O_CREAT)) == (O_DIRECTORY | O_CREAT)) return Err(EINVAL);
  // O_TMPFILE needs its O_DIRECTORY (so old kernels fail it) and an access mode that writes.
  bool tmpfile = flags & kTmpfileBit;
  if (tmpfile && (!(flags & O_DIRECTORY) || (flags & O_ACCMODE) == O_RDONLY)) return Err(EINVAL);
  vfs::ResolveContext ctx = MakeResolveContext(t);
  // RESOLVE_IN_ROOT and RESOLVE_BENEATH make even absolute paths start at dirfd.
  bool scoped = resolve & (vfs::kInRoot | vfs::kBeneath);
  vfs::VirtualDentry start = !scoped && !path.empty() && path[0] == '/' ? ctx.root
                                                                        : TRY(StartDir(t, dirfd));
  std::shared_ptr<vfs::FileDescription> file;
  if (tmpfile) {
    file = TRY(OpenTmpFile(t, ctx, start, path, flags, mode, resolve));
  } else if (flags & O_CREAT) {
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
      auto inode = TRY(pn.parent.inode().Create(pn.name, (mode & 07777 & ~Umask(t)), ctx.creds));
      pn.parent.dentry->AddChild(pn.name, inode);
      vfs::fsnotify::NotifyChild(pn.parent.inode(), vfs::fsnotify::kCreate, pn.name, false);
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

// memfd_create(2) flags. MFD_NOEXEC_SEAL and MFD_EXEC (Linux 6.3) are newer than the headers.
constexpr unsigned kMfdNoexecSeal = 0x0008U, kMfdExec = 0x0010U;
constexpr unsigned kMfdFlags =
    MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | kMfdNoexecSeal | kMfdExec;
// The name after "memfd:" fits in NAME_MAX.
constexpr uint64_t kMfdNameMax = NAME_MAX - (sizeof("memfd:") - 1);

Result<uint64_t> Sys_memfd_create(kernel::Task& t, const Args& a) {
  auto flags = static_cast<unsigned>(a[1]);
  // A huge page size may be encoded in the flags only with MFD_HUGETLB.
  unsigned known = kMfdFlags | ((flags & MFD_HUGETLB) ? MFD_HUGE_MASK << MFD_HUGE_SHIFT : 0U);
  if (flags & ~known) return Err(EINVAL);
  if ((flags & kMfdExec) && (flags & kMfdNoexecSeal)) return Err(EINVAL);
  // Room for a NUL after the longest name: a longer one is ENAMETOOLONG here, EINVAL to the app.
  auto name = t.mm().CopyInString(UserAddr(a[0]), kMfdNameMax + 1);
  if (!name) return Err(name.error().value == ENAMETOOLONG ? EINVAL : name.error().value);
  // The sandbox reserves no huge pages (mmap's MAP_HUGETLB is ENOMEM too).
  if (flags & MFD_HUGETLB) return Err(EINVAL);
  auto mount = t.kernel().InternalMount(
      "memfd", [&] { return fsimpl::tmpfs::NewMemfdMount(t.kernel().memory_file()); });
  auto file = TRY(fsimpl::tmpfs::NewMemfd(mount, *name,
                                          {.allow_sealing = (flags & MFD_ALLOW_SEALING) != 0,
                                           .noexec_seal = (flags & kMfdNoexecSeal) != 0},
                                          FsCreds(t)));
  return static_cast<uint64_t>(
      TRY(t.fds().Install(std::move(file), flags & MFD_CLOEXEC, 0, FdLimit(t))));
}

}  // namespace

void RegisterOpenSyscalls(SyscallTable& t) {
  t.handlers[SYS_open] = Sys_open;
  t.handlers[SYS_openat] = Sys_openat;
  t.handlers[SYS_openat2] = Sys_openat2;
  t.handlers[SYS_creat] = Sys_creat;
  t.handlers[SYS_close] = Sys_close;
  t.handlers[SYS_close_range] = Sys_close_range;
  t.handlers[SYS_memfd_create] = Sys_memfd_create;
}

}  // namespace sentry::syscalls
