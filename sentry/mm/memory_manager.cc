#include "sentry/mm/memory_manager.h"

#include <linux/mman.h>
#include <signal.h>
#include <sys/mman.h>

#include <algorithm>

#include "absl/strings/str_format.h"
#include "sentry/mm/mappable.h"
#include "spdlog/spdlog.h"

namespace sentry::mm {
namespace {

using platform::kAccessExec;
using platform::kAccessRead;
using platform::kAccessWrite;

constexpr int kValidProt = PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM;
// How far below the lowest stack VMA an access may reach and still grow the stack: Linux keeps
// no such limit other than RLIMIT_STACK and the guard gap to the next mapping.
constexpr uint64_t kStackGuardGap = 256 * kPageSize;
// MAP_32BIT places mappings in the second GiB of the address space, as Linux does.
constexpr uint64_t kMap32Floor = 0x40000000, kMap32Ceiling = 0x80000000;
// A fault on a file page maps the present pages of the aligned window around it (each trap costs
// tens of microseconds on ptrace; the file says how wide: Mappable::FaultAroundPages), in at
// most kMaxFaultAroundRuns host mmaps.
constexpr int kMaxFaultAroundRuns = 8;

// Whether `next` is the same mapping as `v` to the application, continued: only the memory
// behind them differs (as after a copy-on-write copy of part of it).
bool ContinuesMapping(const Vma& v, const Vma& next) {
  return v.end == next.start && v.perms == next.perms && v.max_perms == next.max_perms &&
         v.shared == next.shared && v.growsdown == next.growsdown && v.dontfork == next.dontfork &&
         v.wipeonfork == next.wipeonfork && v.name == next.name && v.owner == next.owner &&
         v.special == next.special && v.BackingFile() == next.BackingFile() &&
         (!v.BackingFile() || v.FileOffsetOf(next.start) == next.file_offset);
}

}  // namespace

uint8_t ProtToPerms(int prot) {
  uint8_t perms = 0;
  if (prot & PROT_READ) perms |= kAccessRead;
  if (prot & PROT_WRITE) perms |= kAccessWrite | kAccessRead;  // x86 cannot write without read
  if (prot & PROT_EXEC) perms |= kAccessExec | kAccessRead;
  return perms;
}

MemoryManager::MemoryManager(MemoryFile& file, std::unique_ptr<platform::AddressSpace> as,
                             Layout layout)
    : file_(file), as_(std::move(as)), layout_(layout) {}

MemoryManager::~MemoryManager() {
  absl::MutexLock lock(&mu_);
  for (const auto& [start, vma] : vmas_) {
    if (vma.OwnsMemory()) file_.DecRef(vma.offset, vma.length());
  }
  vmas_.Clear();
  for (const auto& weak : mapped_files_) {
    if (auto m = weak.lock()) m->RemoveMapper(this);
  }
}

Result<void> MemoryManager::MapNewLocked(uint64_t start, uint64_t length, uint8_t perms,
                                         bool shared, bool growsdown, std::string name) {
  auto offset = file_.Allocate(length);
  if (!offset) return Err(ENOMEM);
  if (auto r = as_->MapFile(start, *offset, length, perms); !r) {
    file_.Free(*offset, length);
    return r;
  }
  mapped_bytes_ += length;
  Vma vma;
  vma.start = start;
  vma.end = start + length;
  vma.perms = perms;
  vma.shared = shared;
  vma.growsdown = growsdown;
  vma.offset = *offset;
  if (shared) vma.owner = std::make_shared<SharedMemory>(file_, *offset, length);
  vma.name = std::move(name);
  vmas_.Insert(std::move(vma));
  return {};
}

void MemoryManager::UnmapLocked(uint64_t start, uint64_t end) {
  std::vector<Vma> removed = vmas_.Remove(start, end);
  for (const Vma& v : removed) {
    as_->Unmap(v.start, v.length());
    mapped_bytes_ -= v.length();
    if (v.OwnsMemory()) file_.DecRef(v.offset, v.length());
  }
}

void MemoryManager::NoteMapperLocked(const std::shared_ptr<Mappable>& m) {
  if (m->PagesArePermanent()) return;
  for (const auto& weak : mapped_files_) {
    if (weak.lock() == m) return;
  }
  if (mapped_files_.empty()) {
    // Other processes' threads may have to drop this file's pages from our address space.
    if (auto r = as_->EnableForeignAccess(); !r) {
      spdlog::warn("mm: the platform cannot drop file pages from other threads here");
    }
  }
  std::erase_if(mapped_files_, [](const auto& w) { return w.expired(); });
  mapped_files_.push_back(m);
  m->AddMapper(shared_from_this());
}

void MemoryManager::InsertFileVmaLocked(const Vma& like, uint64_t start, uint64_t length,
                                        uint64_t file_offset) {
  Vma vma = like;
  vma.start = start;
  vma.end = start + length;
  vma.file_offset = file_offset;
  vma.offset = 0;
  vma.owner.reset();
  // `like` may be a copy of a file's page: the new VMA shows the file itself.
  if (!vma.mappable) vma.mappable = std::move(vma.cow_file);
  vma.cow_file.reset();
  mapped_bytes_ += length;
  vmas_.Insert(std::move(vma));
}

Result<UserAddr> MemoryManager::MMapFile(const MMapRequest& req, std::shared_ptr<Mappable> mappable,
                                         uint64_t file_offset, uint8_t max_perms) {
  if (req.length == 0) return Err(EINVAL);
  auto rounded = PageRoundUp(req.length);
  if (!rounded || *rounded > layout_.max_addr) return Err(ENOMEM);
  uint64_t length = *rounded;
  if (!IsPageAligned(file_offset)) return Err(EINVAL);
  if (file_offset + length < file_offset) return Err(EOVERFLOW);
  uint8_t perms = ProtToPerms(req.prot);
  if (perms & ~max_perms) return Err(EACCES);
  bool shared = (req.flags & MAP_TYPE) != MAP_PRIVATE;
  if (shared && (max_perms & kAccessWrite)) {
    mappable = Mappable::NewWritableMapping(std::move(mappable));
  }
  absl::MutexLock lock(&mu_);
  uint64_t start = TRY(PlaceLocked(req, length));
  NoteMapperLocked(mappable);
  Vma like;
  like.perms = perms;
  like.max_perms = max_perms;
  like.shared = shared;
  like.mappable = std::move(mappable);
  like.name = req.name;
  InsertFileVmaLocked(like, start, length, file_offset);
  return UserAddr(start);
}

void MemoryManager::InvalidateFilePages(const Mappable& mappable, uint64_t first, uint64_t end,
                                        bool copies) {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<uint64_t, uint64_t>> dropped_copies;
  for (const auto& [start, v] : vmas_) {
    const Mappable* file = v.mappable ? v.mappable.get() : copies ? v.cow_file.get() : nullptr;
    if (file != &mappable) continue;
    uint64_t vfirst = v.file_offset / kPageSize, vend = vfirst + v.length() / kPageSize;
    uint64_t lo = std::max(first, vfirst), hi = std::min(end, vend);
    if (lo >= hi) continue;
    uint64_t s = v.start + (lo - vfirst) * kPageSize, len = (hi - lo) * kPageSize;
    if (v.mappable) {
      as_->Unmap(s, len);
    } else {
      dropped_copies.emplace_back(s, s + len);  // after the walk, which this would disturb
    }
  }
  for (auto [s, e] : dropped_copies) DropPrivateCopiesLocked(s, e);
}

Result<void> MemoryManager::CheckSpecialSplitLocked(uint64_t start, uint64_t end,
                                                    absl::FunctionRef<bool(const Vma&)> changes) {
  // `inside` is the VMA on the changed side of the edge at `at`, `outside` the one across it.
  auto splits = [&](const Vma* inside, const Vma* outside, uint64_t at) {
    if (inside == nullptr || !inside->special || !changes(*inside)) return false;
    if (inside->start < at && at < inside->end) return true;
    // Copies split a mapping into VMAs that are still one mapping to the application.
    return outside != nullptr && outside->special && outside->name == inside->name &&
           (outside->end == at || outside->start == at);
  };
  if (start >= end) return {};
  const Vma* first = vmas_.Find(start);
  const Vma* before = start >= kPageSize ? vmas_.Find(start - 1) : nullptr;
  if (first != nullptr && first->start < start) before = first;
  const Vma* last = vmas_.Find(end - 1);
  const Vma* after = vmas_.Find(end);
  if (last != nullptr && last->end > end) after = last;
  if (splits(first, before, start) || splits(last, after, end)) return Err(EINVAL);
  return {};
}

FaultResult MemoryManager::FaultFilePageLocked(const Vma& v, uint64_t addr) {
  uint64_t page_addr = PageRoundDown(addr);
  uint64_t index = v.FileOffsetOf(page_addr) / kPageSize;
  auto page = v.mappable->PageFor(index);
  if (!page) return page.error().value == ENXIO ? FaultResult::kBus : FaultResult::kSegv;
  // A private mapping shows the file's pages until the application writes one: never writable
  // here, so the first write faults and gets a copy (CopyPrivateFilePagesLocked).
  uint8_t perms = v.shared ? v.perms : v.perms & ~kAccessWrite;
  if (perms & kAccessWrite) v.mappable->NoteMappedWrite();
  // The aligned window of pages around the fault, inside the VMA.
  uint64_t vfirst = v.file_offset / kPageSize, vend = vfirst + v.length() / kPageSize;
  uint64_t window = std::max<uint64_t>(1, v.mappable->FaultAroundPages(perms & kAccessWrite));
  uint64_t wfirst = std::max(vfirst, index / window * window);
  uint64_t wend = std::min(vend, index / window * window + window);
  // The page before was there already: the application is most likely filling the file
  // sequentially (say a fresh ftruncate'd file), so the window's holes get their pages now
  // rather than one trap each. (tmpfs, as Linux's shmem, allocates on any fault anyway.)
  if (index > vfirst && index + 1 < wend) {
    bool sequential = false;
    v.mappable->ForEachPresentPage(index - 1, 1, [&](uint64_t, uint64_t) { sequential = true; });
    if (sequential) v.mappable->FillHoles(index + 1, wend - index - 1);
  }
  // Runs of pages that are contiguous both in the file and in the MemoryFile: one mmap each.
  struct Run {
    uint64_t index, offset, pages;
  };
  std::vector<Run> runs;
  v.mappable->ForEachPresentPage(wfirst, wend - wfirst, [&](uint64_t i, uint64_t off) {
    if (!runs.empty() && runs.back().index + runs.back().pages == i &&
        runs.back().offset + runs.back().pages * kPageSize == off) {
      ++runs.back().pages;
    } else {
      runs.push_back({i, off, 1});
    }
  });
  // Everything mapped below is mapped writable only in [wfirst, wend).
  if (perms & kAccessWrite) v.mappable->NoteWritablePages(wfirst, wend);
  bool faulting_mapped = false;
  int budget = kMaxFaultAroundRuns;
  // The run holding the faulting page first, then its neighbours while the budget lasts.
  std::stable_partition(runs.begin(), runs.end(), [&](const Run& r) {
    return r.index <= index && index < r.index + r.pages;
  });
  for (const Run& r : runs) {
    if (budget-- == 0) break;
    uint64_t at = v.start + (r.index - vfirst) * kPageSize;
    if (!as_->MapFile(at, r.offset, r.pages * kPageSize, perms)) continue;
    if (r.index <= index && index < r.index + r.pages) faulting_mapped = true;
  }
  if (!faulting_mapped) {
    // PageFor allocated it, but the file lost it again (truncated meanwhile) or the window
    // walk missed it: map the one page we were given if the file still has it.
    if (!as_->MapFile(page_addr, *page, kPageSize, perms)) return FaultResult::kSegv;
  }
  return FaultResult::kHandled;
}

Result<uint64_t> MemoryManager::FindSpaceLocked(uint64_t hint, uint64_t length, int flags) {
  if (flags & MAP_32BIT) {
    auto at = vmas_.FindGapTopDown(length, kMap32Floor, kMap32Ceiling);
    if (!at) return Err(ENOMEM);
    return *at;
  }
  if (hint != 0) {
    uint64_t h = PageRoundDown(hint);
    if (h >= kPageSize && h <= layout_.max_addr - length && vmas_.IsFree(h, h + length)) return h;
  }
  auto at = vmas_.FindGapTopDown(length, kPageSize * 16, layout_.mmap_base);
  if (!at) at = vmas_.FindGapTopDown(length, kPageSize * 16, layout_.max_addr);
  if (!at) return Err(ENOMEM);
  return *at;
}

// Where a new mapping of `length` bytes goes: RLIMIT_AS, then the fixed address (replacing
// what is there for MAP_FIXED) or a free range near the hint.
Result<uint64_t> MemoryManager::PlaceLocked(const MMapRequest& req, uint64_t length) {
  if (length > req.address_space_limit || mapped_bytes_ > req.address_space_limit - length) {
    return Err(ENOMEM);
  }
  if (!(req.flags & (MAP_FIXED | MAP_FIXED_NOREPLACE))) {
    return FindSpaceLocked(req.addr, length, req.flags);
  }
  if (!IsPageAligned(req.addr)) return Err(EINVAL);
  if (req.addr > layout_.max_addr - length) return Err(ENOMEM);
  if (!vmas_.IsFree(req.addr, req.addr + length)) {
    if (!(req.flags & MAP_FIXED) || (req.flags & MAP_FIXED_NOREPLACE)) return Err(EEXIST);
    TRY(CheckSpecialSplitLocked(req.addr, req.addr + length, [](const Vma&) { return true; }));
    UnmapLocked(req.addr, req.addr + length);
  }
  return req.addr;
}

Result<UserAddr> MemoryManager::MMap(const MMapRequest& req) {
  // Anonymous memory is MAP_PRIVATE or MAP_SHARED; MAP_SHARED_VALIDATE is for files. Unknown
  // prot bits are ignored by mmap (only mprotect checks them).
  int type = req.flags & MAP_TYPE;
  if (type != MAP_PRIVATE && type != MAP_SHARED) return Err(EINVAL);
  if (type == MAP_SHARED && (req.flags & MAP_GROWSDOWN)) return Err(EINVAL);
  if (req.length == 0) return Err(EINVAL);
  auto rounded = PageRoundUp(req.length);
  if (!rounded || *rounded > layout_.max_addr) return Err(ENOMEM);
  uint64_t length = *rounded;
  if (req.flags & MAP_HUGETLB)
    return Err(ENOMEM);  // no huge pages are reserved, as on a default host

  absl::MutexLock lock(&mu_);
  uint64_t start = TRY(PlaceLocked(req, length));
  bool shared = type != MAP_PRIVATE;
  TRY(MapNewLocked(start, length, ProtToPerms(req.prot), shared, req.flags & MAP_GROWSDOWN,
                   req.name));
  return UserAddr(start);
}

Result<void> MemoryManager::MUnmap(UserAddr addr, uint64_t length) {
  if (!IsPageAligned(addr.value) || length == 0) return Err(EINVAL);
  auto rounded = PageRoundUp(length);
  if (!rounded || addr.value > layout_.max_addr || *rounded > layout_.max_addr - addr.value) {
    return Err(EINVAL);
  }
  absl::MutexLock lock(&mu_);
  TRY(CheckSpecialSplitLocked(addr.value, addr.value + *rounded, [](const Vma&) { return true; }));
  UnmapLocked(addr.value, addr.value + *rounded);
  return {};
}

Result<void> MemoryManager::MProtect(UserAddr addr, uint64_t length, int prot) {
  if (!IsPageAligned(addr.value)) return Err(EINVAL);
  bool growsdown = prot & PROT_GROWSDOWN;
  if (prot & ~(kValidProt | PROT_GROWSDOWN)) return Err(EINVAL);
  auto rounded = PageRoundUp(length);
  if (!rounded || addr.value > UINT64_MAX - *rounded) return Err(ENOMEM);
  if (*rounded == 0) return {};
  uint64_t start = addr.value, end = start + *rounded;
  uint8_t perms = ProtToPerms(prot);
  absl::MutexLock lock(&mu_);
  if (end > layout_.max_addr || !vmas_.IsFullyMapped(start, end)) return Err(ENOMEM);
  if (growsdown) {
    const Vma* first = vmas_.Find(start);
    if (!first->growsdown) return Err(EINVAL);
    start = first->start;  // PROT_GROWSDOWN extends the change to the start of the stack VMA
  }
  for (uint64_t cur = start; cur < end;) {
    const Vma* v = vmas_.Find(cur);
    if ((perms & ~v->max_perms) != 0) return Err(EACCES);
    cur = v->end;
  }
  TRY(CheckSpecialSplitLocked(start, end, [&](const Vma& v) { return v.perms != perms; }));
  Result<void> status;
  vmas_.Update(start, end, [&](Vma& v) {
    if (v.perms == perms) return;
    v.perms = perms;
    if (v.mappable) {
      // File pages are mapped again, with the new protection, when next touched.
      as_->Unmap(v.start, v.length());
      return;
    }
    if (auto r = MapVmaLocked(v, v.start, v.end); !r) status = r;
  });
  return status;
}

Result<UserAddr> MemoryManager::MRemap(UserAddr old_addr, uint64_t old_length, uint64_t new_length,
                                       int flags, UserAddr new_addr, uint64_t address_space_limit) {
  if (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)) return Err(EINVAL);
  bool may_move = flags & MREMAP_MAYMOVE;
  bool fixed = flags & MREMAP_FIXED;
  bool dont_unmap = flags & MREMAP_DONTUNMAP;
  if ((fixed || dont_unmap) && !may_move) return Err(EINVAL);
  if (!IsPageAligned(old_addr.value)) return Err(EINVAL);
  auto old_rounded = PageRoundUp(old_length);
  auto new_rounded = PageRoundUp(new_length);
  if (!old_rounded || !new_rounded || *new_rounded == 0) return Err(EINVAL);
  if (dont_unmap && *old_rounded != *new_rounded) return Err(EINVAL);
  uint64_t old_start = old_addr.value, old_len = *old_rounded, new_len = *new_rounded;
  if (old_start > layout_.max_addr || old_len > layout_.max_addr - old_start) return Err(EFAULT);
  if (fixed) {
    if (!IsPageAligned(new_addr.value)) return Err(EINVAL);
    if (new_addr.value > layout_.max_addr || new_len > layout_.max_addr - new_addr.value) {
      return Err(EINVAL);
    }
    uint64_t ns = new_addr.value;
    if (ns < old_start + old_len && old_start < ns + new_len) return Err(EINVAL);
  }

