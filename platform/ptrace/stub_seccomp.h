// The stubs' seccomp filter. A stub runs application code, so it gets a filter of its own that
// allows only the host syscalls the sentry makes it execute (mmap of the MemoryFile, munmap,
// mprotect) and its own way out, and kills it on anything else.
//
// Application syscalls never reach it: a stub thread runs the application under PTRACE_SYSEMU,
// and the kernel reports the syscall to the sentry and skips it before seccomp is consulted. The
// filter sees only what the stub itself executes (its start-up code and the syscalls the sentry
// points it to), and what the host kernel runs for it without a ptrace stop: the legacy vsyscall
// page. Its three entries (gettimeofday, time, getcpu) get SIGSYS (SECCOMP_RET_TRAP) instead of
// running on the host, so that the sentry sees a signal stop and can emulate them (the siginfo
// carries the syscall number; the kernel has already popped the return address).
//
// The filter is built with libseccomp in the sentry, before the fork: the freshly cloned stub
// may only make raw syscalls, so it just installs the prebuilt program.
#pragma once

#include <linux/filter.h>

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace platform::ptrace {

// The BPF program for stubs whose MemoryFile is `memory_fd` (the only fd a stub keeps).
absl::StatusOr<std::vector<sock_filter>> BuildStubFilter(int memory_fd);

// Installs `program` in the calling process: PR_SET_NO_NEW_PRIVS, then seccomp(2). Raw syscalls
// only, no allocation: safe in the child of a raw clone. Returns false if the kernel refused.
bool InstallStubFilterRaw(const sock_fprog& program);

// Builds the filter for `memory_fd` and keeps it for the life of the process: every stub
// created afterwards for that MemoryFile installs it (see StubFilterFor). Call once at platform
// creation, before any stub exists.
absl::Status EnableStubFilter(int memory_fd);

// The program a new stub with `memory_fd` installs, or nullptr when EnableStubFilter was not
// called for that fd. Lock-free and allocation-free: for the child of a raw clone.
const sock_fprog* StubFilterFor(int memory_fd);

}  // namespace platform::ptrace
