// Robust futexes (set_robust_list): what a dying thread leaves behind in the locks it held.
#pragma once

namespace sentry::kernel {

class Task;

// On thread exit and execve, on the task's own thread while its old memory is still mapped:
// walks the task's robust list (at most Linux's 2048 entries), marks each lock the task
// still holds FUTEX_OWNER_DIED and wakes one waiter, hands PI locks it owns to their first
// waiter, and forgets the list. At exit (`exiting`) the task also stops counting as a live
// owner for PI locks.
void ReleaseRobustFutexes(Task& task, bool exiting);

}  // namespace sentry::kernel
