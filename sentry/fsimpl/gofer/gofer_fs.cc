#include "sentry/fsimpl/gofer/gofer_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <algorithm>
#include <climits>
#include <span>
#include <string_view>

#include "absl/synchronization/mutex.h"
#include "sentry/fsimpl/gofer/page_cache.h"
#include "sentry/vfs/file_description.h"
#include "spdlog/spdlog.h"

namespace sentry::fsimpl::gofer {
namespace {

using ::gofer::Fid;

struct stat ToStat(const ::gofer::Stat& g) {
  struct stat st{};
  st.st_dev = g.dev;
  st.st_ino = g.ino;
  st.st_mode = g.mode;
  st.st_nlink = g.nlink;
  st.st_uid = g.uid;
  st.st_gid = g.gid;
  st.st_rdev = g.rdev;
  st.st_size = g.size;
  st.st_blksize = g.blksize;
  st.st_blocks = g.blocks;
  st.st_atim = {g.atime.sec, g.atime.nsec};
  st.st_mtim = {g.mtime.sec, g.mtime.nsec};
  st.st_ctim = {g.ctime.sec, g.ctime.nsec};
  return st;
}

int IovCount(std::span<const iovec> v) {
  return static_cast<int>(std::min<size_t>(v.size(), IOV_MAX));
}

class GoferInode;

// An open regular file (or device, FIFO...) backed by the host fd the gofer donated.
class HostBackedFile : public vfs::FileDescription {
 public:
  HostBackedFile(int flags, vfs::VirtualDentry path, FileDescriptor fd,
                 std::shared_ptr<GoferInode> inode)
      : FileDescription(flags, std::move(path)),
        fd_(std::make_shared<FileDescriptor>(std::move(fd))),
        inode_(std::move(inode)) {}

  Result<uint64_t> Read(std::span<const iovec> dst, std::optional<int64_t> offset) override {
    if (offset) return ReadAt(dst, *offset);
    std::lock_guard lock(pos_mu_);
    uint64_t n = TRY(ReadAt(dst, pos_));
    pos_ += static_cast<int64_t>(n);
    return n;
  }

  Result<uint64_t> Write(std::span<const iovec> src, std::optional<int64_t> offset) override;

  Result<struct stat> Stat() override;

  Result<void> Truncate(uint64_t size) override;
  Result<void> Sync() override;
  std::shared_ptr<mm::Mappable> GetMappable() override;

 private:
  Result<uint64_t> ReadAt(std::span<const iovec> dst, int64_t offset);
  static Result<uint64_t> Io(ssize_t n) {
    if (n < 0) return Err(errno);
    return static_cast<uint64_t>(n);
  }
  void MarkDirty();

  std::shared_ptr<FileDescriptor> fd_;  // shared with the page cache while mapped
  std::shared_ptr<GoferInode> inode_;
};

class GoferInode : public vfs::Inode {
 public:
  GoferInode(std::shared_ptr<Filesystem> fs, Fid fid, const ::gofer::Stat& stat, CachePolicy policy)
      : Inode(stat.mode),
        fs_(std::move(fs)),
        fid_(fid),
        revalidate_(policy == CachePolicy::kRevalidate),
        stat_(stat) {}
  ~GoferInode() override { fs_->ReleaseFid(fid_); }

  Result<struct stat> Stat() override {
    absl::MutexLock lock(&mu_);
    // Attributes a walk just brought serve the stat that follows it (stat(2) of a path is a
    // walk and a Stat); any other stat of a revalidating file asks the host again.
    if (revalidate_ ? !fresh_ : dirty_) {
      auto r = fs_->channel().Call(::gofer::StatRequest{.fid = fid_});
      if (!r) return std::unexpected(r.error());
      stat_ = r->stat;
      dirty_ = false;
      if (auto c = cache()) c->HostAttributes(ToStat(stat_));
    }
    fresh_ = false;
    return ToStat(stat_);
  }

  bool RevalidatesNames() const override { return revalidate_ && IsDir(); }

