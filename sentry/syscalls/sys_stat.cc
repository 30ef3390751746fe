// stat family, statx, access family, readlink(at).
#include <fcntl.h>
#include <linux/stat.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sentry/syscalls/path_util.h"
#include "sentry/syscalls/table.h"

namespace sentry::syscalls {
namespace {

Result<uint64_t> StatAt(kernel::Task& t, int dirfd, uint64_t path_addr, uint64_t buf, int flags) {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT)) return Err(EINVAL);
  std::string path = TRY(CopyInPath(t, path_addr));
  struct stat st;
  if (path.empty() && (flags & AT_EMPTY_PATH) && dirfd != AT_FDCWD) {
    auto file = TRY(t.fds().Get(dirfd));  // also files with no place in the tree (stdio, pipes)
    st = TRY(file->Stat());
  } else {
    unsigned rflags = (flags & AT_SYMLINK_NOFOLLOW) ? 0u : unsigned{vfs::kFollowFinal};
    vfs::VirtualDentry vd = TRY(ResolveAt(t, dirfd, path, rflags, flags & AT_EMPTY_PATH));
    st = TRY(vd.inode().Stat());
  }
  TRY(t.mm().CopyOutObject(UserAddr(buf), st));
  return 0;
}

Result<uint64_t> Sys_stat(kernel::Task& t, const Args& a) { return StatAt(t, AT_FDCWD, a[0], a[1], 0); }
Result<uint64_t> Sys_lstat(kernel::Task& t, const Args& a) {
  return StatAt(t, AT_FDCWD, a[0], a[1], AT_SYMLINK_NOFOLLOW);
}
Result<uint64_t> Sys_newfstatat(kernel::Task& t, const Args& a) {
  return StatAt(t, ArgInt(a[0]), a[1], a[2], ArgInt(a[3]));
}

Result<uint64_t> Sys_fstat(kernel::Task& t, const Args& a) {
  auto file = TRY(t.fds().Get(ArgInt(a[0])));
  struct stat st = TRY(file->Stat());
  TRY(t.mm().CopyOutObject(UserAddr(a[1]), st));
  return 0;
}

statx_timestamp ToStatx(const timespec& ts) {
  return statx_timestamp{.tv_sec = ts.tv_sec, .tv_nsec = static_cast<uint32_t>(ts.tv_nsec),
                         .__reserved = 0};
}

Result<uint64_t> Sys_statx(kernel::Task& t, const Args& a) {
  int dirfd = ArgInt(a[0]);
  int flags = ArgInt(a[2]);
  unsigned mask = static_cast<unsigned>(a[3]);
  constexpr int kSyncMask = AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC;
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | kSyncMask)) {
    return Err(EINVAL);
  }
  if ((flags & kSyncMask) == kSyncMask) return Err(EINVAL);
  if (mask & STATX__RESERVED) return Err(EINVAL);
  std::string path = TRY(CopyInPath(t, a[1]));
  struct stat st;
  if (path.empty() && (flags & AT_EMPTY_PATH) && dirfd != AT_FDCWD) {
    auto file = TRY(t.fds().Get(dirfd));
    st = TRY(file->Stat());
  } else {
    unsigned rflags = (flags & AT_SYMLINK_NOFOLLOW) ? 0u : unsigned{vfs::kFollowFinal};
    vfs::VirtualDentry vd = TRY(ResolveAt(t, dirfd, path, rflags, flags & AT_EMPTY_PATH));
    st = TRY(vd.inode().Stat());
  }
  struct statx sx{};
  sx.stx_mask = STATX_BASIC_STATS;
  sx.stx_blksize = static_cast<uint32_t>(st.st_blksize);
  sx.stx_nlink = static_cast<uint32_t>(st.st_nlink);
  sx.stx_uid = st.st_uid;
  sx.stx_gid = st.st_gid;
  sx.stx_mode = static_cast<uint16_t>(st.st_mode);
  sx.stx_ino = st.st_ino;
  sx.stx_size = static_cast<uint64_t>(st.st_size);
  sx.stx_blocks = static_cast<uint64_t>(st.st_blocks);
  sx.stx_atime = ToStatx(st.st_atim);
  sx.stx_ctime = ToStatx(st.st_ctim);
  sx.stx_mtime = ToStatx(st.st_mtim);
  sx.stx_rdev_major = major(st.st_rdev);
  sx.stx_rdev_minor = minor(st.st_rdev);
  sx.stx_dev_major = major(st.st_dev);
  sx.stx_dev_minor = minor(st.st_dev);
  TRY(t.mm().CopyOutObject(UserAddr(a[4]), sx));
  return 0;
}

