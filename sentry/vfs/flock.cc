#include "sentry/vfs/flock.h"

#include <sys/file.h>

#include "sentry/base/interrupter.h"

namespace sentry::vfs {

FlockTable& FlockTable::Get() {
  static FlockTable table;
  return table;
}

void FlockTable::UnlockLocked(const void* file, const void* owner) {
  auto it = locks_.find(file);
  if (it == locks_.end()) return;
  State& s = it->second;
  if (s.exclusive == owner) s.exclusive = nullptr;
  s.shared.erase(owner);
  if (s.Empty()) locks_.erase(it);
  auto h = held_.find(owner);
  if (h != held_.end()) {
    h->second.erase(file);
    if (h->second.empty()) held_.erase(h);
  }
  released_.SignalAll();
}

Result<void> FlockTable::Lock(const void* file, const void* owner, int op) {
  bool nonblocking = op & LOCK_NB;
  int kind = op & ~LOCK_NB;
  absl::MutexLock lock(&mu_);
  if (kind == LOCK_UN) {
    UnlockLocked(file, owner);
    return {};
  }
  // A conversion gives up the old lock first, as Linux does (it is not atomic there either).
  State& s = locks_[file];
  if (kind == LOCK_SH && s.exclusive == owner) {
    s.exclusive = nullptr;
    s.shared.insert(owner);
    released_.SignalAll();
    return {};
  }
  if (kind == LOCK_EX) s.shared.erase(owner);
  auto can_take = [&] {
    State& st = locks_[file];
    if (kind == LOCK_SH) return st.exclusive == nullptr || st.exclusive == owner;
    return (st.exclusive == nullptr || st.exclusive == owner) && st.shared.empty();
  };
  while (!can_take()) {
    if (nonblocking) {
      if (locks_[file].Empty()) locks_.erase(file);
      return Err(EWOULDBLOCK);
    }
    // A signal ends the wait (EINTR, which becomes a restart under SA_RESTART, as Linux's
    // ERESTARTSYS). A conversion from shared has given up its lock by then, as on Linux.
    ScopedArm arm(CurrentInterrupter(), [this] {
      absl::MutexLock l(&mu_);
      released_.SignalAll();
    });
    if (arm.Interrupted()) {
      if (locks_[file].Empty()) locks_.erase(file);
      return Err(EINTR);
    }
    released_.Wait(&mu_);
  }
  State& now = locks_[file];
  if (kind == LOCK_SH) {
    now.shared.insert(owner);
  } else {
    now.exclusive = owner;
  }
  held_[owner].insert(file);
  return {};
}

void FlockTable::ReleaseAll(const void* owner) {
  absl::MutexLock lock(&mu_);
  auto h = held_.find(owner);
  if (h == held_.end()) return;
  std::set<const void*> files = h->second;
  for (const void* file : files) UnlockLocked(file, owner);
}

}  // namespace sentry::vfs
