#include "sentry/fsimpl/tmpfs/regular_file.h"

#include <unistd.h>

#include <algorithm>
#include <utility>

#include "sentry/vfs/iovec.h"

namespace sentry::fsimpl::tmpfs {

using vfs::IovecCursor;
using vfs::IovecTotal;
namespace {

// Missing pages are allocated in runs of at most this many, so a large write costs few trips to
// the MemoryFile's allocator without demanding a huge contiguous range.
constexpr uint64_t kMaxAllocationRun = 256;

uint64_t PagesFor(uint64_t size) { return size / kPageSize + (size % kPageSize ? 1 : 0); }

}  // namespace

RegularInode::RegularInode(std::shared_ptr<Superblock> sb, mode_t mode, uint32_t uid, uint32_t gid)
    : TmpfsInode(std::move(sb), S_IFREG | (mode & 07777), uid, gid) {}

RegularInode::~RegularInode() {
  // No mapping holds the file any more (a mapping keeps its inode alive).
  std::vector<std::pair<uint64_t, uint64_t>> pages;
  {
    absl::MutexLock lock(&mu_);
    DetachPagesLocked(0, UINT64_MAX);
    pages.swap(detached_);
  }
  FreePages(pages);
}

Result<std::shared_ptr<vfs::FileDescription>> RegularInode::Open(const vfs::VirtualDentry& path,
                                                                 int flags) {
  if (flags & O_DIRECTORY) return Err(ENOTDIR);
  if (flags & O_PATH) return OpenPath(path, flags);
  // Linux truncates on O_TRUNC whatever the access mode; the VFS has checked write permission.
  if (flags & O_TRUNC) TRY(Truncate(0));
  auto self = std::static_pointer_cast<RegularInode>(shared_from_this());
  return std::make_shared<RegularFile>(StatusFlags(flags), path, std::move(self));
}

Result<uint64_t> RegularInode::FileOffsetOfPage(uint64_t page_index, bool allocate) {
  absl::MutexLock lock(&mu_);
  if (page_index >= PagesFor(size_)) return Err(ENXIO);
  auto it = pages_.find(page_index);
  if (it != pages_.end()) return it->second;
  if (!allocate) return Err(ENODATA);
  uint64_t offset = TRY(sb().AllocatePages(1));
  pages_.emplace(page_index, offset);
  return offset;
}

void RegularInode::ForEachPresentPage(uint64_t first, uint64_t count,
                                      const std::function<void(uint64_t, uint64_t)>& fn) {
  absl::ReaderMutexLock lock(&mu_);
  uint64_t end = std::min(first + count, PagesFor(size_));
  for (auto it = pages_.lower_bound(first); it != pages_.end() && it->first < end; ++it) {
    fn(it->first, it->second);
  }
}

void RegularInode::FillHoles(uint64_t first, uint64_t count) {
  absl::MutexLock lock(&mu_);
  uint64_t end = std::min(first + count, PagesFor(size_));
  uint64_t page = first;
  while (page < end) {
    auto it = pages_.lower_bound(page);
    if (it != pages_.end() && it->first == page) {
      ++page;
      continue;
    }
    // The run of holes from here: one allocation, contiguous in the MemoryFile when it can be.
    uint64_t run_end = it == pages_.end() ? end : std::min(end, it->first);
    Result<uint64_t> mem = sb().AllocatePages(run_end - page);
    if (!mem) return;  // no room for the run: the faults will allocate page by page
    for (uint64_t i = page; i < run_end; ++i) pages_.emplace(i, *mem + (i - page) * kPageSize);
    page = run_end;
  }
}

void RegularInode::NoteMappedWrite() {
  absl::MutexLock lock(&mu_);
  mtime_ = ctime_ = Now();
}

Result<void> RegularInode::PunchHole(uint64_t first, uint64_t end) {
  absl::MutexLock t(&truncate_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (seals_ & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) return Err(EPERM);
    DetachPagesLocked(first, end);
    mtime_ = ctime_ = Now();
  }
  ReleaseDetached();
  return {};
}

Result<void> RegularInode::SetStat(const vfs::SetStatRequest& req) {
  if (!req.size) return TmpfsInode::SetStat(req);
  absl::MutexLock t(&truncate_mu_);
  auto r = TmpfsInode::SetStat(req);
  ReleaseDetached();
  return r;
}

Result<uint64_t> RegularInode::Read(std::span<const iovec> dst, uint64_t offset) {
  uint64_t want = IovecTotal(dst);
  // Linux's rw_verify_area: the range may not wrap past the largest file offset.
  if (offset > static_cast<uint64_t>(INT64_MAX) - want) return Err(EINVAL);
  if (want == 0) return 0;
  uint64_t done = 0;
  {
    absl::ReaderMutexLock lock(&mu_);
    uint64_t n = offset < size_ ? std::min(want, size_ - offset) : 0;
    IovecCursor cursor(dst);
    mm::MemoryFile& memory = sb().memory();
    auto it = pages_.lower_bound(offset / kPageSize);
    while (done < n) {
      uint64_t pos = offset + done;
      uint64_t page = pos / kPageSize;
      uint64_t in_page = pos % kPageSize;
      uint64_t chunk = std::min(kPageSize - in_page, n - done);
      while (it != pages_.end() && it->first < page) ++it;
      if (it != pages_.end() && it->first == page) {
        cursor.Fill(memory.Access(it->second) + in_page, chunk);
      } else {
        cursor.FillZeros(chunk);  // a hole
      }
      done += chunk;
    }
  }
  Accessed();
  return done;
}

Result<RegularInode::WriteResult> RegularInode::Write(std::span<const iovec> src, uint64_t offset,
                                                      bool append) {
  uint64_t want = IovecTotal(src);
  if (offset > static_cast<uint64_t>(INT64_MAX) - want) return Err(EINVAL);
  absl::MutexLock lock(&mu_);
  if (append) offset = size_;
  if (want == 0) return WriteResult{0, offset};
  // The largest file is INT64_MAX bytes: a write that starts there fails, one that crosses it
  // is cut short (Linux's generic_write_checks).
  if (offset >= static_cast<uint64_t>(INT64_MAX)) return Err(EFBIG);
  want = std::min(want, static_cast<uint64_t>(INT64_MAX) - offset);

  // Seals, as shmem_write_begin checks them for each page-sized piece of the write: with
  // F_SEAL_GROW the pieces that end within the file go through and the first that would grow
  // it fails, so a write is cut at the last page boundary inside the file, or refused.
  if (seals_ & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) return Err(EPERM);
  if ((seals_ & F_SEAL_GROW) && offset + want > size_) {
    uint64_t allowed_end = size_ / kPageSize * kPageSize;
    if (allowed_end <= offset) return Err(EPERM);
    want = allowed_end - offset;
  }

  IovecCursor cursor(src);
  mm::MemoryFile& memory = sb().memory();
  const uint64_t last_page = (offset + want - 1) / kPageSize;
  uint64_t done = 0;
  while (done < want) {
    uint64_t pos = offset + done;
    uint64_t page = pos / kPageSize;
    uint64_t in_page = pos % kPageSize;
    uint64_t chunk = std::min(kPageSize - in_page, want - done);
    auto it = pages_.lower_bound(page);
    if (it == pages_.end() || it->first != page) {
      // Allocate the run of missing pages from here to the next present one (or the end of the
      // write) at once; each of them is written before the next allocation, so a failure
      // never leaves a page past what was written.
      uint64_t run_end = it == pages_.end() ? last_page + 1 : std::min(last_page + 1, it->first);
      uint64_t run = std::min(run_end - page, kMaxAllocationRun);
      Result<uint64_t> mem = sb().AllocatePages(run);
      if (!mem && run > 1) {
        run = 1;  // no contiguous range that large: one page will do
        mem = sb().AllocatePages(1);
      }
      if (!mem) {
        if (done > 0) break;  // a short write, as Linux's when the file system fills up
        return std::unexpected(mem.error());
      }
      for (uint64_t i = 0; i < run; ++i) pages_.emplace(page + i, *mem + i * kPageSize);
      it = pages_.find(page);
    }
    cursor.Drain(memory.Access(it->second) + in_page, chunk);
    done += chunk;
  }
  size_ = std::max(size_, offset + done);
  mtime_ = ctime_ = Now();
  return WriteResult{done, offset + done};
}

Result<void> RegularInode::Truncate(uint64_t size) {
  if (size > static_cast<uint64_t>(INT64_MAX)) return Err(EINVAL);
  absl::MutexLock t(&truncate_mu_);
  {
    absl::MutexLock lock(&mu_);
    TRY(SetSizeLocked(size));
    mtime_ = ctime_ = Now();
  }
  ReleaseDetached();
  return {};
}

Result<bool> RegularInode::SetSizeLocked(uint64_t size) {
  if ((size < size_ && (seals_ & F_SEAL_SHRINK)) || (size > size_ && (seals_ & F_SEAL_GROW))) {
    return Err(EPERM);
  }
  if (size < size_) {
    // The part of the last page past the new end must read as zeros if the file grows again.
    uint64_t in_page = size % kPageSize;
    if (in_page != 0) {
      auto it = pages_.find(size / kPageSize);
      if (it != pages_.end()) {
        std::memset(sb().memory().Access(it->second) + in_page, 0, kPageSize - in_page);
      }
    }
    DetachPagesLocked(PagesFor(size), UINT64_MAX);
    shrunk_to_page_ = std::min(shrunk_to_page_.value_or(UINT64_MAX), PagesFor(size));
  }
  bool changed = size != size_;
  size_ = size;
  return changed;
}

void RegularInode::DetachPagesLocked(uint64_t first_page, uint64_t end_page) {
  auto begin = pages_.lower_bound(first_page);
  auto end = end_page == UINT64_MAX ? pages_.end() : pages_.lower_bound(end_page);
  detached_.insert(detached_.end(), begin, end);
  pages_.erase(begin, end);
}

void RegularInode::ReleaseDetached() {
  std::vector<std::pair<uint64_t, uint64_t>> pages;
  std::optional<uint64_t> shrunk_to;
  {
    absl::MutexLock lock(&mu_);
    pages.swap(detached_);
    shrunk_to = std::exchange(shrunk_to_page_, std::nullopt);
  }
  // A shrink drops the private copies past the new end too, pages or not.
  if (shrunk_to) InvalidateMappingsAndCopies(*shrunk_to);
  if (pages.empty()) return;
  uint64_t first = UINT64_MAX, last = 0;
  for (const auto& [index, offset] : pages) {
    first = std::min(first, index);
    last = std::max(last, index);
  }
  if (!shrunk_to || first < *shrunk_to) InvalidateMappings(first, last + 1);
  FreePages(pages);
}

void RegularInode::FreePages(const std::vector<std::pair<uint64_t, uint64_t>>& pages) {
  // Pages that were allocated together usually sit side by side in the MemoryFile too: free
  // such runs with one call (one hole punch) each.
  uint64_t run_offset = 0, run_pages = 0, next_index = 0;
  for (const auto& [index, offset] : pages) {
    if (run_pages > 0 && index == next_index && offset == run_offset + run_pages * kPageSize) {
      ++run_pages;
    } else {
      if (run_pages > 0) sb().FreePages(run_offset, run_pages);
      run_offset = offset;
      run_pages = 1;
    }
    next_index = index + 1;
  }
  if (run_pages > 0) sb().FreePages(run_offset, run_pages);
}

Result<int64_t> RegularInode::SeekDataOrHole(int64_t offset, bool data) {
  absl::ReaderMutexLock lock(&mu_);
  if (offset < 0 || static_cast<uint64_t>(offset) >= size_) return Err(ENXIO);
  uint64_t page = static_cast<uint64_t>(offset) / kPageSize;
  auto it = pages_.lower_bound(page);
  uint64_t found;
  if (data) {
    if (it == pages_.end()) return Err(ENXIO);
    found = std::max(static_cast<uint64_t>(offset), it->first * kPageSize);
    if (found >= size_) return Err(ENXIO);
  } else {
    // The first page from here on that is not present; the end of the file counts as a hole.
    uint64_t p = page;
    while (it != pages_.end() && it->first == p) {
      ++it;
      ++p;
    }
    found = std::min(size_, std::max(static_cast<uint64_t>(offset), p * kPageSize));
  }
  return static_cast<int64_t>(found);
}

uint64_t RegularInode::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return size_;
}

