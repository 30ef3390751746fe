#include "gofer/proto/channel.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace gofer {

Result<void> SendMessage(int socket, const OutMessage& message) {
  if (message.bytes.size() > kMaxMessageSize || message.fds.size() > kMaxMessageFds) {
    return Err(EMSGSIZE);
  }
  iovec iov{const_cast<uint8_t*>(message.bytes.data()), message.bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxMessageFds)];
  if (!message.fds.empty()) {
    size_t fd_bytes = sizeof(int) * message.fds.size();
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(fd_bytes);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(fd_bytes);
    std::memcpy(CMSG_DATA(c), message.fds.data(), fd_bytes);
  }
  ssize_t n;
  do {
    n = ::sendmsg(socket, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Err(errno);
  // A seqpacket send is all or nothing; anything else means this is not the socket we think.
  if (static_cast<size_t>(n) != message.bytes.size()) return Err(EIO);
  return {};
}

Result<Received> ReceiveMessage(int socket, std::span<uint8_t> buffer,
                                std::vector<FileDescriptor>& fds) {
  iovec iov{buffer.data(), buffer.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxMessageFds)];
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Err(errno);
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      fds.emplace_back(fd);
    }
  }
  return Received{static_cast<size_t>(n), (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0};
}

Channel::Channel(FileDescriptor socket) : socket_(std::move(socket)) {}

Result<size_t> Channel::RoundTrip(const OutMessage& out, std::vector<FileDescriptor>& fds) {
  if (buffer_.empty()) buffer_.resize(kMaxMessageSize);
  if (!SendMessage(socket_.get(), out)) return Err(EIO);
  auto received = ReceiveMessage(socket_.get(), buffer_, fds);
  if (!received || received->size == 0 || received->truncated) return Err(EIO);
  return received->size;
}

}  // namespace gofer
