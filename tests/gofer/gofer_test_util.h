// Shared by the gofer server tests: a temporary tree, a gofer running in a child process, and
// small helpers to talk to it.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gofer/gofer_server.h"
#include "gofer/proto/channel.h"

namespace gofer::testing {

// A temporary directory, removed with everything in it (never following a symlink out).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(std::string_view rel) const { return path_ + "/" + std::string(rel); }

 private:
  std::string path_;
};

// RunGofer in a forked child serving one end of a socketpair; the test holds the Channel on the
// other. The child dies with the test (PDEATHSIG) and _exits with RunGofer's status.
class GoferChild {
 public:
  explicit GoferChild(GoferConfig config);
  ~GoferChild();

  Channel& channel() { return *channel_; }
  int socket() const { return channel_->fd(); }
  pid_t pid() const { return pid_; }
  // Closes the channel and waits for the child: its wait status.
  int Stop();

 private:
  pid_t pid_ = -1;
  std::unique_ptr<Channel> channel_;
};

Result<WalkResponse> Walk(Channel& channel, Fid fid, std::vector<std::string> names,
                          uint32_t flags = 0);
// Everything left to read from fd, from offset 0.
std::string ReadFile(int fd);
std::string ReadHostFile(const std::string& path);
void WriteHostFile(const std::string& path, std::string_view contents);
// A line of /proc/PID/status, without its "Name:" and blanks.
std::string ProcStatus(pid_t pid, std::string_view name);

// Sends raw bytes (and fds) on the socket and returns the raw reply.
std::vector<uint8_t> RawExchange(int socket, const std::vector<uint8_t>& bytes,
                                 const std::vector<int>& fds = {});
// The errno of a raw ErrorResponse with that tag, or -1 if the reply is anything else.
int RawError(const std::vector<uint8_t>& reply, uint64_t tag);

}  // namespace gofer::testing
