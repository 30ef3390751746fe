// fsnotify: the VFS's file-change events (Linux's fs/notify core), which inotify and dnotify are
// built on. A watcher puts a Mark on an inode; the syscall layer reports each change once, to
// the file's own marks and, for changes to a file, to its parent directory's marks with the
// file's name (directories see their children change).
//
// Cost when nobody watches: every report starts with one relaxed load of a sandbox-wide count
// of marks (Active()), so open/read/write/stat pay nothing more while no inotify or dnotify
// watch exists anywhere. With marks somewhere, a report looks its inodes up in one side table
// (keyed by Inode*, under a reader lock), so the Inode itself carries nothing for fsnotify.
//
// Locks: the table's lock is a leaf. Marks are called back with it released (their owners
// take their own locks and notify wait queues or send signals), and an owner may add or remove
// marks while holding its own lock: owner locks come before the table's.
#pragma once

#include <sys/inotify.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

namespace sentry::vfs {

class Dentry;
class FileDescription;
class Inode;

namespace fsnotify {

// Event bits: Linux's FS_* values, which are inotify's IN_* for the events inotify shows.
inline constexpr uint32_t kAccess = IN_ACCESS;
inline constexpr uint32_t kModify = IN_MODIFY;
inline constexpr uint32_t kAttrib = IN_ATTRIB;
inline constexpr uint32_t kCloseWrite = IN_CLOSE_WRITE;
inline constexpr uint32_t kCloseNoWrite = IN_CLOSE_NOWRITE;
inline constexpr uint32_t kOpen = IN_OPEN;
inline constexpr uint32_t kMovedFrom = IN_MOVED_FROM;
inline constexpr uint32_t kMovedTo = IN_MOVED_TO;
inline constexpr uint32_t kCreate = IN_CREATE;
inline constexpr uint32_t kDelete = IN_DELETE;
inline constexpr uint32_t kDeleteSelf = IN_DELETE_SELF;
inline constexpr uint32_t kMoveSelf = IN_MOVE_SELF;
inline constexpr uint32_t kUnmount = IN_UNMOUNT;
// A rename inside one directory (Linux's FS_RENAME): what dnotify's DN_RENAME reports.
inline constexpr uint32_t kRename = 0x10000000;
// Set on events whose subject is a directory.
inline constexpr uint32_t kIsDir = IN_ISDIR;

// One watcher's mark on one inode (Linux's fsnotify_mark).
class Mark {
 public:
  explicit Mark(uint32_t mask) : mask_(mask) {}
  virtual ~Mark() = default;
  Mark(const Mark&) = delete;
  Mark& operator=(const Mark&) = delete;

  // The event bits this mark wants; change it with SetMask, which keeps the table's summary.
  uint32_t mask() const { return mask_.load(std::memory_order_relaxed); }

  // An event for the marked inode: about the inode itself (`name` empty), or, on a directory,
  // about its child `name` (`child_unlinked` when that child has lost its name since it was
  // opened: inotify's IN_EXCL_UNLINK). `mask` is the event with kIsDir; `cookie` ties the two
  // halves of a rename. Called with no fsnotify lock held, possibly concurrently.
  virtual void Handle(uint32_t mask, std::string_view name, uint32_t cookie,
                      bool child_unlinked) = 0;
  // fsnotify took the mark off its inode (the inode lost its last link, or its file system was
  // unmounted) right after reporting that; the owner forgets the mark.
  virtual void Detached() = 0;

 private:
  friend void SetMask(const Inode&, Mark&, uint32_t);
  std::atomic<uint32_t> mask_;
};

namespace internal {
extern std::atomic<uint64_t> marks;
}

// Whether any mark exists in the sandbox: the whole cost of a report while none does.
inline bool Active() { return internal::marks.load(std::memory_order_relaxed) != 0; }

// Puts `mark` on `inode`, which the table keeps alive while it has marks (Linux pins a marked
// inode too).
void AddMark(std::shared_ptr<Inode> inode, std::shared_ptr<Mark> mark);
// Takes `mark` off `inode`; false if it was not there (fsnotify detached it already).
bool RemoveMark(const Inode& inode, const Mark& mark);
void SetMask(const Inode& inode, Mark& mark, uint32_t mask);

// A new cookie for the two events of one rename.
uint32_t NextCookie();

// Reports, each only when Active():
// An event on the file `d` names (access, modify, attrib, open, close): to its marks and its
// parent directory's, with its name.
void NotifyDentrySlow(const Dentry& d, uint32_t mask);
inline void NotifyDentry(const Dentry& d, uint32_t mask) {
  if (Active()) NotifyDentrySlow(d, mask);
}
// The same for an open file (nothing for files with no place in the tree, nor O_PATH ones).
void NotifyFileSlow(const FileDescription& file, uint32_t mask);
inline void NotifyFile(const FileDescription& file, uint32_t mask) {
  if (Active()) NotifyFileSlow(file, mask);
}
// A change to directory `dir`'s entry `name` (create, delete, moved from/to); `is_dir` says
// whether the entry is a directory.
void NotifyChildSlow(const Inode& dir, uint32_t mask, std::string_view name, bool is_dir,
                     uint32_t cookie);
inline void NotifyChild(const Inode& dir, uint32_t mask, std::string_view name, bool is_dir,
                        uint32_t cookie = 0) {
  if (Active()) NotifyChildSlow(dir, mask, name, is_dir, cookie);
}
// An event on `inode` alone (its link count changed: kAttrib; it moved: kMoveSelf).
void NotifyInodeSlow(const Inode& inode, uint32_t mask);
inline void NotifyInode(const Inode& inode, uint32_t mask) {
  if (Active()) NotifyInodeSlow(inode, mask);
}
// Before an unlink, rmdir or rename over `inode`: whether it is marked and about to lose its
// last link (a directory always is). Asked before the change, from the link count the file
// system reports then, since not every file system's cached attributes follow the unlink
// (a gofer file keeps the ones its lookup brought).
bool MarkedLastLink(Inode& inode);
// After it, for such an inode, with `d` the name that went: kDeleteSelf, and then every mark
// of the inode goes, once nothing uses `d` any more (Linux's dentry_unlink_inode): at once when
// the caller holds the only reference, else when the dentry is released (the last open file
// or working directory on it lets go).
void Unlinked(const std::shared_ptr<Dentry>& d);
// From ~Dentry.
void DentryReleased(const Dentry* d, const Inode& inode);
// kDeleteSelf, and then every mark of `inode` goes.
void Deleted(const Inode& inode);
// A file system (Inode::FilesystemId) was unmounted: its marked inodes get kUnmount and lose
// their marks.
void Unmounted(const void* filesystem_id);

}  // namespace fsnotify
}  // namespace sentry::vfs