  absl::MutexLock lock(&mu_);
  const Vma* vma = vmas_.Find(old_start);
  if (vma == nullptr) return Err(EFAULT);
  // Duplicating a mapping (old_length 0) needs memory shared between VMAs: file pages can be
  // mapped twice; Linux refuses it for private mappings too.
  if (old_len == 0) {
    if (!vma->mappable) return Err(vma->shared ? ENOMEM : EINVAL);
    if (!may_move) return Err(ENOMEM);
    if (new_len > address_space_limit || mapped_bytes_ > address_space_limit - new_len) {
      return Err(ENOMEM);
    }
    const Vma base = *vma;
    uint64_t dest;
    if (fixed) {
      dest = new_addr.value;
      TRY(CheckSpecialSplitLocked(dest, dest + new_len, [](const Vma&) { return true; }));
      UnmapLocked(dest, dest + new_len);
    } else {
      dest = TRY(FindSpaceLocked(0, new_len, 0));
    }
    InsertFileVmaLocked(base, dest, new_len, base.FileOffsetOf(old_start));
    return UserAddr(dest);
  }
  // The range must lie in one mapping as the application sees it: copy-on-write splits VMAs
  // that differ only in where their memory is.
  const Vma* last = vma;
  while (old_start + old_len > last->end) {
    const Vma* next = vmas_.Find(last->end);
    if (next == nullptr || !ContinuesMapping(*last, *next)) return Err(EFAULT);
    last = next;
  }
  if (dont_unmap && vma->shared) return Err(EINVAL);
  auto always = [](const Vma&) { return true; };
  TRY(CheckSpecialSplitLocked(old_start, old_start + old_len, always));
  if (new_len < old_len) {  // the tail goes
    TRY(CheckSpecialSplitLocked(old_start + new_len, old_start + old_len, always));
  }
  if (fixed) TRY(CheckSpecialSplitLocked(new_addr.value, new_addr.value + new_len, always));
  uint64_t growth = new_len > old_len ? new_len - old_len : (dont_unmap ? old_len : 0);
  if (growth > address_space_limit || mapped_bytes_ > address_space_limit - growth) {
    return Err(ENOMEM);
  }

