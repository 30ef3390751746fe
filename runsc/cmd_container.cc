// The commands on an existing container: start, state, kill, delete, exec, list, ps, wait; and
// spec and features, which need none.
#include <signal.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "runsc/cmd_oci.h"
#include "runsc/console.h"
#include "runsc/container_state.h"
#include "runsc/control_client.h"
#include "runsc/oci_spec.h"

namespace runsc {
namespace {

// "KILL", "SIGKILL", "kill", "9": the signal number; 0 when it names none.
int ParseSignal(const std::string& text) {
  int n;
  if (absl::SimpleAtoi(text, &n)) return n >= 1 && n <= 64 ? n : 0;
  std::string name = absl::AsciiStrToUpper(text);
  if (name.starts_with("SIG")) name = name.substr(3);
  for (int sig = 1; sig < NSIG; ++sig) {
    const char* abbrev = sigabbrev_np(sig);
    if (abbrev != nullptr && name == abbrev) return sig;
  }
  return 0;
}

// Loads the container's state under its lock; reports a failure.
struct Locked {
  sentry::FileDescriptor lock;
  ContainerState state;
};
std::optional<Locked> LoadLocked(const GlobalFlags& g, const std::string& id) {
  auto lock = LockContainer(g.root, id);
  if (!lock.ok()) {
    ReportError(g, std::string(lock.status().message()));
    return std::nullopt;
  }
  auto state = LoadState(g.root, id);
  if (!state.ok()) {
    ReportError(g, std::string(state.status().message()));
    return std::nullopt;
  }
  return Locked{std::move(*lock), std::move(*state)};
}

// Waits (up to `timeout`) for the process to be gone (or a zombie its new parent has not
// reaped yet).
bool WaitGone(const HostProcess& p, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (p.Alive()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

absl::Status WritePidFile(const std::string& path, pid_t pid) {
  std::string tmp = path + ".tmp";
  std::ofstream(tmp) << pid;
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("writing --pid-file ", path));
  }
  return absl::OkStatus();
}

}  // namespace

void ReportError(const GlobalFlags& g, const std::string& message) {
  fprintf(stderr, "runsc: %s\n", message.c_str());
  if (g.log.empty()) return;
  std::ofstream log(g.log, std::ios::app);
  if (g.log_format == "json") {
    log << nlohmann::json{{"level", "error"}, {"msg", message}, {"time", NowRfc3339()}}.dump()
        << "\n";
  } else {
    log << "time=\"" << NowRfc3339() << "\" level=error msg=" << nlohmann::json(message).dump()
        << "\n";
  }
}

int Start(const GlobalFlags& g, const std::string& id) {
  auto c = LoadLocked(g, id);
  if (!c) return 1;
  std::string status = c->state.Status();
  if (status != "created") {
    ReportError(g, absl::StrCat("cannot start a container that is ", status));
    return 1;
  }
  auto client = ControlClient::Connect(StateDir(g.root, id));
  auto reply = client.ok() ? client->Call({{"cmd", "start"}}) : client.status();
  if (!reply.ok()) {
    ReportError(g, absl::StrCat("start ", id, ": ", reply.status().message()));
    return 1;
  }
  c->state.started = true;
  if (auto s = SaveState(g.root, c->state); !s.ok()) {
    ReportError(g, std::string(s.message()));
    return 1;
  }
  return 0;
}

int State(const GlobalFlags& g, const std::string& id) {
  auto state = LoadState(g.root, id);
  if (!state.ok()) {
    ReportError(g, std::string(state.status().message()));
    return 1;
  }
  printf("%s\n", state->OciState().dump(2).c_str());
  return 0;
}

int Kill(const GlobalFlags& g, const std::string& id, const std::string& signal, bool all) {
  int sig = ParseSignal(signal.empty() ? "TERM" : signal);
  if (sig == 0) {
    ReportError(g, absl::StrCat("unknown signal '", signal, "'"));
    return 1;
  }
  auto c = LoadLocked(g, id);
  if (!c) return 1;
  if (c->state.Status() == "stopped") {
    ReportError(g, "container not running");
    return 1;
  }
  auto client = ControlClient::Connect(StateDir(g.root, id));
  auto reply = client.ok() ? client->Call({{"cmd", "signal"}, {"signal", sig}, {"all", all}})
                           : client.status();
  if (!reply.ok()) {
    // A sentry that no longer answers can still be ended from outside, with everything in it.
    if (sig == SIGKILL && c->state.sentry.Alive() && kill(c->state.sentry.pid, SIGKILL) == 0) {
      return 0;
    }
    ReportError(g, absl::StrCat("kill ", id, ": ", reply.status().message()));
    return 1;
  }
  return 0;
}

int Delete(const GlobalFlags& g, const std::string& id, bool force) {
  auto lock = LockContainer(g.root, id);
  if (!lock.ok()) {
    ReportError(g, std::string(lock.status().message()));
    return 1;
  }
  auto state = LoadState(g.root, id);
  if (state.ok()) {
    std::string status = state->Status();
    if (status == "running" && !force) {
      ReportError(g,
                  absl::StrCat("cannot delete container ", id, " that is not stopped: ", status));
      return 1;
    }
    // Ending the sentry ends the stubs (its PID namespace) and the gofer (its socket closes);
    // the gofer is killed too in case it is stuck.
    for (const HostProcess& p : {state->sentry, state->gofer}) {
      if (p.Alive()) kill(p.pid, SIGKILL);
    }
    for (const HostProcess& p : {state->sentry, state->gofer}) {
      if (!WaitGone(p, std::chrono::seconds(5))) {
        ReportError(g, absl::StrCat("delete ", id, ": process ", p.pid, " does not die"));
        return 1;
      }
    }
  } else if (!force) {
    // A directory without state.json: a create that is still running, or one that crashed.
    ReportError(g, std::string(state.status().message()));
    return 1;
  }
  std::error_code ec;
  std::filesystem::remove_all(StateDir(g.root, id), ec);
  if (ec) {
    ReportError(g, absl::StrCat("delete ", id, ": ", ec.message()));
    return 1;
  }
  return 0;
}

int Exec(const GlobalFlags& g, const ExecFlags& flags, const std::string& id,
         const std::vector<std::string>& command) {
  auto state = LoadState(g.root, id);
  if (!state.ok()) {
    ReportError(g, std::string(state.status().message()));
    return 255;
  }
  std::string status = state->Status();
  if (status != "running") {
    ReportError(g, absl::StrCat("cannot exec in a ", status, " container"));
    return 255;
  }
  OciProcess p;
  if (!flags.process_file.empty()) {
    std::ifstream in(flags.process_file);
    std::stringstream text;
    text << in.rdbuf();
    auto j = nlohmann::json::parse(text.str(), nullptr, false);
    absl::StatusOr<OciProcess> parsed =
        absl::NotFoundError(absl::StrCat("cannot read ", flags.process_file));
    if (in) parsed = ParseProcess(j, "process");
    if (!parsed.ok()) {
      ReportError(g,
                  absl::StrCat("--process ", flags.process_file, ": ", parsed.status().message()));
      return 255;
    }
    p = std::move(*parsed);
  } else {
    if (command.empty()) {
      ReportError(g, "exec: no command (give one, or --process FILE)");
      return 255;
    }
    p.args = command;
    p.env = state->env;
    p.cwd = state->cwd;
  }
  for (const std::string& e : flags.env) p.env.push_back(e);
  if (!flags.cwd.empty()) p.cwd = flags.cwd;

  // --tty: a host pty whose master goes to --console-socket (or runsc's own terminal, as runc
  // does without one); the sandbox gets its replica and the size watcher's pipe.
  std::optional<HostPty> pty;
  sentry::FileDescriptor winsize_events;
  std::optional<termios> saved_termios;
  std::vector<int> fds = {0, 1, 2};
  if (flags.tty || p.terminal) {
    if (!flags.console_socket.empty()) {
      auto made = OpenHostPty();
      absl::Status s = made.ok() ? MakeRaw(made->replica.get()) : made.status();
      if (s.ok()) s = SendConsoleMaster(flags.console_socket, made->master.get());
      if (!s.ok()) {
        ReportError(g, absl::StrCat("exec --tty: ", s.message()));
        return 255;
      }
      pty = std::move(*made);
      pty->master.Reset();
      if (auto w = StartWinsizeWatcher(pty->replica.get()); w.ok()) winsize_events = std::move(*w);
      fds = {pty->replica.get()};
    } else if (isatty(0)) {
      termios t;
      if (tcgetattr(0, &t) == 0) saved_termios = t;
      if (auto s = MakeRaw(0); !s.ok()) {
        ReportError(g, absl::StrCat("exec --tty: ", s.message()));
        return 255;
      }
      fds = {0};
    } else {
      ReportError(g, "exec --tty: --console-socket is required when stdin is not a terminal");
      return 255;
    }
    if (winsize_events.valid()) fds.push_back(winsize_events.get());
  }
  struct RestoreTerminal {
    std::optional<termios>& saved;
    ~RestoreTerminal() {
      if (saved) tcsetattr(0, TCSANOW, &*saved);
    }
  } restore{saved_termios};
  auto client = ControlClient::Connect(StateDir(g.root, id));
  nlohmann::json request = {{"cmd", "exec"}, {"argv", p.args}, {"env", p.env}, {"cwd", p.cwd}};
  if (flags.tty || p.terminal) request["tty"] = true;
  auto reply = client.ok() ? client->Call(request, fds) : client.status();
  // The sandbox has its own copies now; the watcher ends when the sandbox's is closed.
  pty.reset();
  winsize_events.Reset();
  if (!reply.ok()) {
    ReportError(g, std::string(reply.status().message()));
    return reply.status().message().find("not found in $PATH") != std::string_view::npos ? 127
                                                                                         : 126;
  }
  // The process has no host pid of its own: the sandbox's stands for it.
  if (!flags.pid_file.empty()) {
    if (auto s = WritePidFile(flags.pid_file, state->sentry.pid); !s.ok()) {
      ReportError(g, std::string(s.message()));
      return 255;
    }
  }
  if (flags.detach) return 0;
  auto done = client->Next();
  if (!done.ok()) {
    ReportError(g, absl::StrCat("exec: ", done.status().message()));
    return 255;
  }
  return done->value("status", 255);
}

int List(const GlobalFlags& g, const std::string& format, bool quiet) {
  nlohmann::json all = nlohmann::json::array();
  if (!quiet && format != "json") printf("ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n");
  for (const std::string& id : ListIds(g.root)) {
    auto state = LoadState(g.root, id);
    if (!state.ok()) continue;
    nlohmann::json s = state->OciState();
    if (quiet) {
      printf("%s\n", id.c_str());
    } else if (format == "json") {
      all.push_back(s);
    } else {
      printf("%s\t%d\t%s\t%s\t%s\t%s\n", id.c_str(), s["pid"].get<int>(),
             s["status"].get<std::string>().c_str(), state->bundle.c_str(), state->created.c_str(),
             state->owner.c_str());
    }
  }
  if (!quiet && format == "json") printf("%s\n", all.dump().c_str());
  return 0;
}

int Ps(const GlobalFlags& g, const std::string& id, const std::string& format) {
  auto state = LoadState(g.root, id);
  if (!state.ok()) {
    ReportError(g, std::string(state.status().message()));
    return 1;
  }
  if (state->Status() == "stopped") {
    ReportError(g, "container not running");
    return 1;
  }
  auto client = ControlClient::Connect(StateDir(g.root, id));
  auto reply = client.ok() ? client->Call({{"cmd", "ps"}}) : client.status();
  if (!reply.ok()) {
    ReportError(g, absl::StrCat("ps ", id, ": ", reply.status().message()));
    return 1;
  }
  const auto& procs = (*reply)["processes"];
  if (format == "json") {
    // runc prints the pids; these are the sandbox's own.
    nlohmann::json pids = nlohmann::json::array();
    for (const auto& p : procs) pids.push_back(p["pid"]);
    printf("%s\n", pids.dump().c_str());
    return 0;
  }
  printf("%-8s %-8s %s\n", "PID", "PPID", "CMD");
  for (const auto& p : procs) {
    printf("%-8d %-8d %s\n", p["pid"].get<int>(), p["ppid"].get<int>(),
           p["cmd"].get<std::string>().c_str());
  }
  return 0;
}

int Wait(const GlobalFlags& g, const std::string& id) {
  auto state = LoadState(g.root, id);
  if (!state.ok()) {
    ReportError(g, std::string(state.status().message()));
    return 255;
  }
  auto client = ControlClient::Connect(StateDir(g.root, id));
  auto reply = client.ok() ? client->Call({{"cmd", "wait"}}) : client.status();
  if (!reply.ok()) {
    ReportError(g, absl::StrCat("wait ", id, ": ", reply.status().message()));
    return 255;
  }
  int status = reply->value("status", 255);
  printf("%d\n", status);
  return status;
}

int Spec(const GlobalFlags& g, const std::string& bundle) {
  std::string path = absl::StrCat(bundle, "/config.json");
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    ReportError(g, "File config.json exists. Remove it first.");
    return 1;
  }
  std::ofstream out(path);
  out << DefaultSpec().dump(2) << "\n";
  if (!out) {
    ReportError(g, absl::StrCat("writing ", path));
    return 1;
  }
  return 0;
}

int Features() {
  nlohmann::json f = {{"ociVersionMin", "1.0.0"},
                      {"ociVersionMax", "1.1.0"},
                      {"hooks", nlohmann::json::array()},
                      {"mountOptions", nlohmann::json::array({"ro", "rw"})},
                      {"linux",
                       {{"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "user", "uts"}},
                        {"capabilities", nlohmann::json::array()},
                        {"cgroup", {{"v1", false}, {"v2", false}, {"systemd", false}}}}},
                      {"annotations", {{"org.opencontainers.runc.version", "runsc (sandbox)"}}}};
  printf("%s\n", f.dump(2).c_str());
  return 0;
}

}  // namespace runsc
