#include "sentry/fsimpl/tmpfs/superblock.h"

#include <linux/magic.h>
#include <sys/sysmacros.h>

#include "sentry/base/user_addr.h"
#include "sentry/vfs/resolve.h"

namespace sentry::fsimpl::tmpfs {
namespace {

// Anonymous device numbers (major 0), one per instance, as Linux gives to tmpfs mounts.
// TODO: move to vfs once other file systems (proc, sys, pipe) need them, so they never collide.
dev_t NextAnonymousDev() {
  static std::atomic<unsigned> next_minor{16};
  return makedev(0, next_minor.fetch_add(1, std::memory_order_relaxed));
}

}  // namespace

timespec Now() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

namespace {

uint64_t PagesFor(const mm::MemoryFile& memory, uint64_t max_bytes) {
  return (max_bytes == 0 ? memory.size() : max_bytes) / kPageSize;
}

// Linux's default is one inode per page of the size limit (nr_inodes = nr_blocks).
uint64_t InodesFor(uint64_t max_pages, uint64_t max_inodes) {
  return max_inodes != 0 ? max_inodes : std::max<uint64_t>(max_pages, 1024);
}

}  // namespace

Superblock::Superblock(mm::MemoryFile& memory, uint64_t max_bytes, uint64_t max_inodes)
    : memory_(memory),
      dev_(NextAnonymousDev()),
      max_pages_(PagesFor(memory, max_bytes)),
      max_inodes_(InodesFor(max_pages_.load(), max_inodes)),
      unlimited_pages_(max_bytes == 0),
      unlimited_inodes_(max_inodes == 0) {}

Result<void> Superblock::CheckInodeLimit() const {
  if (inodes_.load(std::memory_order_relaxed) >= max_inodes_.load(std::memory_order_relaxed)) {
    return Err(ENOSPC);
  }
  return {};
}

Result<void> Superblock::ChargeXattr(uint64_t bytes) {
  constexpr uint64_t kBogoInodeSize = 1024;
  const uint64_t limit = max_inodes_.load(std::memory_order_relaxed) * kBogoInodeSize;
  uint64_t used = xattr_bytes_.load(std::memory_order_relaxed);
  do {
    if (bytes > limit || used > limit - bytes) return Err(ENOSPC);
  } while (!xattr_bytes_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  return {};
}

Result<void> Superblock::SetLimits(std::optional<uint64_t> max_bytes,
                                   std::optional<uint64_t> max_inodes) {
  absl::MutexLock lock(&limits_mu_);
  if (max_bytes && *max_bytes != 0) {
    if (unlimited_pages_) return Err(EINVAL);  // "Cannot retroactively limit size"
    if (used_pages() > *max_bytes / kPageSize) return Err(EINVAL);
  }
  if (max_inodes && *max_inodes != 0) {
    if (unlimited_inodes_) return Err(EINVAL);
    if (inodes_.load(std::memory_order_relaxed) > *max_inodes) return Err(EINVAL);
  }
  if (max_bytes) {
    max_pages_.store(PagesFor(memory_, *max_bytes), std::memory_order_relaxed);
    unlimited_pages_ = *max_bytes == 0;
  }
  if (max_inodes) {
    max_inodes_.store(InodesFor(max_pages_.load(), *max_inodes), std::memory_order_relaxed);
    unlimited_inodes_ = *max_inodes == 0;
  }
  return {};
}

Result<uint64_t> Superblock::AllocatePages(uint64_t count) {
  // Reserve against the limit first so that concurrent writers never overshoot it.
  uint64_t before = used_pages_.fetch_add(count, std::memory_order_relaxed);
  if (before + count > max_pages_.load(std::memory_order_relaxed)) {
    used_pages_.fetch_sub(count, std::memory_order_relaxed);
    return Err(ENOSPC);
  }
  std::optional<uint64_t> offset = memory_.Allocate(count * kPageSize);
  if (!offset) {
    used_pages_.fetch_sub(count, std::memory_order_relaxed);
    return Err(ENOSPC);
  }
  return *offset;
}

void Superblock::FreePages(uint64_t offset, uint64_t count) {
  memory_.Free(offset, count * kPageSize);
  used_pages_.fetch_sub(count, std::memory_order_relaxed);
}

Result<struct statfs> Superblock::StatFs() const {
  struct statfs st {};
  st.f_type = TMPFS_MAGIC;
  st.f_bsize = kPageSize;
  st.f_frsize = kPageSize;
  uint64_t max_pages = max_pages_.load(std::memory_order_relaxed);
  uint64_t max_inodes = max_inodes_.load(std::memory_order_relaxed);
  uint64_t used = std::min(used_pages(), max_pages);
  st.f_blocks = max_pages;
  st.f_bfree = max_pages - used;
  st.f_bavail = st.f_bfree;
  uint64_t inodes = std::min(inodes_.load(std::memory_order_relaxed), max_inodes);
  st.f_files = max_inodes;
  st.f_ffree = max_inodes - inodes;
  // Linux derives a tmpfs fsid from its device number.
  st.f_fsid.__val[0] = static_cast<int>(major(dev_));
  st.f_fsid.__val[1] = static_cast<int>(minor(dev_));
  st.f_namelen = vfs::kNameMax;
  // f_flags (ST_RDONLY, ST_NOSUID...) describe the mount, which only the VFS knows.
  return st;
}

}  // namespace sentry::fsimpl::tmpfs