  if (!fixed && new_len <= old_len) {  // shrinking in place
    if (new_len < old_len) UnmapLocked(old_start + new_len, old_start + old_len);
    return old_addr;
  }
  const Vma base = *last;  // what a grown part continues
  if (!fixed) {            // growing in place when the space after is free
    uint64_t tail = old_start + old_len, extra = new_len - old_len;
    if (tail == base.end && tail <= layout_.max_addr - extra && vmas_.IsFree(tail, tail + extra)) {
      uint64_t tail_offset = base.OffsetOf(tail);
      if (base.BackingFile()) {
        InsertFileVmaLocked(base, tail, extra, base.FileOffsetOf(tail));
      } else if (!base.owner && file_.ExtendInPlace(base.offset, base.length(), extra)) {
        if (auto r = as_->MapFile(tail, tail_offset, extra, base.perms); !r) {
          file_.Free(tail_offset, extra);
          return std::unexpected(r.error());
        }
        Vma grown = base;
        grown.start = tail;
        grown.end = tail + extra;
        grown.offset = tail_offset;
        mapped_bytes_ += extra;
        vmas_.Insert(grown);
      } else {
        TRY(MapNewLocked(tail, extra, base.perms, base.shared, base.growsdown, base.name));
      }
      return old_addr;
    }
    if (!may_move) return Err(ENOMEM);
  }

