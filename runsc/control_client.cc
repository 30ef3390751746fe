#include "runsc/control_client.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "sentry/control/protocol.h"

namespace runsc {

absl::StatusOr<ControlClient> ControlClient::Connect(const std::string& state_dir) {
  std::string path = absl::StrCat(state_dir, "/", sentry::control::kSocketName);
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": path too long for a unix socket"));
  }
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  sentry::FileDescriptor sock(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return absl::ErrnoToStatus(errno, "socket");
  if (connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return absl::UnavailableError(
        absl::StrCat("the sandbox is not running (", path, ": ", strerror(errno), ")"));
  }
  return ControlClient(std::move(sock));
}

absl::StatusOr<nlohmann::json> ControlClient::Call(const nlohmann::json& request,
                                                   std::span<const int> fds) {
  if (auto s = sentry::control::Send(sock_.get(), request, fds); !s.ok()) return s;
  return Next();
}

absl::StatusOr<nlohmann::json> ControlClient::Next() {
  auto reply = sentry::control::Receive(sock_.get());
  if (!reply.ok()) {
    if (absl::IsNotFound(reply.status())) {
      return absl::UnavailableError("the sandbox went away before it answered");
    }
    return reply.status();
  }
  if (auto s = sentry::control::ReplyStatus(reply->body); !s.ok()) return s;
  return std::move(reply->body);
}

}  // namespace runsc
