// fcntl F_SET_RW_HINT / F_GET_RW_HINT: the expected lifetime of the data written to a file
// (RWH_WRITE_LIFE_*), which Linux keeps per inode for block devices to place data by. Nothing in
// the sandbox acts on it; it is kept so that the application reads back what it set. A side
// table rather than a field of every Inode, since hardly any file ever gets one.
#pragma once

#include <cstdint>
#include <memory>

namespace sentry::vfs {

// RWH_WRITE_LIFE_NOT_SET .. RWH_WRITE_LIFE_EXTREME.
inline constexpr uint64_t kMaxWriteHint = 5;

class WriteHints {
 public:
  // `owner` is what the hint belongs to (an inode, a pipe); a hint outlives no owner.
  static uint64_t Get(const std::weak_ptr<const void>& owner);
  static void Set(const std::weak_ptr<const void>& owner, uint64_t hint);
};

}  // namespace sentry::vfs
