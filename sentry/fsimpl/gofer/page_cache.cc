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

std::shared_ptr<PageCache> PageCache::Create(mm::MemoryFile& memory, KeptPages& kept) {
  auto cache = std::make_shared<PageCache>(Key{}, memory, kept);
  absl::MutexLock lock(&registry_mu);
  auto& all = Registry();
  std::erase_if(all, [](const auto& w) { return w.expired(); });
  all.push_back(cache);
  return cache;
}

PageCache::~PageCache() {
  Release r;
  {
    absl::MutexLock lock(&mu_);
    DropFromLocked(0, r);
    kept_seq_ = 0;
    UpdateKeptLocked();
  }
  kept_.Forget(this);
  FreePages(r.free);
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

PageCache::HostStamp PageCache::HostStamp::Of(const struct stat& st) {
  return {static_cast<uint64_t>(st.st_ino),
          static_cast<uint64_t>(st.st_size),
          st.st_mtim.tv_sec,
          st.st_mtim.tv_nsec,
          st.st_ctim.tv_sec,
          st.st_ctim.tv_nsec};
}

void PageCache::Finish(Release& r) {
  for (const auto& [first, end] : r.invalidate) InvalidateMappings(first, end);
  if (r.truncate_from) InvalidateMappingsAndCopies(*r.truncate_from);
  FreePages(r.free);
  r = {};
}

std::shared_ptr<mm::Mappable> PageCache::NewMapping(std::shared_ptr<FileDescriptor> fd,
                                                    bool writable) {
  Release r;
  {
    absl::MutexLock lock(&mu_);
    if (mappings_++ == 0) {
      // Kept pages are the application's again, and must still be the host file's: it may have
      // changed while nobody had it mapped.
      kept_seq_ = 0;
      kept_.Forget(this);
      struct stat st;
      if (fstat(fd->get(), &st) == 0) {
        if (!stamp_ || HostStamp::Of(st) != *stamp_) DropFromLocked(0, r);
        stamp_ = HostStamp::Of(st);
        size_ = static_cast<uint64_t>(st.st_size);
      } else {
        DropFromLocked(0, r);
        stamp_.reset();
      }
      UpdateKeptLocked();
    }
    if (!read_fd_) read_fd_ = fd;
    if (writable && !write_fd_) write_fd_ = std::move(fd);
  }
  FreePages(r.free);
  // One reference per mmap(2); the VMAs (and their fork copies) share it. Its deleter lets go
  // of the cache when called, as the control block may outlive it (weak references).
  return std::shared_ptr<mm::Mappable>(this, [self = shared_from_this()](mm::Mappable*) mutable {
    self->MappingGone();
    self.reset();
  });
}

void PageCache::MappingGone() {
  Release r;
  {
    absl::MutexLock lock(&mu_);
    if (--mappings_ > 0) return;
    // No mapping is left to store into the pages, so they need not be dropped from any address
    // space before writing: this may run under a MemoryManager's lock (munmap, exit).
    std::vector<uint64_t> dirty;
    for (const auto& [index, page] : pages_) {
      if (page.dirty || page.writing) dirty.push_back(index);
    }
    if (auto w = WritePagesLocked(dirty, r); !w) {
      writeback_error_ = w.error().value;
      spdlog::warn("gofer: writing back a host file's mapped pages failed: {}",
                   strerror(w.error().value));
      DropFromLocked(0, r);  // never keep what the host file does not hold
    } else if (!dirty.empty()) {
      // No mapping can store into them again: clean now (write-back proper must leave that to
      // the next fault, see WriteBack).
      for (uint64_t i : dirty) {
        if (auto it = pages_.find(i); it != pages_.end()) it->second.dirty = false;
      }
    } else if (!pages_.empty()) {
      // Nothing written: still check that the host did not change the file while mapped.
      if (auto st = HostStatLocked(); !st) {
        DropFromLocked(0, r);
      } else {
        RevalidateLocked(*st, r);
      }
    }
    read_fd_.reset();
    write_fd_.reset();
    if (!pages_.empty()) kept_seq_ = kept_.Keep(shared_from_this(), pages_.size());
    UpdateKeptLocked();
  }
  FreePages(r.free);
  kept_.Reclaim();
}

void PageCache::EvictKept(uint64_t seq) {
  Release r;
  {
    absl::MutexLock lock(&mu_);
    if (mappings_ != 0 || kept_seq_ != seq) return;
    DropFromLocked(0, r);
    UpdateKeptLocked();
  }
  FreePages(r.free);
}

void PageCache::UpdateKeptLocked() {
  if (kept_seq_ != 0 && pages_.empty()) {
    kept_seq_ = 0;
    kept_.Forget(this);
  }
  if (kept_seq_ != 0) kept_.Resize(this, pages_.size());
  uint64_t bytes = kept_seq_ != 0 ? pages_.size() * kPageSize : 0;
  memory_.AddReclaimableBytes(static_cast<int64_t>(bytes) - static_cast<int64_t>(kept_bytes_));
  kept_bytes_ = bytes;
}

bool PageCache::HasPages() {
  absl::ReaderMutexLock lock(&mu_);
  return !pages_.empty();
}

void PageCache::HostAttributes(const struct stat& st) {
  Release r;
  {
    absl::MutexLock lock(&mu_);
    if (pages_.empty()) {
      // Nothing to go stale; pages filled from now on are at least this new.
      if (mappings_ > 0) stamp_ = HostStamp::Of(st);
      return;
    }
    if (RevalidateLocked(st, r)) UpdateKeptLocked();
  }
  Finish(r);
}

Result<struct stat> PageCache::HostStatLocked(int fd) {
  if (fd < 0) {
    const auto& f = read_fd_ ? read_fd_ : write_fd_;
    if (!f) return Err(EBADF);
    fd = f->get();
  }
  struct stat st;
  if (fstat(fd, &st) != 0) return Err(errno);
  return st;
}

Result<uint64_t> PageCache::HostSizeLocked() {
  if (!read_fd_ && !write_fd_) return size_;
  size_ = static_cast<uint64_t>(TRY(HostStatLocked()).st_size);
  return size_;
}

bool PageCache::RevalidateLocked(const struct stat& st, Release& r) {
  if (stamp_ && HostStamp::Of(st) == *stamp_) return false;
  HostChangedLocked(st, r);
  return true;
}

void PageCache::HostChangedLocked(const struct stat& st, Release& r) {
  auto size = static_cast<uint64_t>(st.st_size);
  if (mappings_ == 0) {
    DropFromLocked(0, r);
  } else {
    if (size < size_) ShrinkLocked(size, r);
    size_ = size;
    RereadCleanLocked(r);
  }
  size_ = size;
  stamp_ = HostStamp::Of(st);
}

void PageCache::RereadCleanLocked(Release& r) {
  const auto& fd = read_fd_ ? read_fd_ : write_fd_;
  // Runs of clean pages contiguous in the file and in the MemoryFile: one host read each. A
  // page being stored into is dirty (NoteWritablePages comes first, under mu_), so no store is
  // overwritten; dirty and written-back-in-progress pages keep the sandbox's data.
  auto it = pages_.begin();
  while (it != pages_.end()) {
    if (it->second.dirty || it->second.writing) {
      ++it;
      continue;
    }
    auto run = it;
    uint64_t first = it->first, offset = it->second.offset, count = 0;
    while (it != pages_.end() && !it->second.dirty && !it->second.writing &&
           it->first == first + count && it->second.offset == offset + count * kPageSize) {
      ++count;
      ++it;
    }
    uint64_t len = count * kPageSize;
    Result<uint64_t> n =
        fd ? HostIo(fd->get(), memory_.Access(offset), len, first * kPageSize, false)
           : Result<uint64_t>(Err(EBADF));
    if (n) {
      // Past the end of the file the pages read as zeros.
      if (*n < len) std::memset(memory_.Access(offset + *n), 0, len - *n);
      continue;
    }
    // Unreadable: nobody may see the old data; the next fault reads the host again.
    spdlog::warn("gofer: re-reading a changed host file failed: {}", strerror(n.error().value));
    for (auto d = run; d != it;) {
      r.free.emplace_back(d->first, d->second.offset);
      d = pages_.erase(d);
    }
    r.invalidate.emplace_back(first, first + count);
  }
}

void PageCache::RestampLocked(int fd) {
  if (auto st = HostStatLocked(fd)) {
    stamp_ = HostStamp::Of(*st);
  } else {
    stamp_.reset();  // the pages will be dropped at the next check
  }
}

Result<void> PageCache::FillRunLocked(uint64_t index) {
  if (!read_fd_) return Err(EIO);
  uint64_t wfirst = index / kFillWindowPages * kFillWindowPages;
  uint64_t wend = std::min(wfirst + kFillWindowPages, PagesFor(size_));
  if (index >= wend) return Err(ENXIO);
  if (!stamp_) {
    // The data read now is at least as new as what the host says now.
    stamp_ = HostStamp::Of(TRY(HostStatLocked()));
  }
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
  memory_.AddFileCacheBytes(static_cast<int64_t>(len));
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
  Release r;
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
      r.free.emplace_back(it->first, it->second.offset);
      it = pages_.erase(it);
    }
    r.invalidate.emplace_back(first, end);
  }
  Finish(r);
  return {};
}

