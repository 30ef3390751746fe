// MemoryManager: one application address space as the sentry sees it. It owns the VMAs, places
// new mappings, keeps the platform's AddressSpace in step, and is the only way the sentry reads
// or writes application memory (CopyIn/CopyOut through its own mapping of the MemoryFile).
//
// Memory is anonymous (private or shared, mapped eagerly and whole into the platform's address
// space) or the pages of a file (MAP_SHARED of a tmpfs file: mapped on demand, a window of the
// file's present pages at each fault, and dropped again when the file loses those pages).
//
// Lock order: MemoryManager::mu_ before a Mappable file's lock before MemoryFile's lock.
// Platform calls happen under mu_.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/base/user_addr.h"
#include "sentry/mm/memory_file.h"
#include "sentry/mm/vma_set.h"
#include "sentry/platform/platform.h"

namespace sentry::mm {

class Mappable;
class MemoryManager;

// An address space as fork saw it: the VMAs the child starts with. It holds a reference on
// their private memory until the child takes them over (or, if the child is never made, gives
// it back).
struct ForkImage {
  explicit ForkImage(MemoryFile& f) : file(f) {}
  ~ForkImage();
  ForkImage(const ForkImage&) = delete;
  ForkImage& operator=(const ForkImage&) = delete;
  MemoryFile& file;
  std::vector<Vma> vmas;
  uint64_t brk_start = 0;
  uint64_t brk = 0;
};

// The stores the sentry makes for the application through Translate's views of pages of shared
// file mappings (read(2) into a MAP_SHARED mapping of a host file). While it lives it holds
// those mappings, so their file keeps the pages (its last mapping cannot end under the views);
// when it goes, the pages count as dirty again, as Linux re-dirties pages pinned for I/O once
// the I/O is done: a write-back that ran while the host filled the views may have written a
// page before the data landed, and left it clean. Make it before Translate, so that it goes
// after the I/O into the views.
class FileStores {
 public:
  FileStores() = default;
  FileStores(const FileStores&) = delete;
  FileStores& operator=(const FileStores&) = delete;
  ~FileStores();

 private:
  friend class MemoryManager;
  struct Range {
    std::shared_ptr<Mappable> file;
    uint64_t first, end;  // pages of the file
  };
  void Add(const std::shared_ptr<Mappable>& file, uint64_t page);
  std::vector<Range> ranges_;
};

// What a fault the platform reported turned out to be.
enum class FaultResult {
  kHandled,  // the MM mapped what was missing (or grew the stack): the application continues
  kSegv,     // the application's own fault: deliver the signal the platform reported
  kBus,      // an access to a file page past the end of the file: SIGBUS (BUS_ADRERR)
};

struct MMapRequest {
  uint64_t addr = 0;                          // hint, or the exact address with fixed
  uint64_t length = 0;                        // bytes; rounded up to pages
  int prot = 0;                               // PROT_*
  int flags = 0;                              // MAP_* as passed to mmap(2)
  std::string name;                           // shown in the maps listing
  uint64_t address_space_limit = UINT64_MAX;  // RLIMIT_AS
};

// Where things go in a fresh address space; chosen (with randomisation) at exec.
struct Layout {
  uint64_t max_addr = 0;     // exclusive; above it the platform has reserved space
  uint64_t mmap_base = 0;    // top-down searches start here
  uint64_t stack_top = 0;    // exclusive top of the main thread's stack
  uint64_t stack_limit = 0;  // RLIMIT_STACK at exec: how far the stack may grow
  uint64_t vdso_base = 0;    // AT_SYSINFO_EHDR: where the vDSO goes, 0 without one
};

class MemoryManager : public std::enable_shared_from_this<MemoryManager> {
 public:
  MemoryManager(MemoryFile& file, std::unique_ptr<platform::AddressSpace> as, Layout layout);
  ~MemoryManager();
  MemoryManager(const MemoryManager&) = delete;
  MemoryManager& operator=(const MemoryManager&) = delete;

  platform::AddressSpace& address_space() { return *as_; }
  const Layout& layout() const { return layout_; }