  Result<size_t> Revalidate(std::span<const std::string_view> names,
                            std::span<vfs::Inode* const> cached) override {
    ::gofer::WalkRequest req{.fid = fid_, .flags = ::gofer::kWalkNoFid, .names = {}};
    req.names.assign(names.begin(), names.end());
    auto r = TRY(fs_->channel().Call(req));
    // The gofer stops where the host's tree does (a missing name, or a non-directory with
    // names after it); whatever it did not reach is no longer what the cache says.
    size_t n = std::min(cached.size(), r.entries.size());
    for (size_t i = 0; i < n; ++i) {
      auto* g = dynamic_cast<GoferInode*>(cached[i]);
      if (g == nullptr || !g->Refresh(r.entries[i].stat)) return i;
    }
    return n;
  }

  void MarkDirty() {
    absl::MutexLock lock(&mu_);
    dirty_ = true;
  }

  // The page cache of a regular file, made at its first MAP_SHARED mmap; null before, and for
  // a file system without a MemoryFile.
  // An atomic rather than under mu_: every read and write asks, and mu_ is held across gofer
  // round trips.
  std::shared_ptr<PageCache> cache() { return cache_.load(std::memory_order_acquire); }
  // Another host fd for the file, from the gofer.
  Result<FileDescriptor> OpenHostFd(int flags) {
    auto r = TRY(fs_->channel().Call(
        ::gofer::OpenRequest{.fid = fid_, .flags = static_cast<uint32_t>(flags)}));
    return std::move(r.fd);
  }
  std::shared_ptr<PageCache> GetOrMakeCache() {
    if (auto c = cache()) return c;
    if (!IsRegular() || fs_->memory() == nullptr) return nullptr;
    absl::MutexLock lock(&mu_);
    if (!cache_.load()) cache_.store(PageCache::Create(*fs_->memory()));
    return cache_.load();
  }

  // Takes `st` as the current attributes if it still describes this file: the same inode of
  // the same type. A name the host re-made is another file, whatever it is called.
  bool Refresh(const ::gofer::Stat& st) {
    {
      absl::MutexLock lock(&mu_);
      if (st.dev != stat_.dev || st.ino != stat_.ino || (st.mode & S_IFMT) != type()) {
        return false;
      }
      stat_ = st;
      dirty_ = false;
      fresh_ = true;
    }
    // The host may have written the file since: cached pages must not show old data.
    if (auto c = cache()) c->HostAttributes(ToStat(st));
    return true;
  }

  Result<void> SetStat(const vfs::SetStatRequest& req) override {
    ::gofer::SetStatRequest g;
    g.fid = fid_;
    if (req.mode) {
      g.mask |= ::gofer::kSetMode;
      g.mode = *req.mode;
    }
    if (req.uid) {
      g.mask |= ::gofer::kSetUid;
      g.uid = *req.uid;
    }
    if (req.gid) {
      g.mask |= ::gofer::kSetGid;
      g.gid = *req.gid;
    }
    if (req.size) {
      g.mask |= ::gofer::kSetSize;
      g.size = *req.size;
    }
    if (req.atime) {
      g.mask |= ::gofer::kSetAtime;
      g.atime = {req.atime->tv_sec, req.atime->tv_nsec};
    }
    if (req.mtime) {
      g.mask |= ::gofer::kSetMtime;
      g.mtime = {req.mtime->tv_sec, req.mtime->tv_nsec};
    }
    auto r = TRY(fs_->channel().Call(g));
    if (req.size) {
      if (auto c = cache()) c->Truncated(*req.size);
    }
    absl::MutexLock lock(&mu_);
    stat_ = r.stat;
    dirty_ = false;
    return {};
  }

  Result<std::shared_ptr<vfs::Inode>> Lookup(std::string_view name) override {
    if (!IsDir()) return Err(ENOTDIR);
    auto r = TRY(fs_->channel().Call(
        ::gofer::WalkRequest{.fid = fid_, .flags = 0, .names = {std::string(name)}}));
    if (r.status != ::gofer::kWalkComplete || r.entries.size() != 1) return Err(ENOENT);
    return New(r.entries[0].fid, r.entries[0].stat);
  }

