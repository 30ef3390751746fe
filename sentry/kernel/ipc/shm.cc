#include "sentry/kernel/ipc/shm.h"

#include <linux/capability.h>
#include <sys/mman.h>

#include "absl/strings/str_format.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel::ipc {

// The references attachments hold: one per VMA. When the last goes, a segment marked for
// destruction goes with it.
struct ShmAttachments {
  std::weak_ptr<ShmRegistry> registry;
  std::shared_ptr<ShmSegment> segment;
  ~ShmAttachments() {
    if (auto r = registry.lock()) r->LastDetach(*segment);
  }
};

namespace {

constexpr int kShmFlagsAccepted = SHM_RDONLY | SHM_RND | SHM_REMAP | SHM_EXEC;

uint64_t AddressSpaceLimit(Task& t) {
  std::lock_guard lock(t.thread_group().mu());
  return t.thread_group().limits().Get(RLIMIT_AS).cur;
}

}  // namespace

shminfo64 ShmRegistry::Limits() {
  shminfo64 info{};
  info.shmmax = kShmMax;
  info.shmmin = kShmMin;
  info.shmmni = kShmMni;
  info.shmseg = kShmMni;
  info.shmall = kShmAll;
  return info;
}

Result<int> ShmRegistry::Get(Task& task, key_t key, uint64_t size, int flags) {
  Caller caller = CallerOf(task);
  absl::MutexLock lock(&mu_);
  auto check = [&](ShmSegment& seg) -> Result<void> {
    if (seg.size < size) return Err(EINVAL);
    return {};
  };
  auto make = [&]() -> Result<std::shared_ptr<ShmSegment>> {
    if (size < kShmMin || size > kShmMax) return Err(EINVAL);
    std::optional<uint64_t> bytes = PageRoundUp(size);
    if (!bytes) return Err(ENOSPC);
    uint64_t pages = *bytes / kPageSize;
    if (total_pages_ + pages < total_pages_ || total_pages_ + pages > kShmAll) return Err(ENOSPC);
    if (table_.size() >= static_cast<size_t>(kShmMni)) return Err(ENOSPC);
    std::optional<uint64_t> offset = file_.Allocate(*bytes);
    if (!offset) return Err(ENOMEM);
    total_pages_ += pages;  // until the segment is destroyed
    auto seg = std::make_shared<ShmSegment>();
    seg->size = size;
    seg->memory = std::make_shared<mm::SharedMemory>(file_, *offset, *bytes);
    seg->name = absl::StrFormat("/SYSV%08x (deleted)", static_cast<uint32_t>(key));
    seg->ctime = NowSeconds();
    seg->cpid = caller.tgid;
    return seg;
  };
  return GetObject(table_, key, flags, caller, check, make);
}

Result<UserAddr> ShmRegistry::Attach(Task& task, int id, uint64_t addr, int flags) {
  if (flags & ~kShmFlagsAccepted) flags &= kShmFlagsAccepted;  // unknown bits are ignored
  mm::MMapRequest req;
  if (addr != 0) {
    if (addr & (kShmLba - 1)) {
      if (!(flags & SHM_RND)) return Err(EINVAL);
      addr &= ~static_cast<uint64_t>(kShmLba - 1);
      if (addr == 0 && (flags & SHM_REMAP)) return Err(EINVAL);
    }
    req.addr = addr;
    req.flags = (flags & SHM_REMAP) ? MAP_FIXED : MAP_FIXED_NOREPLACE;
  } else if (flags & SHM_REMAP) {
    return Err(EINVAL);
  }
  if (id < 0) return Err(EINVAL);
  int prot = PROT_READ, max_prot = PROT_READ | PROT_EXEC, want = kMayRead;
  if (!(flags & SHM_RDONLY)) {
    prot |= PROT_WRITE;
    max_prot |= PROT_WRITE;
    want |= kMayWrite;
  }
  if (flags & SHM_EXEC) {
    prot |= PROT_EXEC;
    want |= kMayExec;
  }
  req.prot = prot;
  req.address_space_limit = AddressSpaceLimit(task);
  Caller caller = CallerOf(task);
  std::shared_ptr<mm::SharedMemory> owner;
  std::shared_ptr<ShmSegment> seg;
  {
    absl::MutexLock lock(&mu_);
    seg = TRY(table_.Find(id));
    if (!MayAccess(seg->perm, caller, want)) return Err(EACCES);
    std::shared_ptr<ShmAttachments> attachments = seg->attachments.lock();
    if (!attachments) {
      attachments = std::make_shared<ShmAttachments>(weak_from_this(), seg);
      seg->attachments = attachments;
    }
    // Points at the segment's memory, counts in the attachments' control block.
    owner = std::shared_ptr<mm::SharedMemory>(attachments, seg->memory.get());
    req.name = seg->name;
  }
  // Outside the lock (MM before registry); `owner` keeps the segment alive meanwhile.
  Result<UserAddr> at = task.mm().MapShared(owner, req, max_prot);
  if (at) {
    absl::MutexLock lock(&mu_);
    seg->atime = NowSeconds();
    seg->lpid = caller.tgid;
  }
  return at;
}

