#include "sentry/vfs/dentry.h"

#include <algorithm>
#include <vector>

#include "sentry/vfs/fsnotify.h"

namespace sentry::vfs {

std::shared_ptr<Dentry> Dentry::NewRoot(std::shared_ptr<Inode> inode) {
  return std::make_shared<Dentry>("/", std::weak_ptr<Dentry>(), std::move(inode));
}

std::shared_ptr<Dentry> Dentry::NewUnlinked(std::string name, const std::shared_ptr<Dentry>& parent,
                                            std::shared_ptr<Inode> inode) {
  auto d = std::make_shared<Dentry>(std::move(name), parent, std::move(inode));
  d->unlinked_ = true;
  return d;
}

Dentry::Dentry(std::string name, std::weak_ptr<Dentry> parent, std::shared_ptr<Inode> inode)
    : name_(std::move(name)), parent_(std::move(parent)), inode_(std::move(inode)) {}

Dentry::~Dentry() {
  if (fsnotify::Active() && inode_) fsnotify::DentryReleased(this, *inode_);
  if (!uncached_parent_) return;
  absl::MutexLock lock(&uncached_parent_->mu_);
  auto& findable = uncached_parent_->findable_;
  // Only our own entry, not a newer dentry's of the same name.
  if (auto it = findable.find(name_); it != findable.end() && it->second.expired()) {
    findable.erase(it);
  }
}

void Dentry::KeepFindable() {
  for (Dentry* d = this; d->uncached_parent_ != nullptr; d = d->uncached_parent_.get()) {
    absl::MutexLock lock(&d->uncached_parent_->mu_);
    d->uncached_parent_->findable_[d->name_] = d->weak_from_this();
  }
}

std::shared_ptr<Dentry> Dentry::FindableChild(std::string_view name, Inode& fresh) {
  std::shared_ptr<Dentry> kept;
  {
    absl::MutexLock lock(&mu_);
    auto it = findable_.find(name);
    if (it == findable_.end()) return nullptr;
    kept = it->second.lock();
  }
  // The name may stand for another file now (a reused PID): only the same, live one counts.
  // (`kept` goes out of scope with no lock held: its destructor takes ours.)
  if (kept == nullptr) return nullptr;
  auto was = kept->inode().Stat();
  auto now = fresh.Stat();
  if (!was || !now || was->st_ino != now->st_ino || was->st_dev != now->st_dev) return nullptr;
  return kept;
}

Result<std::shared_ptr<Dentry>> Dentry::Child(std::string_view name) {
  {
    absl::MutexLock lock(&mu_);
    auto it = children_.find(name);
    if (it != children_.end()) return it->second;
  }
  std::shared_ptr<Inode> child = TRY(inode_->Lookup(name));
  if (!cached_ || !inode_->CachesChild(name)) {
    if (auto kept = FindableChild(name, *child)) return kept;
    auto d = std::make_shared<Dentry>(std::string(name), weak_from_this(), std::move(child));
    d->uncached_parent_ = shared_from_this();
    d->cached_ = false;
    return d;
  }
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = children_.try_emplace(
      std::string(name), std::make_shared<Dentry>(std::string(name), weak_from_this(), child));
  return it->second;
}

Result<size_t> Dentry::Revalidate(std::span<const std::string_view> names) {
  // Bounded so that one request (names and the stats that answer them) stays small.
  constexpr size_t kMaxChain = 64;
  std::vector<std::shared_ptr<Dentry>> chain;
  std::vector<Inode*> inodes;
  Dentry* dir = this;
  for (std::string_view name : names.first(std::min(names.size(), kMaxChain))) {
    std::shared_ptr<Dentry> child;
    {
      absl::MutexLock lock(&dir->mu_);
      auto it = dir->children_.find(name);
      if (it == dir->children_.end()) break;
      child = it->second;
    }
    inodes.push_back(child->inode_.get());
    chain.push_back(std::move(child));
    if (!chain.back()->inode_->IsDir()) break;
    dir = chain.back().get();
  }
  if (chain.empty()) return 0;
  size_t valid = TRY(inode_->Revalidate(names.first(chain.size()), inodes));
  if (valid < chain.size()) {
    Dentry& parent = valid == 0 ? *this : *chain[valid - 1];
    std::shared_ptr<Dentry> stale;  // released outside the lock
    absl::MutexLock lock(&parent.mu_);
    auto it = parent.children_.find(names[valid]);
    // Another task may have replaced it with a fresh lookup meanwhile: keep that one.
    if (it != parent.children_.end() && it->second == chain[valid]) {
      stale = std::move(it->second);
      stale->unlinked_ = true;
      parent.children_.erase(it);
    }
  }
  return chain.size();
}

void Dentry::AddChild(std::string_view name, std::shared_ptr<Inode> inode) {
  absl::MutexLock lock(&mu_);
  children_[std::string(name)] =
      std::make_shared<Dentry>(std::string(name), weak_from_this(), std::move(inode));
}

void Dentry::DropChild(std::string_view name) {
  std::shared_ptr<Dentry> gone;  // released outside the lock
  absl::MutexLock lock(&mu_);
  auto it = children_.find(name);
  if (it == children_.end()) return;
  gone = std::move(it->second);
  gone->unlinked_ = true;
  children_.erase(it);
}

void Dentry::MoveChild(Dentry& old_parent, std::string_view name, Dentry& new_parent,
                       std::string_view new_name) {
  std::shared_ptr<Dentry> moved;
  {
    absl::MutexLock lock(&old_parent.mu_);
    auto it = old_parent.children_.find(name);
    if (it != old_parent.children_.end()) {
      moved = std::move(it->second);
      old_parent.children_.erase(it);
    }
  }
  new_parent.DropChild(new_name);
  if (!moved) return;  // never looked up: the next lookup finds it at its new place
  moved->name_ = std::string(new_name);
  moved->parent_ = new_parent.weak_from_this();
  absl::MutexLock lock(&new_parent.mu_);
  new_parent.children_[std::string(new_name)] = std::move(moved);
}

std::string Dentry::PathInFilesystem() const {
  std::vector<std::string> parts;
  auto d = std::const_pointer_cast<Dentry>(shared_from_this());
  while (auto p = d->parent()) {
    parts.push_back(d->name_);
    d = p;
  }
  if (parts.empty()) return "/";
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    out.push_back('/');
    out.append(*it);
  }
  return out;
}

}  // namespace sentry::vfs
