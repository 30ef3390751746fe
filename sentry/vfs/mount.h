// Mounts and the mount tree. A VirtualDentry (mount, dentry) names a place in the whole tree.
#pragma once

#include <sys/mount.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/vfs/dentry.h"

namespace sentry::vfs {

class Mount {
 public:
  Mount(std::shared_ptr<Dentry> root, std::string fs_type, std::string source, int flags)
      : root_(std::move(root)),
        fs_type_(std::move(fs_type)),
        source_(std::move(source)),
        flags_(flags) {}

  const std::shared_ptr<Dentry>& root() const { return root_; }
  const std::string& fs_type() const { return fs_type_; }
  const std::string& source() const { return source_; }
  int flags() const { return flags_; }  // MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC
  bool read_only() const { return flags_ & MS_RDONLY; }

  // Where this mount sits: set by MountNamespace.
  std::shared_ptr<Mount> parent() const { return parent_.lock(); }
  const std::shared_ptr<Dentry>& mountpoint() const { return mountpoint_; }

 private:
  friend class MountNamespace;
  std::shared_ptr<Dentry> root_;
  std::string fs_type_;
  std::string source_;
  int flags_;
  std::weak_ptr<Mount> parent_;
  std::shared_ptr<Dentry> mountpoint_;
};

struct VirtualDentry {
  std::shared_ptr<Mount> mount;
  std::shared_ptr<Dentry> dentry;

  bool operator==(const VirtualDentry& o) const {
    return mount == o.mount && dentry == o.dentry;
  }
  Inode& inode() const { return dentry->inode(); }
};

class MountNamespace {
 public:
  explicit MountNamespace(std::shared_ptr<Mount> root);

  VirtualDentry Root() const { return {root_, root_->root()}; }
  // The mount on top of `at`, if something is mounted there.
  std::shared_ptr<Mount> MountedAt(const VirtualDentry& at) const;
  // Mounts `m` on `at` (which must be a directory), above whatever is mounted there already.
  Result<void> AddMount(const VirtualDentry& at, std::shared_ptr<Mount> m);
  // Detaches `m` (not the root); EBUSY when something is mounted on it.
  Result<void> RemoveMount(const std::shared_ptr<Mount>& m);
  // Every mount, parents before children: /proc/PID/mounts order.
  std::vector<std::shared_ptr<Mount>> Mounts() const;

  // The absolute path of `vd` as seen from `root` (getcwd, /proc/self/fd links). Places outside
  // `root` are shown from the real root, as Linux does.
  std::string PathOf(const VirtualDentry& vd, const VirtualDentry& root) const;

 private:
  std::shared_ptr<Mount> root_;
  mutable absl::Mutex mu_;
  // (parent mount, mountpoint dentry) -> stack of mounts there, last on top.
  std::map<std::pair<const Mount*, const Dentry*>, std::vector<std::shared_ptr<Mount>>> mounts_
      ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Mount>> all_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sentry::vfs
