#include "sentry/fsimpl/gofer/page_cache.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "sentry/base/user_addr.h"
#include "spdlog/spdlog.h"

namespace sentry::fsimpl::gofer {
namespace {

// Pages read from the host per fault at most: the MemoryManager maps the present pages of the
// aligned window of this many pages around a fault, so filling the same window makes one trap
// and one host read serve all of it.
constexpr uint64_t kFillWindowPages = 32;

uint64_t PagesFor(uint64_t bytes) { return bytes / kPageSize + (bytes % kPageSize != 0); }

// Copies between a flat byte range and the bytes [pos, pos+len) of an iovec array. memmove:
// the application may write a file from a mapping of the same file.
void CopyIov(std::span<const iovec> iov, uint64_t pos, uint8_t* flat, uint64_t len, bool to_iov) {
  for (const iovec& v : iov) {
    if (len == 0) return;
    if (pos >= v.iov_len) {
      pos -= v.iov_len;
      continue;
    }
    uint64_t n = std::min<uint64_t>(len, v.iov_len - pos);
    auto* p = static_cast<uint8_t*>(v.iov_base) + pos;
    if (to_iov) {
      std::memmove(p, flat, n);
    } else {
      std::memmove(flat, p, n);
    }
    flat += n;
    len -= n;
    pos = 0;
  }
}

// Whole-buffer positional I/O on a host fd (preadv/pwritev: the sentry's seccomp filter has
// them); stops early only at the end of the file for reads.
Result<uint64_t> HostIo(int fd, uint8_t* buf, uint64_t len, uint64_t offset, bool write) {
  uint64_t done = 0;
  while (done < len) {
    iovec v{buf + done, len - done};
    ssize_t n = write ? pwritev(fd, &v, 1, static_cast<off_t>(offset + done))
                      : preadv(fd, &v, 1, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Err(errno);
    }
    if (n == 0) break;
    done += static_cast<uint64_t>(n);
  }
  return done;
}

absl::Mutex registry_mu(absl::kConstInit);
std::vector<std::weak_ptr<PageCache>>& Registry() ABSL_EXCLUSIVE_LOCKS_REQUIRED(registry_mu) {
  static std::vector<std::weak_ptr<PageCache>> caches;
  return caches;
}

}  // namespace

std::shared_ptr<PageCache> PageCache::Create(mm::MemoryFile& memory) {
  auto cache = std::make_shared<PageCache>(Key{}, memory);
  absl::MutexLock lock(&registry_mu);
  auto& all = Registry();
  std::erase_if(all, [](const auto& w) { return w.expired(); });
  all.push_back(cache);
  return cache;
}

PageCache::~PageCache() {
  std::vector<std::pair<uint64_t, uint64_t>> pages;
  {
    absl::MutexLock lock(&mu_);
    pages = DropFromLocked(0);
  }
  FreePages(pages);
}

void SyncAllPageCaches() {
  std::vector<std::shared_ptr<PageCache>> live;
  {
    absl::MutexLock lock(&registry_mu);
    for (const auto& w : Registry()) {
      if (auto c = w.lock()) live.push_back(std::move(c));
    }
  }
  for (const auto& c : live) {
    if (auto r = c->WriteBack(0, UINT64_MAX, true); !r) {
      spdlog::warn("sync: writing back a mapped host file failed: {}", strerror(r.error().value));
    }
  }
}

std::shared_ptr<mm::Mappable> PageCache::NewMapping(std::shared_ptr<FileDescriptor> fd,
                                                    bool writable) {
  {
    absl::MutexLock lock(&mu_);
    if (mappings_++ == 0) {
      struct stat st;
      if (fstat(fd->get(), &st) == 0) size_ = static_cast<uint64_t>(st.st_size);
    }
    if (!read_fd_) read_fd_ = fd;
    if (writable && !write_fd_) write_fd_ = std::move(fd);
  }
  // One reference per mmap(2); the VMAs (and their fork copies) share it. Its deleter lets go
  // of the cache when called, as the control block may outlive it (weak references).
  return std::shared_ptr<mm::Mappable>(this, [self = shared_from_this()](mm::Mappable*) mutable {
    self->MappingGone();
    self.reset();
  });
}

void PageCache::MappingGone() {
  std::vector<std::pair<uint64_t, uint64_t>> freed;
  {
    absl::MutexLock lock(&mu_);
    if (--mappings_ > 0) return;
    // No mapping is left to store into the pages, so they need not be dropped from any address
    // space before writing: this may run under a MemoryManager's lock (munmap, exit).
    std::vector<uint64_t> dirty;
    for (const auto& [index, page] : pages_) {
      if (page.dirty || page.writing) dirty.push_back(index);
    }
    if (auto r = WritePagesLocked(dirty); !r) {
      writeback_error_ = r.error().value;
      spdlog::warn("gofer: writing back a host file's mapped pages failed: {}",
                   strerror(r.error().value));
    }
    freed = DropFromLocked(0);
    read_fd_.reset();
    write_fd_.reset();
  }
  FreePages(freed);
}

Result<uint64_t> PageCache::HostSizeLocked() {
  const auto& fd = read_fd_ ? read_fd_ : write_fd_;
  if (!fd) return size_;
  struct stat st;
  if (fstat(fd->get(), &st) != 0) return Err(errno);
  size_ = static_cast<uint64_t>(st.st_size);
  return size_;
}

Result<void> PageCache::FillRunLocked(uint64_t index) {
  if (!read_fd_) return Err(EIO);
  uint64_t wfirst = index / kFillWindowPages * kFillWindowPages;
  uint64_t wend = std::min(wfirst + kFillWindowPages, PagesFor(size_));
  if (index >= wend) return Err(ENXIO);
  // The run of missing pages around `index`, inside the window.
  uint64_t lo = wfirst, hi = wend;
  auto next = pages_.lower_bound(index);
  if (next != pages_.end()) {
    if (next->first == index) return {};
    hi = std::min(hi, next->first);
  }
  if (next != pages_.begin()) lo = std::max(lo, std::prev(next)->first + 1);
  uint64_t len = (hi - lo) * kPageSize;
  auto offset = memory_.Allocate(len);
  if (!offset) return Err(ENOMEM);
  // Fresh memory reads as zeros: what lies past the end of the file stays so.
  auto n = HostIo(read_fd_->get(), memory_.Access(*offset), len, lo * kPageSize, false);
  if (!n) {
    memory_.Free(*offset, len);
    return std::unexpected(n.error());
  }
  for (uint64_t i = lo; i < hi; ++i) pages_.emplace(i, Page{*offset + (i - lo) * kPageSize});
  return {};
}

Result<uint64_t> PageCache::PageFor(uint64_t index) {
  absl::MutexLock lock(&mu_);
  if (auto it = pages_.find(index); it != pages_.end()) return it->second.offset;
  // The host file may have grown through another path than ours (another sandbox, the host).
  if (index >= PagesFor(size_) && index >= PagesFor(TRY(HostSizeLocked()))) return Err(ENXIO);
  TRY(FillRunLocked(index));
  return pages_.at(index).offset;
}

void PageCache::ForEachPresentPage(uint64_t first, uint64_t count,
                                   const std::function<void(uint64_t, uint64_t)>& fn) {
  absl::ReaderMutexLock lock(&mu_);
  uint64_t end = std::min(first + count, PagesFor(size_));
  for (auto it = pages_.lower_bound(first); it != pages_.end() && it->first < end; ++it) {
    fn(it->first, it->second.offset);
  }
}

void PageCache::FillHoles(uint64_t first, uint64_t count) {
  absl::MutexLock lock(&mu_);
  uint64_t end = std::min(first + count, PagesFor(size_));
  for (uint64_t i = first; i < end; ++i) {
    if (pages_.contains(i)) continue;
    if (!FillRunLocked(i)) return;
  }
}

void PageCache::NoteWritablePages(uint64_t first, uint64_t end) {
  absl::MutexLock lock(&mu_);
  for (auto it = pages_.lower_bound(first); it != pages_.end() && it->first < end; ++it) {
    it->second.dirty = true;
  }
}

Result<void> PageCache::PunchHole(uint64_t first, uint64_t end) {
  std::vector<std::pair<uint64_t, uint64_t>> dropped;
  {
    absl::MutexLock lock(&mu_);
    // Only a writable mapping gets here (madvise checks): write_fd_ is set.
    if (!write_fd_) return Err(EACCES);
    end = std::min(end, PagesFor(size_));
    if (first >= end) return {};
    // The sentry may not punch holes in host files (its seccomp filter allows fallocate on the
    // MemoryFile only): zeros written read the same, without giving the host its space back.
    static const uint8_t kZeros[kPageSize] = {};
    uint64_t stop = std::min(end * kPageSize, std::max(size_, first * kPageSize));
    for (uint64_t at = first * kPageSize; at < stop; at += kPageSize) {
      TRY(HostIo(write_fd_->get(), const_cast<uint8_t*>(kZeros),
                 std::min<uint64_t>(kPageSize, stop - at), at, true));
    }
    auto it = pages_.lower_bound(first);
    while (it != pages_.end() && it->first < end) {
      dropped.emplace_back(it->first, it->second.offset);
      it = pages_.erase(it);
    }
  }
  InvalidateMappings(first, end);
  FreePages(dropped);
  return {};
}

Result<void> PageCache::WritePagesLocked(const std::vector<uint64_t>& indices) {
  if (indices.empty()) return {};
  if (!write_fd_) return Err(EIO);  // dirty pages come only from mappings of a writable file
  uint64_t size = TRY(HostSizeLocked());
  // Runs contiguous both in the file and in the MemoryFile: one host write each.
  std::vector<Page*> done;
  Result<void> status;
  size_t i = 0;
  while (i < indices.size()) {
    auto it = pages_.find(indices[i]);
    if (it == pages_.end()) {
      ++i;
      continue;
    }
    uint64_t first = it->first, offset = it->second.offset, count = 0;
    while (i < indices.size() && it != pages_.end() && it->first == first + count &&
           it->first == indices[i] && it->second.offset == offset + count * kPageSize) {
      done.push_back(&it->second);
      ++count;
      ++i;
      ++it;
    }
    uint64_t start = first * kPageSize;
    if (start >= size) continue;  // past the end: not part of the file
    uint64_t len = std::min(count * kPageSize, size - start);
    if (auto n = HostIo(write_fd_->get(), memory_.Access(offset), len, start, true); !n) {
      status = std::unexpected(n.error());
      for (Page* p : done) p->dirty = true;  // keep them for the next write-back
      done.clear();
    }
  }
  for (Page* p : done) p->writing = false;
  return status;
}

Result<void> PageCache::WriteBack(uint64_t first, uint64_t end, bool durable) {
  absl::MutexLock writeback(&writeback_mu_);
  std::vector<uint64_t> indices;
  int earlier_error;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = pages_.lower_bound(first); it != pages_.end() && it->first < end; ++it) {
      if (!it->second.dirty) continue;
      it->second.dirty = false;
      it->second.writing = true;
      indices.push_back(it->first);
    }
    earlier_error = std::exchange(writeback_error_, 0);
  }
  if (!indices.empty()) {
    // Clean from now on: the next store through any mapping faults and dirties the page again.
    for (size_t i = 0; i < indices.size();) {
      size_t j = i + 1;
      while (j < indices.size() && indices[j] == indices[j - 1] + 1) ++j;
      InvalidateMappings(indices[i], indices[j - 1] + 1);
      i = j;
    }
    absl::MutexLock lock(&mu_);
    TRY(WritePagesLocked(indices));
    // As Linux's MS_SYNC: the data, not necessarily the metadata, reaches storage.
    if (durable && write_fd_ && fdatasync(write_fd_->get()) != 0) return Err(errno);
  }
  if (earlier_error != 0) return Err(earlier_error);
  return {};
}