  // Moving: the memory itself stays where it is in the MemoryFile; only the addresses change.
  uint64_t dest;
  if (fixed) {
    dest = new_addr.value;
    UnmapLocked(dest, dest + new_len);
  } else {
    dest = TRY(FindSpaceLocked(0, new_len, 0));
  }
  uint64_t moved_len = std::min(old_len, new_len);
  if (new_len < old_len) UnmapLocked(old_start + new_len, old_start + old_len);
  std::vector<Vma> pieces = vmas_.Remove(old_start, old_start + moved_len);
  for (Vma& p : pieces) {
    as_->Unmap(p.start, p.length());
    uint64_t len = p.length();
    p.start = dest + (p.start - old_start);
    p.end = p.start + len;
  }
  for (Vma& p : pieces) {
    if (p.mappable) {
      // File pages are faulted in again at the new address.
    } else if (auto r = MapVmaLocked(p, p.start, p.end); !r) {
      spdlog::error("mremap: remapping moved memory failed");
    }
    vmas_.Insert(std::move(p));
  }
  if (new_len > old_len) {
    if (base.BackingFile()) {
      InsertFileVmaLocked(base, dest + old_len, new_len - old_len,
                          base.FileOffsetOf(old_start + old_len));
    } else {
      TRY(MapNewLocked(dest + old_len, new_len - old_len, base.perms, base.shared, base.growsdown,
                       base.name));
    }
  }
  if (dont_unmap) {
    TRY(MapNewLocked(old_start, old_len, base.perms, base.shared, base.growsdown, base.name));
  }
  return UserAddr(dest);
}

