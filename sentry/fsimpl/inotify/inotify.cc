#include "sentry/fsimpl/inotify/inotify.h"

#include <poll.h>
#include <sys/ioctl.h>

#include <climits>
#include <cstring>

#include "absl/strings/str_format.h"
#include "sentry/mm/memory_manager.h"
#include "sentry/vfs/fsnotify.h"
#include "sentry/vfs/iovec.h"

namespace sentry::fsimpl::inotify {
namespace {

// Linux's INOTIFY_IOC_SETNEXTWD (with CONFIG_CHECKPOINT_RESTORE): the next watch descriptor.
constexpr uint64_t kSetNextWd = _IOW('I', 0, int32_t);

// The bits of a watch's mask that stay with it (Linux keeps these in the mark).
constexpr uint32_t kWatchFlags = IN_ONESHOT | IN_EXCL_UNLINK;

// What each user has, across the sandbox (Linux's ucounts).
struct UserCounts {
  static UserCounts& Get() {
    static auto* c = new UserCounts();
    return *c;
  }
  absl::Mutex mu;  // a leaf
  absl::flat_hash_map<uint32_t, int> instances ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<uint32_t, int> watches ABSL_GUARDED_BY(mu);

  bool Inc(absl::flat_hash_map<uint32_t, int>& m, uint32_t uid, int max) {
    absl::MutexLock lock(&mu);
    int& n = m[uid];
    if (n >= max) return false;
    ++n;
    return true;
  }
  void Dec(absl::flat_hash_map<uint32_t, int>& m, uint32_t uid) {
    absl::MutexLock lock(&mu);
    if (auto it = m.find(uid); it != m.end() && --it->second <= 0) m.erase(it);
  }
};

// The size of an event record: the header and the name, NUL-padded to a multiple of the
// header's size, as Linux pads it.
uint64_t RecordSize(const std::string& name) {
  if (name.empty()) return sizeof(inotify_event);
  uint64_t padded =
      (name.size() + 1 + sizeof(inotify_event) - 1) / sizeof(inotify_event) * sizeof(inotify_event);
  return sizeof(inotify_event) + padded;
}

}  // namespace

// One watch: a mark on the watched inode, reporting to its instance.
class Watch : public vfs::fsnotify::Mark {
 public:
  Watch(std::weak_ptr<Instance> instance, int wd, const vfs::Inode* inode, uint32_t mask,
        uint64_t ino, uint64_t dev)
      : Mark(MarkMask(mask)),
        instance_(std::move(instance)),
        wd_(wd),
        inode_(inode),
        user_mask_(mask),
        ino_(ino),
        dev_(dev) {}

  // The fsnotify events of a user mask: its events, and IN_UNMOUNT, which every watch gets.
  static uint32_t MarkMask(uint32_t user_mask) { return (user_mask & IN_ALL_EVENTS) | IN_UNMOUNT; }

  void Handle(uint32_t mask, std::string_view name, uint32_t cookie, bool child_unlinked) override {
    if (child_unlinked && (user_mask_.load(std::memory_order_relaxed) & IN_EXCL_UNLINK)) return;
    if (auto instance = instance_.lock()) instance->Deliver(*this, mask, name, cookie);
  }
  void Detached() override {
    if (auto instance = instance_.lock()) instance->Forget(*this);
  }

  int wd() const { return wd_; }
  const vfs::Inode* inode() const { return inode_; }
  uint32_t user_mask() const { return user_mask_.load(std::memory_order_relaxed); }
  void set_user_mask(uint32_t m) { user_mask_.store(m, std::memory_order_relaxed); }
  uint64_t ino() const { return ino_; }
  uint64_t dev() const { return dev_; }

