#include "sentry/vfs/record_lock.h"

#include <fcntl.h>

#include <iterator>

#include "sentry/base/interrupter.h"

namespace sentry::vfs {
namespace {

// How far the deadlock detector follows waiting owners (Linux's MAX_DEADLK_ITERATIONS).
constexpr int kMaxDeadlockIterations = 10;

}  // namespace

Result<LockSpan> ToLockSpan(int64_t base, int64_t l_start, int64_t l_len) {
  // base is 0, a file position or a size: never negative.
  if (l_start > kLockOffsetMax - base) return Err(EOVERFLOW);
  int64_t start = base + l_start;
  if (start < 0) return Err(EINVAL);
  // A negative length locks the l_len bytes before l_start (POSIX-2001).
  if (l_len > 0) {
    if (l_len - 1 > kLockOffsetMax - start) return Err(EOVERFLOW);
    return LockSpan{start, start + (l_len - 1)};
  }
  if (l_len < 0) {
    if (start + l_len < 0) return Err(EINVAL);
    return LockSpan{start + l_len, start - 1};
  }
  return LockSpan{start, kLockOffsetMax};
}

void LockRanges::Set(int64_t start, int64_t end, short type, pid_t pid) {
  // Carve [start, end] out. First a range that begins before it and reaches into it: its head
  // stays, and its tail too when it reaches past the end.
  auto it = by_start_.upper_bound(start);
  if (it != by_start_.begin()) {
    auto prev = std::prev(it);
    Range& r = prev->second;
    if (r.start < start && r.end >= start) {
      Range old = r;
      r.end = start - 1;
      if (old.end > end) by_start_[end + 1] = Range{end + 1, old.end, old.type, old.pid};
    }
  }
  // Then the ranges that begin inside it; the last may reach past the end.
  it = by_start_.lower_bound(start);
  while (it != by_start_.end() && it->first <= end) {
    Range old = it->second;
    it = by_start_.erase(it);
    if (old.end > end) {
      by_start_[end + 1] = Range{end + 1, old.end, old.type, old.pid};
      break;
    }
  }
  if (type == F_UNLCK) return;

  // Insert, absorbing neighbours of the same type that touch it.
  Range added{start, end, type, pid};
  if (end != kLockOffsetMax) {
    auto next = by_start_.find(end + 1);
    if (next != by_start_.end() && next->second.type == type) {
      added.end = next->second.end;
      by_start_.erase(next);
    }
  }
  auto after = by_start_.lower_bound(start);
  if (after != by_start_.begin()) {
    auto prev = std::prev(after);
    if (prev->second.end == start - 1 && prev->second.type == type) {
      added.start = prev->second.start;
      by_start_.erase(prev);
    }
  }
  by_start_[added.start] = added;
}

std::optional<LockRanges::Range> LockRanges::FirstOverlap(int64_t start, int64_t end,
                                                          bool writes_only) const {
  auto it = by_start_.upper_bound(start);
  if (it != by_start_.begin() && std::prev(it)->second.end >= start) --it;
  for (; it != by_start_.end() && it->first <= end; ++it) {
    if (!writes_only || it->second.type == F_WRLCK) return it->second;
  }
  return std::nullopt;
}

std::vector<LockRanges::Range> LockRanges::ranges() const {
  std::vector<Range> out;
  out.reserve(by_start_.size());
  for (const auto& [start, r] : by_start_) out.push_back(r);
  return out;
}

RecordLockTable& RecordLockTable::Get() {
  static RecordLockTable table;
  return table;
}

std::optional<LockConflict> RecordLockTable::FindLocked(const void* file, const void* owner,
                                                        short type, int64_t start, int64_t end) {
  auto f = files_.find(file);
  if (f == files_.end()) return std::nullopt;
  for (const OwnerLocks& o : f->second) {
    // F_UNLCK looks at the owner's own locks; anything else at everyone else's. A read lock
    // meets only write locks; a write lock meets every lock.
    if ((type == F_UNLCK) != (o.owner == owner)) continue;
    if (auto r = o.ranges.FirstOverlap(start, end, type == F_RDLCK)) {
      return LockConflict{*r, o.owner, o.ofd};
    }
  }
  return std::nullopt;
}

std::optional<LockConflict> RecordLockTable::Test(const void* file, const LockOwner& owner,
                                                  short type, int64_t start, int64_t end) {
  absl::MutexLock lock(&mu_);
  return FindLocked(file, owner.id, type, start, end);
}

bool RecordLockTable::DeadlockLocked(const void* caller, const void* blocker) {
  // Follow "the owner of the lock in the way waits for a lock of ..." among process owners; if
  // the chain comes back to the caller, waiting would never end. OFD waiters have no part in
  // it (Linux: they are not owned by a process).
  const void* o = blocker;
  for (int i = 0;; ++i) {
    const Waiter* found = nullptr;
    for (const Waiter* w : waiters_) {
      if (!w->ofd && w->blocked_on != nullptr && w->owner == o) {
        found = w;
        break;
      }
    }
    if (found == nullptr || i > kMaxDeadlockIterations) return false;
    if (found->blocked_on == caller) return true;
    o = found->blocked_on;
  }
}

void RecordLockTable::WakeLocked(const void* file) {
  bool any = false;
  for (Waiter* w : waiters_) {
    if (w->file != file) continue;
    w->blocked_on = nullptr;  // it looks again, and says again what it waits for
    any = true;
  }
  if (any) changed_.SignalAll();
}

void RecordLockTable::ApplyLocked(const void* file, const LockOwner& owner, short type,
                                  int64_t start, int64_t end) {
  FileLocks& locks = files_[file];
  auto it = locks.begin();
  while (it != locks.end() && it->owner != owner.id) ++it;
  if (it == locks.end()) {
    if (type == F_UNLCK) {
      if (locks.empty()) files_.erase(file);
      return;  // nothing to unlock
    }
    it = locks.insert(locks.end(), OwnerLocks{owner.id, owner.ofd, {}});
  }
  it->ranges.Set(start, end, type, owner.pid);
  if (it->ranges.empty()) {
    locks.erase(it);
    if (locks.empty()) files_.erase(file);
    auto h = held_.find(owner.id);
    if (h != held_.end()) {
      h->second.erase(file);
      if (h->second.empty()) held_.erase(h);
    }
  } else {
    held_[owner.id].insert(file);
  }
  WakeLocked(file);
}

Result<void> RecordLockTable::Set(const void* file, const LockOwner& owner, short type,
                                  int64_t start, int64_t end, bool wait) {
  absl::MutexLock lock(&mu_);
  if (type != F_UNLCK) {
    Waiter self{file, owner.id, owner.ofd, nullptr};
    bool registered = false;
    Result<void> result;
    while (auto conflict = FindLocked(file, owner.id, type, start, end)) {
      if (!wait) {
        result = Err(EAGAIN);
        break;
      }
      self.blocked_on = nullptr;
      if (!owner.ofd && DeadlockLocked(owner.id, conflict->owner)) {
        result = Err(EDEADLK);
        break;
      }
      self.blocked_on = conflict->owner;
      if (!registered) {
        waiters_.push_back(&self);
        registered = true;
      }
      // A holder that exits closes its files, which releases its locks and wakes this; a
      // signal ends the wait (EINTR, a restart under SA_RESTART, as Linux's ERESTARTSYS).
      ScopedArm arm(CurrentInterrupter(), [this] {
        absl::MutexLock l(&mu_);
        changed_.SignalAll();
      });
      if (arm.Interrupted()) {
        result = Err(EINTR);
        break;
      }
      changed_.Wait(&mu_);
    }
    if (registered) waiters_.remove(&self);
    if (!result) return result;
  }
  ApplyLocked(file, owner, type, start, end);
  return {};
}

void RecordLockTable::ReleaseLocked(const void* file, const void* owner) {
  auto f = files_.find(file);
  if (f == files_.end()) return;
  FileLocks& locks = f->second;
  bool removed = false;
  for (auto it = locks.begin(); it != locks.end(); ++it) {
    if (it->owner == owner) {
      locks.erase(it);
      removed = true;
      break;
    }
  }
  if (!removed) return;
  if (locks.empty()) files_.erase(f);
  auto h = held_.find(owner);
  if (h != held_.end()) {
    h->second.erase(file);
    if (h->second.empty()) held_.erase(h);
  }
  WakeLocked(file);
}

void RecordLockTable::ReleaseFile(const void* file, const void* owner) {
  absl::MutexLock lock(&mu_);
  ReleaseLocked(file, owner);
}

size_t RecordLockTable::WaitersForTest() {
  absl::MutexLock lock(&mu_);
  return waiters_.size();
}

void RecordLockTable::ReleaseOwner(const void* owner) {
  absl::MutexLock lock(&mu_);
  auto h = held_.find(owner);
  if (h == held_.end()) return;
  std::set<const void*> files = h->second;
  for (const void* file : files) ReleaseLocked(file, owner);
}

}  // namespace sentry::vfs
