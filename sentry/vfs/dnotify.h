// dnotify (fcntl F_NOTIFY; Linux's fs/notify/dnotify): a process asks to be signalled when the
// entries of a directory it holds open change. Built on fsnotify: one Mark per watched
// directory, holding a registration per (fd table, open file) pair. The signal goes to the
// file's owner (F_SETOWN, which F_NOTIFY sets to the caller's process) through the same path
// as O_ASYNC's (SIGIO, or the F_SETSIG signal with si_fd and POLL_MSG).
//
// Locks: a directory's registration lock comes before fsnotify's table lock; signals are sent
// with it released. FdTable calls Flush with its own lock released.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "sentry/base/errno.h"
#include "sentry/vfs/file_owner.h"

namespace sentry::vfs {

class FileDescription;

namespace dnotify {

namespace internal {
extern std::atomic<uint64_t> registrations;
}

// fcntl(fd, F_NOTIFY, arg) on `file`, for the fd table `table` (Linux's files_struct, what the
// registration belongs to). arg without event bits removes the registration; ENOTDIR for a
// file that is not a directory. A second call for the same pair adds events and updates fd.
// The caller then makes its process the file's owner.
Result<void> Set(const std::shared_ptr<FileDescription>& file, int fd, const void* table,
                 uint32_t arg, SigioSender sender);

// `table` closed an fd of `file` (Linux's dnotify_flush): its registration on it goes.
void FlushSlow(const FileDescription& file, const void* table);
inline void Flush(const FileDescription* file, const void* table) {
  if (file != nullptr && internal::registrations.load(std::memory_order_relaxed) != 0) {
    FlushSlow(*file, table);
  }
}

}  // namespace dnotify
}  // namespace sentry::vfs
