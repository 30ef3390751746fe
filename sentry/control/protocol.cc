#include "sentry/control/protocol.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace sentry::control {

constexpr size_t kMaxFds = 3;

absl::Status Send(int sock, const nlohmann::json& body, std::span<const int> fds) {
  if (fds.size() > kMaxFds) return absl::InvalidArgumentError("too many fds for one message");
  std::string text = body.dump();
  if (text.size() > kMaxMessage) return absl::InvalidArgumentError("control message too large");
  iovec iov{text.data(), text.size()};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do {
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return absl::ErrnoToStatus(errno, "sending a control message");
  return absl::OkStatus();
}

absl::StatusOr<Message> Receive(int sock) {
  std::string buf(kMaxMessage, '\0');
  iovec iov{buf.data(), buf.size()};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return absl::ErrnoToStatus(errno, "receiving a control message");
  Message out;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      out.fds.emplace_back(fd);
    }
  }
  if (n == 0) return absl::NotFoundError("the control connection was closed");
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
    return absl::InvalidArgumentError("control message truncated");
  }
  out.body = nlohmann::json::parse(buf.data(), buf.data() + n, nullptr, /*allow_exceptions=*/false);
  if (!out.body.is_object())
    return absl::InvalidArgumentError("control message is not a JSON object");
  return out;
}

absl::Status ReplyStatus(const nlohmann::json& reply) {
  if (reply.contains("error") && reply["error"].is_string()) {
    return absl::FailedPreconditionError(reply["error"].get<std::string>());
  }
  return absl::OkStatus();
}

nlohmann::json EncodeIdentity(const kernel::ProcessIdentity& id) {
  nlohmann::json rlimits = nlohmann::json::array();
  for (const auto& [resource, limit] : id.rlimits) {
    rlimits.push_back({resource, limit.cur, limit.max});
  }
  nlohmann::json j = {{"uid", id.uid},
                      {"gid", id.gid},
                      {"groups", id.groups},
                      {"rlimits", rlimits},
                      {"nnp", id.no_new_privs}};
  if (id.umask) j["umask"] = *id.umask;
  if (const auto& c = id.caps) {
    j["caps"] = {c->bounding, c->effective, c->permitted, c->inheritable, c->ambient};
  }
  return j;
}

absl::StatusOr<kernel::ProcessIdentity> DecodeIdentity(const nlohmann::json& j) {
  // Whoever sent it is runsc: a type error here is a bug, reported rather than thrown.
  try {
    kernel::ProcessIdentity id;
    id.uid = j.at("uid").get<uint32_t>();
    id.gid = j.at("gid").get<uint32_t>();
    id.groups = j.value("groups", std::vector<uint32_t>{});
    for (const auto& r : j.value("rlimits", nlohmann::json::array())) {
      id.rlimits.emplace_back(r.at(0).get<int>(),
                              kernel::Rlimit{r.at(1).get<uint64_t>(), r.at(2).get<uint64_t>()});
    }
    id.no_new_privs = j.value("nnp", false);
    if (j.contains("umask")) id.umask = j["umask"].get<mode_t>();
    if (j.contains("caps")) {
      const auto& c = j["caps"];
      id.caps = kernel::ProcessIdentity::CapabilitySets{.bounding = c.at(0).get<uint64_t>(),
                                                        .effective = c.at(1).get<uint64_t>(),
                                                        .permitted = c.at(2).get<uint64_t>(),
                                                        .inheritable = c.at(3).get<uint64_t>(),
                                                        .ambient = c.at(4).get<uint64_t>()};
    }
    return id;
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(std::string("identity: ") + e.what());
  }
}

}  // namespace sentry::control
