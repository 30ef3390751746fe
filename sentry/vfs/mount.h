// Mounts and the mount tree. A VirtualDentry (mount, dentry) names a place in the whole tree.
//
// A Mount owns the mounts that sit on it (its children, by mountpoint dentry) and points to its
// parent weakly, so a tree has no ownership cycle and a detached tree (umount2 MNT_DETACH) lives
// on, whole, as long as an open file or a working directory holds one of its mounts. The
// namespace keeps the order mounts were added in, for /proc/PID/mounts. One lock guards the shape
// of every tree (Linux's mount_lock).
#pragma once

#include <sys/mount.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/vfs/dentry.h"

namespace sentry::vfs {

// The per-mount flags a Mount keeps, as mount(2)'s MS_* bits. A mount without MS_NOATIME or
// MS_STRICTATIME is relatime, Linux's default.
inline constexpr int kMountFlagsMask = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME |
                                       MS_NODIRATIME | MS_STRICTATIME | MS_NOSYMFOLLOW;

class MountNamespace;
struct VirtualDentry;

class Mount {
 public:
  // `fs_root`: where `root` lies inside the file system the mount shows (mountinfo's root
  // field), when that is not the path the sandbox's own dentries give: a --volume binds a host
  // directory, which is a root in the sandbox but e.g. /home/u/data on its host file system.
  Mount(std::shared_ptr<Dentry> root, std::string fs_type, std::string source, int flags,
        std::string fs_root = {})
      : root_(std::move(root)),
        fs_type_(std::move(fs_type)),
        source_(std::move(source)),
        fs_root_(std::move(fs_root)),
        flags_(flags & kMountFlagsMask) {}

  const std::shared_ptr<Dentry>& root() const { return root_; }
  const std::string& fs_type() const { return fs_type_; }
  const std::string& source() const { return source_; }
  // Empty unless given: the root dentry's own path in its file system is the answer then.
  const std::string& fs_root() const { return fs_root_; }
  int flags() const { return flags_.load(std::memory_order_relaxed); }  // kMountFlagsMask bits
  bool read_only() const { return flags() & MS_RDONLY; }
  // mountinfo's ID, given when the mount joins a namespace's tree (0 before).
  int id() const { return id_.load(std::memory_order_relaxed); }

  // Where this mount sits: null for a namespace's root and for a detached mount.
  std::shared_ptr<Mount> parent() const;
  std::shared_ptr<Dentry> mountpoint() const;
  // Both at once: {parent, mountpoint}, empty when there is none.
  VirtualDentry place() const;

  // Open files that may write through this mount (Linux's mnt_writers): making the mount
  // read-only is EBUSY while there are any. FileDescription counts itself.
  void AddWriter() { writers_.fetch_add(1, std::memory_order_relaxed); }
  void RemoveWriter() { writers_.fetch_sub(1, std::memory_order_relaxed); }

 private:
  friend class MountNamespace;
  const std::shared_ptr<Dentry> root_;
  const std::string fs_type_;
  const std::string source_;
  const std::string fs_root_;
  std::atomic<int> flags_;
  std::atomic<int> id_{0};
  std::atomic<int> writers_{0};
  // Guarded by the mount tree lock (mount.cc).
  std::weak_ptr<Mount> parent_;
  std::shared_ptr<Dentry> mountpoint_;
  const MountNamespace* ns_ = nullptr;  // the namespace whose tree holds it (check_mnt)
  bool expiry_mark_ = false;            // umount2(MNT_EXPIRE) asked once
  // mountpoint dentry -> the mounts on it, last on top.
  std::map<const Dentry*, std::vector<std::shared_ptr<Mount>>> children_;
};

struct VirtualDentry {
  std::shared_ptr<Mount> mount;
  std::shared_ptr<Dentry> dentry;

  bool operator==(const VirtualDentry& o) const { return mount == o.mount && dentry == o.dentry; }
  Inode& inode() const { return dentry->inode(); }
};

class MountNamespace {
 public:
  explicit MountNamespace(std::shared_ptr<Mount> root);

  VirtualDentry Root() const { return {root_, root_->root()}; }
  // The mount on top of `at`, if something is mounted there.
  std::shared_ptr<Mount> MountedAt(const VirtualDentry& at) const;
  // Mounts `m` on `at`, above whatever is mounted there already, with the mounts already below
  // `m` (a tree from CloneTree). ENOTDIR when one of `at` and m's root is a directory and the
  // other is not.
  Result<void> AddMount(const VirtualDentry& at, std::shared_ptr<Mount> m);
  // Whether `m` is in this namespace's tree (not detached, not a private mount of some file).
  bool Contains(const Mount& m) const;
  // A bind mount of `source`: a new mount of source.mount's file system rooted at
  // source.dentry, with its flags; with `recursive` (MS_REC), copies of every mount below that
  // place too. Not attached anywhere yet.
  std::shared_ptr<Mount> CloneTree(const VirtualDentry& source, bool recursive) const;
  // umount2: takes `m` out of the tree with every mount below it. Mounts not in the tree are
  // EINVAL, the namespace's root EBUSY. Without `detach`, EBUSY when a mount sits on `m` or
  // anything holds `m` beyond the tree itself and the caller's `caller_refs` references (open
  // files, working directories, roots: Linux's refcount check).
  Result<void> Unmount(const std::shared_ptr<Mount>& m, bool detach, long caller_refs);
  // umount2(MNT_EXPIRE): the first call marks `m` and is EAGAIN; the next unmounts it.
  Result<void> Expire(const std::shared_ptr<Mount>& m, long caller_refs);
  // MS_MOVE: moves `m` (with the mounts on it) to `at`. EINVAL for the root, a mount not in the
  // tree or a directory/non-directory mismatch; ELOOP when `at` lies on `m` itself.
  Result<void> Move(const std::shared_ptr<Mount>& m, const VirtualDentry& at);
  // MS_REMOUNT: sets m's kMountFlagsMask flags; EBUSY when that makes it read-only while files
  // are open for writing through it.
  Result<void> SetFlags(Mount& m, int flags);
  // Every mount, in the order they were added (parents before children): /proc/PID/mounts.
  std::vector<std::shared_ptr<Mount>> Mounts() const;

  // The absolute path of `vd` as seen from `root` (getcwd, /proc/self/fd links). Places outside
  // `root` are shown from the real root, as Linux does.
  std::string PathOf(const VirtualDentry& vd, const VirtualDentry& root) const;

 private:
  // Detaches `m` and everything below it; the tree lock is held.
  void DetachLocked(const std::shared_ptr<Mount>& m);
  void AttachLocked(const VirtualDentry& at, const std::shared_ptr<Mount>& m);
  // Calls `visit` for `m` and every mount below it, parents first; the tree lock is held.
  static void ForEachInTree(const std::shared_ptr<Mount>& m,
                            const std::function<void(const std::shared_ptr<Mount>&)>& visit);

  std::shared_ptr<Mount> root_;
  // Guarded by the mount tree lock.
  std::vector<std::shared_ptr<Mount>> all_;
  int next_id_ = 1;
};

}  // namespace sentry::vfs
