// POSIX message queues (mq_overview(7)) and the mqueue file system that names them. The sandbox
// has one instance (one IPC namespace): mq_open finds queues in it directly, and every mount of
// type mqueue shows the same root.
#pragma once

#include <mqueue.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/inode.h"
#include "sentry/vfs/wait_queue.h"

namespace sentry::fsimpl::mqueue {

// Linux's defaults (/proc/sys/fs/mqueue) and hard limits (ipc/mqueue.c).
inline constexpr long kDefaultMaxMsg = 10;     // msg_default
inline constexpr long kMaxMsg = 10;            // msg_max
inline constexpr long kHardMaxMsg = 65536;     // HARD_MSGMAX, with CAP_SYS_RESOURCE
inline constexpr long kDefaultMsgSize = 8192;  // msgsize_default
inline constexpr long kMaxMsgSize = 8192;      // msgsize_max
inline constexpr long kHardMaxMsgSize = 16 << 20;
inline constexpr int kQueuesMax = 256;       // queues_max
inline constexpr unsigned kPrioMax = 32768;  // MQ_PRIO_MAX
inline constexpr uint32_t kMqueueMagic = 0x19800202;
// RLIMIT_MSGQUEUE's default, for queues made by open(2), which knows no caller's limits.
inline constexpr uint64_t kDefaultBytesLimit = 819200;

// mq_notify's registration: how the registering process hears of a message arriving in an
// empty queue. `deliver` sends the signal (the syscall layer knows how); it is called without
// the queue's lock.
struct Notification {
  int notify = SIGEV_NONE;  // SIGEV_SIGNAL or SIGEV_NONE
  int signo = 0;
  sigval value{};
  pid_t owner = 0;             // the registering process (tgid)
  const void* file = nullptr;  // the open queue it registered through
  std::function<void(const siginfo_t&)> deliver;
};

struct QueuedMessage {
  unsigned prio = 0;
  std::vector<uint8_t> data;
};

class Queue {
 public:
  Queue(long max_msgs, long msg_size) : max_msgs_(max_msgs), msg_size_(msg_size) {}

  long max_msgs() const { return max_msgs_; }
  long msg_size() const { return msg_size_; }
  long count();

  // EAGAIN when full / empty; the caller waits on waiters() and tries again.
  Result<void> TrySend(std::vector<uint8_t> data, unsigned prio, pid_t sender, uint32_t uid);
  Result<QueuedMessage> TryReceive();
  // Receivers asleep in mq_receive: a message then goes to them, and no notification is sent.
  void ReceiverWaiting(int delta);

  // EBUSY when another registration is in place.
  Result<void> SetNotification(Notification n);
  // mq_notify(NULL) by `owner`: its registration (if it is the one) goes.
  void ClearNotification(pid_t owner);
  // An open queue is closed: a registration made through it goes.
  void DropNotificationOf(const void* file);

  uint32_t Readiness(uint32_t mask);
  vfs::WaitQueue& waiters() { return waiters_; }
  // What reading the queue's file shows (QSIZE:... NOTIFY:... SIGNO:... NOTIFY_PID:...).
  std::string StatusText();

 private:
  const long max_msgs_;
  const long msg_size_;
  absl::Mutex mu_;
  // By priority, highest first; FIFO within one priority.
  std::map<unsigned, std::deque<std::vector<uint8_t>>, std::greater<>> messages_
      ABSL_GUARDED_BY(mu_);
  long count_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int receivers_waiting_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<Notification> notification_ ABSL_GUARDED_BY(mu_);
  vfs::WaitQueue waiters_;
};

class QueueInode;

// What each user's queues may hold against RLIMIT_MSGQUEUE (Linux's user_struct mq_bytes): a
// queue is charged its whole capacity, with Linux's bookkeeping overhead, while it exists.
class QueueBytesByUser {
 public:
  // Charges `bytes` to `uid` unless that would pass `limit`.
  bool Charge(uint32_t uid, uint64_t bytes, uint64_t limit);
  void Uncharge(uint32_t uid, uint64_t bytes);

