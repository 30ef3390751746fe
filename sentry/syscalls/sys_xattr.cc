// Extended attributes: getxattr, setxattr, listxattr, removexattr and their l* (no final symlink
// follow) and f* (open file) forms. The checks are Linux's (fs/xattr.c) in Linux's order: the
// name is copied in before the file is looked up, the namespace rules of xattr_permission come
// before the file system sees the call, and only user.*, trusted.* and security.* have a
// handler (system.*, the POSIX ACLs, do not: EOPNOTSUPP, as on a kernel without them). tmpfs and
// the overlay's upper layer keep attributes; other file systems say EOPNOTSUPP and list none.
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/xattr.h>

#include <cstring>

#include "sentry/syscalls/path_util.h"
#include "sentry/syscalls/table.h"
#include "sentry/vfs/fsnotify.h"
#include "sentry/vfs/xattr.h"

namespace sentry::syscalls {
namespace {

using vfs::XattrNamespace;

// strncpy_from_user into a buffer of XATTR_NAME_MAX + 1: an empty name or one without a NUL in
// that many bytes is ERANGE.
Result<std::string> CopyInXattrName(kernel::Task& t, uint64_t addr) {
  auto name = t.mm().CopyInString(UserAddr(addr), vfs::kXattrNameMax + 1);
  if (!name) return Err(name.error().value == ENAMETOOLONG ? ERANGE : name.error().value);
  if (name->empty()) return Err(ERANGE);
  return name;
}

// The file a call names: by path (following a final symlink or not), or by an open file, which
// must not be O_PATH (Linux takes it with fdget, not fdget_raw).
Result<vfs::VirtualDentry> PathTarget(kernel::Task& t, uint64_t path_addr, bool follow) {
  std::string path = TRY(CopyInPath(t, path_addr));
  return ResolveAt(t, AT_FDCWD, path, follow ? unsigned{vfs::kFollowFinal} : 0u);
}

Result<vfs::VirtualDentry> FdTarget(kernel::Task& t, int fd) {
  auto file = TRY(t.fds().Get(fd));
  if (file->IsPath() || !file->path().dentry) return Err(EBADF);
  return file->path();
}

bool IsOwnerOrCapable(kernel::Task& t, const struct stat& st) {
  return st.st_uid == t.creds().euid || t.creds().HasCapability(CAP_FOWNER);
}

// Linux's xattr_permission. `write` for set and remove.
Result<void> CheckXattrPermission(kernel::Task& t, vfs::Inode& inode, std::string_view name,
                                  bool write) {
  struct stat st = TRY(inode.Stat());
  switch (vfs::XattrNamespaceOf(name)) {
    case XattrNamespace::kSecurity:
    case XattrNamespace::kSystem:
      return {};  // left to the file system and the security module
    case XattrNamespace::kTrusted:
      if (!t.creds().HasCapability(CAP_SYS_ADMIN)) return Err(write ? EPERM : ENODATA);
      return {};
    case XattrNamespace::kUser:
      if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) return Err(write ? EPERM : ENODATA);
      if (S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX) && write && !IsOwnerOrCapable(t, st)) {
        return Err(EPERM);
      }
      break;
    case XattrNamespace::kOther:
      break;
  }
  if (!vfs::MayAccess(st, FsCreds(t), write ? W_OK : R_OK)) return Err(EACCES);
  return {};
}

// Only user.*, trusted.* and security.* have a handler.
bool HasHandler(std::string_view name) {
  auto ns = vfs::XattrNamespaceOf(name);
  return ns == XattrNamespace::kUser || ns == XattrNamespace::kTrusted ||
         ns == XattrNamespace::kSecurity;
}