Result<uint64_t> PageCache::Read(std::span<const iovec> dst, uint64_t offset,
                                 absl::FunctionRef<Result<uint64_t>()> host_read) {
  absl::ReaderMutexLock lock(&mu_);
  uint64_t n = TRY(host_read());
  if (n == 0 || pages_.empty()) return n;
  // Stores through mappings not written back yet are the file's newest data.
  uint64_t end = offset + n;
  for (auto it = pages_.lower_bound(offset / kPageSize);
       it != pages_.end() && it->first * kPageSize < end; ++it) {
    if (!it->second.dirty && !it->second.writing) continue;
    uint64_t page_start = it->first * kPageSize;
    uint64_t s = std::max(offset, page_start), e = std::min(end, page_start + kPageSize);
    CopyIov(dst, s - offset, memory_.Access(it->second.offset + (s - page_start)), e - s, true);
  }
  return n;
}

Result<uint64_t> PageCache::Write(
    std::span<const iovec> src,
    absl::FunctionRef<Result<std::pair<uint64_t, uint64_t>>()> host_write) {
  absl::MutexLock lock(&mu_);
  auto [n, offset] = TRY(host_write());
  if (n == 0) return n;
  uint64_t end = offset + n;
  size_ = std::max(size_, end);
  for (auto it = pages_.lower_bound(offset / kPageSize);
       it != pages_.end() && it->first * kPageSize < end; ++it) {
    uint64_t page_start = it->first * kPageSize;
    uint64_t s = std::max(offset, page_start), e = std::min(end, page_start + kPageSize);
    CopyIov(src, s - offset, memory_.Access(it->second.offset + (s - page_start)), e - s, false);
  }
  return n;
}

