#include "sentry/vfs/dnotify.h"

#include <fcntl.h>
#include <signal.h>

#include <algorithm>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/fsnotify.h"

namespace sentry::vfs::dnotify {

namespace internal {
std::atomic<uint64_t> registrations{0};
}

namespace {

// The fsnotify events each DN_* bit stands for. A name moved out of or into the directory is
// a deletion or a creation to dnotify; DN_RENAME is a rename inside it.
uint32_t EventsOf(uint32_t arg) {
  uint32_t events = 0;
  if (arg & DN_ACCESS) events |= fsnotify::kAccess;
  if (arg & DN_MODIFY) events |= fsnotify::kModify;
  if (arg & DN_CREATE) events |= fsnotify::kCreate | fsnotify::kMovedTo;
  if (arg & DN_DELETE) events |= fsnotify::kDelete | fsnotify::kMovedFrom;
  if (arg & DN_RENAME) events |= fsnotify::kRename;
  if (arg & DN_ATTRIB) events |= fsnotify::kAttrib;
  return events;
}

struct Registration {
  const void* table;
  std::shared_ptr<FileDescription> file;
  int fd;
  uint32_t events;
  bool multishot;
  SigioSender sender;
};

class DirMark;

// Every watched directory's mark, and the registrations in them, under one lock: F_NOTIFY is
// rare, and one lock keeps Set, Flush and event delivery simple to reason about.
struct Registry {
  static Registry& Get() {
    static auto* r = new Registry();  // never destroyed: closes may come during exit
    return *r;
  }
  absl::Mutex mu;  // before fsnotify's table lock (marks are added and removed under it)
  absl::flat_hash_map<const Inode*, std::shared_ptr<DirMark>> marks ABSL_GUARDED_BY(mu);
};

class DirMark : public fsnotify::Mark {
 public:
  explicit DirMark(const Inode* inode) : Mark(0), inode_(inode) {}

  void Handle(uint32_t mask, std::string_view, uint32_t, bool) override {
    struct Signal {
      std::shared_ptr<FileDescription> file;
      int fd;
      SigioSender sender;
    };
    std::vector<Signal> signals;
    Registry& r = Registry::Get();
    {
      absl::MutexLock lock(&r.mu);
      bool changed = false;
      std::erase_if(regs_, [&](Registration& reg) {
        if (!(reg.events & mask)) return false;
        signals.push_back({reg.file, reg.fd, reg.sender});
        if (reg.multishot) return false;
        changed = true;
        internal::registrations.fetch_sub(1, std::memory_order_relaxed);
        return true;
      });
      if (changed) UpdateLocked(r);
    }
    for (const auto& s : signals) {
      s.sender(s.file->async().owner(), s.file->async().signal(), s.fd, POLL_MSG);
    }
  }

  void Detached() override {
    Registry& r = Registry::Get();
    std::vector<Registration> gone;  // files released unlocked
    absl::MutexLock lock(&r.mu);
    internal::registrations.fetch_sub(regs_.size(), std::memory_order_relaxed);
    gone = std::move(regs_);
    regs_.clear();
    if (auto it = r.marks.find(inode_); it != r.marks.end() && it->second.get() == this) {
      r.marks.erase(it);
    }
  }

  // Recomputes the mark's events after a change to its registrations, and leaves the
  // directory when none is left.
  void UpdateLocked(Registry& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r.mu) {
    uint32_t events = 0;
    for (const auto& reg : regs_) events |= reg.events;
    if (!regs_.empty()) {
      fsnotify::SetMask(*inode_, *this, events);
      return;
    }
    fsnotify::RemoveMark(*inode_, *this);
    if (auto it = r.marks.find(inode_); it != r.marks.end() && it->second.get() == this) {
      r.marks.erase(it);
    }
  }

  std::vector<Registration> regs_;  // guarded by Registry::mu

 private:
  const Inode* inode_;  // the key only: fsnotify's table keeps the inode alive
};

}  // namespace

Result<void> Set(const std::shared_ptr<FileDescription>& file, int fd, const void* table,
                 uint32_t arg, SigioSender sender) {
  if ((arg & ~DN_MULTISHOT) == 0) {
    Flush(file.get(), table);
    return {};
  }
  if (!file->path().dentry || !file->path().inode().IsDir()) return Err(ENOTDIR);
  const std::shared_ptr<Inode>& inode = file->path().dentry->inode_ptr();
  uint32_t events = EventsOf(arg);
  bool multishot = arg & DN_MULTISHOT;
  Registry& r = Registry::Get();
  absl::MutexLock lock(&r.mu);
  std::shared_ptr<DirMark>& mark = r.marks[inode.get()];
  bool fresh = !mark;
  if (fresh) mark = std::make_shared<DirMark>(inode.get());
  auto it = std::find_if(mark->regs_.begin(), mark->regs_.end(), [&](const Registration& reg) {
    return reg.table == table && reg.file == file;
  });
  if (it != mark->regs_.end()) {
    // As Linux's attach_dn: the same fd table and file add events and take the new fd.
    it->fd = fd;
    it->events |= events;
    it->multishot = it->multishot || multishot;
    it->sender = std::move(sender);
  } else {
    mark->regs_.push_back({table, file, fd, events, multishot, std::move(sender)});
    internal::registrations.fetch_add(1, std::memory_order_relaxed);
  }
  if (fresh) {
    fsnotify::SetMask(*inode, *mark, events);
    fsnotify::AddMark(inode, mark);
  } else {
    mark->UpdateLocked(r);
  }
  return {};
}

void FlushSlow(const FileDescription& file, const void* table) {
  if (!file.path().dentry) return;
  std::vector<Registration> gone;  // files released unlocked
  Registry& r = Registry::Get();
  absl::MutexLock lock(&r.mu);
  auto it = r.marks.find(&file.path().inode());
  if (it == r.marks.end()) return;
  std::shared_ptr<DirMark> mark = it->second;
  auto& regs = mark->regs_;
  auto reg = std::find_if(regs.begin(), regs.end(), [&](const Registration& x) {
    return x.table == table && x.file.get() == &file;
  });
  if (reg == regs.end()) return;
  gone.push_back(std::move(*reg));
  regs.erase(reg);
  internal::registrations.fetch_sub(1, std::memory_order_relaxed);
  mark->UpdateLocked(r);
}

}  // namespace sentry::vfs::dnotify
