// How the sentry reads and writes application memory: CopyIn/CopyOut and friends through its
// own mapping of the MemoryFile, Translate for host I/O straight into application memory, and
// futex's view of a word. Each checks the VMA's protection (the sentry's mapping would not)
// and gives a private file page or memory shared since fork a copy of its own before writing.
#include <cstring>

#include "sentry/mm/mappable.h"
#include "sentry/mm/memory_manager.h"

namespace sentry::mm {

using platform::kAccessRead;
using platform::kAccessWrite;

Result<void> MemoryManager::CopyChunks(UserAddr addr, uint64_t length, uint8_t access,
                                       const std::function<void(uint8_t*, uint64_t)>& fn) {
  if (length == 0) return {};
  if (addr.value > UINT64_MAX - length) return Err(EFAULT);
  uint64_t cur = addr.value, end = addr.value + length;
  absl::MutexLock lock(&mu_);
  while (cur < end) {
    const Vma* v = vmas_.Find(cur);
    if (v == nullptr && GrowStackLocked(cur)) v = vmas_.Find(cur);
    if (v == nullptr || (v->perms & access) != access) return Err(EFAULT);
    if ((access & kAccessWrite) && v->IsPrivateFile()) {
      uint64_t stop = end >= v->end ? v->end : *PageRoundUp(end);
      if (!CopyPrivateFilePagesLocked(PageRoundDown(cur), stop)) return Err(EFAULT);
      v = vmas_.Find(cur);
    }
    if ((access & kAccessWrite) && v->OwnsMemory()) {
      // The sentry writes through its own mapping, around the stub's write protection.
      uint64_t stop = end >= v->end ? v->end : *PageRoundUp(end);
      if (!BreakCowLocked(PageRoundDown(cur), stop)) return Err(EFAULT);
      v = vmas_.Find(cur);
    }
    if ((access & kAccessWrite) && v->mappable) {
      uint64_t page = v->FileOffsetOf(cur) / kPageSize;
      v->mappable->NoteWritablePages(page, page + 1);
    }
    auto [p, avail] = TRY(ResolveLocked(*v, cur));
    uint64_t n = std::min(end - cur, avail);
    fn(p, n);
    cur += n;
  }
  return {};
}

Result<std::pair<uint8_t*, uint64_t>> MemoryManager::ResolveLocked(const Vma& v, uint64_t addr) {
  if (!v.mappable) return std::pair{file_.Access(v.OffsetOf(addr)), v.end - addr};
  uint64_t file_pos = v.FileOffsetOf(addr);
  auto page = v.mappable->PageFor(file_pos / kPageSize);
  if (!page) return Err(EFAULT);  // past the end of the file: the application would get SIGBUS
  uint64_t in_page = file_pos % kPageSize;
  return std::pair{file_.Access(*page + in_page), kPageSize - in_page};
}

Result<void> MemoryManager::CopyIn(UserAddr src, void* dst, uint64_t length) {
  auto* out = static_cast<uint8_t*>(dst);
  return CopyChunks(src, length, kAccessRead, [&](uint8_t* p, uint64_t n) {
    std::memcpy(out, p, n);
    out += n;
  });
}

Result<void> MemoryManager::CopyOut(UserAddr dst, const void* src, uint64_t length) {
  const auto* in = static_cast<const uint8_t*>(src);
  return CopyChunks(dst, length, kAccessWrite, [&](uint8_t* p, uint64_t n) {
    std::memcpy(p, in, n);
    in += n;
  });
}

Result<std::string> MemoryManager::CopyInString(UserAddr src, uint64_t max_length) {
  std::string out;
  uint64_t cur = src.value;
  absl::MutexLock lock(&mu_);
  while (out.size() < max_length) {
    const Vma* v = vmas_.Find(cur);
    if (v == nullptr || !(v->perms & kAccessRead)) return Err(EFAULT);
    auto [view, avail] = TRY(ResolveLocked(*v, cur));
    uint64_t n = std::min<uint64_t>(avail, max_length - out.size());
    const char* p = reinterpret_cast<const char*>(view);
    const void* nul = std::memchr(p, 0, n);
    if (nul != nullptr) {
      out.append(p, static_cast<const char*>(nul) - p);
      return out;
    }
    out.append(p, n);
    cur += n;
  }
  return Err(ENAMETOOLONG);
}

FileStores::~FileStores() {
  for (const Range& r : ranges_) r.file->NoteWritablePages(r.first, r.end);
}

void FileStores::Add(const std::shared_ptr<Mappable>& file, uint64_t page) {
  if (!ranges_.empty() && ranges_.back().file == file && ranges_.back().end == page) {
    ++ranges_.back().end;
    return;
  }
  ranges_.push_back({file, page, page + 1});
}

Result<std::vector<iovec>> MemoryManager::Translate(UserAddr addr, uint64_t length, uint8_t access,
                                                    size_t max_views, FileStores* stores) {
  std::vector<iovec> views;
  if (length == 0) return views;
  if (addr.value > UINT64_MAX - length) length = UINT64_MAX - addr.value;
  uint64_t cur = addr.value, end = addr.value + length;
  absl::MutexLock lock(&mu_);
  while (cur < end) {
    const Vma* v = vmas_.Find(cur);
    if (v == nullptr && GrowStackLocked(cur)) v = vmas_.Find(cur);
    if (v == nullptr || (v->perms & access) != access) break;
    if ((access & kAccessWrite) && v->IsPrivateFile()) {
      uint64_t stop = end >= v->end ? v->end : *PageRoundUp(end);
      if (!CopyPrivateFilePagesLocked(PageRoundDown(cur), stop)) break;
      v = vmas_.Find(cur);
    }
    if ((access & kAccessWrite) && v->OwnsMemory()) {
      // The host writes through the sentry's mapping, around the stub's write protection.
      uint64_t stop = end >= v->end ? v->end : *PageRoundUp(end);
      if (!BreakCowLocked(PageRoundDown(cur), stop)) break;
      v = vmas_.Find(cur);
    }
    if ((access & kAccessWrite) && v->mappable) {
      uint64_t page = v->FileOffsetOf(cur) / kPageSize;
      v->mappable->NoteWritablePages(page, page + 1);
      if (stores != nullptr && v->shared) stores->Add(v->mappable, page);
    }
    auto resolved = ResolveLocked(*v, cur);
    if (!resolved) break;
    auto [p, avail] = *resolved;
    uint64_t n = std::min(end - cur, avail);
    // File pages that sit side by side in the MemoryFile make one view.
    if (!views.empty() &&
        static_cast<uint8_t*>(views.back().iov_base) + views.back().iov_len == p) {
      views.back().iov_len += n;
    } else {
      if (views.size() == max_views) break;
      views.push_back(iovec{p, n});
    }
    cur += n;
  }
  if (views.empty()) return Err(EFAULT);
  return views;
}

Result<MemoryManager::FutexWord> MemoryManager::LookupFutexWord(UserAddr addr, uint8_t access) {
  if (addr.value % sizeof(uint32_t) != 0) return Err(EINVAL);
  absl::MutexLock lock(&mu_);
  const Vma* v = vmas_.Find(addr.value);
  if (v == nullptr || (v->perms & access) != access) return Err(EFAULT);
  if ((access & kAccessWrite) && v->IsPrivateFile()) {
    // The futex op writes the word: into this process's copy, not the file.
    uint64_t page = PageRoundDown(addr.value);
    if (!CopyPrivateFilePagesLocked(page, page + kPageSize)) return Err(EFAULT);
    v = vmas_.Find(addr.value);
  }
  uint64_t offset = v->OffsetOf(addr.value);
  if (v->mappable) {
    // A shared file mapping: the word lives in the file's page, which every process mapping
    // the file shares (a hole gets its page now, as a fault would give it).
    uint64_t file_offset = v->FileOffsetOf(addr.value);
    auto page = v->mappable->PageFor(file_offset / kPageSize);
    if (!page) return Err(page.error().value == ENXIO ? EFAULT : page.error().value);
    offset = *page + file_offset % kPageSize;
  }
  FutexWord w{reinterpret_cast<uint32_t*>(file_.Access(offset)), std::nullopt};
  if (v->shared) w.shared_offset = offset;
  return w;
}

}  // namespace sentry::mm
