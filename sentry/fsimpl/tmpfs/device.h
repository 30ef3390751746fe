// Character devices in a tmpfs: an inode that carries a device number and the CharDevice that
// serves its reads and writes (/dev/null and friends; see sentry/fsimpl/dev/).
#pragma once

#include <sys/uio.h>

#include <memory>
#include <span>

#include "sentry/fsimpl/tmpfs/inode.h"

namespace sentry::fsimpl::tmpfs {

// What a character device does. Devices have no file position: offsets are ignored, as Linux's
// memory devices ignore them.
class CharDevice {
 public:
  virtual ~CharDevice() = default;
  virtual Result<uint64_t> Read(std::span<const iovec> dst) = 0;
  virtual Result<uint64_t> Write(std::span<const iovec> src) = 0;
  // A device whose opens give files of their own (/dev/tty: the caller's terminal) returns
  // one here; null means a DeviceFile that reads and writes through this device.
  virtual Result<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& /*path*/,
                                                             int /*flags*/) {
    return nullptr;
  }
};

class DeviceInode : public TmpfsInode {
 public:
  // mode: S_IFCHR and permission bits.
  DeviceInode(std::shared_ptr<Superblock> sb, mode_t mode, uint32_t uid, uint32_t gid, dev_t rdev,
              std::shared_ptr<CharDevice> device);

  Result<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& path,
                                                     int flags) override;
  CharDevice& device() const { return *device_; }

 private:
  const std::shared_ptr<CharDevice> device_;
};

class DeviceFile : public vfs::FileDescription {
 public:
  DeviceFile(int flags, vfs::VirtualDentry path, std::shared_ptr<DeviceInode> inode);

  Result<uint64_t> Read(std::span<const iovec> dst, std::optional<int64_t> offset) override;
  Result<uint64_t> Write(std::span<const iovec> src, std::optional<int64_t> offset) override;
  // Linux's null_lseek (shared by null, zero and full; random's noop_llseek keeps the position
  // at 0 too): any seek succeeds and the position stays 0.
  Result<int64_t> Seek(int64_t, int) override { return 0; }
  Result<struct stat> Stat() override { return inode_->Stat(); }

 private:
  const std::shared_ptr<DeviceInode> inode_;
};

}  // namespace sentry::fsimpl::tmpfs
