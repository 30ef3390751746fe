// Moving bytes between memory and a list of iovecs (the sentry's views of application memory)
// as if the list were one buffer.
#pragma once

#include <sys/uio.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <span>

#include "sentry/base/user_addr.h"

namespace sentry::vfs {

// Linux's MAX_RW_COUNT: no single read or write moves more than this.
inline constexpr uint64_t kMaxRwCount = INT_MAX & ~kPageMask;

// The bytes the iovecs hold, capped at kMaxRwCount as Linux caps a transfer.
inline uint64_t IovecTotal(std::span<const iovec> iovs) {
  uint64_t total = 0;
  for (const iovec& v : iovs) {
    total += std::min<uint64_t>(v.iov_len, kMaxRwCount);
    if (total >= kMaxRwCount) return kMaxRwCount;
  }
  return total;
}

class IovecCursor {
 public:
  explicit IovecCursor(std::span<const iovec> iovs) : iovs_(iovs) {}

  // Copies n bytes from `src` into the iovecs (a read). memmove: the iovecs may view the very
  // MemoryFile pages being copied (a file read into its own shared mapping).
  void Fill(const uint8_t* src, uint64_t n) {
    Step(n, [&](uint8_t* p, uint64_t len) {
      std::memmove(p, src, len);
      src += len;
    });
  }
  void FillZeros(uint64_t n) {
    Step(n, [](uint8_t* p, uint64_t len) { std::memset(p, 0, len); });
  }
  // Copies n bytes out of the iovecs into `dst` (a write).
  void Drain(uint8_t* dst, uint64_t n) {
    Step(n, [&](uint8_t* p, uint64_t len) {
      std::memmove(dst, p, len);
      dst += len;
    });
  }

 private:
  // Calls f(pointer, length) for the next n bytes, piece by piece; the caller never asks for
  // more than the iovecs hold.
  template <class F>
  void Step(uint64_t n, F f) {
    while (n > 0 && index_ < iovs_.size()) {
      const iovec& v = iovs_[index_];
      uint64_t len = std::min<uint64_t>(n, v.iov_len - offset_);
      if (len > 0) f(static_cast<uint8_t*>(v.iov_base) + offset_, len);
      n -= len;
      offset_ += len;
      if (offset_ == v.iov_len) {
        ++index_;
        offset_ = 0;
      }
    }
  }

  std::span<const iovec> iovs_;
  size_t index_ = 0;
  uint64_t offset_ = 0;
};

}  // namespace sentry::vfs
