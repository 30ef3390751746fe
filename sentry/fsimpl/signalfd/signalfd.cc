#include "sentry/fsimpl/signalfd/signalfd.h"

#include <poll.h>

#include <algorithm>
#include <cstring>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/vfs/iovec.h"

namespace sentry::fsimpl::signalfd {
namespace {

uint64_t Sanitize(uint64_t mask) { return mask & ~kernel::kUnblockable; }

// Linux's signalfd_copyinfo: the fields that the siginfo's layout (by signal and code) holds.
signalfd_siginfo ToSignalfdInfo(const siginfo_t& in) {
  signalfd_siginfo out{};
  out.ssi_signo = static_cast<uint32_t>(in.si_signo);
  out.ssi_errno = in.si_errno;
  out.ssi_code = in.si_code;
  int sig = in.si_signo;
  bool kernel_code = in.si_code > 0 && in.si_code != SI_KERNEL;
  if (in.si_code == SI_TIMER) {
    out.ssi_tid = static_cast<uint32_t>(in.si_timerid);
    out.ssi_overrun = static_cast<uint32_t>(in.si_overrun);
    out.ssi_int = in.si_value.sival_int;
    out.ssi_ptr = reinterpret_cast<uint64_t>(in.si_value.sival_ptr);
  } else if (kernel_code && sig == SIGCHLD) {
    out.ssi_pid = static_cast<uint32_t>(in.si_pid);
    out.ssi_uid = in.si_uid;
    out.ssi_status = in.si_status;
    out.ssi_utime = static_cast<uint64_t>(in.si_utime);
    out.ssi_stime = static_cast<uint64_t>(in.si_stime);
  } else if (kernel_code && (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE ||
                             sig == SIGTRAP)) {
    out.ssi_addr = reinterpret_cast<uint64_t>(in.si_addr);
  } else if (kernel_code && sig == SIGPOLL) {
    out.ssi_band = static_cast<uint32_t>(in.si_band);
    out.ssi_fd = in.si_fd;
  } else {
    out.ssi_pid = static_cast<uint32_t>(in.si_pid);
    out.ssi_uid = in.si_uid;
    if (in.si_code < 0) {  // sigqueue and friends carry a value
      out.ssi_int = in.si_value.sival_int;
      out.ssi_ptr = reinterpret_cast<uint64_t>(in.si_value.sival_ptr);
    }
  }
  return out;
}

}  // namespace

SignalFile::SignalFile(uint64_t mask, int flags)
    : vfs::AnonFile(O_RDWR | (flags & O_NONBLOCK)), mask_(Sanitize(mask)) {}

void SignalFile::SetMask(uint64_t mask) {
  mask_.store(Sanitize(mask));
  if (auto* t = kernel::Task::Current()) t->thread_group().signalfd_queue().Notify(POLLIN);
}

void SignalFile::EventRegister(vfs::WaitEntry* e) {
  kernel::Task* t = kernel::Task::Current();
  if (t == nullptr) return;
  t->thread_group().signalfd_queue().Add(e);
  absl::MutexLock lock(&mu_);
  registered_.emplace_back(e, t->thread_group_ptr());
}

void SignalFile::EventUnregister(vfs::WaitEntry* e) {
  std::shared_ptr<kernel::ThreadGroup> tg;
  {
    absl::MutexLock lock(&mu_);
    auto it =
        std::find_if(registered_.begin(), registered_.end(), [e](auto& r) { return r.first == e; });
    if (it == registered_.end()) return;
    tg = it->second.lock();
    registered_.erase(it);
  }
  if (tg) tg->signalfd_queue().Remove(e);
}

uint32_t SignalFile::Readiness(uint32_t mask) {
  kernel::Task* t = kernel::Task::Current();
  if (t == nullptr) return 0;
  uint64_t pending = t->kernel().PendingSet(*t);
  return (pending & mask_.load()) ? (POLLIN | POLLRDNORM) & mask : 0;
}

Result<uint64_t> SignalFile::TryRead(std::span<const iovec> dst, uint64_t max) {
  kernel::Task* t = kernel::Task::Current();
  if (t == nullptr) return Err(EAGAIN);
  vfs::IovecCursor out(dst);
  uint64_t n = 0;
  for (; n < max; ++n) {
    auto info = t->kernel().DequeueSignal(*t, mask_.load());
    if (!info) break;
    signalfd_siginfo s = ToSignalfdInfo(*info);
    out.Fill(reinterpret_cast<const uint8_t*>(&s), sizeof(s));
  }
  if (n == 0) return Err(EAGAIN);
  t->kernel().RecalcSignalPending(*t);
  return n * sizeof(signalfd_siginfo);
}

Result<uint64_t> SignalFile::Read(std::span<const iovec> dst, std::optional<int64_t> offset) {
  if (offset) return Err(ESPIPE);
  uint64_t max = vfs::IovecTotal(dst) / sizeof(signalfd_siginfo);
  if (max == 0) return Err(EINVAL);
  auto attempt = [&] { return TryRead(dst, max); };
  if (status_flags() & O_NONBLOCK) return attempt();
  // Once one signal is there, the rest of the buffer takes only what is already pending.
  return vfs::BlockOn(*this, POLLIN | POLLRDNORM, attempt);
}

}  // namespace sentry::fsimpl::signalfd
