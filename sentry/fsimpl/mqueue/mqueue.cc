#include "sentry/fsimpl/mqueue/mqueue.h"

#include <dirent.h>
#include <poll.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <climits>
#include <ctime>

#include "absl/strings/str_format.h"
#include "sentry/vfs/dentry.h"
#include "sentry/vfs/iovec.h"

namespace sentry::fsimpl::mqueue {
namespace {

// Linux's FILENT_SIZE: what st_size says of every queue.
constexpr off_t kQueueFileSize = 80;

timespec Now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

// Linux's bookkeeping per message (struct msg_msg) and per priority (posix_msg_tree_node),
// counted against RLIMIT_MSGQUEUE with the messages themselves.
constexpr uint64_t kMessageOverhead = 48;
constexpr uint64_t kPriorityOverhead = 48;

// The checks lookup_one_len makes of a single name, and simple_lookup's length limit.
Result<void> CheckName(std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos) {
    return Err(EACCES);
  }
  if (name.size() > NAME_MAX) return Err(ENAMETOOLONG);
  return {};
}

}  // namespace

long Queue::count() {
  absl::MutexLock lock(&mu_);
  return count_;
}

Result<void> Queue::TrySend(std::vector<uint8_t> data, unsigned prio, pid_t sender, uint32_t uid) {
  std::optional<Notification> fire;
  {
    absl::MutexLock lock(&mu_);
    if (count_ >= max_msgs_) return Err(EAGAIN);
    bytes_ += data.size();
    messages_[prio].push_back(std::move(data));
    ++count_;
    // A message arriving in an empty queue that nobody is waiting on: the registered process
    // hears of it, once (the registration goes).
    if (count_ == 1 && receivers_waiting_ == 0 && notification_) {
      fire = std::move(notification_);
      notification_.reset();
    }
  }
  waiters_.Notify(POLLIN | POLLRDNORM);
  if (fire && fire->notify == SIGEV_SIGNAL && fire->deliver) {
    siginfo_t info{};
    info.si_signo = fire->signo;
    info.si_code = SI_MESGQ;
    info.si_value = fire->value;
    info.si_pid = sender;
    info.si_uid = uid;
    fire->deliver(info);
  }
  return {};
}

Result<QueuedMessage> Queue::TryReceive() {
  QueuedMessage out;
  {
    absl::MutexLock lock(&mu_);
    if (count_ == 0) return Err(EAGAIN);
    auto it = messages_.begin();
    out.prio = it->first;
    out.data = std::move(it->second.front());
    it->second.pop_front();
    if (it->second.empty()) messages_.erase(it);
    --count_;
    bytes_ -= out.data.size();
  }
  waiters_.Notify(POLLOUT | POLLWRNORM);
  return out;
}

void Queue::ReceiverWaiting(int delta) {
  absl::MutexLock lock(&mu_);
  receivers_waiting_ += delta;
}

Result<void> Queue::SetNotification(Notification n) {
  absl::MutexLock lock(&mu_);
  if (notification_) return Err(EBUSY);
  notification_ = std::move(n);
  return {};
}

void Queue::ClearNotification(pid_t owner) {
  std::optional<Notification> gone;  // its callback is freed outside the lock
  absl::MutexLock lock(&mu_);
  if (notification_ && notification_->owner == owner) {
    gone = std::move(notification_);
    notification_.reset();
  }
}

void Queue::DropNotificationOf(const void* file) {
  std::optional<Notification> gone;
  absl::MutexLock lock(&mu_);
  if (notification_ && notification_->file == file) {
    gone = std::move(notification_);
    notification_.reset();
  }
}

uint32_t Queue::Readiness(uint32_t mask) {
  absl::MutexLock lock(&mu_);
  uint32_t r = 0;
  if (count_ > 0) r |= POLLIN | POLLRDNORM;
  if (count_ < max_msgs_) r |= POLLOUT | POLLWRNORM;
  return r & mask;
}

