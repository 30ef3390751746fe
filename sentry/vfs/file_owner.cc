#include "sentry/vfs/file_owner.h"

#include <poll.h>
#include <signal.h>

namespace sentry::vfs {

AsyncState::~AsyncState() { (void)Disable(); }

FileOwner AsyncState::owner() const {
  absl::MutexLock lock(&mu_);
  return owner_;
}

void AsyncState::set_owner(const FileOwner& owner) {
  absl::MutexLock lock(&mu_);
  owner_ = owner;
}

int AsyncState::signal() const {
  absl::MutexLock lock(&mu_);
  return signal_;
}

void AsyncState::set_signal(int sig) {
  absl::MutexLock lock(&mu_);
  signal_ = sig;
}

void AsyncState::Enable(std::shared_ptr<WaitQueue> queue, bool readable, bool writable, int fd,
                        SigioSender sender) {
  absl::MutexLock reg(&reg_mu_);
  {
    absl::MutexLock lock(&mu_);
    fd_ = fd;
    readable_ = readable;
    writable_ = writable;
    sender_ = std::move(sender);
  }
  if (entry_) return;
  entry_ = std::make_unique<WaitEntry>();
  entry_->mask = (readable ? POLLIN | POLLRDNORM | POLLHUP : 0) |
                 (writable ? POLLOUT | POLLWRNORM | POLLERR : 0);
  // The entry leaves the queue (under the queue's lock) before this object goes, so `this`
  // outlives every call.
  entry_->callback = [this](uint32_t events) { Fire(events); };
  queue_ = std::move(queue);
  queue_->Add(entry_.get());
}

bool AsyncState::Disable() {
  absl::MutexLock reg(&reg_mu_);
  if (!entry_) return false;
  queue_->Remove(entry_.get());
  entry_.reset();
  queue_.reset();
  return true;
}

void AsyncState::Fire(uint32_t events) {
  FileOwner owner;
  int signum, fd;
  SigioSender sender;
  int reason;
  {
    absl::MutexLock lock(&mu_);
    // Linux signals readers with POLL_IN when data comes (or the last writer goes) and writers
    // with POLL_OUT when room is made; a hang-up or error alone reports itself.
    if (readable_ && (events & (POLLIN | POLLRDNORM))) {
      reason = POLL_IN;
    } else if (writable_ && (events & (POLLOUT | POLLWRNORM))) {
      reason = POLL_OUT;
    } else if (events & POLLHUP) {
      reason = POLL_HUP;
    } else if (events & POLLERR) {
      reason = POLL_ERR;
    } else {
      return;
    }
    if (owner_.pid == 0 || !sender_) return;
    owner = owner_;
    signum = signal_;
    fd = fd_;
    sender = sender_;
  }
  sender(owner, signum, fd, reason);
}

}  // namespace sentry::vfs
