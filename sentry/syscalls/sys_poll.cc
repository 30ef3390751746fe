// poll, ppoll, select, pselect6: check each file's readiness and, when none is ready, sleep on
// the files' wait queues (and their host fds) until one may be, the deadline, or an interrupt.
#include <poll.h>
#include <sys/select.h>
#include <sys/syscall.h>

#include <climits>
#include <vector>

#include "sentry/base/interrupter.h"
#include "sentry/kernel/kernel.h"
#include "sentry/syscalls/path_util.h"
#include "sentry/syscalls/poll_util.h"
#include "sentry/syscalls/table.h"
#include "sentry/vfs/fd_table.h"

namespace sentry::syscalls {
namespace {

constexpr int64_t kNsPerSec = 1000000000;
// Far enough never to come, near enough that adding to it cannot overflow.
constexpr time_t kFarFuture = INT64_MAX / 4;

struct PollTarget {
  std::shared_ptr<vfs::FileDescription> file;  // null: revents is already final
  uint32_t events = 0;                         // what is asked for, POLLERR/POLLHUP included
  uint32_t revents = 0;
  vfs::WaitEntry entry;
};

// Fills in each target's revents; waits until at least one is non-zero, or `deadline`.
// Returns how many are.
Result<int> PollTargets(std::vector<PollTarget>& targets, const std::optional<timespec>& deadline) {
  vfs::Waiter waiter;
  std::vector<pollfd> host;
  bool registered = false;
  auto unregister = [&] {
    if (!registered) return;
    for (PollTarget& t : targets) {
      if (t.file) t.file->EventUnregister(&t.entry);
    }
    registered = false;
  };
  int ready = 0;
  while (true) {
    waiter.Reset();
    ready = 0;
    for (PollTarget& t : targets) {
      if (t.file) t.revents = t.file->Readiness(t.events) & t.events;
      if (t.revents != 0) ++ready;
    }
    if (ready > 0) break;
    if (deadline && !vfs::TimespecLess(vfs::MonotonicNow(), *deadline)) break;
    if (!registered) {
      // Registered before the next check, so that no change after it goes unnoticed.
      for (PollTarget& t : targets) {
        if (!t.file) continue;
        t.entry.mask = t.events;
        t.entry.callback = waiter.WakeCallback();
        t.file->EventRegister(&t.entry);
        t.file->HostWaitFds(t.events, host);
      }
      registered = true;
      continue;
    }
    if (auto slept = waiter.Sleep(host, deadline); !slept) {
      if (slept.error().value == ETIMEDOUT) break;
      unregister();
      return std::unexpected(slept.error());
    }
  }
  unregister();
  return ready;
}

Result<uint64_t> DoPoll(kernel::Task& t, uint64_t fds_addr, uint64_t nfds,
                        const std::optional<timespec>& deadline) {
  if (nfds > FdLimit(t)) return Err(EINVAL);
  std::vector<pollfd> fds(nfds);
  if (nfds > 0) TRY(t.mm().CopyIn(UserAddr(fds_addr), fds.data(), nfds * sizeof(pollfd)));
  std::vector<PollTarget> targets(nfds);
  for (size_t i = 0; i < nfds; ++i) {
    if (fds[i].fd < 0) continue;  // ignored: revents 0
    auto file = t.fds().Get(fds[i].fd);
    if (!file) {
      targets[i].revents = POLLNVAL;
      continue;
    }
    targets[i].file = std::move(*file);
    targets[i].events = static_cast<uint16_t>(fds[i].events) | POLLERR | POLLHUP;
  }
  int ready = TRY(PollTargets(targets, deadline));
  for (size_t i = 0; i < nfds; ++i) fds[i].revents = static_cast<short>(targets[i].revents);
  if (nfds > 0) TRY(t.mm().CopyOut(UserAddr(fds_addr), fds.data(), nfds * sizeof(pollfd)));
  return static_cast<uint64_t>(ready);
}

// poll with a timeout, interrupted, resumes through restart_syscall with the same deadline
// (Linux's do_restart_poll) rather than with its whole timeout again.
Result<uint64_t> PollOrRestart(kernel::Task& t, uint64_t fds_addr, uint64_t nfds,
                               const std::optional<timespec>& deadline) {
  auto r = DoPoll(t, fds_addr, nfds, deadline);
  if (r || r.error().value != EINTR || !deadline) return r;
  t.set_restart_block([fds_addr, nfds, deadline](kernel::Task& self) {
    return PollOrRestart(self, fds_addr, nfds, deadline);
  });
  return Err(kernel::kErrRestartRestartBlock);
}

Result<uint64_t> Sys_poll(kernel::Task& t, const Args& a) {
  return PollOrRestart(t, a[0], static_cast<uint32_t>(a[1]), DeadlineFromMs(ArgInt(a[2])));
}

// Writes the time left back to the application's timeout, as Linux does for ppoll, select and
// pselect6; a timeout it cannot write is left alone (poll_select_finish).
template <class WriteBack>
void ReportTimeLeft(const std::optional<timespec>& deadline, bool zero, WriteBack write) {
  if (!deadline || zero) return;
  write(TimeLeft(*deadline));
}

Result<uint64_t> Sys_ppoll(kernel::Task& t, const Args& a) {
  std::optional<timespec> deadline;
  bool zero = false;
  if (a[2] != 0) {
    timespec ts = TRY(CopyInTimeout(t, a[2]));
    zero = ts.tv_sec == 0 && ts.tv_nsec == 0;
    deadline = DeadlineAfter(ts);
  }
  auto mask = TRY(CheckSigmask(t, a[3], a[4]));
  auto r =
      WithSigmask(t, mask, [&] { return DoPoll(t, a[0], static_cast<uint32_t>(a[1]), deadline); });
  ReportTimeLeft(deadline, zero,
                 [&](timespec left) { (void)t.mm().CopyOutObject(UserAddr(a[2]), left); });
  return r;
}

// POLLIN_SET, POLLOUT_SET and POLLEX_SET of fs/select.c: what makes a descriptor count as
// readable, writable or exceptional.
constexpr uint32_t kInSet = POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR;
constexpr uint32_t kOutSet = POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR;
constexpr uint32_t kExSet = POLLPRI;

Result<uint64_t> DoSelect(kernel::Task& t, int64_t n, uint64_t in_addr, uint64_t out_addr,
                          uint64_t ex_addr, const std::optional<timespec>& deadline) {
  if (n < 0) return Err(EINVAL);
  // Linux caps n at its fd table's size; bits past the highest fd can never be open here.
  n = std::min<int64_t>(n, vfs::FdTable::kMaxFds);
  size_t words = (static_cast<size_t>(n) + 63) / 64;
  std::vector<uint64_t> sets[3];
  uint64_t addrs[3] = {in_addr, out_addr, ex_addr};
  for (int s = 0; s < 3; ++s) {
    sets[s].assign(words, 0);
    if (addrs[s] != 0 && words > 0) {
      TRY(t.mm().CopyIn(UserAddr(addrs[s]), sets[s].data(), words * 8));
    }
  }
  auto bit = [&](int s, int64_t fd) { return (sets[s][fd / 64] >> (fd % 64)) & 1; };
  std::vector<PollTarget> targets;
  std::vector<int> target_fds;
  std::vector<bool> wants_ex;
  for (int64_t fd = 0; fd < n; ++fd) {
    bool in = bit(0, fd), out = bit(1, fd), ex = bit(2, fd);
    if (!in && !out && !ex) continue;
    target_fds.push_back(static_cast<int>(fd));
    wants_ex.push_back(ex);
  }
  targets = std::vector<PollTarget>(target_fds.size());
  for (size_t i = 0; i < target_fds.size(); ++i) {
    int fd = target_fds[i];
    targets[i].file = TRY(t.fds().Get(fd));  // EBADF: a closed fd in any set
    targets[i].events = kExSet | (bit(0, fd) ? kInSet : 0) | (bit(1, fd) ? kOutSet : 0);
  }
  TRY(PollTargets(targets, deadline));
  for (auto& s : sets) std::fill(s.begin(), s.end(), 0);
  uint64_t count = 0;
  for (size_t i = 0; i < target_fds.size(); ++i) {
    int fd = target_fds[i];
    uint32_t r = targets[i].revents;
    uint64_t mask = uint64_t{1} << (fd % 64);
    if (addrs[0] != 0 && (targets[i].events & POLLIN) && (r & kInSet)) {
      sets[0][fd / 64] |= mask;
      ++count;
    }
    if (addrs[1] != 0 && (targets[i].events & POLLOUT) && (r & kOutSet)) {
      sets[1][fd / 64] |= mask;
      ++count;
    }
    if (wants_ex[i] && (r & kExSet)) {
      sets[2][fd / 64] |= mask;
      ++count;
    }
  }
  for (int s = 0; s < 3; ++s) {
    if (addrs[s] != 0 && words > 0) {
      TRY(t.mm().CopyOut(UserAddr(addrs[s]), sets[s].data(), words * 8));
    }
  }
  return count;
}

Result<uint64_t> Sys_select(kernel::Task& t, const Args& a) {
  std::optional<timespec> deadline;
  bool zero = false;
  if (a[4] != 0) {
    timeval tv = TRY(t.mm().CopyInObject<timeval>(UserAddr(a[4])));
    if (tv.tv_sec < 0 || tv.tv_usec < 0) return Err(EINVAL);
    // Microseconds past a second carry into the seconds, as Linux does.
    timespec ts{tv.tv_sec + tv.tv_usec / 1000000, (tv.tv_usec % 1000000) * 1000};
    if (ts.tv_sec < 0) ts.tv_sec = kFarFuture;
    zero = ts.tv_sec == 0 && ts.tv_nsec == 0;
    deadline = DeadlineAfter(ts);
  }
  auto r = DoSelect(t, static_cast<int>(a[0]), a[1], a[2], a[3], deadline);
  ReportTimeLeft(deadline, zero, [&](timespec left) {
    timeval tv{left.tv_sec, left.tv_nsec / 1000};
    (void)t.mm().CopyOutObject(UserAddr(a[4]), tv);
  });
  return r;
}

Result<uint64_t> Sys_pselect6(kernel::Task& t, const Args& a) {
  std::optional<timespec> deadline;
  bool zero = false;
  if (a[4] != 0) {
    timespec ts = TRY(CopyInTimeout(t, a[4]));
    zero = ts.tv_sec == 0 && ts.tv_nsec == 0;
    deadline = DeadlineAfter(ts);
  }
  std::optional<uint64_t> mask;
  if (a[5] != 0) {
    // The sixth argument packs the mask's address and size.
    struct {
      uint64_t ss;
      uint64_t ss_len;
    } pack;
    TRY(t.mm().CopyIn(UserAddr(a[5]), &pack, sizeof(pack)));
    mask = TRY(CheckSigmask(t, pack.ss, pack.ss_len));
  }
  auto r = WithSigmask(
      t, mask, [&] { return DoSelect(t, static_cast<int>(a[0]), a[1], a[2], a[3], deadline); });
  ReportTimeLeft(deadline, zero,
                 [&](timespec left) { (void)t.mm().CopyOutObject(UserAddr(a[4]), left); });
  return r;
}

}  // namespace

timespec DeadlineAfter(const timespec& rel) {
  timespec now = vfs::MonotonicNow();
  if (rel.tv_sec >= kFarFuture - now.tv_sec) return timespec{kFarFuture, 0};
  return vfs::AddTimespec(now, rel);
}

std::optional<timespec> DeadlineFromMs(int ms) {
  if (ms < 0) return std::nullopt;
  return DeadlineAfter(timespec{ms / 1000, (ms % 1000) * 1000000L});
}

timespec TimeLeft(const timespec& deadline) {
  timespec now = vfs::MonotonicNow();
  if (!vfs::TimespecLess(now, deadline)) return timespec{0, 0};
  timespec left{deadline.tv_sec - now.tv_sec, deadline.tv_nsec - now.tv_nsec};
  if (left.tv_nsec < 0) {
    left.tv_nsec += kNsPerSec;
    --left.tv_sec;
  }
  return left;
}

Result<std::optional<uint64_t>> CheckSigmask(kernel::Task& t, uint64_t addr, uint64_t size) {
  if (addr == 0) return std::optional<uint64_t>();
  if (size != sizeof(uint64_t)) return Err(EINVAL);
  return std::optional<uint64_t>(TRY(t.mm().CopyInObject<uint64_t>(UserAddr(addr))));
}

Result<uint64_t> WithSigmask(kernel::Task& t, std::optional<uint64_t> mask,
                             absl::FunctionRef<Result<uint64_t>()> wait) {
  if (!mask) return wait();
  uint64_t old = t.signal_mask();
  t.set_signal_mask(*mask);
  t.set_saved_mask(old);
  Result<uint64_t> r = t.kernel().RecalcSignalPending(t) ? Err(EINTR) : wait();
  if (!r && r.error().value == EINTR) return r;
  t.set_signal_mask(old);
  t.clear_saved_mask();
  t.kernel().RecalcSignalPending(t);
  return r;
}

Result<timespec> CopyInTimeout(kernel::Task& t, uint64_t addr) {
  timespec ts = TRY(t.mm().CopyInObject<timespec>(UserAddr(addr)));
  if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= kNsPerSec) return Err(EINVAL);
  return ts;
}

void RegisterPollSyscalls(SyscallTable& t) {
  t.handlers[SYS_poll] = Sys_poll;
  t.handlers[SYS_ppoll] = Sys_ppoll;
  t.handlers[SYS_select] = Sys_select;
  t.handlers[SYS_pselect6] = Sys_pselect6;
}

}  // namespace sentry::syscalls