Result<void> MemoryManager::MAdvise(UserAddr addr, uint64_t length, int advice) {
  if (!IsPageAligned(addr.value)) return Err(EINVAL);
  auto rounded = PageRoundUp(length);
  if (!rounded || addr.value > UINT64_MAX - *rounded) return Err(EINVAL);
  bool discard = false, lazy_free = false, remove = false;
  switch (advice) {
    case MADV_NORMAL:
    case MADV_RANDOM:
    case MADV_SEQUENTIAL:
    case MADV_WILLNEED:
    case MADV_MERGEABLE:
    case MADV_UNMERGEABLE:
    case MADV_HUGEPAGE:
    case MADV_NOHUGEPAGE:
    case MADV_DONTDUMP:
    case MADV_DODUMP:
    case MADV_COLD:
    case MADV_PAGEOUT:
    case MADV_POPULATE_READ:
    case MADV_POPULATE_WRITE:
      break;  // hints that change nothing observable for memory the sentry keeps resident
    case MADV_DONTNEED:
      discard = true;
      break;
    case MADV_FREE:
      discard = lazy_free = true;
      break;
    case MADV_REMOVE:
      remove = true;
      break;
    case MADV_DONTFORK:
    case MADV_DOFORK:
    case MADV_WIPEONFORK:
    case MADV_KEEPONFORK:
      return MAdviseFork(addr.value, *rounded, advice);
    case MADV_HWPOISON:
    case MADV_SOFT_OFFLINE:
      return Err(EPERM);
    default:
      return Err(EINVAL);
  }
  if (*rounded == 0) return {};
  uint64_t start = addr.value, end = start + *rounded;
  // File ranges to punch out (MADV_REMOVE), once the lock is released: the file drops its pages
  // from every address space, this one included.
  struct Punch {
    std::shared_ptr<Mappable> file;
    uint64_t first, end;
  };
  std::vector<Punch> punches;
  // Private ranges that share memory copy-on-write: they get fresh zeroed memory of their own
  // (after the walk, which that would disturb) instead of zeroing what others still use.
  std::vector<std::pair<uint64_t, uint64_t>> replace;
  std::vector<std::pair<uint64_t, uint64_t>> copies;
  bool hole;
  {
    absl::MutexLock lock(&mu_);
    hole = !vmas_.IsFullyMapped(start, end);
    for (const Vma* v = vmas_.FindAtOrAfter(start); v != nullptr && v->start < end;
         v = vmas_.FindAtOrAfter(v->end)) {
      uint64_t s = std::max(start, v->start), e = std::min(end, v->end);
      bool file_backed = v->BackingFile() && !v->special;
      // Linux: MADV_FREE is for private anonymous memory only; [vvar] takes no discard.
      if (lazy_free && (v->shared || v->BackingFile() || v->special)) return Err(EINVAL);
      if (discard && v->pfnmap) return Err(EINVAL);
      if (remove) {
        // Linux: EINVAL without a file behind the mapping, EACCES unless shared and writable.
        if (!v->shared && !file_backed) return Err(EINVAL);
        if (!v->shared || !(v->perms & kAccessWrite)) return Err(EACCES);
        if (v->mappable) {
          punches.push_back(
              {v->mappable, v->FileOffsetOf(s) / kPageSize, v->FileOffsetOf(e) / kPageSize});
        } else {
          file_.Decommit(v->OffsetOf(s), e - s);
        }
      } else if (discard && v->mappable) {
        // The data stays in the file: only this mapping of it goes, to be faulted in again.
        as_->Unmap(s, e - s);
      } else if (discard && v->cow_file) {
        // A private file mapping's copies (or the vDSO's): the file's pages show again.
        copies.emplace_back(s, e);
      } else if (discard && !v->shared) {
        // Private anonymous pages read as zero after DONTNEED; shared memory keeps its data.
        if (file_.IsShared(v->OffsetOf(s), e - s)) {
          replace.emplace_back(s, e);
        } else {
          file_.Decommit(v->OffsetOf(s), e - s);
        }
      }
    }
    for (auto [s, e] : replace) {
      auto fresh = file_.Allocate(e - s);
      if (!fresh) return Err(ENOMEM);
      const Vma* v = vmas_.Find(s);
      uint64_t old = v->OffsetOf(s);
      uint8_t perms = v->perms;
      RepointLocked(s, e, *fresh);
      // Mapped before the old memory may go, as in BreakCowLocked.
      auto mapped = as_->MapFile(s, *fresh, e - s, perms);
      if (!mapped) as_->Unmap(s, e - s);
      file_.DecRef(old, e - s);
      TRY(mapped);
    }
    for (auto [s, e] : copies) DropPrivateCopiesLocked(s, e);
  }
  for (const Punch& p : punches) TRY(p.file->PunchHole(p.first, p.end));
  return hole ? Err(ENOMEM) : Result<void>{};
}

