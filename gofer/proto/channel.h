// The transport of the gofer protocol: whole messages over a SOCK_SEQPACKET unix socket with fds
// as SCM_RIGHTS, and Channel, the client side that the sentry uses to make calls.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "gofer/proto/messages.h"

namespace gofer {

// Sends one message with its fds. EPIPE/ECONNRESET when the peer is gone (never SIGPIPE).
Result<void> SendMessage(int socket, const OutMessage& message);

struct Received {
  size_t size = 0;         // 0: the peer closed the socket
  bool truncated = false;  // the message or its fds did not fit (MSG_TRUNC / MSG_CTRUNC)
};
// Receives one message into `buffer` and its fds (close-on-exec) into `fds`. Fds arrive owned
// even when the message is bad, so the caller's vector closes whatever it does not use.
Result<Received> ReceiveMessage(int socket, std::span<uint8_t> buffer,
                                std::vector<FileDescriptor>& fds);

// One connection to the gofer. Call() sends a request and waits for its reply; calls from several
// threads are serialized (one outstanding call per channel; open more channels for parallelism).
// Transport failures and replies that break the protocol are EIO; the gofer's own failures come
// back as their errno.
class Channel {
 public:
  explicit Channel(FileDescriptor socket);
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  template <class Req>
  Result<typename Req::Response> Call(const Req& request) {
    absl::MutexLock lock(&mu_);
    uint64_t tag = next_tag_++;
    OutMessage out = EncodeMessage(request, tag);
    std::vector<FileDescriptor> fds;
    size_t size = TRY(RoundTrip(out, fds));
    // Fds the reply type does not expect stay in `fds` and are closed on return.
    return DecodeReply<typename Req::Response>(std::span(buffer_).first(size), fds, tag);
  }

  int fd() const { return socket_.get(); }

 private:
  Result<size_t> RoundTrip(const OutMessage& out, std::vector<FileDescriptor>& fds)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const FileDescriptor socket_;
  absl::Mutex mu_;
  uint64_t next_tag_ ABSL_GUARDED_BY(mu_) = 1;
  std::vector<uint8_t> buffer_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gofer
