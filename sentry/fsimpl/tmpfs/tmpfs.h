// tmpfs: a file system whose files live in the sandbox's MemoryFile. This is what the rest of
// the sentry creates and mounts; the inode kinds are in directory.h, regular_file.h, inode.h
// and device.h.
//
//   auto fs = tmpfs::Filesystem::Create(memory_file, 01777, 0, 0);
//   auto mount = std::make_shared<vfs::Mount>(vfs::Dentry::NewRoot(fs->root()), "tmpfs", ...);
#pragma once

#include <sys/statfs.h>

#include <memory>

#include "sentry/fsimpl/tmpfs/directory.h"
#include "sentry/fsimpl/tmpfs/superblock.h"

namespace sentry::fsimpl::tmpfs {

struct FilesystemOptions {
  // The size limit in bytes (statfs, ENOSPC); 0 means the MemoryFile's size.
  uint64_t size_limit = 0;
};

class Filesystem {
 public:
  // A new, empty instance whose root directory has `root_mode` (permission bits) and owner.
  // `memory` must outlive every inode of the instance (it is the sandbox's MemoryFile).
  static std::shared_ptr<Filesystem> Create(mm::MemoryFile& memory, mode_t root_mode, uint32_t uid,
                                            uint32_t gid, FilesystemOptions options = {});

  std::shared_ptr<vfs::Inode> root() const { return root_; }
  const std::shared_ptr<Directory>& root_dir() const { return root_; }
  // statfs(2) of this instance; inodes answer the same through TmpfsInode::StatFs.
  Result<struct statfs> StatFs() const { return sb_->StatFs(); }
  // What every inode of this instance returns from FilesystemId().
  const void* id() const { return sb_.get(); }
  dev_t dev() const { return sb_->dev(); }

  Filesystem(std::shared_ptr<Superblock> sb, std::shared_ptr<Directory> root);  // use Create

 private:
  // The handle only keeps the pieces alive: inodes hold the superblock, not the handle, so a
  // dropped handle leaves a mounted or open tree working, and nothing forms a cycle.
  std::shared_ptr<Superblock> sb_;
  std::shared_ptr<Directory> root_;
};

// statfs(2) for any inode: its tmpfs instance's figures, or ENOSYS for inodes of other file
// systems (until vfs::Inode has a StatFs operation of its own).
Result<struct statfs> StatFsOf(const vfs::Inode& inode);

}  // namespace sentry::fsimpl::tmpfs
