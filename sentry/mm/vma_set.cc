#include "sentry/mm/vma_set.h"

#include <algorithm>
#include <iterator>

#include "sentry/base/user_addr.h"
#include "sentry/mm/memory_file.h"

namespace sentry::mm {

SharedMemory::~SharedMemory() { file.Free(offset, length); }

bool Vma::CanMergeWith(const Vma& next) const {
  return end == next.start && perms == next.perms && max_perms == next.max_perms &&
         shared == next.shared && growsdown == next.growsdown && dontfork == next.dontfork &&
         wipeonfork == next.wipeonfork && name == next.name && owner == next.owner &&
         mappable == next.mappable && cow_file == next.cow_file && special == next.special &&
         pfnmap == next.pfnmap && (mappable || offset + length() == next.offset) &&
         (!BackingFile() || file_offset + length() == next.file_offset);
}

const Vma* VmaSet::Find(uint64_t addr) const {
  const Vma* v = FindAtOrAfter(addr);
  return v != nullptr && v->start <= addr ? v : nullptr;
}

const Vma* VmaSet::FindAtOrAfter(uint64_t addr) const {
  auto it = vmas_.upper_bound(addr);
  if (it != vmas_.begin()) {
    auto prev = std::prev(it);
    if (prev->second.end > addr) return &prev->second;
  }
  return it == vmas_.end() ? nullptr : &it->second;
}

const Vma* VmaSet::FindBefore(uint64_t addr) const {
  auto it = vmas_.lower_bound(addr);
  if (it == vmas_.begin()) return nullptr;
  return &std::prev(it)->second;
}

bool VmaSet::IsFree(uint64_t start, uint64_t end) const {
  const Vma* v = FindAtOrAfter(start);
  return v == nullptr || v->start >= end;
}

bool VmaSet::IsFullyMapped(uint64_t start, uint64_t end) const {
  uint64_t cur = start;
  while (cur < end) {
    const Vma* v = Find(cur);
    if (v == nullptr) return false;
    cur = v->end;
  }
  return true;
}

void VmaSet::SplitAt(uint64_t addr) {
  auto it = vmas_.upper_bound(addr);
  if (it == vmas_.begin()) return;
  --it;
  Vma& v = it->second;
  if (v.start >= addr || v.end <= addr) return;
  Vma upper = v;
  upper.start = addr;
  upper.offset = v.OffsetOf(addr);
  upper.file_offset = v.FileOffsetOf(addr);
  v.end = addr;
  vmas_.emplace(addr, std::move(upper));
}

void VmaSet::MergeRange(uint64_t start, uint64_t end) {
  // Start from the VMA before `start` so a piece can rejoin its left neighbour.
  auto it = vmas_.lower_bound(start);
  if (it != vmas_.begin()) --it;
  while (it != vmas_.end()) {
    auto next = std::next(it);
    if (next == vmas_.end() || it->first > end) break;
    if (it->second.CanMergeWith(next->second)) {
      it->second.end = next->second.end;
      vmas_.erase(next);
    } else {
      it = next;
    }
  }
}

void VmaSet::Insert(Vma vma) {
  uint64_t start = vma.start, end = vma.end;
  vmas_.emplace(start, std::move(vma));
  MergeRange(start, end);
}

std::vector<Vma> VmaSet::Remove(uint64_t start, uint64_t end) {
  SplitAt(start);
  SplitAt(end);
  std::vector<Vma> removed;
  auto it = vmas_.lower_bound(start);
  while (it != vmas_.end() && it->first < end) {
    removed.push_back(std::move(it->second));
    it = vmas_.erase(it);
  }
  return removed;
}

std::optional<uint64_t> VmaSet::FindGapTopDown(uint64_t len, uint64_t floor,
                                               uint64_t ceiling) const {
  if (len == 0 || ceiling < floor || ceiling - floor < len) return std::nullopt;
  uint64_t hi = PageRoundDown(ceiling);
  // Walk the VMAs downward from the ceiling; each step checks the hole between a VMA and `hi`.
  auto it = vmas_.lower_bound(hi);
  while (true) {
    if (it == vmas_.begin()) {
      return hi >= floor && hi - floor >= len ? std::optional<uint64_t>(hi - len) : std::nullopt;
    }
    auto prev = std::prev(it);
    if (prev->second.end <= hi) {
      uint64_t lo = std::max(floor, prev->second.end);
      if (hi >= lo && hi - lo >= len) return hi - len;
    }
    hi = std::min(hi, prev->second.start);
    if (hi < floor || hi - floor < len) return std::nullopt;
    it = prev;
  }
}

}  // namespace sentry::mm
