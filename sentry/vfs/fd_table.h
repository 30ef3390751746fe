// FdTable: a process's file descriptor numbers and their flags (FD_CLOEXEC).
#pragma once

#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/vfs/file_description.h"

namespace sentry::vfs {

class FdTable {
 public:
  // RLIMIT_NOFILE's default hard limit; the table never grows beyond it.
  static constexpr int kMaxFds = 1 << 20;

  Result<std::shared_ptr<FileDescription>> Get(int fd);
  // Installs at exactly `fd`, replacing what was there.
  void InstallAt(int fd, std::shared_ptr<FileDescription> file, bool cloexec);
  Result<void> Close(int fd);

 private:
  struct Entry {
    std::shared_ptr<FileDescription> file;
    bool cloexec = false;
  };
  absl::Mutex mu_;
  std::vector<Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sentry::vfs
