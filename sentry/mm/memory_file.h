// MemoryFile: the one memfd that backs all of a sandbox's application memory. The sentry maps
// it once, whole, into its own address space, so reading or writing application memory is a
// memcpy at base()+offset; platforms map ranges of the same fd into application address spaces.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/file_descriptor.h"
#include "sentry/mm/range_allocator.h"

namespace sentry::mm {

class MemoryFile {
 public:
  // Virtual span of the file. Pages cost nothing until touched; freed ranges are punched out.
  static constexpr uint64_t kDefaultSize = 1ULL << 38;  // 256 GiB

  static absl::StatusOr<std::unique_ptr<MemoryFile>> Create(uint64_t size = kDefaultSize);
  ~MemoryFile();
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  int fd() const { return fd_.get(); }
  uint64_t size() const { return size_; }

  // Allocates `len` (page-aligned) bytes of zeroed memory; nullopt when the file is exhausted.
  std::optional<uint64_t> Allocate(uint64_t len);
  // Grows an allocation in place when the following range is free.
  bool ExtendInPlace(uint64_t offset, uint64_t len, uint64_t extra);
  // Returns the range to the allocator and releases its pages to the host.
  void Free(uint64_t offset, uint64_t len);
  // Zeroes a range by releasing its pages (they read as zero afterwards).
  void Decommit(uint64_t offset, uint64_t len);

  // Copy-on-write sharing (fork). Allocated memory has one user, who gives it back with Free or
  // DecRef; IncRef adds a user to every page of a range, DecRef takes one away and frees what
  // nobody uses any more. Only ranges with more than one user are recorded, as extents, so
  // sharing a whole address space costs one extent per VMA, not one entry per page.
  void IncRef(uint64_t offset, uint64_t len);
  void DecRef(uint64_t offset, uint64_t len);
  // Calls fn(start, end, shared) for the consecutive runs of [offset, offset+len) that have more
  // than one user (shared) or exactly one, in increasing order.
  void ForEachRun(uint64_t offset, uint64_t len,
                  const std::function<void(uint64_t, uint64_t, bool)>& fn);
  // Whether any page of [offset, offset+len) has more than one user.
  bool IsShared(uint64_t offset, uint64_t len);
  // Users of the page at `offset` (1 for memory nobody shares), and the number of extents
  // recorded: for tests.
  uint32_t RefCount(uint64_t offset);
  size_t SharedExtentCount();

  // Copies [src, src+len) to [dst, dst+len) (which reads as zeros), skipping the holes between
  // 64 KiB windows with data, so untouched memory mostly stays unallocated.
  void CopyData(uint64_t src, uint64_t dst, uint64_t len);

  // The sentry's view of [offset, offset+len); the caller has checked the range is allocated.
  uint8_t* Access(uint64_t offset) const { return base_ + offset; }

  uint64_t AllocatedBytes();

  // The part of the allocated memory that caches host files' data (the gofer's page caches),
  // and the part of that kept for files nobody maps, which the sentry gives back on its own
  // when short (reclaimable): what /proc/meminfo shows as Cached and counts as available. The
  // caches keep these counts; the MemoryFile only holds them.
  void AddFileCacheBytes(int64_t delta) { file_cache_bytes_.fetch_add(delta); }
  void AddReclaimableBytes(int64_t delta) { reclaimable_bytes_.fetch_add(delta); }
  uint64_t FileCacheBytes() const {
    return static_cast<uint64_t>(std::max<int64_t>(0, file_cache_bytes_.load()));
  }
  uint64_t ReclaimableBytes() const {
    return static_cast<uint64_t>(std::max<int64_t>(0, reclaimable_bytes_.load()));
  }

 private:
  MemoryFile(FileDescriptor fd, uint64_t size, uint8_t* base);
  struct Shared {
    uint64_t end;
    uint32_t users;  // always at least 2
  };
  // Splits the extent that straddles `at`, so extents start and end there.
  void SplitSharedAt(uint64_t at) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Joins the touching extents with the same count around [start, end).
  void MergeShared(uint64_t start, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::atomic<int64_t> file_cache_bytes_{0};
  std::atomic<int64_t> reclaimable_bytes_{0};
  FileDescriptor fd_;
  uint64_t size_;
  uint8_t* base_;
  absl::Mutex mu_;
  RangeAllocator allocator_ ABSL_GUARDED_BY(mu_);
  // Ranges with more than one user, by start; disjoint. Anything absent has one user.
  std::map<uint64_t, Shared> shared_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sentry::mm
