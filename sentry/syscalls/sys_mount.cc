// mount, umount2: changes to the sandbox's mount tree, for root in the sandbox.
//
// The checks and their order follow Linux's fs/namespace.c: the target is resolved first (so a
// missing target is ENOENT even for an unprivileged caller), then the caller must be root, then
// the flags pick one operation: MS_REMOUNT|MS_BIND (change a mount's flags), MS_REMOUNT (also
// the file system's options), MS_BIND, a propagation change, MS_MOVE, or a new mount.
#include <fcntl.h>
#include <linux/limits.h>
#include <sys/mount.h>
#include <sys/syscall.h>

#include <algorithm>
#include <bit>
#include <optional>

#include "sentry/kernel/kernel.h"
#include "sentry/syscalls/path_util.h"
#include "sentry/syscalls/table.h"
#include "sentry/vfs/fsnotify.h"

namespace sentry::syscalls {
namespace {

constexpr uint64_t kPropagationFlags = MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE;
constexpr uint64_t kAtimeFlags = MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME;

// The type and source strings (copy_mount_string): EFAULT, or EINVAL beyond PATH_MAX.
Result<std::optional<std::string>> CopyInMountString(kernel::Task& t, uint64_t addr) {
  if (addr == 0) return std::optional<std::string>();
  auto s = t.mm().CopyInString(UserAddr(addr), PATH_MAX - 1);
  if (!s) return Err(s.error().value == ENAMETOOLONG ? EINVAL : s.error().value);
  return std::optional<std::string>(std::move(*s));
}

// The data page (copy_mount_options): at most a page, cut at its last byte, and only what is
// readable of it; EFAULT when none is.
Result<std::optional<std::string>> CopyInMountData(kernel::Task& t, uint64_t addr) {
  if (addr == 0) return std::optional<std::string>();
  constexpr uint64_t kMax = kPageSize - 1;
  auto s = t.mm().CopyInString(UserAddr(addr), kMax);
  if (s) return std::optional<std::string>(std::move(*s));
  std::string out;
  for (uint64_t i = 0; i < kMax; ++i) {
    char c;
    if (!t.mm().CopyIn(UserAddr(addr + i), &c, 1) || c == '\0') break;
    out.push_back(c);
  }
  if (out.empty() && s.error().value == EFAULT) {
    char c;
    if (!t.mm().CopyIn(UserAddr(addr), &c, 1)) return Err(EFAULT);
  }
  return std::optional<std::string>(std::move(out));
}

bool IsMountRoot(const vfs::VirtualDentry& vd) { return vd.dentry == vd.mount->root(); }

// The per-mount flags mount(2)'s flags ask for (path_mount's mnt_flags). A remount that names no
// atime mode keeps the mount's.
int MountFlagsFor(uint64_t flags, const vfs::Mount* remounted) {
  int out = static_cast<int>(flags) & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME |
                                       MS_NODIRATIME | MS_NOSYMFOLLOW);
  if (flags & MS_STRICTATIME) out = (out & ~MS_NOATIME) | MS_STRICTATIME;
  if (remounted != nullptr && !(flags & kAtimeFlags)) {
    out = (out & ~(MS_NOATIME | MS_NODIRATIME | MS_STRICTATIME)) |
          (remounted->flags() & (MS_NOATIME | MS_NODIRATIME | MS_STRICTATIME));
  }
  return out;
}

// The options every file system takes (Linux's vfs_parse_sb_flag and "source"), taken out of
// `options`; what is left is the file system's own.
struct GenericOptions {
  std::optional<bool> read_only;  // the last of ro/rw
  std::optional<std::string> source;
};
Result<GenericOptions> TakeGenericOptions(std::vector<vfs::MountOption>& options) {
  static constexpr std::string_view kForbidden[] = {
      "bind",  "move",   "private", "rec",      "remount",     "shared", "slave", "unbindable",
      "rbind", "rslave", "rshared", "rprivate", "runbindable", "user",   "nouser"};
  static constexpr std::string_view kIgnored[] = {"sync",       "async",  "dirsync", "lazytime",
                                                  "nolazytime", "mand",   "nomand",  "iversion",
                                                  "noiversion", "silent", "loud"};
  GenericOptions out;
  std::vector<vfs::MountOption> rest;
  for (auto& o : options) {
    if (std::find(std::begin(kForbidden), std::end(kForbidden), o.key) != std::end(kForbidden)) {
      return Err(EINVAL);
    }
    if (o.key == "ro" || o.key == "rw") {
      out.read_only = o.key == "ro";
    } else if (std::find(std::begin(kIgnored), std::end(kIgnored), o.key) != std::end(kIgnored)) {
    } else if (o.key == "source") {
      if (!o.has_value || out.source) return Err(EINVAL);
      out.source = o.value;
    } else {
      rest.push_back(std::move(o));
    }
  }
  options = std::move(rest);
  return out;
}

// MS_REMOUNT without MS_BIND: the file system's options, then the mount's flags.
Result<void> Remount(kernel::Task& t, const vfs::VirtualDentry& at, uint64_t flags,
                     const std::optional<std::string>& data) {
  auto options = vfs::SplitMountOptions(data.value_or(""));
  GenericOptions generic = TRY(TakeGenericOptions(options));
  if (generic.source) return Err(EINVAL);
  const vfs::FilesystemType* type = t.kernel().filesystems().Find(at.mount->fs_type());
  if (type != nullptr && type->remount) {
    TRY(type->remount(at.mount->root()->inode(), options));
  } else if (!options.empty()) {
    return Err(EINVAL);
  }
  int mnt_flags = MountFlagsFor(flags, at.mount.get());
  if (generic.read_only.value_or(false)) mnt_flags |= MS_RDONLY;
  return t.kernel().mounts().SetFlags(*at.mount, mnt_flags);
}

// A new instance of file system `type_name` on `at`.
Result<void> NewMount(kernel::Task& t, const vfs::VirtualDentry& at, uint64_t flags,
                      const std::optional<std::string>& type_name,
                      const std::optional<std::string>& source,
                      const std::optional<std::string>& data) {
  if (!type_name) return Err(EINVAL);
  const vfs::FilesystemType* type = t.kernel().filesystems().Find(*type_name);
  if (type == nullptr) return Err(ENODEV);
  vfs::MountArgs args;
  args.options = vfs::SplitMountOptions(data.value_or(""));
  GenericOptions generic = TRY(TakeGenericOptions(args.options));
  if (source && generic.source) return Err(EINVAL);  // "Multiple sources"
  args.source = source ? *source : generic.source ? *generic.source : "none";
  args.creds = FsCreds(t);
  std::shared_ptr<vfs::Inode> root = TRY(type->mount(args));
  vfs::MountNamespace& mounts = t.kernel().mounts();
  if (!mounts.Contains(*at.mount)) return Err(EINVAL);
  // The same file system twice on one place is refused (a shared instance such as sysfs).
  if (IsMountRoot(at) && at.inode().FilesystemId() == root->FilesystemId()) return Err(EBUSY);
  int mnt_flags = MountFlagsFor(flags, nullptr);
  if (generic.read_only.value_or(false)) mnt_flags |= MS_RDONLY;
  auto mount = std::make_shared<vfs::Mount>(vfs::Dentry::NewRoot(std::move(root)), *type_name,
                                            args.source, mnt_flags);
  return mounts.AddMount(at, std::move(mount));
}

Result<uint64_t> Sys_mount(kernel::Task& t, const Args& a) {
  auto type = TRY(CopyInMountString(t, a[2]));
  auto source = TRY(CopyInMountString(t, a[0]));
  auto data = TRY(CopyInMountData(t, a[4]));
  uint64_t flags = a[3];
  if ((flags & MS_MGC_MSK) == MS_MGC_VAL) flags &= ~uint64_t{MS_MGC_MSK};
  std::string target = TRY(CopyInPath(t, a[1]));
  vfs::VirtualDentry at = TRY(ResolveAt(t, AT_FDCWD, target, vfs::kFollowFinal));
  if (flags & MS_NOUSER) return Err(EINVAL);
  if (!t.creds().HasCapability(CAP_SYS_ADMIN)) return Err(EPERM);
  vfs::MountNamespace& mounts = t.kernel().mounts();

  if ((flags & (MS_REMOUNT | MS_BIND)) == (MS_REMOUNT | MS_BIND)) {
    if (!mounts.Contains(*at.mount) || !IsMountRoot(at)) return Err(EINVAL);
    TRY(mounts.SetFlags(*at.mount, MountFlagsFor(flags, at.mount.get())));
    return 0;
  }
  if (flags & MS_REMOUNT) {
    if (!mounts.Contains(*at.mount) || !IsMountRoot(at)) return Err(EINVAL);
    TRY(Remount(t, at, flags, data));
    return 0;
  }
  if (flags & MS_BIND) {
    if (!source || source->empty()) return Err(EINVAL);
    vfs::VirtualDentry from = TRY(ResolveAt(t, AT_FDCWD, *source, vfs::kFollowFinal));
    if (!mounts.Contains(*at.mount) || !mounts.Contains(*from.mount)) return Err(EINVAL);
    TRY(mounts.AddMount(at, mounts.CloneTree(from, flags & MS_REC)));
    return 0;
  }
  if (flags & kPropagationFlags) {
    // The sandbox's namespace shares nothing with anyone: every mount is private already, and
    // a change of propagation type has nothing to change. Linux's checks still apply.
    if (!IsMountRoot(at)) return Err(EINVAL);
    uint64_t kind = flags & ~uint64_t{MS_REC | MS_SILENT};
    if ((kind & ~kPropagationFlags) != 0 || !std::has_single_bit(kind)) return Err(EINVAL);
    if (!mounts.Contains(*at.mount)) return Err(EINVAL);
    return 0;
  }
  if (flags & MS_MOVE) {
    if (!source || source->empty()) return Err(EINVAL);
    vfs::VirtualDentry from = TRY(ResolveAt(t, AT_FDCWD, *source, vfs::kFollowFinal));
    if (!IsMountRoot(from)) return Err(EINVAL);
    TRY(mounts.Move(from.mount, at));
    return 0;
  }
  TRY(NewMount(t, at, flags, type, source, data));
  return 0;
}

// Watches on a file system's files end (IN_UNMOUNT) when its last mount goes, as Linux's do
// when the superblock does; a lazily detached mount that something still uses keeps it.
void NotifyUnmounted(vfs::MountNamespace& mounts, std::shared_ptr<vfs::Mount> gone) {
  if (!vfs::fsnotify::Active() || gone.use_count() > 1) return;
  const void* fs = gone->root()->inode().FilesystemId();
  for (const auto& m : mounts.Mounts()) {
    if (m->root()->inode().FilesystemId() == fs) return;
  }
  gone.reset();
  vfs::fsnotify::Unmounted(fs);
}

Result<uint64_t> Sys_umount2(kernel::Task& t, const Args& a) {
  int flags = ArgInt(a[1]);
  if (flags & ~(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW)) return Err(EINVAL);
  std::string target = TRY(CopyInPath(t, a[0]));
  unsigned rflags = (flags & UMOUNT_NOFOLLOW) ? 0u : unsigned{vfs::kFollowFinal};
  vfs::VirtualDentry vd = TRY(ResolveAt(t, AT_FDCWD, target, rflags));
  if (!t.creds().HasCapability(CAP_SYS_ADMIN)) return Err(EPERM);
  vfs::MountNamespace& mounts = t.kernel().mounts();
  if (!IsMountRoot(vd) || !mounts.Contains(*vd.mount)) return Err(EINVAL);
  // MNT_FORCE asks file systems to abort what is in flight; none here has anything to abort.
  std::shared_ptr<vfs::Mount> mount = std::move(vd.mount);
  vd = {};
  // Only `mount` itself is the caller's reference now.
  if (flags & MNT_EXPIRE) {
    if (flags & (MNT_FORCE | MNT_DETACH)) return Err(EINVAL);
    {
      std::lock_guard lock(t.fs().mu);
      if (t.fs().root.mount == mount) return Err(EINVAL);
    }
    TRY(mounts.Expire(mount, 1));
    return 0;
  }
  {
    // The caller's root cannot go from under it (Linux would try to make it read-only).
    std::lock_guard lock(t.fs().mu);
    if (t.fs().root.mount == mount && !(flags & MNT_DETACH)) return Err(EBUSY);
  }
  TRY(mounts.Unmount(mount, flags & MNT_DETACH, 1));
  NotifyUnmounted(mounts, std::move(mount));
  return 0;
}

}  // namespace

void RegisterMountSyscalls(SyscallTable& t) {
  t.handlers[SYS_mount] = Sys_mount;
  t.handlers[SYS_umount2] = Sys_umount2;
}

}  // namespace sentry::syscalls
