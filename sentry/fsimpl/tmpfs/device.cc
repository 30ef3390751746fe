#include "sentry/fsimpl/tmpfs/device.h"

namespace sentry::fsimpl::tmpfs {

DeviceInode::DeviceInode(std::shared_ptr<Superblock> sb, mode_t mode, uint32_t uid, uint32_t gid,
                         dev_t rdev, std::shared_ptr<CharDevice> device)
    : TmpfsInode(std::move(sb), S_IFCHR | (mode & 07777), uid, gid, rdev),
      device_(std::move(device)) {}

Result<std::shared_ptr<vfs::FileDescription>> DeviceInode::Open(const vfs::VirtualDentry& path,
                                                                int flags) {
  if (flags & O_DIRECTORY) return Err(ENOTDIR);
  if (flags & O_PATH) return OpenPath(path, flags);
  if (auto own = TRY(device_->Open(path, flags))) return own;
  auto self = std::static_pointer_cast<DeviceInode>(shared_from_this());
  // O_TRUNC means nothing to a character device.
  return std::make_shared<DeviceFile>(StatusFlags(flags), path, std::move(self));
}

DeviceFile::DeviceFile(int flags, vfs::VirtualDentry path, std::shared_ptr<DeviceInode> inode)
    : vfs::FileDescription(flags, std::move(path)), inode_(std::move(inode)) {}

Result<uint64_t> DeviceFile::Read(std::span<const iovec> dst, std::optional<int64_t> offset) {
  if (!Readable()) return Err(EBADF);
  if (offset && *offset < 0) return Err(EINVAL);
  return inode_->device().Read(dst);
}

Result<uint64_t> DeviceFile::Write(std::span<const iovec> src, std::optional<int64_t> offset) {
  if (!Writable()) return Err(EBADF);
  if (offset && *offset < 0) return Err(EINVAL);
  return inode_->device().Write(src);
}

}  // namespace sentry::fsimpl::tmpfs
