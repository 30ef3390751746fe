// Inode: a file as a file system knows it. File systems (sentry/fsimpl/*) subclass it; the VFS
// reaches files only through these operations. Operations a kind of file does not have fail the
// way Linux fails them (ENOTDIR for directory operations on a non-directory, and so on).
#pragma once

#include <sys/stat.h>
#include <sys/statfs.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sentry/base/errno.h"

namespace sentry::vfs {

class FileDescription;
struct VirtualDentry;

// Who is asking, for permission checks and new files' owners.
struct FsCredentials {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> groups;
  bool dac_override = true;  // CAP_DAC_OVERRIDE/CAP_FOWNER: root in the sandbox has them
};

struct DirEntry {
  uint64_t ino = 0;
  uint8_t type = 0;  // DT_*
  std::string name;
};

// chmod/chown/truncate/utimensat in one request. Times are resolved (no UTIME_NOW/OMIT).
struct SetStatRequest {
  std::optional<uint32_t> mode;  // permission bits only
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  std::optional<uint64_t> size;
  std::optional<timespec> atime;
  std::optional<timespec> mtime;
};

// How many open descriptions have a regular file open, by access mode (Linux's i_readcount and
// i_writecount; FileDescription keeps them), and how many leases it has (vfs/lease.h): what
// F_SETLEASE checks, and what lets open(2) skip the lease table for a file with none.
struct OpenCounts {
  std::atomic<int32_t> readers{0};  // O_RDONLY
  std::atomic<int32_t> writers{0};  // O_WRONLY or O_RDWR
  std::atomic<int32_t> leases{0};
};

class Inode : public std::enable_shared_from_this<Inode> {
 public:
  explicit Inode(mode_t type) : type_(type & S_IFMT) {}
  virtual ~Inode() = default;

  mode_t type() const { return type_; }
  bool IsDir() const { return type_ == S_IFDIR; }
  bool IsSymlink() const { return type_ == S_IFLNK; }
  bool IsRegular() const { return type_ == S_IFREG; }
  OpenCounts& open_counts() { return open_counts_; }

  virtual Result<struct stat> Stat() = 0;
  virtual Result<void> SetStat(const SetStatRequest&) { return Err(EPERM); }

  // Directories.
  virtual Result<std::shared_ptr<Inode>> Lookup(std::string_view /*name*/) { return Err(ENOTDIR); }
  virtual Result<std::vector<DirEntry>> ReadDir() { return Err(ENOTDIR); }
  // Whether the dentry cache may keep child `name` once looked up. Names that come and go
  // with what they show (/proc's processes and fds) say no: kept, they would pile up with every
  // process the sandbox ever ran, and a lookup of them is cheap anyway.
  virtual bool CachesChild(std::string_view /*name*/) const { return true; }
  virtual Result<std::shared_ptr<Inode>> Create(std::string_view, mode_t, const FsCredentials&) {
    return Err(DirOr(EPERM));
  }
  virtual Result<std::shared_ptr<Inode>> Mkdir(std::string_view, mode_t, const FsCredentials&) {
    return Err(DirOr(EPERM));
  }
  // mode carries the type (S_IFIFO, S_IFSOCK, S_IFREG; devices need the file system's say).
  virtual Result<std::shared_ptr<Inode>> Mknod(std::string_view, mode_t, dev_t,
                                               const FsCredentials&) {
    return Err(DirOr(EPERM));
  }
  virtual Result<std::shared_ptr<Inode>> Symlink(std::string_view, std::string_view,
                                                 const FsCredentials&) {
    return Err(DirOr(EPERM));
  }
  // open(O_TMPFILE) in this directory: a regular file with no name. `linkable` (no O_EXCL)
  // lets linkat(2) give it one later. EOPNOTSUPP where the file system cannot, as Linux says.
  virtual Result<std::shared_ptr<Inode>> TmpFile(mode_t /*mode*/, const FsCredentials&,
                                                 bool /*linkable*/) {
    return Err(DirOr(EOPNOTSUPP));
  }
  virtual Result<void> Link(std::string_view, Inode& /*target*/) { return Err(DirOr(EPERM)); }
  virtual Result<void> Unlink(std::string_view) { return Err(DirOr(EPERM)); }
  virtual Result<void> Rmdir(std::string_view) { return Err(DirOr(EPERM)); }
  // renameat2 within one file system; new_dir is an Inode of the same file system.
  virtual Result<void> Rename(std::string_view, Inode& /*new_dir*/, std::string_view,
                              unsigned /*flags*/) {
    return Err(DirOr(EXDEV));
  }

  // Revalidation, for file systems that others change behind the sandbox's back (a gofer
  // volume or bind mount, whose host files anyone on the host may change). Path resolution
  // asks a directory that says true here to check its cached children before it uses them.
  virtual bool RevalidatesNames() const { return false; }
  // Checks a chain of cached names below this directory in one go: names[0] is a child of
  // this directory, cached[0] the inode cached for it, names[i] a child of cached[i - 1].
  // Returns how many leading ones are still the same file (their attributes refreshed); the
  // caller drops the first one that is not, and with it everything cached below it.
  virtual Result<size_t> Revalidate(std::span<const std::string_view> /*names*/,
                                    std::span<Inode* const> cached) {
    return cached.size();
  }

  // Symbolic links.
  virtual Result<std::string> ReadLink() { return Err(EINVAL); }
  // Magic links (/proc/PID/exe, fd/N, cwd, root): the place the link stands for, where path
  // resolution goes instead of resolving ReadLink()'s text, so that deleted files and files
  // outside the caller's root still open (Linux's nd_jump_link). nullopt for plain symlinks; an
  // error when the link has lost its target (ENOENT for a closed fd). Defined in resolve.cc,
  // where VirtualDentry is complete.
  virtual Result<std::optional<VirtualDentry>> MagicLinkTarget();

  // statfs(2) of the file system this inode belongs to.
  virtual Result<struct statfs> StatFs() { return Err(ENOSYS); }

  // Extended attributes by full name ("user.x"); the syscall layer has checked the name, the
  // value's size and the caller's permission. A file system that keeps none says ENOTSUP, and
  // lists nothing (Linux's listxattr without a handler).
  virtual Result<std::string> GetXattr(std::string_view /*name*/) { return Err(ENOTSUP); }
  virtual Result<void> SetXattr(std::string_view /*name*/, std::string_view /*value*/,
                                int /*flags*/) {
    return Err(ENOTSUP);
  }
  virtual Result<void> RemoveXattr(std::string_view /*name*/) { return Err(ENOTSUP); }
  virtual Result<std::vector<std::string>> ListXattr() { return std::vector<std::string>{}; }

  // Opens the file. `path` is where it was found; flags are open(2)'s, already checked against
  // permissions and the mount.
  virtual Result<std::shared_ptr<FileDescription>> Open(const VirtualDentry& path, int flags) = 0;

  // The file system's identity: renames and links never cross it (EXDEV).
  virtual const void* FilesystemId() const = 0;

 private:
  int DirOr(int e) const { return IsDir() ? e : ENOTDIR; }

  mode_t type_;
  OpenCounts open_counts_;
};

// Whether creds may access a file with stat `st` for `want` (R_OK|W_OK|X_OK bits).
bool MayAccess(const struct stat& st, const FsCredentials& creds, int want);

}  // namespace sentry::vfs
