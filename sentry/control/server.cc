#include "sentry/control/server.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cstring>
#include <thread>

#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "sentry/fsimpl/devpts/host_console.h"
#include "sentry/fsimpl/devpts/terminal.h"
#include "spdlog/spdlog.h"

namespace sentry::control {
namespace {

nlohmann::json Error(std::string message) { return {{"error", std::move(message)}}; }

int ShellStatus(int wait_status) {
  return WIFSIGNALED(wait_status) ? 128 + WTERMSIG(wait_status) : WEXITSTATUS(wait_status);
}

std::vector<std::string> Strings(const nlohmann::json& j, const char* key) {
  std::vector<std::string> out;
  if (!j.contains(key) || !j[key].is_array()) return out;
  for (const auto& s : j[key]) {
    if (s.is_string()) out.push_back(s.get<std::string>());
  }
  return out;
}

}  // namespace

void Server::Serve() {
  std::thread([this] {
    while (true) {
      int fd = accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        spdlog::error("control socket: accept: {}", strerror(errno));
        return;
      }
      std::thread([this, fd] { ServeConnection(FileDescriptor(fd)); }).detach();
    }
  }).detach();
}

std::optional<int> Server::WaitForStart() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](Server* s) ABSL_NO_THREAD_SAFETY_ANALYSIS { return s->started_ || s->killed_by_ != 0; },
      this));
  if (killed_by_ != 0) return killed_by_;
  return std::nullopt;
}

void Server::InitExited(int exit_code) {
  absl::MutexLock lock(&mu_);
  init_exit_ = exit_code;
  mu_.AwaitWithTimeout(absl::Condition(
                           +[](int* n) { return *n == 0; }, &waiters_),
                       absl::Seconds(1));
}

void Server::ServeConnection(FileDescriptor conn) {
  while (true) {
    auto request = Receive(conn.get());
    if (!request.ok()) {
      if (!absl::IsNotFound(request.status()))
        spdlog::warn("control: {}", request.status().ToString());
      return;
    }
    std::string cmd = request->body.value("cmd", "");
    // A signal may end init, and with it the sentry: InitExited waits for its reply to go.
    const bool signal = cmd == "signal";
    if (signal) {
      absl::MutexLock lock(&mu_);
      ++waiters_;
    }
    nlohmann::json reply = Handle(cmd, *request, conn.get());
    absl::Status sent = reply.is_null() ? absl::OkStatus() : Send(conn.get(), reply);
    if (signal) {
      absl::MutexLock lock(&mu_);
      --waiters_;
    }
    if (!sent.ok()) return;
  }
}

nlohmann::json Server::Handle(const std::string& cmd, Message& request, int conn) {
  if (cmd == "ping") return {{"ok", true}};
  if (cmd == "start") {
    absl::MutexLock lock(&mu_);
    if (started_) return Error("the container has already started");
    if (killed_by_ != 0 || killing_) return Error("the container was killed before it started");
    started_ = true;
    return {{"ok", true}};
  }
  if (cmd == "exec") return Exec(request, conn);
  if (cmd == "signal") return Signal(request.body, conn);
  if (cmd == "wait") {
    int code;
    {
      absl::MutexLock lock(&mu_);
      ++waiters_;
      mu_.Await(absl::Condition(
          +[](std::optional<int>* e) { return e->has_value(); }, &init_exit_));
      code = *init_exit_;
    }
    (void)Send(conn, {{"status", code}});
    absl::MutexLock lock(&mu_);
    --waiters_;
    return nullptr;
  }
  if (cmd == "ps") {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& p : kernel_.Processes()) {
      list.push_back({{"pid", p.pid}, {"ppid", p.ppid}, {"cmd", absl::StrJoin(p.argv, " ")}});
    }
    return {{"processes", list}};
  }
  return Error("unknown control command '" + cmd + "'");
}

// An exec'd process: the reply with its pid comes at once, a second with its status when it
// has exited (a client that detaches just stops listening).
nlohmann::json Server::Exec(Message& request, int conn) {
  {
    absl::MutexLock lock(&mu_);
    if (!started_) return Error("the container is not running");
  }
  kernel::InitProcessArgs args;
  args.argv = Strings(request.body, "argv");
  if (args.argv.empty()) return Error("exec: no command");
  args.path = args.argv[0];
  args.envp = Strings(request.body, "env");
  std::string cwd = request.body.value("cwd", std::string());
  args.cwd = cwd.empty() ? std::string(1, '/') : std::move(cwd);
  if (request.body.value("tty", false)) {
    // runsc exec --tty: the first fd is a host terminal (raw), the second, if any, says when
    // its size changes. The process gets a new sandbox terminal joined to it.
    if (request.fds.empty()) return Error("exec --tty: no terminal");
    FileDescriptor host = std::move(request.fds[0]);
    FileDescriptor winsize_events;
    if (request.fds.size() > 1) winsize_events = std::move(request.fds[1]);
    auto console = fsimpl::devpts::HostConsole::Open(kernel_.mounts(), std::move(host),
                                                     std::move(winsize_events),
                                                     kernel_.options().uid, kernel_.options().gid);
    if (!console) {
      return Error(std::string("exec --tty: a terminal in the sandbox: ") +
                   strerror(console.error().value));
    }
    args.stdio_files.assign(3, (*console)->replica());
    args.terminal = (*console)->terminal();
    (*console)->Start();
  } else {
    for (auto& fd : request.fds) args.stdio.push_back(std::move(fd));
  }
  if (request.body.contains("identity")) {
    auto identity = DecodeIdentity(request.body["identity"]);
    if (!identity.ok()) return Error(std::string(identity.status().message()));
    args.identity = std::move(*identity);
  }
  auto pid = kernel_.StartProcess(std::move(args));
  if (!pid) return Error(pid.error().message);
  if (auto s = Send(conn, {{"pid", *pid}}); !s.ok()) return nullptr;
  auto status = kernel_.WaitProcess(*pid);
  if (!status) return Error("exec: lost the process");
  return {{"status", ShellStatus(*status)}};
}

nlohmann::json Server::Signal(const nlohmann::json& request, int conn) {
  int sig = request.value("signal", 0);
  if (sig <= 0 || sig > 64) return Error("bad signal number");
  bool before_start;
  {
    absl::MutexLock lock(&mu_);
    before_start = !started_ && killed_by_ == 0;
    if (before_start) killing_ = true;  // no start from here on
  }
  if (before_start) {
    // runc allows kill in the created state: the container ends without running. The reply
    // goes first, since the sentry exits as soon as it knows.
    (void)Send(conn, {{"ok", true}});
    absl::MutexLock lock(&mu_);
    killed_by_ = sig;
    return nullptr;
  }
  if (request.value("all", false)) {
    auto procs = kernel_.Processes();
    // Init last: the sandbox ends with it.
    for (auto it = procs.rbegin(); it != procs.rend(); ++it) {
      (void)kernel_.SignalProcess(it->pid, sig);
    }
    return {{"ok", true}};
  }
  auto r = kernel_.SignalProcess(request.value("pid", 1), sig);
  if (!r) return Error(std::string("signal: ") + strerror(r.error().value));
  return {{"ok", true}};
}

}  // namespace sentry::control