Result<void> PageCache::WritePagesLocked(const std::vector<uint64_t>& indices, Release& r) {
  if (indices.empty()) return {};
  if (!write_fd_) return Err(EIO);  // dirty pages come only from mappings of a writable file
  struct stat before = TRY(HostStatLocked());
  size_ = static_cast<uint64_t>(before.st_size);
  bool host_changed = !stamp_ || HostStamp::Of(before) != *stamp_;
  uint64_t size = size_;
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
  if (host_changed) {
    // Someone else wrote the file since the pages matched it: our writes went over theirs
    // for the pages we wrote; the clean ones may be theirs no more.
    if (auto after = HostStatLocked()) HostChangedLocked(*after, r);
  } else {
    RestampLocked(write_fd_->get());
  }
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
    Release r;
    Result<void> written;
    {
      absl::MutexLock lock(&mu_);
      written = WritePagesLocked(indices, r);
      // As Linux's MS_SYNC: the data, not necessarily the metadata, reaches storage.
      if (written && durable && write_fd_ && fdatasync(write_fd_->get()) != 0) {
        written = Err(errno);
      }
    }
    Finish(r);
    TRY(written);
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
    std::span<const iovec> src, int host_fd,
    absl::FunctionRef<Result<std::pair<uint64_t, uint64_t>>()> host_write) {
  Release r;
  Result<uint64_t> result;
  {
    absl::MutexLock lock(&mu_);
    // A file with pages pays two fstats per write: one to see whether the host changed it
    // before, one to take the attributes our write leaves as the pages' stamp. A mapped file
    // with no pages yet takes the new stamp too, so that its next pages are not thought stale.
    bool track = !pages_.empty() || mappings_ > 0;
    if (!pages_.empty()) {
      if (auto st = HostStatLocked(host_fd)) {
        if (RevalidateLocked(*st, r)) UpdateKeptLocked();
      }
    }
    auto written = host_write();
    if (!written) {
      result = std::unexpected(written.error());
    } else {
      auto [n, offset] = *written;
      result = n;
      uint64_t end = offset + n;
      if (n > 0) size_ = std::max(size_, end);
      for (auto it = pages_.lower_bound(offset / kPageSize);
           n > 0 && it != pages_.end() && it->first * kPageSize < end; ++it) {
        uint64_t page_start = it->first * kPageSize;
        uint64_t s = std::max(offset, page_start), e = std::min(end, page_start + kPageSize);
        CopyIov(src, s - offset, memory_.Access(it->second.offset + (s - page_start)), e - s,
                false);
      }
      if (n > 0 && track) RestampLocked(host_fd);
    }
  }
  Finish(r);
  return result;
}