Result<void> MemoryManager::MSync(UserAddr addr, uint64_t length, int flags) {
  if (!IsPageAligned(addr.value)) return Err(EINVAL);
  if (flags & ~(MS_ASYNC | MS_SYNC | MS_INVALIDATE)) return Err(EINVAL);
  if ((flags & MS_ASYNC) && (flags & MS_SYNC)) return Err(EINVAL);
  auto rounded = PageRoundUp(length);
  if (!rounded || addr.value > UINT64_MAX - *rounded) return Err(ENOMEM);
  if (*rounded == 0) return {};
  uint64_t start = addr.value, end = start + *rounded;
  // Anonymous memory and a file's own pages need nothing; a file whose pages cache another's
  // data (the gofer's) writes its dirty ones back, without our lock (it drops mappings first).
  struct Range {
    std::shared_ptr<Mappable> file;
    uint64_t first, end;
  };
  std::vector<Range> ranges;
  bool hole;
  {
    absl::MutexLock lock(&mu_);
    if (end > layout_.max_addr) return Err(ENOMEM);
    hole = !vmas_.IsFullyMapped(start, end);
    for (const Vma* v = vmas_.FindAtOrAfter(start); v != nullptr && v->start < end;
         v = vmas_.FindAtOrAfter(v->end)) {
      if (!v->mappable || !v->shared) continue;
      uint64_t s = std::max(start, v->start), e = std::min(end, v->end);
      ranges.push_back(
          {v->mappable, v->FileOffsetOf(s) / kPageSize, v->FileOffsetOf(e) / kPageSize});
    }
  }
  // Linux writes back what is mapped and reports the hole afterwards.
  for (const Range& r : ranges) TRY(r.file->WriteBack(r.first, r.end, flags & MS_SYNC));
  return hole ? Err(ENOMEM) : Result<void>{};
}

