#include "sentry/fsimpl/devpts/terminal.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>

#include <cstring>

#include <linux/capability.h>

#include "absl/container/flat_hash_set.h"
#include "sentry/fsimpl/devpts/devpts.h"
#include "sentry/fsimpl/devpts/files.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/mm/memory_manager.h"
#include "sentry/vfs/iovec.h"
#include "spdlog/spdlog.h"

namespace sentry::fsimpl::devpts {
namespace {

using vfs::IovecCursor;
using vfs::IovecTotal;

// Bytes taken from a writer's memory per step: a write larger than the queues goes in pieces.
constexpr uint64_t kWriteChunk = 4096;

constexpr uint32_t kAllEvents = ~0u;

bool HasCapability(const kernel::Task& task, int cap) {
  return task.creds().cap_effective & (uint64_t{1} << cap);
}

void ReportUnknownIoctl(uint64_t cmd) {
  static absl::Mutex mu;
  static absl::flat_hash_set<uint64_t> seen ABSL_GUARDED_BY(mu);
  absl::MutexLock lock(&mu);
  if (seen.insert(cmd).second) spdlog::info("pty: unsupported ioctl {:#x}: ENOTTY", cmd);
}

// VTIME is in tenths of a second.
timespec DeadlineAfterTenths(uint8_t tenths) {
  timespec d{tenths / 10, static_cast<long>(tenths % 10) * 100'000'000L};
  return vfs::AddTimespec(vfs::MonotonicNow(), d);
}

}  // namespace

Terminal::Terminal(kernel::Kernel& kernel, std::shared_ptr<Devpts> fs, uint32_t index,
                   Attributes attr)
    : kernel_(kernel), fs_(std::move(fs)), index_(index), attr_(attr) {}

Terminal::~Terminal() { fs_->Release(index_); }

Terminal::Attributes Terminal::attributes() {
  absl::MutexLock lock(&mu_);
  return attr_;
}

void Terminal::SetAttributes(const Attributes& a) {
  absl::MutexLock lock(&mu_);
  attr_ = a;
}

bool Terminal::master_closed() {
  absl::MutexLock lock(&mu_);
  return master_closed_;
}

void Terminal::SetLocked(bool locked) {
  absl::MutexLock lock(&mu_);
  locked_ = locked;
}

bool Terminal::locked() {
  absl::MutexLock lock(&mu_);
  return locked_;
}

void Terminal::NotifyAll() {
  master_queue_.Notify(kAllEvents);
  replica_queue_.Notify(kAllEvents);
}

void Terminal::SendSignals(pid_t pgrp, const std::vector<int>& signals) {
  if (pgrp == 0) return;
  for (int sig : signals) kernel_.SignalProcessGroup(pgrp, sig);
}

void Terminal::Hangup() {
  pid_t sid;
  {
    absl::MutexLock lock(&mu_);
    if (master_closed_) return;
    master_closed_ = true;
    sid = std::exchange(session_, 0);
    pgrp_ = 0;
  }
  if (sid != 0) {
    // The replica hangs up: its session loses it, and the session's leader hears (Linux's
    // tty_signal_session_leader).
    kernel_.ClearSessionTerminal(sid, this);
    kernel_.SignalProcessFromKernel(sid, SIGHUP);
    kernel_.SignalProcessFromKernel(sid, SIGCONT);
  }
  NotifyAll();
}

Result<void> Terminal::ReplicaOpening() {
  absl::MutexLock lock(&mu_);
  if (locked_ || master_closed_) return Err(EIO);
  ++replicas_;
  replica_was_opened_ = true;
  return {};
}

void Terminal::ReplicaClosed() {
  {
    absl::MutexLock lock(&mu_);
    --replicas_;
  }
  NotifyAll();
}

Result<uint64_t> Terminal::Wait(vfs::WaitQueue& q, uint32_t mask, std::optional<timespec>* deadline,
                                const std::function<Result<uint64_t>(bool)>& attempt) {
  vfs::Waiter waiter;
  vfs::WaitEntry entry{mask, waiter.WakeCallback()};
  q.Add(&entry);
  bool timed_out = false;
  Result<uint64_t> r = Err(EAGAIN);
  while (true) {
    waiter.Reset();
    r = attempt(timed_out);
    if (r || r.error().value != EAGAIN) break;
    auto slept = waiter.Sleep({}, *deadline);
    if (!slept) {
      if (slept.error().value == ETIMEDOUT) {
        timed_out = true;
        continue;
      }
      r = std::unexpected(slept.error());
      break;
    }
  }
  q.Remove(&entry);
  return r;
}

bool Terminal::IsControllingTerminalOf(kernel::Task& task) {
  return kernel_.TerminalOf(task.thread_group()).get() == this;
}

Result<void> Terminal::CheckJobControl(int sig) {
  kernel::Task* task = kernel::Task::Current();
  if (task == nullptr || !IsControllingTerminalOf(*task)) return {};
  pid_t fg;
  {
    absl::MutexLock lock(&mu_);
    fg = pgrp_;
  }
  kernel::ThreadGroup& tg = task->thread_group();
  pid_t own = tg.pgid();
  if (fg == 0 || fg == own) return {};
  bool ignored;
  {
    std::lock_guard lock(tg.mu());
    ignored = tg.action(sig).handler == reinterpret_cast<uint64_t>(SIG_IGN);
  }
  ignored = ignored || (task->signal_mask() & kernel::SigBit(sig));
  if (ignored) {
    if (sig == SIGTTIN) return Err(EIO);
    return {};
  }
  if (kernel_.ProcessGroupOrphaned(own)) return Err(EIO);
  kernel_.SignalProcessGroup(own, sig);
  // The call restarts once the signal has been dealt with (stopped and continued, or handled).
  return Err(EINTR);
}

Result<uint64_t> Terminal::MasterRead(std::span<const iovec> dst, bool nonblocking) {
  uint64_t want = IovecTotal(dst);
  if (want == 0) return 0;
  auto attempt = [&](bool) -> Result<uint64_t> {
    Result<uint64_t> r = Err(EAGAIN);
    {
      absl::MutexLock lock(&mu_);
      if (master_closed_) {
        r = Err(EIO);  // hung up (Hangup): nothing will come
      } else if (ld_.OutputSize() > 0) {
        std::string s = ld_.ReadOutput(want);
        IovecCursor(dst).Fill(reinterpret_cast<const uint8_t*>(s.data()), s.size());
        r = s.size();
      } else if (replica_was_opened_ && replicas_ == 0) {
        r = Err(EIO);  // every replica closed (Linux's TTY_OTHER_CLOSED)
      }
    }
    if (r) NotifyAll();
    return r;
  };
  if (nonblocking) return attempt(false);
  std::optional<timespec> no_deadline;
  return Wait(master_queue_, kAllEvents, &no_deadline, attempt);
}

Result<uint64_t> Terminal::MasterWrite(std::span<const iovec> src, bool nonblocking) {
  const uint64_t total = IovecTotal(src);
  if (total == 0) return 0;
  IovecCursor in(src);
  std::string chunk;  // taken from the writer, not yet consumed
  uint64_t taken = 0, done = 0;
  auto attempt = [&](bool) -> Result<uint64_t> {
    std::vector<int> signals;
    pid_t pgrp = 0;
    uint64_t consumed = 0;
    {
      absl::MutexLock lock(&mu_);
      while (done < total) {
        if (chunk.empty()) {
          uint64_t n = std::min(kWriteChunk, total - taken);
          chunk.resize(n);
          in.Drain(reinterpret_cast<uint8_t*>(chunk.data()), n);
          taken += n;
        }
        uint64_t n = ld_.ReceiveInput(chunk, &signals);
        if (n == 0) break;
        chunk.erase(0, n);
        done += n;
        consumed += n;
      }
      pgrp = pgrp_;
    }
    SendSignals(pgrp, signals);
    if (consumed > 0) NotifyAll();
    if (done == total) return done;
    return Err(EAGAIN);
  };
  Result<uint64_t> r = Err(EAGAIN);
  if (nonblocking) {
    r = attempt(false);
  } else {
    std::optional<timespec> no_deadline;
    r = Wait(master_queue_, kAllEvents, &no_deadline, attempt);
  }
  if (!r && done > 0) return done;
  return r;
}

uint32_t Terminal::MasterReadiness(uint32_t mask) {
  uint32_t r = 0;
  absl::MutexLock lock(&mu_);
  if (ld_.OutputSize() > 0) r |= POLLIN | POLLRDNORM;
  if (ld_.InputRoom()) r |= POLLOUT | POLLWRNORM;
  if (replica_was_opened_ && replicas_ == 0) r |= POLLHUP;
  return r & (mask | POLLHUP | POLLERR);
}

Result<uint64_t> Terminal::ReplicaRead(std::span<const iovec> dst, bool nonblocking) {
  TRY(CheckJobControl(SIGTTIN));
  const uint64_t want = IovecTotal(dst);
  if (want == 0) return 0;
  IovecCursor out(dst);
  uint64_t done = 0;
  std::optional<timespec> deadline;
  auto attempt = [&](bool timed_out) -> Result<uint64_t> {
    Result<uint64_t> r = Err(EAGAIN);
    bool changed = false;
    {
      absl::MutexLock lock(&mu_);
      if (master_closed_) {
        r = done;  // hung up: end of file
      } else if (ld_.canonical()) {
        if (ld_.ReplicaReadable()) {
          bool eof = false;
          std::string s = ld_.ReadInput(want, &eof);
          out.Fill(reinterpret_cast<const uint8_t*>(s.data()), s.size());
          r = s.size();
          changed = true;
        }
      } else {
        // VMIN and VTIME, as termios(3) describes the four cases.
        const uint8_t vmin = ld_.termios().c_cc[VMIN];
        const uint8_t vtime = ld_.termios().c_cc[VTIME];
        bool eof = false;
        std::string s = ld_.ReadInput(want - done, &eof);
        if (!s.empty()) {
          out.Fill(reinterpret_cast<const uint8_t*>(s.data()), s.size());
          done += s.size();
          changed = true;
        }
        if (done >= want) {
          r = done;
        } else if (vmin == 0) {
          if (vtime == 0 || done > 0 || timed_out) {
            r = done;
          } else if (!deadline) {
            deadline = DeadlineAfterTenths(vtime);  // the whole read's timer
          }
        } else if (done >= vmin) {
          r = done;
        } else if (vtime > 0 && done > 0) {
          if (timed_out && s.empty()) {
            r = done;
          } else if (!s.empty()) {
            deadline = DeadlineAfterTenths(vtime);  // an inter-byte timer
          }
        }
      }
    }
    if (changed) NotifyAll();
    return r;
  };
  Result<uint64_t> r = Err(EAGAIN);
  if (nonblocking) {
    r = attempt(false);
  } else {
    r = Wait(replica_queue_, kAllEvents, &deadline, attempt);
  }
  if (!r && done > 0) return done;
  return r;
}

Result<uint64_t> Terminal::ReplicaWrite(std::span<const iovec> src, bool nonblocking) {
  bool tostop;
  {
    absl::MutexLock lock(&mu_);
    if (master_closed_) return Err(EIO);
    tostop = ld_.termios().c_lflag & TOSTOP;
  }
  if (tostop) TRY(CheckJobControl(SIGTTOU));
  const uint64_t total = IovecTotal(src);
  if (total == 0) return 0;
  IovecCursor in(src);
  std::string chunk;
  uint64_t taken = 0, done = 0;
  auto attempt = [&](bool) -> Result<uint64_t> {
    uint64_t consumed = 0;
    bool hung_up = false;
    {
      absl::MutexLock lock(&mu_);
      hung_up = master_closed_;
      while (!hung_up && done < total) {
        if (chunk.empty()) {
          uint64_t n = std::min(kWriteChunk, total - taken);
          chunk.resize(n);
          in.Drain(reinterpret_cast<uint8_t*>(chunk.data()), n);
          taken += n;
        }
        uint64_t n = ld_.WriteOutput(chunk);
        if (n == 0) break;
        chunk.erase(0, n);
        done += n;
        consumed += n;
      }
    }
    if (consumed > 0) NotifyAll();
    if (hung_up) return Err(EIO);
    if (done == total) return done;
    return Err(EAGAIN);
  };
  Result<uint64_t> r = Err(EAGAIN);
  if (nonblocking) {
    r = attempt(false);
  } else {
    std::optional<timespec> no_deadline;
    r = Wait(replica_queue_, kAllEvents, &no_deadline, attempt);
  }
  if (!r && done > 0) return done;
  return r;
}

uint32_t Terminal::ReplicaReadiness(uint32_t mask) {
  absl::MutexLock lock(&mu_);
  if (master_closed_) {
    return (POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM | POLLERR | POLLHUP) &
           (mask | POLLHUP | POLLERR);
  }
  uint32_t r = 0;
  if (ld_.canonical()) {
    if (ld_.ReplicaReadable()) r |= POLLIN | POLLRDNORM;
  } else {
    // With VMIN and no VTIME a read waits for VMIN bytes, and so does poll (Linux's
    // input_available_p).
    const uint8_t vmin = ld_.termios().c_cc[VMIN];
    const uint8_t vtime = ld_.termios().c_cc[VTIME];
    uint64_t need = vtime == 0 && vmin > 0 ? vmin : 1;
    if (ld_.InputReadable() >= need) r |= POLLIN | POLLRDNORM;
  }
  if (ld_.OutputRoom()) r |= POLLOUT | POLLWRNORM;
  return r & (mask | POLLHUP | POLLERR);
}

winsize Terminal::WindowSize() {
  absl::MutexLock lock(&mu_);
  return winsize_;
}

void Terminal::SetWindowSize(const winsize& ws) {
  pid_t pgrp;
  {
    absl::MutexLock lock(&mu_);
    if (memcmp(&ws, &winsize_, sizeof(ws)) == 0) return;
    winsize_ = ws;
    pgrp = pgrp_;
  }
  if (pgrp != 0) kernel_.SignalProcessGroup(pgrp, SIGWINCH);
}

void Terminal::MaybeAcquire(kernel::Task& task) {
  kernel::ThreadGroup& tg = task.thread_group();
  if (tg.tgid() != tg.sid() || kernel_.TerminalOf(tg)) return;
  absl::MutexLock lock(&mu_);
  if (session_ != 0 || master_closed_) return;
  if (!kernel_.SetSessionTerminal(tg.sid(), shared_from_this())) return;
  session_ = tg.sid();
  pgrp_ = tg.pgid();
}

void Terminal::SessionLeaderExited() {
  pid_t pgrp;
  {
    absl::MutexLock lock(&mu_);
    pgrp = std::exchange(pgrp_, 0);
    session_ = 0;
  }
  if (pgrp != 0) kernel_.SignalProcessGroup(pgrp, SIGHUP);
}

Result<std::shared_ptr<vfs::FileDescription>> Terminal::OpenAsDevTty(const vfs::VirtualDentry& path,
                                                                     int flags) {
  TRY(ReplicaOpening());
  return std::make_shared<ReplicaFile>(flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY), path,
                                       shared_from_this());
}