std::string Queue::StatusText() {
  absl::MutexLock lock(&mu_);
  int notify = notification_ ? notification_->notify : 0;
  int signo = notification_ && notification_->notify == SIGEV_SIGNAL ? notification_->signo : 0;
  int pid = notification_ ? notification_->owner : 0;
  return absl::StrFormat("QSIZE:%-10lu NOTIFY:%-5d SIGNO:%-5d NOTIFY_PID:%-6d\n", bytes_, notify,
                         signo, pid);
}

bool QueueBytesByUser::Charge(uint32_t uid, uint64_t bytes, uint64_t limit) {
  absl::MutexLock lock(&mu_);
  uint64_t& used = bytes_[uid];
  if (used + bytes < used || used + bytes > limit) return false;
  used += bytes;
  return true;
}

void QueueBytesByUser::Uncharge(uint32_t uid, uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  uint64_t& used = bytes_[uid];
  used -= std::min(used, bytes);
}

RootInode::RootInode() : vfs::Inode(S_IFDIR), mtime_(Now()) {}

Result<struct stat> RootInode::Stat() {
  struct stat st {};
  st.st_dev = makedev(0, 19);
  st.st_ino = 1;
  st.st_mode = S_IFDIR | S_ISVTX | 0777;
  st.st_nlink = 2;
  st.st_blksize = 4096;
  st.st_atim = st.st_mtim = st.st_ctim = mtime_;
  return st;
}

Result<std::shared_ptr<vfs::Inode>> RootInode::Lookup(std::string_view name) {
  if (name.size() > NAME_MAX) return Err(ENAMETOOLONG);
  absl::MutexLock lock(&mu_);
  auto it = queues_.find(name);
  if (it == queues_.end()) return Err(ENOENT);
  return it->second;
}

Result<std::vector<vfs::DirEntry>> RootInode::ReadDir() {
  absl::MutexLock lock(&mu_);
  std::vector<vfs::DirEntry> out;
  for (const auto& [name, inode] : queues_) {
    out.push_back(vfs::DirEntry{inode->Stat()->st_ino, DT_REG, name});
  }
  return out;
}

Result<std::shared_ptr<QueueInode>> RootInode::CreateQueue(std::string_view name, mode_t mode,
                                                           const vfs::FsCredentials& creds,
                                                           const mq_attr* attr, bool privileged,
                                                           uint64_t bytes_limit) {
  TRY(CheckName(name));
  long max_msgs = kDefaultMaxMsg, msg_size = kDefaultMsgSize;
  if (attr != nullptr) {
    if (attr->mq_maxmsg <= 0 || attr->mq_msgsize <= 0) return Err(EINVAL);
    long msgs_limit = privileged ? kHardMaxMsg : kMaxMsg;
    long size_limit = privileged ? kHardMaxMsgSize : kMaxMsgSize;
    if (attr->mq_maxmsg > msgs_limit || attr->mq_msgsize > size_limit) return Err(EINVAL);
    max_msgs = attr->mq_maxmsg;
    msg_size = attr->mq_msgsize;
  }
  // Both at most 2^16 and 2^24: no overflow.
  uint64_t bytes = static_cast<uint64_t>(max_msgs) * (msg_size + kMessageOverhead) +
                   std::min<uint64_t>(max_msgs, kPrioMax) * kPriorityOverhead;
  absl::MutexLock lock(&mu_);
  if (queues_.contains(name)) return Err(EEXIST);
  if (queues_.size() >= static_cast<size_t>(kQueuesMax) && !privileged) return Err(ENOSPC);
  if (!charges_->Charge(creds.uid, bytes, bytes_limit)) return Err(EMFILE);
  auto inode =
      std::make_shared<QueueInode>(this, next_ino_++, mode & 07777, creds.uid, creds.gid,
                                   std::make_shared<Queue>(max_msgs, msg_size), charges_, bytes);
  queues_.emplace(std::string(name), inode);
  mtime_ = Now();
  return inode;
}

