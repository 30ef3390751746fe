// The control server: the sentry's side of the channel runsc uses to drive a sandbox it started
// with `runsc create` (start, exec, signal, wait, ps). It serves a listening unix socket that
// runsc bound in the container's state directory before starting the sentry (the sentry opens
// no path once confined), on threads of its own, started after confinement.
#pragma once

#include <optional>

#include "absl/synchronization/mutex.h"
#include "sentry/base/file_descriptor.h"
#include "sentry/control/protocol.h"
#include "sentry/kernel/kernel.h"

namespace sentry::control {

class Server {
 public:
  Server(kernel::Kernel& kernel, FileDescriptor listener)
      : kernel_(kernel), listener_(std::move(listener)) {}

  // Starts accepting connections, each served on a thread of its own. The server lives as long
  // as the sentry (its threads are detached), so it must not be destroyed.
  void Serve();
  // Until runsc sends "start" (nullopt: run init now) or a signal before the start (the signal:
  // the container ends without running).
  std::optional<int> WaitForStart();
  // Init has exited with `exit_code` (a shell's status): answers every "wait" (and lets the
  // reply to the signal that ended it go), then returns
  // (after at most a second, so that a stuck client cannot keep the sandbox up).
  void InitExited(int exit_code);

 private:
  void ServeConnection(FileDescriptor conn);
  nlohmann::json Handle(const std::string& cmd, Message& request, int conn);
  nlohmann::json Exec(Message& request, int conn);
  nlohmann::json Signal(const nlohmann::json& request, int conn);

  kernel::Kernel& kernel_;
  FileDescriptor listener_;
  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  int killed_by_ ABSL_GUARDED_BY(mu_) = 0;     // a signal before start
  bool killing_ ABSL_GUARDED_BY(mu_) = false;  // one is on its way: start is refused
  std::optional<int> init_exit_ ABSL_GUARDED_BY(mu_);
  int waiters_ ABSL_GUARDED_BY(mu_) = 0;  // "wait" and "signal" requests not yet answered
};

}  // namespace sentry::control
