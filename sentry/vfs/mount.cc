#include "sentry/vfs/mount.h"

#include <algorithm>

namespace sentry::vfs {

MountNamespace::MountNamespace(std::shared_ptr<Mount> root) : root_(std::move(root)) {
  absl::MutexLock lock(&mu_);
  all_.push_back(root_);
}

std::shared_ptr<Mount> MountNamespace::MountedAt(const VirtualDentry& at) const {
  absl::MutexLock lock(&mu_);
  auto it = mounts_.find({at.mount.get(), at.dentry.get()});
  if (it == mounts_.end() || it->second.empty()) return nullptr;
  return it->second.back();
}

Result<void> MountNamespace::AddMount(const VirtualDentry& at, std::shared_ptr<Mount> m) {
  if (!at.inode().IsDir() || !m->root()->inode().IsDir()) return Err(ENOTDIR);
  absl::MutexLock lock(&mu_);
  m->parent_ = at.mount;
  m->mountpoint_ = at.dentry;
  mounts_[{at.mount.get(), at.dentry.get()}].push_back(m);
  all_.push_back(std::move(m));
  return {};
}

Result<void> MountNamespace::RemoveMount(const std::shared_ptr<Mount>& m) {
  if (m == root_) return Err(EINVAL);
  absl::MutexLock lock(&mu_);
  for (const auto& [key, stack] : mounts_) {
    if (key.first == m.get() && !stack.empty()) return Err(EBUSY);
  }
  auto parent = m->parent_.lock();
  auto it = mounts_.find({parent.get(), m->mountpoint_.get()});
  if (it == mounts_.end()) return Err(EINVAL);
  auto& stack = it->second;
  auto pos = std::find(stack.begin(), stack.end(), m);
  if (pos == stack.end()) return Err(EINVAL);
  stack.erase(pos);
  if (stack.empty()) mounts_.erase(it);
  all_.erase(std::find(all_.begin(), all_.end(), m));
  return {};
}

std::vector<std::shared_ptr<Mount>> MountNamespace::Mounts() const {
  absl::MutexLock lock(&mu_);
  return all_;
}

std::string MountNamespace::PathOf(const VirtualDentry& vd, const VirtualDentry& root) const {
  std::vector<std::string> parts;
  VirtualDentry cur = vd;
  while (!(cur == root)) {
    if (cur.dentry == cur.mount->root()) {
      auto parent = cur.mount->parent();
      if (!parent) break;  // the real root
      cur = {parent, cur.mount->mountpoint()};
      continue;
    }
    parts.push_back(cur.dentry->name());
    auto up = cur.dentry->parent();
    if (!up) break;
    cur.dentry = up;
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
