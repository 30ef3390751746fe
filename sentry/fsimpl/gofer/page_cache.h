// PageCache: pages of a host (gofer-served) regular file kept in the MemoryFile while the file
// is mapped MAP_SHARED, so every mapping in every process maps the same pages and stays
// coherent with read(2)/write(2) through the file's host fds.
//
// - A page is read from the host on its first fault: the run of missing pages around it, in
//   the aligned fault-around window, in one preadv into the sentry's mapping.
// - write(2) is write-through: the host file gets the data and cached pages in range get it too,
//   under the cache lock, so no fault fills a page from the host halfway through.
// - read(2) reads the host file, then lays the dirty pages in range over what it read: stores
//   made through mappings are the file's newest data until written back.
// - A page is dirty once it is mapped writable somewhere (NoteWritablePages, at fault-around
//   window granularity) or the sentry stores into it. Write-back (msync, fsync, sync, the last
//   mapping going) marks the pages clean, drops them from every address space (so the next
//   store faults and dirties them again), then pwrites them, clipped to the host file's size.
// - Truncation drops pages past the new end from every mapping and frees them; the partial
//   last page's tail is zeroed.
// - When the last mapping goes, dirty pages are written back and every page is freed: the cache
//   holds memory only while the file is mapped.
//
// Lock order: writeback_mu_ (WriteBack only, never under a MemoryManager lock) before any
// MemoryManager's lock before mu_ before the MemoryFile's lock; a file description's position
// lock (read/write at the file position) comes before mu_ too. The last mapping may go under a
// MemoryManager's lock (munmap): that path takes only mu_ and calls into no MemoryManager.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <map>
#include <memory>
#include <span>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/base/file_descriptor.h"
#include "sentry/mm/mappable.h"
#include "sentry/mm/memory_file.h"

namespace sentry::fsimpl::gofer {

class PageCache final : public mm::Mappable, public std::enable_shared_from_this<PageCache> {
  struct Key {};  // only Create makes caches: they register for sync(2)

 public:
  static std::shared_ptr<PageCache> Create(mm::MemoryFile& memory);
  PageCache(Key, mm::MemoryFile& memory) : memory_(memory) {}
  ~PageCache() override;

  // A reference for one MAP_SHARED mmap of the file through `fd` (open for writing when
  // `writable`). The cache reads missing pages through a file of some mapping and writes back
  // through one opened for writing; it keeps them while any mapping lives.
  std::shared_ptr<mm::Mappable> NewMapping(std::shared_ptr<FileDescriptor> fd, bool writable);

  // File I/O kept coherent with the mappings. `host_read` reads [offset, ...) of the host file
  // into `dst` and returns the byte count; `host_write` writes `src` and returns how many bytes
  // went at which file offset; `host_truncate` sets the host file's size to `size`.
  Result<uint64_t> Read(std::span<const iovec> dst, uint64_t offset,
                        absl::FunctionRef<Result<uint64_t>()> host_read);
  Result<uint64_t> Write(std::span<const iovec> src,
                         absl::FunctionRef<Result<std::pair<uint64_t, uint64_t>>()> host_write);
  Result<void> Truncate(uint64_t size, absl::FunctionRef<Result<void>()> host_truncate);
  // The host changed the size behind the cache's back (O_TRUNC at open): drop what lies past it.
  void Truncated(uint64_t size);

  // mm::Mappable.
  Result<uint64_t> PageFor(uint64_t index) override;
  void ForEachPresentPage(uint64_t first, uint64_t count,
                          const std::function<void(uint64_t, uint64_t)>& fn) override;
  void FillHoles(uint64_t first, uint64_t count) override;
  void NoteWritablePages(uint64_t first, uint64_t end) override;
  // MADV_REMOVE: zeroes the range in the host file, then drops the cached pages.
  Result<void> PunchHole(uint64_t first, uint64_t end) override;
  Result<void> WriteBack(uint64_t first, uint64_t end, bool durable) override;

  // The 512-byte blocks that dirty pages will take once written back: Linux counts such
  // delayed allocations in st_blocks at once, so a file filled through a mapping is not sparse.
  uint64_t DirtyBlocks();

 private:
  struct Page {
    uint64_t offset;       // in the MemoryFile
    bool dirty = false;    // may differ from the host file
    bool writing = false;  // being written back: still newer than the host file
  };
  void MappingGone();
  // The host file's size, refreshed from the host.
  Result<uint64_t> HostSizeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reads the run of missing pages around `index` inside its fault-around window from the host.
  Result<void> FillRunLocked(uint64_t index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes the pages `indices` (those still cached) to the host, clipped to its size.
  Result<void> WritePagesLocked(const std::vector<uint64_t>& indices)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes pages at or after `first` and returns them (index, offset) for freeing later.
  std::vector<std::pair<uint64_t, uint64_t>> DropFromLocked(uint64_t first)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FreePages(const std::vector<std::pair<uint64_t, uint64_t>>& pages);
  // Cuts the cache down to `size` bytes (drop, zero the tail), then frees what no mapping can
  // reach any more. Called without mu_.
  void ShrinkTo(uint64_t size);

  mm::MemoryFile& memory_;
  absl::Mutex writeback_mu_;
  absl::Mutex mu_ ABSL_ACQUIRED_AFTER(writeback_mu_);
  std::map<uint64_t, Page> pages_ ABSL_GUARDED_BY(mu_);
  uint64_t size_ ABSL_GUARDED_BY(mu_) = 0;  // host file size as last seen
  int64_t mappings_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<FileDescriptor> read_fd_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<FileDescriptor> write_fd_ ABSL_GUARDED_BY(mu_);
  int writeback_error_ ABSL_GUARDED_BY(mu_) = 0;  // a failed write-back nobody heard of yet
};

// sync(2), syncfs(2): writes back every gofer file's dirty pages.
void SyncAllPageCaches();

}  // namespace sentry::fsimpl::gofer
