#include "sentry/vfs/lease.h"

#include <fcntl.h>
#include <signal.h>

#include <algorithm>
#include <atomic>

#include "absl/time/clock.h"
#include "sentry/base/interrupter.h"
#include "sentry/vfs/file_description.h"

namespace sentry::vfs {
namespace {

std::atomic<int> lease_break_time{45};  // Linux's default
std::atomic<int> leases_enable{1};

}  // namespace

int LeaseBreakTime() { return lease_break_time.load(std::memory_order_relaxed); }
void SetLeaseBreakTime(int seconds) { lease_break_time.store(seconds, std::memory_order_relaxed); }
int LeasesEnable() { return leases_enable.load(std::memory_order_relaxed); }
void SetLeasesEnable(int value) { leases_enable.store(value, std::memory_order_relaxed); }

LeaseTable& LeaseTable::Get() {
  static LeaseTable table;
  return table;
}

// Linux's check_conflicting_open: a read lease needs a file nobody (the caller included) has
// open for writing; a write lease one that no description but the caller's has open at all.
Result<void> LeaseTable::CheckOpens(FileDescription& file, int type) {
  OpenCounts& counts = file.path().inode().open_counts();
  if (type == F_RDLCK) {
    if (counts.writers.load() > 0) return Err(EAGAIN);
    return {};
  }
  int self_writers = file.open_count() == &counts.writers ? 1 : 0;
  int self_readers = file.open_count() == &counts.readers ? 1 : 0;
  if (counts.writers.load() != self_writers || counts.readers.load() != self_readers) {
    return Err(EAGAIN);
  }
  return {};
}

void LeaseTable::ModifyLocked(Inode& inode, Leases& leases, size_t i, int type) {
  Lease& lease = leases[i];
  // What a break waited for is done: an unlock ends both kinds, a downgrade the downgrade.
  if (type == F_UNLCK) lease.unlock_pending = false;
  if (type == F_UNLCK || type == F_RDLCK) lease.downgrade_pending = false;
  changed_.SignalAll();
  if (type != F_UNLCK) {
    lease.type = type;
    return;
  }
  // Linux's lease_modify drops the description's owner and signal with the lease, and its
  // fasync entry, whose removal clears O_ASYNC.
  FileDescription& file = *lease.file;
  FileOwner owner = file.async().owner();
  owner.type = F_OWNER_PID;
  owner.pid = 0;
  file.async().set_owner(owner);
  file.async().set_signal(0);
  file.set_status_flags(file.status_flags() & ~O_ASYNC);
  leases.erase(leases.begin() + static_cast<ptrdiff_t>(i));
  inode.open_counts().leases.fetch_sub(1);
}

void LeaseTable::TimeOutLocked(Inode& inode, Leases& leases) {
  Clock::time_point now = Clock::now();
  for (size_t i = 0; i < leases.size();) {
    Lease& lease = leases[i];
    if (lease.downgrade_at && *lease.downgrade_at <= now) ModifyLocked(inode, leases, i, F_RDLCK);
    if (lease.unlock_at && *lease.unlock_at <= now) {
      ModifyLocked(inode, leases, i, F_UNLCK);
      continue;
    }
    ++i;
  }
}

void LeaseTable::TidyLocked(Inode& inode) {
  auto it = leases_.find(&inode);
  if (it != leases_.end() && it->second.empty()) leases_.erase(it);
}

Result<void> LeaseTable::Set(FileDescription& file, int type, int fd, SigioSender sender,
                             const FileOwner& self) {
  Inode& inode = file.path().inode();
  absl::MutexLock lock(&mu_);
  Leases& leases = leases_[&inode];
  // Every exit drops the inode's entry if it is left without leases.
  struct Tidy {
    LeaseTable* table;
    Inode* inode;
    ~Tidy() ABSL_NO_THREAD_SAFETY_ANALYSIS { table->TidyLocked(*inode); }
  } tidy{this, &inode};

  if (type == F_UNLCK) {
    auto mine =
        std::find_if(leases.begin(), leases.end(), [&](const Lease& l) { return l.file == &file; });
    // Linux's generic_delete_lease: no lease of this description is EAGAIN.
    if (mine == leases.end()) return Err(EAGAIN);
    ModifyLocked(inode, leases, static_cast<size_t>(mine - leases.begin()), F_UNLCK);
    return {};
  }
  TimeOutLocked(inode, leases);
  TRY(CheckOpens(file, type));
  Lease* own = nullptr;
  for (Lease& lease : leases) {
    if (lease.file == &file) {
      own = &lease;
      continue;
    }
    // A write lease is the only lease; a new read lease waits until no writer is opening.
    if (type == F_WRLCK || lease.unlock_pending) return Err(EAGAIN);
  }
  if (own != nullptr) {
    ModifyLocked(inode, leases, static_cast<size_t>(own - leases.data()), type);
  } else {
    if (LeasesEnable() == 0) return Err(EINVAL);
    Lease lease;
    lease.file = &file;
    lease.type = type;
    leases.push_back(std::move(lease));
    inode.open_counts().leases.fetch_add(1);
    // An open that counted itself before the lease was in and so did not see it shows now.
    if (auto opens = CheckOpens(file, type); !opens) {
      leases.pop_back();
      inode.open_counts().leases.fetch_sub(1);
      changed_.SignalAll();
      return opens;
    }
    file.NoteLease();
    // Linux's fasync_insert_entry: the lease's signal entry turns O_ASYNC on.
    file.set_status_flags(file.status_flags() | O_ASYNC);
    own = &leases.back();
  }
  // Linux's lease_setup: the signal reports the fd of the latest F_SETLEASE, and the caller's
  // process becomes the owner unless the description has one.
  own->fd = fd;
  own->sender = std::move(sender);
  if (file.async().owner().pid == 0) file.async().set_owner(self);
  return {};
}

int LeaseTable::Type(FileDescription& file) {
  if (!file.path().dentry) return F_UNLCK;  // pipes, sockets: never leased
  Inode& inode = file.path().inode();
  if (inode.open_counts().leases.load() == 0) return F_UNLCK;
  absl::MutexLock lock(&mu_);
  auto it = leases_.find(&inode);
  if (it == leases_.end()) return F_UNLCK;
  TimeOutLocked(inode, it->second);
  int type = F_UNLCK;
  for (const Lease& lease : it->second) {
    if (lease.file != &file) continue;
    // What the lease is being broken to, if it is (Linux's target_leasetype).
    type = lease.unlock_pending ? F_UNLCK : lease.downgrade_pending ? F_RDLCK : lease.type;
  }
  TidyLocked(inode);
  return type;
}

bool LeaseTable::StartBreakLocked(Inode& inode, bool want_write, std::vector<Signal>& signals) {
  auto it = leases_.find(&inode);
  if (it == leases_.end()) return false;
  Leases& leases = it->second;
  TimeOutLocked(inode, leases);
  if (std::none_of(leases.begin(), leases.end(),
                   [&](const Lease& l) { return Conflicts(l, want_write); })) {
    TidyLocked(inode);
    return false;
  }
  std::optional<Clock::time_point> deadline;
  if (int seconds = LeaseBreakTime(); seconds > 0) {
    deadline = Clock::now() + std::chrono::seconds(seconds);
  }
  for (Lease& lease : leases) {
    if (!Conflicts(lease, want_write)) continue;
    // Each lease is broken once to each target: a later opener waits for the same break.
    if (want_write) {
      if (lease.unlock_pending) continue;
      lease.unlock_pending = true;
      lease.unlock_at = deadline;
    } else {
      if (lease.unlock_pending || lease.downgrade_pending) continue;
      lease.downgrade_pending = true;
      lease.downgrade_at = deadline;
    }
    // Linux's lease_break_callback: kill_fasync with POLL_MSG to the description's owner now.
    if (lease.sender) {
      signals.push_back(Signal{lease.file->async().owner(), lease.file->async().signal(), lease.fd,
                               lease.sender});
    }
  }
  return true;
}

Result<void> LeaseTable::Break(Inode& inode, bool want_write, bool nonblocking) {
  std::vector<Signal> signals;
  {
    absl::MutexLock lock(&mu_);
    if (!StartBreakLocked(inode, want_write, signals)) return {};
  }
  for (const Signal& s : signals) {
    if (s.owner.pid != 0) s.sender(s.owner, s.signum, s.fd, POLL_MSG);
  }
  if (nonblocking) return Err(EWOULDBLOCK);

  absl::MutexLock lock(&mu_);
  while (true) {
    auto it = leases_.find(&inode);
    if (it == leases_.end()) return {};
    Leases& leases = it->second;
    TimeOutLocked(inode, leases);
    std::optional<Clock::time_point> deadline;
    bool conflict = false;
    for (const Lease& lease : leases) {
      if (!Conflicts(lease, want_write)) continue;
      conflict = true;
      // The earliest moment a time-out could end the wait.
      for (const auto& at : {lease.unlock_pending ? lease.unlock_at : std::nullopt,
                             lease.downgrade_pending ? lease.downgrade_at : std::nullopt}) {
        if (at && (!deadline || *at < *deadline)) deadline = at;
      }
    }
    if (!conflict) {
      TidyLocked(inode);
      return {};
    }
    // A signal ends the wait (EINTR, a restart under SA_RESTART, as Linux's ERESTARTSYS); the
    // break goes on for the next opener.
    ScopedArm arm(CurrentInterrupter(), [this] {
      absl::MutexLock l(&mu_);
      changed_.SignalAll();
    });
    if (arm.Interrupted()) return Err(EINTR);
    if (deadline) {
      auto left = *deadline - Clock::now();
      changed_.WaitWithTimeout(&mu_, absl::FromChrono(left));
    } else {
      changed_.Wait(&mu_);
    }
  }
}

void LeaseTable::Release(FileDescription& file) {
  Inode& inode = file.path().inode();
  absl::MutexLock lock(&mu_);
  auto it = leases_.find(&inode);
  if (it == leases_.end()) return;
  Leases& leases = it->second;
  for (size_t i = 0; i < leases.size(); ++i) {
    if (leases[i].file != &file) continue;
    ModifyLocked(inode, leases, i, F_UNLCK);
    break;
  }
  TidyLocked(inode);
}

}  // namespace sentry::vfs
