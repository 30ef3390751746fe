// runsc: the command line. `do` runs a program in a fresh sandbox; `boot` (internal) is the
// sentry process that `do` starts.
#include <unistd.h>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "runsc/cmd_do.h"
#include "runsc/sentry_boot.h"

extern char** environ;

namespace {

// Where the program's own command line starts: after the subcommand and its flags, at the first
// word that is not a flag (or after "--"). CLI11 parses only what comes before; the rest is
// the program's, untouched, however much it looks like our flags.
int ProgramStart(int argc, char** argv, bool* has_separator) {
  static const std::set<std::string> kTakesValue = {"--platform", "--debug-log", "--network",
                                                    "--root",     "--gofer-fd",  "--exe-path",
                                                    "--hostname", "--cwd",       "--volume",
                                                    "-v"};
  bool seen_subcommand = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      *has_separator = true;
      return i;
    }
    if (!arg.empty() && arg[0] == '-') {
      if (kTakesValue.contains(arg)) ++i;
      continue;
    }
    if (!seen_subcommand) {
      seen_subcommand = true;
      continue;
    }
    return i;
  }
  return argc;
}

}  // namespace

int main(int argc, char** argv) {
  bool has_separator = false;
  int program_start = ProgramStart(argc, argv, &has_separator);
  std::vector<std::string> program(argv + program_start + (has_separator ? 1 : 0), argv + argc);

  CLI::App app{"runsc: run programs in a user-space-kernel sandbox", "runsc"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags may come before or after the subcommand, as with gVisor

  runsc::GlobalFlags global;
  app.add_option("--platform", global.platform, "ptrace (kvm not yet)")
      ->check(CLI::IsMember({"ptrace", "kvm"}));
  app.add_flag("--strace", global.strace, "log every syscall, strace style");
  app.add_option("--debug-log", global.debug_log_dir, "directory for the sentry's log files");
  app.add_option("--network", global.network, "none (the only choice today), sandbox or host");
  app.add_option("--root", global.root, "state directory");

  auto* cmd_do = app.add_subcommand("do", "run PROGRAM [ARGS...] in a new sandbox");
  runsc::DoFlags do_flags;
  cmd_do
      ->add_option("-v,--volume", do_flags.volumes,
                   "HOST:SANDBOX[:ro]: mount the host's directory HOST at SANDBOX (repeatable)")
      ->expected(1)
      ->take_all();

  runsc::BootFlags boot;
  auto* cmd_boot = app.add_subcommand("boot", "(internal) the sentry process")->group("");
  cmd_boot->add_option("--gofer-fd", boot.gofer_fd)->required();
  cmd_boot->add_option("--cwd", boot.cwd);
  cmd_boot->add_option("--exe-path", boot.executable_path)->required();
  cmd_boot->add_option("--hostname", boot.hostname);
  cmd_boot->add_option("--volume", boot.volumes)->expected(1)->take_all();

  CLI11_PARSE(app, program_start, argv);

  if (cmd_do->parsed()) {
    if (program.empty()) {
      fprintf(stderr, "runsc do: missing PROGRAM\n%s", app.help().c_str());
      return 2;
    }
    return runsc::Do(global, do_flags, program);
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
                           .volumes = {}};
  for (const std::string& v : boot.volumes) {
    if (v.size() < 4 || (v.compare(0, 3, "ro:") != 0 && v.compare(0, 3, "rw:") != 0)) {
      fprintf(stderr, "runsc boot: bad --volume %s\n", v.c_str());
      return 2;
    }
    config.volumes.push_back({.path = v.substr(3), .read_only = v[1] == 'o'});
  }
  config.argv = std::move(program);
  for (char** e = environ; *e != nullptr; ++e) config.envp.emplace_back(*e);
  return runsc::Boot(std::move(config));
}
