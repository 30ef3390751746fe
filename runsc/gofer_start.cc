#include "runsc/gofer_start.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "gofer/gofer_server.h"

namespace runsc {

absl::StatusOr<GoferProcess> StartGofer(const std::string& root, bool read_only,
                                        std::vector<gofer::GoferMount> mounts, bool detached) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return absl::InternalError(absl::StrCat("socketpair: ", strerror(errno)));
  }
  sentry::FileDescriptor sentry_end(pair[0]), gofer_end(pair[1]);
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork gofer: ", strerror(errno)));
  if (pid == 0) {
    if (detached) {
      setsid();
    } else {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
    }
    sentry_end.Reset();
    // The gofer must hold nothing of runsc's but its socket (a container's lock file or control
    // socket kept open here would outlive the container).
    constexpr int kSocketFd = 3;
    int fd = gofer_end.Release();
    if (fd != kSocketFd && dup2(fd, kSocketFd) < 0) _exit(125);
    for (int i = 0; i < 3; ++i) close(i);
    close_range(kSocketFd + 1, ~0U, 0);
    fd = kSocketFd;
    gofer::GoferConfig config{
        .root = root, .socket_fd = fd, .read_only = read_only, .mounts = std::move(mounts)};
    _exit(gofer::RunGofer(config));
  }
  return GoferProcess{pid, std::move(sentry_end)};
}

}  // namespace runsc
