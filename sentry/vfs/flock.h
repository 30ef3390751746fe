// flock(2) locks: whole-file locks that belong to an open file description, shared or
// exclusive, released by LOCK_UN or when the description is closed for the last time.
#pragma once

#include <map>
#include <set>

#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"

namespace sentry::vfs {

class FlockTable {
 public:
  // The sandbox's one table (locks are visible to every process of the sandbox).
  static FlockTable& Get();

  // op: LOCK_SH, LOCK_EX or LOCK_UN, maybe with LOCK_NB. `file` identifies the locked file,
  // `owner` the open file description. Blocking waits are not interruptible by signals yet.
  Result<void> Lock(const void* file, const void* owner, int op);
  // Drops whatever `owner` holds (its description is going away).
  void ReleaseAll(const void* owner);

 private:
  struct State {
    const void* exclusive = nullptr;
    std::set<const void*> shared;
    bool Empty() const { return exclusive == nullptr && shared.empty(); }
  };
  void UnlockLocked(const void* file, const void* owner) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  absl::CondVar released_;
  std::map<const void*, State> locks_ ABSL_GUARDED_BY(mu_);
  std::map<const void*, std::set<const void*>> held_ ABSL_GUARDED_BY(mu_);  // owner -> files
};

}  // namespace sentry::vfs
