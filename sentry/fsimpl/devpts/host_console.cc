#include "sentry/fsimpl/devpts/host_console.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>

#include "sentry/fsimpl/devpts/files.h"
#include "sentry/fsimpl/devpts/terminal.h"
#include "sentry/vfs/resolve.h"
#include "spdlog/spdlog.h"

namespace sentry::fsimpl::devpts {

// What both threads use; the last of them to finish frees it.
struct HostConsole::Shared {
  FileDescriptor host;
  FileDescriptor winsize_events;
  FileDescriptor stop;  // an eventfd: the output side ended, the input side should too
  std::shared_ptr<MasterFile> master;
};

namespace {

constexpr size_t kChunk = 4096;

bool WriteAllToHost(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pollfd pfd{fd, POLLOUT, 0};
        (void)::ppoll(&pfd, 1, nullptr, nullptr);
        continue;
      }
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

void FollowHostSize(HostConsole::Shared& s) {
  winsize ws{};
  if (::ioctl(s.host.get(), TIOCGWINSZ, &ws) == 0) s.master->terminal().SetWindowSize(ws);
}

// Host terminal -> the sandbox terminal's master (what is typed), and size changes.
void CopyIn(std::shared_ptr<HostConsole::Shared> s) {
  char buf[kChunk];
  FollowHostSize(*s);
  while (true) {
    pollfd fds[3] = {{s->host.get(), POLLIN, 0},
                     {s->stop.get(), POLLIN, 0},
                     {s->winsize_events.get(), POLLIN, 0}};
    nfds_t n = s->winsize_events.valid() ? 3 : 2;
    if (::ppoll(fds, n, nullptr, nullptr) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents) break;
    if (n == 3 && fds[2].revents) {
      char drain[64];
      ssize_t r = ::read(s->winsize_events.get(), drain, sizeof(drain));
      if (r <= 0 && !(r < 0 && (errno == EINTR || errno == EAGAIN))) {
        s->winsize_events.Reset();  // the watcher is gone: no more size changes
      }
      FollowHostSize(*s);
    }
    if (fds[0].revents == 0) continue;
    ssize_t r = ::read(s->host.get(), buf, sizeof(buf));
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (r <= 0) break;  // the console's master was closed (EIO) or the end of input
    iovec v{buf, static_cast<size_t>(r)};
    if (!s->master->Write(std::span<const iovec>(&v, 1), std::nullopt)) break;
  }
  // The console is gone (or the sandbox's side is): hang the sandbox terminal up, as closing
  // a terminal does, which also ends the output side's read.
  s->master->terminal().Hangup();
  spdlog::debug("console: input side done");
}

// The sandbox terminal's master -> host terminal (what the sandbox writes, and echo).
void CopyOut(std::shared_ptr<HostConsole::Shared> s) {
  char buf[kChunk];
  while (true) {
    iovec v{buf, sizeof(buf)};
    auto r = s->master->Read(std::span<const iovec>(&v, 1), std::nullopt);
    if (!r) break;  // EIO: every replica in the sandbox is closed
    if (*r == 0) continue;
    if (!WriteAllToHost(s->host.get(), buf, *r)) break;
  }
  uint64_t one = 1;
  (void)!::write(s->stop.get(), &one, sizeof(one));
  spdlog::debug("console: output side done");
}

}  // namespace

Result<std::unique_ptr<HostConsole>> HostConsole::Open(const vfs::MountNamespace& mounts,
                                                       FileDescriptor host_tty,
                                                       FileDescriptor winsize_events, uint32_t uid,
                                                       uint32_t gid) {
  vfs::ResolveContext ctx{mounts, mounts.Root(), vfs::FsCredentials{}};
  vfs::VirtualDentry ptmx = TRY(vfs::Resolve(ctx, mounts.Root(), "/dev/ptmx", vfs::kFollowFinal));
  auto master_file = TRY(ptmx.inode().Open(ptmx, O_RDWR | O_NOCTTY));
  auto master = std::dynamic_pointer_cast<MasterFile>(master_file);
  if (!master) return Err(ENOTTY);  // /dev/ptmx is not a devpts ptmx
  Terminal& t = master->terminal();
  t.SetLocked(false);
  auto dir = ptmx.dentry->parent();
  if (!dir) return Err(ENOENT);
  auto child = TRY(dir->Child(std::to_string(t.index())));
  vfs::VirtualDentry pts{ptmx.mount, child};
  vfs::SetStatRequest owner;
  owner.uid = uid;
  owner.gid = gid;
  TRY(pts.inode().SetStat(owner));
  auto replica = TRY(pts.inode().Open(pts, O_RDWR | O_NOCTTY));
  int stop = ::eventfd(0, EFD_CLOEXEC);
  if (stop < 0) return Err(errno);
  auto shared = std::make_shared<Shared>();
  shared->host = std::move(host_tty);
  shared->winsize_events = std::move(winsize_events);
  shared->stop = FileDescriptor(stop);
  shared->master = std::move(master);
  return std::unique_ptr<HostConsole>(new HostConsole(std::move(shared), std::move(replica)));
}

HostConsole::~HostConsole() = default;

std::shared_ptr<Terminal> HostConsole::terminal() const {
  return shared_->master->terminal().shared_from_this();
}

void HostConsole::Start() {
  std::thread(CopyIn, shared_).detach();
  std::thread(CopyOut, shared_).detach();
}

}  // namespace sentry::fsimpl::devpts
