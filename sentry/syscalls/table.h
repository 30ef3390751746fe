// The amd64 syscall table: one handler per implemented number. Handlers decode and check the
// application's arguments and call into kernel/mm/vfs objects that know nothing of registers.
#pragma once

#include <array>
#include <cstdint>

#include "sentry/base/errno.h"
#include "sentry/kernel/task.h"
#include "sentry/syscalls/syscall_names.h"

namespace sentry::syscalls {

using Args = std::array<uint64_t, 6>;
using Handler = Result<uint64_t> (*)(kernel::Task& task, const Args& args);

struct SyscallTable {
  std::array<Handler, kMaxSyscallNumber> handlers{};
  // Numbers that return ENOSYS on purpose (as gVisor does) and need no "unsupported" log line.
  std::array<bool, kMaxSyscallNumber> quiet_enosys{};
};

// Serves one syscall; matches kernel::SyscallDispatcher.
uint64_t Dispatch(kernel::Task& task, uint64_t nr, const Args& args);

// One per family file.
void RegisterFileSyscalls(SyscallTable& t);
void RegisterMemorySyscalls(SyscallTable& t);
void RegisterTaskSyscalls(SyscallTable& t);
void RegisterTimeSyscalls(SyscallTable& t);
void RegisterSignalSyscalls(SyscallTable& t);
void RegisterFutexSyscalls(SyscallTable& t);
void RegisterOpenSyscalls(SyscallTable& t);
void RegisterStatSyscalls(SyscallTable& t);
void RegisterDirSyscalls(SyscallTable& t);
void RegisterFdSyscalls(SyscallTable& t);
void RegisterXattrSyscalls(SyscallTable& t);
void RegisterAttrSyscalls(SyscallTable& t);
void RegisterProcessSyscalls(SyscallTable& t);
void RegisterPipeSyscalls(SyscallTable& t);
void RegisterSpliceSyscalls(SyscallTable& t);
void RegisterTimerSyscalls(SyscallTable& t);
void RegisterMountSyscalls(SyscallTable& t);
void RegisterCredSyscalls(SyscallTable& t);
void RegisterPollSyscalls(SyscallTable& t);
void RegisterEpollSyscalls(SyscallTable& t);
void RegisterPrctlSyscalls(SyscallTable& t);
void RegisterSchedSyscalls(SyscallTable& t);
void RegisterResourceSyscalls(SyscallTable& t);
void RegisterIpcSyscalls(SyscallTable& t);
void RegisterMqueueSyscalls(SyscallTable& t);
void RegisterPidfdSyscalls(SyscallTable& t);
void RegisterInotifySyscalls(SyscallTable& t);

// Argument helpers.
inline int ArgInt(uint64_t v) { return static_cast<int>(static_cast<uint32_t>(v)); }

}  // namespace sentry::syscalls