uint64_t RegularInode::allocated_pages() const {
  absl::ReaderMutexLock lock(&mu_);
  return pages_.size();
}

Result<void> RegularInode::CheckSetStatLocked(const vfs::SetStatRequest& req) {
  if ((seals_ & vfs::kSealExec) && req.mode && ((*req.mode ^ mode_) & 0111)) return Err(EPERM);
  return {};
}

uint32_t RegularInode::seals() const {
  absl::ReaderMutexLock lock(&mu_);
  return seals_;
}

Result<void> RegularInode::AddSeals(uint32_t seals) {
  absl::MutexLock lock(&mu_);
  if (seals_ & F_SEAL_SEAL) return Err(EPERM);
  if ((seals & vfs::kSealExec) && (mode_ & 0111)) {
    seals |= F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;
  }
  // A writable shared mapping could still change the data (Linux's mapping_deny_writable).
  // mmap checks the seals without this lock, so a racing mmap may still slip in.
  if ((seals & F_SEAL_WRITE) && !(seals_ & F_SEAL_WRITE) && WritablyMapped()) return Err(EBUSY);
  seals_ |= seals;
  return {};
}

void RegularInode::InitSeals(uint32_t seals) {
  absl::MutexLock lock(&mu_);
  seals_ = seals;
}

