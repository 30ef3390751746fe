// pipe, pipe2.
#include <fcntl.h>
#include <sys/syscall.h>

#include "sentry/fsimpl/pipe/pipe.h"
#include "sentry/syscalls/path_util.h"
#include "sentry/syscalls/table.h"

namespace sentry::syscalls {
namespace {

// O_NOTIFICATION_PIPE (O_EXCL) asks for a watch-queue pipe, which the sandbox does not have:
// EINVAL, as on a kernel built without CONFIG_WATCH_QUEUE.
constexpr int kPipe2Flags = O_CLOEXEC | O_NONBLOCK | O_DIRECT;

Result<uint64_t> DoPipe2(kernel::Task& t, uint64_t fds_addr, int flags) {
  if (flags & ~kPipe2Flags) return Err(EINVAL);
  auto [read_end, write_end] =
      fsimpl::pipe::PipeFile::NewPipe(flags, t.creds().euid, t.creds().egid);
  bool cloexec = flags & O_CLOEXEC;
  int fds[2];
  fds[0] = TRY(t.fds().Install(std::move(read_end), cloexec, 0, FdLimit(t)));
  auto write_fd = t.fds().Install(std::move(write_end), cloexec, 0, FdLimit(t));
  if (!write_fd) {
    (void)t.fds().Close(fds[0]);
    return std::unexpected(write_fd.error());
  }
  fds[1] = *write_fd;
  // Linux copies the numbers out before it installs the files, so a bad pointer leaves no fds
  // behind; closing them again does the same here. TODO(threads): with a shared fd table another
  // thread could glimpse the two fds first; reserving numbers before installing would close that.
  if (auto copied = t.mm().CopyOut(UserAddr(fds_addr), fds, sizeof(fds)); !copied) {
    (void)t.fds().Close(fds[0]);
    (void)t.fds().Close(fds[1]);
    return std::unexpected(copied.error());
  }
  return 0;
}

Result<uint64_t> Sys_pipe(kernel::Task& t, const Args& a) { return DoPipe2(t, a[0], 0); }

Result<uint64_t> Sys_pipe2(kernel::Task& t, const Args& a) {
  return DoPipe2(t, a[0], ArgInt(a[1]));
}

}  // namespace

void RegisterPipeSyscalls(SyscallTable& t) {
  t.handlers[SYS_pipe] = Sys_pipe;
  t.handlers[SYS_pipe2] = Sys_pipe2;
}

}  // namespace sentry::syscalls
