// The amd64 syscall table as Linux defines it: names, and the argument layout that the strace
// decoder falls back on for syscalls it has no dedicated decoder for.
#pragma once

#include <cstdint>
#include <string_view>

namespace sentry::syscalls {

// Size of the syscall tables (an exclusive upper bound on the numbers they cover). Linux amd64
// numbers stop at 450 today; the slack leaves room for new kernels without a resize.
inline constexpr uint64_t kMaxSyscallNumber = 512;

// The amd64 name of syscall `nr` ("read", "openat", ...). Numbers Linux never assigned (335..423,
// anything past the last one) and numbers >= kMaxSyscallNumber give an empty string_view.
std::string_view SyscallName(uint64_t nr);

// How strace prints each argument of `nr` when no dedicated decoder exists: one character per
// argument, so size() is the argument count (empty for no arguments and for unknown numbers).
//   i  C int, decimal (fds, pids, ids)     u  unsigned long, decimal (sizes, counts)
//   l  long, decimal (offsets)              x  hex ("0" for zero; flags, opaque values)
//   p  pointer (NULL or hex)                a  directory fd (AT_FDCWD or decimal)
//   s  NUL-terminated path                  o  mode, octal
//   g  signal number (SIGINT, SIGRT_3)      c  clock id (CLOCK_MONOTONIC)
std::string_view SyscallArgKinds(uint64_t nr);

}  // namespace sentry::syscalls
