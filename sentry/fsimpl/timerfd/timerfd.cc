#include "sentry/fsimpl/timerfd/timerfd.h"

#include <poll.h>
#include <unistd.h>

#include "sentry/vfs/iovec.h"

namespace sentry::fsimpl::timerfd {

Result<std::shared_ptr<TimerFile>> TimerFile::Create(int clock, int flags) {
  int fd = timerfd_create(clock, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd < 0) return Err(errno);
  return std::make_shared<TimerFile>(FileDescriptor(fd), flags);
}

TimerFile::TimerFile(FileDescriptor host, int flags)
    : vfs::AnonFile(O_RDWR | (flags & O_NONBLOCK)), host_(std::move(host)) {}

Result<uint64_t> TimerFile::Read(std::span<const iovec> dst, std::optional<int64_t> offset) {
  if (offset) return Err(ESPIPE);
  if (vfs::IovecTotal(dst) < sizeof(uint64_t)) return Err(EINVAL);
  uint64_t ticks = 0;
  auto attempt = [&]() -> Result<uint64_t> {
    ssize_t n = read(host_.get(), &ticks, sizeof(ticks));
    if (n < 0) return Err(errno);  // EAGAIN, or ECANCELED after a clock change
    return sizeof(ticks);
  };
  Result<uint64_t> r =
      (status_flags() & O_NONBLOCK) ? attempt() : vfs::BlockOn(*this, POLLIN, attempt);
  if (!r) return r;
  vfs::IovecCursor(dst).Fill(reinterpret_cast<const uint8_t*>(&ticks), sizeof(ticks));
  return r;
}

uint32_t TimerFile::Readiness(uint32_t mask) {
  pollfd p{host_.get(), POLLIN, 0};
  timespec zero{};
  if (ppoll(&p, 1, &zero, nullptr) <= 0) return 0;
  return static_cast<uint16_t>(p.revents) & (mask | POLLERR | POLLHUP);
}

void TimerFile::HostWaitFds(uint32_t, std::vector<pollfd>& out) {
  out.push_back({host_.get(), POLLIN, 0});
}

Result<itimerspec> TimerFile::Set(int flags, const itimerspec& value) {
  itimerspec old{};
  if (timerfd_settime(host_.get(), flags, &value, &old) != 0) return Err(errno);
  return old;
}

Result<itimerspec> TimerFile::Get() {
  itimerspec cur{};
  if (timerfd_gettime(host_.get(), &cur) != 0) return Err(errno);
  return cur;
}

}  // namespace sentry::fsimpl::timerfd
