#include "sentry/fsimpl/host/host_file.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

#include "sentry/mm/memory_manager.h"

namespace sentry::fsimpl::host {
namespace {

int IovCount(std::span<const iovec> v) {
  return static_cast<int>(std::min<size_t>(v.size(), IOV_MAX));
}

}  // namespace

std::shared_ptr<HostFile> HostFile::Create(FileDescriptor fd) {
  int flags = fcntl(fd.get(), F_GETFL);
  if (flags < 0) flags = O_RDWR;
  struct stat st;
  bool positional = fstat(fd.get(), &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
  return std::make_shared<HostFile>(std::move(fd), flags & (O_ACCMODE | O_APPEND | O_NONBLOCK),
                                    positional);
}

HostFile::HostFile(FileDescriptor fd, int flags, bool positional)
    : FileDescription(flags), fd_(std::move(fd)), positional_(positional) {}

Result<uint64_t> HostFile::Read(std::span<const iovec> dst, std::optional<int64_t> offset) {
  while (true) {
    ssize_t n = offset ? preadv(fd_.get(), dst.data(), IovCount(dst), *offset)
                       : readv(fd_.get(), dst.data(), IovCount(dst));
    if (n >= 0) return static_cast<uint64_t>(n);
    if (errno != EINTR) return Err(errno);
  }
}

Result<uint64_t> HostFile::Write(std::span<const iovec> src, std::optional<int64_t> offset) {
  while (true) {
    ssize_t n = offset ? pwritev(fd_.get(), src.data(), IovCount(src), *offset)
                       : writev(fd_.get(), src.data(), IovCount(src));
    if (n >= 0) return static_cast<uint64_t>(n);
    if (errno != EINTR) return Err(errno);
  }
}

uint32_t HostFile::Readiness(uint32_t mask) {
  if (positional_) return FileDescription::Readiness(mask);
  pollfd p{fd_.get(), static_cast<short>(mask), 0};
  timespec zero{};
  if (ppoll(&p, 1, &zero, nullptr) <= 0) return 0;
  return static_cast<uint16_t>(p.revents) & (mask | POLLERR | POLLHUP | POLLNVAL);
}

void HostFile::HostWaitFds(uint32_t mask, std::vector<pollfd>& out) {
  if (!positional_) out.push_back({fd_.get(), static_cast<short>(mask), 0});
}

Result<int64_t> HostFile::Seek(int64_t offset, int whence) {
  off_t r = lseek(fd_.get(), offset, whence);
  if (r < 0) return Err(errno);
  return r;
}

Result<void> HostFile::Truncate(uint64_t size) {
  if (ftruncate(fd_.get(), static_cast<off_t>(size)) != 0) return Err(errno);
  return {};
}

Result<struct stat> HostFile::Stat() {
  struct stat st;
  if (fstat(fd_.get(), &st) != 0) return Err(errno);
  return st;
}

Result<uint64_t> HostFile::Ioctl(mm::MemoryManager& mm, uint64_t cmd, uint64_t arg) {
  switch (cmd) {
    case TCGETS: {
      struct termios t;
      if (ioctl(fd_.get(), TCGETS, &t) != 0) return Err(errno);
      TRY(mm.CopyOutObject(UserAddr(arg), t));
      return 0;
    }
    case TIOCGWINSZ: {
      struct winsize w;
      if (ioctl(fd_.get(), TIOCGWINSZ, &w) != 0) return Err(errno);
      TRY(mm.CopyOutObject(UserAddr(arg), w));
      return 0;
    }
    default:
      return Err(ENOTTY);
  }
}

}  // namespace sentry::fsimpl::host