Result<uint64_t> AccessAt(kernel::Task& t, int dirfd, uint64_t path_addr, int mode, int flags) {
  if (mode & ~(R_OK | W_OK | X_OK)) return Err(EINVAL);
  if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return Err(EINVAL);
  std::string path = TRY(CopyInPath(t, path_addr));
  unsigned rflags = (flags & AT_SYMLINK_NOFOLLOW) ? 0u : unsigned{vfs::kFollowFinal};
  vfs::VirtualDentry vd = TRY(ResolveAt(t, dirfd, path, rflags, flags & AT_EMPTY_PATH));
  if (mode == F_OK) return 0;
  struct stat st = TRY(vd.inode().Stat());
  // access(2) checks with the real ids unless AT_EACCESS; the sandbox's root has both.
  vfs::FsCredentials creds = FsCreds(t);
  if (!(flags & AT_EACCESS)) {
    creds.uid = t.creds().ruid;
    creds.gid = t.creds().rgid;
    creds.dac_override = t.creds().ruid == 0;
  }
  if (!vfs::MayAccess(st, creds, mode)) return Err(EACCES);
  if ((mode & W_OK) && vd.mount->read_only() && !S_ISCHR(st.st_mode) && !S_ISFIFO(st.st_mode) &&
      !S_ISSOCK(st.st_mode)) {
    return Err(EROFS);
  }
  return 0;
}

Result<uint64_t> Sys_access(kernel::Task& t, const Args& a) {
  return AccessAt(t, AT_FDCWD, a[0], ArgInt(a[1]), 0);
}
Result<uint64_t> Sys_faccessat(kernel::Task& t, const Args& a) {
  return AccessAt(t, ArgInt(a[0]), a[1], ArgInt(a[2]), 0);
}
Result<uint64_t> Sys_faccessat2(kernel::Task& t, const Args& a) {
  return AccessAt(t, ArgInt(a[0]), a[1], ArgInt(a[2]), ArgInt(a[3]));
}

Result<uint64_t> ReadLinkAt(kernel::Task& t, int dirfd, uint64_t path_addr, uint64_t buf,
                            uint64_t size) {
  if (static_cast<int>(size) <= 0) return Err(EINVAL);
  std::string path = TRY(CopyInPath(t, path_addr));
  vfs::VirtualDentry vd = TRY(ResolveAt(t, dirfd, path, 0, /*empty_path_ok=*/true));
  if (!vd.inode().IsSymlink()) return Err(path.empty() ? ENOENT : EINVAL);
  std::string target = TRY(vd.inode().ReadLink());
  uint64_t n = std::min<uint64_t>(target.size(), static_cast<unsigned>(size));
  TRY(t.mm().CopyOut(UserAddr(buf), target.data(), n));
  return n;
}

Result<uint64_t> Sys_readlink(kernel::Task& t, const Args& a) {
  return ReadLinkAt(t, AT_FDCWD, a[0], a[1], a[2]);
}
Result<uint64_t> Sys_readlinkat(kernel::Task& t, const Args& a) {
  return ReadLinkAt(t, ArgInt(a[0]), a[1], a[2], a[3]);
}

}  // namespace

void RegisterStatSyscalls(SyscallTable& t) {
  t.handlers[SYS_stat] = Sys_stat;
  t.handlers[SYS_lstat] = Sys_lstat;
  t.handlers[SYS_fstat] = Sys_fstat;
  t.handlers[SYS_newfstatat] = Sys_newfstatat;
  t.handlers[SYS_statx] = Sys_statx;
  t.handlers[SYS_access] = Sys_access;
  t.handlers[SYS_faccessat] = Sys_faccessat;
  t.handlers[SYS_faccessat2] = Sys_faccessat2;
  t.handlers[SYS_readlink] = Sys_readlink;
  t.handlers[SYS_readlinkat] = Sys_readlinkat;
}

}  // namespace sentry::syscalls
