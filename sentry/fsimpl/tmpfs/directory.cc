#include "sentry/fsimpl/tmpfs/directory.h"

#include <dirent.h>
#include <linux/fs.h>

#include <algorithm>
#include <climits>

#include "sentry/fsimpl/tmpfs/regular_file.h"
#include "sentry/vfs/resolve.h"

namespace sentry::fsimpl::tmpfs {
namespace {

Result<void> CheckNameLength(std::string_view name) {
  if (name.size() > vfs::kNameMax) return Err(ENAMETOOLONG);
  return {};
}

bool InGroup(const vfs::FsCredentials& creds, uint32_t gid) {
  return creds.gid == gid || std::ranges::find(creds.groups, gid) != creds.groups.end();
}

}  // namespace

Directory::Directory(std::shared_ptr<Superblock> sb, mode_t mode, uint32_t uid, uint32_t gid,
                     std::weak_ptr<Directory> parent)
    : TmpfsInode(std::move(sb), S_IFDIR | (mode & 07777), uid, gid), parent_(std::move(parent)) {}

Result<std::shared_ptr<vfs::Inode>> Directory::Lookup(std::string_view name) {
  TRY(CheckNameLength(name));
  absl::ReaderMutexLock lock(&sb().tree_mu);
  auto it = children_.find(name);
  if (it == children_.end()) return Err(ENOENT);
  return it->second;
}

Result<std::vector<vfs::DirEntry>> Directory::ReadDir() {
  std::vector<vfs::DirEntry> entries;
  {
    absl::ReaderMutexLock lock(&sb().tree_mu);
    // Linux refuses to list a removed directory, even its "." and "..".
    if (removed_) return Err(ENOENT);
    entries.reserve(children_.size());
    for (const auto& [name, child] : children_) {
      entries.push_back({child->ino(), DirentType(child->type()), name});
    }
  }
  Accessed();
  return entries;
}

Result<void> Directory::CheckNewNameLocked(std::string_view name, bool new_inode) const {
  if (removed_) return Err(ENOENT);
  if (children_.contains(name)) return Err(EEXIST);
  if (new_inode) TRY(sb().CheckInodeLimit());
  return {};
}

void Directory::EntriesChanged(int entries, int subdirs) {
  absl::MutexLock lock(&mu_);
  size_ = static_cast<uint64_t>(static_cast<int64_t>(size_) + entries * int64_t{kBogoDirentSize});
  nlink_ = static_cast<uint32_t>(static_cast<int64_t>(nlink_) + subdirs);
  mtime_ = ctime_ = Now();
}

void Directory::AddChildLocked(std::string_view name, std::shared_ptr<TmpfsInode> child) {
  int subdirs = child->IsDir() ? 1 : 0;
  children_.emplace(std::string(name), std::move(child));
  EntriesChanged(1, subdirs);
}

void Directory::RemoveChildLocked(std::string_view name) {
  auto it = children_.find(name);
  int subdirs = it->second->IsDir() ? -1 : 0;
  children_.erase(it);
  EntriesChanged(-1, subdirs);
}

bool Directory::IsDescendantOfLocked(const Directory* ancestor) const {
  // Each step holds the parent it moves to: an unmounted tree may be going away meanwhile.
  std::shared_ptr<const Directory> hold;
  for (const Directory* d = this; d != nullptr; d = hold.get()) {
    if (d == ancestor) return true;
    hold = d->parent_.lock();
  }
  return false;
}

Directory::Ownership Directory::NewOwnership(const vfs::FsCredentials& creds, mode_t mode) const {
  absl::ReaderMutexLock lock(&mu_);
  Ownership own{creds.uid, creds.gid, mode};
  if (mode_ & S_ISGID) {
    own.gid = gid_;
    if (S_ISDIR(mode)) {
      own.mode |= S_ISGID;  // subdirectories of a set-group-ID directory are set-group-ID
    } else if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) && !InGroup(creds, gid_) &&
               !creds.dac_override) {
      // A set-group-ID executable for a group the creator is not in needs CAP_FSETID.
      own.mode &= ~S_ISGID;
    }
  }
  return own;
}

template <class Make>
Result<std::shared_ptr<vfs::Inode>> Directory::AddNew(std::string_view name, mode_t mode,
                                                      const vfs::FsCredentials& creds, Make make) {
  TRY(CheckNameLength(name));
  absl::MutexLock lock(&sb().tree_mu);
  TRY(CheckNewNameLocked(name, /*new_inode=*/true));
  std::shared_ptr<TmpfsInode> child = make(NewOwnership(creds, mode));
  AddChildLocked(name, child);
  return child;
}

