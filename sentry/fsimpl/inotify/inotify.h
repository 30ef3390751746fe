// inotify(7): an instance is an anonymous file that queues the events of its watches, one
// fsnotify Mark per watched inode, and hands them out through read(2) as struct inotify_event
// records. Readiness (poll, epoll, select) and FIONREAD look at the queue.
//
// Locks: an instance's lock comes before fsnotify's table lock (watches are added and removed
// under it); the instance notifies its wait queue with its lock released.
#pragma once

#include <sys/inotify.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "sentry/vfs/file_description.h"

namespace sentry::fsimpl::inotify {

// The limits /proc/sys/fs/inotify shows (Linux's defaults; the sandbox cannot change them).
// Watches per user: Linux sizes it from memory, between 8192 and 1048576.
inline constexpr int kMaxQueuedEvents = 16384;
inline constexpr int kMaxUserInstances = 128;
inline constexpr int kMaxUserWatches = 65536;

class Watch;

// The state a file and its watches share; the watches reach it weakly, so that events for a
// closed instance go nowhere.
class Instance : public std::enable_shared_from_this<Instance> {
 public:
  explicit Instance(uint32_t uid) : uid_(uid) {}
  ~Instance();

  // inotify_add_watch once the path is resolved and checked: the watch descriptor.
  Result<int> AddWatch(const std::shared_ptr<vfs::Inode>& inode, uint32_t mask);
  Result<void> RemoveWatch(int wd);

  // From a watch (its Mark callbacks).
  void Deliver(Watch& watch, uint32_t mask, std::string_view name, uint32_t cookie);
  void Forget(Watch& watch);

  // Takes whole events that fit in `room` bytes: EAGAIN when none is queued, EINVAL when the
  // first does not fit.
  Result<std::string> Take(uint64_t room);
  bool HasEvents();
  uint64_t QueuedBytes();
  Result<void> SetNextWd(int64_t wd);
  // "inotify wd:..." lines for /proc/PID/fdinfo.
  std::string FdInfoLines();

  vfs::WaitQueue& queue() { return wait_; }

 private:
  struct Event {
    int32_t wd;
    uint32_t mask;
    uint32_t cookie;
    std::string name;
    bool operator==(const Event&) const = default;
  };
  // Queues an event (merged with an identical last one; IN_Q_OVERFLOW once full). True if the
  // queue grew.
  bool QueueLocked(Event e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropWatchLocked(int wd) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const uint32_t uid_;
  absl::Mutex mu_;
  std::deque<Event> events_ ABSL_GUARDED_BY(mu_);
  uint64_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool overflow_queued_ ABSL_GUARDED_BY(mu_) = false;
  std::map<int, std::shared_ptr<Watch>> watches_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<const vfs::Inode*, int> by_inode_ ABSL_GUARDED_BY(mu_);
  int last_wd_ ABSL_GUARDED_BY(mu_) = 0;
  vfs::WaitQueue wait_;
};

class InotifyFile : public vfs::AnonFile {
 public:
  // `flags`: O_NONBLOCK (IN_NONBLOCK) or 0. EMFILE past max_user_instances for `uid`.
  static Result<std::shared_ptr<InotifyFile>> New(uint32_t uid, int flags);
  explicit InotifyFile(std::shared_ptr<Instance> instance, int flags);

  Instance& instance() { return *instance_; }

  Result<uint64_t> Read(std::span<const iovec> dst, std::optional<int64_t> offset) override;
  Result<uint64_t> Ioctl(mm::MemoryManager& mm, uint64_t cmd, uint64_t arg) override;
  uint32_t Readiness(uint32_t mask) override;
  bool Pollable() const override { return true; }
  void EventRegister(vfs::WaitEntry* e) override { instance_->queue().Add(e); }
  void EventUnregister(vfs::WaitEntry* e) override { instance_->queue().Remove(e); }

 private:
  std::shared_ptr<Instance> instance_;
};

}  // namespace sentry::fsimpl::inotify
