// PageCache: pages of a host (gofer-served) regular file kept in the MemoryFile, so every
// MAP_SHARED mapping in every process maps the same pages and stays coherent with
// read(2)/write(2) through the file's host fds, and so that mapping the file again needs no host
// read.
//
// - A page is read from the host on its first fault: the run of missing pages around it, in
//   the aligned fill window (kFillWindowPages), in one preadv into the sentry's mapping.
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
// - When the last mapping goes, dirty pages are written back and the pages stay, clean, counted
//   against the sandbox's KeptPages budget, which takes them back (least recently unmapped
//   first) when it is exceeded. They go with the cache (the inode) at the latest.
// - The host may change the file behind the sandbox (a volume). The cache remembers the host's
//   attributes (inode, size, mtime, ctime) from when its pages last matched the host file
//   (`stamp_`), and compares whatever the host reports later (a revalidating walk, open, fstat,
//   the next first mapping, our own writes): when they differ, a cache nobody maps drops its
//   pages; a mapped one reads its clean pages again in place (so every mapping sees the new
//   data at once, and no store can land in a page being freed) and drops what lies past a
//   shorter end. Dirty pages stay: the sandbox's stores win over the host's for those pages.
//
// Lock order: writeback_mu_ (WriteBack only, never under a MemoryManager lock) before any
// MemoryManager's lock before mu_ before KeptPages' lock and the MemoryFile's lock; a file
// description's position lock (read/write at the file position) comes before mu_ too. The
// last mapping may go under a MemoryManager's lock (munmap): that path takes only mu_ (then,
// reclaiming, other caches' mu_, one at a time) and calls into no MemoryManager.
#pragma once

#include <sys/stat.h>
#include <sys/uio.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/base/file_descriptor.h"
#include "sentry/fsimpl/gofer/kept_pages.h"
#include "sentry/mm/mappable.h"
#include "sentry/mm/memory_file.h"

