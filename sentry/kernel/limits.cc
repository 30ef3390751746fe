#include "sentry/kernel/limits.h"

namespace sentry::kernel {

Limits Limits::Defaults() {
  Limits l;
  for (auto& r : l.limits_) r = {kRlimInfinity, kRlimInfinity};
  l.limits_[RLIMIT_CORE] = {0, kRlimInfinity};
  l.limits_[RLIMIT_STACK] = {8 << 20, kRlimInfinity};
  l.limits_[RLIMIT_NOFILE] = {1024, 524288};
  l.limits_[RLIMIT_MEMLOCK] = {8 << 20, 8 << 20};
  l.limits_[RLIMIT_MSGQUEUE] = {819200, 819200};
  l.limits_[RLIMIT_NICE] = {0, 0};
  l.limits_[RLIMIT_RTPRIO] = {0, 0};
  l.limits_[RLIMIT_NPROC] = {63704, 63704};
  l.limits_[RLIMIT_SIGPENDING] = {63704, 63704};
  // The stack and file limits follow the host's, as a container runtime passes them on.
  struct rlimit host;
  for (int res : {RLIMIT_STACK, RLIMIT_NOFILE}) {
    if (getrlimit(res, &host) == 0) {
      l.limits_[res] = {host.rlim_cur == RLIM_INFINITY ? kRlimInfinity : host.rlim_cur,
                        host.rlim_max == RLIM_INFINITY ? kRlimInfinity : host.rlim_max};
    }
  }
  return l;
}

}  // namespace sentry::kernel
