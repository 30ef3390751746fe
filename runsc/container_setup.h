// What `runsc create` tells the sentry about the container beyond its program: config.json's
// mounts, masked and read-only paths, and who the process runs as. It travels as one JSON
// argument of `runsc boot` (--container), so the sentry needs no access to the bundle.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runsc/oci_spec.h"
#include "sentry/kernel/kernel.h"

namespace runsc {

struct ContainerMount {
  std::string destination;
  std::string type;    // a file system type the sentry has, or "bind"
  std::string source;  // shown in /proc/mounts; for a bind mount, the host path
  std::vector<std::string> options;
  int attach = -1;  // a bind mount's gofer attach point
  // A bind mount as /proc/mounts shows it: the host file system's type and device, and the
  // bound path within it (FindHostMount); empty when the host's mount table did not say.
  std::string host_fs_type, host_fs_source, host_fs_root;
};

struct ContainerSetup {
  std::vector<ContainerMount> mounts;  // in config.json's order
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::optional<sentry::kernel::ProcessIdentity> identity;
};

// Who a container's process runs as, from its OCI process object.
sentry::kernel::ProcessIdentity IdentityOf(const OciProcess& p);

std::string EncodeContainerSetup(const ContainerSetup& setup);
absl::StatusOr<ContainerSetup> DecodeContainerSetup(const std::string& text);

}  // namespace runsc
