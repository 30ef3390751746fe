#include "sentry/vfs/fd_table.h"

namespace sentry::vfs {

Result<std::shared_ptr<FileDescription>> FdTable::Get(int fd) {
  absl::MutexLock lock(&mu_);
  if (fd < 0 || static_cast<size_t>(fd) >= entries_.size() || !entries_[fd].file) {
    return Err(EBADF);
  }
  return entries_[fd].file;
}

void FdTable::InstallAt(int fd, std::shared_ptr<FileDescription> file, bool cloexec) {
  absl::MutexLock lock(&mu_);
  if (fd < 0 || fd >= kMaxFds) return;
  if (static_cast<size_t>(fd) >= entries_.size()) entries_.resize(fd + 1);
  entries_[fd] = Entry{std::move(file), cloexec};
}

Result<void> FdTable::Close(int fd) {
  std::shared_ptr<FileDescription> file;  // released outside the lock
  absl::MutexLock lock(&mu_);
  if (fd < 0 || static_cast<size_t>(fd) >= entries_.size() || !entries_[fd].file) {
    return Err(EBADF);
  }
  file = std::move(entries_[fd].file);
  entries_[fd] = Entry{};
  return {};
}

}  // namespace sentry::vfs