Result<void> Terminal::AttachSession(pid_t sid, pid_t pgid) {
  absl::MutexLock lock(&mu_);
  if (session_ != 0 || master_closed_) return Err(EPERM);
  session_ = sid;
  pgrp_ = pgid;
  return {};
}

Result<uint64_t> Terminal::SetTermios(mm::MemoryManager& mm, uint64_t arg, bool flush,
                                      bool termios2) {
  TRY(CheckJobControl(SIGTTOU));
  KernelTermios t;
  if (termios2) {
    t = TRY(mm.CopyInObject<KernelTermios2>(UserAddr(arg))).t;
  } else {
    t = TRY(mm.CopyInObject<KernelTermios>(UserAddr(arg)));
  }
  {
    absl::MutexLock lock(&mu_);
    // A pty has no wire: TCSETSW's drain has nothing to wait for.
    if (flush) ld_.FlushInput();
    ld_.SetTermios(t);
  }
  NotifyAll();
  return 0;
}

Result<uint64_t> Terminal::SetForegroundGroup(mm::MemoryManager& mm, uint64_t arg) {
  if (auto r = CheckJobControl(SIGTTOU); !r) {
    return Err(r.error().value == EIO ? ENOTTY : r.error().value);
  }
  kernel::Task* task = kernel::Task::Current();
  if (task == nullptr || !IsControllingTerminalOf(*task)) return Err(ENOTTY);
  pid_t sid = task->thread_group().sid();
  {
    absl::MutexLock lock(&mu_);
    if (session_ != sid) return Err(ENOTTY);
  }
  pid_t pgrp = TRY(mm.CopyInObject<pid_t>(UserAddr(arg)));
  if (pgrp < 0) return Err(EINVAL);
  if (!kernel_.ProcessGroupExists(pgrp)) return Err(ESRCH);
  if (!kernel_.ProcessGroupInSession(pgrp, sid)) return Err(EPERM);
  absl::MutexLock lock(&mu_);
  pgrp_ = pgrp;
  return 0;
}

