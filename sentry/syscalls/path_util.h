// What the *at() syscalls share: copying in a path, finding the starting directory from a dirfd,
// and resolving with the task's root, cwd and credentials.
#pragma once

#include <string>

#include "sentry/kernel/task.h"
#include "sentry/vfs/resolve.h"

namespace sentry::syscalls {

// A NUL-terminated path argument: EFAULT, or ENAMETOOLONG without a NUL within PATH_MAX.
Result<std::string> CopyInPath(kernel::Task& t, uint64_t addr);

vfs::FsCredentials FsCreds(kernel::Task& t);
vfs::ResolveContext MakeResolveContext(kernel::Task& t);

// The directory a relative path starts from: the cwd for AT_FDCWD, else dirfd's file (EBADF,
// ENOTDIR when it is not a directory).
Result<vfs::VirtualDentry> StartDir(kernel::Task& t, int dirfd);

// Resolves (dirfd, path) with vfs::ResolveFlags. With empty_path_ok (AT_EMPTY_PATH), an empty
// path names dirfd's own file, which may be any file.
Result<vfs::VirtualDentry> ResolveAt(kernel::Task& t, int dirfd, const std::string& path,
                                     unsigned flags, bool empty_path_ok = false);
Result<vfs::ParentAndName> ResolveParentAt(kernel::Task& t, int dirfd, const std::string& path);

uint64_t FdLimit(kernel::Task& t);  // RLIMIT_NOFILE's soft limit
mode_t Umask(kernel::Task& t);      // for the modes of new files

}  // namespace sentry::syscalls
