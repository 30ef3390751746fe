// runsc's end of the control channel (sentry/control): one connection to a sandbox's sentry.
#pragma once

#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "sentry/base/file_descriptor.h"

namespace runsc {

class ControlClient {
 public:
  // Connects to STATE_DIR/control.sock. Unavailable when no sentry serves it any more.
  static absl::StatusOr<ControlClient> Connect(const std::string& state_dir);

  // Sends one request (with `fds`, an exec's stdio) and returns the first reply; a reply
  // {"error": ...} comes back as an error status.
  absl::StatusOr<nlohmann::json> Call(const nlohmann::json& request, std::span<const int> fds = {});
  // The next reply on this connection (an exec's exit status, a wait's).
  absl::StatusOr<nlohmann::json> Next();

 private:
  explicit ControlClient(sentry::FileDescriptor sock) : sock_(std::move(sock)) {}
  sentry::FileDescriptor sock_;
};

}  // namespace runsc
