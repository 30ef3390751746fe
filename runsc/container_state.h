// A container's state directory, ROOT/ID: state.json (what `runsc state` reports and what the
// other commands need to find the sandbox), the control socket, the sentry's log, and a lock
// file. Every runsc command is a process of its own; the lock orders those on one container.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "sentry/base/file_descriptor.h"

namespace runsc {

// A host process as it was when recorded: the pid and its start time (/proc/PID/stat field 22),
// so that a recycled pid is never taken for it.
struct HostProcess {
  pid_t pid = 0;
  uint64_t start_time = 0;
  bool Alive() const;
  static HostProcess Of(pid_t pid);
};

struct ContainerState {
  std::string id;
  std::string bundle;   // absolute
  std::string rootfs;   // absolute
  std::string created;  // RFC 3339, UTC
  std::string owner;
  std::map<std::string, std::string> annotations;
  HostProcess sentry;  // the pid that stands for the container (its pid file, `state`'s pid)
  HostProcess gofer;
  bool started = false;
  bool paused = false;    // runsc pause froze its cgroup; resume thaws it
  nlohmann::json cgroup;  // runsc/cgroup.h's Cgroup::ToJson, null without one
  // What `runsc exec` without --process runs with: the container's own environment and cwd.
  std::vector<std::string> env;
  std::string cwd = "/";
  // And as whom: the process identity (sentry::control::EncodeIdentity), null if none saved.
  nlohmann::json identity;
  // config.json's hooks (runsc/oci_hooks.h), for start and delete to run.
  nlohmann::json hooks;

  // created, running, paused or stopped.
  std::string Status() const;
  // The OCI state JSON (`runsc state`).
  nlohmann::json OciState() const;
};

// ROOT/ID; ids are restricted to [A-Za-z0-9_.+-] so that one never names a path elsewhere.
absl::Status ValidateId(const std::string& id);
std::string StateDir(const std::string& root, const std::string& id);

absl::StatusOr<ContainerState> LoadState(const std::string& root, const std::string& id);
// Written to a temporary file and renamed, so that a reader sees the old or the new one.
absl::Status SaveState(const std::string& root, const ContainerState& state);
// The ids in ROOT, sorted.
std::vector<std::string> ListIds(const std::string& root);

// An exclusive flock on ROOT/ID/lock, held while a command reads and changes the container.
absl::StatusOr<sentry::FileDescriptor> LockContainer(const std::string& root,
                                                     const std::string& id);

// "2026-11-29T16:30:29.123456789Z".
std::string NowRfc3339();

}  // namespace runsc