Result<uint64_t> Terminal::SetControllingTerminal(vfs::FileDescription& file, uint64_t arg) {
  kernel::Task* task = kernel::Task::Current();
  if (task == nullptr) return Err(EPERM);
  kernel::ThreadGroup& tg = task->thread_group();
  const bool leader = tg.tgid() == tg.sid();
  const bool admin = HasCapability(*task, CAP_SYS_ADMIN);
  absl::MutexLock lock(&mu_);
  if (leader && session_ == tg.sid()) return 0;  // already this session's
  if (!leader || kernel_.TerminalOf(tg)) return Err(EPERM);
  if (session_ != 0) {
    // Another session's: only taken away by force (arg 1) with CAP_SYS_ADMIN.
    if (arg != 1 || !admin) return Err(EPERM);
    kernel_.ClearSessionTerminal(session_, this);
    session_ = 0;
    pgrp_ = 0;
  }
  if (!file.Readable() && !admin) return Err(EPERM);
  TRY(kernel_.SetSessionTerminal(tg.sid(), shared_from_this()));
  session_ = tg.sid();
  pgrp_ = tg.pgid();
  return 0;
}

Result<uint64_t> Terminal::GiveUpControllingTerminal() {
  kernel::Task* task = kernel::Task::Current();
  if (task == nullptr || !IsControllingTerminalOf(*task)) return Err(ENOTTY);
  kernel::ThreadGroup& tg = task->thread_group();
  if (tg.tgid() != tg.sid()) {
    kernel_.DropTerminal(tg);
    return 0;
  }
  // The session leader lets go for the whole session: the foreground group is hung up.
  pid_t pgrp, sid;
  {
    absl::MutexLock lock(&mu_);
    pgrp = std::exchange(pgrp_, 0);
    sid = std::exchange(session_, 0);
  }
  kernel_.ClearSessionTerminal(sid, this);
  if (pgrp != 0) {
    kernel_.SignalProcessGroup(pgrp, SIGHUP);
    kernel_.SignalProcessGroup(pgrp, SIGCONT);
  }
  return 0;
}

