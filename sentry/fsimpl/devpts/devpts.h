// devpts: the file system of pseudo-terminals. Its root holds `ptmx`, whose every open makes a
// new terminal pair and gives its master, and one `N` per live pair, the replica of terminal N
// (major 136, as Linux numbers them). Every mount is an instance of its own (Linux's
// newinstance), with its own numbering.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/vfs/filesystem_type.h"
#include "sentry/vfs/inode.h"

namespace sentry::kernel {
class Kernel;
}

namespace sentry::fsimpl::devpts {

class Terminal;

// mount -t devpts options (Linux 6.1): uid=, gid=, mode= (of new /dev/pts/N), ptmxmode=, max=,
// newinstance. ptmxmode defaults to 0666, as container runtimes mount it, so that /dev/ptmx
// (a symlink to pts/ptmx) works for everyone.
struct DevptsOptions {
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  uint32_t mode = 0600;
  uint32_t ptmx_mode = 0666;
  uint32_t max = 4096;
};
Result<DevptsOptions> ParseDevptsOptions(const std::vector<vfs::MountOption>& options);

// What every inode of one instance shares: the options and the live terminals by index.
class Devpts : public std::enable_shared_from_this<Devpts> {
  struct Key {};

 public:
  Devpts(Key, kernel::Kernel& kernel, DevptsOptions options);
  // A new instance; returns its root.
  static std::shared_ptr<vfs::Inode> NewRoot(kernel::Kernel& kernel, DevptsOptions options);

  // A new terminal at the lowest free index, owned by `creds` (ENOSPC past max=).
  Result<std::shared_ptr<Terminal>> NewTerminal(const vfs::FsCredentials& creds);
  // The terminal with `index` whose master is open, or null.
  std::shared_ptr<Terminal> Find(uint32_t index);
  // The indexes of those terminals, in order.
  std::vector<uint32_t> Indexes();
  // A terminal is gone: its index may be taken again.
  void Release(uint32_t index);

  dev_t dev() const { return dev_; }
  const timespec& created() const { return created_; }
  uint32_t ptmx_mode() const { return options_.ptmx_mode; }
  kernel::Kernel& kernel() { return kernel_; }

 private:
  kernel::Kernel& kernel_;
  const DevptsOptions options_;
  const dev_t dev_;
  timespec created_{};
  absl::Mutex mu_;
  std::map<uint32_t, std::weak_ptr<Terminal>> terminals_ ABSL_GUARDED_BY(mu_);
};

// Linux's numbers: ptmx is 5:2, /dev/tty 5:0, replicas 136:N.
inline constexpr unsigned kTtyAuxMajor = 5;
inline constexpr unsigned kPtyReplicaMajor = 136;

}  // namespace sentry::fsimpl::devpts
