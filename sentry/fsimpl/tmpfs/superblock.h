// Superblock: what every inode of one tmpfs instance shares. The public handle (Filesystem, in
// tmpfs.h) and every inode hold it by shared_ptr, so an open file of an unmounted tmpfs keeps
// working and the handle never forms a cycle with the root directory.
//
// Locks, in the order they are taken:
//   1. vfs::FileDescription::pos_mu_ (a file's position, held across read/write at it)
//   2. Superblock::tree_mu          (the shape of the tree: entries, parent links, nlink)
//   3. TmpfsInode::mu_              (one inode's attributes and, for files, its pages; never
//                                    two inodes at once)
//   4. mm::MemoryFile's own lock    (taken inside Allocate/Free)
#pragma once

#include <sys/statfs.h>
#include <sys/types.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <optional>

#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/mm/memory_file.h"

namespace sentry::fsimpl::tmpfs {

// tmpfs reports a directory's size as this many bytes per entry (Linux's BOGO_DIRENT_SIZE), so
// `ls -l` and programs that look at st_size see what they see on Linux.
inline constexpr uint64_t kBogoDirentSize = 20;

// The current time for timestamps.
timespec Now();

class Superblock {
 public:
  // max_bytes: the size limit (statfs f_blocks, ENOSPC beyond it); 0 means the MemoryFile's size.
  // max_inodes: 0 means one per page of the size limit, and at least 1024 (Linux's default).
  Superblock(mm::MemoryFile& memory, uint64_t max_bytes, uint64_t max_inodes = 0);
  Superblock(const Superblock&) = delete;
  Superblock& operator=(const Superblock&) = delete;

  mm::MemoryFile& memory() const { return memory_; }
  dev_t dev() const { return dev_; }
  uint64_t NextIno() { return next_ino_.fetch_add(1, std::memory_order_relaxed); }

  // Inode accounting. CheckInodeLimit is asked before creating; inodes count themselves in and
  // out in their constructor and destructor (a race may overshoot by a few, which is harmless).
  Result<void> CheckInodeLimit() const;
  void InodeCreated() { inodes_.fetch_add(1, std::memory_order_relaxed); }
  void InodeDestroyed() { inodes_.fetch_sub(1, std::memory_order_relaxed); }

  // `count` contiguous pages of zeroed memory charged to this file system: their MemoryFile
  // offset, or ENOSPC past the size limit or when the MemoryFile is exhausted.
  Result<uint64_t> AllocatePages(uint64_t count);
  void FreePages(uint64_t offset, uint64_t count);
  uint64_t used_pages() const { return used_pages_.load(std::memory_order_relaxed); }

  Result<struct statfs> StatFs() const;

  // Space for extended attributes: Linux's ispace, BOGO_INODE_SIZE bytes per inode the file
  // system may hold, shared by all its files' attributes. ENOSPC past it.
  Result<void> ChargeXattr(uint64_t bytes);
  void UnchargeXattr(uint64_t bytes) { xattr_bytes_.fetch_sub(bytes, std::memory_order_relaxed); }

  // mount -o remount: new limits (nullopt keeps one; 0 lifts it). EINVAL when a limit would be
  // imposed on an unlimited instance or is below what is in use, as Linux's shmem_reconfigure.
  Result<void> SetLimits(std::optional<uint64_t> max_bytes, std::optional<uint64_t> max_inodes);

  // Guards the shape of the tree (see the lock order above). One lock per file system, as
  // Linux's rename lock: it makes rename's ancestry check and multi-directory updates atomic.
  absl::Mutex tree_mu;

 private:
  mm::MemoryFile& memory_;
  const dev_t dev_;
  // Limits; unlimited_* say that a 0 was asked for (the limit is then the MemoryFile's).
  std::atomic<uint64_t> max_pages_;
  std::atomic<uint64_t> max_inodes_;
  bool unlimited_pages_;
  bool unlimited_inodes_;
  absl::Mutex limits_mu_;              // serializes SetLimits
  std::atomic<uint64_t> next_ino_{1};  // the root gets 1, as on Linux
  std::atomic<uint64_t> used_pages_{0};
  std::atomic<uint64_t> inodes_{0};
  std::atomic<uint64_t> xattr_bytes_{0};
};

}  // namespace sentry::fsimpl::tmpfs