  // The mmap family, anonymous memory. Arguments are the application's, unchecked.
  Result<UserAddr> MMap(const MMapRequest& req);
  Result<void> MUnmap(UserAddr addr, uint64_t length);
  Result<void> MProtect(UserAddr addr, uint64_t length, int prot);
  Result<UserAddr> MRemap(UserAddr old_addr, uint64_t old_length, uint64_t new_length, int flags,
                          UserAddr new_addr, uint64_t address_space_limit = UINT64_MAX);
  Result<void> MAdvise(UserAddr addr, uint64_t length, int advice);
  // A mapping of `mappable`'s own pages from `file_offset` (page aligned) on; the MM must be
  // owned by a shared_ptr. `max_perms` is what mprotect may grant later (no write for a shared
  // mapping of a file opened read-only); a shared one with write counts as a writable mapping
  // of the file (Mappable::WritablyMapped). MAP_PRIVATE (req.flags' MAP_TYPE) shows the file's
  // pages until the application writes one, which then gets a private copy.
  Result<UserAddr> MMapFile(const MMapRequest& req, std::shared_ptr<Mappable> mappable,
                            uint64_t file_offset, uint8_t max_perms);
  // Maps [addr, addr+length) (free, page aligned) privately to MemoryFile memory that others
  // share and the caller keeps alive (the vDSO's pages, in every address space): a special
  // mapping as Linux's install_special_mapping makes one. The VMA takes a reference of its own,
  // so a write copies first, as after fork; `max_perms` bounds mprotect; no operation may split
  // it (EINVAL). With `source` (whose PageFor names the same memory), MADV_DONTNEED brings the
  // pages back from there; without, MADV_DONTNEED and MADV_FREE are EINVAL (Linux's
  // VM_PFNMAP, the [vvar]).
  struct SpecialMapping {
    uint64_t offset = 0;  // MemoryFile offset of the pages
    uint64_t length = 0;
    uint8_t perms = 0;
    uint8_t max_perms = 0;
    std::string name;
    std::shared_ptr<Mappable> source;
  };
  Result<void> MapSpecial(uint64_t addr, SpecialMapping m);
  // msync(2): checks flags and range, and has files whose pages cache another's data (the
  // gofer's page cache) write back their dirty pages in the range (MS_ASYNC too).
  Result<void> MSync(UserAddr addr, uint64_t length, int flags);
  // mincore(2): one byte per page of [addr, addr+length), 1 when resident. ENOMEM on a hole.
  Result<std::vector<uint8_t>> MinCore(UserAddr addr, uint64_t length);
  // Called by a Mappable (without its locks): drop every platform mapping of its pages
  // [first, end). Safe from any thread; pages are re-faulted from the file later. With
  // `copies` (a truncation), private mappings' copies of those pages go too.
  void InvalidateFilePages(const Mappable& mappable, uint64_t first, uint64_t end, bool copies);

  // SysV shared memory (kernel/ipc owns the segments; the code is in shm_mapping.cc).
  // MapShared maps the whole of `owner`'s range as MAP_SHARED memory (req.flags: MAP_FIXED to
  // replace what is at req.addr, MAP_FIXED_NOREPLACE for exactly req.addr or EINVAL; else a hint)
  // with `max_prot` bounding later mprotects. VMAs keep a copy of `owner`, so its use count
  // counts them (fork adds, unmapping removes): shm_nattch.
  Result<UserAddr> MapShared(std::shared_ptr<SharedMemory> owner, const MMapRequest& req,
                             int max_prot);
  // Unmaps segment attachments; `segment_size` tells a segment's memory (its size in bytes)
  // from other shared memory (nullopt). With `at`, the attachment at `at` as shmdt(2) finds it
  // (EINVAL when there is none); without, every attachment (a process's exit).
  Result<void> UnmapShared(
      std::optional<UserAddr> at,
      absl::FunctionRef<std::optional<uint64_t>(const SharedMemory&)> segment_size);

  // brk(2): returns the (possibly unchanged) break.
  UserAddr Brk(UserAddr addr);
  void SetBrkStart(uint64_t start);

