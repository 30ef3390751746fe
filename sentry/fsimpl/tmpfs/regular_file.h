// Regular files: data in the MemoryFile, one page at a time. A page is allocated the first time
// something is written to it, holes read as zeros, and pages go back to the MemoryFile when the
// file shrinks or the inode dies (its last name, last open file and last mapping gone:
// shared_ptr lifetime). MAP_SHARED mappings map the file's pages themselves (mm::Mappable); a
// page leaving the file is dropped from every address space before it is freed.
#pragma once

#include <fcntl.h>
#include <sys/uio.h>

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "sentry/fsimpl/tmpfs/inode.h"
#include "sentry/mm/mappable.h"

namespace sentry::fsimpl::tmpfs {

class RegularInode : public TmpfsInode, public mm::Mappable {
 public:
  RegularInode(std::shared_ptr<Superblock> sb, mode_t mode, uint32_t uid, uint32_t gid);
  ~RegularInode() override;

  Result<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& path,
                                                     int flags) override;

  // Where page `page_index` of the file lives in the MemoryFile, for MAP_SHARED mappings.
  // ENXIO for a page at or past the end of the file (the fault is SIGBUS); for a hole, a fresh
  // zeroed page when `allocate`, ENODATA otherwise; ENOSPC when the file system is full.
  // The offset stays valid until the file is truncated below the page or destroyed.
  Result<uint64_t> FileOffsetOfPage(uint64_t page_index, bool allocate);

  // mm::Mappable: the pages of MAP_SHARED mappings.
  Result<uint64_t> PageFor(uint64_t index) override { return FileOffsetOfPage(index, true); }
  void ForEachPresentPage(uint64_t first, uint64_t count,
                          const std::function<void(uint64_t, uint64_t)>& fn) override;
  void NoteMappedWrite() override;
  void FillHoles(uint64_t first, uint64_t count) override;
  Result<void> PunchHole(uint64_t first, uint64_t end) override;

  // truncate(2) goes through here: pages it cuts off leave every mapping before they are freed.
  Result<void> SetStat(const vfs::SetStatRequest& req) override;

  // pread: reads at `offset` (>= 0) up to the end of the file.
  Result<uint64_t> Read(std::span<const iovec> dst, uint64_t offset);
  struct WriteResult {
    uint64_t written;
    uint64_t end;  // the offset after the last byte written: the new file position
  };
  // pwrite at `offset`, or at the end of the file when `append` (atomically: the size is read
  // and extended under one lock). Short only when the file system fills up.
  Result<WriteResult> Write(std::span<const iovec> src, uint64_t offset, bool append);
  // ftruncate: sets the size and, unlike truncate(2) to the same size, always the times.
  Result<void> Truncate(uint64_t size);
  // lseek's SEEK_DATA (data = true) and SEEK_HOLE, with page granularity.
  Result<int64_t> SeekDataOrHole(int64_t offset, bool data);

  uint64_t size() const;
  uint64_t allocated_pages() const;

  // File seals (F_SEAL_*, vfs::kSealExec), as Linux keeps them for every shmem file: a new file
  // has F_SEAL_SEAL, which refuses more; memfd_create(MFD_ALLOW_SEALING) starts without it.
  // F_SEAL_WRITE and F_SEAL_FUTURE_WRITE make writes fail with EPERM, F_SEAL_GROW and
  // F_SEAL_SHRINK size changes that way, F_SEAL_EXEC changes to the execute bits.
  uint32_t seals() const;
  // F_ADD_SEALS: EPERM once F_SEAL_SEAL is there. F_SEAL_EXEC on an executable file brings the
  // write seals with it (Linux's W^X rule). F_SEAL_WRITE is EBUSY while a shared mapping that
  // may write (opened for writing, not made read-only by a seal) is left.
  Result<void> AddSeals(uint32_t seals);
  // The seals a file starts with, before anyone can see it (memfd_create).
  void InitSeals(uint32_t seals);

 protected:
  uint64_t SizeLocked() const override ABSL_SHARED_LOCKS_REQUIRED(mu_) { return size_; }
  uint64_t BlocksLocked() const override ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return pages_.size() * (kPageSize / 512);
  }
  Result<bool> SetSizeLocked(uint64_t size) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Result<void> CheckSetStatLocked(const vfs::SetStatRequest& req) override
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

 private:
  // Takes pages [first_page, end_page) out of the file; they wait in detached_ until no
  // mapping can reach them (ReleaseDetached).
  void DetachPagesLocked(uint64_t first_page, uint64_t end_page) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops the detached pages from every address space that maps the file, then frees them.
  // Called with truncate_mu_ held and mu_ not held.
  void ReleaseDetached() ABSL_EXCLUSIVE_LOCKS_REQUIRED(truncate_mu_);
  // Gives pages (index, MemoryFile offset) back to the MemoryFile, a contiguous run per call.
  void FreePages(const std::vector<std::pair<uint64_t, uint64_t>>& pages);

  // Serialises the changes that take pages away (truncation, hole punching) from start to the
  // end of their invalidation, so each frees only pages no mapping can reach. Before mu_.
  absl::Mutex truncate_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::vector<std::pair<uint64_t, uint64_t>> detached_ ABSL_GUARDED_BY(mu_);
  // The lowest page a shrink since the last ReleaseDetached cut the file to: private mappings
  // lose their copies of pages from there on too.
  std::optional<uint64_t> shrunk_to_page_ ABSL_GUARDED_BY(mu_);

  uint64_t size_ ABSL_GUARDED_BY(mu_) = 0;
  // Page index in the file -> MemoryFile offset of that page; absent pages are holes. Pages at
  // or past the end of the file never exist.
  std::map<uint64_t, uint64_t> pages_ ABSL_GUARDED_BY(mu_);
  uint32_t seals_ ABSL_GUARDED_BY(mu_) = F_SEAL_SEAL;
};

// A regular file opened for reading and/or writing.
class RegularFile : public vfs::FileDescription {
 public:
  RegularFile(int flags, vfs::VirtualDentry path, std::shared_ptr<RegularInode> inode);

  Result<uint64_t> Read(std::span<const iovec> dst, std::optional<int64_t> offset) override;
  Result<uint64_t> Write(std::span<const iovec> src, std::optional<int64_t> offset) override;
  Result<int64_t> Seek(int64_t offset, int whence) override;
  Result<struct stat> Stat() override { return inode_->Stat(); }
  Result<void> Truncate(uint64_t size) override { return inode_->Truncate(size); }
  Result<uint32_t> GetSeals() override;
  Result<void> AddSeals(uint32_t seals) override;
  std::shared_ptr<mm::Mappable> GetMappable() override { return inode_; }

  RegularInode& inode() const { return *inode_; }

 private:
  // Whether this file shows its inode's seals: not when it was opened through another file
  // system that keeps its data here (an overlay's upper layer), as Linux's overlayfs files
  // have none (EINVAL).
  bool SealsVisible() const { return !path().dentry || &path().inode() == inode_.get(); }

  const std::shared_ptr<RegularInode> inode_;
};

}  // namespace sentry::fsimpl::tmpfs
