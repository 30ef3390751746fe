#include "runsc/cmd_do.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runsc/gofer_start.h"
#include "runsc/host_mounts.h"
#include "runsc/sandbox_namespaces.h"
#include "sentry/base/file_descriptor.h"

extern char** environ;

namespace runsc {
namespace {

volatile sig_atomic_t g_sentry_pid = 0;

// Signals that would end runsc end the sandbox too: pass them on to the sentry.
void ForwardSignal(int sig) {
  if (g_sentry_pid > 0) kill(g_sentry_pid, sig);
}

// The program's path as a shell finds it: as given when it has a slash, else on $PATH.
std::optional<std::string> Resolve(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = getenv("PATH");
  for (auto dir : absl::StrSplit(path ? path : "/usr/local/bin:/usr/bin:/bin", ':')) {
    std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

struct Volume {
  std::string host;     // canonical, absolute
  std::string sandbox;  // absolute
  bool read_only = false;
};

// HOST:SANDBOX[:ro|:rw]. Neither path may contain ':'.
std::optional<Volume> ParseVolume(const std::string& spec, std::string* error) {
  std::vector<std::string> parts = absl::StrSplit(spec, ':');
  Volume v;
  if (parts.size() == 3 && (parts[2] == "ro" || parts[2] == "rw")) {
    v.read_only = parts[2] == "ro";
    parts.pop_back();
  }
  if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
    *error = "expected HOST:SANDBOX[:ro]";
    return std::nullopt;
  }
  char resolved[PATH_MAX];
  if (realpath(parts[0].c_str(), resolved) == nullptr) {
    *error = absl::StrCat(parts[0], ": ", strerror(errno));
    return std::nullopt;
  }
  v.host = resolved;
  v.sandbox = parts[1];
  if (v.sandbox[0] != '/') {
    *error = absl::StrCat(v.sandbox, ": the sandbox path must be absolute");
    return std::nullopt;
  }
  if (v.sandbox.find_first_not_of('/') == std::string::npos) {
    *error = "a volume cannot replace the root";
    return std::nullopt;
  }
  return v;
}

std::string Hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
}

}  // namespace

int Do(const GlobalFlags& flags, const DoFlags& do_flags, const std::vector<std::string>& program) {
  std::vector<Volume> volumes;
  for (const std::string& spec : do_flags.volumes) {
    std::string error;
    auto v = ParseVolume(spec, &error);
    if (!v) {
      fprintf(stderr, "runsc: --volume %s: %s\n", spec.c_str(), error.c_str());
      return 2;
    }
    volumes.push_back(std::move(*v));
  }

  auto path = Resolve(program[0]);
  if (!path) {
    fprintf(stderr, "runsc: %s: command not found\n", program[0].c_str());
    return 127;
  }
  // The sentry finds the program through the gofer; runsc checks it first only to fail early
  // with a shell's exit status and message.
  sentry::FileDescriptor exe(open(path->c_str(), O_RDONLY | O_CLOEXEC));
  if (!exe.valid()) {
    int err = errno;
    fprintf(stderr, "runsc: %s: %s\n", path->c_str(), strerror(err));
    return err == ENOENT ? 127 : 126;
  }
  struct stat st;
  if (fstat(exe.get(), &st) != 0 || !S_ISREG(st.st_mode) || access(path->c_str(), X_OK) != 0) {
    fprintf(stderr, "runsc: %s: %s\n", path->c_str(),
            S_ISDIR(st.st_mode) ? "Is a directory" : strerror(EACCES));
    return 126;
  }

  std::vector<std::string> args = {"runsc", "--platform=" + flags.platform};
  if (flags.strace) args.push_back("--strace");
  if (!flags.debug_log_dir.empty()) args.push_back("--debug-log=" + flags.debug_log_dir);
  exe.Reset();
  // The gofer serves the host's root read-only, and each volume as an attach point of its own;
  // the sentry gets its socket as fd 3.
  std::vector<gofer::GoferMount> gofer_mounts;
  for (const Volume& v : volumes) gofer_mounts.push_back({v.host, v.read_only});
  auto gofer = StartGofer("/", /*read_only=*/true, std::move(gofer_mounts));
  if (!gofer.ok()) {
    fprintf(stderr, "runsc: starting the gofer: %s\n", gofer.status().ToString().c_str());
    return 1;
  }
  constexpr int kGoferFd = 3;
  char cwd[PATH_MAX];
  std::string sandbox_cwd = getcwd(cwd, sizeof(cwd)) != nullptr ? cwd : "/";
  args.insert(args.end(), {"boot", absl::StrCat("--gofer-fd=", kGoferFd), "--exe-path=" + *path,
                           "--cwd=" + sandbox_cwd, "--hostname=" + Hostname()});
  for (const Volume& v : volumes) {
    args.push_back(absl::StrCat("--volume=", v.read_only ? "ro:" : "rw:", v.sandbox));
  }
  // What the host's mount table says each volume binds, for the sandbox's /proc/mounts. A
  // volume whose mount cannot be found keeps the sentry's default presentation, and so do the
  // ones after it (the flags pair up in order).
  for (const Volume& v : volumes) {
    auto m = FindHostMount(v.host);
    if (!m) break;
    args.push_back(absl::StrCat("--volume-fs=", EscapeMountField(m->fs_type), " ",
                                EscapeMountField(m->source), " ", EscapeMountField(m->root)));
  }
  args.push_back("--");
  args.insert(args.end(), program.begin(), program.end());
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);

  // [confinement] The sentry starts in new namespaces (runsc/sandbox_namespaces.h), as PID 1 of
  // its own PID namespace; it dies with runsc (PDEATHSIG) and its stubs die with it.
  auto started = StartInSandboxNamespaces(SandboxNamespaces{.new_network = true}, [&] {
    // dup2 onto itself would keep O_CLOEXEC, so clear the flag explicitly in that case.
    int g = gofer->socket.get();
    if (g == kGoferFd ? fcntl(kGoferFd, F_SETFD, 0) < 0 : dup2(g, kGoferFd) < 0) _exit(125);
    execve("/proc/self/exe", cargs.data(), environ);
  });
  if (!started.ok()) {
    fprintf(stderr, "runsc: starting the sandbox: %s\n", started.status().ToString().c_str());
    return 1;
  }
  pid_t pid = *started;
  gofer->socket.Reset();  // the sentry holds the only end now: the gofer exits when it does
  g_sentry_pid = pid;
  struct sigaction sa = {};
  sa.sa_handler = ForwardSignal;
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaction(sig, &sa, nullptr);

  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      perror("runsc: waitpid");
      return 1;
    }
  }
  while (waitpid(gofer->pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  fprintf(stderr, "runsc: the sentry died with signal %d\n", WTERMSIG(status));
  return 128 + WTERMSIG(status);
}

}  // namespace runsc
