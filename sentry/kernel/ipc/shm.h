// System V shared memory (shmget, shmat, shmdt, shmctl). A segment's memory is one MemoryFile
// range (an mm::SharedMemory); each attachment is a MAP_SHARED VMA holding a reference to it.
// Those references share one control block per segment (ShmAttachments), whose use count is
// shm_nattch and whose end, for a segment marked for destruction, removes the segment.
//
// Lock order: MemoryManager::mu_ before ShmRegistry::mu_ (VMAs let go of attachments under the
// MM's lock); the registry never calls into an MM with its lock held.
#pragma once

#include <linux/shm.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/base/user_addr.h"
#include "sentry/kernel/ipc/ipc_object.h"
#include "sentry/mm/memory_file.h"
#include "sentry/mm/vma_set.h"

namespace sentry::kernel::ipc {

// Linux's defaults (include/uapi/linux/shm.h).
inline constexpr uint64_t kShmMin = 1;
inline constexpr uint64_t kShmMax = ~0UL - (1UL << 24);
inline constexpr uint64_t kShmAll = ~0UL - (1UL << 24);  // pages
inline constexpr int kShmMni = 4096;
inline constexpr uint64_t kShmLba = 4096;  // SHMLBA on x86: the page size
// Mode bits the kernel keeps in shm_perm.mode (its own headers have them).
inline constexpr uint32_t kShmDest = 01000;
inline constexpr uint32_t kShmLocked = 02000;

class ShmRegistry;
struct ShmAttachments;

struct ShmSegment {
  Perm perm;
  uint64_t size = 0;  // as asked; the memory is that rounded up to pages
  std::string name;   // "/SYSV%08x (deleted)", the attachments' name in /proc/PID/maps
  std::shared_ptr<mm::SharedMemory> memory;
  std::weak_ptr<ShmAttachments> attachments;
  int64_t atime = 0, dtime = 0, ctime = 0;
  pid_t cpid = 0, lpid = 0;
};

class ShmRegistry : public std::enable_shared_from_this<ShmRegistry> {
 public:
  explicit ShmRegistry(mm::MemoryFile& file) : file_(file) {}

  Result<int> Get(Task& task, key_t key, uint64_t size, int flags);
  Result<UserAddr> Attach(Task& task, int id, uint64_t addr, int flags);
  Result<void> Detach(Task& task, UserAddr addr);
  Result<uint64_t> Control(Task& task, int id, int cmd, UserAddr buf);
  // exit and the end of an address space: every attachment of the task's MM goes.
  void DetachAll(Task& task);

  // /proc/sys/kernel and IPC_INFO.
  static shminfo64 Limits();

 private:
  friend struct ShmAttachments;
  // The size of the segment whose memory `mem` is (nullopt: not a segment's), and a detach by
  // `tgid` (lpid, dtime) when asked.
  std::optional<uint64_t> SegmentSize(const mm::SharedMemory& mem, pid_t detacher);
  void LastDetach(ShmSegment& seg);
  shmid64_ds StatLocked(const ShmSegment& seg) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mm::MemoryFile& file_;
  absl::Mutex mu_;
  ObjectTable<ShmSegment> table_ ABSL_GUARDED_BY(mu_){kShmMni};
  uint64_t total_pages_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sentry::kernel::ipc