RegularFile::RegularFile(int flags, vfs::VirtualDentry path, std::shared_ptr<RegularInode> inode)
    : vfs::FileDescription(flags, std::move(path)), inode_(std::move(inode)) {}

Result<uint64_t> RegularFile::Read(std::span<const iovec> dst, std::optional<int64_t> offset) {
  if (!Readable()) return Err(EBADF);
  if (offset) {
    if (*offset < 0) return Err(EINVAL);
    return inode_->Read(dst, static_cast<uint64_t>(*offset));
  }
  std::lock_guard lock(pos_mu_);
  uint64_t n = TRY(inode_->Read(dst, static_cast<uint64_t>(pos_)));
  pos_ += static_cast<int64_t>(n);
  return n;
}

Result<uint64_t> RegularFile::Write(std::span<const iovec> src, std::optional<int64_t> offset) {
  if (!Writable()) return Err(EBADF);
  // With O_APPEND even pwrite appends: a Linux quirk that pwrite(2) documents under BUGS.
  bool append = status_flags() & O_APPEND;
  if (offset) {
    if (*offset < 0) return Err(EINVAL);
    return TRY(inode_->Write(src, static_cast<uint64_t>(*offset), append)).written;
  }
  // The position lock is held across the write, so writers sharing this description never
  // write at the same position (Linux's f_pos_lock).
  std::lock_guard lock(pos_mu_);
  RegularInode::WriteResult r = TRY(inode_->Write(src, static_cast<uint64_t>(pos_), append));
  pos_ = static_cast<int64_t>(r.end);
  return r.written;
}

Result<uint32_t> RegularFile::GetSeals() {
  if (!SealsVisible()) return Err(EINVAL);
  return inode_->seals();
}

Result<void> RegularFile::AddSeals(uint32_t seals) {
  if (!SealsVisible()) return Err(EINVAL);
  return inode_->AddSeals(seals);
}

Result<int64_t> RegularFile::Seek(int64_t offset, int whence) {
  std::lock_guard lock(pos_mu_);
  int64_t base;
  switch (whence) {
    case SEEK_SET:
      base = 0;
      break;
    case SEEK_CUR:
      base = pos_;
      break;
    case SEEK_END:
      base = static_cast<int64_t>(inode_->size());
      break;
    case SEEK_DATA:
    case SEEK_HOLE:
      pos_ = TRY(inode_->SeekDataOrHole(offset, whence == SEEK_DATA));
      return pos_;
    default:
      return Err(EINVAL);
  }
  if ((offset > 0 && base > INT64_MAX - offset) || base + offset < 0) return Err(EINVAL);
  pos_ = base + offset;
  return pos_;
}

}  // namespace sentry::fsimpl::tmpfs
