// tmpfs: a file system whose files live in the sandbox's MemoryFile. This is what the rest of
// the sentry creates and mounts; the inode kinds are in directory.h, regular_file.h, inode.h
// and device.h.
//
//   auto fs = tmpfs::Filesystem::Create(memory_file, 01777, 0, 0);
//   auto mount = std::make_shared<vfs::Mount>(vfs::Dentry::NewRoot(fs->root()), "tmpfs", ...);
#pragma once

#include <sys/statfs.h>

#include <memory>
#include <optional>
#include <vector>

#include "sentry/fsimpl/tmpfs/directory.h"
#include "sentry/fsimpl/tmpfs/superblock.h"
#include "sentry/vfs/filesystem_type.h"

namespace sentry::fsimpl::tmpfs {

struct FilesystemOptions {
  // The size limit in bytes (statfs, ENOSPC); 0 means the MemoryFile's size.
  uint64_t size_limit = 0;
  // The inode limit; 0 means one per page of the size limit (at least 1024).
  uint64_t max_inodes = 0;
};

// mount(2)'s tmpfs options, parsed as Linux's shmem parses them: size= (bytes with a k/m/g/t/p/e
// suffix, or N% of RAM), nr_blocks=, nr_inodes=, mode= (octal), uid=, gid=, and huge=, mpol=,
// inode32, inode64, noswap, which change nothing here.
struct MountOptions {
  std::optional<uint64_t> size_limit;  // size=, nr_blocks=; 0 lifts the limit
  std::optional<uint64_t> max_inodes;  // nr_inodes=; 0 lifts the limit
  mode_t mode = 01777;                 // of the root directory
  uint32_t uid = 0;
  uint32_t gid = 0;
};
// EINVAL for an option tmpfs does not take or a bad value. `total_ram` (bytes) serves size=N%.
Result<MountOptions> ParseMountOptions(const std::vector<vfs::MountOption>& options,
                                       uint64_t total_ram);
// MS_REMOUNT of the instance `root` belongs to: new size and inode limits (mode, uid and gid are
// ignored, as Linux ignores them). EINVAL when `root` is not a tmpfs inode or a limit does not
// fit (see Superblock::SetLimits).
Result<void> Remount(vfs::Inode& root, const MountOptions& options);

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
// systems (TmpfsInode also answers vfs::Inode::StatFs).
Result<struct statfs> StatFsOf(const vfs::Inode& inode);

}  // namespace sentry::fsimpl::tmpfs