Result<std::vector<uint8_t>> MemoryManager::MinCore(UserAddr addr, uint64_t length) {
  if (!IsPageAligned(addr.value)) return Err(EINVAL);
  auto rounded = PageRoundUp(length);
  if (!rounded || addr.value > UINT64_MAX - *rounded) return Err(ENOMEM);
  uint64_t start = addr.value, end = start + *rounded;
  if (end > layout_.max_addr) return Err(ENOMEM);
  std::vector<uint8_t> out(*rounded / kPageSize, 0);
  absl::MutexLock lock(&mu_);
  if (!vmas_.IsFullyMapped(start, end)) return Err(ENOMEM);
  for (const Vma* v = vmas_.FindAtOrAfter(start); v != nullptr && v->start < end;
       v = vmas_.FindAtOrAfter(v->end)) {
    uint64_t s = std::max(start, v->start), e = std::min(end, v->end);
    uint8_t* dst = out.data() + (s - start) / kPageSize;
    if (v->mappable) {
      uint64_t first = v->FileOffsetOf(s) / kPageSize;
      v->mappable->ForEachPresentPage(first, (e - s) / kPageSize,
                                      [&](uint64_t i, uint64_t) { dst[i - first] = 1; });
    } else {
      // Anonymous memory counts as resident: the sentry keeps it so (and its seccomp filter has
      // no mincore to ask the host which pages of the MemoryFile are).
      std::fill(dst, dst + (e - s) / kPageSize, 1);
    }
  }
  return out;
}

