// overlay: a writable view of a read-only lower tree (the gofer's root) with a tmpfs upper layer
// that takes every change. The host's files are never written: a file is copied up into the
// upper layer the first time it is changed, and deletions of lower files are remembered as
// whiteouts. This is what `runsc do` gives a sandbox as its root.
#pragma once

#include <memory>

#include "sentry/fsimpl/tmpfs/tmpfs.h"
#include "sentry/vfs/inode.h"

namespace sentry::fsimpl::overlay {

// The root of an overlay of `lower` (a directory) under a fresh tmpfs in `memory`.
std::shared_ptr<vfs::Inode> NewOverlayRoot(mm::MemoryFile& memory,
                                           std::shared_ptr<vfs::Inode> lower);

}  // namespace sentry::fsimpl::overlay
