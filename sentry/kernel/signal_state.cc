#include "sentry/kernel/signal_state.h"

namespace sentry::kernel {

DefaultAction DefaultActionOf(int sig) {
  switch (sig) {
    case SIGQUIT: case SIGILL: case SIGTRAP: case SIGABRT: case SIGBUS: case SIGFPE:
    case SIGSEGV: case SIGXCPU: case SIGXFSZ: case SIGSYS:
      return DefaultAction::kCoreDump;
    case SIGCHLD: case SIGURG: case SIGWINCH:
      return DefaultAction::kIgnore;
    case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU:
      return DefaultAction::kStop;
    case SIGCONT:
      return DefaultAction::kContinue;
    default:
      return DefaultAction::kTerminate;
  }
}

}  // namespace sentry::kernel
