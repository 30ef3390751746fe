// MemoryFile: the one memfd that backs all of a sandbox's application memory. The sentry maps
// it once, whole, into its own address space, so reading or writing application memory is a
// memcpy at base()+offset; platforms map ranges of the same fd into application address spaces.
#pragma once

#include <cstdint>
#include <optional>

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

  // Copies [src, src+len) to [dst, dst+len), skipping holes so untouched memory stays unallocated.
  void CopyData(uint64_t src, uint64_t dst, uint64_t len);

  // The sentry's view of [offset, offset+len); the caller has checked the range is allocated.
  uint8_t* Access(uint64_t offset) const { return base_ + offset; }

  uint64_t AllocatedBytes();

 private:
  MemoryFile(FileDescriptor fd, uint64_t size, uint8_t* base);

  FileDescriptor fd_;
  uint64_t size_;
  uint8_t* base_;
  absl::Mutex mu_;
  RangeAllocator allocator_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sentry::mm
