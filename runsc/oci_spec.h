// The bundle's config.json (the OCI runtime spec): the parts runsc uses, checked field by
// field, and the default one `runsc spec` writes.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace runsc {

struct OciProcess {
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  uint32_t uid = 0;
  uint32_t gid = 0;
  bool terminal = false;
};

struct OciSpec {
  std::string oci_version;
  OciProcess process;
  std::string root_path;  // absolute (root.path resolved against the bundle)
  bool root_read_only = false;
  std::string hostname;
  std::map<std::string, std::string> annotations;
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
