#include "sentry/syscalls/path_util.h"

#include <fcntl.h>
#include <linux/limits.h>

#include "sentry/kernel/kernel.h"

namespace sentry::syscalls {

Result<std::string> CopyInPath(kernel::Task& t, uint64_t addr) {
  return t.mm().CopyInString(UserAddr(addr), PATH_MAX);
}

vfs::FsCredentials FsCreds(kernel::Task& t) {
  const auto& c = t.creds();
  return vfs::FsCredentials{.uid = c.euid,
                            .gid = c.egid,
                            .groups = t.groups(),
                            .dac_override = c.HasCapability(CAP_DAC_OVERRIDE)};
}

vfs::ResolveContext MakeResolveContext(kernel::Task& t) {
  std::lock_guard lock(t.fs().mu);
  return vfs::ResolveContext{t.kernel().mounts(), t.fs().root, FsCreds(t)};
}

Result<vfs::VirtualDentry> StartDir(kernel::Task& t, int dirfd) {
  if (dirfd == AT_FDCWD) {
    std::lock_guard lock(t.fs().mu);
    return t.fs().cwd;
  }
  auto file = TRY(t.fds().Get(dirfd));
  if (!file->path().dentry) return Err(ENOTDIR);
  if (!file->path().inode().IsDir()) return Err(ENOTDIR);
  return file->path();
}

Result<vfs::VirtualDentry> ResolveAt(kernel::Task& t, int dirfd, const std::string& path,
                                     unsigned flags, bool empty_path_ok) {
  if (path.empty()) {
    if (!empty_path_ok) return Err(ENOENT);
    if (dirfd == AT_FDCWD) {
      std::lock_guard lock(t.fs().mu);
      return t.fs().cwd;
    }
    auto file = TRY(t.fds().Get(dirfd));
    if (!file->path().dentry) return Err(EBADF);  // no place in the tree (a pipe, host stdio)
    return file->path();
  }
  vfs::ResolveContext ctx = MakeResolveContext(t);
  bool scoped = flags & (vfs::kInRoot | vfs::kBeneath);  // these start at dirfd, even for "/..."
  vfs::VirtualDentry start = path[0] == '/' && !scoped ? ctx.root : TRY(StartDir(t, dirfd));
  return vfs::Resolve(ctx, start, path, flags);
}

Result<vfs::ParentAndName> ResolveParentAt(kernel::Task& t, int dirfd, const std::string& path) {
  vfs::ResolveContext ctx = MakeResolveContext(t);
  if (path.empty()) return Err(ENOENT);
  vfs::VirtualDentry start = path[0] == '/' ? ctx.root : TRY(StartDir(t, dirfd));
  return vfs::ResolveParent(ctx, start, path);
}

uint64_t FdLimit(kernel::Task& t) {
  std::lock_guard lock(t.thread_group().mu());
  return t.thread_group().limits().Get(RLIMIT_NOFILE).cur;
}

mode_t Umask(kernel::Task& t) {
  std::lock_guard lock(t.fs().mu);
  return t.fs().umask;
}

}  // namespace sentry::syscalls