void MemoryManager::SetBrkStart(uint64_t start) {
  absl::MutexLock lock(&mu_);
  brk_start_ = brk_ = start;
}

UserAddr MemoryManager::Brk(UserAddr addr) {
  absl::MutexLock lock(&mu_);
  uint64_t want = addr.value;
  if (want < brk_start_ || want > layout_.max_addr) return UserAddr(brk_);
  uint64_t old_top = *PageRoundUp(brk_);
  uint64_t new_top = *PageRoundUp(want);
  if (new_top < old_top) {
    UnmapLocked(new_top, old_top);
  } else if (new_top > old_top) {
    // Keep the guard gap to the stack or whatever lies above, as Linux does.
    uint64_t check_end = std::min(layout_.max_addr, new_top + kPageSize);
    if (!vmas_.IsFree(old_top, check_end)) return UserAddr(brk_);
    if (!MapNewLocked(old_top, new_top - old_top, kAccessRead | kAccessWrite, false, false,
                      "[heap]")) {
      return UserAddr(brk_);
    }
  }
  brk_ = want;
  return UserAddr(brk_);
}

bool MemoryManager::GrowStackLocked(uint64_t addr) {
  const Vma* above = vmas_.FindAtOrAfter(addr);
  if (above == nullptr || !above->growsdown || addr >= above->start) return false;
  uint64_t stack_end = layout_.stack_top;
  uint64_t new_start = PageRoundDown(addr);
  if (stack_end - new_start > layout_.stack_limit) return false;
  const Vma* below = vmas_.FindBefore(new_start + 1);
  if (below != nullptr && below != above && below->end + kStackGuardGap > new_start) return false;
  Vma grown = *above;
  uint64_t len = above->start - new_start;
  return MapNewLocked(new_start, len, grown.perms, grown.shared, true, grown.name).has_value();
}

FaultResult MemoryManager::HandleFault(uint64_t addr, int si_code) {
  absl::MutexLock lock(&mu_);
  const Vma* v = vmas_.Find(addr);
  if (v == nullptr) return GrowStackLocked(addr) ? FaultResult::kHandled : FaultResult::kSegv;
  // A file page not mapped yet. Once mapped it has the VMA's protection, so a protection fault
  // (SEGV_ACCERR) there is the application's.
  if (v->mappable && si_code != SEGV_ACCERR && v->perms != 0) return FaultFilePageLocked(*v, addr);
  // A write to a file page that a private mapping shows read-only until written.
  if (v->IsPrivateFile() && si_code == SEGV_ACCERR && (v->perms & kAccessWrite)) {
    return CopyPrivateFileFaultLocked(addr);
  }
  // A write to private memory shared copy-on-write, which is mapped readable only. (ptrace's
  // siginfo has no error code; nothing else makes a protection fault in a writable private VMA.)
  if (v->OwnsMemory() && si_code == SEGV_ACCERR && (v->perms & kAccessWrite)) {
    return BreakCowFaultLocked(addr) ? FaultResult::kHandled : FaultResult::kSegv;
  }
  return FaultResult::kSegv;
}

std::string MemoryManager::MapsText() {
  absl::MutexLock lock(&mu_);
  std::string out;
  // VMAs that differ only in their backing offsets are one mapping to the application.
  auto it = vmas_.begin();
  while (it != vmas_.end()) {
    const Vma& first = it->second;
    uint64_t end = first.end;
    for (++it; it != vmas_.end(); ++it) {
      const Vma& v = it->second;
      if (v.start != end || v.perms != first.perms || v.shared != first.shared ||
          v.name != first.name || v.BackingFile() != first.BackingFile() ||
          (v.BackingFile() && v.file_offset != first.FileOffsetOf(v.start))) {
        break;
      }
      end = v.end;
    }
    std::string line = absl::StrFormat(
        "%08x-%08x %c%c%c%c %08x 00:00 0", first.start, end,
        (first.perms & kAccessRead) ? 'r' : '-', (first.perms & kAccessWrite) ? 'w' : '-',
        (first.perms & kAccessExec) ? 'x' : '-', first.shared ? 's' : 'p', first.file_offset);
    if (!first.name.empty()) {
      line.resize(std::max<size_t>(line.size() + 1, 73), ' ');
      line += first.name;
    }
    out += line;
    out += '\n';
  }
  return out;
}

uint64_t MemoryManager::VmaCount() {
  absl::MutexLock lock(&mu_);
  return vmas_.size();
}

}  // namespace sentry::mm
