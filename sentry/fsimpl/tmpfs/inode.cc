#include "sentry/fsimpl/tmpfs/inode.h"

namespace sentry::fsimpl::tmpfs {
namespace {

bool Before(const timespec& a, const timespec& b) {
  return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

}  // namespace

TmpfsInode::TmpfsInode(std::shared_ptr<Superblock> sb, mode_t mode, uint32_t uid, uint32_t gid,
                       dev_t rdev)
    : vfs::Inode(mode),
      mode_(mode),
      uid_(uid),
      gid_(gid),
      nlink_(S_ISDIR(mode) ? 2 : 1),
      sb_(std::move(sb)),
      ino_(sb_->NextIno()),
      rdev_(rdev) {
  timespec now = Now();
  atime_ = mtime_ = ctime_ = now;
  sb_->InodeCreated();
}

TmpfsInode::~TmpfsInode() {
  sb_->UnchargeXattr(xattr_charge_);
  sb_->InodeDestroyed();
}

namespace {

// What one attribute takes from the superblock's space: its bookkeeping, name and value.
uint64_t XattrSpace(std::string_view name, size_t value_size) {
  constexpr uint64_t kEntryOverhead = 64;
  return kEntryOverhead + name.size() + 1 + value_size;
}

}  // namespace

Result<std::string> TmpfsInode::GetXattr(std::string_view name) {
  absl::ReaderMutexLock lock(&mu_);
  return xattrs_.Get(name);
}

// Linux's shmem_xattr_handler_set: the new value's space is taken first, the old one's given
// back once it is replaced, and ctime moves.
Result<void> TmpfsInode::SetXattr(std::string_view name, std::string_view value, int flags) {
  absl::MutexLock lock(&mu_);
  const uint64_t space = XattrSpace(name, value.size());
  TRY(sb_->ChargeXattr(space));
  auto old = xattrs_.Get(name);
  if (auto set = xattrs_.Set(name, value, flags); !set) {
    sb_->UnchargeXattr(space);
    return set;
  }
  xattr_charge_ += space;
  if (old) {
    const uint64_t old_space = XattrSpace(name, old->size());
    sb_->UnchargeXattr(old_space);
    xattr_charge_ -= old_space;
  }
  ctime_ = Now();
  return {};
}

Result<void> TmpfsInode::RemoveXattr(std::string_view name) {
  absl::MutexLock lock(&mu_);
  auto old = TRY(xattrs_.Get(name));
  TRY(xattrs_.Remove(name));
  const uint64_t old_space = XattrSpace(name, old.size());
  sb_->UnchargeXattr(old_space);
  xattr_charge_ -= old_space;
  ctime_ = Now();
  return {};
}

Result<std::vector<std::string>> TmpfsInode::ListXattr() {
  absl::ReaderMutexLock lock(&mu_);
  return xattrs_.Names();
}

Result<struct stat> TmpfsInode::Stat() {
  struct stat st {};
  absl::ReaderMutexLock lock(&mu_);
  st.st_dev = sb_->dev();
  st.st_ino = ino_;
  st.st_mode = mode_;
  st.st_nlink = nlink_;
  st.st_uid = uid_;
  st.st_gid = gid_;
  st.st_rdev = rdev_;
  st.st_size = static_cast<off_t>(SizeLocked());
  st.st_blksize = kPageSize;
  st.st_blocks = static_cast<blkcnt_t>(BlocksLocked());
  st.st_atim = atime_;
  st.st_mtim = mtime_;
  st.st_ctim = ctime_;
  return st;
}

Result<void> TmpfsInode::SetStat(const vfs::SetStatRequest& req) {
  absl::MutexLock lock(&mu_);
  TRY(CheckSetStatLocked(req));
  timespec now = Now();
  bool changed = false;
  // The size goes first: it is the only part that can fail, and a failed request changes nothing.
  if (req.size) {
    if (*req.size > static_cast<uint64_t>(INT64_MAX)) return Err(EINVAL);
    if (TRY(SetSizeLocked(*req.size))) {
      mtime_ = now;
      changed = true;
    }
  }
  if (req.uid || req.gid) {
    if (req.uid) uid_ = *req.uid;
    if (req.gid) gid_ = *req.gid;
    // chown(2) clears set-user-ID, and set-group-ID when it means "executable by the group"
    // (without S_IXGRP it marks mandatory locking), for root too; directories keep them.
    if (!S_ISDIR(mode_)) {
      mode_ &= ~S_ISUID;
      if (mode_ & S_IXGRP) mode_ &= ~S_ISGID;
    }
    changed = true;
  }
  if (req.mode) {
    mode_ = (mode_ & S_IFMT) | (*req.mode & 07777);
    changed = true;
  }
  if (req.atime) {
    atime_ = *req.atime;
    changed = true;
  }
  if (req.mtime) {
    mtime_ = *req.mtime;
    changed = true;
  }
  if (changed) ctime_ = now;
  return {};
}

uint32_t TmpfsInode::nlink() const {
  absl::ReaderMutexLock lock(&mu_);
  return nlink_;
}

void TmpfsInode::AddLinks(int delta) {
  absl::MutexLock lock(&mu_);
  nlink_ = static_cast<uint32_t>(static_cast<int64_t>(nlink_) + delta);
  ctime_ = Now();
}

void TmpfsInode::ClearLinks() {
  absl::MutexLock lock(&mu_);
  nlink_ = 0;
  ctime_ = Now();
}

void TmpfsInode::TouchCtime() {
  absl::MutexLock lock(&mu_);
  ctime_ = Now();
}

void TmpfsInode::TouchMtimeCtime() {
  absl::MutexLock lock(&mu_);
  mtime_ = ctime_ = Now();
}

void TmpfsInode::Accessed() {
  timespec now = Now();
  {
    absl::ReaderMutexLock lock(&mu_);
    timespec a_day_later = atime_;
    a_day_later.tv_sec += 24 * 60 * 60;
    // Linux's relatime_need_update: skip only when atime is newer than both mtime and ctime
    // and less than a day old.
    if (Before(mtime_, atime_) && Before(ctime_, atime_) && Before(now, a_day_later)) return;
  }
  absl::MutexLock lock(&mu_);
  atime_ = now;
}

Result<std::shared_ptr<vfs::FileDescription>> TmpfsInode::OpenPath(const vfs::VirtualDentry& path,
                                                                   int flags) {
  return std::make_shared<vfs::PathFile>(flags & (O_PATH | O_DIRECTORY | O_NOFOLLOW), path);
}

Symlink::Symlink(std::shared_ptr<Superblock> sb, std::string target, uint32_t uid, uint32_t gid)
    : TmpfsInode(std::move(sb), S_IFLNK | 0777, uid, gid), target_(std::move(target)) {}

Result<std::string> Symlink::ReadLink() {
  Accessed();
  return target_;
}

Result<std::shared_ptr<vfs::FileDescription>> Symlink::Open(const vfs::VirtualDentry& path,
                                                            int flags) {
  if (flags & O_DIRECTORY) return Err(ENOTDIR);
  if (flags & O_PATH) return OpenPath(path, flags);
  return Err(ELOOP);
}

Result<std::shared_ptr<vfs::FileDescription>> SpecialInode::Open(const vfs::VirtualDentry& path,
                                                                 int flags) {
  if (flags & O_DIRECTORY) return Err(ENOTDIR);
  if (flags & O_PATH) return OpenPath(path, flags);
  if (S_ISFIFO(type())) return fifo_.Open(path, flags);
  // A socket is never opened, only connected to (ENXIO on Linux too).
  return Err(ENXIO);
}

}  // namespace sentry::fsimpl::tmpfs