Result<std::shared_ptr<vfs::Inode>> RootInode::Create(std::string_view name, mode_t mode,
                                                      const vfs::FsCredentials& creds) {
  return TRY(CreateQueue(name, mode, creds, nullptr, creds.dac_override, kDefaultBytesLimit));
}

Result<void> RootInode::Unlink(std::string_view name) {
  std::shared_ptr<QueueInode> gone;  // an open queue lives on in its files
  absl::MutexLock lock(&mu_);
  auto it = queues_.find(name);
  if (it == queues_.end()) return Err(ENOENT);
  gone = std::move(it->second);
  queues_.erase(it);
  mtime_ = Now();
  return {};
}

Result<struct statfs> RootInode::StatFs() {
  struct statfs s {};
  s.f_type = kMqueueMagic;
  s.f_bsize = 4096;
  s.f_namelen = NAME_MAX;
  return s;
}

Result<std::shared_ptr<vfs::FileDescription>> RootInode::Open(const vfs::VirtualDentry& path,
                                                              int flags) {
  return std::make_shared<vfs::DirectoryFile>(flags, path);
}

QueueInode::QueueInode(const void* fs, uint64_t ino, mode_t mode, uint32_t uid, uint32_t gid,
                       std::shared_ptr<Queue> queue, std::shared_ptr<QueueBytesByUser> charges,
                       uint64_t charged)
    : vfs::Inode(S_IFREG),
      fs_(fs),
      ino_(ino),
      queue_(std::move(queue)),
      charged_uid_(uid),
      charges_(std::move(charges)),
      charged_(charged) {
  st_.st_dev = makedev(0, 19);
  st_.st_ino = ino_;
  st_.st_mode = S_IFREG | mode;
  st_.st_nlink = 1;
  st_.st_uid = uid;
  st_.st_gid = gid;
  st_.st_size = kQueueFileSize;
  st_.st_blksize = 4096;
  st_.st_atim = st_.st_mtim = st_.st_ctim = Now();
}

QueueInode::~QueueInode() { charges_->Uncharge(charged_uid_, charged_); }

Result<struct stat> QueueInode::Stat() {
  absl::MutexLock lock(&mu_);
  return st_;
}

Result<void> QueueInode::SetStat(const vfs::SetStatRequest& req) {
  absl::MutexLock lock(&mu_);
  if (req.size) return Err(EINVAL);
  if (req.mode) st_.st_mode = S_IFREG | (*req.mode & 07777);
  if (req.uid) st_.st_uid = *req.uid;
  if (req.gid) st_.st_gid = *req.gid;
  if (req.atime) st_.st_atim = *req.atime;
  if (req.mtime) st_.st_mtim = *req.mtime;
  st_.st_ctim = Now();
  return {};
}

Result<std::shared_ptr<vfs::FileDescription>> QueueInode::Open(const vfs::VirtualDentry& path,
                                                               int flags) {
  return std::make_shared<QueueFile>(flags, path, queue_);
}

QueueFile::~QueueFile() { queue_->DropNotificationOf(this); }

Result<uint64_t> QueueFile::Read(std::span<const iovec> dst, std::optional<int64_t> offset) {
  std::string text = queue_->StatusText();
  std::lock_guard lock(pos_mu_);
  int64_t at = offset.value_or(pos_);
  if (at < 0) return Err(EINVAL);
  if (static_cast<uint64_t>(at) >= text.size()) return 0;
  uint64_t n = std::min<uint64_t>(text.size() - at, vfs::IovecTotal(dst));
  vfs::IovecCursor(dst).Fill(reinterpret_cast<const uint8_t*>(text.data()) + at, n);
  if (!offset) pos_ = at + static_cast<int64_t>(n);
  return n;
}

std::shared_ptr<vfs::Mount> NewMqueueMount() {
  return std::make_shared<vfs::Mount>(vfs::Dentry::NewRoot(std::make_shared<RootInode>()), "mqueue",
                                      "mqueue", 0);
}

}  // namespace sentry::fsimpl::mqueue
