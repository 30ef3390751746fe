// The sandbox's host cgroups: config.json's linux.resources applied to the sentry, the gofer
// and the stubs (memory, CPU and pids limits), and a freezer for `pause`/`resume`. Version 1
// hierarchies (one directory per controller) or version 2 (one unified directory), whichever
// the host mounts at /sys/fs/cgroup. The group is made under runsc's own, named runsc-ID.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace runsc {

// linux.resources, the parts applied.
struct CgroupResources {
  std::optional<int64_t> memory_limit;  // bytes; -1 unlimited
  std::optional<uint64_t> cpu_shares;
  std::optional<int64_t> cpu_quota;    // µs per period; -1 unlimited
  std::optional<uint64_t> cpu_period;  // µs
  std::optional<int64_t> pids_limit;   // -1 unlimited
};

// linux.resources; errors name the field. Fields not listed above are accepted and ignored.
absl::StatusOr<CgroupResources> ParseResources(const nlohmann::json& j);

class Cgroup {
 public:
  // Makes the group (in every hierarchy it needs) and writes the limits.
  static absl::StatusOr<Cgroup> Create(const std::string& id, const CgroupResources& resources);
  // The group create made, from its saved paths (state.json).
  static Cgroup FromJson(const nlohmann::json& j);
  nlohmann::json ToJson() const;

  // Moves `pid` (and so its future children) into the group.
  absl::Status Join(pid_t pid) const;
  absl::Status Freeze() const;
  absl::Status Thaw() const;
  // Removes the group's directories; its processes must be gone.
  void Destroy() const;
  // For `events --stats`: what the group's controllers report (memory, cpu, pids).
  nlohmann::json Stats() const;
  bool empty() const { return dirs_.empty(); }

 private:
  bool v2_ = false;
  std::vector<std::string> dirs_;  // v1: one per controller; v2: one
  std::string freezer_;            // the directory with the freezer's files
};

}  // namespace runsc
