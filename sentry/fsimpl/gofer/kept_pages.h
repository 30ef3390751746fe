// KeptPages: the sandbox-wide budget for the clean pages that host files' page caches keep
// after their last mapping went (so that mapping the file again costs no host read), with
// least-recently-unmapped reclaim when they exceed it.
//
// A cache that keeps pages with no mapping left registers them here (Keep) and leaves when it is
// mapped again or dies (Forget). Whoever registered pages calls Reclaim afterwards, with no
// cache lock held: it asks the caches unmapped longest ago to give back all their pages until
// the total fits. A cache's entry carries the sequence number Keep gave it, so an eviction
// decided before the cache was mapped again (and perhaps kept again) does nothing.
//
// Pages of mapped files are not counted: they are in use, as the application's own memory is.
//
// Lock order: a cache's lock before mu_ (a leaf): caches call Keep/Resize/Forget under their
// own lock; Reclaim takes mu_ only to pick a victim and calls Evict without it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace sentry::fsimpl::gofer {

class KeptPages {
 public:
  // What keeps pages: a page cache.
  class Holder {
   public:
    virtual ~Holder() = default;
    // Give back every kept page if the pages are still the ones registered as `seq` (not mapped
    // again since), and Forget. Called with no KeptPages lock held.
    virtual void EvictKept(uint64_t seq) = 0;
  };

  // The budget when boot set none; see docs/architecture.md for the choice.
  static constexpr uint64_t kDefaultBudgetBytes = uint64_t{64} << 20;
  // The budget for a sandbox that sees `mem_total_bytes` of memory: 1/32 of it, at least
  // 16 MiB and at most 256 MiB.
  static uint64_t BudgetFor(uint64_t mem_total_bytes);

  explicit KeptPages(uint64_t budget_bytes);
  // The sandbox's instance, used by every page cache of the gofer's files.
  static KeptPages& Sandbox();

  void SetBudgetBytes(uint64_t bytes);
  uint64_t budget_pages();
  uint64_t kept_pages();
  // Caches with kept pages.
  size_t holders();

  // `holder` keeps `pages` clean pages and has no mapping: it becomes the most recently unmapped.
  // Returns its sequence number (never 0). A holder already here is moved to the young end.
  uint64_t Keep(const std::shared_ptr<Holder>& holder, uint64_t pages);
  // A kept holder's page count changed (truncation, pages dropped after a host change).
  void Resize(const Holder* holder, uint64_t pages);
  // `holder` keeps nothing any more here: mapped again, emptied, or dying.
  void Forget(const Holder* holder);
  // Evicts the holders kept longest until the kept pages fit the budget.
  void Reclaim();

 private:
  struct Entry {
    std::weak_ptr<Holder> holder;
    const Holder* key;
    uint64_t pages;
  };
  void ForgetLocked(const Holder* holder) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  uint64_t budget_pages_ ABSL_GUARDED_BY(mu_);
  uint64_t total_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, Entry> by_age_ ABSL_GUARDED_BY(mu_);  // by sequence: oldest first
  absl::flat_hash_map<const Holder*, uint64_t> seq_of_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sentry::fsimpl::gofer
