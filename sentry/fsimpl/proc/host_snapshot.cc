// HostProcSnapshot::Capture: the host facts /proc shows, read while the sentry may still open
// host paths.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "sentry/base/file_descriptor.h"
#include "sentry/fsimpl/proc/proc.h"

namespace sentry::fsimpl::proc {

HostProcSnapshot HostProcSnapshot::Capture() {
  HostProcSnapshot s;
  FileDescriptor fd(open("/proc/cpuinfo", O_RDONLY | O_CLOEXEC));
  if (fd.get() >= 0) {
    char buf[16384];
    while (true) {
      ssize_t n = read(fd.get(), buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) s.cpuinfo.clear();  // a torn text is worse than the generated one
      if (n <= 0) break;
      s.cpuinfo.append(buf, static_cast<size_t>(n));
    }
  }
  struct sysinfo si {};
  if (sysinfo(&si) == 0) s.mem_total_bytes = uint64_t{si.totalram} * si.mem_unit;
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0) s.num_cpus = CPU_COUNT(&cpus);
  return s;
}

}  // namespace sentry::fsimpl::proc
