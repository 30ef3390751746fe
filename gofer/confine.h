// How the gofer confines itself before it serves: a private mount namespace whose root is the
// served tree, only the capabilities that file serving needs, and a seccomp filter.
#pragma once

#include <string>

#include "gofer/proto/wire.h"

namespace gofer {

// unshare(CLONE_NEWNS) and make every mount private, so nothing done next leaks to the host.
// EPERM (or EINVAL in a multi-threaded process) means the gofer must do without.
Result<void> EnterMountNamespace();

// A detached, recursive clone of the mount tree at `path` (open_tree), read-only all the way
// down when asked. It survives the pivot_root that hides `path`, and keeps its submounts.
Result<FileDescriptor> CloneMountTree(const std::string& path, bool read_only);

// Mounts a clone of the tree at `root` on top of it (read-only if asked) and makes it the
// process's root: pivot_root and a lazy unmount of the old root, or chroot where pivot_root is
// refused (an initramfs root). Works for "/" too. Call after EnterMountNamespace().
Result<void> PivotRoot(const std::string& root, bool read_only);

// Keeps only what serving files needs (CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH,
// CAP_FOWNER, CAP_FSETID) in the effective, permitted and bounding sets. A process without
// those capabilities keeps what it has of them.
Result<void> DropCapabilities();

// Installs the gofer's seccomp filter: any syscall outside the allow list kills the process.
Result<void> InstallSeccompFilter();

}  // namespace gofer
