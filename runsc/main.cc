// runsc: the command line. runc's commands (create, start, state, kill, delete, run, exec, ps,
// list, wait, spec, features: runsc/cmd_oci.h) make it an OCI runtime; `do` runs a program in a
// fresh sandbox; `boot` (internal) is the sentry process that `do`, `create` and `run` start.
#include <unistd.h>

#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "runsc/cmd_do.h"
#include "runsc/cmd_oci.h"
#include "runsc/host_mounts.h"
#include "runsc/sentry_boot.h"

extern char** environ;

namespace {

// Flags written "--flag VALUE" (not "--flag=VALUE"): the word after them is theirs.
const std::set<std::string> kTakesValue = {"--platform",   "--debug-log",
                                           "--network",    "--root",
                                           "--log",        "--log-format",
                                           "--gofer-fd",   "--exe-path",
                                           "--hostname",   "--cwd",
                                           "--volume",     "-v",
                                           "--bundle",     "-b",
                                           "--pid-file",   "--console-socket",
                                           "--process",    "-p",
                                           "--env",        "-e",
                                           "--user",       "-u",
                                           "--format",     "-f",
                                           "--control-fd", "--uid",
                                           "--gid",        "--preserve-fds",
                                           "--console-fd", "--console-winsize-fd"};

// How many words a subcommand takes before the program's own command line: `do PROGRAM...`,
// `boot -- PROGRAM...`, `exec ID PROGRAM...`. Other subcommands have no program.
const std::map<std::string, int> kPositionalsBeforeProgram = {{"do", 0}, {"boot", 0}, {"exec", 1}};

// Where the program's own command line starts (argc when there is none). CLI11 parses only
// what comes before; the rest is the program's, untouched, however much it looks like our flags.
int ProgramStart(int argc, char** argv, bool* has_separator) {
  std::string subcommand;
  int positionals = 0;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      *has_separator = true;
      return subcommand.empty() ? argc : i;
    }
    if (!arg.empty() && arg[0] == '-') {
      if (kTakesValue.contains(arg)) ++i;
      continue;
    }
    if (subcommand.empty()) {
      subcommand = arg;
      if (!kPositionalsBeforeProgram.contains(subcommand)) return argc;
      continue;
    }
    if (positionals++ < kPositionalsBeforeProgram.at(subcommand)) continue;
    return i;
  }
  return argc;
}

}  // namespace

