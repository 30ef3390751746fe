// memfd_create(2): anonymous regular files in a tmpfs instance that no mount namespace shows
// (Linux's shm_mnt). Each file is opened through a name that was never entered in any
// directory, "memfd:NAME", so /proc/PID/fd shows "/memfd:NAME (deleted)" as on Linux; the file
// lives while an fd (or a reopen through /proc/PID/fd) holds it.
#pragma once

#include <memory>
#include <string_view>

#include "sentry/mm/memory_file.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/mount.h"

namespace sentry::fsimpl::tmpfs {

// The mount memfds live on: one per kernel (kernel::Kernel::InternalMount keeps it).
std::shared_ptr<vfs::Mount> NewMemfdMount(mm::MemoryFile& memory);

struct MemfdOptions {
  bool allow_sealing = false;  // MFD_ALLOW_SEALING: starts without F_SEAL_SEAL
  bool noexec_seal = false;    // MFD_NOEXEC_SEAL: mode 0666 and F_SEAL_EXEC, sealing allowed
};

// A new memfd called `name` (without the "memfd:" prefix; the caller checked its length),
// opened O_RDWR through `mount` (from NewMemfdMount). Mode 0777 (0666 with noexec_seal), owned
// by `creds`, no links, no umask, as Linux makes it.
Result<std::shared_ptr<vfs::FileDescription>> NewMemfd(const std::shared_ptr<vfs::Mount>& mount,
                                                       std::string_view name, MemfdOptions options,
                                                       const vfs::FsCredentials& creds);

}  // namespace sentry::fsimpl::tmpfs
