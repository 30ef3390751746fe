// Readiness notification (Linux's wait_queue_head and poll_table): a file that can become ready
// keeps a WaitQueue; whoever waits for it (poll, select, epoll, a blocking read) registers a
// WaitEntry there and is called back when the file's readiness may have changed. The callback
// only wakes or marks: the waiter then asks the file again (FileDescription::Readiness).
//
// Locks: WaitQueue::mu_ is held while callbacks run, so an entry, once Remove()d, is never
// called again. Callbacks may take their own leaf locks and Notify further queues (an epoll
// notifies its own waiters), never a lock that is held while Add/Remove/Notify is called on
// the queue that calls them. Files therefore Notify with their own locks released.
#pragma once

#include <poll.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"

namespace sentry::vfs {

class WaitQueue;

// One registration: `callback(events)` runs when the queue is notified of events in `mask`.
struct WaitEntry {
  uint32_t mask = ~0u;
  std::function<void(uint32_t events)> callback;
};

class WaitQueue {
 public:
  WaitQueue() = default;
  WaitQueue(const WaitQueue&) = delete;
  WaitQueue& operator=(const WaitQueue&) = delete;

  // The entry must stay alive until Remove returns.
  void Add(WaitEntry* e);
  void Remove(WaitEntry* e);
  // Calls the entries whose mask meets `events`.
  void Notify(uint32_t events);

 private:
  absl::Mutex mu_;
  std::vector<WaitEntry*> entries_ ABSL_GUARDED_BY(mu_);
};

// A sleeping host thread, woken by wait queue callbacks (Wake), by its task's interrupter, by a
// deadline, or by a host fd becoming ready. It sleeps in the host's ppoll on an eventfd (one per
// host thread, kept for the thread's life) plus the host fds the caller names: files backed by
// host fds (host stdio, timerfds) become ready without the sentry seeing it happen.
class Waiter {
 public:
  Waiter();
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  // Makes the next (or current) Sleep return. Safe from any thread, at any time, even after the
  // Waiter is gone: the callback keeps what it touches alive.
  std::function<void(uint32_t)> WakeCallback() const;

  // Forgets earlier wake-ups; call before checking the condition that the sleep waits for.
  void Reset();
  // Sleeps until woken (since the last Reset), until one of `host` is ready, or until
  // `deadline` (CLOCK_MONOTONIC) passes: ETIMEDOUT. EINTR when the current task is interrupted.
  Result<void> Sleep(std::span<pollfd> host, const std::optional<timespec>& deadline);

  struct Waker;

 private:
  std::shared_ptr<Waker> waker_;
};

// CLOCK_MONOTONIC now, and arithmetic on it.
timespec MonotonicNow();
timespec AddTimespec(const timespec& a, const timespec& b);
// a < b
bool TimespecLess(const timespec& a, const timespec& b);

}  // namespace sentry::vfs
