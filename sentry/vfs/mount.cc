#include "sentry/vfs/mount.h"

#include <algorithm>
#include <functional>

#include "absl/base/const_init.h"

namespace sentry::vfs {
namespace {

// The shape of every mount tree: parents, mountpoints, children, namespaces' lists.
ABSL_CONST_INIT absl::Mutex tree_mu(absl::kConstInit);

// Whether `d` is `ancestor` or lies below it in its file system's tree.
bool IsAtOrBelow(const Dentry* d, const std::shared_ptr<Dentry>& ancestor) {
  std::shared_ptr<Dentry> cur;
  while (d != nullptr) {
    if (d == ancestor.get()) return true;
    cur = d->parent();
    d = cur.get();
  }
  return false;
}

}  // namespace

std::shared_ptr<Mount> Mount::parent() const {
  absl::ReaderMutexLock lock(&tree_mu);
  return parent_.lock();
}

std::shared_ptr<Dentry> Mount::mountpoint() const {
  absl::ReaderMutexLock lock(&tree_mu);
  return mountpoint_;
}

VirtualDentry Mount::place() const {
  absl::ReaderMutexLock lock(&tree_mu);
  auto parent = parent_.lock();
  if (!parent) return {};
  return {std::move(parent), mountpoint_};
}

MountNamespace::MountNamespace(std::shared_ptr<Mount> root) : root_(std::move(root)) {
  absl::MutexLock lock(&tree_mu);
  root_->id_ = next_id_++;
  root_->ns_ = this;
  all_.push_back(root_);
}

std::shared_ptr<Mount> MountNamespace::MountedAt(const VirtualDentry& at) const {
  absl::ReaderMutexLock lock(&tree_mu);
  const auto& children = at.mount->children_;
  auto it = children.find(at.dentry.get());
  if (it == children.end() || it->second.empty()) return nullptr;
  return it->second.back();
}

void MountNamespace::ForEachInTree(
    const std::shared_ptr<Mount>& m,
    const std::function<void(const std::shared_ptr<Mount>&)>& visit) {
  visit(m);
  for (const auto& [mp, stack] : m->children_) {
    for (const auto& c : stack) ForEachInTree(c, visit);
  }
}

void MountNamespace::AttachLocked(const VirtualDentry& at, const std::shared_ptr<Mount>& m) {
  m->parent_ = at.mount;
  m->mountpoint_ = at.dentry;
  at.dentry->KeepFindable();
  at.mount->children_[at.dentry.get()].push_back(m);
}

Result<void> MountNamespace::AddMount(const VirtualDentry& at, std::shared_ptr<Mount> m) {
  if (at.inode().IsDir() != m->root()->inode().IsDir()) return Err(ENOTDIR);
  absl::MutexLock lock(&tree_mu);
  AttachLocked(at, m);
  ForEachInTree(m, [this](const std::shared_ptr<Mount>& each) {
    each->id_ = next_id_++;
    each->ns_ = this;
    all_.push_back(each);
  });
  return {};
}

bool MountNamespace::Contains(const Mount& m) const {
  absl::ReaderMutexLock lock(&tree_mu);
  return m.ns_ == this;
}

std::shared_ptr<Mount> MountNamespace::CloneTree(const VirtualDentry& source,
                                                 bool recursive) const {
  absl::ReaderMutexLock lock(&tree_mu);
  std::function<std::shared_ptr<Mount>(const Mount&, const std::shared_ptr<Dentry>&, bool)> copy =
      [&](const Mount& m, const std::shared_ptr<Dentry>& root, bool all) {
        auto out = std::make_shared<Mount>(root, m.fs_type_, m.source_, m.flags());
        if (!recursive) return out;
        for (const auto& [mp, stack] : m.children_) {
          if (!all && !IsAtOrBelow(mp, root)) continue;
          for (const auto& child : stack) {
            auto c = copy(*child, child->root_, true);
            c->parent_ = out;
            c->mountpoint_ = child->mountpoint_;
            out->children_[mp].push_back(std::move(c));
          }
        }
        return out;
      };
  return copy(*source.mount, source.dentry, false);
}

void MountNamespace::DetachLocked(const std::shared_ptr<Mount>& m) {
  if (auto parent = m->parent_.lock()) {
    auto it = parent->children_.find(m->mountpoint_.get());
    if (it != parent->children_.end()) {
      std::erase(it->second, m);
      if (it->second.empty()) parent->children_.erase(it);
    }
  }
  m->parent_.reset();
  m->mountpoint_.reset();
  // The mounts below stay linked to `m`, so the detached tree still works for whoever holds it.
  ForEachInTree(m, [this](const std::shared_ptr<Mount>& each) {
    each->ns_ = nullptr;
    std::erase(all_, each);
  });
}

Result<void> MountNamespace::Unmount(const std::shared_ptr<Mount>& m, bool detach,
                                     long caller_refs) {
  absl::MutexLock lock(&tree_mu);
  if (m->ns_ != this || m == root_) return Err(m == root_ ? EBUSY : EINVAL);
  if (!detach) {
    if (!m->children_.empty()) return Err(EBUSY);
    // The tree holds two references: all_ and the parent's children_.
    if (m.use_count() > 2 + caller_refs) return Err(EBUSY);
  }
  DetachLocked(m);
  return {};
}

Result<void> MountNamespace::Expire(const std::shared_ptr<Mount>& m, long caller_refs) {
  {
    absl::MutexLock lock(&tree_mu);
    if (m->ns_ != this || m == root_) return Err(EINVAL);
    if (m.use_count() > 2 + caller_refs) return Err(EBUSY);
    if (!m->expiry_mark_) {
      m->expiry_mark_ = true;
      return Err(EAGAIN);
    }
  }
  return Unmount(m, /*detach=*/false, caller_refs);
}

Result<void> MountNamespace::Move(const std::shared_ptr<Mount>& m, const VirtualDentry& at) {
  if (at.inode().IsDir() != m->root()->inode().IsDir()) return Err(EINVAL);
  absl::MutexLock lock(&tree_mu);
  if (m->ns_ != this || m == root_ || at.mount->ns_ != this) return Err(EINVAL);
  for (auto p = at.mount; p; p = p->parent_.lock()) {
    if (p == m) return Err(ELOOP);
  }
  auto parent = m->parent_.lock();
  auto it = parent->children_.find(m->mountpoint_.get());
  if (it != parent->children_.end()) {
    std::erase(it->second, m);
    if (it->second.empty()) parent->children_.erase(it);
  }
  AttachLocked(at, m);
  return {};
}

Result<void> MountNamespace::SetFlags(Mount& m, int flags) {
  flags &= kMountFlagsMask;
  if ((flags & MS_RDONLY) && !m.read_only() && m.writers_.load(std::memory_order_relaxed) > 0) {
    return Err(EBUSY);
  }
  m.flags_.store(flags, std::memory_order_relaxed);
  return {};
}

std::vector<std::shared_ptr<Mount>> MountNamespace::Mounts() const {
  absl::ReaderMutexLock lock(&tree_mu);
  return all_;
}

std::string MountNamespace::PathOf(const VirtualDentry& vd, const VirtualDentry& root) const {
  std::vector<std::string> parts;
  {
    absl::ReaderMutexLock lock(&tree_mu);
    VirtualDentry cur = vd;
    while (!(cur == root)) {
      if (cur.dentry == cur.mount->root()) {
        auto parent = cur.mount->parent_.lock();
        if (!parent) break;  // the real root, or a detached tree's top
        cur = {parent, cur.mount->mountpoint_};
        continue;
      }
      parts.push_back(cur.dentry->name());
      auto up = cur.dentry->parent();
      if (!up) break;
      cur.dentry = up;
    }
  }
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    out.push_back('/');
    out.append(*it);
  }
  if (out.empty()) out.push_back('/');
  if (vd.dentry->unlinked()) out += " (deleted)";
  return out;
}

}  // namespace sentry::vfs
