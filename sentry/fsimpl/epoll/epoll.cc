#include "sentry/fsimpl/epoll/epoll.h"

#include <poll.h>

#include <set>

namespace sentry::fsimpl::epoll {
namespace {

// Linux's EP_MAX_NESTS: how deep epolls may nest.
constexpr int kMaxNests = 4;

// Serialises adding epolls to epolls, so that two concurrent adds cannot close a loop that
// neither saw (Linux's epnested_mutex). Taken before any ctl_mu_.
absl::Mutex nest_mu;

constexpr uint32_t kAlways = EPOLLERR | EPOLLHUP;

}  // namespace

EpollFile::~EpollFile() {
  absl::MutexLock lock(&ctl_mu_);
  for (auto& [key, item] : items_) item->file->EventUnregister(&item->entry);
}

bool EpollFile::ReachesOrTooDeep(const EpollFile* target, int depth) {
  if (this == target || depth > kMaxNests) return true;
  absl::MutexLock lock(&ctl_mu_);
  for (auto& [key, item] : items_) {
    if (auto* inner = dynamic_cast<EpollFile*>(item->file.get())) {
      if (inner->ReachesOrTooDeep(target, depth + 1)) return true;
    }
  }
  return false;
}

void EpollFile::MarkReady(Item* item) {
  {
    absl::MutexLock lock(&ready_mu_);
    if (item->on_ready || item->disabled) return;
    item->on_ready = true;
    ready_.push_back(item);
  }
  queue_.Notify(POLLIN | POLLRDNORM);
}

uint32_t EpollFile::ItemReadiness(Item& item) {
  uint32_t mask = item.event.events | kAlways;
  return item.file->Readiness(mask) & mask;
}

Result<void> EpollFile::Ctl(int op, int fd, std::shared_ptr<vfs::FileDescription> file,
                            const epoll_event& ev) {
  auto* inner = dynamic_cast<EpollFile*>(file.get());
  std::optional<absl::MutexLock> nest;
  if (op == EPOLL_CTL_ADD && inner != nullptr) {
    nest.emplace(&nest_mu);
    if (inner->ReachesOrTooDeep(this, 1)) return Err(ELOOP);
  }
  absl::MutexLock lock(&ctl_mu_);
  Key key{fd, file.get()};
  auto it = items_.find(key);
  switch (op) {
    case EPOLL_CTL_ADD: {
      if (it != items_.end()) return Err(EEXIST);
      auto item = std::make_unique<Item>();
      Item* raw = item.get();
      item->fd = fd;
      item->file = file;
      item->event = ev;
      item->event.events |= kAlways;
      item->entry.mask = item->event.events | kAlways;
      item->entry.callback = [this, raw](uint32_t) { MarkReady(raw); };
      std::vector<pollfd> host;
      file->HostWaitFds(item->event.events, host);
      item->host = !host.empty();
      file->EventRegister(&item->entry);
      items_.emplace(key, std::move(item));
      if (ItemReadiness(*raw) != 0) MarkReady(raw);
      return {};
    }
    case EPOLL_CTL_DEL: {
      if (it == items_.end()) return Err(ENOENT);
      Item* item = it->second.get();
      item->file->EventUnregister(&item->entry);
      {
        absl::MutexLock ready_lock(&ready_mu_);
        if (item->on_ready) ready_.remove(item);
      }
      items_.erase(it);
      return {};
    }
    case EPOLL_CTL_MOD: {
      if (it == items_.end()) return Err(ENOENT);
      Item* item = it->second.get();
      if (item->event.events & EPOLLEXCLUSIVE) return Err(EINVAL);
      // The entry's mask changes under the file's queue lock only through re-registration.
      item->file->EventUnregister(&item->entry);
      item->event = ev;
      item->event.events |= kAlways;
      item->entry.mask = item->event.events | kAlways;
      {
        absl::MutexLock ready_lock(&ready_mu_);
        item->disabled = false;
      }
      item->file->EventRegister(&item->entry);
      if (ItemReadiness(*item) != 0) MarkReady(item);
      return {};
    }
    default:
      return Err(EINVAL);
  }
}

std::vector<epoll_event> EpollFile::Collect(size_t max) {
  std::list<Item*> batch;
  {
    absl::MutexLock lock(&ready_mu_);
    batch.swap(ready_);
    for (Item* i : batch) i->on_ready = false;
  }
  std::set<Item*> seen(batch.begin(), batch.end());
  for (auto& [key, item] : items_) {
    if (item->host && !seen.contains(item.get())) batch.push_back(item.get());
  }
  std::vector<epoll_event> out;
  std::vector<Item*> keep;  // level-triggered items stay ready, in order
  for (Item* item : batch) {
    {
      absl::MutexLock lock(&ready_mu_);
      if (item->disabled) continue;
    }
    uint32_t r = ItemReadiness(*item);
    if (r == 0) continue;
    if (out.size() >= max) {
      if (!item->host) keep.push_back(item);
      continue;
    }
    epoll_event ev{};
    ev.events = r;
    ev.data = item->event.data;
    out.push_back(ev);
    if (item->event.events & EPOLLONESHOT) {
      absl::MutexLock lock(&ready_mu_);
      item->disabled = true;
    } else if (!(item->event.events & EPOLLET) && !item->host) {
      keep.push_back(item);
    }
  }
  if (!keep.empty()) {
    absl::MutexLock lock(&ready_mu_);
    for (Item* item : keep) {
      if (item->on_ready) continue;
      item->on_ready = true;
      ready_.push_back(item);
    }
  }
  return out;
}

Result<std::vector<epoll_event>> EpollFile::Wait(size_t max,
                                                 const std::optional<timespec>& deadline) {
  vfs::Waiter waiter;
  vfs::WaitEntry self{POLLIN | POLLRDNORM, waiter.WakeCallback()};
  queue_.Add(&self);
  Result<std::vector<epoll_event>> result;
  while (true) {
    waiter.Reset();
    std::vector<pollfd> host;
    {
      absl::MutexLock lock(&ctl_mu_);
      result = Collect(max);
      if (result->empty()) HostWaitFdsLocked(host);
    }
    if (!result->empty()) break;
    if (auto slept = waiter.Sleep(host, deadline); !slept) {
      if (slept.error().value != ETIMEDOUT) result = std::unexpected(slept.error());
      break;
    }
  }
  queue_.Remove(&self);
  return result;
}

uint32_t EpollFile::Readiness(uint32_t mask) {
  absl::MutexLock lock(&ctl_mu_);
  std::vector<Item*> candidates;
  {
    absl::MutexLock ready_lock(&ready_mu_);
    candidates.assign(ready_.begin(), ready_.end());
  }
  for (auto& [key, item] : items_) {
    if (item->host) candidates.push_back(item.get());
  }
  for (Item* item : candidates) {
    {
      absl::MutexLock ready_lock(&ready_mu_);
      if (item->disabled) continue;
    }
    if (ItemReadiness(*item) != 0) return (POLLIN | POLLRDNORM) & mask;
  }
  return 0;
}

void EpollFile::HostWaitFds(uint32_t, std::vector<pollfd>& out) {
  absl::MutexLock lock(&ctl_mu_);
  HostWaitFdsLocked(out);
}

void EpollFile::HostWaitFdsLocked(std::vector<pollfd>& out) {
  for (auto& [key, item] : items_) {
    if (!item->host) continue;
    {
      // A disabled one-shot item must not wake the waiter: its host fd may stay ready.
      absl::MutexLock lock(&ready_mu_);
      if (item->disabled) continue;
    }
    item->file->HostWaitFds(item->event.events, out);
  }
}

}  // namespace sentry::fsimpl::epoll
