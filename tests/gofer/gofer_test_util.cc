#include "tests/gofer/gofer_test_util.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

namespace gofer::testing {

TempDir::TempDir() {
  std::string templ = "/tmp/gofer_test.XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) ADD_FAILURE() << "mkdtemp: " << strerror(errno);
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);  // removes symlinks, never their targets
}

GoferChild::GoferChild(GoferConfig config) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    ADD_FAILURE() << "socketpair: " << strerror(errno);
    return;
  }
  pid_ = ::fork();
  if (pid_ == 0) {
    ::close(sv[0]);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    config.socket_fd = sv[1];
    int status = RunGofer(config);
    // Straight to the kernel: ASan's _exit hook makes syscalls the gofer's filter (rightly)
    // does not allow.
    ::syscall(SYS_exit_group, status);
  }
  ::close(sv[1]);
  channel_ = std::make_unique<Channel>(FileDescriptor(sv[0]));
}

GoferChild::~GoferChild() {
  if (pid_ > 0) Stop();
}

int GoferChild::Stop() {
  channel_.reset();
  int status = -1;
  if (pid_ > 0) {
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  return status;
}

Result<WalkResponse> Walk(Channel& channel, Fid fid, std::vector<std::string> names,
                          uint32_t flags) {
  return channel.Call(WalkRequest{fid, flags, std::move(names)});
}

std::string ReadFile(int fd) {
  std::string out;
  char buf[4096];
  off_t off = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof(buf), off);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    off += n;
  }
  return out;
}

std::string ReadHostFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteHostFile(const std::string& path, std::string_view contents) {
  std::ofstream out(path);
  out << contents;
}

std::string ProcStatus(pid_t pid, std::string_view name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  std::string prefix = std::string(name) + ":";
  while (std::getline(in, line)) {
    if (line.starts_with(prefix)) {
      size_t start = line.find_first_not_of(" \t", prefix.size());
      return start == std::string::npos ? "" : line.substr(start);
    }
  }
  return "";
}

std::vector<uint8_t> RawExchange(int socket, const std::vector<uint8_t>& bytes,
                                 const std::vector<int>& fds) {
  // Oversized messages go out by hand: SendMessage refuses them.
  bool sent = fds.empty() ? ::send(socket, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
                                static_cast<ssize_t>(bytes.size())
                          : SendMessage(socket, OutMessage{bytes, fds}).has_value();
  if (!sent) {
    ADD_FAILURE() << "send failed";
    return {};
  }
  std::vector<uint8_t> buf(kMaxMessageSize);
  std::vector<FileDescriptor> received;
  auto r = ReceiveMessage(socket, buf, received);
  if (!r) {
    ADD_FAILURE() << "receive failed";
    return {};
  }
  buf.resize(r->size);
  return buf;
}

int RawError(const std::vector<uint8_t>& reply, uint64_t tag) {
  auto header = DecodeHeader(reply);
  if (!header || header->type != kErrorType || header->tag != tag) return -1;
  auto e = DecodeBody<ErrorResponse>(reply, {});
  return e ? static_cast<int>(e->error) : -1;
}

}  // namespace gofer::testing
