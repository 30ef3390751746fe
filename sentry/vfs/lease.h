// File leases (fcntl F_SETLEASE / F_GETLEASE), as Linux's fs/locks.c keeps them.
//
// A lease belongs to an open file description of a regular file: a read lease while nobody has
// the file open for writing, a write lease while nobody else has it open at all. An open(2) (or
// truncate(2)) that conflicts with one starts a "break": the holder's owner gets SIGIO (or the
// F_SETSIG signal), and the opener waits until the holder has downgraded (a reader opening
// against a write lease) or removed the lease, or until /proc/sys/fs/lease-break-time seconds
// have passed, when the lease is downgraded or removed for it. O_NONBLOCK openers start the
// break and fail with EWOULDBLOCK. A lease goes with its description's last reference.
//
// One sandbox-wide table keyed by inode. Whether an open conflicts is a question of how many
// descriptions have the file open and how (OpenCounts, kept by FileDescription in the Inode);
// open(2) of a file with no lease reads one atomic and never takes the table's lock.
//
// Lock order: the table's mutex comes after nothing the open, truncate and close paths hold
// (a description's last reference may go under a MemoryManager lock, so it must never be taken
// before one) and before a description's AsyncState lock (a leaf). Signals are sent with it
// released: the kernel's process and signal locks never nest inside it.
#pragma once

#include <fcntl.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/vfs/file_owner.h"
#include "sentry/vfs/inode.h"

namespace sentry::vfs {

class FileDescription;

// /proc/sys/fs/lease-break-time (seconds; 0 or less: a break never times out) and
// /proc/sys/fs/leases-enable (0: no new leases), sandbox-wide like the table.
int LeaseBreakTime();
void SetLeaseBreakTime(int seconds);
int LeasesEnable();
void SetLeasesEnable(int value);

class LeaseTable {
 public:
  static LeaseTable& Get();

  // F_SETLEASE on a description of a regular file whose owner the caller may act for (checked
  // by the caller): F_RDLCK, F_WRLCK or F_UNLCK. `fd` is what the break signal's si_fd says,
  // `sender` how it is sent, `self` the caller's process (the description's owner from now on,
  // unless it has one).
  Result<void> Set(FileDescription& file, int type, int fd, SigioSender sender,
                   const FileOwner& self);
  // F_GETLEASE: the description's lease type, or the type it is being broken to.
  int Type(FileDescription& file);
  // An open (want_write: for writing) or truncate of `inode` that conflicting leases must make
  // room for. EWOULDBLOCK at once when `nonblocking`, EINTR when the task is interrupted.
  Result<void> Break(Inode& inode, bool want_write, bool nonblocking);
  // The description is going away: its lease goes too.
  void Release(FileDescription& file);

 private:
  using Clock = std::chrono::steady_clock;
  struct Lease {
    FileDescription* file = nullptr;
    int type = F_RDLCK;  // or F_WRLCK
    bool unlock_pending = false;
    bool downgrade_pending = false;
    // When a break of each kind forces its way; like Linux's fl_break_time and
    // fl_downgrade_time they stay set after the break ends.
    std::optional<Clock::time_point> unlock_at, downgrade_at;
    int fd = -1;
    SigioSender sender;
  };
  struct Signal {
    FileOwner owner;
    int signum;
    int fd;
    SigioSender sender;
  };
  using Leases = std::vector<Lease>;  // in the order they were taken, as Linux lists them

  static bool Conflicts(const Lease& lease, bool want_write) {
    return want_write || lease.type == F_WRLCK;
  }
  static Result<void> CheckOpens(FileDescription& file, int type);
  // Linux's lease_modify: a new type for `leases[i]`, or its removal with F_UNLCK (the
  // description then loses its owner, F_SETSIG signal and O_ASYNC).
  void ModifyLocked(Inode& inode, Leases& leases, size_t i, int type)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Linux's time_out_leases: the breaks whose time is up take effect.
  void TimeOutLocked(Inode& inode, Leases& leases) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Marks the conflicting leases as being broken (those not yet) and says whom to signal;
  // false when nothing conflicts.
  bool StartBreakLocked(Inode& inode, bool want_write, std::vector<Signal>& signals)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Erases the inode's entry once it holds no lease.
  void TidyLocked(Inode& inode) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  absl::CondVar changed_;  // any lease changed or went: blocked openers look again
  std::map<Inode*, Leases> leases_ ABSL_GUARDED_BY(mu_);
};

// The open path's entry: free when the file has no lease.
inline Result<void> BreakLease(Inode& inode, bool want_write, bool nonblocking) {
  // Sequentially consistent, with the opener's count before it: either this sees a lease just
  // set, or the setter's second look at the counts sees this open.
  if (inode.open_counts().leases.load() == 0) return {};
  return LeaseTable::Get().Break(inode, want_write, nonblocking);
}

}  // namespace sentry::vfs