Result<std::shared_ptr<vfs::Inode>> Directory::Create(std::string_view name, mode_t mode,
                                                      const vfs::FsCredentials& creds) {
  return AddNew(name, S_IFREG | (mode & 07777), creds, [&](const Ownership& own) {
    return std::make_shared<RegularInode>(sb_ptr(), own.mode, own.uid, own.gid);
  });
}

Result<std::shared_ptr<vfs::Inode>> Directory::Mkdir(std::string_view name, mode_t mode,
                                                     const vfs::FsCredentials& creds) {
  // mkdir(2) keeps only the permission and sticky bits of the mode it is given.
  return AddNew(name, S_IFDIR | (mode & 01777), creds, [&](const Ownership& own) {
    return std::make_shared<Directory>(sb_ptr(), own.mode, own.uid, own.gid, weak_self());
  });
}

Result<std::shared_ptr<vfs::Inode>> Directory::Mknod(std::string_view name, mode_t mode,
                                                     dev_t /*dev*/,
                                                     const vfs::FsCredentials& creds) {
  mode_t type = mode & S_IFMT;
  switch (type) {
    case 0:
    case S_IFREG:
      return Create(name, mode, creds);
    case S_IFIFO:
    case S_IFSOCK:
      return AddNew(name, type | (mode & 07777), creds, [&](const Ownership& own) {
        return std::make_shared<SpecialInode>(sb_ptr(), own.mode, own.uid, own.gid);
      });
    case S_IFCHR:
    case S_IFBLK:
      // Device nodes would reach host or sentry devices by number; only AddDevice makes them.
    case S_IFDIR:
      return Err(EPERM);
    default:
      return Err(EINVAL);
  }
}

Result<std::shared_ptr<vfs::Inode>> Directory::Symlink(std::string_view name,
                                                       std::string_view target,
                                                       const vfs::FsCredentials& creds) {
  if (target.empty()) return Err(ENOENT);
  if (target.size() >= PATH_MAX) return Err(ENAMETOOLONG);
  return AddNew(name, S_IFLNK | 0777, creds, [&](const Ownership& own) {
    return std::make_shared<tmpfs::Symlink>(sb_ptr(), std::string(target), own.uid, own.gid);
  });
}

Result<std::shared_ptr<vfs::Inode>> Directory::AddDevice(std::string_view name, mode_t mode,
                                                         dev_t rdev,
                                                         std::shared_ptr<CharDevice> device,
                                                         const vfs::FsCredentials& creds) {
  return AddNew(name, S_IFCHR | (mode & 07777), creds, [&](const Ownership& own) {
    return std::make_shared<DeviceInode>(sb_ptr(), own.mode, own.uid, own.gid, rdev, device);
  });
}

Result<std::shared_ptr<vfs::Inode>> Directory::TmpFile(mode_t mode, const vfs::FsCredentials& creds,
                                                       bool linkable) {
  absl::MutexLock lock(&sb().tree_mu);
  if (removed_) return Err(ENOENT);
  TRY(sb().CheckInodeLimit());
  Ownership own = NewOwnership(creds, S_IFREG | (mode & 07777));
  auto file = std::make_shared<RegularInode>(sb_ptr(), own.mode, own.uid, own.gid);
  file->AddLinks(-1);  // born without a name
  file->set_linkable_without_links(linkable);
  return file;
}

Result<void> Directory::Link(std::string_view name, vfs::Inode& target) {
  auto* file = dynamic_cast<TmpfsInode*>(&target);
  if (file == nullptr || file->FilesystemId() != FilesystemId()) return Err(EXDEV);
  TRY(CheckNameLength(name));
  absl::MutexLock lock(&sb().tree_mu);
  TRY(CheckNewNameLocked(name, /*new_inode=*/false));
  if (file->IsDir()) return Err(EPERM);
  // A file whose last name is gone cannot get a new one (linkat through /proc/self/fd), unless
  // it is an O_TMPFILE file made for that.
  if (file->nlink() == 0 && !file->linkable_without_links()) return Err(ENOENT);
  file->set_linkable_without_links(false);
  file->AddLinks(1);
  AddChildLocked(name, std::static_pointer_cast<TmpfsInode>(file->shared_from_this()));
  return {};
}

Result<void> Directory::Unlink(std::string_view name) {
  TRY(CheckNameLength(name));
  absl::MutexLock lock(&sb().tree_mu);
  auto it = children_.find(name);
  if (it == children_.end()) return Err(ENOENT);
  if (it->second->IsDir()) return Err(EISDIR);  // Linux's answer (POSIX allows EPERM)
  std::shared_ptr<TmpfsInode> child = it->second;
  RemoveChildLocked(name);
  child->AddLinks(-1);
  return {};
}