Result<void> PageCache::Truncate(uint64_t size, absl::FunctionRef<Result<void>()> host_truncate) {
  {
    absl::MutexLock lock(&mu_);
    TRY(host_truncate());
  }
  ShrinkTo(size);
  return {};
}

void PageCache::Truncated(uint64_t size) { ShrinkTo(size); }

void PageCache::ShrinkTo(uint64_t size) {
  std::vector<std::pair<uint64_t, uint64_t>> dropped;
  uint64_t first = PagesFor(size);
  {
    absl::MutexLock lock(&mu_);
    // Bytes past the end in the last page read as zeros, now and after the file grows again
    // (also what a mapping stored there before it grew).
    uint64_t from = std::min(size, size_);
    if (from % kPageSize != 0) {
      if (auto it = pages_.find(from / kPageSize); it != pages_.end()) {
        uint64_t in_page = from % kPageSize;
        std::memset(memory_.Access(it->second.offset + in_page), 0, kPageSize - in_page);
      }
    }
    size_ = size;
    dropped = DropFromLocked(first);
  }
  // Private mappings lose their copies past the new end too, even where nothing was cached.
  InvalidateMappingsAndCopies(first);
  if (!dropped.empty()) FreePages(dropped);
}

std::vector<std::pair<uint64_t, uint64_t>> PageCache::DropFromLocked(uint64_t first) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  auto it = pages_.lower_bound(first);
  for (auto i = it; i != pages_.end(); ++i) out.emplace_back(i->first, i->second.offset);
  pages_.erase(it, pages_.end());
  return out;
}

void PageCache::FreePages(const std::vector<std::pair<uint64_t, uint64_t>>& pages) {
  std::vector<uint64_t> offsets;
  offsets.reserve(pages.size());
  for (const auto& p : pages) offsets.push_back(p.second);
  std::sort(offsets.begin(), offsets.end());
  for (size_t i = 0; i < offsets.size();) {
    size_t j = i + 1;
    while (j < offsets.size() && offsets[j] == offsets[j - 1] + kPageSize) ++j;
    memory_.Free(offsets[i], offsets[j - 1] + kPageSize - offsets[i]);
    i = j;
  }
}

uint64_t PageCache::DirtyBlocks() {
  absl::ReaderMutexLock lock(&mu_);
  uint64_t pages = 0;
  for (const auto& [index, page] : pages_) pages += page.dirty || page.writing;
  return pages * (kPageSize / 512);
}

}  // namespace sentry::fsimpl::gofer
