// OCI hooks (config.json's hooks): host programs runsc runs at points of the lifecycle, each
// given the container's state JSON on stdin. In a sandbox every hook runs on the host, in
// runsc's own namespaces (the container's are the sentry's, which runs no host program).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace runsc {

struct OciHook {
  std::string path;  // absolute
  std::vector<std::string> args;
  std::vector<std::string> env;
  int timeout_seconds = 0;  // 0: none
};

// The hook points runc knows, in lifecycle order.
inline constexpr const char* kHookPoints[] = {"prestart",       "createRuntime", "createContainer",
                                              "startContainer", "poststart",     "poststop"};

using OciHooks = std::map<std::string, std::vector<OciHook>>;

// config.json's "hooks" object; errors name the field.
absl::StatusOr<OciHooks> ParseHooks(const nlohmann::json& j);
nlohmann::json HooksToJson(const OciHooks& hooks);

// Runs the hooks of `point` in order, each with `state` on its stdin; the first that fails
// (cannot start, exits non-zero, or outlives its timeout and is killed) is the error.
absl::Status RunHooks(const OciHooks& hooks, const std::string& point, const nlohmann::json& state);

}  // namespace runsc
