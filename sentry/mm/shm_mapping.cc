// SysV shared memory attachments (shmat/shmdt). The segments and their memory belong to
// kernel/ipc; the address space only maps them, keeping a reference to the segment's
// SharedMemory in each VMA.
#include <sys/mman.h>

#include <utility>
#include <vector>

#include "sentry/mm/memory_manager.h"

namespace sentry::mm {

Result<UserAddr> MemoryManager::MapShared(std::shared_ptr<SharedMemory> owner,
                                          const MMapRequest& req, int max_prot) {
  const uint64_t length = owner->length;
  absl::MutexLock lock(&mu_);
  uint64_t start;
  if (req.flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
    if (!IsPageAligned(req.addr) || req.addr > UINT64_MAX - length) return Err(EINVAL);
    start = req.addr;
    bool free = vmas_.IsFree(start, start + length);
    // shmat without SHM_REMAP refuses to cover anything that is mapped.
    if (!free && (req.flags & MAP_FIXED_NOREPLACE)) return Err(EINVAL);
    if (start > layout_.max_addr - length) return Err(ENOMEM);
    if (!free) UnmapLocked(start, start + length);
  } else {
    start = TRY(FindSpaceLocked(req.addr, length, req.flags));
  }
  if (length > req.address_space_limit || mapped_bytes_ > req.address_space_limit - length) {
    return Err(ENOMEM);
  }
  uint8_t perms = ProtToPerms(req.prot);
  TRY(as_->MapFile(start, owner->offset, length, perms));
  mapped_bytes_ += length;
  Vma vma;
  vma.start = start;
  vma.end = start + length;
  vma.perms = perms;
  vma.max_perms = ProtToPerms(max_prot);
  vma.shared = true;
  vma.offset = owner->offset;
  vma.owner = std::move(owner);
  vma.name = req.name;
  vmas_.Insert(std::move(vma));
  return UserAddr(start);
}

Result<void> MemoryManager::UnmapShared(
    std::optional<UserAddr> at,
    absl::FunctionRef<std::optional<uint64_t>(const SharedMemory&)> segment_size) {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  if (!at) {
    for (const auto& [start, v] : vmas_) {
      if (v.owner && segment_size(*v.owner)) ranges.emplace_back(v.start, v.end);
    }
  } else {
    // As Linux's shmdt: the first segment VMA at or after `addr` that sits where the
    // attachment's offset says it should (a fragment left by munmap or mprotect counts), then
    // the other fragments of the same memory within the segment's size from `addr`.
    const uint64_t addr = at->value;
    if (!IsPageAligned(addr)) return Err(EINVAL);
    const SharedMemory* segment = nullptr;
    uint64_t size = 0;
    auto in_place = [&](const Vma& v) {
      return v.owner && v.start >= addr && v.start - addr == v.offset - v.owner->offset;
    };
    for (const auto& [start, v] : vmas_) {
      if (v.end <= addr) continue;
      if (segment == nullptr) {
        if (!in_place(v)) continue;
        std::optional<uint64_t> bytes = segment_size(*v.owner);
        if (!bytes) continue;
        segment = v.owner.get();
        size = PageRoundUp(*bytes).value_or(UINT64_MAX);
        ranges.emplace_back(v.start, v.end);
        continue;
      }
      if (v.end - addr > size) break;
      if (v.owner.get() == segment && in_place(v)) ranges.emplace_back(v.start, v.end);
    }
    if (segment == nullptr) return Err(EINVAL);
  }
  for (const auto& [start, end] : ranges) UnmapLocked(start, end);
  return {};
}

}  // namespace sentry::mm
