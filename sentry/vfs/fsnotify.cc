#include "sentry/vfs/fsnotify.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "sentry/vfs/dentry.h"
#include "sentry/vfs/file_description.h"

namespace sentry::vfs::fsnotify {

namespace internal {
std::atomic<uint64_t> marks{0};
}

namespace {

// Events that reach a mark whatever it asked for are not in this set (none so far: inotify
// asks for kUnmount itself, and makes its IN_IGNORED on its own).
constexpr uint32_t kEventBits = ~kIsDir;

struct InodeMarks {
  std::shared_ptr<Inode> inode;  // keeps a marked inode alive, as Linux's marks pin theirs
  std::vector<std::shared_ptr<Mark>> marks;
  uint32_t mask = 0;  // the union of the marks' masks
  // The unlinked name whose release ends the inode (see Unlinked); only compared, never used.
  const Dentry* pending = nullptr;

  void Recalc() {
    mask = 0;
    for (const auto& m : marks) mask |= m->mask();
  }
};

class Table {
 public:
  static Table& Get() {
    static auto* table = new Table();  // never destroyed: reports may come during exit
    return *table;
  }

  absl::Mutex mu;
  absl::flat_hash_map<const Inode*, InodeMarks> by_inode ABSL_GUARDED_BY(mu);
};

using MarkList = std::vector<std::shared_ptr<Mark>>;

// The marks on `inode` that want an event of `mask`.
void Collect(Table& table, const Inode& inode, uint32_t mask, MarkList& out)
    ABSL_SHARED_LOCKS_REQUIRED(table.mu) {
  auto it = table.by_inode.find(&inode);
  if (it == table.by_inode.end() || !(it->second.mask & mask & kEventBits)) return;
  for (const auto& m : it->second.marks) {
    if (m->mask() & mask & kEventBits) out.push_back(m);
  }
}

// Removes every mark of `inode` from the table; they are detached by the caller, unlocked.
MarkList TakeAll(Table& table, const Inode& inode) ABSL_EXCLUSIVE_LOCKS_REQUIRED(table.mu) {
  auto it = table.by_inode.find(&inode);
  if (it == table.by_inode.end()) return {};
  MarkList out = std::move(it->second.marks);
  internal::marks.fetch_sub(out.size(), std::memory_order_relaxed);
  table.by_inode.erase(it);
  return out;
}

}  // namespace

void AddMark(std::shared_ptr<Inode> inode, std::shared_ptr<Mark> mark) {
  Table& table = Table::Get();
  absl::MutexLock lock(&table.mu);
  InodeMarks& entry = table.by_inode[inode.get()];
  if (!entry.inode) entry.inode = std::move(inode);
  entry.mask |= mark->mask();
  entry.marks.push_back(std::move(mark));
  internal::marks.fetch_add(1, std::memory_order_relaxed);
}

bool RemoveMark(const Inode& inode, const Mark& mark) {
  Table& table = Table::Get();
  std::shared_ptr<Inode> last;  // an inode whose last mark goes is released unlocked
  absl::MutexLock lock(&table.mu);
  auto it = table.by_inode.find(&inode);
  if (it == table.by_inode.end()) return false;
  auto& marks = it->second.marks;
  auto m =
      std::find_if(marks.begin(), marks.end(), [&](const auto& p) { return p.get() == &mark; });
  if (m == marks.end()) return false;
  marks.erase(m);
  internal::marks.fetch_sub(1, std::memory_order_relaxed);
  if (marks.empty()) {
    last = std::move(it->second.inode);
    table.by_inode.erase(it);
  } else {
    it->second.Recalc();
  }
  return true;
}

void SetMask(const Inode& inode, Mark& mark, uint32_t mask) {
  Table& table = Table::Get();
  absl::MutexLock lock(&table.mu);
  mark.mask_.store(mask, std::memory_order_relaxed);
  if (auto it = table.by_inode.find(&inode); it != table.by_inode.end()) it->second.Recalc();
}

uint32_t NextCookie() {
  static std::atomic<uint32_t> next{0};
  uint32_t cookie;
  do {
    cookie = next.fetch_add(1, std::memory_order_relaxed) + 1;
  } while (cookie == 0);  // 0 means "no cookie"
  return cookie;
}

void NotifyDentrySlow(const Dentry& d, uint32_t mask) {
  const Inode& inode = d.inode();
  if (inode.IsDir()) mask |= kIsDir;
  std::shared_ptr<Dentry> parent = d.parent();
  MarkList parent_marks, own_marks;
  {
    Table& table = Table::Get();
    absl::ReaderMutexLock lock(&table.mu);
    if (parent) Collect(table, parent->inode(), mask, parent_marks);
    Collect(table, inode, mask, own_marks);
  }
  // The directory hears first, then the file itself, as Linux reports them.
  if (!parent_marks.empty()) {
    std::string name = d.name();
    for (const auto& m : parent_marks) m->Handle(mask, name, 0, d.unlinked());
  }
  for (const auto& m : own_marks) m->Handle(mask, {}, 0, false);
}

void NotifyFileSlow(const FileDescription& file, uint32_t mask) {
  if (!file.path().dentry || file.IsPath()) return;
  NotifyDentrySlow(*file.path().dentry, mask);
}

void NotifyChildSlow(const Inode& dir, uint32_t mask, std::string_view name, bool is_dir,
                     uint32_t cookie) {
  if (is_dir) mask |= kIsDir;
  MarkList marks;
  {
    Table& table = Table::Get();
    absl::ReaderMutexLock lock(&table.mu);
    Collect(table, dir, mask, marks);
  }
  for (const auto& m : marks) m->Handle(mask, name, cookie, false);
}

void NotifyInodeSlow(const Inode& inode, uint32_t mask) {
  // Linux marks a directory's attribute and unmount events, not its IN_MOVE_SELF or
  // IN_DELETE_SELF.
  if (inode.IsDir() && !(mask & (kMoveSelf | kDeleteSelf))) mask |= kIsDir;
  MarkList marks;
  {
    Table& table = Table::Get();
    absl::ReaderMutexLock lock(&table.mu);
    Collect(table, inode, mask, marks);
  }
  for (const auto& m : marks) m->Handle(mask, {}, 0, false);
}

bool MarkedLastLink(Inode& inode) {
  if (!Active()) return false;
  {
    Table& table = Table::Get();
    absl::ReaderMutexLock lock(&table.mu);
    if (!table.by_inode.contains(&inode)) return false;
  }
  if (inode.IsDir()) return true;
  // A file that cannot be asked is taken as going.
  auto st = inode.Stat();
  return !st || st->st_nlink <= 1;
}

void Unlinked(const std::shared_ptr<Dentry>& d) {
  Table& table = Table::Get();
  {
    // Under the lock, so that a release racing with this sees `pending` or was counted out.
    absl::MutexLock lock(&table.mu);
    auto it = table.by_inode.find(&d->inode());
    if (it == table.by_inode.end()) return;
    if (d.use_count() > 1) {
      it->second.pending = d.get();
      return;
    }
  }
  Deleted(d->inode());
}

void DentryReleased(const Dentry* d, const Inode& inode) {
  {
    Table& table = Table::Get();
    absl::ReaderMutexLock lock(&table.mu);
    auto it = table.by_inode.find(&inode);
    if (it == table.by_inode.end() || it->second.pending != d) return;
  }
  Deleted(inode);
}

void Deleted(const Inode& inode) {
  NotifyInodeSlow(inode, kDeleteSelf);
  Table& table = Table::Get();
  MarkList gone;
  std::shared_ptr<Inode> keep;  // the table's reference, released unlocked
  {
    absl::MutexLock lock(&table.mu);
    if (auto it = table.by_inode.find(&inode); it != table.by_inode.end()) keep = it->second.inode;
    gone = TakeAll(table, inode);
  }
  for (const auto& m : gone) m->Detached();
}

void Unmounted(const void* filesystem_id) {
  if (!Active()) return;
  Table& table = Table::Get();
  std::vector<std::shared_ptr<Inode>> inodes;
  {
    absl::ReaderMutexLock lock(&table.mu);
    for (const auto& [key, entry] : table.by_inode) {
      if (entry.inode->FilesystemId() == filesystem_id) inodes.push_back(entry.inode);
    }
  }
  for (const auto& inode : inodes) {
    NotifyInodeSlow(*inode, kUnmount);
    MarkList gone;
    {
      absl::MutexLock lock(&table.mu);
      gone = TakeAll(table, *inode);
    }
    for (const auto& m : gone) m->Detached();
  }
}

}  // namespace sentry::vfs::fsnotify
