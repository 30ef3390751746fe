// The commands on an existing container: start, state, kill, delete, exec, list, ps, wait; and
// spec and features, which need none.
#include <fcntl.h>
#include <pthread.h>
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
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runsc/cgroup.h"
#include "runsc/cmd_oci.h"
#include "runsc/console.h"
#include "runsc/container_setup.h"
#include "runsc/container_state.h"
#include "runsc/control_client.h"
#include "runsc/oci_spec.h"
#include "sentry/control/protocol.h"

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

OciHooks SavedHooks(const ContainerState& state) {
  if (state.hooks.is_null()) return {};
  auto hooks = ParseHooks(state.hooks);
  return hooks.ok() ? std::move(*hooks) : OciHooks{};
}

void RunPoststopHooks(const GlobalFlags& g, const OciHooks& hooks, const ContainerState& state) {
  nlohmann::json stopped = state.OciState();
  stopped["status"] = "stopped";
  if (auto s = RunHooks(hooks, "poststop", stopped); !s.ok()) {
    ReportError(g, absl::StrCat("warning: ", s.message()));
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
  OciHooks hooks = SavedHooks(c->state);
  if (auto s = RunHooks(hooks, "startContainer", c->state.OciState()); !s.ok()) {
    ReportError(g, absl::StrCat("start ", id, ": ", s.message()));
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
  // As the spec says: a failing poststart hook is a warning; the container runs on.
  if (auto s = RunHooks(hooks, "poststart", c->state.OciState()); !s.ok()) {
    ReportError(g, absl::StrCat("warning: ", s.message()));
  }
  return 0;
}

// pause and resume: the freezer of the sandbox's cgroup stops the sentry, the gofer and
// every stub at once, as runc's stops the container's processes.
int SetPaused(const GlobalFlags& g, const std::string& id, bool pause) {
  auto c = LoadLocked(g, id);
  if (!c) return 1;
  std::string status = c->state.Status();
  if (status != (pause ? "running" : "paused")) {
    ReportError(
        g, absl::StrCat("cannot ", pause ? "pause" : "resume", " a container that is ", status));
    return 1;
  }
  Cgroup cgroup = Cgroup::FromJson(c->state.cgroup);
  absl::Status s = pause ? cgroup.Freeze() : cgroup.Thaw();
  if (!s.ok()) {
    ReportError(g, absl::StrCat(pause ? "pause " : "resume ", id, ": ", s.message()));
    return 1;
  }
  c->state.paused = pause;
  if (auto st = SaveState(g.root, c->state); !st.ok()) {
    ReportError(g, std::string(st.message()));
    return 1;
  }
  return 0;
}

int Pause(const GlobalFlags& g, const std::string& id) { return SetPaused(g, id, true); }
int Resume(const GlobalFlags& g, const std::string& id) { return SetPaused(g, id, false); }

// events: the cgroup's figures as runc prints them ({"type":"stats","id":...,"data":...}),
// once with --stats, else every interval until the container stops.
int Events(const GlobalFlags& g, const std::string& id, bool stats_once, int interval_seconds) {
  for (;;) {
    auto state = LoadState(g.root, id);
    if (!state.ok()) {
      ReportError(g, std::string(state.status().message()));
      return 1;
    }
    if (state->Status() == "stopped") {
      if (stats_once) {
        ReportError(g, absl::StrCat("container ", id, " is stopped"));
        return 1;
      }
      return 0;
    }
    nlohmann::json event = {
        {"type", "stats"}, {"id", id}, {"data", Cgroup::FromJson(state->cgroup).Stats()}};
    printf("%s\n", event.dump().c_str());
    fflush(stdout);
    if (stats_once) return 0;
    std::this_thread::sleep_for(std::chrono::seconds(std::max(1, interval_seconds)));
  }
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
  if (c->state.paused) {
    // A frozen sentry answers nothing. SIGKILL waits at the host, as it would for a frozen
    // container's processes, and ends the sandbox on resume or delete.
    if (sig == SIGKILL && kill(c->state.sentry.pid, SIGKILL) == 0) return 0;
    ReportError(g, absl::StrCat("kill ", id, ": the container is paused; resume it first"));
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
    // A frozen process takes its SIGKILL only once thawed.
    Cgroup cgroup = Cgroup::FromJson(state->cgroup);
    if (state->paused) (void)cgroup.Thaw();
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
    cgroup.Destroy();
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
  if (state.ok()) RunPoststopHooks(g, SavedHooks(*state), *state);
  return 0;
}

namespace {

// exec --user: "UID" or "UID:GID", numbers only (runc takes no names: the container's
// /etc/passwd is not the host's).
absl::StatusOr<std::pair<uint32_t, uint32_t>> ParseUser(const std::string& user) {
  std::vector<std::string> parts = absl::StrSplit(user, ':');
  uint32_t ids[2] = {0, 0};
  if (parts.size() > 2) return absl::InvalidArgumentError("--user: want UID[:GID]");
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!absl::SimpleAtoi(parts[i], &ids[i])) {
      return absl::InvalidArgumentError(absl::StrCat("--user ", user, ": want numeric UID[:GID]"));
    }
  }
  return std::pair{ids[0], ids[1]};
}

// The host process of a detached exec: it forwards the signals a runtime's caller sends to
// the sandbox process `pid`, and exits with that process's status.
int StandInForExec(const std::string& state_dir, ControlClient& client, pid_t pid) {
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd < 3; ++fd) dup2(null_fd, fd);  // the sandbox holds the process's stdio
  close(null_fd);
  sigset_t forwarded;
  sigemptyset(&forwarded);
  for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT}) {
    sigaddset(&forwarded, sig);
  }
  pthread_sigmask(SIG_BLOCK, &forwarded, nullptr);
  std::thread([state_dir, pid, forwarded] {
    for (;;) {
      int sig = 0;
      if (sigwait(&forwarded, &sig) != 0) continue;
      auto c = ControlClient::Connect(state_dir);
      if (c.ok()) (void)c->Call({{"cmd", "signal"}, {"signal", sig}, {"pid", pid}});
    }
  }).detach();
  auto done = client.Next();
  _exit(done.ok() ? done->value("status", 255) : 255);
}

}  // namespace

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
  // As runc: a command line runs as the container's own process does; --process as it says.
  sentry::kernel::ProcessIdentity identity = IdentityOf(p);
  if (flags.process_file.empty() && !state->identity.is_null()) {
    auto saved = sentry::control::DecodeIdentity(state->identity);
    if (saved.ok()) identity = std::move(*saved);
  }
  if (!flags.user.empty()) {
    auto user = ParseUser(flags.user);
    if (!user.ok()) {
      ReportError(g, std::string(user.status().message()));
      return 255;
    }
    std::tie(identity.uid, identity.gid) = *user;
  }

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
  nlohmann::json request = {{"cmd", "exec"},
                            {"argv", p.args},
                            {"env", p.env},
                            {"cwd", p.cwd},
                            {"identity", sentry::control::EncodeIdentity(identity)}};
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
  if (flags.detach) {
    // As with runc, something on the host must stand for the process and end with it: conmon
    // waits for the pid in --pid-file (it is a subreaper, and inherits it when we exit) and
    // signals it. A forked runsc does both, through the control channel.
    pid_t sandbox_pid = reply->value("pid", 0);
    pid_t proxy = fork();
    if (proxy < 0) {
      ReportError(g, absl::StrCat("exec: fork: ", strerror(errno)));
      return 255;
    }
    if (proxy == 0) return StandInForExec(StateDir(g.root, id), *client, sandbox_pid);
    if (!flags.pid_file.empty()) {
      if (auto s = WritePidFile(flags.pid_file, proxy); !s.ok()) {
        ReportError(g, std::string(s.message()));
        return 255;
      }
    }
    return 0;
  }
  // The process has no host pid of its own: the sandbox's stands for it.
  if (!flags.pid_file.empty()) {
    if (auto s = WritePidFile(flags.pid_file, state->sentry.pid); !s.ok()) {
      ReportError(g, std::string(s.message()));
      return 255;
    }
  }
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
  // The sentry replies before it exits: wait for it too, so that once `wait` returns the
  // container is stopped (state, delete without --force), as with runc, where the status
  // comes from the reaped init itself.
  if (!WaitGone(state->sentry, std::chrono::seconds(10))) {
    ReportError(g, absl::StrCat("wait ", id, ": the sandbox still runs 10 s after init exited"));
  }
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
  nlohmann::json hooks = nlohmann::json::array();
  for (const char* point : kHookPoints) hooks.push_back(point);
  nlohmann::json f = {
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", "1.1.0"},
      {"hooks", hooks},
      {"mountOptions",
       nlohmann::json::array({"ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec",
                              "bind", "rbind", "noatime", "relatime", "strictatime"})},
      {"linux",
       {{"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "user", "uts"}},
        {"capabilities", nlohmann::json::array()},
        {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}}}}},
      {"annotations", {{"org.opencontainers.runc.version", "runsc (sandbox)"}}}};
  printf("%s\n", f.dump(2).c_str());
  return 0;
}

}  // namespace runsc
