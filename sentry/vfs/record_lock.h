// POSIX record locks (fcntl F_SETLK and friends): byte-range read and write locks on a file.
//
// Two kinds of owner, as on Linux. A traditional ("process") lock belongs to the fd table that
// took it (Linux's files_struct: the process, or the processes sharing one table); every one the
// table holds on a file goes when the table closes ANY fd referring to that file, and when the
// table itself goes (exit). An OFD lock belongs to an open file description and goes when the
// description is closed for the last time. Locks of one owner never conflict with each other;
// OFD and process locks conflict like locks of two processes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"

namespace sentry::vfs {

// The last byte of a lock that runs to the end of the file and beyond (l_len == 0); Linux's
// OFFSET_MAX.
constexpr int64_t kLockOffsetMax = INT64_MAX;

// The bytes [start, end] (end inclusive) that a struct flock names, given `base`: 0, the file
// position or the file size for l_whence SEEK_SET, SEEK_CUR and SEEK_END. EOVERFLOW when the
// range does not fit in an off_t; EINVAL when it starts before byte 0. As Linux's
// flock64_to_posix_lock.
struct LockSpan {
  int64_t start;
  int64_t end;
};
Result<LockSpan> ToLockSpan(int64_t base, int64_t l_start, int64_t l_len);

// The locks one owner holds on one file: sorted, disjoint ranges, where ranges of the same type
// that touch are one range (Linux keeps them so; F_GETLK shows it).
class LockRanges {
 public:
  struct Range {
    int64_t start;
    int64_t end;  // inclusive; kLockOffsetMax: to the end and beyond
    short type;   // F_RDLCK or F_WRLCK
    pid_t pid;    // who set it, for F_GETLK
    bool operator==(const Range&) const = default;
  };

  // Makes [start, end] `type` (F_RDLCK, F_WRLCK; F_UNLCK removes it): the parts of old ranges
  // outside [start, end] stay (an old range around it splits in two), and the new range merges
  // with neighbours of its type that it touches.
  void Set(int64_t start, int64_t end, short type, pid_t pid);
  // The first range (by start) that overlaps [start, end]; with writes_only, the first write
  // range.
  std::optional<Range> FirstOverlap(int64_t start, int64_t end, bool writes_only) const;
  std::vector<Range> ranges() const;
  bool empty() const { return by_start_.empty(); }

 private:
  std::map<int64_t, Range> by_start_;
};

// Who asks: `id` is the fd table (process locks) or the file description (OFD locks).
struct LockOwner {
  const void* id;
  pid_t pid;  // the caller's tgid
  bool ofd;
};

// What F_GETLK reports: a lock that stands in the way.
struct LockConflict {
  LockRanges::Range range;
  const void* owner;
  bool ofd;  // l_pid is -1 for OFD locks
};

class RecordLockTable {
 public:
  // The sandbox's one table: locks are visible to every process of the sandbox.
  static RecordLockTable& Get();

  // F_GETLK: the first lock of another owner on `file` that conflicts with taking `type` on
  // [start, end]. type F_UNLCK (F_OFD_GETLK only): the first lock of `owner` itself that
  // overlaps the range.
  std::optional<LockConflict> Test(const void* file, const LockOwner& owner, short type,
                                   int64_t start, int64_t end);
  // F_SETLK / F_SETLKW: sets [start, end] to `type` for `owner`, or unlocks it (F_UNLCK). A
  // conflicting lock of another owner makes it EAGAIN, or, with `wait`, waits until there is
  // none; EDEADLK instead of a wait that could never end, found (as Linux finds it) by
  // following process owners that wait for one another. Waits are not interruptible by
  // signals yet.
  Result<void> Set(const void* file, const LockOwner& owner, short type, int64_t start, int64_t end,
                   bool wait);
  // Drops what `owner` holds on `file` (a process closed an fd referring to it).
  void ReleaseFile(const void* file, const void* owner);
  // Drops everything `owner` holds (its fd table or description is going away).
  void ReleaseOwner(const void* owner);
  // How many F_SETLKW wait now (for tests).
  size_t WaitersForTest();

 private:
  struct OwnerLocks {
    const void* owner;
    bool ofd;
    LockRanges ranges;
  };
  // A file's locks, by owner in the order the owners took their first lock (Linux's list
  // order, which decides which conflict F_GETLK reports).
  using FileLocks = std::list<OwnerLocks>;
  // A blocked F_SETLKW.
  struct Waiter {
    const void* file;
    const void* owner;
    bool ofd;
    const void* blocked_on;  // owner of the lock it waits for; null once woken
  };

  // The first lock of another owner that conflicts with `type` on [start, end]; with F_UNLCK,
  // the first lock of `owner` itself that overlaps it.
  std::optional<LockConflict> FindLocked(const void* file, const void* owner, short type,
                                         int64_t start, int64_t end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool DeadlockLocked(const void* caller, const void* blocker) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyLocked(const void* file, const LockOwner& owner, short type, int64_t start, int64_t end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReleaseLocked(const void* file, const void* owner) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Something changed on `file`: its waiters look again.
  void WakeLocked(const void* file) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  absl::CondVar changed_;
  std::map<const void*, FileLocks> files_ ABSL_GUARDED_BY(mu_);
  std::map<const void*, std::set<const void*>> held_ ABSL_GUARDED_BY(mu_);  // owner -> files
  std::list<Waiter*> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sentry::vfs
