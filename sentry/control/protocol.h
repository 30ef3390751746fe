// The control channel's wire format, shared by the sentry's server and runsc's client: one
// SOCK_SEQPACKET message per request or reply, a JSON object, with host fds (an exec'd
// process's stdio) passed alongside as SCM_RIGHTS.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "sentry/base/file_descriptor.h"
#include "sentry/kernel/kernel.h"

namespace sentry::control {

// The control socket's file name in a container's state directory.
inline constexpr char kSocketName[] = "control.sock";
// The largest message either side sends (an exec's argv and environment).
inline constexpr size_t kMaxMessage = 256 * 1024;

struct Message {
  nlohmann::json body;
  std::vector<FileDescriptor> fds;
};

// Sends `body` with `fds` (at most 3). Never raises SIGPIPE: the sentry must not die because a
// client went away.
absl::Status Send(int sock, const nlohmann::json& body, std::span<const int> fds = {});
// The next message; NotFound at end of stream (the peer closed).
absl::StatusOr<Message> Receive(int sock);

// A reply's error, as the status it stands for: {"error": "..."} or OK.
absl::Status ReplyStatus(const nlohmann::json& reply);

// Who a process runs as (an exec's "identity", and runsc boot's --container).
nlohmann::json EncodeIdentity(const kernel::ProcessIdentity& id);
absl::StatusOr<kernel::ProcessIdentity> DecodeIdentity(const nlohmann::json& j);

}  // namespace sentry::control