  Result<std::vector<vfs::DirEntry>> ReadDir() override {
    if (!IsDir()) return Err(ENOTDIR);
    std::vector<vfs::DirEntry> out;
    uint64_t offset = 0;
    while (true) {
      auto r = TRY(fs_->channel().Call(::gofer::GetdentsRequest{
          .fid = fid_, .offset = offset, .count = ::gofer::kMaxGetdentsCount}));
      if (r.entries.empty()) break;
      for (auto& e : r.entries) {
        offset = e.offset;
        if (e.name == "." || e.name == "..") continue;
        out.push_back({e.ino, e.type, std::move(e.name)});
      }
    }
    return out;
  }

  Result<std::shared_ptr<vfs::Inode>> Create(std::string_view name, mode_t mode,
                                             const vfs::FsCredentials& c) override {
    auto r = TRY(fs_->channel().Call(::gofer::CreateRequest{.dir = fid_,
                                                            .name = std::string(name),
                                                            .flags = O_RDONLY,
                                                            .mode = mode,
                                                            .uid = c.uid,
                                                            .gid = c.gid}));
    MarkDirty();
    return New(r.fid, r.stat);
  }

  Result<std::shared_ptr<vfs::Inode>> Mkdir(std::string_view name, mode_t mode,
                                            const vfs::FsCredentials& c) override {
    auto r = TRY(fs_->channel().Call(::gofer::MkdirRequest{
        .dir = fid_, .name = std::string(name), .mode = mode, .uid = c.uid, .gid = c.gid}));
    MarkDirty();
    return New(r.fid, r.stat);
  }

  Result<std::shared_ptr<vfs::Inode>> Mknod(std::string_view name, mode_t mode, dev_t,
                                            const vfs::FsCredentials& c) override {
    auto r = TRY(fs_->channel().Call(::gofer::MknodRequest{
        .dir = fid_, .name = std::string(name), .mode = mode, .uid = c.uid, .gid = c.gid}));
    MarkDirty();
    return New(r.fid, r.stat);
  }

  Result<std::shared_ptr<vfs::Inode>> Symlink(std::string_view name, std::string_view target,
                                              const vfs::FsCredentials& c) override {
    auto r = TRY(fs_->channel().Call(::gofer::SymlinkRequest{.dir = fid_,
                                                             .name = std::string(name),
                                                             .target = std::string(target),
                                                             .uid = c.uid,
                                                             .gid = c.gid}));
    MarkDirty();
    return New(r.fid, r.stat);
  }

  Result<void> Link(std::string_view name, vfs::Inode& target) override {
    auto* t = dynamic_cast<GoferInode*>(&target);
    if (t == nullptr || t->fs_ != fs_) return Err(EXDEV);
    auto r = TRY(fs_->channel().Call(
        ::gofer::LinkRequest{.dir = fid_, .name = std::string(name), .target = t->fid_}));
    fs_->ReleaseFid(r.fid);
    MarkDirty();
    t->MarkDirty();
    return {};
  }

  Result<void> Unlink(std::string_view name) override { return Remove(name, 0); }
  Result<void> Rmdir(std::string_view name) override { return Remove(name, AT_REMOVEDIR); }

  Result<void> Rename(std::string_view old_name, vfs::Inode& new_dir, std::string_view new_name,
                      unsigned flags) override {
    auto* nd = dynamic_cast<GoferInode*>(&new_dir);
    if (nd == nullptr || nd->fs_ != fs_) return Err(EXDEV);
    TRY(fs_->channel().Call(::gofer::RenameRequest{.old_dir = fid_,
                                                   .old_name = std::string(old_name),
                                                   .new_dir = nd->fid_,
                                                   .new_name = std::string(new_name),
                                                   .flags = flags}));
    MarkDirty();
    nd->MarkDirty();
    return {};
  }

