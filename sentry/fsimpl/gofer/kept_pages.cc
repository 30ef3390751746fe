#include "sentry/fsimpl/gofer/kept_pages.h"

#include <algorithm>

#include "sentry/base/user_addr.h"

namespace sentry::fsimpl::gofer {

uint64_t KeptPages::BudgetFor(uint64_t mem_total_bytes) {
  return std::clamp<uint64_t>(mem_total_bytes / 32, uint64_t{16} << 20, uint64_t{256} << 20);
}

KeptPages::KeptPages(uint64_t budget_bytes) : budget_pages_(budget_bytes / kPageSize) {}

KeptPages& KeptPages::Sandbox() {
  // Never destroyed: page caches may go after static teardown.
  static KeptPages* sandbox = new KeptPages(kDefaultBudgetBytes);
  return *sandbox;
}

void KeptPages::SetBudgetBytes(uint64_t bytes) {
  {
    absl::MutexLock lock(&mu_);
    budget_pages_ = bytes / kPageSize;
  }
  Reclaim();
}

uint64_t KeptPages::budget_pages() {
  absl::MutexLock lock(&mu_);
  return budget_pages_;
}

uint64_t KeptPages::kept_pages() {
  absl::MutexLock lock(&mu_);
  return total_;
}

size_t KeptPages::holders() {
  absl::MutexLock lock(&mu_);
  return by_age_.size();
}

uint64_t KeptPages::Keep(const std::shared_ptr<Holder>& holder, uint64_t pages) {
  absl::MutexLock lock(&mu_);
  ForgetLocked(holder.get());
  uint64_t seq = next_seq_++;
  by_age_.emplace(seq, Entry{holder, holder.get(), pages});
  seq_of_[holder.get()] = seq;
  total_ += pages;
  return seq;
}

void KeptPages::Resize(const Holder* holder, uint64_t pages) {
  absl::MutexLock lock(&mu_);
  auto it = seq_of_.find(holder);
  if (it == seq_of_.end()) return;
  Entry& e = by_age_.at(it->second);
  total_ = total_ - e.pages + pages;
  e.pages = pages;
}

void KeptPages::Forget(const Holder* holder) {
  absl::MutexLock lock(&mu_);
  ForgetLocked(holder);
}

void KeptPages::ForgetLocked(const Holder* holder) {
  auto it = seq_of_.find(holder);
  if (it == seq_of_.end()) return;
  auto e = by_age_.find(it->second);
  total_ -= e->second.pages;
  by_age_.erase(e);
  seq_of_.erase(it);
}

void KeptPages::Reclaim() {
  while (true) {
    std::shared_ptr<Holder> victim;
    uint64_t seq;
    {
      absl::MutexLock lock(&mu_);
      if (total_ <= budget_pages_ || by_age_.empty()) return;
      auto oldest = by_age_.begin();
      seq = oldest->first;
      victim = oldest->second.holder.lock();
      if (!victim) {  // dying: its destructor frees the pages and forgets it
        ForgetLocked(oldest->second.key);
        continue;
      }
    }
    victim->EvictKept(seq);
    // EvictKept forgets the entry, or it was forgotten (mapped again) or renewed meanwhile:
    // either way the oldest entry is another one now.
    absl::MutexLock lock(&mu_);
    if (auto it = by_age_.find(seq); it != by_age_.end()) ForgetLocked(it->second.key);
  }
}

}  // namespace sentry::fsimpl::gofer
