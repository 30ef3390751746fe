// epoll(7): an interest list of (fd, file) items, each registered on its file's wait queue, and
// a ready list that the files' notifications fill. epoll_wait re-checks each ready item's
// readiness before it reports it (level-triggered items go back on the list, edge-triggered
// ones wait for the next notification, one-shot ones are disabled until EPOLL_CTL_MOD).
//
// Items hold their file: a file closed without EPOLL_CTL_DEL stays in the set until the epoll
// goes (Linux drops it when its last reference goes). Files backed by host fds (HostWaitFds)
// send no notifications: their items are checked at every wait, so for them EPOLLET behaves
// as level-triggered.
//
// Locks: ctl_mu_ (the interest list; held by epoll_ctl and by each wait) is taken before any
// file's locks and before a nested epoll's ctl_mu_ (loops are refused, so the order is a tree);
// ready_mu_ is a leaf taken by the items' callbacks under their file's WaitQueue lock.
#pragma once

#include <sys/epoll.h>

#include <list>
#include <map>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "sentry/vfs/file_description.h"

namespace sentry::fsimpl::epoll {

class EpollFile : public vfs::AnonFile, public std::enable_shared_from_this<EpollFile> {
 public:
  explicit EpollFile(int flags) : vfs::AnonFile(O_RDWR | (flags & O_NONBLOCK)) {}
  ~EpollFile() override;

  // epoll_ctl after the syscall's own checks (fds resolved, target pollable, not this epoll).
  Result<void> Ctl(int op, int fd, std::shared_ptr<vfs::FileDescription> file,
                   const epoll_event& ev);
  // epoll_wait: up to `max` events; waits until one or `deadline` (nullopt: forever; a past
  // one: not at all). EINTR when interrupted.
  Result<std::vector<epoll_event>> Wait(size_t max, const std::optional<timespec>& deadline);

  uint32_t Readiness(uint32_t mask) override;
  bool Pollable() const override { return true; }
  void EventRegister(vfs::WaitEntry* e) override { queue_.Add(e); }
  void EventUnregister(vfs::WaitEntry* e) override { queue_.Remove(e); }
  void HostWaitFds(uint32_t mask, std::vector<pollfd>& out) override;

 private:
  struct Item {
    int fd;
    std::shared_ptr<vfs::FileDescription> file;
    epoll_event event;
    bool host = false;      // readiness from host fds: checked at every wait
    bool disabled = false;  // EPOLLONESHOT fired
    bool on_ready = false;  // in ready_
    vfs::WaitEntry entry;
  };
  using Key = std::pair<int, const vfs::FileDescription*>;

  // Whether following nested epolls from this one reaches `target`, or nests too deep.
  bool ReachesOrTooDeep(const EpollFile* target, int depth);
  void MarkReady(Item* item);
  uint32_t ItemReadiness(Item& item) ABSL_EXCLUSIVE_LOCKS_REQUIRED(ctl_mu_);
  std::vector<epoll_event> Collect(size_t max) ABSL_EXCLUSIVE_LOCKS_REQUIRED(ctl_mu_);
  void HostWaitFdsLocked(std::vector<pollfd>& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(ctl_mu_);

  absl::Mutex ctl_mu_ ABSL_ACQUIRED_BEFORE(ready_mu_);
  std::map<Key, std::unique_ptr<Item>> items_ ABSL_GUARDED_BY(ctl_mu_);
  absl::Mutex ready_mu_;
  std::list<Item*> ready_ ABSL_GUARDED_BY(ready_mu_);
  vfs::WaitQueue queue_;  // those waiting on this epoll (a poll, an outer epoll)
};

}  // namespace sentry::fsimpl::epoll
