// HostFile: a file description backed by a host fd that runsc donated (the standard streams).
// Reads and writes go straight from the host fd into application memory.
#pragma once

#include "sentry/base/file_descriptor.h"
#include "sentry/vfs/file_description.h"

namespace sentry::fsimpl::host {

class HostFile : public vfs::FileDescription {
 public:
  // Takes ownership of fd; its access mode and O_APPEND/O_NONBLOCK come from the host.
  static std::shared_ptr<HostFile> Create(FileDescriptor fd);

  Result<uint64_t> Read(std::span<const iovec> dst, std::optional<int64_t> offset) override;
  Result<uint64_t> Write(std::span<const iovec> src, std::optional<int64_t> offset) override;
  Result<struct stat> Stat() override;
  Result<int64_t> Seek(int64_t offset, int whence) override;
  Result<void> Truncate(uint64_t size) override;
  Result<uint64_t> Ioctl(mm::MemoryManager& mm, uint64_t cmd, uint64_t arg) override;

  bool Positional() const override { return positional_; }
  // A host pipe, tty or socket: asks the host (a zero-timeout poll); waiters watch the fd in
  // the host through HostWaitFds. Host regular files are always ready, as in Linux.
  uint32_t Readiness(uint32_t mask) override;
  bool Pollable() const override { return !positional_; }
  void HostWaitFds(uint32_t mask, std::vector<pollfd>& out) override;

  HostFile(FileDescriptor fd, int flags, bool positional);  // use Create

 private:
  FileDescriptor fd_;
  bool positional_;  // a regular file or block device on the host, not a pipe, tty or socket
};

}  // namespace sentry::fsimpl::host