 private:
  const std::weak_ptr<Instance> instance_;
  const int wd_;
  const vfs::Inode* const inode_;    // the key only: fsnotify's table keeps the inode alive
  std::atomic<uint32_t> user_mask_;  // events and kWatchFlags, as the caller gave them
  const uint64_t ino_, dev_;
};

Instance::~Instance() {
  std::map<int, std::shared_ptr<Watch>> watches;
  {
    absl::MutexLock lock(&mu_);
    watches = std::move(watches_);
  }
  // A watch still listed was never forgotten (Forget takes it out under the lock and cannot
  // reach this instance any more), so each is counted off here, even one fsnotify is detaching.
  for (const auto& [wd, w] : watches) {
    vfs::fsnotify::RemoveMark(*w->inode(), *w);
    UserCounts::Get().Dec(UserCounts::Get().watches, uid_);
  }
  UserCounts::Get().Dec(UserCounts::Get().instances, uid_);
}

Result<int> Instance::AddWatch(const std::shared_ptr<vfs::Inode>& inode, uint32_t mask) {
  uint32_t wanted = mask & (IN_ALL_EVENTS | kWatchFlags);
  struct stat st {};  // for fdinfo, asked before the lock (a gofer file asks the host)
  if (auto s = inode->Stat()) st = *s;
  absl::MutexLock lock(&mu_);
  if (auto it = by_inode_.find(inode.get()); it != by_inode_.end()) {
    if (mask & IN_MASK_CREATE) return Err(EEXIST);
    Watch& w = *watches_.at(it->second);
    if (mask & IN_MASK_ADD) wanted |= w.user_mask();
    w.set_user_mask(wanted);
    vfs::fsnotify::SetMask(*inode, w, Watch::MarkMask(wanted));
    return w.wd();
  }
  // Watch descriptors go round, as Linux's idr_alloc_cyclic hands them out.
  int wd = last_wd_;
  do {
    wd = wd == INT_MAX ? 1 : wd + 1;
  } while (watches_.contains(wd));
  if (!UserCounts::Get().Inc(UserCounts::Get().watches, uid_, kMaxUserWatches)) {
    return Err(ENOSPC);
  }
  last_wd_ = wd;
  auto w = std::make_shared<Watch>(weak_from_this(), wd, inode.get(), wanted, st.st_ino, st.st_dev);
  watches_[wd] = w;
  by_inode_[inode.get()] = wd;
  vfs::fsnotify::AddMark(inode, std::move(w));
  return wd;
}

void Instance::DropWatchLocked(int wd) {
  auto it = watches_.find(wd);
  by_inode_.erase(it->second->inode());
  watches_.erase(it);
  UserCounts::Get().Dec(UserCounts::Get().watches, uid_);
  QueueLocked({wd, IN_IGNORED, 0, {}});
}

Result<void> Instance::RemoveWatch(int wd) {
  {
    absl::MutexLock lock(&mu_);
    auto it = watches_.find(wd);
    if (it == watches_.end()) return Err(EINVAL);
    vfs::fsnotify::RemoveMark(*it->second->inode(), *it->second);
    DropWatchLocked(wd);
  }
  wait_.Notify(POLLIN | POLLRDNORM);
  return {};
}

void Instance::Deliver(Watch& watch, uint32_t mask, std::string_view name, uint32_t cookie) {
  {
    absl::MutexLock lock(&mu_);
    // The watch may have gone while the event was on its way.
    auto it = watches_.find(watch.wd());
    if (it == watches_.end() || it->second.get() != &watch) return;
    uint32_t user_mask = watch.user_mask();
    // Only the event bits the watch asked for (and those every watch gets) are shown.
    uint32_t shown = mask & ((user_mask & IN_ALL_EVENTS) | IN_UNMOUNT | IN_ISDIR);
    if (!(shown & ~IN_ISDIR)) return;
    QueueLocked({watch.wd(), shown, cookie, std::string(name)});
    if (user_mask & IN_ONESHOT) {
      vfs::fsnotify::RemoveMark(*watch.inode(), watch);
      DropWatchLocked(watch.wd());
    }
  }
  wait_.Notify(POLLIN | POLLRDNORM);
}

void Instance::Forget(Watch& watch) {
  {
    absl::MutexLock lock(&mu_);
    auto it = watches_.find(watch.wd());
    if (it == watches_.end() || it->second.get() != &watch) return;
    DropWatchLocked(watch.wd());
  }
  wait_.Notify(POLLIN | POLLRDNORM);
}

bool Instance::QueueLocked(Event e) {
  if (events_.size() >= kMaxQueuedEvents) {
    // Once full, events are lost, which one IN_Q_OVERFLOW (queued beyond the limit) says.
    if (overflow_queued_) return false;
    overflow_queued_ = true;
    e = {-1, IN_Q_OVERFLOW, 0, {}};
  } else if (!events_.empty() && events_.back() == e) {
    return false;  // the same event again: Linux merges it with the last one
  }
  queued_bytes_ += RecordSize(e.name);
  events_.push_back(std::move(e));
  return true;
}

Result<std::string> Instance::Take(uint64_t room) {
  absl::MutexLock lock(&mu_);
  if (events_.empty()) return Err(EAGAIN);
  std::string out;
  while (!events_.empty()) {
    const Event& e = events_.front();
    uint64_t size = RecordSize(e.name);
    if (size > room - out.size()) {
      if (out.empty()) return Err(EINVAL);
      break;
    }
    inotify_event header{};
    header.wd = e.wd;
    header.mask = e.mask;
    header.cookie = e.cookie;
    header.len = static_cast<uint32_t>(size - sizeof(inotify_event));
    size_t at = out.size();
    out.resize(at + size, '\0');
    std::memcpy(out.data() + at, &header, sizeof(header));
    std::memcpy(out.data() + at + sizeof(header), e.name.data(), e.name.size());
    if (e.mask == IN_Q_OVERFLOW && e.wd == -1) overflow_queued_ = false;
    queued_bytes_ -= size;
    events_.pop_front();
  }
  return out;
}

bool Instance::HasEvents() {
  absl::MutexLock lock(&mu_);
  return !events_.empty();
}

uint64_t Instance::QueuedBytes() {
  absl::MutexLock lock(&mu_);
  return queued_bytes_;
}

Result<void> Instance::SetNextWd(int64_t wd) {
  if (wd < 1 || wd > INT_MAX) return Err(EINVAL);
  absl::MutexLock lock(&mu_);
  last_wd_ = static_cast<int>(wd - 1);
  return {};
}

std::string Instance::FdInfoLines() {
  std::string out;
  absl::MutexLock lock(&mu_);
  for (const auto& [wd, w] : watches_) {
    absl::StrAppendFormat(&out, "inotify wd:%x ino:%x sdev:%x mask:%x ignored_mask:0\n", wd,
                          w->ino(), w->dev(), w->user_mask());
  }
  return out;
}

Result<std::shared_ptr<InotifyFile>> InotifyFile::New(uint32_t uid, int flags) {
  if (!UserCounts::Get().Inc(UserCounts::Get().instances, uid, kMaxUserInstances)) {
    return Err(EMFILE);
  }
  return std::make_shared<InotifyFile>(std::make_shared<Instance>(uid), flags);
}

InotifyFile::InotifyFile(std::shared_ptr<Instance> instance, int flags)
    : vfs::AnonFile(O_RDONLY | (flags & O_NONBLOCK)), instance_(std::move(instance)) {}

Result<uint64_t> InotifyFile::Read(std::span<const iovec> dst, std::optional<int64_t> offset) {
  if (offset) return Err(ESPIPE);
  uint64_t room = vfs::IovecTotal(dst);
  std::string events;
  auto attempt = [&]() -> Result<uint64_t> {
    events = TRY(instance_->Take(room));
    return events.size();
  };
  Result<uint64_t> r =
      (status_flags() & O_NONBLOCK) ? attempt() : vfs::BlockOn(*this, POLLIN | POLLRDNORM, attempt);
  if (!r) return r;
  vfs::IovecCursor(dst).Fill(reinterpret_cast<const uint8_t*>(events.data()), events.size());
  return r;
}

Result<uint64_t> InotifyFile::Ioctl(mm::MemoryManager& mm, uint64_t cmd, uint64_t arg) {
  switch (cmd) {
    case FIONREAD: {
      auto n = static_cast<int>(instance_->QueuedBytes());
      TRY(mm.CopyOutObject(UserAddr(arg), n));
      return 0;
    }
    case kSetNextWd:
      TRY(instance_->SetNextWd(static_cast<int64_t>(arg)));
      return 0;
    default:
      return Err(ENOTTY);
  }
}

uint32_t InotifyFile::Readiness(uint32_t mask) {
  return instance_->HasEvents() ? (mask & (POLLIN | POLLRDNORM)) : 0;
}

}  // namespace sentry::fsimpl::inotify