  // Copies that fail with EFAULT on any unmapped or inaccessible byte.
  Result<void> CopyIn(UserAddr src, void* dst, uint64_t length);
  Result<void> CopyOut(UserAddr dst, const void* src, uint64_t length);
  // Reads a NUL-terminated string of at most max_length bytes (without the NUL); ENAMETOOLONG
  // if no NUL comes within max_length bytes.
  Result<std::string> CopyInString(UserAddr src, uint64_t max_length);
  template <class T>
  Result<T> CopyInObject(UserAddr src) {
    T value;
    TRY(CopyIn(src, &value, sizeof(T)));
    return value;
  }
  template <class T>
  Result<void> CopyOutObject(UserAddr dst, const T& value) {
    return CopyOut(dst, &value, sizeof(T));
  }
  // The sentry's views of [addr, addr+length) for host I/O straight into application memory.
  // Stops at the first inaccessible byte; EFAULT when that is the first byte. Views stay valid
  // only while no other thread unmaps the range or truncates a file mapped there (a task's own
  // syscall cannot race with itself), and, for writing, while no other thread forks (the
  // views keep pointing at memory fork then shares). File pages side by side in the MemoryFile
  // make one view. Views for writing into shared file pages are safe from a concurrent
  // write-back only with `stores` (see FileStores).
  Result<std::vector<iovec>> Translate(UserAddr addr, uint64_t length, uint8_t access,
                                       size_t max_views = 1024, FileStores* stores = nullptr);

  // futex(2)'s view of the aligned 32-bit word at `addr` (the futex key lookup): the sentry's
  // pointer to it, for atomic access, and for MAP_SHARED memory the MemoryFile offset that
  // names it in every address space mapping it. EFAULT when no VMA grants `access` there.
  // The pointer stays inside the MemoryFile's mapping, so a racing munmap cannot crash the
  // sentry; it only makes the access hit memory the application no longer sees.
  struct FutexWord {
    uint32_t* ptr = nullptr;
    std::optional<uint64_t> shared_offset;
  };
  Result<FutexWord> LookupFutexWord(UserAddr addr, uint8_t access);

  // A fault at addr that the platform reported (si_code as in its siginfo): a stack growth or
  // a file page not mapped yet is served here and the application continues; anything else is
  // the application's (SIGSEGV as reported, or SIGBUS past the end of a mapped file).
  FaultResult HandleFault(uint64_t addr, int si_code);

  // fork(2) in two steps, because a ptrace stub answers only to the threads that trace it.
  // PrepareFork, on a thread that drives this address space (the forking task's), shares every
  // private page copy-on-write: the image takes a reference on the memory and this address space
  // loses write access to it (in the platform only: the VMAs keep their protection, and the
  // first write faults and copies). CompleteFork, on the thread that will run the child, builds
  // the child's address space from the image in `as`. Nothing is copied until someone writes.
  Result<std::unique_ptr<ForkImage>> PrepareFork();
  Result<std::shared_ptr<MemoryManager>> CompleteFork(std::unique_ptr<platform::AddressSpace> as,
                                                      std::unique_ptr<ForkImage> image);
  // Both at once, for a caller that drives both address spaces.
  Result<std::shared_ptr<MemoryManager>> Fork(std::unique_ptr<platform::AddressSpace> as);

  // /proc/PID/maps text.
  std::string MapsText();
  uint64_t VmaCount();

  // In memory_manager_proc.cc: what /proc/PID/mem and getrusage ask.
  // /proc/PID/mem's access (Linux's FOLL_FORCE): copies between [addr, addr+length) and `buf`
  // (`write`: into the address space) whatever the protection: reads need a mapping that
  // mprotect could make readable, writes reach private mappings (memory shared since fork is
  // copied first) and shared ones only if writable. Stops at the first byte it cannot reach;
  // returns the bytes copied, or EFAULT when that is the first.
  Result<uint64_t> ForceAccess(UserAddr addr, uint8_t* buf, uint64_t length, bool write);
  // The resident set as the sentry counts it (as /proc's VmRSS): the accessible mappings.
  uint64_t AccessibleBytes();

