// timerfd_create(2): a timer whose expirations are read as a count. The sentry keeps a host
// timerfd on the same clock for each: the host's clocks are the sandbox's, and a host timerfd
// lets a sleeping waiter wake at expiry (through its HostWaitFds) with no timer thread of ours.
#pragma once

#include <sys/timerfd.h>

#include "sentry/base/file_descriptor.h"
#include "sentry/vfs/file_description.h"

namespace sentry::fsimpl::timerfd {

class TimerFile : public vfs::AnonFile {
 public:
  // `clock` and TFD_NONBLOCK in `flags` are checked by the caller; errors are the host's
  // (EMFILE/ENOMEM when the sentry runs out).
  static Result<std::shared_ptr<TimerFile>> Create(int clock, int flags);
  TimerFile(FileDescriptor host, int flags);

  Result<uint64_t> Read(std::span<const iovec> dst, std::optional<int64_t> offset) override;
  uint32_t Readiness(uint32_t mask) override;
  bool Pollable() const override { return true; }
  void HostWaitFds(uint32_t mask, std::vector<pollfd>& out) override;

  // timerfd_settime/gettime on checked values.
  Result<itimerspec> Set(int flags, const itimerspec& value);
  Result<itimerspec> Get();

 private:
  FileDescriptor host_;  // nonblocking
};

}  // namespace sentry::fsimpl::timerfd
