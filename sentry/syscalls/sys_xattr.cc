// Extended attributes: no file system of the sandbox keeps them yet, which Linux reports as
// ENOTSUP once the file itself is found.
#include <fcntl.h>
#include <sys/syscall.h>

#include "sentry/syscalls/path_util.h"
#include "sentry/syscalls/table.h"

namespace sentry::syscalls {
namespace {

template <bool kFollow>
Result<uint64_t> PathXattr(kernel::Task& t, const Args& a) {
  std::string path = TRY(CopyInPath(t, a[0]));
  TRY(ResolveAt(t, AT_FDCWD, path, kFollow ? unsigned{vfs::kFollowFinal} : 0u));
  return Err(ENOTSUP);
}

Result<uint64_t> FdXattr(kernel::Task& t, const Args& a) {
  TRY(t.fds().Get(ArgInt(a[0])));
  return Err(ENOTSUP);
}

}  // namespace

void RegisterXattrSyscalls(SyscallTable& t) {
  for (int nr : {SYS_getxattr, SYS_setxattr, SYS_listxattr, SYS_removexattr}) {
    t.handlers[nr] = PathXattr<true>;
  }
  for (int nr : {SYS_lgetxattr, SYS_lsetxattr, SYS_llistxattr, SYS_lremovexattr}) {
    t.handlers[nr] = PathXattr<false>;
  }
  for (int nr : {SYS_fgetxattr, SYS_fsetxattr, SYS_flistxattr, SYS_fremovexattr}) {
    t.handlers[nr] = FdXattr;
  }
}

}  // namespace sentry::syscalls
