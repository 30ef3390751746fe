// MemoryManager: one application address space as the sentry sees it. It owns the VMAs, places
// new mappings, keeps the platform's AddressSpace in step, and is the only way the sentry reads
// or writes application memory (CopyIn/CopyOut through its own mapping of the MemoryFile).
//
// Lock order: MemoryManager::mu_ before MemoryFile's lock. Platform calls happen under mu_.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/base/user_addr.h"
#include "sentry/mm/memory_file.h"
#include "sentry/mm/vma_set.h"
#include "sentry/platform/platform.h"

namespace sentry::mm {

struct MMapRequest {
  uint64_t addr = 0;    // hint, or the exact address with fixed
  uint64_t length = 0;  // bytes; rounded up to pages
  int prot = 0;         // PROT_*
  int flags = 0;        // MAP_* as passed to mmap(2)
  std::string name;     // shown in the maps listing
  uint64_t address_space_limit = UINT64_MAX;  // RLIMIT_AS
};

// Where things go in a fresh address space; chosen (with randomisation) at exec.
struct Layout {
  uint64_t max_addr = 0;   // exclusive; above it the platform has reserved space
  uint64_t mmap_base = 0;  // top-down searches start here
  uint64_t stack_top = 0;  // exclusive top of the main thread's stack
  uint64_t stack_limit = 0;  // RLIMIT_STACK at exec: how far the stack may grow
  uint64_t vdso_base = 0;    // AT_SYSINFO_EHDR, 0 without a vDSO
};

class MemoryManager {
 public:
  // `shared` are the platform's regions present in every address space (see SharedRegions()).
  MemoryManager(MemoryFile& file, std::unique_ptr<platform::AddressSpace> as, Layout layout,
                const std::vector<platform::SharedRegion>& shared = {});
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
  // only while no other thread unmaps the range (a task's own syscall cannot race with itself).
  Result<std::vector<iovec>> Translate(UserAddr addr, uint64_t length, uint8_t access,
                                       size_t max_views = 1024);

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

  // A fault at addr that the platform reported: true when it was a stack growth the MM served
  // (the application may simply continue), false when the fault is the application's.
  bool HandleFault(uint64_t addr);

  // fork(2): a copy of this address space (private memory copied, shared memory shared),
  // mapped into `as`, which the calling thread must be able to drive.
  Result<std::shared_ptr<MemoryManager>> Fork(std::unique_ptr<platform::AddressSpace> as);

  // /proc/PID/maps text.
  std::string MapsText();
  uint64_t VmaCount();

 private:
  Result<void> CopyChunks(UserAddr addr, uint64_t length, uint8_t access,
                          const std::function<void(uint8_t*, uint64_t)>& fn);
  // Creates fresh zeroed memory for [start, start+length) and maps it. Caller checked the range.
  Result<void> MapNewLocked(uint64_t start, uint64_t length, uint8_t perms, bool shared,
                            bool growsdown, std::string name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UnmapLocked(uint64_t start, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool GrowStackLocked(uint64_t addr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Result<uint64_t> FindSpaceLocked(uint64_t hint, uint64_t length, int flags)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  MemoryFile& file_;
  std::unique_ptr<platform::AddressSpace> as_;
  const Layout layout_;
  const std::vector<platform::SharedRegion> shared_regions_;
  absl::Mutex mu_;
  VmaSet vmas_ ABSL_GUARDED_BY(mu_);
  uint64_t brk_start_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t brk_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t mapped_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // sum of VMA lengths, for RLIMIT_AS
};

// Converts PROT_* bits to platform access bits.
uint8_t ProtToPerms(int prot);

}  // namespace sentry::mm
