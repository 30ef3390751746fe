#include "sentry/vfs/wait_queue.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "sentry/base/file_descriptor.h"
#include "sentry/base/interrupter.h"
#include "spdlog/spdlog.h"

namespace sentry::vfs {

void WaitQueue::Add(WaitEntry* e) {
  absl::MutexLock lock(&mu_);
  entries_.push_back(e);
}

void WaitQueue::Remove(WaitEntry* e) {
  absl::MutexLock lock(&mu_);
  std::erase(entries_, e);
}

void WaitQueue::Notify(uint32_t events) {
  absl::MutexLock lock(&mu_);
  for (WaitEntry* e : entries_) {
    if (e->mask & events) e->callback(events);
  }
}

// The host eventfd a thread sleeps on. Shared by the thread and every callback that may still
// wake it, so that a late callback never writes to a closed (or reused) fd number.
struct Waiter::Waker {
  FileDescriptor fd;
  void Wake() const {
    uint64_t one = 1;
    // EAGAIN only when the counter is near overflow, which means "already woken".
    ssize_t n = write(fd.get(), &one, sizeof(one));
    (void)n;
  }
};

namespace {

std::shared_ptr<Waiter::Waker> ThreadWaker() {
  thread_local std::shared_ptr<Waiter::Waker> waker;
  if (!waker) {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) {
      // Only when the sentry is out of fds or memory: it cannot wait for anything then.
      spdlog::critical("eventfd for a waiter: {}", strerror(errno));
      std::abort();
    }
    waker = std::make_shared<Waiter::Waker>();
    waker->fd.Reset(fd);
  }
  return waker;
}

constexpr long kNsPerSec = 1000000000;

}  // namespace

timespec MonotonicNow() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts;
}

timespec AddTimespec(const timespec& a, const timespec& b) {
  timespec r{a.tv_sec + b.tv_sec, a.tv_nsec + b.tv_nsec};
  if (r.tv_nsec >= kNsPerSec) {
    r.tv_nsec -= kNsPerSec;
    ++r.tv_sec;
  }
  return r;
}

bool TimespecLess(const timespec& a, const timespec& b) {
  return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

Waiter::Waiter() : waker_(ThreadWaker()) {}

std::function<void(uint32_t)> Waiter::WakeCallback() const {
  return [w = waker_](uint32_t) { w->Wake(); };
}

void Waiter::Reset() {
  uint64_t v;
  ssize_t n = read(waker_->fd.get(), &v, sizeof(v));
  (void)n;
}

Result<void> Waiter::Sleep(std::span<pollfd> host, const std::optional<timespec>& deadline) {
  std::vector<pollfd> fds;
  fds.reserve(host.size() + 1);
  fds.push_back({waker_->fd.get(), POLLIN, 0});
  fds.insert(fds.end(), host.begin(), host.end());
  ScopedArm arm(CurrentInterrupter(), [w = waker_] { w->Wake(); });
  if (arm.Interrupted()) return Err(EINTR);
  timespec left{};
  if (deadline) {
    timespec now = MonotonicNow();
    if (!TimespecLess(now, *deadline)) return Err(ETIMEDOUT);
    left = {deadline->tv_sec - now.tv_sec, deadline->tv_nsec - now.tv_nsec};
    if (left.tv_nsec < 0) {
      left.tv_nsec += kNsPerSec;
      --left.tv_sec;
    }
  }
  int n = ppoll(fds.data(), fds.size(), deadline ? &left : nullptr, nullptr);
  if (arm.Interrupted()) return Err(EINTR);
  if (n < 0 && errno != EINTR) return Err(errno);
  for (size_t i = 1; i < fds.size(); ++i) host[i - 1].revents = fds[i].revents;
  if (n == 0) return Err(ETIMEDOUT);
  return {};
}

}  // namespace sentry::vfs
