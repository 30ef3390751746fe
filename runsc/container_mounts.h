// The sandbox's mount tree as a container's config.json shapes it: its mounts (in order), then
// its masked paths and read-only paths, applied at boot inside the sentry.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "runsc/container_setup.h"
#include "sentry/fsimpl/gofer/gofer_fs.h"
#include "sentry/kernel/kernel.h"
#include "sentry/vfs/mount.h"

namespace runsc {

// Resolves `path` in `mounts`, creating what is missing of it as directories (the last
// component as an empty file when `dir` is false). The root is usually an overlay whose upper
// layer takes these, so the host never sees them.
sentry::Result<sentry::vfs::VirtualDentry> MakeMountPoint(sentry::vfs::MountNamespace& mounts,
                                                          const std::string& path, bool dir);

// Applies setup's mounts, masked paths and read-only paths to `mounts`. Bind mounts come from
// the gofer's attach points through `gofer`. A mount of a type the sandbox lacks is an error
// naming it, except cgroup file systems, which are left out with a warning.
absl::Status ApplyContainerMounts(sentry::vfs::MountNamespace& mounts,
                                  sentry::kernel::Kernel& kernel,
                                  sentry::fsimpl::gofer::Filesystem& gofer,
                                  const ContainerSetup& setup);

}  // namespace runsc
