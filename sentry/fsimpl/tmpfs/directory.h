// Directories: a sorted map of names to inodes (so getdents has a stable order), a weak link to
// the parent directory (rename must refuse to move a directory into its own subtree), and every
// name-changing operation of vfs::Inode. All of them hold the file system's tree_mu, which
// makes each one atomic with respect to the others (see superblock.h for the lock order).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "sentry/fsimpl/tmpfs/device.h"
#include "sentry/fsimpl/tmpfs/inode.h"

namespace sentry::fsimpl::tmpfs {

class Directory : public TmpfsInode {
 public:
  Directory(std::shared_ptr<Superblock> sb, mode_t mode, uint32_t uid, uint32_t gid,
            std::weak_ptr<Directory> parent);

  Result<std::shared_ptr<vfs::Inode>> Lookup(std::string_view name) override;
  Result<std::vector<vfs::DirEntry>> ReadDir() override;
  Result<std::shared_ptr<vfs::Inode>> Create(std::string_view name, mode_t mode,
                                             const vfs::FsCredentials& creds) override;
  Result<std::shared_ptr<vfs::Inode>> Mkdir(std::string_view name, mode_t mode,
                                            const vfs::FsCredentials& creds) override;
  Result<std::shared_ptr<vfs::Inode>> Mknod(std::string_view name, mode_t mode, dev_t dev,
                                            const vfs::FsCredentials& creds) override;
  Result<std::shared_ptr<vfs::Inode>> Symlink(std::string_view name, std::string_view target,
                                              const vfs::FsCredentials& creds) override;
  // open(O_TMPFILE): a regular file with no name (nlink 0), for O_TMPFILE and memfd_create.
  Result<std::shared_ptr<vfs::Inode>> TmpFile(mode_t mode, const vfs::FsCredentials& creds,
                                              bool linkable) override;
  Result<void> Link(std::string_view name, vfs::Inode& target) override;
  Result<void> Unlink(std::string_view name) override;
  Result<void> Rmdir(std::string_view name) override;
  Result<void> Rename(std::string_view old_name, vfs::Inode& new_dir, std::string_view new_name,
                      unsigned flags) override;
  Result<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& path,
                                                     int flags) override;

  // tmpfs's own additions.
  // A character device node served by `device` (mknod(2) of devices is refused: EPERM).
  Result<std::shared_ptr<vfs::Inode>> AddDevice(std::string_view name, mode_t mode, dev_t rdev,
                                                std::shared_ptr<CharDevice> device,
                                                const vfs::FsCredentials& creds);

 protected:
  uint64_t SizeLocked() const override ABSL_SHARED_LOCKS_REQUIRED(mu_) { return size_; }

 private:
  using Children = std::map<std::string, std::shared_ptr<TmpfsInode>, std::less<>>;

  // The checks before a name is added here: ENOENT if this directory was removed, EEXIST if
  // the name is taken, ENOSPC when the file system has no inodes left.
  Result<void> CheckNewNameLocked(std::string_view name, bool new_inode) const;
  // Enter and remove names (with sb().tree_mu held), keeping this directory's size, link
  // count (2 + subdirectories) and times as Linux does.
  void AddChildLocked(std::string_view name, std::shared_ptr<TmpfsInode> child);
  void RemoveChildLocked(std::string_view name);
  void EntriesChanged(int entries, int subdirs);
  // Whether `ancestor` is this directory or one above it.
  bool IsDescendantOfLocked(const Directory* ancestor) const;
  // The owner and mode of a new file here: the creator's uid, and the creator's gid unless
  // this directory is set-group-ID (then its gid, and subdirectories inherit the bit).
  struct Ownership {
    uint32_t uid;
    uint32_t gid;
    mode_t mode;
  };
  Ownership NewOwnership(const vfs::FsCredentials& creds, mode_t mode) const;
  // Adds the inode `make(ownership)` returns under `name`, after the checks.
  template <class Make>
  Result<std::shared_ptr<vfs::Inode>> AddNew(std::string_view name, mode_t mode,
                                             const vfs::FsCredentials& creds, Make make);
  std::weak_ptr<Directory> weak_self() {
    return std::static_pointer_cast<Directory>(shared_from_this());
  }

  // Guarded by sb().tree_mu (named in comments: the analysis cannot follow sb()).
  Children children_;
  std::weak_ptr<Directory> parent_;  // empty for the root
  bool removed_ = false;             // rmdir'ed, or replaced by a rename

  uint64_t size_ ABSL_GUARDED_BY(mu_) = 2 * kBogoDirentSize;
};

}  // namespace sentry::fsimpl::tmpfs
