#include "sentry/vfs/fd_table.h"

#include <algorithm>

#include "sentry/vfs/dnotify.h"
#include "sentry/vfs/record_lock.h"

namespace sentry::vfs {

FdTable::~FdTable() {
  // Closing every fd at the end drops this table's dnotify registrations, as each close does.
  if (dnotify::internal::registrations.load(std::memory_order_relaxed) != 0) {
    std::vector<std::shared_ptr<FileDescription>> files;
    {
      absl::MutexLock lock(&mu_);
      for (auto& e : entries_) {
        if (e.file) files.push_back(std::move(e.file));
      }
    }
    for (const auto& f : files) dnotify::Flush(f.get(), this);
  }
  // The process is gone (or its last task sharing the table): so are its record locks.
  if (record_locked_.load(std::memory_order_relaxed)) RecordLockTable::Get().ReleaseOwner(this);
}

void FdTable::ReleaseRecordLocks(const FileDescription* closed) {
  dnotify::Flush(closed, this);  // closing an fd also ends the table's dnotify on the file
  if (closed != nullptr && record_locked_.load(std::memory_order_relaxed)) {
    RecordLockTable::Get().ReleaseFile(closed->LockFile(), this);
  }
}

Result<std::shared_ptr<FileDescription>> FdTable::Get(int fd) {
  absl::MutexLock lock(&mu_);
  if (fd < 0 || static_cast<size_t>(fd) >= entries_.size() || !entries_[fd].file) {
    return Err(EBADF);
  }
  return entries_[fd].file;
}

Result<bool> FdTable::GetCloexec(int fd) {
  absl::MutexLock lock(&mu_);
  if (fd < 0 || static_cast<size_t>(fd) >= entries_.size() || !entries_[fd].file) {
    return Err(EBADF);
  }
  return entries_[fd].cloexec;
}

Result<void> FdTable::SetCloexec(int fd, bool cloexec) {
  absl::MutexLock lock(&mu_);
  if (fd < 0 || static_cast<size_t>(fd) >= entries_.size() || !entries_[fd].file) {
    return Err(EBADF);
  }
  entries_[fd].cloexec = cloexec;
  return {};
}

Result<int> FdTable::Install(std::shared_ptr<FileDescription> file, bool cloexec, int min_fd,
                             uint64_t limit) {
  uint64_t cap = std::min<uint64_t>(limit, kMaxFds);
  if (min_fd < 0 || static_cast<uint64_t>(min_fd) >= cap) return Err(min_fd < 0 ? EINVAL : EMFILE);
  absl::MutexLock lock(&mu_);
  size_t fd = static_cast<size_t>(min_fd);
  while (fd < entries_.size() && entries_[fd].file) ++fd;
  if (fd >= cap) return Err(EMFILE);
  if (fd >= entries_.size()) entries_.resize(fd + 1);
  entries_[fd] = Entry{std::move(file), cloexec};
  return static_cast<int>(fd);
}

Result<void> FdTable::InstallAt(int fd, std::shared_ptr<FileDescription> file, bool cloexec,
                                uint64_t limit) {
  if (fd < 0 || static_cast<uint64_t>(fd) >= std::min<uint64_t>(limit, kMaxFds)) {
    return Err(EBADF);
  }
  std::shared_ptr<FileDescription> old;  // released outside the lock
  {
    absl::MutexLock lock(&mu_);
    if (static_cast<size_t>(fd) >= entries_.size()) entries_.resize(fd + 1);
    old = std::move(entries_[fd].file);
    entries_[fd] = Entry{std::move(file), cloexec};
  }
  // Replacing an fd closes it, with what closing means for record locks (even when the new
  // file is the same one).
  ReleaseRecordLocks(old.get());
  return {};
}

Result<void> FdTable::Close(int fd) {
  std::shared_ptr<FileDescription> file;  // released outside the lock
  {
    absl::MutexLock lock(&mu_);
    if (fd < 0 || static_cast<size_t>(fd) >= entries_.size() || !entries_[fd].file) {
      return Err(EBADF);
    }
    file = std::move(entries_[fd].file);
    entries_[fd] = Entry{};
  }
  ReleaseRecordLocks(file.get());
  return {};
}

std::vector<int> FdTable::Fds() {
  std::vector<int> fds;
  absl::MutexLock lock(&mu_);
  for (size_t fd = 0; fd < entries_.size(); ++fd) {
    if (entries_[fd].file) fds.push_back(static_cast<int>(fd));
  }
  return fds;
}

std::shared_ptr<FdTable> FdTable::Clone() {
  auto copy = std::make_shared<FdTable>();
  absl::MutexLock lock(&mu_);
  absl::MutexLock copy_lock(&copy->mu_);
  copy->entries_ = entries_;
  return copy;
}

void FdTable::CloseOnExec() {
  std::vector<std::shared_ptr<FileDescription>> closed;
  {
    absl::MutexLock lock(&mu_);
    for (auto& e : entries_) {
      if (e.file && e.cloexec) {
        closed.push_back(std::move(e.file));
        e = Entry{};
      }
    }
  }
  for (const auto& file : closed) ReleaseRecordLocks(file.get());
}

void FdTable::CloseRange(unsigned first, unsigned last) {
  std::vector<std::shared_ptr<FileDescription>> closed;
  {
    absl::MutexLock lock(&mu_);
    for (size_t fd = first; fd < entries_.size() && fd <= last; ++fd) {
      if (entries_[fd].file) closed.push_back(std::move(entries_[fd].file));
      entries_[fd] = Entry{};
    }
  }
  for (const auto& file : closed) ReleaseRecordLocks(file.get());
}

void FdTable::SetCloexecRange(unsigned first, unsigned last) {
  absl::MutexLock lock(&mu_);
  for (size_t fd = first; fd < entries_.size() && fd <= last; ++fd) {
    if (entries_[fd].file) entries_[fd].cloexec = true;
  }
}

}  // namespace sentry::vfs