Result<uint64_t> Terminal::Ioctl(bool master, vfs::FileDescription& file, mm::MemoryManager& mm,
                                 uint64_t cmd, uint64_t arg) {
  if (!master && this->master_closed()) {
    // A hung-up replica (Linux's hung_up_tty_ioctl).
    return Err(cmd == TIOCSPGRP ? ENOTTY : EIO);
  }
  kernel::Task* task = kernel::Task::Current();
  switch (cmd) {
    case TCGETS:
    case TCGETS2: {
      KernelTermios2 t2;
      {
        absl::MutexLock lock(&mu_);
        t2.t = ld_.termios();
      }
      t2.c_ispeed = t2.c_ospeed = kDefaultSpeed;
      if (cmd == TCGETS) TRY(mm.CopyOutObject(UserAddr(arg), t2.t));
      if (cmd == TCGETS2) TRY(mm.CopyOutObject(UserAddr(arg), t2));
      return 0;
    }
    case TCSETS:
    case TCSETSW:
      return SetTermios(mm, arg, /*flush=*/false, /*termios2=*/false);
    case TCSETSF:
      return SetTermios(mm, arg, /*flush=*/true, /*termios2=*/false);
    case TCSETS2:
    case TCSETSW2:
      return SetTermios(mm, arg, /*flush=*/false, /*termios2=*/true);
    case TCSETSF2:
      return SetTermios(mm, arg, /*flush=*/true, /*termios2=*/true);
    case TIOCGWINSZ:
      TRY(mm.CopyOutObject(UserAddr(arg), WindowSize()));
      return 0;
    case TIOCSWINSZ:
      SetWindowSize(TRY(mm.CopyInObject<winsize>(UserAddr(arg))));
      return 0;
    case FIONREAD: {
      uint64_t n;
      {
        absl::MutexLock lock(&mu_);
        n = master ? ld_.OutputSize() : ld_.InputReadable();
      }
      TRY(mm.CopyOutObject<int>(UserAddr(arg), static_cast<int>(n)));
      return 0;
    }
    case TIOCOUTQ: {
      // Linux's ptys keep no output of their own: what was written went to the other side.
      TRY(mm.CopyOutObject<int>(UserAddr(arg), 0));
      return 0;
    }
    case TCFLSH: {
      if (arg != TCIFLUSH && arg != TCOFLUSH && arg != TCIOFLUSH) return Err(EINVAL);
      TRY(CheckJobControl(SIGTTOU));
      {
        absl::MutexLock lock(&mu_);
        // The replica's input is what the master wrote; its output what the master reads.
        bool in = arg == TCIFLUSH || arg == TCIOFLUSH;
        bool out = arg == TCOFLUSH || arg == TCIOFLUSH;
        if (master) std::swap(in, out);
        if (in) ld_.FlushInput();
        if (out) ld_.FlushOutput();
      }
      NotifyAll();
      return 0;
    }
    case TCXONC: {
      if (arg > TCION) return Err(EINVAL);
      TRY(CheckJobControl(SIGTTOU));
      {
        absl::MutexLock lock(&mu_);
        if (arg == TCOOFF) ld_.SetStopped(true);
        if (arg == TCOON) ld_.SetStopped(false);
        if (arg == TCIOFF) ld_.SendControlChar(VSTOP);
        if (arg == TCION) ld_.SendControlChar(VSTART);
      }
      NotifyAll();
      return 0;
    }
    case TCSBRK:
    case TCSBRKP:
    case TIOCSBRK:
    case TIOCCBRK:
      // tcdrain and breaks: a pty has no line to drain or to break.
      TRY(CheckJobControl(SIGTTOU));
      return 0;
    case TIOCGETD:
      TRY(mm.CopyOutObject<int>(UserAddr(arg), N_TTY));
      return 0;
    case TIOCSETD: {
      int ldisc = TRY(mm.CopyInObject<int>(UserAddr(arg)));
      if (ldisc != N_TTY) return Err(EINVAL);
      return 0;
    }
    case TIOCGPGRP: {
      if (!master && (task == nullptr || !IsControllingTerminalOf(*task))) return Err(ENOTTY);
      pid_t pgrp;
      {
        absl::MutexLock lock(&mu_);
        pgrp = pgrp_;
      }
      TRY(mm.CopyOutObject<pid_t>(UserAddr(arg), pgrp));
      return 0;
    }
    case TIOCSPGRP:
      return SetForegroundGroup(mm, arg);
    case TIOCGSID: {
      if (!master && (task == nullptr || !IsControllingTerminalOf(*task))) return Err(ENOTTY);
      pid_t sid;
      {
        absl::MutexLock lock(&mu_);
        sid = session_;
      }
      if (sid == 0) return Err(ENOTTY);
      TRY(mm.CopyOutObject<pid_t>(UserAddr(arg), sid));
      return 0;
    }
    case TIOCSCTTY:
      return SetControllingTerminal(file, arg);
    case TIOCNOTTY:
      return GiveUpControllingTerminal();
    case TIOCGPTPEER:
      return Err(EIO);  // only a master opens its peer
    case TIOCSIG: {
      if (!master) return Err(ENOTTY);
      if (arg == 0 || arg > static_cast<uint64_t>(kernel::kNumSignals)) return Err(EINVAL);
      pid_t pgrp;
      {
        absl::MutexLock lock(&mu_);
        pgrp = pgrp_;
      }
      SendSignals(pgrp, {static_cast<int>(arg)});
      return 0;
    }
    default:
      ReportUnknownIoctl(cmd);
      return Err(ENOTTY);
  }
}

}  // namespace sentry::fsimpl::devpts
