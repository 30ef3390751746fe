#include "sentry/fsimpl/tmpfs/tmpfs.h"

namespace sentry::fsimpl::tmpfs {

std::shared_ptr<Filesystem> Filesystem::Create(mm::MemoryFile& memory, mode_t root_mode,
                                               uint32_t uid, uint32_t gid,
                                               FilesystemOptions options) {
  auto sb = std::make_shared<Superblock>(memory, options.size_limit);
  auto root =
      std::make_shared<Directory>(sb, root_mode & 07777, uid, gid, std::weak_ptr<Directory>());
  return std::make_shared<Filesystem>(std::move(sb), std::move(root));
}

Filesystem::Filesystem(std::shared_ptr<Superblock> sb, std::shared_ptr<Directory> root)
    : sb_(std::move(sb)), root_(std::move(root)) {}

Result<struct statfs> StatFsOf(const vfs::Inode& inode) {
  const auto* tmpfs_inode = dynamic_cast<const TmpfsInode*>(&inode);
  if (tmpfs_inode == nullptr) return Err(ENOSYS);
  return tmpfs_inode->StatFs();
}

}  // namespace sentry::fsimpl::tmpfs
