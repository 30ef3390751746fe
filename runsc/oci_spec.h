// The bundle's config.json (the OCI runtime spec): the parts runsc uses, checked field by
// field, and the default one `runsc spec` writes.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "runsc/cgroup.h"
#include "runsc/oci_hooks.h"

namespace runsc {

struct OciRlimit {
  int resource = 0;  // RLIMIT_*
  uint64_t soft = 0;
  uint64_t hard = 0;
};

// process.capabilities, as bit sets of CAP_* numbers.
struct OciCapabilities {
  uint64_t bounding = 0, effective = 0, inheritable = 0, permitted = 0, ambient = 0;
};

struct OciProcess {
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;
  std::optional<uint32_t> umask;
  bool terminal = false;
  std::vector<OciRlimit> rlimits;
  std::optional<OciCapabilities> capabilities;
  bool no_new_privileges = false;
};

struct OciMount {
  std::string destination;  // absolute, in the container
  std::string type;         // "bind" for bind mounts whatever the config said
  std::string source;       // for bind mounts: an absolute host path
  std::vector<std::string> options;
};

struct OciSpec {
  std::string oci_version;
  OciProcess process;
  std::string root_path;  // absolute (root.path resolved against the bundle)
  bool root_read_only = false;
  std::string hostname;
  std::map<std::string, std::string> annotations;
  std::vector<OciMount> mounts;
  std::vector<std::string> masked_paths;    // linux.maskedPaths
  std::vector<std::string> readonly_paths;  // linux.readonlyPaths
  OciHooks hooks;
  CgroupResources resources;  // linux.resources
};

// Reads BUNDLE/config.json. A malformed file or field is an InvalidArgument error naming the
// field ("process.args: must be a non-empty array of strings"). Unknown fields are ignored, as
// the spec asks.
absl::StatusOr<OciSpec> LoadSpec(const std::string& bundle);
// A `process` object (config.json's, or `runsc exec --process FILE`'s), `where` naming it in
// errors.
absl::StatusOr<OciProcess> ParseProcess(const nlohmann::json& j, const std::string& where);
// What `runsc spec` writes: runc's default config (sh on a terminal, rootfs, the usual mounts
// and namespaces).
nlohmann::json DefaultSpec();

}  // namespace runsc
