#include "gofer/gofer_server.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <cerrno>
#include <cstring>
#include <variant>

#include "gofer/confine.h"
#include "gofer/proto/channel.h"
#include "gofer/session.h"
#include "spdlog/spdlog.h"

namespace gofer {

namespace {

Result<std::shared_ptr<Node>> RootNode(FileDescriptor fd, uint32_t tree) {
  struct stat st = TRY(StatFd(fd.get()));
  auto node = std::make_shared<Node>();
  node->fd = std::move(fd);
  node->tree = tree;
  node->type = st.st_mode & S_IFMT;
  node->dev = st.st_dev;
  node->ino = st.st_ino;
  return node;
}

// An extra attach point. A directory comes as a detached clone of its mount tree when the gofer
// has its own mount namespace, so it outlives pivot_root; a single file keeps its host parent
// directory only to re-open it by name (no fid ever names that parent).
Result<std::shared_ptr<Node>> OpenMount(const GoferMount& mount, uint32_t tree, bool in_namespace) {
  FileDescriptor fd(::open(mount.host_path.c_str(), O_PATH | O_CLOEXEC));
  if (!fd.valid()) return Err(errno);
  struct stat st = TRY(StatFd(fd.get()));
  if (S_ISDIR(st.st_mode)) {
    if (in_namespace) fd = TRY(CloneMountTree(mount.host_path, mount.read_only));
    return RootNode(std::move(fd), tree);
  }
  std::string path = mount.host_path;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  FileDescriptor parent_fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!parent_fd.valid()) return Err(errno);
  auto parent = TRY(RootNode(std::move(parent_fd), tree));
  auto node = TRY(RootNode(std::move(fd), tree));
  node->parent = std::move(parent);
  node->name = std::move(name);
  return node;
}

// Opens every tree and confines the process to them: pivoted into the root when it may, or
// holding an O_PATH fd of it otherwise. Either way nothing afterwards uses an absolute path.
Result<std::vector<Tree>> SetUpTrees(const GoferConfig& config) {
  bool in_namespace = false;
  if (config.pivot) {
    auto entered = EnterMountNamespace();
    if (entered) {
      in_namespace = true;
    } else {
      spdlog::info("gofer: no mount namespace ({}); serving from a root fd",
                   std::strerror(entered.error().value));
    }
  }
  std::vector<Tree> trees(1 + config.mounts.size());
  for (size_t i = 0; i < config.mounts.size(); ++i) {
    trees[i + 1].root =
        TRY(OpenMount(config.mounts[i], static_cast<uint32_t>(i + 1), in_namespace));
    trees[i + 1].read_only = config.mounts[i].read_only;
  }
  std::string root = config.root;
  if (in_namespace) {
    TRY(PivotRoot(config.root, config.read_only));
    root.assign(1, '/');  // (not = "/": g++ 12 -O2 warns falsely about that)
  }
  FileDescriptor root_fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd.valid()) return Err(errno);
  trees[0].root = TRY(RootNode(std::move(root_fd), 0));
  trees[0].read_only = config.read_only;
  return trees;
}

Result<void> SendError(int socket, uint64_t tag, int error) {
  ErrorResponse e{static_cast<uint32_t>(error)};
  return SendMessage(socket, EncodeMessage(e, tag));
}

template <class Response>
Result<void> Reply(int socket, uint64_t tag, const Result<Response>& result) {
  if (!result) return SendError(socket, tag, result.error().value);
  OutMessage out = EncodeMessage(*result, tag);
  if (out.bytes.size() > kMaxMessageSize) return SendError(socket, tag, EIO);
  return SendMessage(socket, out);  // `result` still owns any donated fd until here
}

// One request at a time until the peer goes away. Anything malformed gets EINVAL (ENOSYS for a
// type it does not know) and the loop goes on: no message can stop the gofer but a close.
int Serve(Session& session, int socket) {
  std::vector<uint8_t> buffer(kMaxMessageSize);
  for (;;) {
    std::vector<FileDescriptor> fds;  // whatever arrives with a request is closed after it
    auto received = ReceiveMessage(socket, buffer, fds);
    if (!received) {
      if (received.error() == Errno(ECONNRESET)) return 0;
      spdlog::error("gofer: recvmsg: {}", std::strerror(received.error().value));
      return 1;
    }
    if (received->size == 0) return 0;
    auto message = std::span<const uint8_t>(buffer).first(received->size);
    uint64_t tag = 0;
    if (message.size() >= kHeaderSize) std::memcpy(&tag, message.data() + 8, sizeof(tag));

    auto header = DecodeHeader(message);
    Result<Request> request =
        received->truncated || !header ? Err(EINVAL) : DecodeRequest(*header, message, fds);
    fds.clear();  // no request keeps fds: strays are closed before the reply, not after
    Result<void> sent;
    if (!request) {
      sent = SendError(socket, tag, request.error().value);
    } else {
      sent = std::visit([&](const auto& r) { return Reply(socket, tag, session.Handle(r)); },
                        *request);
    }
    if (!sent) {
      int e = sent.error().value;
      if (e == EPIPE || e == ECONNRESET) return 0;
      spdlog::error("gofer: sendmsg: {}", std::strerror(e));
      return 1;
    }
  }
}

}  // namespace

int RunGofer(const GoferConfig& config) {
  FileDescriptor socket(config.socket_fd);
  // Time zone data is read on first use; read it now, from the host, before the root changes
  // and the filter forbids the open.
  ::tzset();
  // Modes from the client are exact: the sentry has applied the application's umask.
  ::umask(0);
  // Every fid holds an fd.
  struct rlimit nofile;
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }

  auto trees = SetUpTrees(config);
  if (!trees) {
    spdlog::error("gofer: cannot serve {}: {}", config.root, std::strerror(trees.error().value));
    return 1;
  }
  if (auto dropped = DropCapabilities(); !dropped) {
    spdlog::error("gofer: dropping capabilities: {}", std::strerror(dropped.error().value));
    return 1;
  }
  if (config.seccomp) {
    if (auto installed = InstallSeccompFilter(); !installed) {
      spdlog::error("gofer: seccomp: {}", std::strerror(installed.error().value));
      return 1;
    }
  }
  Session session(std::move(*trees));
  return Serve(session, socket.get());
}

}  // namespace gofer
