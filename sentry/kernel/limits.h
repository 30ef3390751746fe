// Resource limits (getrlimit/setrlimit/prlimit64) of one thread group.
#pragma once

#include <sys/resource.h>

#include <array>
#include <cstdint>

namespace sentry::kernel {

struct Rlimit {
  uint64_t cur;
  uint64_t max;
};

inline constexpr uint64_t kRlimInfinity = ~0ULL;
// Linux's fs.nr_open default: RLIMIT_NOFILE cannot be raised above it.
inline constexpr uint64_t kNrOpen = 1 << 20;

class Limits {
 public:
  // Linux's defaults for a login session, with the host's stack and file limits.
  static Limits Defaults();
  const Rlimit& Get(int resource) const { return limits_[resource]; }
  void Set(int resource, Rlimit r) { limits_[resource] = r; }

 private:
  std::array<Rlimit, RLIM_NLIMITS> limits_{};
};

}  // namespace sentry::kernel
