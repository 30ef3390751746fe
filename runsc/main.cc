// runsc: the command line. `do` runs a program in a fresh sandbox; `boot` (internal) is the
// sentry process that `do` starts.
#include <unistd.h>

#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "runsc/cmd_do.h"
#include "runsc/sentry_boot.h"

extern char** environ;

int main(int argc, char** argv) {
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
  cmd_do->prefix_command();  // everything after PROGRAM belongs to PROGRAM
  std::vector<std::string> program;
  cmd_do->add_option("program", program, "PROGRAM [ARGS...]")->required();

  runsc::BootFlags boot;
  auto* cmd_boot = app.add_subcommand("boot", "(internal) the sentry process")->group("");
  cmd_boot->prefix_command();
  cmd_boot->add_option("--exe-fd", boot.executable_fd)->required();
  cmd_boot->add_option("--exe-path", boot.executable_path)->required();
  cmd_boot->add_option("--hostname", boot.hostname);
  std::vector<std::string> boot_argv;
  cmd_boot->add_option("argv", boot_argv);

  CLI11_PARSE(app, argc, argv);

  if (cmd_do->parsed()) {
    for (const std::string& extra : cmd_do->remaining()) program.push_back(extra);
    return runsc::Do(global, program);
  }
  runsc::BootConfig config{.platform = global.platform,
                           .strace = global.strace,
                           .debug_log_dir = global.debug_log_dir,
                           .executable_fd = boot.executable_fd,
                           .executable_path = boot.executable_path,
                           .argv = {},
                           .envp = {},
                           .hostname = boot.hostname};
  for (const std::string& extra : cmd_boot->remaining()) boot_argv.push_back(extra);
  config.argv = std::move(boot_argv);
  for (char** e = environ; *e != nullptr; ++e) config.envp.emplace_back(*e);
  return runsc::Boot(std::move(config));
}
