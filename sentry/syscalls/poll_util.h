// What poll, select and the epoll waits share: timeouts as CLOCK_MONOTONIC deadlines, and the
// sigmask argument of ppoll, pselect6 and epoll_pwait (checked; signals are not delivered yet,
// so there is no mask to swap in).
#pragma once

#include <time.h>

#include <optional>

#include "sentry/kernel/task.h"

namespace sentry::syscalls {

// now + `rel`, saturating far in the future.
timespec DeadlineAfter(const timespec& rel);
// A timeout in milliseconds as poll and epoll_wait take it: negative is none (wait forever).
std::optional<timespec> DeadlineFromMs(int ms);
// The time left until `deadline`, 0 once it passed.
timespec TimeLeft(const timespec& deadline);
// set_user_sigmask's checks: nothing for a null mask, EINVAL unless `size` is a sigset_t's
// (8 bytes), EFAULT when it cannot be read.
Result<void> CheckSigmask(kernel::Task& t, uint64_t addr, uint64_t size);
// A timespec that must be valid (tv_sec >= 0, 0 <= tv_nsec < 1e9): EFAULT, EINVAL.
Result<timespec> CopyInTimeout(kernel::Task& t, uint64_t addr);

}  // namespace sentry::syscalls
