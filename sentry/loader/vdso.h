// The sentry's own vDSO: an image built with the project (vdso/vdso.c) and the parameter page
// it reads the clocks from ([vvar]), both in the MemoryFile once per sentry and mapped into every
// address space at execve, so that clock_gettime, gettimeofday, time and getcpu cost no trap.
// A thread of the sentry keeps the page's clock lines current (vdso_clock.h).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/loader/vdso/vdso_params.h"
#include "sentry/loader/vdso_clock.h"
#include "sentry/mm/memory_file.h"
#include "sentry/mm/memory_manager.h"

namespace sentry::loader {

struct VdsoOptions {
  // The host's clocks count the TSC, which is invariant: the vDSO may read it. Otherwise every
  // vDSO clock read is a syscall (correct, and as slow as one).
  bool tsc_clocks = false;
  unsigned num_cpus = 1;  // what getcpu folds the host's CPU numbers into, as the syscall does
};

// Whether the host's clocksource is the TSC and the CPU says the TSC is invariant. Reads /sys:
// call it at boot, before the sentry is confined.
bool HostClocksRunOnTsc();

class Vdso {
 public:
  static absl::StatusOr<std::unique_ptr<Vdso>> Create(mm::MemoryFile& file,
                                                      const VdsoOptions& options);
  ~Vdso();
  Vdso(const Vdso&) = delete;
  Vdso& operator=(const Vdso&) = delete;

  // Bytes of the [vvar] page and the [vdso] image together; the image starts one page in.
  uint64_t span() const { return VDSO_PARAMS_SIZE + image_size_; }
  // Maps [vvar] (read-only) and [vdso] (read-execute, private: a write, say a debugger's
  // breakpoint, copies the page for that process alone) so that the image's ELF header is at
  // `vdso_base`. The first call starts the thread that keeps the clocks current (the sentry
  // confines itself before it runs any thread).
  Result<void> MapInto(mm::MemoryManager& mm, uint64_t vdso_base);

  bool tsc_clocks() const { return tsc_clocks_; }

 private:
  Vdso(mm::MemoryFile& file, uint64_t offset, uint64_t image_size, bool tsc_clocks);
  // Samples the host clocks and publishes new lines; returns how long until the next refresh
  // is due, in nanoseconds.
  int64_t Refresh();
  void Run();

  // The image's pages as a file that never changes: what MADV_DONTNEED over [vdso] brings
  // back (a special mapping refaults its pages on Linux).
  class ImagePages;

  mm::MemoryFile& file_;
  const uint64_t offset_;      // of the parameter page; the image follows it
  const uint64_t image_size_;  // page aligned
  const bool tsc_clocks_;
  vdso_params* const params_;  // the sentry's view of the parameter page
  std::shared_ptr<ImagePages> image_pages_;
  std::array<ClockFollower, VDSO_NUM_CLOCKS> followers_;
  std::once_flag start_;
  std::thread refresher_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace sentry::loader
