#include "sentry/vfs/file_description.h"

#include <dirent.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sentry/vfs/flock.h"
#include "sentry/vfs/fsnotify.h"
#include "sentry/vfs/lease.h"
#include "sentry/vfs/record_lock.h"

namespace sentry::vfs {

FileDescription::FileDescription(int status_flags, VirtualDentry path)
    : status_flags_(status_flags), path_(std::move(path)) {
  if (path_.mount && path_.dentry && Writable()) {
    mode_t type = path_.inode().type();
    if (!S_ISCHR(type) && !S_ISBLK(type) && !S_ISFIFO(type) && !S_ISSOCK(type)) {
      path_.mount->AddWriter();
      mount_writer_ = true;
    }
  }
  // Counted before open(2) looks for leases to break (vfs/lease.h), as Linux counts a file's
  // readers and writers before break_lease. O_PATH and access mode 3 count as neither.
  if (path_.dentry && path_.inode().IsRegular() && !IsPath()) {
    OpenCounts& counts = path_.inode().open_counts();
    int mode = status_flags & O_ACCMODE;
    if (mode == O_RDONLY) {
      open_count_ = &counts.readers;
    } else if (mode == O_WRONLY || mode == O_RDWR) {
      open_count_ = &counts.writers;
    }
    if (open_count_ != nullptr) open_count_->fetch_add(1);
  }
}

FileDescription::~FileDescription() {
  if (notify_close_) {
    fsnotify::NotifyFile(*this, Writable() ? fsnotify::kCloseWrite : fsnotify::kCloseNoWrite);
  }
  if (leased_.load(std::memory_order_relaxed)) LeaseTable::Get().Release(*this);
  if (open_count_ != nullptr) open_count_->fetch_sub(1);
  if (flocked_) FlockTable::Get().ReleaseAll(this);
  if (ofd_locked_.load(std::memory_order_relaxed)) RecordLockTable::Get().ReleaseOwner(this);
  if (mount_writer_) path_.mount->RemoveWriter();
}

const void* FileDescription::LockFile() const {
  return path_.dentry ? static_cast<const void*>(&path_.inode()) : static_cast<const void*>(this);
}

Result<void> FileDescription::Flock(int op) {
  TRY(FlockTable::Get().Lock(LockFile(), this, op));
  flocked_ = true;
  return {};
}

uint32_t FileDescription::Readiness(uint32_t mask) {
  return mask & (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM);
}

Result<uint64_t> FileDescription::Read(std::span<const iovec>, std::optional<int64_t>) {
  if (path_.dentry && path_.inode().IsDir()) return Err(EISDIR);
  return Err(EINVAL);
}

Result<uint64_t> FileDescription::Write(std::span<const iovec>, std::optional<int64_t>) {
  return Err(EINVAL);
}

Result<int64_t> FileDescription::Seek(int64_t offset, int whence) {
  if (!path_.dentry) return Err(ESPIPE);
  std::lock_guard lock(pos_mu_);
  int64_t base;
  switch (whence) {
    case SEEK_SET:
      base = 0;
      break;
    case SEEK_CUR:
      base = pos_;
      break;
    case SEEK_END: {
      struct stat st = TRY(Stat());
      base = st.st_size;
      break;
    }
    default:
      return Err(EINVAL);
  }
  if ((offset > 0 && base > INT64_MAX - offset) || base + offset < 0) return Err(EINVAL);
  pos_ = base + offset;
  return pos_;
}

Result<void> FileDescription::ReadDir(const std::function<bool(const DirEntry&, int64_t)>&) {
  return Err(ENOTDIR);
}

Result<struct stat> FileDescription::Stat() {
  if (!path_.dentry) return Err(EBADF);
  return path_.inode().Stat();
}

Result<void> FileDescription::Truncate(uint64_t) { return Err(EINVAL); }

Result<uint64_t> FileDescription::Ioctl(mm::MemoryManager&, uint64_t, uint64_t) {
  return Err(ENOTTY);
}

Result<void> DirectoryFile::ReadDir(const std::function<bool(const DirEntry&, int64_t)>& emit) {
  std::lock_guard lock(pos_mu_);
  if (!snapshot_ || pos_ == 0) {
    std::vector<DirEntry> entries = TRY(path().inode().ReadDir());
    struct stat self = TRY(path().inode().Stat());
    std::vector<DirEntry> all;
    all.push_back({self.st_ino, DT_DIR, "."});
    uint64_t parent_ino = self.st_ino;
    if (auto parent = path().dentry->parent()) {
      if (auto pst = parent->inode().Stat()) parent_ino = pst->st_ino;
    }
    all.push_back({parent_ino, DT_DIR, ".."});
    for (auto& e : entries) all.push_back(std::move(e));
    snapshot_ = std::move(all);
  }
  while (pos_ >= 0 && static_cast<size_t>(pos_) < snapshot_->size()) {
    if (!emit((*snapshot_)[pos_], pos_ + 1)) break;
    ++pos_;
  }
  return {};
}

Result<int64_t> DirectoryFile::Seek(int64_t offset, int whence) {
  std::lock_guard lock(pos_mu_);
  if (whence == SEEK_SET && offset >= 0) {
    pos_ = offset;
  } else if (whence == SEEK_CUR && pos_ + offset >= 0) {
    pos_ += offset;
  } else {
    return Err(EINVAL);
  }
  return pos_;
}

}  // namespace sentry::vfs

namespace sentry::vfs {

Result<uint64_t> BlockOn(FileDescription& file, uint32_t mask,
                         const std::function<Result<uint64_t>()>& attempt) {
  Waiter waiter;
  WaitEntry entry{mask, waiter.WakeCallback()};
  bool registered = false;
  std::vector<pollfd> host;
  Result<uint64_t> r = Err(EAGAIN);
  while (true) {
    waiter.Reset();
    r = attempt();
    if (r || r.error().value != EAGAIN) break;
    if (!registered) {
      // Registered before the next attempt, so that no change after it goes unnoticed.
      file.EventRegister(&entry);
      file.HostWaitFds(mask, host);
      registered = true;
      continue;
    }
    if (auto slept = waiter.Sleep(host, std::nullopt); !slept) {
      r = std::unexpected(slept.error());
      break;
    }
  }
  if (registered) file.EventUnregister(&entry);
  return r;
}

Result<struct stat> AnonFile::Stat() {
  // anon_inodefs: one inode for all, mode 0600 with no file type, owned by root.
  struct stat st {};
  st.st_dev = makedev(0, 14);
  st.st_ino = 1;
  st.st_mode = S_IRUSR | S_IWUSR;
  st.st_nlink = 1;
  st.st_blksize = 4096;
  return st;
}

}  // namespace sentry::vfs
