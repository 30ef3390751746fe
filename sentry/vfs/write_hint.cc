#include "sentry/vfs/write_hint.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace sentry::vfs {
namespace {

struct Entry {
  std::weak_ptr<const void> owner;  // tells a live owner from a new one at a reused address
  uint64_t hint = 0;
};

struct Table {
  absl::Mutex mu;
  absl::flat_hash_map<const void*, Entry> entries ABSL_GUARDED_BY(mu);
  size_t prune_at ABSL_GUARDED_BY(mu) = 64;
};

Table& TheTable() {
  static Table* table = new Table();  // never destroyed: files may go after static teardown
  return *table;
}

bool SameOwner(const std::weak_ptr<const void>& a, const std::weak_ptr<const void>& b) {
  return !a.owner_before(b) && !b.owner_before(a);
}

}  // namespace

uint64_t WriteHints::Get(const std::weak_ptr<const void>& owner) {
  auto live = owner.lock();
  if (!live) return 0;
  Table& t = TheTable();
  absl::MutexLock lock(&t.mu);
  auto it = t.entries.find(live.get());
  if (it == t.entries.end() || it->second.owner.expired() || !SameOwner(it->second.owner, owner)) {
    return 0;
  }
  return it->second.hint;
}

void WriteHints::Set(const std::weak_ptr<const void>& owner, uint64_t hint) {
  auto live = owner.lock();
  if (!live) return;
  Table& t = TheTable();
  absl::MutexLock lock(&t.mu);
  t.entries[live.get()] = Entry{owner, hint};
  // Entries of owners that are gone go now and then, so the table stays as big as the files
  // that have hints.
  if (t.entries.size() >= t.prune_at) {
    absl::erase_if(t.entries, [](const auto& kv) { return kv.second.owner.expired(); });
    t.prune_at = std::max<size_t>(64, 2 * t.entries.size());
  }
}

}  // namespace sentry::vfs
