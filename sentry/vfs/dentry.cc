#include "sentry/vfs/dentry.h"

#include <vector>

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

Result<std::shared_ptr<Dentry>> Dentry::Child(std::string_view name) {
  {
    absl::MutexLock lock(&mu_);
    auto it = children_.find(name);
    if (it != children_.end()) return it->second;
  }
  std::shared_ptr<Inode> child = TRY(inode_->Lookup(name));
  if (!cached_ || !inode_->CachesChild(name)) {
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
