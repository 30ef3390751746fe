#include "gofer/node.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace gofer {

namespace {

// fchmodat2 (Linux 6.6) is newer than the C library's headers.
constexpr long kSysFchmodat2 = 452;

std::atomic<bool> have_openat2{true};
std::atomic<bool> have_fchmodat2{true};

Timespec ToWire(const struct timespec& ts) { return Timespec{ts.tv_sec, ts.tv_nsec}; }

}  // namespace

Result<void> ValidateName(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return Err(EINVAL);
  if (name.find('/') != std::string_view::npos) return Err(EINVAL);
  if (name.find('\0') != std::string_view::npos) return Err(EINVAL);
  if (name.size() > kMaxNameLength) return Err(ENAMETOOLONG);
  return {};
}

Stat ToWire(const struct stat& st) {
  Stat s;
  s.dev = st.st_dev;
  s.ino = st.st_ino;
  s.mode = st.st_mode;
  s.nlink = st.st_nlink;
  s.uid = st.st_uid;
  s.gid = st.st_gid;
  s.rdev = st.st_rdev;
  s.size = st.st_size;
  s.blksize = st.st_blksize;
  s.blocks = st.st_blocks;
  s.atime = ToWire(st.st_atim);
  s.mtime = ToWire(st.st_mtim);
  s.ctime = ToWire(st.st_ctim);
  return s;
}

StatFs ToWire(const struct statfs& st) {
  StatFs s;
  s.type = static_cast<uint64_t>(st.f_type);
  s.bsize = static_cast<uint64_t>(st.f_bsize);
  s.blocks = st.f_blocks;
  s.bfree = st.f_bfree;
  s.bavail = st.f_bavail;
  s.files = st.f_files;
  s.ffree = st.f_ffree;
  uint32_t fsid[2];
  static_assert(sizeof(fsid) == sizeof(st.f_fsid));
  std::memcpy(fsid, &st.f_fsid, sizeof(fsid));
  s.fsid = (uint64_t{fsid[1]} << 32) | fsid[0];
  s.namelen = static_cast<uint64_t>(st.f_namelen);
  s.frsize = static_cast<uint64_t>(st.f_frsize);
  s.flags = static_cast<uint64_t>(st.f_flags);
  return s;
}

Result<struct stat> StatFd(int fd) {
  struct stat st;
  if (::fstat(fd, &st) < 0) return Err(errno);
  return st;
}

Result<FileDescriptor> OpenAt(int dirfd, const std::string& name, int flags, mode_t mode) {
  flags |= O_NOFOLLOW | O_CLOEXEC;
  if (have_openat2.load(std::memory_order_relaxed)) {
    open_how how{};
    how.flags = static_cast<uint64_t>(flags);
    how.mode = (flags & (O_CREAT | __O_TMPFILE)) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    long fd = ::syscall(SYS_openat2, dirfd, name.c_str(), &how, sizeof(how));
    if (fd >= 0) return FileDescriptor(static_cast<int>(fd));
    if (errno != ENOSYS) return Err(errno);
    have_openat2.store(false, std::memory_order_relaxed);
  }
  // Without openat2 the single-component name (ValidateName) and O_NOFOLLOW give the same
  // guarantee: nothing to climb out with and no symlink followed.
  int fd = ::openat(dirfd, name.c_str(), flags, mode);
  if (fd < 0) return Err(errno);
  return FileDescriptor(fd);
}

Result<std::shared_ptr<Node>> WalkOne(const std::shared_ptr<Node>& dir, const std::string& name,
                                      struct stat* st) {
  auto node = std::make_shared<Node>();
  node->fd = TRY(OpenAt(dir->fd.get(), name, O_PATH));
  *st = TRY(StatFd(node->fd.get()));
  if (!S_ISDIR(st->st_mode)) node->parent = dir;
  node->name = name;
  node->tree = dir->tree;
  node->type = st->st_mode & S_IFMT;
  node->dev = st->st_dev;
  node->ino = st->st_ino;
  return node;
}

Result<FileDescriptor> Reopen(const Node& node, int flags) {
  FileDescriptor fd;
  if (node.is_dir()) {
    fd = TRY(OpenAt(node.fd.get(), ".", flags | O_DIRECTORY));
  } else {
    if (node.parent == nullptr) return Err(ESTALE);
    fd = TRY(OpenAt(node.parent->fd.get(), node.name, flags));
  }
  struct stat st = TRY(StatFd(fd.get()));
  if (st.st_dev != node.dev || st.st_ino != node.ino) return Err(ESTALE);
  return fd;
}

Result<void> ChmodNode(const Node& node, mode_t mode) {
  if (have_fchmodat2.load(std::memory_order_relaxed)) {
    if (::syscall(kSysFchmodat2, node.fd.get(), "", mode, AT_EMPTY_PATH) == 0) return {};
    if (errno != ENOSYS) return Err(errno);
    have_fchmodat2.store(false, std::memory_order_relaxed);
  }
  // Linux cannot chmod a symlink; sockets cannot be opened, and chmod by name could follow a
  // symlink swapped in behind our back.
  if (node.is_symlink()) return Err(EOPNOTSUPP);
  if (!node.is_dir() && !node.is_regular() && node.type != S_IFIFO) return Err(EOPNOTSUPP);
  FileDescriptor fd = TRY(Reopen(node, O_RDONLY | O_NONBLOCK));
  if (::fchmod(fd.get(), mode) < 0) return Err(errno);
  return {};
}

Result<void> UtimensNode(const Node& node, const struct timespec times[2]) {
  if (::utimensat(node.fd.get(), "", times, AT_EMPTY_PATH) == 0) return {};
  // Before Linux 5.8 utimensat knows no AT_EMPTY_PATH and says EINVAL. A directory can be
  // opened through itself; anything else is changed by name without following, which stays
  // inside the parent directory.
  if (errno != EINVAL) return Err(errno);
  if (node.is_dir()) {
    FileDescriptor fd = TRY(Reopen(node, O_RDONLY));
    if (::futimens(fd.get(), times) < 0) return Err(errno);
    return {};
  }
  if (node.parent == nullptr) return Err(EINVAL);
  if (::utimensat(node.parent->fd.get(), node.name.c_str(), times, AT_SYMLINK_NOFOLLOW) < 0) {
    return Err(errno);
  }
  return {};
}

Result<void> ChownNode(const Node& node, uid_t uid, gid_t gid) {
  if (::fchownat(node.fd.get(), "", uid, gid, AT_EMPTY_PATH) < 0) return Err(errno);
  return {};
}

}  // namespace gofer