int main(int argc, char** argv) {
  bool has_separator = false;
  int program_start = ProgramStart(argc, argv, &has_separator);
  std::vector<std::string> program(argv + std::min(argc, program_start + (has_separator ? 1 : 0)),
                                   argv + argc);

  CLI::App app{"runsc: an OCI runtime that runs containers in a user-space-kernel sandbox",
               "runsc"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags may come before or after the subcommand, as with gVisor

  runsc::GlobalFlags global;
  app.add_option("--platform", global.platform, "ptrace (kvm not yet)")
      ->check(CLI::IsMember({"ptrace", "kvm"}));
  app.add_flag("--strace", global.strace, "log every syscall, strace style");
  app.add_option("--debug-log", global.debug_log_dir, "directory for the sentry's log files");
  app.add_option("--network", global.network, "none (the only choice today), sandbox or host");
  app.add_option("--root", global.root, "state directory (default /var/run/runsc)");
  app.add_option("--log", global.log, "runsc's log file (errors), appended to");
  app.add_option("--log-format", global.log_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_flag("--debug", global.debug, "accepted (use --debug-log for the sentry's logs)");
  app.add_flag("--systemd-cgroup", global.systemd_cgroup,
               "accepted; cgroups are made with cgroupfs (no systemd here)");
  app.add_flag("--overlay", global.overlay,
               "a writable root still writes to an in-memory overlay, not to the rootfs");

  auto* cmd_do = app.add_subcommand("do", "run PROGRAM [ARGS...] in a new sandbox");
  runsc::DoFlags do_flags;
  cmd_do
      ->add_option("-v,--volume", do_flags.volumes,
                   "HOST:SANDBOX[:ro]: mount the host's directory HOST at SANDBOX (repeatable)")
      ->expected(1)
      ->take_all();

  std::string id;
  runsc::CreateFlags create;
  auto add_create_flags = [&](CLI::App* cmd) {
    cmd->add_option("-b,--bundle", create.bundle, "the bundle directory (default: .)");
    cmd->add_option("--pid-file", create.pid_file, "write the sandbox's host pid there");
    cmd->add_option("--console-socket", create.console_socket,
                    "a unix socket that receives the terminal's master (process.terminal)");
    cmd->add_flag("--no-pivot,--no-new-keyring", create.accepted_flag, "accepted");
    cmd->add_option("id", id, "container id")->required();
  };
  auto* cmd_create = app.add_subcommand("create", "create a container from a bundle (not started)");
  add_create_flags(cmd_create);
  auto* cmd_run = app.add_subcommand("run", "create, start and wait for a container");
  add_create_flags(cmd_run);
  cmd_run->add_flag("-d,--detach", create.accepted_flag, "accepted; run always waits");

  auto* cmd_start = app.add_subcommand("start", "start a created container");
  cmd_start->add_option("id", id, "container id")->required();
  auto* cmd_state = app.add_subcommand("state", "print a container's state as OCI JSON");
  cmd_state->add_option("id", id, "container id")->required();

  std::string signal;
  bool kill_all = false;
  auto* cmd_kill = app.add_subcommand("kill", "send a signal (default TERM) to the container");
  cmd_kill->add_option("id", id, "container id")->required();
  cmd_kill->add_option("signal", signal, "a name (KILL, SIGKILL) or a number");
  cmd_kill->add_flag("-a,--all", kill_all, "every process of the container");

  bool force = false;
  auto* cmd_delete = app.add_subcommand("delete", "delete a container and its state");
  cmd_delete->add_option("id", id, "container id")->required();
  cmd_delete->add_flag("-f,--force", force, "kill it first if it is running");

  runsc::ExecFlags exec;
  auto* cmd_exec = app.add_subcommand("exec", "run a new process in a running container");
  cmd_exec->add_option("id", id, "container id")->required();
  cmd_exec->add_option("-p,--process", exec.process_file, "a JSON process object");
  cmd_exec->add_flag("-d,--detach", exec.detach, "do not wait for the process");
  cmd_exec->add_option("--pid-file", exec.pid_file, "write the sandbox's host pid there");
  cmd_exec->add_option("--cwd", exec.cwd, "working directory in the container");
  cmd_exec->add_option("-e,--env", exec.env, "KEY=VALUE (repeatable)")->expected(1)->take_all();
  cmd_exec->add_flag("-t,--tty", exec.tty, "a terminal for the process");
  cmd_exec->add_option("--console-socket", exec.console_socket,
                       "with --tty: a unix socket that receives the terminal's master");
  cmd_exec->add_option("-u,--user", exec.user, "UID[:GID] to run as (numbers)");
  int preserve_fds = 0;  // accepted; no fds beyond stdio are passed
  cmd_exec->add_option("--preserve-fds", preserve_fds, "accepted");

  std::string format = "table";
  bool quiet = false;
  auto* cmd_list = app.add_subcommand("list", "list the containers in --root");
  cmd_list->add_option("-f,--format", format, "table or json")
      ->check(CLI::IsMember({"table", "json"}));
  cmd_list->add_flag("-q,--quiet", quiet, "ids only");
  auto* cmd_ps = app.add_subcommand("ps", "list a container's processes");
  cmd_ps->add_option("id", id, "container id")->required();
  cmd_ps->add_option("-f,--format", format, "table or json")
      ->check(CLI::IsMember({"table", "json"}));
  auto* cmd_wait = app.add_subcommand("wait", "wait for a container's init; exit with its status");
  cmd_wait->add_option("id", id, "container id")->required();
  std::string spec_bundle = ".";
  auto* cmd_spec = app.add_subcommand("spec", "write a default config.json");
  cmd_spec->add_option("-b,--bundle", spec_bundle, "where (default: .)");
  auto* cmd_features = app.add_subcommand("features", "what this runtime supports, as JSON");
  auto* cmd_pause = app.add_subcommand("pause", "freeze every process of a container");
  cmd_pause->add_option("id", id, "container id")->required();
  auto* cmd_resume = app.add_subcommand("resume", "thaw a paused container");
  cmd_resume->add_option("id", id, "container id")->required();
  bool events_stats = false;
  std::string events_interval = "5s";
  auto* cmd_events = app.add_subcommand("events", "a container's resource figures, as JSON");
  cmd_events->add_option("id", id, "container id")->required();
  cmd_events->add_flag("--stats", events_stats, "print them once and exit");
  cmd_events->add_option("--interval", events_interval,
                         "time between reports: 5s, 1m (default 5s)");
  auto* cmd_help = app.add_subcommand("help", "print this help");

  runsc::BootFlags boot;
  auto* cmd_boot = app.add_subcommand("boot", "(internal) the sentry process")->group("");
  cmd_boot->add_option("--gofer-fd", boot.gofer_fd)->required();
  cmd_boot->add_option("--cwd", boot.cwd);
  cmd_boot->add_option("--exe-path", boot.executable_path)->required();
  cmd_boot->add_option("--hostname", boot.hostname);
  cmd_boot->add_option("--volume", boot.volumes)->expected(1)->take_all();
  cmd_boot->add_option("--volume-fs", boot.volume_fs)->expected(1)->take_all();
  cmd_boot->add_option("--control-fd", boot.control_fd);
  cmd_boot->add_option("--stdio-fd", boot.stdio_fd);
  cmd_boot->add_flag("--root-readonly", boot.root_read_only);
  cmd_boot->add_flag("--root-writable", boot.root_writable);
  cmd_boot->add_option("--env", boot.env)->expected(1)->take_all();
  cmd_boot->add_option("--uid", boot.uid);
  cmd_boot->add_option("--gid", boot.gid);
  cmd_boot->add_option("--container", boot.container);
  cmd_boot->add_option("--console-fd", boot.console_fd);
  cmd_boot->add_option("--console-winsize-fd", boot.console_winsize_fd);

  CLI11_PARSE(app, program_start, argv);

  if (cmd_do->parsed()) {
    if (program.empty()) {
      fprintf(stderr, "runsc do: missing PROGRAM\n%s", app.help().c_str());
      return 2;
    }
    return runsc::Do(global, do_flags, program);
  }
  if (cmd_create->parsed()) return runsc::Create(global, create, id);
  if (cmd_run->parsed()) return runsc::Run(global, create, id);
  if (cmd_start->parsed()) return runsc::Start(global, id);
  if (cmd_state->parsed()) return runsc::State(global, id);
  if (cmd_kill->parsed()) return runsc::Kill(global, id, signal, kill_all);
  if (cmd_delete->parsed()) return runsc::Delete(global, id, force);
  if (cmd_exec->parsed()) return runsc::Exec(global, exec, id, program);
  if (cmd_list->parsed()) return runsc::List(global, format, quiet);
  if (cmd_ps->parsed()) return runsc::Ps(global, id, format);
  if (cmd_wait->parsed()) return runsc::Wait(global, id);
  if (cmd_spec->parsed()) return runsc::Spec(global, spec_bundle);
  if (cmd_features->parsed()) return runsc::Features();
  if (cmd_pause->parsed()) return runsc::Pause(global, id);
  if (cmd_resume->parsed()) return runsc::Resume(global, id);
  if (cmd_events->parsed()) {
    int seconds = 0;
    std::string_view v = events_interval;
    int unit = v.ends_with('m') ? 60 : 1;
    if (v.ends_with('s') || v.ends_with('m')) v.remove_suffix(1);
    if (!absl::SimpleAtoi(std::string(v), &seconds) || seconds <= 0) {
      fprintf(stderr, "runsc events: bad --interval %s\n", events_interval.c_str());
      return 2;
    }
    return runsc::Events(global, id, events_stats, seconds * unit);
  }
  if (cmd_help->parsed()) {
    app.clear();  // else help() describes the subcommand that was parsed: "help" itself
    printf("%s", app.help().c_str());
    return 0;
  }

  runsc::BootConfig config{.platform = global.platform,
                           .strace = global.strace,
                           .debug_log_dir = global.debug_log_dir,
                           .gofer_fd = boot.gofer_fd,
                           .executable_path = boot.executable_path,
                           .cwd = boot.cwd,
                           .argv = {},
                           .envp = {},
                           .hostname = boot.hostname,
                           .volumes = {},
                           .root_read_only = boot.root_read_only,
                           .root_writable = boot.root_writable,
                           .control_fd = boot.control_fd,
                           .stdio_fd = boot.stdio_fd,
                           .uid = boot.uid,
                           .gid = boot.gid,
                           .console_fd = boot.console_fd,
                           .console_winsize_fd = boot.console_winsize_fd,
                           .container = {}};
  for (const std::string& v : boot.volumes) {
    if (v.size() < 4 || (v.compare(0, 3, "ro:") != 0 && v.compare(0, 3, "rw:") != 0)) {
      fprintf(stderr, "runsc boot: bad --volume %s\n", v.c_str());
      return 2;
    }
    config.volumes.push_back({.path = v.substr(3),
                              .read_only = v[1] == 'o',
                              .fs_type = {},
                              .source = {},
                              .fs_root = {}});
  }
  // --volume-fs="TYPE SOURCE ROOT" (each field escaped as in mountinfo), one per --volume.
  for (size_t i = 0; i < boot.volume_fs.size() && i < config.volumes.size(); ++i) {
    std::vector<std::string> f = absl::StrSplit(boot.volume_fs[i], ' ');
    if (f.size() != 3) {
      fprintf(stderr, "runsc boot: bad --volume-fs %s\n", boot.volume_fs[i].c_str());
      return 2;
    }
    config.volumes[i].fs_type = runsc::UnescapeMountField(f[0]);
    config.volumes[i].source = runsc::UnescapeMountField(f[1]);
    config.volumes[i].fs_root = runsc::UnescapeMountField(f[2]);
  }
  if (!boot.container.empty()) {
    auto setup = runsc::DecodeContainerSetup(boot.container);
    if (!setup.ok()) {
      fprintf(stderr, "runsc boot: %s\n", std::string(setup.status().message()).c_str());
      return 2;
    }
    config.container = std::move(*setup);
  }
  config.argv = std::move(program);
  // A container's environment is its config's (runsc create); `do` passes on runsc's own.
  if (boot.control_fd >= 0) {
    config.envp = boot.env;
  } else {
    for (char** e = environ; *e != nullptr; ++e) config.envp.emplace_back(*e);
  }
  return runsc::Boot(std::move(config));
}
