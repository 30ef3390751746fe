// Application addresses are a type, not a pointer: a UserAddr cannot be dereferenced. The only
// way to touch application memory is through the MemoryManager's CopyIn/CopyOut.
#pragma once

#include <cstdint>
#include <optional>

namespace sentry {

inline constexpr uint64_t kPageSize = 4096;
inline constexpr uint64_t kPageMask = kPageSize - 1;

constexpr uint64_t PageRoundDown(uint64_t v) { return v & ~kPageMask; }
// Rounds up; nullopt when the result would wrap past 2^64.
constexpr std::optional<uint64_t> PageRoundUp(uint64_t v) {
  if (v > UINT64_MAX - kPageMask) return std::nullopt;
  return (v + kPageMask) & ~kPageMask;
}
constexpr bool IsPageAligned(uint64_t v) { return (v & kPageMask) == 0; }

struct UserAddr {
  uint64_t value = 0;

  constexpr UserAddr() = default;
  constexpr explicit UserAddr(uint64_t v) : value(v) {}

  constexpr bool IsNull() const { return value == 0; }
  // nullopt when adding n wraps around the 64-bit space.
  constexpr std::optional<UserAddr> AddChecked(uint64_t n) const {
    if (value > UINT64_MAX - n) return std::nullopt;
    return UserAddr(value + n);
  }
  constexpr UserAddr operator+(uint64_t n) const { return UserAddr(value + n); }
  constexpr UserAddr operator-(uint64_t n) const { return UserAddr(value - n); }
  constexpr uint64_t operator-(UserAddr o) const { return value - o.value; }
  friend constexpr auto operator<=>(UserAddr, UserAddr) = default;
};

}  // namespace sentry