Result<void> Directory::Rmdir(std::string_view name) {
  TRY(CheckNameLength(name));
  absl::MutexLock lock(&sb().tree_mu);
  auto it = children_.find(name);
  if (it == children_.end()) return Err(ENOENT);
  if (!it->second->IsDir()) return Err(ENOTDIR);
  auto dir = std::static_pointer_cast<Directory>(it->second);
  if (!dir->children_.empty()) return Err(ENOTEMPTY);
  RemoveChildLocked(name);
  dir->removed_ = true;
  dir->ClearLinks();
  return {};
}

Result<void> Directory::Rename(std::string_view old_name, vfs::Inode& new_dir_inode,
                               std::string_view new_name, unsigned flags) {
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) return Err(EINVAL);
  if ((flags & RENAME_EXCHANGE) && (flags & (RENAME_NOREPLACE | RENAME_WHITEOUT))) {
    return Err(EINVAL);
  }
  // Whiteouts are for overlays built on this file system, which the sentry does not make.
  if (flags & RENAME_WHITEOUT) return Err(EINVAL);
  if (new_dir_inode.FilesystemId() != FilesystemId()) return Err(EXDEV);
  auto* new_dir = dynamic_cast<Directory*>(&new_dir_inode);
  if (new_dir == nullptr) return Err(ENOTDIR);
  TRY(CheckNameLength(old_name));
  TRY(CheckNameLength(new_name));

  absl::MutexLock lock(&sb().tree_mu);
  auto old_it = children_.find(old_name);
  if (old_it == children_.end()) return Err(ENOENT);
  if (new_dir->removed_) return Err(ENOENT);
  std::shared_ptr<TmpfsInode> moved = old_it->second;
  auto new_it = new_dir->children_.find(new_name);
  std::shared_ptr<TmpfsInode> target =
      new_it == new_dir->children_.end() ? nullptr : new_it->second;
  if ((flags & RENAME_NOREPLACE) && target) return Err(EEXIST);
  if ((flags & RENAME_EXCHANGE) && !target) return Err(ENOENT);
  auto* moved_dir = moved->IsDir() ? static_cast<Directory*>(moved.get()) : nullptr;
  auto* target_dir = target && target->IsDir() ? static_cast<Directory*>(target.get()) : nullptr;

  // In the order Linux checks them: a directory may not move below itself, and a directory
  // above the source cannot be replaced (it is not empty).
  if (this != new_dir) {
    if (moved_dir && new_dir->IsDescendantOfLocked(moved_dir)) return Err(EINVAL);
    if (target_dir && IsDescendantOfLocked(target_dir)) {
      return Err((flags & RENAME_EXCHANGE) ? EINVAL : ENOTEMPTY);
    }
  }
  if (moved == target) return {};  // two names of one file: Linux does nothing

  if (flags & RENAME_EXCHANGE) {
    old_it->second = target;
    new_it->second = moved;
    if (this != new_dir) {
      if (moved_dir) moved_dir->parent_ = new_dir->weak_self();
      if (target_dir) target_dir->parent_ = weak_self();
      // A directory moving one way and a non-directory the other shift a ".." link.
      int subdirs_here = (target_dir ? 1 : 0) - (moved_dir ? 1 : 0);
      EntriesChanged(0, subdirs_here);
      new_dir->EntriesChanged(0, -subdirs_here);
    } else {
      EntriesChanged(0, 0);
    }
    moved->TouchCtime();
    target->TouchCtime();
    return {};
  }

  if (target) {
    if (moved_dir && !target_dir) return Err(ENOTDIR);
    if (!moved_dir && target_dir) return Err(EISDIR);
    if (target_dir && !target_dir->children_.empty()) return Err(ENOTEMPTY);
    new_dir->RemoveChildLocked(new_name);
    if (target_dir) {
      target_dir->removed_ = true;
      target_dir->ClearLinks();
    } else {
      target->AddLinks(-1);
    }
  }
  RemoveChildLocked(old_name);
  new_dir->AddChildLocked(new_name, moved);
  if (moved_dir) moved_dir->parent_ = new_dir->weak_self();
  moved->TouchCtime();
  return {};
}

Result<std::shared_ptr<vfs::FileDescription>> Directory::Open(const vfs::VirtualDentry& path,
                                                              int flags) {
  if (flags & O_PATH) return OpenPath(path, flags);
  // Writing, truncating or creating a directory: open(2) says EISDIR to each.
  if ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_TRUNC | O_CREAT))) return Err(EISDIR);
  return std::make_shared<vfs::DirectoryFile>(StatusFlags(flags), path);
}

}  // namespace sentry::fsimpl::tmpfs
