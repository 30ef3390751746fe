#include "sentry/mm/memory_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <tuple>

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

void MemoryFile::SplitSharedAt(uint64_t at) {
  auto it = shared_.upper_bound(at);
  if (it == shared_.begin()) return;
  --it;
  if (it->first >= at || it->second.end <= at) return;
  Shared upper = it->second;
  it->second.end = at;
  shared_.emplace(at, upper);
}

void MemoryFile::MergeShared(uint64_t start, uint64_t end) {
  auto it = shared_.lower_bound(start);
  if (it != shared_.begin()) --it;
  while (it != shared_.end() && it->first <= end) {
    auto next = std::next(it);
    if (next == shared_.end()) break;
    if (it->second.end == next->first && it->second.users == next->second.users) {
      it->second.end = next->second.end;
      shared_.erase(next);
    } else {
      it = next;
    }
  }
}

void MemoryFile::IncRef(uint64_t offset, uint64_t len) {
  if (len == 0) return;
  uint64_t end = offset + len;
  absl::MutexLock lock(&mu_);
  SplitSharedAt(offset);
  SplitSharedAt(end);
  uint64_t cur = offset;
  auto it = shared_.lower_bound(offset);
  while (cur < end) {
    if (it != shared_.end() && it->first == cur) {
      ++it->second.users;
      cur = it->second.end;
      ++it;
      continue;
    }
    // A gap: one user so far, two now.
    uint64_t stop = it != shared_.end() && it->first < end ? it->first : end;
    shared_.emplace_hint(it, cur, Shared{stop, 2});
    cur = stop;
  }
  MergeShared(offset, end);
}

void MemoryFile::DecRef(uint64_t offset, uint64_t len) {
  if (len == 0) return;
  uint64_t end = offset + len;
  std::vector<std::pair<uint64_t, uint64_t>> unused;
  {
    absl::MutexLock lock(&mu_);
    SplitSharedAt(offset);
    SplitSharedAt(end);
    uint64_t cur = offset;
    auto it = shared_.lower_bound(offset);
    while (cur < end) {
      if (it != shared_.end() && it->first == cur) {
        cur = it->second.end;
        it = --it->second.users == 1 ? shared_.erase(it) : std::next(it);
        continue;
      }
      // The last user of a gap lets go.
      uint64_t stop = it != shared_.end() && it->first < end ? it->first : end;
      unused.emplace_back(cur, stop - cur);
      cur = stop;
    }
    MergeShared(offset, end);
  }
  for (auto [off, n] : unused) Free(off, n);
}

void MemoryFile::ForEachRun(uint64_t offset, uint64_t len,
                            const std::function<void(uint64_t, uint64_t, bool)>& fn) {
  uint64_t end = offset + len;
  std::vector<std::tuple<uint64_t, uint64_t, bool>> runs;
  {
    absl::MutexLock lock(&mu_);
    uint64_t cur = offset;
    auto it = shared_.upper_bound(offset);
    if (it != shared_.begin() && std::prev(it)->second.end > offset) --it;
    while (cur < end) {
      if (it != shared_.end() && it->first <= cur) {
        uint64_t stop = std::min(end, it->second.end);
        runs.emplace_back(cur, stop, true);
        cur = stop;
        ++it;
        continue;
      }
      uint64_t stop = it != shared_.end() && it->first < end ? it->first : end;
      runs.emplace_back(cur, stop, false);
      cur = stop;
    }
  }
  for (auto [s, e, shared] : runs) fn(s, e, shared);
}

bool MemoryFile::IsShared(uint64_t offset, uint64_t len) {
  absl::MutexLock lock(&mu_);
  auto it = shared_.upper_bound(offset);
  if (it != shared_.begin() && std::prev(it)->second.end > offset) return true;
  return it != shared_.end() && it->first < offset + len;
}

uint32_t MemoryFile::RefCount(uint64_t offset) {
  absl::MutexLock lock(&mu_);
  auto it = shared_.upper_bound(offset);
  if (it == shared_.begin()) return 1;
  --it;
  return it->second.end > offset ? it->second.users : 1;
}

size_t MemoryFile::SharedExtentCount() {
  absl::MutexLock lock(&mu_);
  return shared_.size();
}

void MemoryFile::CopyData(uint64_t src, uint64_t dst, uint64_t len) {
  // Window by window: SEEK_DATA skips holes cheaply, but SEEK_HOLE would walk every page of
  // the (often large and dense) memory that follows, so a window with data is copied whole.
  constexpr uint64_t kWindow = 64 * 1024;
  uint64_t pos = src, end = src + len;
  while (pos < end) {
    off_t data = lseek(fd_.get(), static_cast<off_t>(pos), SEEK_DATA);
    if (data < 0 || static_cast<uint64_t>(data) >= end) break;
    uint64_t from = static_cast<uint64_t>(data);
    uint64_t stop = std::min(end, (from - src) / kWindow * kWindow + src + kWindow);
    std::memcpy(base_ + dst + (from - src), base_ + from, stop - from);
    pos = stop;
  }
}

uint64_t MemoryFile::AllocatedBytes() {
  absl::MutexLock lock(&mu_);
  return allocator_.allocated();
}

}  // namespace sentry::mm
