// FileDescription: an open file as the application's fds refer to it (Linux's struct file).
// Data moves between a file and the sentry's views of application memory (iovecs obtained from
// MemoryManager::Translate), so host-backed files can read and write application memory directly.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "sentry/base/errno.h"

namespace sentry::mm {
class MemoryManager;
}

namespace sentry::vfs {

class FileDescription {
 public:
  virtual ~FileDescription() = default;

  // offset: nullopt for read/write at the file position, a value for pread/pwrite.
  virtual Result<uint64_t> Read(std::span<const iovec> dst, std::optional<int64_t> offset) = 0;
  virtual Result<uint64_t> Write(std::span<const iovec> src, std::optional<int64_t> offset) = 0;
  virtual Result<struct stat> Stat() = 0;
  // ioctl(2): arguments are the application's; memory goes through mm.
  virtual Result<uint64_t> Ioctl(mm::MemoryManager& mm, uint64_t cmd, uint64_t arg) = 0;

  int status_flags() const { return status_flags_; }  // O_APPEND, O_NONBLOCK, access mode...
  void set_status_flags(int flags) { status_flags_ = flags; }
  bool Readable() const { return (status_flags_ & O_ACCMODE) != O_WRONLY; }
  bool Writable() const { return (status_flags_ & O_ACCMODE) != O_RDONLY; }

 protected:
  explicit FileDescription(int status_flags) : status_flags_(status_flags) {}

 private:
  int status_flags_;
};

}  // namespace sentry::vfs
