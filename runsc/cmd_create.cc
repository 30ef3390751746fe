// `runsc create` and `runsc run`: a sandbox (gofer and sentry) for a bundle, its init prepared
// but not started until `runsc start` (or at once, for run).
#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runsc/cmd_oci.h"
#include "runsc/console.h"
#include "runsc/container_setup.h"
#include "runsc/container_state.h"
#include "runsc/control_client.h"
#include "runsc/gofer_start.h"
#include "runsc/host_mounts.h"
#include "runsc/oci_spec.h"
#include "runsc/sandbox_namespaces.h"
#include "sentry/control/protocol.h"

extern char** environ;

namespace runsc {
namespace {

using sentry::FileDescriptor;

constexpr char kDefaultPath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// The sandbox path of the container's program, found as the sandbox will find it: in the
// rootfs, on the process's $PATH, symlinks resolved inside the rootfs (RESOLVE_IN_ROOT), so
// that a missing program fails `create` as it does with runc.
absl::StatusOr<std::string> FindExecutable(const std::string& rootfs, const OciProcess& p) {
  FileDescriptor root(open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.json: root.path: ", rootfs, ": ", strerror(errno)));
  }
  const std::string& name = p.args[0];
  std::vector<std::string> candidates;
  if (name.find('/') != std::string::npos) {
    candidates.push_back(name[0] == '/' ? name : absl::StrCat(p.cwd, "/", name));
  } else {
    std::string path = kDefaultPath;
    for (const std::string& e : p.env) {
      if (e.starts_with("PATH=")) path = e.substr(5);
    }
    for (auto dir : absl::StrSplit(path, ':')) {
      if (dir.empty() || dir[0] != '/') continue;  // relative entries: the cwd is not known here
      candidates.push_back(absl::StrCat(dir, "/", name));
    }
  }
  for (const std::string& c : candidates) {
    open_how how = {};
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT;
    FileDescriptor fd(
        static_cast<int>(syscall(SYS_openat2, root.get(), c.c_str(), &how, sizeof(how))));
    struct stat st;
    if (fd.valid() && fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111)) {
      return c;
    }
  }
  if (name.find('/') != std::string::npos) {
    return absl::NotFoundError(absl::StrCat("exec: \"", name, "\": no such file or directory"));
  }
  return absl::NotFoundError(
      absl::StrCat("exec: \"", name, "\": executable file not found in $PATH"));
}

std::string Absolute(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof(cwd)) == nullptr) return path;
  return path == "." ? cwd : absl::StrCat(cwd, "/", path);
}

absl::StatusOr<FileDescriptor> ListenOn(const std::string& path) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": too long for a unix socket; use a shorter --root"));
  }
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  FileDescriptor sock(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return absl::ErrnoToStatus(errno, "socket");
  if (bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(sock.get(), 16) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("listening on ", path));
  }
  return sock;
}

// A copy of `fd` at 10 or above, close-on-exec: the child can then dup2 it onto 0..4 without
// clobbering another source.
absl::StatusOr<FileDescriptor> HighCopy(int fd) {
  FileDescriptor copy(fcntl(fd, F_DUPFD_CLOEXEC, 10));
  if (!copy.valid()) return absl::ErrnoToStatus(errno, "fcntl(F_DUPFD_CLOEXEC)");
  return copy;
}

// What the sentry needs of config.json besides the program: the mounts (bind mounts become the
// gofer's attach points 1..N, listed in `bind_sources`), masked and read-only paths, and the
// process's identity.
ContainerSetup SetupFor(const OciSpec& spec, std::vector<gofer::GoferMount>& bind_sources) {
  ContainerSetup setup;
  for (const OciMount& m : spec.mounts) {
    ContainerMount cm;
    cm.destination = m.destination;
    cm.type = m.type;
    cm.source = m.source;
    cm.options = m.options;
    if (m.type == "bind") {
      bool ro = std::find(m.options.begin(), m.options.end(), "ro") != m.options.end();
      bind_sources.push_back({.host_path = m.source, .read_only = ro});
      cm.attach = static_cast<int>(bind_sources.size());
      std::error_code ec;
      auto real = std::filesystem::canonical(m.source, ec);
      if (auto host = ec ? std::nullopt : FindHostMount(real.string())) {
        cm.host_fs_type = host->fs_type;
        cm.host_fs_source = host->source;
        cm.host_fs_root = host->root;
      }
    }
    setup.mounts.push_back(std::move(cm));
  }
  setup.masked_paths = spec.masked_paths;
  setup.readonly_paths = spec.readonly_paths;
  setup.identity = IdentityOf(spec.process);
  return setup;
}

