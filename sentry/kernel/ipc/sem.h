// System V semaphores (semget, semop, semtimedop, semctl). A semop's operations apply all at
// once or not at all; a caller that would block sleeps on the registry's condition variable
// and tries again after every change. SEM_UNDO adjustments are kept per process (tgid) and
// applied when it exits.
#pragma once

#include <linux/sem.h>

#include <list>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "sentry/base/errno.h"
#include "sentry/base/user_addr.h"
#include "sentry/kernel/ipc/ipc_object.h"

namespace sentry::kernel::ipc {

// Linux's defaults (include/uapi/linux/sem.h).
inline constexpr int kSemMsl = 32000;
inline constexpr int kSemMni = 32000;
inline constexpr int kSemMns = kSemMni * kSemMsl;
inline constexpr int kSemOpm = 500;
inline constexpr int kSemVmx = 32767;
inline constexpr int kSemAem = kSemVmx;

struct Semaphore {
  int value = 0;
  pid_t pid = 0;  // of the last process to change it
};

struct SemSet {
  Perm perm;
  std::vector<Semaphore> sems;
  int64_t otime = 0, ctime = 0;
  bool removed = false;
  // The operation each sleeper is blocked on, for GETNCNT and GETZCNT.
  std::list<sembuf> blocked;
};

class SemRegistry {
 public:
  Result<int> Get(Task& task, key_t key, int nsems, int flags);
  // semop/semtimedop with the operations already copied in (and their count checked).
  Result<uint64_t> Op(Task& task, int id, const std::vector<sembuf>& ops,
                      std::optional<absl::Time> deadline);
  Result<uint64_t> Control(Task& task, int id, int num, int cmd, uint64_t arg);
  // The process `tgid` has exited: its SEM_UNDO adjustments apply.
  void ExitProcess(pid_t tgid);

  static seminfo Limits();

 private:
  enum class Outcome { kDone, kBlocked };
  // Tries `ops` on `set`: done (applied), blocked (at ops[*blocking]), or an error (ERANGE,
  // EAGAIN for a blocking op with IPC_NOWAIT).
  Result<Outcome> TryOps(SemSet& set, const std::vector<sembuf>& ops, pid_t tgid, size_t* blocking)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveLocked(SemSet& set) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  semid64_ds StatLocked(const SemSet& set) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // SETVAL/SETALL: adjustments for semaphore `num` (all with -1) are forgotten.
  void ClearUndoLocked(int id, int num) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  absl::CondVar changed_;  // a value changed or a set was removed
  ObjectTable<SemSet> table_ ABSL_GUARDED_BY(mu_){kSemMni};
  int64_t total_sems_ ABSL_GUARDED_BY(mu_) = 0;
  // SEM_UNDO: per process, per set id, an adjustment for each semaphore.
  std::map<pid_t, std::map<int, std::vector<int>>> undo_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sentry::kernel::ipc