  Result<struct statfs> StatFs() override {
    auto r = TRY(fs_->channel().Call(::gofer::StatFsRequest{.fid = fid_}));
    struct statfs out{};
    out.f_type = static_cast<decltype(out.f_type)>(r.statfs.type);
    out.f_bsize = static_cast<decltype(out.f_bsize)>(r.statfs.bsize);
    out.f_blocks = r.statfs.blocks;
    out.f_bfree = r.statfs.bfree;
    out.f_bavail = r.statfs.bavail;
    out.f_files = r.statfs.files;
    out.f_ffree = r.statfs.ffree;
    out.f_namelen = static_cast<decltype(out.f_namelen)>(r.statfs.namelen);
    out.f_frsize = static_cast<decltype(out.f_frsize)>(r.statfs.frsize);
    out.f_flags = static_cast<decltype(out.f_flags)>(r.statfs.flags);
    return out;
  }

  Result<std::string> ReadLink() override {
    if (!IsSymlink()) return Err(EINVAL);
    auto r = TRY(fs_->channel().Call(::gofer::ReadlinkRequest{.fid = fid_}));
    return std::move(r.target);
  }

  Result<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& path,
                                                     int flags) override {
    if (IsDir()) return std::shared_ptr<vfs::FileDescription>(
        std::make_shared<vfs::DirectoryFile>(flags, path));
    if (IsSymlink()) return Err(ELOOP);
    if (S_ISSOCK(type())) return Err(ENXIO);
    int host_flags = flags & (O_ACCMODE | O_TRUNC | O_APPEND | O_NONBLOCK | O_DIRECT | O_DSYNC |
                              O_SYNC | O_NOATIME);
    auto r = TRY(fs_->channel().Call(
        ::gofer::OpenRequest{.fid = fid_, .flags = static_cast<uint32_t>(host_flags)}));
    if (flags & O_TRUNC) {
      MarkDirty();
      if (auto c = cache()) c->Truncated(0);
    }
    // Pages kept from an earlier mapping must still be the host file's (close-to-open, as NFS).
    if (auto c = cache(); c && c->HasPages()) {
      struct stat st;
      if (fstat(r.fd.get(), &st) == 0) c->HostAttributes(st);
    }
    auto self = std::static_pointer_cast<GoferInode>(shared_from_this());
    return std::shared_ptr<vfs::FileDescription>(std::make_shared<HostBackedFile>(
        flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY), path, std::move(r.fd), self));
  }

  const void* FilesystemId() const override { return fs_.get(); }

 private:
  Result<std::shared_ptr<vfs::Inode>> New(Fid fid, const ::gofer::Stat& st) {
    return std::shared_ptr<vfs::Inode>(std::make_shared<GoferInode>(
        fs_, fid, st, revalidate_ ? CachePolicy::kRevalidate : CachePolicy::kExclusive));
  }

  Result<void> Remove(std::string_view name, uint32_t flags) {
    TRY(fs_->channel().Call(
        ::gofer::UnlinkRequest{.dir = fid_, .name = std::string(name), .flags = flags}));
    MarkDirty();
    return {};
  }

  std::shared_ptr<Filesystem> fs_;
  Fid fid_;
  const bool revalidate_;  // CachePolicy::kRevalidate
  absl::Mutex mu_;
  ::gofer::Stat stat_ ABSL_GUARDED_BY(mu_);
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;  // the cached stat may be stale
  std::atomic<std::shared_ptr<PageCache>> cache_;  // set once, under mu_
  bool fresh_ ABSL_GUARDED_BY(mu_) = true;   // stat_ came from the host since the last Stat()
};

Result<uint64_t> HostBackedFile::ReadAt(std::span<const iovec> dst, int64_t offset) {
  auto host_read = [&] { return Io(preadv(fd_->get(), dst.data(), IovCount(dst), offset)); };
  auto cache = inode_->cache();
  if (!cache || offset < 0) return host_read();
  return cache->Read(dst, static_cast<uint64_t>(offset), host_read);
}