// `run` on its own terminal: how the terminal was before runsc made it raw, for the end.
std::optional<termios> g_saved_termios;
// And the pipe that tells the sentry of its size changes: runsc, in the terminal's foreground
// group, gets the SIGWINCH and writes a byte (no watcher can make that terminal its own).
int g_winsize_pipe = -1;
void ForwardWinsize(int) {
  int saved = errno;
  char one = 1;
  (void)!write(g_winsize_pipe, &one, 1);  // nonblocking: a full pipe already says "changed"
  errno = saved;
}

void RestoreTerminal() {
  if (g_saved_termios) tcsetattr(0, TCSANOW, &*g_saved_termios);
  g_saved_termios.reset();
}

// What create leaves behind when it fails half way: nothing.
struct Undo {
  std::string dir;
  pid_t sentry = -1;
  pid_t gofer = -1;
  std::optional<Cgroup> cgroup;
  bool armed = true;
  ~Undo() {
    if (!armed) return;
    for (pid_t p : {sentry, gofer}) {
      if (p > 0) {
        kill(p, SIGKILL);
        waitpid(p, nullptr, 0);
      }
    }
    if (cgroup) cgroup->Destroy();
    std::error_code ec;
    if (!dir.empty()) std::filesystem::remove_all(dir, ec);
  }
};

struct Created {
  ContainerState state;
  pid_t sentry = -1;
  pid_t gofer = -1;
};

