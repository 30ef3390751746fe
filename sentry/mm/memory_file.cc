#include "sentry/mm/memory_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace sentry::mm {

absl::StatusOr<std::unique_ptr<MemoryFile>> MemoryFile::Create(uint64_t size) {
  FileDescriptor fd(memfd_create("sentry-memory", MFD_CLOEXEC));
  if (!fd.valid()) return absl::InternalError(absl::StrCat("memfd_create: ", strerror(errno)));
  if (ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    return absl::InternalError(absl::StrCat("ftruncate memory file: ", strerror(errno)));
  }
  void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd.get(), 0);
  if (base == MAP_FAILED) {
    return absl::InternalError(absl::StrCat("mmap memory file: ", strerror(errno)));
  }
  return std::unique_ptr<MemoryFile>(
      new MemoryFile(std::move(fd), size, static_cast<uint8_t*>(base)));
}

MemoryFile::MemoryFile(FileDescriptor fd, uint64_t size, uint8_t* base)
    : fd_(std::move(fd)), size_(size), base_(base), allocator_(size) {}

MemoryFile::~MemoryFile() { munmap(base_, size_); }

std::optional<uint64_t> MemoryFile::Allocate(uint64_t len) {
  absl::MutexLock lock(&mu_);
  return allocator_.Allocate(len);
}

bool MemoryFile::ExtendInPlace(uint64_t offset, uint64_t len, uint64_t extra) {
  absl::MutexLock lock(&mu_);
  return allocator_.ExtendInPlace(offset, len, extra);
}

void MemoryFile::Free(uint64_t offset, uint64_t len) {
  Decommit(offset, len);
  absl::MutexLock lock(&mu_);
  if (!allocator_.Free(offset, len)) {
    spdlog::error("memory file: freeing unallocated range [{:#x}, +{:#x})", offset, len);
  }
}

void MemoryFile::Decommit(uint64_t offset, uint64_t len) {
  if (fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                static_cast<off_t>(len)) != 0) {
    // Punching can only fail for reasons that leave the data in place; zero it by hand so the
    // range still reads as zero, which is what callers rely on.
    std::memset(base_ + offset, 0, len);
  }
}

void MemoryFile::CopyData(uint64_t src, uint64_t dst, uint64_t len) {
  uint64_t pos = src, end = src + len;
  while (pos < end) {
    off_t data = lseek(fd_.get(), static_cast<off_t>(pos), SEEK_DATA);
    if (data < 0 || static_cast<uint64_t>(data) >= end) break;
    off_t hole = lseek(fd_.get(), data, SEEK_HOLE);
    uint64_t stop = hole < 0 ? end : std::min<uint64_t>(static_cast<uint64_t>(hole), end);
    std::memcpy(base_ + dst + (data - src), base_ + data, stop - static_cast<uint64_t>(data));
    pos = stop;
  }
}

uint64_t MemoryFile::AllocatedBytes() {
  absl::MutexLock lock(&mu_);
  return allocator_.allocated();
}

}  // namespace sentry::mm
