// Path resolution (Linux's namei): components, ".", "..", mounts, symlinks (40 at most), the
// task's root as the top of the world, and openat2's RESOLVE_* restrictions.
#pragma once

#include <string>
#include <string_view>

#include "sentry/base/errno.h"
#include "sentry/vfs/inode.h"
#include "sentry/vfs/mount.h"

namespace sentry::vfs {

inline constexpr int kMaxSymlinks = 40;
inline constexpr size_t kNameMax = 255;

struct ResolveContext {
  const MountNamespace& mounts;
  VirtualDentry root;  // the task's root directory: ".." stops here
  FsCredentials creds;
  int symlinks = 0;  // followed so far in this resolution
};

enum ResolveFlags : unsigned {
  kFollowFinal = 1 << 0,    // follow a symlink in the last component (not O_NOFOLLOW / lstat)
  kMustBeDir = 1 << 1,      // O_DIRECTORY: the result must be a directory
  kNoXdev = 1 << 2,         // RESOLVE_NO_XDEV
  kNoSymlinks = 1 << 3,     // RESOLVE_NO_SYMLINKS
  kBeneath = 1 << 4,        // RESOLVE_BENEATH: never leave the starting directory
  kInRoot = 1 << 5,         // RESOLVE_IN_ROOT: the starting directory acts as the root
  kNoMagicLinks = 1 << 6,   // RESOLVE_NO_MAGICLINKS: refuse /proc's magic links (ELOOP)
};

// Resolves `path` from `start` (used for relative paths).
Result<VirtualDentry> Resolve(ResolveContext& ctx, const VirtualDentry& start,
                              std::string_view path, unsigned flags);

struct ParentAndName {
  VirtualDentry parent;
  std::string name;     // the last component; may be "." or "..", or empty for "/"
  bool trailing_slash;  // the path ended in '/': the result must be a directory
};
// Resolves all but the last component, for calls that create or remove names.
Result<ParentAndName> ResolveParent(ResolveContext& ctx, const VirtualDentry& start,
                                    std::string_view path, unsigned flags = 0);

// The directory above `vd`, crossing mounts upward and stopping at ctx.root.
VirtualDentry ParentOf(const ResolveContext& ctx, const VirtualDentry& vd);

}  // namespace sentry::vfs
