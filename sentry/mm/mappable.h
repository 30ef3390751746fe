// Mappable: a file whose own pages live in the MemoryFile (tmpfs files, memfds, the overlay's
// upper files, /dev/shm), so MAP_SHARED mappings of it map those very pages and stay coherent
// with read(2)/write(2). The MemoryManager asks for pages when the application first touches
// them (demand paging); the file tells every address space that maps it to drop its mappings
// of pages that go away (truncation, hole punching) before it frees them.
//
// Lock order: a MemoryManager's lock may be held while calling PageFor/ForEachPresentPage (the
// file takes its own lock inside); the file never holds its data lock while it calls into a
// MemoryManager (InvalidateMappings). mappers_mu_ is a leaf.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"

namespace sentry::mm {

class MemoryManager;

class Mappable {
 public:
  virtual ~Mappable() = default;

  // The MemoryFile offset of page `index` of the file. ENXIO for a page at or past the end of
  // the file (the access is SIGBUS); a hole gets a fresh zeroed page; ENOSPC/ENOMEM when no
  // memory is left. The offset stays valid until InvalidateMappings covers the page.
  virtual Result<uint64_t> PageFor(uint64_t index) = 0;
  // Calls fn(index, memory file offset) for each page in [first, first+count) that exists (and
  // lies before the end of the file), in increasing order. For fault-around.
  virtual void ForEachPresentPage(uint64_t first, uint64_t count,
                                  const std::function<void(uint64_t, uint64_t)>& fn) = 0;
  // The aligned window of pages around a fault that the fault maps at once (those the file has),
  // for a mapping that maps them `writable`: a file whose pages cost a host read to fill
  // prefers a wider one, so that one trap and one read serve more of it.
  virtual uint64_t FaultAroundPages(bool /*writable*/) const { return 32; }
  // Gives the holes among pages [first, first+count) (before the end of the file) their pages,
  // as far as memory allows: a fault that looks sequential fills the window at once.
  virtual void FillHoles(uint64_t /*first*/, uint64_t /*count*/) {}
  // The application may write the file through a mapping from now on: mtime and ctime move, as
  // Linux moves them when a clean page is first written.
  virtual void NoteMappedWrite() {}
  // madvise(MADV_REMOVE): frees pages [first, end) of the file (they read as zeros afterwards),
  // dropping them from every mapping first.
  virtual Result<void> PunchHole(uint64_t /*first*/, uint64_t /*end*/) { return Err(EOPNOTSUPP); }
  // Pages [first, end) are about to be mapped writable in an address space (a fault), or the
  // sentry is about to store into one of them for the application (CopyOut, Translate): a file
  // whose pages cache another's data (the gofer's page cache) counts them dirty. Called with a
  // MemoryManager's lock held.
  virtual void NoteWritablePages(uint64_t /*first*/, uint64_t /*end*/) {}
  // msync(2) and friends: writes the dirty pages among [first, end) to where the file's data
  // lives, and with `durable` (MS_SYNC) waits for that to reach storage. Files whose pages are
  // the data have nothing to do. Call with no MemoryManager lock.
  virtual Result<void> WriteBack(uint64_t /*first*/, uint64_t /*end*/, bool /*durable*/) {
    return {};
  }

  // A reference to `file` for one mmap(2) that may write it (Linux's VM_SHARED|VM_MAYWRITE):
  // every VMA piece, mremap and fork copy of the mapping shares it, so the file is writably
  // mapped while any such reference lives (F_SEAL_WRITE's EBUSY). Its get() is `file`'s.
  static std::shared_ptr<Mappable> NewWritableMapping(std::shared_ptr<Mappable> file);
  bool WritablyMapped() const { return writable_mappings_.load(std::memory_order_acquire) > 0; }

  // The file's pages never go away (the vDSO's image): address spaces mapping it need not
  // register (AddMapper), which spares a ptrace stub its spare thread.
  virtual bool PagesArePermanent() const { return false; }

  // Address spaces that may map pages of this file. Kept until the address space dies.
  void AddMapper(const std::shared_ptr<MemoryManager>& mm);
  void RemoveMapper(const MemoryManager* mm);
  size_t MapperCount();

 protected:
  // Makes every address space drop its mappings of pages [first, end) (end = UINT64_MAX for
  // "to the end of the file"). Returns once no application can reach those pages through a
  // mapping made before the call; the caller frees them afterwards. Call with no file lock held.
  void InvalidateMappings(uint64_t first, uint64_t end);
  // A truncation to page `first`: as InvalidateMappings(first, UINT64_MAX), and private mappings
  // lose the copies they made of those pages too (Linux's even_cows), so an access there is
  // SIGBUS, or shows the file's data if it grows again. Needed even when the file held no page
  // there (a copy outlives a hole punch).
  void InvalidateMappingsAndCopies(uint64_t first);

 private:
  std::atomic<int64_t> writable_mappings_{0};
  absl::Mutex mappers_mu_;
  std::vector<std::shared_ptr<MemoryManager>> LiveMappers();

  std::map<const MemoryManager*, std::weak_ptr<MemoryManager>> mappers_
      ABSL_GUARDED_BY(mappers_mu_);
};

}  // namespace sentry::mm
