// CPU-time clocks (clock_gettime's CLOCK_*_CPUTIME_ID and the ids clock_getcpuclockid and
// pthread_getcpuclockid make from a pid or tid), as clock_gettime, the CPU timers (ITIMER_VIRTUAL,
// ITIMER_PROF, timer_create) and clock_nanosleep read them.
//
// A thread's time is its application time on the platform (user) plus the time of the sentry
// thread serving it (system). The application time comes from the platform per address space,
// so a process's user time is that of its address space, counted once.
#pragma once

#include <sys/types.h>
#include <time.h>

#include <cstdint>
#include <memory>
#include <optional>

#include "sentry/base/errno.h"

namespace sentry::kernel {

class Kernel;
class Task;
class ThreadGroup;

enum class CpuClockKind { kProf = 0, kVirt = 1, kSched = 2 };  // Linux's CPUCLOCK_WHICH

struct CpuClock {
  std::weak_ptr<Task> thread;          // set for a thread's clock
  std::weak_ptr<ThreadGroup> process;  // set for a process's clock
  CpuClockKind kind = CpuClockKind::kSched;
  bool per_thread = false;
};

// Whether `id` is one of the CPU clocks' ids (valid or not), as opposed to a fixed clock.
constexpr bool IsCpuClockId(clockid_t id) {
  return id == CLOCK_PROCESS_CPUTIME_ID || id == CLOCK_THREAD_CPUTIME_ID || id < 0;
}
// Linux's CLOCKFD ids (low three bits 3): clocks named by a file descriptor (PTP devices).
constexpr bool IsFdClockId(clockid_t id) { return id < 0 && (id & 7) == 3; }
// Whether a dynamic id names a thread (rather than a process) clock.
constexpr bool IsThreadCpuClockId(clockid_t id) {
  return id == CLOCK_THREAD_CPUTIME_ID || (id < 0 && (id & 4));
}
// The pid or tid a dynamic id encodes (0: the caller's own).
constexpr pid_t CpuClockPid(clockid_t id) { return static_cast<pid_t>(~(id >> 3)); }

// Decodes a CPU clock id as seen by `caller`, as Linux: a thread's clock only for threads of
// the caller's process, a process's clock for any process. EINVAL when it names nothing.
Result<CpuClock> ResolveCpuClock(Task& caller, clockid_t id);

// The clock's value in nanoseconds; nullopt once its thread or process has gone.
std::optional<uint64_t> ReadCpuClock(Kernel& kernel, const CpuClock& clock);

}  // namespace sentry::kernel
