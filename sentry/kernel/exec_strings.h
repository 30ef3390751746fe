// ExecStrings: where exec put a program's argument and environment strings.
#pragma once

#include <cstdint>

namespace sentry::kernel {

// [arg_start, arg_end) then [env_start, env_end) in the new program's memory, each string
// NUL-terminated (Linux's mm->arg_start..env_end): /proc/PID/cmdline and environ read them from
// there, so a program that rewrites its argv (setproctitle) shows the new text.
struct ExecStrings {
  uint64_t arg_start = 0, arg_end = 0;
  uint64_t env_start = 0, env_end = 0;
};

}  // namespace sentry::kernel
