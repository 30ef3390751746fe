#include "sentry/mm/range_allocator.h"

#include <iterator>

#include "sentry/base/user_addr.h"

namespace sentry::mm {

RangeAllocator::RangeAllocator(uint64_t size) : size_(PageRoundDown(size)) {
  if (size_ > 0) free_.emplace(0, size_);
}

std::optional<uint64_t> RangeAllocator::Allocate(uint64_t len) {
  if (len == 0 || !IsPageAligned(len)) return std::nullopt;
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second < len) continue;
    uint64_t start = it->first;
    uint64_t rest = it->second - len;
    free_.erase(it);
    if (rest > 0) free_.emplace(start + len, rest);
    allocated_ += len;
    return start;
  }
  return std::nullopt;
}

bool RangeAllocator::ExtendInPlace(uint64_t offset, uint64_t len, uint64_t extra) {
  if (extra == 0 || !IsPageAligned(extra) || offset > size_ || len > size_ - offset) return false;
  auto it = free_.find(offset + len);
  if (it == free_.end() || it->second < extra) return false;
  uint64_t rest = it->second - extra;
  uint64_t next = it->first + extra;
  free_.erase(it);
  if (rest > 0) free_.emplace(next, rest);
  allocated_ += extra;
  return true;
}

bool RangeAllocator::Free(uint64_t offset, uint64_t len) {
  if (len == 0 || !IsPageAligned(offset) || !IsPageAligned(len)) return false;
  if (offset > size_ || len > size_ - offset) return false;
  uint64_t end = offset + len;
  // The range must not overlap any free extent.
  auto next = free_.lower_bound(offset);
  if (next != free_.end() && next->first < end) return false;
  auto prev = next == free_.begin() ? free_.end() : std::prev(next);
  if (prev != free_.end() && prev->first + prev->second > offset) return false;

  uint64_t start = offset;
  if (prev != free_.end() && prev->first + prev->second == offset) {
    start = prev->first;
    free_.erase(prev);
  }
  if (next != free_.end() && next->first == end) {
    end += next->second;
    free_.erase(next);
  }
  free_.emplace(start, end - start);
  allocated_ -= len;
  return true;
}

}  // namespace sentry::mm