// The sandbox for a bundle: the state directory, the gofer, the sentry (waiting for "start"),
// and state.json. `detached` (create): the sandbox outlives runsc, in a session of its own,
// with /dev/null as its stdio; else (run) it has runsc's stdio and dies with runsc.
absl::StatusOr<Created> CreateSandbox(const GlobalFlags& g, const CreateFlags& flags,
                                      const std::string& id, bool detached) {
  if (auto s = ValidateId(id); !s.ok()) return s;
  std::string bundle = Absolute(flags.bundle);
  auto spec = LoadSpec(bundle);
  if (!spec.ok()) return spec.status();
  // process.terminal: a host pty whose master goes to --console-socket and whose replica is
  // the sandbox's console; `run` without a socket uses its own terminal, as runc does.
  std::optional<HostPty> pty;
  FileDescriptor console;
  FileDescriptor winsize_events;  // for run on its own terminal
  if (spec->process.terminal) {
    if (!flags.console_socket.empty()) {
      auto p = OpenHostPty();
      if (!p.ok()) return p.status();
      if (auto s = MakeRaw(p->replica.get()); !s.ok()) return s;
      console = FileDescriptor(fcntl(p->replica.get(), F_DUPFD_CLOEXEC, 10));
      pty = std::move(*p);
    } else if (!detached && isatty(0)) {
      termios saved;
      if (tcgetattr(0, &saved) == 0) g_saved_termios = saved;
      if (auto s = MakeRaw(0); !s.ok()) return s;
      console = FileDescriptor(fcntl(0, F_DUPFD_CLOEXEC, 10));
      int p[2];
      if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return absl::ErrnoToStatus(errno, "pipe2");
      winsize_events = FileDescriptor(fcntl(p[0], F_DUPFD_CLOEXEC, 10));
      close(p[0]);
      g_winsize_pipe = p[1];  // runsc's until it exits
      struct sigaction sa = {};
      sa.sa_handler = ForwardWinsize;
      sa.sa_flags = SA_RESTART;
      sigaction(SIGWINCH, &sa, nullptr);
    } else {
      return absl::InvalidArgumentError(
          "config.json: process.terminal is true: --console-socket is required (or, for run, "
          "a terminal on stdin)");
    }
    if (!console.valid()) return absl::ErrnoToStatus(errno, "the console");
  }
  auto exe = FindExecutable(spec->root_path, spec->process);
  if (!exe.ok()) return exe.status();

  std::error_code ec;
  std::filesystem::create_directories(g.root, ec);
  if (ec) return absl::InternalError(absl::StrCat("creating --root ", g.root, ": ", ec.message()));
  std::string dir = StateDir(g.root, id);
  if (mkdir(dir.c_str(), 0700) != 0) {
    if (errno == EEXIST)
      return absl::AlreadyExistsError(absl::StrCat("container with id exists: ", id));
    return absl::ErrnoToStatus(errno, absl::StrCat("mkdir ", dir));
  }
  Undo undo{.dir = dir, .sentry = -1, .gofer = -1, .cgroup = std::nullopt, .armed = true};
  FileDescriptor lock(open((dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock.valid() || flock(lock.get(), LOCK_EX) != 0)
    return absl::ErrnoToStatus(errno, "lock file");

  // As runc: a root that is not read-only takes the container's writes. A read-only one is
  // served read-only, under an in-memory overlay that holds the mount points it may lack.
  auto cgroup = Cgroup::Create(id, spec->resources);
  if (!cgroup.ok()) return cgroup.status();
  undo.cgroup = *cgroup;
  std::vector<gofer::GoferMount> bind_sources;
  ContainerSetup setup = SetupFor(*spec, bind_sources);
  auto gofer = StartGofer(spec->root_path, /*read_only=*/spec->root_read_only || g.overlay,
                          bind_sources, detached);
  if (!gofer.ok()) return gofer.status();
  undo.gofer = gofer->pid;
  if (auto s = cgroup->Join(gofer->pid); !s.ok()) return s;
  auto listener = ListenOn(absl::StrCat(dir, "/", sentry::control::kSocketName));
  if (!listener.ok()) return listener.status();

  // The sandbox's fds 0..7: its own stdio (the log), the gofer's socket, the control socket,
  // and init's stdio: the caller's, as runc passes them on (conmon reads the container's
  // output from the pipes it gave create); then the console (8) and its size events (9).
  std::vector<FileDescriptor> fds;
  FileDescriptor null_fd, log_fd;
  if (detached) {
    null_fd = FileDescriptor(open("/dev/null", O_RDWR | O_CLOEXEC));
    log_fd = FileDescriptor(
        open((dir + "/sentry.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (!null_fd.valid() || !log_fd.valid()) return absl::ErrnoToStatus(errno, "sandbox stdio");
  }
  for (int src : {detached ? null_fd.get() : 0, detached ? null_fd.get() : 1,
                  detached ? log_fd.get() : 2, gofer->socket.get(), listener->get(), 0, 1, 2}) {
    auto copy = HighCopy(src);
    if (!copy.ok()) return copy.status();
    fds.push_back(std::move(*copy));
  }
  const bool has_console = console.valid(), has_winsize = winsize_events.valid();
  if (has_console) fds.push_back(std::move(console));         // fd 8
  if (has_winsize) fds.push_back(std::move(winsize_events));  // fd 9
  const int num_fds = static_cast<int>(fds.size());
  int child_fds[10];
  for (int i = 0; i < num_fds; ++i) child_fds[i] = fds[i].get();

  const OciProcess& p = spec->process;
  std::vector<std::string> args = {"runsc", "--platform=" + g.platform};
  if (g.strace) args.push_back("--strace");
  if (!g.debug_log_dir.empty()) args.push_back("--debug-log=" + g.debug_log_dir);
  args.insert(args.end(),
              {"boot", "--gofer-fd=3", "--control-fd=4", "--stdio-fd=5", "--exe-path=" + *exe,
               "--cwd=" + p.cwd, "--hostname=" + (spec->hostname.empty() ? id : spec->hostname),
               absl::StrCat("--uid=", p.uid), absl::StrCat("--gid=", p.gid)});
  // Under the overlay (root.readonly, or --overlay) the rootfs is only read.
  if (spec->root_read_only) {
    args.push_back("--root-readonly");
  } else if (!g.overlay) {
    args.push_back("--root-writable");
  }
  args.push_back("--container=" + EncodeContainerSetup(setup));
  if (has_console) args.push_back("--console-fd=8");
  if (has_winsize) args.push_back("--console-winsize-fd=9");
  for (const std::string& e : p.env) args.push_back("--env=" + e);
  args.push_back("--");
  args.insert(args.end(), p.args.begin(), p.args.end());
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);

  auto started = StartInSandboxNamespaces(SandboxNamespaces{.new_network = true}, [&] {
    if (detached) {
      prctl(PR_SET_PDEATHSIG, 0);  // create returns; the sandbox stays
      setsid();
    }
    for (int i = 0; i < num_fds; ++i) {
      if (dup2(child_fds[i], i) < 0) _exit(125);
    }
    execve("/proc/self/exe", cargs.data(), environ);
  });
  if (!started.ok()) return started.status();
  undo.sentry = *started;
  // Before it can fork a stub: those are made when init starts, after the ping below.
  if (auto s = cgroup->Join(*started); !s.ok()) return s;
  // The sentry holds the only ends now: when it goes, the gofer and the socket's clients see it.
  fds.clear();
  gofer->socket.Reset();
  listener->Reset();

  // Ready once the sentry answers (it serves the socket only after boot and confinement).
  auto client = ControlClient::Connect(dir);
  absl::Status ready = client.ok() ? client->Call({{"cmd", "ping"}}).status() : client.status();
  if (!ready.ok()) {
    std::ifstream in(dir + "/sentry.log");
    std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!log.empty() && log.back() == '\n') log.pop_back();
    return absl::InternalError(
        absl::StrCat("the sandbox failed to start", log.empty() ? "" : ": ", log));
  }

  if (pty) {
    // The sandbox holds the replica now; the master is the console socket's.
    if (auto st = SendConsoleMaster(flags.console_socket, pty->master.get()); !st.ok()) return st;
    pty.reset();
  }

  Created out;
  ContainerState& s = out.state;
  s.id = id;
  s.bundle = bundle;
  s.rootfs = spec->root_path;
  s.created = NowRfc3339();
  s.annotations = spec->annotations;
  s.sentry = HostProcess::Of(*started);
  s.gofer = HostProcess::Of(gofer->pid);
  s.env = p.env;
  s.cwd = p.cwd;
  s.identity = sentry::control::EncodeIdentity(*setup.identity);
  s.hooks = HooksToJson(spec->hooks);
  s.cgroup = cgroup->ToJson();
  // runc runs these while it creates the container; here the sandbox is up, init not started.
  nlohmann::json creating = s.OciState();
  creating["status"] = "creating";
  for (const char* point : {"prestart", "createRuntime", "createContainer"}) {
    if (auto st = RunHooks(spec->hooks, point, creating); !st.ok()) return st;
  }
  if (auto st = SaveState(g.root, s); !st.ok()) return st;
  if (!flags.pid_file.empty()) {
    std::string tmp = flags.pid_file + ".tmp";
    std::ofstream(tmp) << *started;
    if (rename(tmp.c_str(), flags.pid_file.c_str()) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("writing --pid-file ", flags.pid_file));
    }
  }
  undo.armed = false;
  out.sentry = *started;
  out.gofer = gofer->pid;
  return out;
}

volatile sig_atomic_t g_run_sentry = 0;
void ForwardToSentry(int sig) {
  if (g_run_sentry > 0) kill(g_run_sentry, sig);
}

}  // namespace

int Create(const GlobalFlags& g, const CreateFlags& flags, const std::string& id) {
  auto created = CreateSandbox(g, flags, id, /*detached=*/true);
  if (!created.ok()) {
    ReportError(g, std::string(created.status().message()));
    return 1;
  }
  return 0;
}

int Run(const GlobalFlags& g, const CreateFlags& flags, const std::string& id) {
  auto created = CreateSandbox(g, flags, id, /*detached=*/false);
  if (!created.ok()) {
    RestoreTerminal();
    ReportError(g, std::string(created.status().message()));
    return created.status().message().find("not found in $PATH") != std::string_view::npos ? 127
                                                                                           : 1;
  }
  g_run_sentry = created->sentry;
  struct sigaction sa = {};
  sa.sa_handler = ForwardToSentry;
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaction(sig, &sa, nullptr);
  int code = Start(g, id);
  int status = 0;
  while (waitpid(created->sentry, &status, 0) < 0 && errno == EINTR) {
  }
  while (waitpid(created->gofer, nullptr, 0) < 0 && errno == EINTR) {
  }
  RestoreTerminal();
  auto hooks = SavedHooks(created->state);
  Cgroup::FromJson(created->state.cgroup).Destroy();
  std::error_code ec;
  std::filesystem::remove_all(StateDir(g.root, id), ec);
  RunPoststopHooks(g, hooks, created->state);
  if (code != 0) return code;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

}  // namespace runsc