// The capability module's rules for security.*: file capabilities need CAP_SETFCAP and a
// revision 2 or 3 vfs_cap_data of its exact size (cap_convert_nscap's validheader); other
// security.* names need CAP_SYS_ADMIN. `value` is null for a removal.
Result<void> CheckSecurityChange(kernel::Task& t, std::string_view name, const std::string* value) {
  if (vfs::XattrNamespaceOf(name) != XattrNamespace::kSecurity) return {};
  if (name != "security.capability") {
    if (!t.creds().HasCapability(CAP_SYS_ADMIN)) return Err(EPERM);
    return {};
  }
  if (value != nullptr) {
    uint32_t magic = 0;
    if (value->size() >= sizeof(magic)) memcpy(&magic, value->data(), sizeof(magic));
    const uint32_t revision = magic & VFS_CAP_REVISION_MASK;
    const bool valid = (revision == VFS_CAP_REVISION_2 && value->size() == XATTR_CAPS_SZ_2) ||
                       (revision == VFS_CAP_REVISION_3 && value->size() == XATTR_CAPS_SZ_3);
    if (!valid) return Err(EINVAL);
  }
  if (!t.creds().HasCapability(CAP_SETFCAP)) return Err(EPERM);
  return {};
}

Result<uint64_t> GetXattr(kernel::Task& t, const vfs::VirtualDentry& vd, const std::string& name,
                          uint64_t value_addr, uint64_t size) {
  vfs::Inode& inode = vd.inode();
  TRY(CheckXattrPermission(t, inode, name, /*write=*/false));
  if (!HasHandler(name)) return Err(EOPNOTSUPP);
  std::string value = TRY(inode.GetXattr(name));
  if (size == 0) return value.size();
  if (value.size() > std::min<uint64_t>(size, vfs::kXattrSizeMax)) {
    return Err(size >= vfs::kXattrSizeMax ? E2BIG : ERANGE);
  }
  TRY(t.mm().CopyOut(UserAddr(value_addr), value.data(), value.size()));
  return value.size();
}

Result<uint64_t> SetXattr(kernel::Task& t, const vfs::VirtualDentry& vd, const std::string& name,
                          const std::string& value, int flags) {
  if (vd.mount->read_only()) return Err(EROFS);
  vfs::Inode& inode = vd.inode();
  TRY(CheckXattrPermission(t, inode, name, /*write=*/true));
  TRY(CheckSecurityChange(t, name, &value));
  if (!HasHandler(name)) return Err(EOPNOTSUPP);
  TRY(inode.SetXattr(name, value, flags));
  vfs::fsnotify::NotifyDentry(*vd.dentry, vfs::fsnotify::kAttrib);  // Linux's fsnotify_xattr
  return 0;
}

Result<uint64_t> RemoveXattr(kernel::Task& t, const vfs::VirtualDentry& vd,
                             const std::string& name) {
  if (vd.mount->read_only()) return Err(EROFS);
  vfs::Inode& inode = vd.inode();
  TRY(CheckXattrPermission(t, inode, name, /*write=*/true));
  TRY(CheckSecurityChange(t, name, nullptr));
  if (!HasHandler(name)) return Err(EOPNOTSUPP);
  TRY(inode.RemoveXattr(name));
  vfs::fsnotify::NotifyDentry(*vd.dentry, vfs::fsnotify::kAttrib);  // Linux's fsnotify_xattr
  return 0;
}

// No permission is needed to list; trusted.* names are shown only to CAP_SYS_ADMIN.
Result<uint64_t> ListXattr(kernel::Task& t, const vfs::VirtualDentry& vd, uint64_t list_addr,
                           uint64_t size) {
  std::vector<std::string> names = TRY(vd.inode().ListXattr());
  const bool show_trusted = t.creds().HasCapability(CAP_SYS_ADMIN);
  std::string list;
  for (const auto& name : names) {
    if (!show_trusted && vfs::XattrNamespaceOf(name) == XattrNamespace::kTrusted) continue;
    list.append(name);
    list.push_back('\0');
  }
  if (size == 0) return list.size();
  if (list.size() > std::min<uint64_t>(size, vfs::kXattrListMax)) {
    return Err(size >= vfs::kXattrListMax ? E2BIG : ERANGE);
  }
  TRY(t.mm().CopyOut(UserAddr(list_addr), list.data(), list.size()));
  return list.size();
}

// setxattr's own checks, before the file is looked up: flags, the name, then the value.
struct SetRequest {
  std::string name;
  std::string value;
  int flags;
};

