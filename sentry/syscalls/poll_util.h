// What poll, select and the epoll waits share: timeouts as CLOCK_MONOTONIC deadlines, and the
// sigmask argument of ppoll, pselect6 and epoll_pwait, swapped in for the wait.
#pragma once

#include <time.h>

#include <optional>

#include "absl/functional/function_ref.h"
#include "sentry/kernel/task.h"

namespace sentry::syscalls {

// now + `rel`, saturating far in the future.
timespec DeadlineAfter(const timespec& rel);
// A timeout in milliseconds as poll and epoll_wait take it: negative is none (wait forever).
std::optional<timespec> DeadlineFromMs(int ms);
// The time left until `deadline`, 0 once it passed.
timespec TimeLeft(const timespec& deadline);
// set_user_sigmask's checks: nothing for a null mask, EINVAL unless `size` is a sigset_t's
// (8 bytes), EFAULT when it cannot be read. Returns the mask.
Result<std::optional<uint64_t>> CheckSigmask(kernel::Task& t, uint64_t addr, uint64_t size);
// Runs `wait` under `mask` when there is one. If a signal ends the wait (EINTR) the old mask
// comes back after its handler runs, through the signal frame; otherwise at once.
Result<uint64_t> WithSigmask(kernel::Task& t, std::optional<uint64_t> mask,
                             absl::FunctionRef<Result<uint64_t>()> wait);
// A timespec that must be valid (tv_sec >= 0, 0 <= tv_nsec < 1e9): EFAULT, EINVAL.
Result<timespec> CopyInTimeout(kernel::Task& t, uint64_t addr);

}  // namespace sentry::syscalls
