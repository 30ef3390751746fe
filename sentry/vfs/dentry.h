// Dentry: a name in the tree, caching the Inode it names and the children looked up so far, so
// that resolving a path a second time costs no file system round trip.
//
// A Dentry owns its children (the cache); a child points back to its parent weakly, so the tree
// has no ownership cycles. A file description keeps its own Dentry (and so its Inode) alive
// after an unlink.
#pragma once

#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/vfs/inode.h"

namespace sentry::vfs {

class Dentry : public std::enable_shared_from_this<Dentry> {
 public:
  // The root of a file system tree.
  static std::shared_ptr<Dentry> NewRoot(std::shared_ptr<Inode> inode);

  Dentry(std::string name, std::weak_ptr<Dentry> parent, std::shared_ptr<Inode> inode);
  ~Dentry();  // an unlinked name's release may end its inode's watches (vfs/fsnotify.h)
  // A name that was never entered in `parent` (and no lookup finds): what an O_TMPFILE or
  // memfd file is opened through. Paths of it end in " (deleted)", as on Linux.
  static std::shared_ptr<Dentry> NewUnlinked(std::string name,
                                             const std::shared_ptr<Dentry>& parent,
                                             std::shared_ptr<Inode> inode);

  const std::string& name() const { return name_; }
  std::shared_ptr<Dentry> parent() const { return parent_.lock(); }
  Inode& inode() const { return *inode_; }
  const std::shared_ptr<Inode>& inode_ptr() const { return inode_; }
  bool IsRoot() const { return parent_.expired() && !unlinked_; }
  bool unlinked() const { return unlinked_; }

  // The child `name` (not "." or ".."), from the cache or the file system; ENOENT if none. A
  // name the file system does not let the cache keep comes back anew from each call.
  Result<std::shared_ptr<Dentry>> Child(std::string_view name);
  // Checks the children cached along `names` (names[0] below this dentry, names[1] below
  // that, ...) with the file system when it RevalidatesNames(), in one round trip, and drops
  // the first one that is gone or names another file now, with its subtree. Returns how many
  // of `names` the cache covered (all were checked; those past them were not cached, so their
  // lookups will ask the file system anyway).
  Result<size_t> Revalidate(std::span<const std::string_view> names);

  // Cache maintenance after the file system changed a name.
  void AddChild(std::string_view name, std::shared_ptr<Inode> inode);
  void DropChild(std::string_view name);
  // Moves child `name` to `new_parent` as `new_name` (rename).
  static void MoveChild(Dentry& old_parent, std::string_view name, Dentry& new_parent,
                        std::string_view new_name);

  // Something is mounted here: lookups must find this very dentry again while it lives, even
  // if its parent does not cache it (a /proc/PID name), and so must they its uncached parents.
  // Called under the mount tree's lock.
  void KeepFindable();

  // The path from the file system root, for diagnostics and /proc (mount-unaware).
  std::string PathInFilesystem() const;

 private:
  // The live dentry KeepFindable kept for `name`, if it still names the file `fresh` is.
  std::shared_ptr<Dentry> FindableChild(std::string_view name, Inode& fresh);

  std::string name_;
  std::weak_ptr<Dentry> parent_;
  // A dentry its parent's cache does not keep (see Inode::CachesChild) holds its parent
  // instead, since nothing else might; its own children are not cached either, so that no
  // cycle forms and the whole chain goes with its last user.
  std::shared_ptr<Dentry> uncached_parent_;
  bool cached_ = true;
  std::shared_ptr<Inode> inode_;
  bool unlinked_ = false;
  // Guards the caches below. A leaf (taken under the mount tree's lock by KeepFindable); a
  // child's destructor takes its parent's, so no dentry is released under its own.
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Dentry>, std::less<>> children_ ABSL_GUARDED_BY(mu_);
  // Children the cache does not keep that lookups must still find (KeepFindable): weak, so
  // they go with their last user (the mount on them); the entry goes with the child.
  std::map<std::string, std::weak_ptr<Dentry>, std::less<>> findable_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sentry::vfs
