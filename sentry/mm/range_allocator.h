// RangeAllocator hands out page-aligned ranges of a fixed span [0, size): the MemoryFile uses it
// to place application memory in its memfd. First fit over a map of free extents, coalesced on
// release. Not thread safe; the owner locks.
#pragma once

#include <cstdint>
#include <map>
#include <optional>

namespace sentry::mm {

class RangeAllocator {
 public:
  explicit RangeAllocator(uint64_t size);

  // A page-aligned range of `len` bytes (len > 0, page aligned), or nullopt when none is free.
  std::optional<uint64_t> Allocate(uint64_t len);
  // Tries to grow the allocation [offset, offset+len) in place by `extra` bytes.
  bool ExtendInPlace(uint64_t offset, uint64_t len, uint64_t extra);
  // Returns [offset, offset+len) to the free set. False (and no change) if the range is not
  // page aligned, lies outside the span, or is not wholly allocated.
  bool Free(uint64_t offset, uint64_t len);

  uint64_t size() const { return size_; }
  uint64_t allocated() const { return allocated_; }
  size_t free_extent_count() const { return free_.size(); }

 private:
  uint64_t size_;
  uint64_t allocated_ = 0;
  std::map<uint64_t, uint64_t> free_;  // start -> length; disjoint, never adjacent
};

}  // namespace sentry::mm
