#include "runsc/oci_hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sentry/base/file_descriptor.h"

namespace runsc {
namespace {

absl::Status FieldError(const std::string& field, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("config.json: ", field, ": ", what));
}

absl::StatusOr<std::vector<std::string>> Strings(const nlohmann::json& j,
                                                 const std::string& field) {
  if (!j.is_array()) return FieldError(field, "must be an array of strings");
  std::vector<std::string> out;
  for (const auto& s : j) {
    if (!s.is_string()) return FieldError(field, "must be an array of strings");
    out.push_back(s.get<std::string>());
  }
  return out;
}

// Waits for `pid` until `deadline` (none when timeout is 0); kills it past the deadline.
absl::Status Reap(pid_t pid, const OciHook& hook, const std::string& name) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(hook.timeout_seconds);
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, hook.timeout_seconds > 0 ? WNOHANG : 0);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return absl::ErrnoToStatus(errno, absl::StrCat(name, ": wait"));
    if (r == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        return absl::DeadlineExceededError(
            absl::StrCat(name, ": timed out after ", hook.timeout_seconds, "s"));
      }
      poll(nullptr, 0, 10);
    }
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  return absl::FailedPreconditionError(
      WIFEXITED(status) ? absl::StrCat(name, ": exit status ", WEXITSTATUS(status))
                        : absl::StrCat(name, ": killed by signal ", WTERMSIG(status)));
}

absl::Status RunHook(const OciHook& hook, const std::string& name, const std::string& input) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe2");
  sentry::FileDescriptor read_end(fds[0]), write_end(fds[1]);
  std::vector<std::string> args = hook.args.empty() ? std::vector{hook.path} : hook.args;
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = hook.env;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) return absl::ErrnoToStatus(errno, absl::StrCat(name, ": fork"));
  if (pid == 0) {
    dup2(read_end.get(), 0);
    execve(hook.path.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  read_end.Reset();
  // A hook that does not read its stdin must not stall us: SIGPIPE is ignored for the write.
  struct sigaction ignore = {}, old = {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &old);
  (void)!write(write_end.get(), input.data(), input.size());
  sigaction(SIGPIPE, &old, nullptr);
  write_end.Reset();
  return Reap(pid, hook, name);
}

}  // namespace

absl::StatusOr<OciHooks> ParseHooks(const nlohmann::json& j) {
  if (!j.is_object()) return FieldError("hooks", "must be an object");
  OciHooks hooks;
  for (const char* point : kHookPoints) {
    if (!j.contains(point)) continue;
    const auto& list = j[point];
    std::string field = absl::StrCat("hooks.", point);
    if (!list.is_array()) return FieldError(field, "must be an array");
    for (size_t i = 0; i < list.size(); ++i) {
      const auto& h = list[i];
      std::string where = absl::StrCat(field, "[", i, "]");
      if (!h.is_object()) return FieldError(where, "must be an object");
      OciHook hook;
      if (!h.contains("path") || !h["path"].is_string() || h["path"].get<std::string>().empty() ||
          h["path"].get<std::string>()[0] != '/') {
        return FieldError(where + ".path", "must be an absolute path");
      }
      hook.path = h["path"].get<std::string>();
      for (auto [key, slot] : {std::pair{"args", &hook.args}, std::pair{"env", &hook.env}}) {
        if (!h.contains(key)) continue;
        auto v = Strings(h[key], absl::StrCat(where, ".", key));
        if (!v.ok()) return v.status();
        *slot = std::move(*v);
      }
      if (h.contains("timeout")) {
        if (!h["timeout"].is_number_integer() || h["timeout"].get<int64_t>() <= 0 ||
            h["timeout"].get<int64_t>() > INT32_MAX) {
          return FieldError(where + ".timeout", "must be a positive number of seconds");
        }
        hook.timeout_seconds = h["timeout"].get<int>();
      }
      hooks[point].push_back(std::move(hook));
    }
  }
  return hooks;
}

nlohmann::json HooksToJson(const OciHooks& hooks) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [point, list] : hooks) {
    for (const OciHook& h : list) {
      nlohmann::json hook = {{"path", h.path}, {"args", h.args}, {"env", h.env}};
      if (h.timeout_seconds > 0) hook["timeout"] = h.timeout_seconds;
      j[point].push_back(std::move(hook));
    }
  }
  return j;
}

absl::Status RunHooks(const OciHooks& hooks, const std::string& point,
                      const nlohmann::json& state) {
  auto it = hooks.find(point);
  if (it == hooks.end()) return absl::OkStatus();
  std::string input = state.dump();
  for (size_t i = 0; i < it->second.size(); ++i) {
    const OciHook& hook = it->second[i];
    std::string name = absl::StrCat(point, " hook ", hook.path);
    if (auto s = RunHook(hook, name, input); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace runsc
