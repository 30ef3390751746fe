// inotify_init, inotify_init1, inotify_add_watch, inotify_rm_watch (the instance itself is in
// sentry/fsimpl/inotify).
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sentry/fsimpl/inotify/inotify.h"
#include "sentry/kernel/kernel.h"
#include "sentry/syscalls/path_util.h"
#include "sentry/syscalls/table.h"

namespace sentry::syscalls {
namespace {

using fsimpl::inotify::InotifyFile;

// Every bit inotify_add_watch knows (Linux's ALL_INOTIFY_BITS); any other is EINVAL.
constexpr uint32_t kAllInotifyBits = IN_ALL_EVENTS | IN_UNMOUNT | IN_Q_OVERFLOW | IN_IGNORED |
                                     IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK | IN_MASK_ADD |
                                     IN_MASK_CREATE | IN_ISDIR | IN_ONESHOT;

Result<uint64_t> InotifyInit(kernel::Task& t, int flags) {
  if (flags & ~(IN_CLOEXEC | IN_NONBLOCK)) return Err(EINVAL);
  auto file = TRY(InotifyFile::New(t.creds().euid, flags & IN_NONBLOCK));
  return static_cast<uint64_t>(
      TRY(t.fds().Install(std::move(file), flags & IN_CLOEXEC, 0, FdLimit(t))));
}

Result<uint64_t> Sys_inotify_init(kernel::Task& t, const Args&) { return InotifyInit(t, 0); }
Result<uint64_t> Sys_inotify_init1(kernel::Task& t, const Args& a) {
  return InotifyInit(t, ArgInt(a[0]));
}

// The instance behind fd: EBADF for no file, EINVAL for another kind of file.
Result<std::shared_ptr<InotifyFile>> InstanceOf(kernel::Task& t, int fd) {
  auto file = TRY(t.fds().Get(fd));
  auto inotify = std::dynamic_pointer_cast<InotifyFile>(file);
  if (!inotify) return Err(EINVAL);
  return inotify;
}

// In Linux's order of checks: the mask, the fd, then the path and read permission on it.
Result<uint64_t> Sys_inotify_add_watch(kernel::Task& t, const Args& a) {
  auto mask = static_cast<uint32_t>(a[2]);
  if ((mask & ~kAllInotifyBits) || !(mask & kAllInotifyBits)) return Err(EINVAL);
  auto file = TRY(t.fds().Get(ArgInt(a[0])));
  if ((mask & IN_MASK_ADD) && (mask & IN_MASK_CREATE)) return Err(EINVAL);
  auto inotify = std::dynamic_pointer_cast<InotifyFile>(file);
  if (!inotify) return Err(EINVAL);
  std::string path = TRY(CopyInPath(t, a[1]));
  unsigned flags = (mask & IN_DONT_FOLLOW) ? 0u : unsigned{vfs::kFollowFinal};
  if (mask & IN_ONLYDIR) flags |= vfs::kMustBeDir;
  vfs::VirtualDentry vd = TRY(ResolveAt(t, AT_FDCWD, path, flags));
  struct stat st = TRY(vd.inode().Stat());
  if (!vfs::MayAccess(st, FsCreds(t), R_OK)) return Err(EACCES);
  return static_cast<uint64_t>(TRY(inotify->instance().AddWatch(vd.dentry->inode_ptr(), mask)));
}

Result<uint64_t> Sys_inotify_rm_watch(kernel::Task& t, const Args& a) {
  auto inotify = TRY(InstanceOf(t, ArgInt(a[0])));
  TRY(inotify->instance().RemoveWatch(ArgInt(a[1])));
  return 0;
}

}  // namespace

void RegisterInotifySyscalls(SyscallTable& t) {
  t.handlers[SYS_inotify_init] = Sys_inotify_init;
  t.handlers[SYS_inotify_init1] = Sys_inotify_init1;
  t.handlers[SYS_inotify_add_watch] = Sys_inotify_add_watch;
  t.handlers[SYS_inotify_rm_watch] = Sys_inotify_rm_watch;
}

}  // namespace sentry::syscalls
