// struct rusage from the kernel's usage figures, for getrusage, wait4 and waitid.
#pragma once

#include <sys/resource.h>

#include "sentry/kernel/task.h"

namespace sentry::syscalls {

inline timeval NsToTimeval(uint64_t ns) {
  return {static_cast<time_t>(ns / 1'000'000'000),
          static_cast<suseconds_t>(ns % 1'000'000'000 / 1000)};
}

// Block I/O is not counted (ru_inblock, ru_oublock read 0), nor are the host's preemptions
// (ru_nivcsw); the fields Linux leaves 0 stay 0.
inline rusage ToRusage(const kernel::ThreadGroup::CpuTimes& u) {
  rusage ru{};
  ru.ru_utime = NsToTimeval(u.user_ns);
  ru.ru_stime = NsToTimeval(u.sys_ns);
  ru.ru_maxrss = static_cast<long>(u.maxrss_bytes / 1024);
  ru.ru_minflt = static_cast<long>(u.minflt);
  ru.ru_majflt = static_cast<long>(u.majflt);
  ru.ru_nvcsw = static_cast<long>(u.nvcsw);
  ru.ru_nivcsw = static_cast<long>(u.nivcsw);
  return ru;
}

}  // namespace sentry::syscalls
