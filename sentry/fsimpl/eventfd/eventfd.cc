#include "sentry/fsimpl/eventfd/eventfd.h"

#include <poll.h>

#include "sentry/vfs/iovec.h"

namespace sentry::fsimpl::eventfd {

EventFile::EventFile(uint64_t initval, int flags)
    : vfs::AnonFile(O_RDWR | (flags & O_NONBLOCK)),
      semaphore_(flags & EFD_SEMAPHORE),
      count_(initval) {}

Result<uint64_t> EventFile::TryRead(uint64_t& value) {
  {
    absl::MutexLock lock(&mu_);
    if (count_ == 0) return Err(EAGAIN);
    value = semaphore_ ? 1 : count_;
    count_ -= value;
  }
  queue_.Notify(POLLOUT | POLLWRNORM);
  return sizeof(uint64_t);
}

Result<uint64_t> EventFile::TryWrite(uint64_t value) {
  {
    absl::MutexLock lock(&mu_);
    if (value > kMaxCount - count_) return Err(EAGAIN);
    count_ += value;
  }
  if (value != 0) queue_.Notify(POLLIN | POLLRDNORM);
  return sizeof(uint64_t);
}

Result<uint64_t> EventFile::Read(std::span<const iovec> dst, std::optional<int64_t> offset) {
  if (offset) return Err(ESPIPE);
  if (vfs::IovecTotal(dst) < sizeof(uint64_t)) return Err(EINVAL);
  uint64_t value = 0;
  auto attempt = [&] { return TryRead(value); };
  Result<uint64_t> r =
      (status_flags() & O_NONBLOCK) ? attempt() : vfs::BlockOn(*this, POLLIN | POLLRDNORM, attempt);
  if (!r) return r;
  vfs::IovecCursor(dst).Fill(reinterpret_cast<const uint8_t*>(&value), sizeof(value));
  return r;
}

Result<uint64_t> EventFile::Write(std::span<const iovec> src, std::optional<int64_t> offset) {
  if (offset) return Err(ESPIPE);
  // Exactly 8 bytes, as Linux checks since 6.7 (before, at least 8).
  if (vfs::IovecTotal(src) != sizeof(uint64_t)) return Err(EINVAL);
  uint64_t value = 0;
  vfs::IovecCursor(src).Drain(reinterpret_cast<uint8_t*>(&value), sizeof(value));
  if (value == UINT64_MAX) return Err(EINVAL);
  auto attempt = [&] { return TryWrite(value); };
  if (status_flags() & O_NONBLOCK) return attempt();
  return vfs::BlockOn(*this, POLLOUT | POLLWRNORM, attempt);
}

uint32_t EventFile::Readiness(uint32_t mask) {
  absl::MutexLock lock(&mu_);
  uint32_t r = 0;
  if (count_ > 0) r |= POLLIN | POLLRDNORM;
  if (count_ == UINT64_MAX) r |= POLLERR;
  if (count_ < kMaxCount) r |= POLLOUT | POLLWRNORM;
  return r & (mask | POLLERR | POLLHUP);
}

}  // namespace sentry::fsimpl::eventfd
