#include "sentry/vfs/file_description.h"

#include <dirent.h>
#include <unistd.h>

#include "sentry/vfs/flock.h"
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
}

FileDescription::~FileDescription() {
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
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = pos_; break;
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