Result<SetRequest> CopyInSetRequest(kernel::Task& t, const Args& a) {
  const uint64_t flags = a[4];
  if (flags & ~uint64_t{XATTR_CREATE | XATTR_REPLACE}) return Err(EINVAL);
  SetRequest r{
      .name = TRY(CopyInXattrName(t, a[1])), .value = {}, .flags = static_cast<int>(flags)};
  const uint64_t size = a[3];
  if (size > vfs::kXattrSizeMax) return Err(E2BIG);
  r.value.resize(size);
  if (size > 0) TRY(t.mm().CopyIn(UserAddr(a[2]), r.value.data(), size));
  return r;
}

template <bool kFollow>
Result<uint64_t> Sys_getxattr(kernel::Task& t, const Args& a) {
  std::string name = TRY(CopyInXattrName(t, a[1]));
  auto vd = TRY(PathTarget(t, a[0], kFollow));
  return GetXattr(t, vd, name, a[2], a[3]);
}

Result<uint64_t> Sys_fgetxattr(kernel::Task& t, const Args& a) {
  std::string name = TRY(CopyInXattrName(t, a[1]));
  auto vd = TRY(FdTarget(t, ArgInt(a[0])));
  return GetXattr(t, vd, name, a[2], a[3]);
}

template <bool kFollow>
Result<uint64_t> Sys_setxattr(kernel::Task& t, const Args& a) {
  SetRequest r = TRY(CopyInSetRequest(t, a));
  auto vd = TRY(PathTarget(t, a[0], kFollow));
  return SetXattr(t, vd, r.name, r.value, r.flags);
}

Result<uint64_t> Sys_fsetxattr(kernel::Task& t, const Args& a) {
  SetRequest r = TRY(CopyInSetRequest(t, a));
  auto vd = TRY(FdTarget(t, ArgInt(a[0])));
  return SetXattr(t, vd, r.name, r.value, r.flags);
}

template <bool kFollow>
Result<uint64_t> Sys_removexattr(kernel::Task& t, const Args& a) {
  std::string name = TRY(CopyInXattrName(t, a[1]));
  auto vd = TRY(PathTarget(t, a[0], kFollow));
  return RemoveXattr(t, vd, name);
}

Result<uint64_t> Sys_fremovexattr(kernel::Task& t, const Args& a) {
  std::string name = TRY(CopyInXattrName(t, a[1]));
  auto vd = TRY(FdTarget(t, ArgInt(a[0])));
  return RemoveXattr(t, vd, name);
}

template <bool kFollow>
Result<uint64_t> Sys_listxattr(kernel::Task& t, const Args& a) {
  auto vd = TRY(PathTarget(t, a[0], kFollow));
  return ListXattr(t, vd, a[1], a[2]);
}

Result<uint64_t> Sys_flistxattr(kernel::Task& t, const Args& a) {
  auto vd = TRY(FdTarget(t, ArgInt(a[0])));
  return ListXattr(t, vd, a[1], a[2]);
}

}  // namespace

void RegisterXattrSyscalls(SyscallTable& t) {
  t.handlers[SYS_getxattr] = Sys_getxattr<true>;
  t.handlers[SYS_lgetxattr] = Sys_getxattr<false>;
  t.handlers[SYS_fgetxattr] = Sys_fgetxattr;
  t.handlers[SYS_setxattr] = Sys_setxattr<true>;
  t.handlers[SYS_lsetxattr] = Sys_setxattr<false>;
  t.handlers[SYS_fsetxattr] = Sys_fsetxattr;
  t.handlers[SYS_removexattr] = Sys_removexattr<true>;
  t.handlers[SYS_lremovexattr] = Sys_removexattr<false>;
  t.handlers[SYS_fremovexattr] = Sys_fremovexattr;
  t.handlers[SYS_listxattr] = Sys_listxattr<true>;
  t.handlers[SYS_llistxattr] = Sys_listxattr<false>;
  t.handlers[SYS_flistxattr] = Sys_flistxattr;
}

}  // namespace sentry::syscalls
