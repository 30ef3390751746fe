// TmpfsInode: what every tmpfs inode has (owner, mode, times, link count, inode number), and
// the small kinds of file: symbolic links and named FIFOs and sockets. Directories, regular
// files and devices have their own headers.
#pragma once

#include <sys/stat.h>

#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "sentry/base/user_addr.h"
#include "sentry/fsimpl/pipe/pipe.h"
#include "sentry/fsimpl/tmpfs/superblock.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/inode.h"
#include "sentry/vfs/xattr.h"

namespace sentry::fsimpl::tmpfs {

class TmpfsInode : public vfs::Inode {
 public:
  // `mode` carries the file type and permission bits.
  TmpfsInode(std::shared_ptr<Superblock> sb, mode_t mode, uint32_t uid, uint32_t gid,
             dev_t rdev = 0);
  ~TmpfsInode() override;

  Result<struct stat> Stat() override;
  Result<void> SetStat(const vfs::SetStatRequest& req) override;
  const void* FilesystemId() const override { return sb_.get(); }
  Result<std::string> GetXattr(std::string_view name) override;
  Result<void> SetXattr(std::string_view name, std::string_view value, int flags) override;
  Result<void> RemoveXattr(std::string_view name) override;
  Result<std::vector<std::string>> ListXattr() override;

  uint64_t ino() const { return ino_; }
  Superblock& sb() const { return *sb_; }
  const std::shared_ptr<Superblock>& sb_ptr() const { return sb_; }
  Result<struct statfs> StatFs() const { return sb_->StatFs(); }
  Result<struct statfs> StatFs() override { return sb_->StatFs(); }

  // Link-count and time bookkeeping for the tree operations, which call them with
  // sb().tree_mu held (nlink changes only under it).
  uint32_t nlink() const;
  void AddLinks(int delta);  // also touches ctime, as link(2)/unlink(2) do
  void ClearLinks();         // a removed directory: nlink 0
  void TouchCtime();
  void TouchMtimeCtime();
  // Whether link(2) may give this inode a name again although it has none: O_TMPFILE files
  // that were not opened O_EXCL (Linux's I_LINKABLE). Cleared by the first link.
  bool linkable_without_links() const { return linkable_without_links_; }
  void set_linkable_without_links(bool v) { linkable_without_links_ = v; }

 protected:
  // Marks an access the way Linux's default relatime mount does: atime moves only if it is
  // older than the last change or than a day, so reads rarely write the inode.
  void Accessed();
  // O_PATH opens of any kind of file.
  Result<std::shared_ptr<vfs::FileDescription>> OpenPath(const vfs::VirtualDentry& path, int flags);

  // What st_size and st_blocks show; regular files and directories override them.
  virtual uint64_t SizeLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_) { return 0; }
  virtual uint64_t BlocksLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_) { return 0; }
  // truncate(2) through SetStat: true if the size changed. Only regular files have one.
  virtual Result<bool> SetSizeLocked(uint64_t /*size*/) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return Err(IsDir() ? EISDIR : EINVAL);
  }
  // A veto on a SetStat request before any of it is applied (file seals).
  virtual Result<void> CheckSetStatLocked(const vfs::SetStatRequest&)
      ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return {};
  }

  // Guards the attributes below and what subclasses say it guards (a file's data).
  mutable absl::Mutex mu_;
  mode_t mode_ ABSL_GUARDED_BY(mu_);
  uint32_t uid_ ABSL_GUARDED_BY(mu_);
  uint32_t gid_ ABSL_GUARDED_BY(mu_);
  uint32_t nlink_ ABSL_GUARDED_BY(mu_);
  timespec atime_ ABSL_GUARDED_BY(mu_);
  timespec mtime_ ABSL_GUARDED_BY(mu_);
  timespec ctime_ ABSL_GUARDED_BY(mu_);
  vfs::XattrMap xattrs_ ABSL_GUARDED_BY(mu_);
  uint64_t xattr_charge_ ABSL_GUARDED_BY(mu_) = 0;  // bytes taken from the superblock's space

 private:
  const std::shared_ptr<Superblock> sb_;
  const uint64_t ino_;
  const dev_t rdev_;
  bool linkable_without_links_ = false;  // under sb().tree_mu
};

class Symlink : public TmpfsInode {
 public:
  Symlink(std::shared_ptr<Superblock> sb, std::string target, uint32_t uid, uint32_t gid);

  Result<std::string> ReadLink() override;
  // Only O_PATH opens reach a symlink; anything else followed it or was refused (O_NOFOLLOW).
  Result<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& path,
                                                     int flags) override;

 protected:
  uint64_t SizeLocked() const override { return target_.size(); }
  // Linux keeps targets shorter than 128 bytes in the inode and longer ones in a page.
  uint64_t BlocksLocked() const override { return target_.size() < 128 ? 0 : kPageSize / 512; }

 private:
  const std::string target_;
};

// A named FIFO or socket. A FIFO opens as an end of the pipe its Fifo holds; a socket needs a
// unix-socket namespace, which lives elsewhere.
class SpecialInode : public TmpfsInode {
 public:
  using TmpfsInode::TmpfsInode;
  Result<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& path,
                                                     int flags) override;

 private:
  pipe::Fifo fifo_;  // FIFOs only
};

// The flags an open file keeps (F_GETFL) out of open(2)'s: the ones that only steer the open go.
inline int StatusFlags(int open_flags) {
  return open_flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC);
}

// A file type for DirEntry (DT_*) from a mode.
inline uint8_t DirentType(mode_t mode) { return static_cast<uint8_t>((mode & S_IFMT) >> 12); }

}  // namespace sentry::fsimpl::tmpfs
