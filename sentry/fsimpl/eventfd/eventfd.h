// eventfd(2): a 64-bit counter that reads take and writes add to, with readiness.
#pragma once

#include <sys/eventfd.h>

#include <cstdint>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "sentry/vfs/file_description.h"

namespace sentry::fsimpl::eventfd {

// The counter never exceeds this: a write that would pass it waits (or fails with EAGAIN).
inline constexpr uint64_t kMaxCount = 0xfffffffffffffffe;

class EventFile : public vfs::AnonFile {
 public:
  // `flags`: EFD_SEMAPHORE, EFD_NONBLOCK (checked by the caller).
  EventFile(uint64_t initval, int flags);

  Result<uint64_t> Read(std::span<const iovec> dst, std::optional<int64_t> offset) override;
  Result<uint64_t> Write(std::span<const iovec> src, std::optional<int64_t> offset) override;
  uint32_t Readiness(uint32_t mask) override;
  bool Pollable() const override { return true; }
  void EventRegister(vfs::WaitEntry* e) override { queue_.Add(e); }
  void EventUnregister(vfs::WaitEntry* e) override { queue_.Remove(e); }

 private:
  Result<uint64_t> TryRead(uint64_t& value);
  Result<uint64_t> TryWrite(uint64_t value);

  const bool semaphore_;
  absl::Mutex mu_;
  uint64_t count_ ABSL_GUARDED_BY(mu_);
  vfs::WaitQueue queue_;
};

}  // namespace sentry::fsimpl::eventfd
