// /dev: a tmpfs populated the way a container's /dev looks (devtmpfs-like): the memory devices
// null, zero, full, random and urandom, tty (the caller's controlling terminal), ptmx (a symlink
// to pts/ptmx, where the sandbox mounts devpts), the fd and std* symlinks into /proc/self/fd,
// and the shm and pts directories.
#pragma once

#include <memory>

#include "sentry/fsimpl/tmpfs/device.h"
#include "sentry/fsimpl/tmpfs/tmpfs.h"
#include "sentry/mm/memory_file.h"

namespace sentry::fsimpl::dev {

std::shared_ptr<tmpfs::Filesystem> NewDevFilesystem(mm::MemoryFile& memory);

// The devices themselves, for whoever else needs one (each is stateless and shareable).
// null: reads end at once, writes vanish.       zero: reads zeros, writes vanish.
// full: reads zeros, writes fail with ENOSPC.   random, urandom: reads from the host's CSPRNG,
// writes are accepted and ignored (they would only add entropy).
std::shared_ptr<tmpfs::CharDevice> NullDevice();
std::shared_ptr<tmpfs::CharDevice> ZeroDevice();
std::shared_ptr<tmpfs::CharDevice> FullDevice();
std::shared_ptr<tmpfs::CharDevice> RandomDevice();

}  // namespace sentry::fsimpl::dev