Result<void> PageCache::Truncate(uint64_t size, int host_fd,
                                 absl::FunctionRef<Result<void>()> host_truncate) {
  Release r;
  Result<void> result;
  {
    absl::MutexLock lock(&mu_);
    bool track = !pages_.empty() || mappings_ > 0;
    if (!pages_.empty()) {
      if (auto st = HostStatLocked(host_fd)) RevalidateLocked(*st, r);
    }
    result = host_truncate();
    if (result) {
      ShrinkLocked(size, r);
      if (track) RestampLocked(host_fd);
    }
    UpdateKeptLocked();
  }
  Finish(r);
  return result;
}

void PageCache::Truncated(uint64_t size) { ShrinkTo(size); }

void PageCache::ShrinkTo(uint64_t size) {
  Release r;
  {
    absl::MutexLock lock(&mu_);
    ShrinkLocked(size, r);
    UpdateKeptLocked();
  }
  Finish(r);
}

void PageCache::ShrinkLocked(uint64_t size, Release& r) {
  uint64_t first = PagesFor(size);
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
  DropFromLocked(first, r);
  // Private mappings lose their copies past the new end too, even where nothing was cached.
  r.truncate_from = std::min(first, r.truncate_from.value_or(UINT64_MAX));
}

void PageCache::DropFromLocked(uint64_t first, Release& r) {
  auto it = pages_.lower_bound(first);
  for (auto i = it; i != pages_.end(); ++i) r.free.emplace_back(i->first, i->second.offset);
  pages_.erase(it, pages_.end());
}

void PageCache::FreePages(const std::vector<std::pair<uint64_t, uint64_t>>& pages) {
  if (pages.empty()) return;
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
  memory_.AddFileCacheBytes(-static_cast<int64_t>(offsets.size() * kPageSize));
}

uint64_t PageCache::DirtyBlocks() {
  absl::ReaderMutexLock lock(&mu_);
  uint64_t pages = 0;
  for (const auto& [index, page] : pages_) pages += page.dirty || page.writing;
  return pages * (kPageSize / 512);
}

}  // namespace sentry::fsimpl::gofer