 private:
  Result<void> CopyChunks(UserAddr addr, uint64_t length, uint8_t access,
                          const std::function<void(uint8_t*, uint64_t)>& fn);
  // The sentry's view of `addr` inside `v` and how many bytes from there are contiguous there
  // (to the end of the VMA, or of the page for file pages); EFAULT past the end of a file.
  Result<std::pair<uint8_t*, uint64_t>> ResolveLocked(const Vma& v, uint64_t addr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds a VMA over [start, start+length) of the file pages `like` maps, continuing at
  // `file_offset`. Nothing is mapped in the platform until it faults.
  void InsertFileVmaLocked(const Vma& like, uint64_t start, uint64_t length, uint64_t file_offset)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Maps the present file pages around the faulting page of `v` at `addr`.
  FaultResult FaultFilePageLocked(const Vma& v, uint64_t addr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The address space is about to hold file pages that other threads may have to drop.
  void NoteMapperLocked(const std::shared_ptr<Mappable>& m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Creates fresh zeroed memory for [start, start+length) and maps it. Caller checked the range.
  Result<void> MapNewLocked(uint64_t start, uint64_t length, uint8_t perms, bool shared,
                            bool growsdown, std::string name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UnmapLocked(uint64_t start, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Maps [start, end) of `v` in the platform: its protection, except that private pages with
  // another user (copy-on-write) are mapped without write access.
  Result<void> MapVmaLocked(const Vma& v, uint64_t start, uint64_t end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A write fault at addr in a private writable VMA: memory nobody else uses is mapped writable
  // again; shared memory (the aligned chunk around addr) is copied first.
  bool BreakCowFaultLocked(uint64_t addr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Gives [start, end) (page aligned, inside one private VMA) memory of its own, copied from
  // what it shares, and maps it. Memory nobody else uses is left alone.
  Result<void> BreakCowLocked(uint64_t start, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // MADV_DONTFORK/DOFORK/WIPEONFORK/KEEPONFORK over [start, start+length) (page aligned).
  Result<void> MAdviseFork(uint64_t start, uint64_t length, int advice);
  // A write fault at addr in a writable private file VMA: its page becomes private memory,
  // copied from the file.
  FaultResult CopyPrivateFileFaultLocked(uint64_t addr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Turns [start, end) (page aligned, inside one private file VMA) into private anonymous memory
  // holding a copy of the file's pages, and maps it. Pages past the end of the file stay file
  // pages (they are SIGBUS); EFAULT when the first one is past it already.
  Result<void> CopyPrivateFilePagesLocked(uint64_t start, uint64_t end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Gives the copied pages of private file mappings (and of the vDSO) in [start, end) back to
  // their file: the copies are freed and the range shows the file's pages again, faulted in.
  void DropPrivateCopiesLocked(uint64_t start, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // EINVAL when an operation that changes [start, end) would split a special mapping
  // ([vdso], [vvar]) at either edge; `changes` says whether it changes a given VMA (an mprotect
  // to the same protection splits nothing).
  Result<void> CheckSpecialSplitLocked(uint64_t start, uint64_t end,
                                       absl::FunctionRef<bool(const Vma&)> changes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Replaces [start, end) of one private VMA's memory with `offset` (which it owns already).
  void RepointLocked(uint64_t start, uint64_t end, uint64_t offset)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool GrowStackLocked(uint64_t addr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Result<uint64_t> FindSpaceLocked(uint64_t hint, uint64_t length, int flags)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Result<uint64_t> PlaceLocked(const MMapRequest& req, uint64_t length)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  MemoryFile& file_;
  std::unique_ptr<platform::AddressSpace> as_;
  const Layout layout_;
  absl::Mutex mu_;
  VmaSet vmas_ ABSL_GUARDED_BY(mu_);
  uint64_t brk_start_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t brk_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t mapped_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // sum of VMA lengths, for RLIMIT_AS
  // Files this address space registered with (AddMapper), to deregister when it dies.
  std::vector<std::weak_ptr<Mappable>> mapped_files_ ABSL_GUARDED_BY(mu_);
};

// Converts PROT_* bits to platform access bits.
uint8_t ProtToPerms(int prot);

}  // namespace sentry::mm