Result<uint64_t> HostBackedFile::Write(std::span<const iovec> src, std::optional<int64_t> offset) {
  // What went where: the page cache copies it into the pages it holds (write-through).
  // pos_mu_ comes before the cache's lock, as in Read.
  auto host_write = [&]() -> Result<std::pair<uint64_t, uint64_t>> {
    if (offset) {
      uint64_t n = TRY(Io(pwritev(fd_->get(), src.data(), IovCount(src), *offset)));
      return std::pair{n, static_cast<uint64_t>(*offset)};
    }
    uint64_t n;
    if (status_flags() & O_APPEND) {
      // The host fd was opened with O_APPEND too: the host picks the end atomically.
      n = TRY(Io(writev(fd_->get(), src.data(), IovCount(src))));
      pos_ = lseek(fd_->get(), 0, SEEK_CUR);
    } else {
      n = TRY(Io(pwritev(fd_->get(), src.data(), IovCount(src), pos_)));
      pos_ += static_cast<int64_t>(n);
    }
    return std::pair{n, static_cast<uint64_t>(pos_) - n};
  };
  std::unique_lock<std::mutex> pos_lock(pos_mu_, std::defer_lock);
  if (!offset) pos_lock.lock();
  uint64_t n;
  if (auto cache = inode_->cache(); cache && !(offset && *offset < 0)) {
    n = TRY(cache->Write(src, fd_->get(), host_write));
  } else {
    n = TRY(host_write()).first;
  }
  if (pos_lock.owns_lock()) pos_lock.unlock();
  MarkDirty();
  return n;
}

Result<struct stat> HostBackedFile::Stat() {
  struct stat st;
  if (fstat(fd_->get(), &st) != 0) return Err(errno);
  if (auto cache = inode_->cache()) {
    cache->HostAttributes(st);
    st.st_blocks = std::max<blkcnt_t>(st.st_blocks, static_cast<blkcnt_t>(cache->DirtyBlocks()));
  }
  return st;
}

Result<void> HostBackedFile::Truncate(uint64_t size) {
  auto host_truncate = [&]() -> Result<void> {
    if (ftruncate(fd_->get(), static_cast<off_t>(size)) != 0) return Err(errno);
    return {};
  };
  if (auto cache = inode_->cache()) {
    TRY(cache->Truncate(size, fd_->get(), host_truncate));
  } else {
    TRY(host_truncate());
  }
  MarkDirty();
  return {};
}

Result<void> HostBackedFile::Sync() {
  // Stores through mappings reach the host file first, as fsync(2) writes dirty pages.
  if (auto cache = inode_->cache()) TRY(cache->WriteBack(0, UINT64_MAX, false));
  if (fsync(fd_->get()) != 0) return Err(errno);
  return {};
}

std::shared_ptr<mm::Mappable> HostBackedFile::GetMappable() {
  auto cache = inode_->GetOrMakeCache();
  if (!cache) return nullptr;
  auto fd = fd_;
  if (Writable() && (status_flags() & O_APPEND)) {
    // The cache writes back with pwritev, which appends on an O_APPEND fd whatever the offset.
    auto plain = inode_->OpenHostFd(O_RDWR);
    if (!plain) return nullptr;
    fd = std::make_shared<FileDescriptor>(std::move(*plain));
  }
  return cache->NewMapping(std::move(fd), Writable());
}

void HostBackedFile::MarkDirty() { inode_->MarkDirty(); }

}  // namespace

Result<std::shared_ptr<vfs::Inode>> Filesystem::Attach(uint32_t mount, CachePolicy policy) {
  auto r = TRY(channel_->Call(::gofer::AttachRequest{.mount = mount}));
  return std::shared_ptr<vfs::Inode>(
      std::make_shared<GoferInode>(shared_from_this(), r.fid, r.stat, policy));
}

void Filesystem::ReleaseFid(Fid fid) {
  auto r = channel_->Call(::gofer::CloseRequest{.fids = {fid}});
  if (!r) spdlog::debug("gofer: closing fid {} failed: {}", fid, r.error().value);
}

}  // namespace sentry::fsimpl::gofer