std::optional<uint64_t> ShmRegistry::SegmentSize(const mm::SharedMemory& mem, pid_t detacher) {
  absl::MutexLock lock(&mu_);
  for (const auto& [index, seg] : table_) {
    if (seg->memory.get() != &mem) continue;
    if (detacher != 0) {
      seg->dtime = NowSeconds();
      seg->lpid = detacher;
    }
    return seg->size;
  }
  return std::nullopt;
}

Result<void> ShmRegistry::Detach(Task& task, UserAddr addr) {
  pid_t tgid = task.thread_group().tgid();
  return task.mm().UnmapShared(addr,
                               [&](const mm::SharedMemory& mem) { return SegmentSize(mem, tgid); });
}

void ShmRegistry::DetachAll(Task& task) {
  pid_t tgid = task.thread_group().tgid();
  (void)task.mm().UnmapShared(std::nullopt,
                              [&](const mm::SharedMemory& mem) { return SegmentSize(mem, tgid); });
}

void ShmRegistry::LastDetach(ShmSegment& seg) {
  absl::MutexLock lock(&mu_);
  // A new attachment may have come in since the count reached zero.
  if ((seg.perm.mode & kShmDest) && seg.attachments.expired()) {
    total_pages_ -= seg.memory->length / kPageSize;
    table_.Remove(seg);
  }
}

shmid64_ds ShmRegistry::StatLocked(const ShmSegment& seg) const {
  shmid64_ds ds{};
  ds.shm_perm = seg.perm.ToUser();
  ds.shm_segsz = seg.size;
  ds.shm_atime = seg.atime;
  ds.shm_dtime = seg.dtime;
  ds.shm_ctime = seg.ctime;
  ds.shm_cpid = seg.cpid;
  ds.shm_lpid = seg.lpid;
  ds.shm_nattch = seg.attachments.use_count();
  return ds;
}

Result<uint64_t> ShmRegistry::Control(Task& task, int id, int cmd, UserAddr buf) {
  if (cmd < 0 || id < 0) return Err(EINVAL);
  Caller caller = CallerOf(task);
  switch (cmd) {
    case IPC_INFO: {
      shminfo64 info = Limits();
      int max_index;
      {
        absl::MutexLock lock(&mu_);
        max_index = table_.MaxIndex();
      }
      TRY(task.mm().CopyOutObject(buf, info));
      return max_index;
    }
    case SHM_INFO: {
      shm_info info{};
      int max_index;
      {
        absl::MutexLock lock(&mu_);
        info.used_ids = static_cast<int>(table_.size());
        info.shm_tot = total_pages_;
        info.shm_rss = total_pages_;
        max_index = table_.MaxIndex();
      }
      TRY(task.mm().CopyOutObject(buf, info));
      return max_index;
    }
    case IPC_STAT:
    case SHM_STAT:
    case SHM_STAT_ANY: {
      shmid64_ds ds;
      int result = 0;
      {
        absl::MutexLock lock(&mu_);
        std::shared_ptr<ShmSegment> seg =
            TRY(cmd == IPC_STAT ? table_.Find(id) : table_.AtIndex(id));
        if (cmd != SHM_STAT_ANY && !MayAccess(seg->perm, caller, kMayRead)) return Err(EACCES);
        ds = StatLocked(*seg);
        if (cmd != IPC_STAT) result = seg->perm.id;
      }
      TRY(task.mm().CopyOutObject(buf, ds));
      return result;
    }
    case IPC_SET: {
      shmid64_ds in = TRY(task.mm().CopyInObject<shmid64_ds>(buf));
      absl::MutexLock lock(&mu_);
      std::shared_ptr<ShmSegment> seg = TRY(table_.Find(id));
      if (!MayChange(seg->perm, caller)) return Err(EPERM);
      SetFromUser(seg->perm, in.shm_perm);
      seg->ctime = NowSeconds();
      return 0;
    }
    case IPC_RMID: {
      std::shared_ptr<ShmSegment> removed;  // freed after the lock is let go
      absl::MutexLock lock(&mu_);
      std::shared_ptr<ShmSegment> seg = TRY(table_.Find(id));
      if (!MayChange(seg->perm, caller)) return Err(EPERM);
      seg->perm.mode |= kShmDest;
      table_.ForgetKey(*seg);  // the key is free for a new segment at once
      if (seg->attachments.expired()) {
        total_pages_ -= seg->memory->length / kPageSize;
        table_.Remove(*seg);
        removed = std::move(seg);
      }
      return 0;
    }
    case SHM_LOCK:
    case SHM_UNLOCK: {
      absl::MutexLock lock(&mu_);
      std::shared_ptr<ShmSegment> seg = TRY(table_.Find(id));
      if (!caller.Capable(CAP_IPC_LOCK) && !MayChange(seg->perm, caller)) return Err(EPERM);
      if (cmd == SHM_LOCK) {
        seg->perm.mode |= kShmLocked;
      } else {
        seg->perm.mode &= ~static_cast<uint32_t>(kShmLocked);
      }
      return 0;
    }
    default:
      return Err(EINVAL);
  }
}

}  // namespace sentry::kernel::ipc
