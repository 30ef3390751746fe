// File attributes and durability: chmod, chown, truncate, utimes, fsync and sync, statfs.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "sentry/fsimpl/gofer/page_cache.h"
#include "sentry/syscalls/path_util.h"
#include "sentry/syscalls/table.h"
#include "sentry/vfs/fsnotify.h"
#include "sentry/vfs/lease.h"

namespace sentry::syscalls {
namespace {

// Linux's statfs f_flags bits that glibc's <sys/statvfs.h> leaves out.
constexpr long kStValid = 0x0020;        // ST_VALID: f_flags is filled in
constexpr long kStNoSymFollow = 0x2000;  // ST_NOSYMFOLLOW

using TimePair = std::array<timespec, 2>;
using TimevalPair = std::array<timeval, 2>;

// A file to change: its place, checked against read-only mounts.
Result<vfs::VirtualDentry> Target(kernel::Task& t, int dirfd, uint64_t path_addr, int flags,
                                  bool allow_empty) {
  std::string path = TRY(CopyInPath(t, path_addr));
  unsigned rflags = (flags & AT_SYMLINK_NOFOLLOW) ? 0u : unsigned{vfs::kFollowFinal};
  vfs::VirtualDentry vd =
      TRY(ResolveAt(t, dirfd, path, rflags, allow_empty && (flags & AT_EMPTY_PATH)));
  return vd;
}

Result<vfs::VirtualDentry> FdTarget(kernel::Task& t, int fd) {
  auto file = TRY(t.fds().Get(fd));
  if (!file->path().dentry) return Err(EBADF);
  return file->path();
}

// What a change of attributes reports (Linux's fsnotify_change): owner, mode or both times are
// IN_ATTRIB, a new size IN_MODIFY, the access time alone IN_ACCESS, the change time alone
// IN_MODIFY.
uint32_t EventOf(const vfs::SetStatRequest& req) {
  uint32_t mask = 0;
  if (req.uid || req.gid || req.mode) mask |= vfs::fsnotify::kAttrib;
  if (req.size) mask |= vfs::fsnotify::kModify;
  if (req.atime && req.mtime) {
    mask |= vfs::fsnotify::kAttrib;
  } else if (req.atime) {
    mask |= vfs::fsnotify::kAccess;
  } else if (req.mtime) {
    mask |= vfs::fsnotify::kModify;
  }
  return mask;
}

// Only the owner (or CAP_FOWNER) may change mode and times explicitly; chown needs CAP_CHOWN.
Result<void> Apply(kernel::Task& t, const vfs::VirtualDentry& vd, const vfs::SetStatRequest& req,
                   bool owner_only) {
  if (vd.mount->read_only()) return Err(EROFS);
  if (owner_only && !t.creds().HasCapability(CAP_FOWNER)) {
    struct stat st = TRY(vd.inode().Stat());
    if (st.st_uid != t.creds().euid) return Err(EPERM);
  }
  TRY(vd.inode().SetStat(req));
  vfs::fsnotify::NotifyDentry(*vd.dentry, EventOf(req));
  return {};
}

vfs::SetStatRequest ModeRequest(mode_t mode) {
  vfs::SetStatRequest r;
  r.mode = mode & 07777;
  return r;
}

Result<uint64_t> Sys_chmod(kernel::Task& t, const Args& a) {
  TRY(Apply(t, TRY(Target(t, AT_FDCWD, a[0], 0, false)), ModeRequest(a[1]), true));
  return 0;
}
Result<uint64_t> Sys_fchmod(kernel::Task& t, const Args& a) {
  TRY(Apply(t, TRY(FdTarget(t, ArgInt(a[0]))), ModeRequest(a[1]), true));
  return 0;
}
Result<uint64_t> Sys_fchmodat(kernel::Task& t, const Args& a) {
  TRY(Apply(t, TRY(Target(t, ArgInt(a[0]), a[1], 0, false)), ModeRequest(a[2]), true));
  return 0;
}

Result<uint64_t> Chown(kernel::Task& t, const vfs::VirtualDentry& vd, uint64_t uid, uint64_t gid) {
  vfs::SetStatRequest r;
  if (static_cast<uint32_t>(uid) != static_cast<uint32_t>(-1)) r.uid = static_cast<uint32_t>(uid);
  if (static_cast<uint32_t>(gid) != static_cast<uint32_t>(-1)) r.gid = static_cast<uint32_t>(gid);
  if (!t.creds().HasCapability(CAP_CHOWN) && (r.uid || r.gid)) return Err(EPERM);
  if (!r.uid && !r.gid) {
    if (vd.mount->read_only()) return Err(EROFS);
    return 0;
  }
  TRY(Apply(t, vd, r, false));
  return 0;
}

Result<uint64_t> Sys_chown(kernel::Task& t, const Args& a) {
  return Chown(t, TRY(Target(t, AT_FDCWD, a[0], 0, false)), a[1], a[2]);
}
Result<uint64_t> Sys_lchown(kernel::Task& t, const Args& a) {
  return Chown(t, TRY(Target(t, AT_FDCWD, a[0], AT_SYMLINK_NOFOLLOW, false)), a[1], a[2]);
}
Result<uint64_t> Sys_fchown(kernel::Task& t, const Args& a) {
  return Chown(t, TRY(FdTarget(t, ArgInt(a[0]))), a[1], a[2]);
}
Result<uint64_t> Sys_fchownat(kernel::Task& t, const Args& a) {
  int flags = ArgInt(a[4]);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return Err(EINVAL);
  return Chown(t, TRY(Target(t, ArgInt(a[0]), a[1], flags, true)), a[2], a[3]);
}

Result<uint64_t> Sys_truncate(kernel::Task& t, const Args& a) {
  if (static_cast<int64_t>(a[1]) < 0) return Err(EINVAL);
  vfs::VirtualDentry vd = TRY(Target(t, AT_FDCWD, a[0], 0, false));
  if (vd.inode().IsDir()) return Err(EISDIR);
  if (!vd.inode().IsRegular()) return Err(EINVAL);
  struct stat st = TRY(vd.inode().Stat());
  if (!vfs::MayAccess(st, FsCreds(t), W_OK)) return Err(EACCES);
  // Linux's vfs_truncate breaks leases as an open for writing would (ftruncate(2) does not:
  // its writable fd has broken them already).
  if (vd.mount->read_only()) return Err(EROFS);
  TRY(vfs::BreakLease(vd.inode(), /*want_write=*/true, /*nonblocking=*/false));
  vfs::SetStatRequest r;
  r.size = a[1];
  TRY(Apply(t, vd, r, false));
  return 0;
}

Result<uint64_t> Sys_ftruncate(kernel::Task& t, const Args& a) {
  if (static_cast<int64_t>(a[1]) < 0) return Err(EINVAL);
  auto file = TRY(t.fds().Get(ArgInt(a[0])));
  if (file->IsPath()) return Err(EBADF);
  if (!file->Writable() || !file->path().dentry || !file->path().inode().IsRegular()) {
    return Err(EINVAL);
  }
  TRY(file->Truncate(a[1]));
  vfs::fsnotify::NotifyFile(*file, vfs::fsnotify::kModify);
  return 0;
}

// Resolves UTIME_NOW/UTIME_OMIT into the request.
Result<void> SetTimes(vfs::SetStatRequest& r, const timespec ts[2]) {
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  std::optional<timespec>* fields[2] = {&r.atime, &r.mtime};
  for (int i = 0; i < 2; ++i) {
    if (ts[i].tv_nsec == UTIME_OMIT) continue;
    if (ts[i].tv_nsec == UTIME_NOW) {
      *fields[i] = now;
    } else if (ts[i].tv_nsec < 0 || ts[i].tv_nsec >= 1000000000) {
      return Err(EINVAL);
    } else {
      *fields[i] = ts[i];
    }
  }
  return {};
}

Result<uint64_t> UtimensAt(kernel::Task& t, int dirfd, uint64_t path_addr,
                           std::optional<std::array<timespec, 2>> times, int flags) {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return Err(EINVAL);
  vfs::VirtualDentry vd;
  if (path_addr == 0) {
    // utimensat(fd, NULL, ...) changes fd's own file (glibc's futimens).
    if (dirfd == AT_FDCWD) return Err(EFAULT);
    vd = TRY(FdTarget(t, dirfd));
  } else {
    vd = TRY(Target(t, dirfd, path_addr, flags, true));
  }
  timespec ts[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
  bool explicit_times = false;
  if (times) {
    ts[0] = (*times)[0];
    ts[1] = (*times)[1];
    explicit_times = !(ts[0].tv_nsec == UTIME_NOW && ts[1].tv_nsec == UTIME_NOW);
  }
  vfs::SetStatRequest r;
  TRY(SetTimes(r, ts));
  if (!r.atime && !r.mtime) return 0;
  if (!explicit_times && !t.creds().HasCapability(CAP_FOWNER)) {
    // Setting "now" needs ownership or write permission.
    struct stat st = TRY(vd.inode().Stat());
    if (st.st_uid != t.creds().euid && !vfs::MayAccess(st, FsCreds(t), W_OK)) return Err(EACCES);
  }
  TRY(Apply(t, vd, r, explicit_times));
  return 0;
}

Result<uint64_t> Sys_utimensat(kernel::Task& t, const Args& a) {
  std::optional<std::array<timespec, 2>> times;
  if (a[2] != 0) times = TRY(t.mm().CopyInObject<TimePair>(UserAddr(a[2])));
  return UtimensAt(t, ArgInt(a[0]), a[1], times, ArgInt(a[3]));
}

Result<uint64_t> FutimesAt(kernel::Task& t, int dirfd, uint64_t path_addr, uint64_t tv_addr) {
  std::optional<std::array<timespec, 2>> times;
  if (tv_addr != 0) {
    auto tv = TRY(t.mm().CopyInObject<TimevalPair>(UserAddr(tv_addr)));
    for (const auto& v : tv) {
      if (v.tv_usec < 0 || v.tv_usec >= 1000000) return Err(EINVAL);
    }
    times = std::array<timespec, 2>{timespec{tv[0].tv_sec, tv[0].tv_usec * 1000},
                                    timespec{tv[1].tv_sec, tv[1].tv_usec * 1000}};
  }
  return UtimensAt(t, dirfd, path_addr, times, 0);
}

Result<uint64_t> Sys_utimes(kernel::Task& t, const Args& a) {
  return FutimesAt(t, AT_FDCWD, a[0], a[1]);
}
Result<uint64_t> Sys_futimesat(kernel::Task& t, const Args& a) {
  return FutimesAt(t, ArgInt(a[0]), a[1], a[2]);
}
Result<uint64_t> Sys_utime(kernel::Task& t, const Args& a) {
  std::optional<std::array<timespec, 2>> times;
  if (a[1] != 0) {
    auto ub = TRY(t.mm().CopyInObject<struct utimbuf>(UserAddr(a[1])));
    times = std::array<timespec, 2>{timespec{ub.actime, 0}, timespec{ub.modtime, 0}};
  }
  return UtimensAt(t, AT_FDCWD, a[0], times, 0);
}

Result<uint64_t> Sys_fsync(kernel::Task& t, const Args& a) {
  auto file = TRY(t.fds().Get(ArgInt(a[0])));
  if (file->IsPath()) return Err(EBADF);
  TRY(file->Sync());
  return 0;
}

// Only stores through MAP_SHARED mappings of host files are buffered (the gofer's page caches);
// syncfs writes back those of every file system, a superset of what it must.
Result<uint64_t> Sys_sync(kernel::Task&, const Args&) {
  fsimpl::gofer::SyncAllPageCaches();
  return 0;
}

Result<uint64_t> Sys_syncfs(kernel::Task& t, const Args& a) {
  auto file = TRY(t.fds().Get(ArgInt(a[0])));
  if (file->IsPath()) return Err(EBADF);
  fsimpl::gofer::SyncAllPageCaches();
  return 0;
}

Result<uint64_t> Sys_sync_file_range(kernel::Task& t, const Args& a) {
  auto file = TRY(t.fds().Get(ArgInt(a[0])));
  unsigned flags = static_cast<unsigned>(a[3]);
  if (flags & ~7u) return Err(EINVAL);
  if (static_cast<int64_t>(a[1]) < 0 || static_cast<int64_t>(a[2]) < 0) return Err(EINVAL);
  if (file->path().dentry && !file->path().inode().IsRegular() && !file->path().inode().IsDir() &&
      !S_ISBLK(file->path().inode().type())) {
    return Err(ESPIPE);
  }
  return 0;
}

// statfs(2) of the file system at `vd`; f_flags describe the mount, as Linux's
// calculate_f_flags makes them (ST_VALID says the field is filled in).
Result<struct statfs> StatFsAt(const vfs::VirtualDentry& vd) {
  struct statfs st = TRY(vd.inode().StatFs());
  int m = vd.mount->flags();
  long flags = kStValid;
  if (m & MS_RDONLY) flags |= ST_RDONLY;
  if (m & MS_NOSUID) flags |= ST_NOSUID;
  if (m & MS_NODEV) flags |= ST_NODEV;
  if (m & MS_NOEXEC) flags |= ST_NOEXEC;
  if (m & MS_NOATIME) flags |= ST_NOATIME;
  if (m & MS_NODIRATIME) flags |= ST_NODIRATIME;
  if (!(m & (MS_NOATIME | MS_STRICTATIME))) flags |= ST_RELATIME;
  if (m & MS_NOSYMFOLLOW) flags |= kStNoSymFollow;
  st.f_flags = flags;
  return st;
}

Result<uint64_t> Sys_statfs(kernel::Task& t, const Args& a) {
  vfs::VirtualDentry vd = TRY(Target(t, AT_FDCWD, a[0], 0, false));
  struct statfs st = TRY(StatFsAt(vd));
  TRY(t.mm().CopyOutObject(UserAddr(a[1]), st));
  return 0;
}

Result<uint64_t> Sys_fstatfs(kernel::Task& t, const Args& a) {
  vfs::VirtualDentry vd = TRY(FdTarget(t, ArgInt(a[0])));
  struct statfs st = TRY(StatFsAt(vd));
  TRY(t.mm().CopyOutObject(UserAddr(a[1]), st));
  return 0;
}

}  // namespace

void RegisterAttrSyscalls(SyscallTable& t) {
  t.handlers[SYS_chmod] = Sys_chmod;
  t.handlers[SYS_fchmod] = Sys_fchmod;
  t.handlers[SYS_fchmodat] = Sys_fchmodat;
  t.handlers[SYS_chown] = Sys_chown;
  t.handlers[SYS_lchown] = Sys_lchown;
  t.handlers[SYS_fchown] = Sys_fchown;
  t.handlers[SYS_fchownat] = Sys_fchownat;
  t.handlers[SYS_truncate] = Sys_truncate;
  t.handlers[SYS_ftruncate] = Sys_ftruncate;
  t.handlers[SYS_utimensat] = Sys_utimensat;
  t.handlers[SYS_utimes] = Sys_utimes;
  t.handlers[SYS_futimesat] = Sys_futimesat;
  t.handlers[SYS_utime] = Sys_utime;
  t.handlers[SYS_fsync] = Sys_fsync;
  t.handlers[SYS_fdatasync] = Sys_fsync;
  t.handlers[SYS_sync] = Sys_sync;
  t.handlers[SYS_syncfs] = Sys_syncfs;
  t.handlers[SYS_sync_file_range] = Sys_sync_file_range;
  t.handlers[SYS_statfs] = Sys_statfs;
  t.handlers[SYS_fstatfs] = Sys_fstatfs;
}

}  // namespace sentry::syscalls
