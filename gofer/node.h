// Host files as the gofer holds them, and the few host operations that touch them. Everything
// here resolves exactly one path component relative to a directory fd, never follows a symlink
// and never builds a path: this is where invariant 3 ("the gofer only serves the trees it was
// given") is kept.
#pragma once

#include <sys/stat.h>
#include <sys/statfs.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "gofer/proto/messages.h"

namespace gofer {

// A file the gofer has walked to. A non-directory keeps its parent directory so that it can be
// re-opened by name from the parent's fd: an O_PATH fd cannot be turned into an open one without
// /proc's magic links, which the gofer does not use. A directory re-opens through "." of its own
// fd and keeps no parent, so a deep walk does not pin every ancestor's fd.
struct Node {
  FileDescriptor fd;             // O_PATH|O_NOFOLLOW; names the file itself, even a symlink
  std::shared_ptr<Node> parent;  // non-directories only
  std::string name;              // in parent; kept current by renames made through the gofer
  uint32_t tree = 0;             // the attach point it belongs to
  uint32_t type = 0;             // S_IFMT bits
  uint64_t dev = 0;
  uint64_t ino = 0;

  bool is_dir() const { return type == S_IFDIR; }
  bool is_regular() const { return type == S_IFREG; }
  bool is_symlink() const { return type == S_IFLNK; }
};

// One path component as the protocol allows it: not "", ".", "..", no '/', no NUL (EINVAL), at
// most NAME_MAX bytes (ENAMETOOLONG).
Result<void> ValidateName(std::string_view name);

Stat ToWire(const struct stat& st);
StatFs ToWire(const struct statfs& st);

Result<struct stat> StatFd(int fd);

// openat of one component beneath `dirfd`, never following a symlink or a magic link: openat2
// with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS where the kernel has it,
// openat(O_NOFOLLOW) otherwise. O_NOFOLLOW and O_CLOEXEC are always added. With O_PATH a
// trailing symlink opens the link itself.
Result<FileDescriptor> OpenAt(int dirfd, const std::string& name, int flags, mode_t mode = 0);

// Walks one component from `dir` to a new Node and stats it.
Result<std::shared_ptr<Node>> WalkOne(const std::shared_ptr<Node>& dir, const std::string& name,
                                      struct stat* st);

// An open fd (not O_PATH) for the node's file: a directory through "." of its own fd, anything
// else by name from its parent, checked to still be the same inode (ESTALE if the name now
// points elsewhere).
Result<FileDescriptor> Reopen(const Node& node, int flags);

// chmod of the node's file without following anything: fchmodat2(AT_EMPTY_PATH) on kernels
// that have it (6.6+), otherwise through an opened fd for the types that can be opened safely.
Result<void> ChmodNode(const Node& node, mode_t mode);

// utimensat on the node's file itself (AT_EMPTY_PATH, or by name with AT_SYMLINK_NOFOLLOW on
// kernels before 5.8).
Result<void> UtimensNode(const Node& node, const struct timespec times[2]);

// chown of the node's file itself, skipped when it already has that owner so that an
// unprivileged gofer can still create files as itself.
Result<void> ChownNode(const Node& node, uid_t uid, gid_t gid);

}  // namespace gofer