namespace sentry::fsimpl::gofer {

class PageCache final : public mm::Mappable,
                        public KeptPages::Holder,
                        public std::enable_shared_from_this<PageCache> {
  struct Key {};  // only Create makes caches: they register for sync(2)

 public:
  // Pages read from the host per fault at most, and the fault-around window of read-only
  // mappings: a first touch of a 1 MiB file is one fault (see docs/benchmarks.md).
  static constexpr uint64_t kFillWindowPages = 256;
  // The fault-around window of writable mappings: every page it maps counts dirty (there is no
  // per-page dirty bit to read), so a wider one would write back pages nobody stored to.
  static constexpr uint64_t kWritableWindowPages = 32;

  static std::shared_ptr<PageCache> Create(mm::MemoryFile& memory,
                                           KeptPages& kept = KeptPages::Sandbox());
  PageCache(Key, mm::MemoryFile& memory, KeptPages& kept) : memory_(memory), kept_(kept) {}
  ~PageCache() override;

  // A reference for one MAP_SHARED mmap of the file through `fd` (open for writing when
  // `writable`). The cache reads missing pages through a file of some mapping and writes back
  // through one opened for writing. The first mapping checks kept pages against the host file.
  std::shared_ptr<mm::Mappable> NewMapping(std::shared_ptr<FileDescriptor> fd, bool writable);

  // File I/O kept coherent with the mappings. `host_read` reads [offset, ...) of the host file
  // into `dst` and returns the byte count; `host_write` writes `src` and returns how many bytes
  // went at which file offset; `host_truncate` sets the host file's size to `size`. `host_fd`
  // is the host file the callbacks use: the cache asks it for the attributes before and after.
  Result<uint64_t> Read(std::span<const iovec> dst, uint64_t offset,
                        absl::FunctionRef<Result<uint64_t>()> host_read);
  Result<uint64_t> Write(std::span<const iovec> src, int host_fd,
                         absl::FunctionRef<Result<std::pair<uint64_t, uint64_t>>()> host_write);
  Result<void> Truncate(uint64_t size, int host_fd,
                        absl::FunctionRef<Result<void>()> host_truncate);
  // The host changed the size behind the cache's back (O_TRUNC at open): drop what lies past it.
  void Truncated(uint64_t size);
  // The host file's attributes as the host just reported them (a revalidating walk, open,
  // fstat): if the file changed since the cache's pages matched it, they are dropped or read
  // again (see above).
  void HostAttributes(const struct stat& st);
  bool HasPages();

  // mm::Mappable.
  Result<uint64_t> PageFor(uint64_t index) override;
  void ForEachPresentPage(uint64_t first, uint64_t count,
                          const std::function<void(uint64_t, uint64_t)>& fn) override;
  void FillHoles(uint64_t first, uint64_t count) override;
  void NoteWritablePages(uint64_t first, uint64_t end) override;
  uint64_t FaultAroundPages(bool writable) const override {
    return writable ? kWritableWindowPages : kFillWindowPages;
  }
  // MADV_REMOVE: zeroes the range in the host file, then drops the cached pages.
  Result<void> PunchHole(uint64_t first, uint64_t end) override;
  Result<void> WriteBack(uint64_t first, uint64_t end, bool durable) override;

  // The 512-byte blocks that dirty pages will take once written back: Linux counts such
  // delayed allocations in st_blocks at once, so a file filled through a mapping is not sparse.
  uint64_t DirtyBlocks();

  // KeptPages::Holder.
  void EvictKept(uint64_t seq) override;

 private:
  struct Page {
    uint64_t offset;       // in the MemoryFile
    bool dirty = false;    // may differ from the host file
    bool writing = false;  // being written back: still newer than the host file
  };
  // What the host said of the file when the cache's pages last matched it.
  struct HostStamp {
    uint64_t ino, size;
    int64_t mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
    static HostStamp Of(const struct stat& st);
    bool operator==(const HostStamp&) const = default;
  };
  // Work a locked operation leaves for after the lock: drop pages from every address space
  // (InvalidateMappings needs no cache lock held), then free them.
  struct Release {
    std::vector<std::pair<uint64_t, uint64_t>> free;        // (index, offset)
    std::vector<std::pair<uint64_t, uint64_t>> invalidate;  // [first, end) page ranges
    // A shrink to this page: mappings lose it and what follows, private copies included.
    std::optional<uint64_t> truncate_from;
  };
  void Finish(Release& r);

  void MappingGone();
  // The host file's attributes, through a host fd of a mapping (or `fd`).
  Result<struct stat> HostStatLocked(int fd = -1) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The host file's size, refreshed from the host.
  Result<uint64_t> HostSizeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Compares `st` with the stamp; on a difference drops or re-reads pages (HostChangedLocked).
  // Returns whether the host changed the file.
  bool RevalidateLocked(const struct stat& st, Release& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HostChangedLocked(const struct stat& st, Release& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reads every clean page again from the host, in place; a page that cannot be read is
  // dropped.
  void RereadCleanLocked(Release& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After our own change of the host file: what the host says now is what the pages match.
  void RestampLocked(int fd) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reads the run of missing pages around `index` inside its fill window from the host.
  Result<void> FillRunLocked(uint64_t index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes the pages `indices` (those still cached) to the host, clipped to its size, then
  // takes the host's attributes after the write as the stamp, unless the host had changed the
  // file before (then clean pages are dropped or re-read).
  Result<void> WritePagesLocked(const std::vector<uint64_t>& indices, Release& r)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes pages at or after `first` and adds them to `r` for freeing.
  void DropFromLocked(uint64_t first, Release& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Cuts the cache down to `size` bytes: zeroes the tail of the last page, drops (from every
  // mapping too) what lies past it.
  void ShrinkLocked(uint64_t size, Release& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Tells KeptPages (and the MemoryFile's accounting) how many pages an unmapped cache keeps.
  void UpdateKeptLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FreePages(const std::vector<std::pair<uint64_t, uint64_t>>& pages);
  void ShrinkTo(uint64_t size);

  mm::MemoryFile& memory_;
  KeptPages& kept_;
  absl::Mutex writeback_mu_;
  absl::Mutex mu_ ABSL_ACQUIRED_AFTER(writeback_mu_);
  std::map<uint64_t, Page> pages_ ABSL_GUARDED_BY(mu_);
  uint64_t size_ ABSL_GUARDED_BY(mu_) = 0;  // host file size as last seen
  int64_t mappings_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<FileDescriptor> read_fd_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<FileDescriptor> write_fd_ ABSL_GUARDED_BY(mu_);
  int writeback_error_ ABSL_GUARDED_BY(mu_) = 0;  // a failed write-back nobody heard of yet
  // Set before the first page is filled; unset: pages (if any) cannot be trusted.
  std::optional<HostStamp> stamp_ ABSL_GUARDED_BY(mu_);
  uint64_t kept_seq_ ABSL_GUARDED_BY(mu_) = 0;    // KeptPages' number while unmapped, else 0
  uint64_t kept_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // reported to the MemoryFile as reclaimable
};

// sync(2), syncfs(2): writes back every gofer file's dirty pages.
void SyncAllPageCaches();

}  // namespace sentry::fsimpl::gofer
