// fork(2) and copy-on-write: sharing an address space's private memory with a child, and
// copying it when either side writes; and private file mappings, which show the file's pages
// until written (see "Memory" in docs/architecture.md).
#include <signal.h>
#include <sys/mman.h>

#include <algorithm>

#include "sentry/mm/mappable.h"
#include "sentry/mm/memory_manager.h"

namespace sentry::mm {
namespace {

using platform::kAccessExec;
using platform::kAccessWrite;

// A write fault on private memory shared copy-on-write copies the aligned chunk around it: a
// trap costs ~45 us on ptrace, copying 64 KiB a few, and writes tend to come in runs.
constexpr uint64_t kCowChunk = 64 * 1024;

}  // namespace

ForkImage::~ForkImage() {
  for (const Vma& v : vmas) {
    if (v.OwnsMemory() && !v.wipeonfork) file.DecRef(v.offset, v.length());
  }
}

Result<void> MemoryManager::MapVmaLocked(const Vma& v, uint64_t start, uint64_t end) {
  if (!v.OwnsMemory() || !(v.perms & kAccessWrite)) {
    return as_->MapFile(start, v.OffsetOf(start), end - start, v.perms);
  }
  Result<void> status;
  file_.ForEachRun(v.OffsetOf(start), end - start, [&](uint64_t s, uint64_t e, bool shared) {
    uint8_t perms = shared ? v.perms & ~kAccessWrite : v.perms;
    if (auto r = as_->MapFile(v.start + (s - v.offset), s, e - s, perms); !r) status = r;
  });
  return status;
}

Result<void> MemoryManager::MapSpecial(uint64_t addr, SpecialMapping m) {
  uint64_t length = m.length;
  if (length == 0 || addr % kPageSize != 0 || m.offset % kPageSize != 0 ||
      length % kPageSize != 0 || addr + length > layout_.max_addr || addr + length < addr) {
    return Err(EINVAL);
  }
  absl::MutexLock lock(&mu_);
  if (!vmas_.IsFree(addr, addr + length)) return Err(EEXIST);
  Vma vma;
  vma.start = addr;
  vma.end = addr + length;
  vma.perms = m.perms;
  vma.max_perms = m.max_perms;
  vma.offset = m.offset;
  vma.name = std::move(m.name);
  vma.special = true;
  vma.pfnmap = !m.source;
  vma.cow_file = std::move(m.source);
  file_.IncRef(m.offset, length);
  if (auto r = MapVmaLocked(vma, vma.start, vma.end); !r) {
    file_.DecRef(m.offset, length);
    return r;
  }
  mapped_bytes_ += length;
  vmas_.Insert(std::move(vma));
  return {};
}

void MemoryManager::RepointLocked(uint64_t start, uint64_t end, uint64_t offset) {
  vmas_.Update(start, end, [&](Vma& v) { v.offset = offset + (v.start - start); });
}

Result<void> MemoryManager::BreakCowLocked(uint64_t start, uint64_t end) {
  const Vma* v = vmas_.Find(start);
  uint64_t old = v->OffsetOf(start), len = end - start;
  uint8_t perms = v->perms;
  if (!file_.IsShared(old, len)) return {};
  auto fresh = file_.Allocate(len);
  if (!fresh) return Err(ENOMEM);
  file_.CopyData(old, *fresh, len);
  // The stub maps the copy before the old memory may go (DecRef frees the pages we used
  // alone): the application's other threads must never reach memory that was freed.
  RepointLocked(start, end, *fresh);
  auto mapped = as_->MapFile(start, *fresh, len, perms);
  if (!mapped) as_->Unmap(start, len);
  file_.DecRef(old, len);
  return mapped;
}

bool MemoryManager::BreakCowFaultLocked(uint64_t addr) {
  const Vma* v = vmas_.Find(addr);
  uint64_t page = PageRoundDown(addr);
  uint64_t off = v->OffsetOf(page);
  if (file_.RefCount(off) == 1) {
    // The other users are gone: no copy, just write access again, for the whole run of memory
    // this VMA uses alone around the page (one host call, however much the child left us).
    uint64_t lo = 0, hi = 0;
    file_.ForEachRun(v->offset, v->length(), [&](uint64_t s, uint64_t e, bool shared) {
      if (!shared && s <= off && off < e) lo = s, hi = e;
    });
    if (hi == 0) return false;
    uint64_t at = v->start + (lo - v->offset);
    if (as_->Protect(at, hi - lo, v->perms)) return true;
    return as_->MapFile(at, lo, hi - lo, v->perms).has_value();
  }
  uint64_t chunk = page / kCowChunk * kCowChunk;
  uint64_t start = std::max(v->start, chunk), end = std::min(v->end, chunk + kCowChunk);
  return BreakCowLocked(start, end).has_value();
}

Result<void> MemoryManager::CopyPrivateFilePagesLocked(uint64_t start, uint64_t end) {
  const Vma* v = vmas_.Find(start);
  Vma anon = *v;
  auto fresh = file_.Allocate(end - start);
  if (!fresh) return Err(ENOMEM);
  uint64_t copied = start;
  for (; copied < end; copied += kPageSize) {
    auto page = v->mappable->PageFor(v->FileOffsetOf(copied) / kPageSize);
    if (!page) {
      if (page.error().value == ENXIO && copied > start) break;  // the rest stays SIGBUS
      file_.Free(*fresh, end - start);
      return std::unexpected(page.error());
    }
    file_.CopyData(*page, *fresh + (copied - start), kPageSize);
  }
  if (copied < end) file_.Free(*fresh + (copied - start), end - copied);
  anon.start = start;
  anon.end = copied;
  anon.offset = *fresh;
  anon.cow_file = std::move(anon.mappable);
  anon.file_offset = v->FileOffsetOf(start);
  // The file pieces hold no memory; the name, protection and limits carry over to the copy.
  vmas_.Remove(start, copied);
  vmas_.Insert(anon);
  if (auto r = as_->MapFile(start, *fresh, copied - start, anon.perms); !r) {
    as_->Unmap(start, copied - start);  // faults map it again
  }
  return {};
}

void MemoryManager::DropPrivateCopiesLocked(uint64_t start, uint64_t end) {
  std::vector<std::pair<uint64_t, uint64_t>> copies;
  for (const Vma* v = vmas_.FindAtOrAfter(start); v != nullptr && v->start < end;
       v = vmas_.FindAtOrAfter(v->end)) {
    if (v->cow_file && v->OwnsMemory()) {
      copies.emplace_back(std::max(start, v->start), std::min(end, v->end));
    }
  }
  for (auto [s, e] : copies) {
    for (Vma& copy : vmas_.Remove(s, e)) {
      // The stub lets go of the copy before its memory may be freed.
      as_->Unmap(copy.start, copy.length());
      file_.DecRef(copy.offset, copy.length());
      mapped_bytes_ -= copy.length();
      InsertFileVmaLocked(copy, copy.start, copy.length(), copy.file_offset);
    }
  }
}

FaultResult MemoryManager::CopyPrivateFileFaultLocked(uint64_t addr) {
  // One page, not a chunk as for anonymous memory: the pages around it must keep showing the
  // file's changes until they are written themselves, as on Linux.
  uint64_t page = PageRoundDown(addr);
  auto r = CopyPrivateFilePagesLocked(page, page + kPageSize);
  if (r) return FaultResult::kHandled;
  if (r.error().value == ENXIO) return FaultResult::kBus;
  return FaultResult::kSegv;
}

Result<void> MemoryManager::MAdviseFork(uint64_t start, uint64_t length, int advice) {
  if (length == 0) return {};
  uint64_t end = start + length;
  absl::MutexLock lock(&mu_);
  if (end > layout_.max_addr || !vmas_.IsFullyMapped(start, end)) return Err(ENOMEM);
  for (const Vma* v = vmas_.FindAtOrAfter(start); v != nullptr && v->start < end;
       v = vmas_.FindAtOrAfter(v->end)) {
    // Linux: only private anonymous memory can be wiped.
    if (advice == MADV_WIPEONFORK && (v->shared || (v->BackingFile() && !v->special))) {
      return Err(EINVAL);
    }
  }
  TRY(CheckSpecialSplitLocked(start, end, [&](const Vma& v) {
    switch (advice) {
      case MADV_DONTFORK:
        return !v.dontfork;
      case MADV_DOFORK:
        return v.dontfork;
      case MADV_WIPEONFORK:
        return !v.wipeonfork;
      default:  // MADV_KEEPONFORK
        return v.wipeonfork;
    }
  }));
  vmas_.Update(start, end, [&](Vma& v) {
    switch (advice) {
      case MADV_DONTFORK:
        v.dontfork = true;
        break;
      case MADV_DOFORK:
        v.dontfork = false;
        break;
      case MADV_WIPEONFORK:
        v.wipeonfork = true;
        break;
      default:  // MADV_KEEPONFORK
        v.wipeonfork = false;
        break;
    }
  });
  return {};
}

Result<std::unique_ptr<ForkImage>> MemoryManager::PrepareFork() {
  auto image = std::make_unique<ForkImage>(file_);
  absl::MutexLock lock(&mu_);
  image->brk_start = brk_start_;
  image->brk = brk_;
  // Write protection for the private memory now shared, one host call per run of neighbouring
  // VMAs (mprotect spans host mappings).
  uint64_t run_start = 0, run_end = 0;
  uint8_t run_perms = 0;
  int err = 0;  // the first host call that failed
  auto note = [&](const Result<void>& r) {
    if (!r && err == 0) err = r.error().value;
  };
  auto flush = [&] {
    if (run_end > run_start) {
      note(as_->Protect(run_start, run_end - run_start, run_perms));
    }
    run_start = run_end = 0;
  };
  for (const auto& [start, vma] : vmas_) {
    if (vma.dontfork) continue;
    image->vmas.push_back(vma);
    if (vma.wipeonfork) continue;     // the child gets fresh memory; ours stays as it is
    if (!vma.OwnsMemory()) continue;  // shared memory and file pages stay shared
    file_.IncRef(vma.offset, vma.length());
    if (!(vma.perms & kAccessWrite)) continue;
    uint8_t perms = vma.perms & ~kAccessWrite;
    if (perms & kAccessExec) {
      // The platform may refuse to protect executable memory in place.
      note(as_->MapFile(vma.start, vma.offset, vma.length(), perms));
      continue;
    }
    if (run_end != vma.start || run_perms != perms) {
      flush();
      run_start = vma.start;
      run_perms = perms;
    }
    run_end = vma.end;
  }
  flush();
  if (err == ENOSYS) {
    // No Protect on this platform: map the private memory again, read-only.
    err = 0;
    for (const Vma& v : image->vmas) {
      if (!v.OwnsMemory() || v.wipeonfork || !(v.perms & kAccessWrite)) continue;
      note(as_->MapFile(v.start, v.offset, v.length(), v.perms & ~kAccessWrite));
    }
  }
  // Failing, the image gives its references back; what lost write access here just faults
  // and gets it back without a copy.
  if (err != 0) return Err(err);
  return image;
}

Result<std::shared_ptr<MemoryManager>> MemoryManager::CompleteFork(
    std::unique_ptr<platform::AddressSpace> as, std::unique_ptr<ForkImage> image) {
  auto child = std::make_shared<MemoryManager>(file_, std::move(as), layout_);
  absl::MutexLock child_lock(&child->mu_);
  child->brk_start_ = image->brk_start;
  child->brk_ = image->brk;
  // Taken from the back one at a time, so what fails half-way is released once: by the child
  // what it holds, by the image the rest.
  while (!image->vmas.empty()) {
    Vma v = std::move(image->vmas.back());
    image->vmas.pop_back();
    child->mapped_bytes_ += v.length();
    Result<void> mapped;
    if (v.wipeonfork) {
      // Fresh zeroed memory of the child's own (the flag stays, as on Linux).
      child->mapped_bytes_ -= v.length();
      mapped = child->MapNewLocked(v.start, v.length(), v.perms, false, v.growsdown, v.name);
      if (!mapped) return std::unexpected(mapped.error());
      child->vmas_.Update(v.start, v.end, [&](Vma& w) {
        w.wipeonfork = true;
        w.dontfork = v.dontfork;
        w.max_perms = v.max_perms;
      });
      continue;
    }
    // Copies of a file's pages go when it is truncated, in the child too.
    if (v.cow_file) child->NoteMapperLocked(v.cow_file);
    if (v.mappable) {
      // The file's pages: the child faults them in as it touches them.
      child->NoteMapperLocked(v.mappable);
    } else {
      mapped = child->MapVmaLocked(v, v.start, v.end);
    }
    child->vmas_.Insert(std::move(v));
    if (!mapped) return std::unexpected(mapped.error());
  }
  return child;
}

Result<std::shared_ptr<MemoryManager>> MemoryManager::Fork(
    std::unique_ptr<platform::AddressSpace> as) {
  auto image = TRY(PrepareFork());
  return CompleteFork(std::move(as), std::move(image));
}

}  // namespace sentry::mm