 private:
  absl::Mutex mu_;
  std::map<uint32_t, uint64_t> bytes_ ABSL_GUARDED_BY(mu_);
};

// The root directory of the instance: the queues by name.
class RootInode : public vfs::Inode {
 public:
  RootInode();
  Result<struct stat> Stat() override;
  Result<std::shared_ptr<vfs::Inode>> Lookup(std::string_view name) override;
  Result<std::vector<vfs::DirEntry>> ReadDir() override;
  // open(2) with O_CREAT in a mounted mqueue: a queue with the default attributes.
  Result<std::shared_ptr<vfs::Inode>> Create(std::string_view name, mode_t mode,
                                             const vfs::FsCredentials& creds) override;
  Result<void> Unlink(std::string_view name) override;
  Result<struct statfs> StatFs() override;
  Result<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& path,
                                                     int flags) override;
  const void* FilesystemId() const override { return this; }

  // mq_open with O_CREAT: `attr` null for the defaults, else checked against the limits
  // (`privileged`: CAP_SYS_RESOURCE raises them to the hard ones). EEXIST if the name is taken,
  // EMFILE if the owner's queues would pass `bytes_limit` (RLIMIT_MSGQUEUE).
  Result<std::shared_ptr<QueueInode>> CreateQueue(std::string_view name, mode_t mode,
                                                  const vfs::FsCredentials& creds,
                                                  const mq_attr* attr, bool privileged,
                                                  uint64_t bytes_limit);

 private:
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<QueueInode>, std::less<>> queues_ ABSL_GUARDED_BY(mu_);
  uint64_t next_ino_ ABSL_GUARDED_BY(mu_) = 2;
  timespec mtime_;
  std::shared_ptr<QueueBytesByUser> charges_ = std::make_shared<QueueBytesByUser>();
};

class QueueInode : public vfs::Inode {
 public:
  QueueInode(const void* fs, uint64_t ino, mode_t mode, uint32_t uid, uint32_t gid,
             std::shared_ptr<Queue> queue, std::shared_ptr<QueueBytesByUser> charges,
             uint64_t charged);
  ~QueueInode() override;
  Result<struct stat> Stat() override;
  Result<void> SetStat(const vfs::SetStatRequest& req) override;
  Result<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& path,
                                                     int flags) override;
  const void* FilesystemId() const override { return fs_; }
  const std::shared_ptr<Queue>& queue() const { return queue_; }

 private:
  const void* fs_;
  const uint64_t ino_;
  absl::Mutex mu_;
  struct stat st_ ABSL_GUARDED_BY(mu_) {};
  std::shared_ptr<Queue> queue_;
  const uint32_t charged_uid_;
  std::shared_ptr<QueueBytesByUser> charges_;
  const uint64_t charged_;
};

// An open queue: what mq_open returns. Reading it gives the status line.
class QueueFile : public vfs::FileDescription {
 public:
  QueueFile(int flags, vfs::VirtualDentry path, std::shared_ptr<Queue> queue)
      : vfs::FileDescription(flags, std::move(path)), queue_(std::move(queue)) {}
  ~QueueFile() override;

  Queue& queue() { return *queue_; }
  Result<uint64_t> Read(std::span<const iovec> dst, std::optional<int64_t> offset) override;
  uint32_t Readiness(uint32_t mask) override { return queue_->Readiness(mask); }
  bool Pollable() const override { return true; }
  void EventRegister(vfs::WaitEntry* e) override { queue_->waiters().Add(e); }
  void EventUnregister(vfs::WaitEntry* e) override { queue_->waiters().Remove(e); }

 private:
  std::shared_ptr<Queue> queue_;
};

// A mount of a new instance's root, for Kernel::InternalMount: mq_open's view of the queues,
// and the root every mount(2) of type mqueue shows.
std::shared_ptr<vfs::Mount> NewMqueueMount();

}  // namespace sentry::fsimpl::mqueue
