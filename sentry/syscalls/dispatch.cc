#include <sys/syscall.h>

#include "sentry/kernel/kernel.h"
#include "sentry/syscalls/strace.h"
#include "sentry/syscalls/table.h"
#include "spdlog/spdlog.h"

namespace sentry::syscalls {
namespace {

SyscallTable BuildTable() {
  SyscallTable t;
  RegisterFileSyscalls(t);
  RegisterMemorySyscalls(t);
  RegisterTaskSyscalls(t);
  RegisterTimeSyscalls(t);
  RegisterSignalSyscalls(t);
  RegisterFutexSyscalls(t);
  RegisterOpenSyscalls(t);
  RegisterStatSyscalls(t);
  RegisterDirSyscalls(t);
  RegisterFdSyscalls(t);
  RegisterXattrSyscalls(t);
  RegisterAttrSyscalls(t);
  RegisterProcessSyscalls(t);
  RegisterPidfdSyscalls(t);
  RegisterPipeSyscalls(t);
  RegisterSpliceSyscalls(t);
  RegisterTimerSyscalls(t);
  RegisterMountSyscalls(t);
  RegisterCredSyscalls(t);
  RegisterPollSyscalls(t);
  RegisterEpollSyscalls(t);
  RegisterPrctlSyscalls(t);
  RegisterSchedSyscalls(t);
  RegisterResourceSyscalls(t);
  RegisterIpcSyscalls(t);
  RegisterMqueueSyscalls(t);
  RegisterInotifySyscalls(t);
  return t;
}

const SyscallTable& Table() {
  static const SyscallTable table = BuildTable();
  return table;
}

uint64_t Encode(const Result<uint64_t>& r) {
  return r ? *r : static_cast<uint64_t>(-static_cast<int64_t>(r.error().value));
}

void Trace(kernel::Task& task, uint64_t nr, const Args& args, std::optional<uint64_t> ret) {
  MemoryReader reader = [&task](uint64_t addr, size_t max,
                                bool cstring) -> std::optional<std::string> {
    if (cstring) {
      auto s = task.mm().CopyInString(UserAddr(addr), max);
      if (s) return *s;
      if (s.error().value != ENAMETOOLONG) return std::nullopt;
      std::string prefix(max, '\0');
      if (!task.mm().CopyIn(UserAddr(addr), prefix.data(), max)) return std::nullopt;
      return prefix;
    }
    std::string buf(max, '\0');
    if (!task.mm().CopyIn(UserAddr(addr), buf.data(), max)) return std::nullopt;
    return buf;
  };
  spdlog::get("strace")->info("[{:>4}] {}", task.tid(), FormatSyscall(nr, args, ret, reader));
}

}  // namespace

uint64_t Dispatch(kernel::Task& task, uint64_t nr, const Args& args) {
  const SyscallTable& table = Table();
  bool strace = task.kernel().options().strace;
  Result<uint64_t> result = Err(ENOSYS);
  if (nr < kMaxSyscallNumber && table.handlers[nr] != nullptr) {
    if (strace && (nr == SYS_exit || nr == SYS_exit_group)) Trace(task, nr, args, std::nullopt);
    result = table.handlers[nr](task, args);
  } else if (nr >= kMaxSyscallNumber || !table.quiet_enosys[nr]) {
    task.kernel().ReportUnsupported(nr);
  }
  uint64_t ret = Encode(result);
  if (strace && !task.exiting()) Trace(task, nr, args, ret);
  return ret;
}

}  // namespace sentry::syscalls
