// VmaSet: the virtual memory areas of one address space, keyed by start address. A VMA is
// backed in one of three ways: private anonymous memory (it maps [start, end) to MemoryFile
// offsets [offset, offset + (end - start)) and owns that range), shared anonymous memory (the
// same, but the range belongs to a SharedMemory that several VMAs keep alive), or the pages of a
// file (`mappable`: a mapping of a file whose pages the file owns and hands out one by one, on
// demand; a MAP_PRIVATE one maps them read-only and copies what the application writes). Not thread
// safe; the MemoryManager locks.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sentry::mm {

class MemoryFile;
class Mappable;

// Memory that several VMAs (a MAP_SHARED region split, or inherited by fork) keep alive together:
// the range goes back to the MemoryFile when the last of them lets go.
struct SharedMemory {
  SharedMemory(class MemoryFile& f, uint64_t off, uint64_t len)
      : file(f), offset(off), length(len) {}
  ~SharedMemory();
  class MemoryFile& file;
  uint64_t offset;
  uint64_t length;
};

struct Vma {
  uint64_t start = 0;
  uint64_t end = 0;
  uint8_t perms = 0;      // platform::AccessType bits
  uint8_t max_perms = 7;  // what mprotect may grant
  bool shared = false;    // MAP_SHARED: the memory stays shared on fork
  bool growsdown = false;
  bool dontfork = false;                // MADV_DONTFORK: a forked child does not get this range
  bool wipeonfork = false;              // MADV_WIPEONFORK: a forked child gets zeros here
  uint64_t offset = 0;                  // MemoryFile offset of start (anonymous memory only)
  std::shared_ptr<SharedMemory> owner;  // set for MAP_SHARED memory; else the VMA owns its range
  // Set for a mapping of a file's own pages (shared, or private and not yet written): nothing is
  // mapped in the platform until the application touches it, and `offset`/`owner` are unused.
  std::shared_ptr<Mappable> mappable;
  // The written (copied) pages of a private file mapping are private anonymous memory that
  // remembers its file: MADV_DONTNEED gives the range back to the file's pages, and a
  // truncation of the file takes it away (Linux unmaps private copies past the new end too).
  // Also the vDSO's pages, which MADV_DONTNEED brings back as Linux's special mappings refault.
  std::shared_ptr<Mappable> cow_file;
  // File offset of start: for mappable VMAs and copies of file pages (cow_file).
  uint64_t file_offset = 0;
  // Linux's special mappings ([vdso], [vvar]): no operation may split one (EINVAL).
  bool special = false;
  // [vvar] (Linux's VM_PFNMAP): MADV_DONTNEED and MADV_FREE are EINVAL.
  bool pfnmap = false;
  std::string name;  // "[heap]", "[stack]", a file path, or empty

  uint64_t length() const { return end - start; }
  uint64_t OffsetOf(uint64_t addr) const { return offset + (addr - start); }
  uint64_t FileOffsetOf(uint64_t addr) const { return file_offset + (addr - start); }
  // Whether the VMA owns its MemoryFile range (private anonymous memory): unmapping frees it.
  bool OwnsMemory() const { return !owner && !mappable; }
  // A MAP_PRIVATE file mapping still showing the file's pages (written pages become private
  // anonymous VMAs of their own).
  bool IsPrivateFile() const { return mappable && !shared; }
  // The file the application mapped here, whether it shows the file's pages or copies of them.
  const std::shared_ptr<Mappable>& BackingFile() const { return mappable ? mappable : cow_file; }
  // Whether `next` continues this VMA seamlessly (same attributes, contiguous memory).
  bool CanMergeWith(const Vma& next) const;
};

class VmaSet {
 public:
  // The VMA containing addr, or null.
  const Vma* Find(uint64_t addr) const;
  // The first VMA that ends above addr (the one containing it, or the next one), or null.
  const Vma* FindAtOrAfter(uint64_t addr) const;
  // The last VMA that starts below addr, or null.
  const Vma* FindBefore(uint64_t addr) const;
  bool IsFree(uint64_t start, uint64_t end) const;
  // True when every byte of [start, end) is covered by some VMA.
  bool IsFullyMapped(uint64_t start, uint64_t end) const;

  // Adds a VMA over a free range (callers check IsFree) and merges it with its neighbours.
  void Insert(Vma vma);
  // Removes [start, end), splitting VMAs that straddle the edges; returns the removed pieces.
  std::vector<Vma> Remove(uint64_t start, uint64_t end);
  // Applies `fn` to each part of a VMA inside [start, end), splitting at the edges first, then
  // merges what became mergeable.
  template <class Fn>
  void Update(uint64_t start, uint64_t end, Fn fn) {
    SplitAt(start);
    SplitAt(end);
    for (auto it = vmas_.lower_bound(start); it != vmas_.end() && it->first < end; ++it) {
      fn(it->second);
    }
    MergeRange(start, end);
  }

  // Highest free, page-aligned range of `len` bytes inside [floor, ceiling), or nullopt.
  std::optional<uint64_t> FindGapTopDown(uint64_t len, uint64_t floor, uint64_t ceiling) const;

  size_t size() const { return vmas_.size(); }
  auto begin() const { return vmas_.begin(); }
  auto end() const { return vmas_.end(); }
  void Clear() { vmas_.clear(); }

 private:
  void SplitAt(uint64_t addr);
  void MergeRange(uint64_t start, uint64_t end);

  std::map<uint64_t, Vma> vmas_;
};

}  // namespace sentry::mm
