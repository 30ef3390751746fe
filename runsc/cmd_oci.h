// The OCI runtime commands, with runc's command line: create, start, state, kill, delete, run,
// exec, list, ps, wait, spec, features. Each is a runsc process of its own; what they share
// lives in the state directory (runsc/container_state.h), and they reach a running sandbox
// through its control socket (sentry/control).
#pragma once

#include <string>
#include <vector>

#include "runsc/cmd_do.h"
#include "runsc/container_state.h"
#include "runsc/oci_hooks.h"

namespace runsc {

struct CreateFlags {
  std::string bundle = ".";
  std::string pid_file;
  std::string console_socket;
  bool accepted_flag = false;  // flags runc has that change nothing here (--no-pivot)
};

struct ExecFlags {
  std::string process_file;  // --process: a JSON `process` object instead of a command line
  bool detach = false;
  std::string pid_file;
  std::string cwd;
  std::vector<std::string> env;
  bool tty = false;
  std::string console_socket;
  std::string user;
};

// Every command returns runsc's exit status, having reported any error (stderr and --log).
int Create(const GlobalFlags& g, const CreateFlags& flags, const std::string& id);
// create + start + wait, in the foreground: the sandbox has runsc's stdio and dies with it; the
// container is deleted when it has exited, and its exit status is runsc's.
int Run(const GlobalFlags& g, const CreateFlags& flags, const std::string& id);
int Start(const GlobalFlags& g, const std::string& id);
int State(const GlobalFlags& g, const std::string& id);
int Kill(const GlobalFlags& g, const std::string& id, const std::string& signal, bool all);
int Delete(const GlobalFlags& g, const std::string& id, bool force);
int Exec(const GlobalFlags& g, const ExecFlags& flags, const std::string& id,
         const std::vector<std::string>& command);
int List(const GlobalFlags& g, const std::string& format, bool quiet);
int Ps(const GlobalFlags& g, const std::string& id, const std::string& format);
int Wait(const GlobalFlags& g, const std::string& id);
int Spec(const GlobalFlags& g, const std::string& bundle);
int Features();
int Pause(const GlobalFlags& g, const std::string& id);
int Resume(const GlobalFlags& g, const std::string& id);
int Events(const GlobalFlags& g, const std::string& id, bool stats_once, int interval_seconds);

// Reports a command's failure as runc does: "runsc: MESSAGE" on stderr, and a line in --log
// (as JSON with --log-format json: containerd's shim takes the last such line as the error).
void ReportError(const GlobalFlags& g, const std::string& message);

// The hooks create saved in the container's state.
OciHooks SavedHooks(const ContainerState& state);
// After the container is gone (delete, the end of run): a failing one is only a warning.
void RunPoststopHooks(const GlobalFlags& g, const OciHooks& hooks, const ContainerState& state);

}  // namespace runsc
