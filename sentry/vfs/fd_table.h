// FdTable: a process's file descriptor numbers and their flags (FD_CLOEXEC).
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/vfs/file_description.h"

namespace sentry::vfs {

// The table is also the owner of its process's record locks (fcntl F_SETLK; Linux's
// files_struct is): closing any fd that refers to a file drops every lock the table holds on
// that file, and the table drops all of them when it goes.
class FdTable {
 public:
  // fs.nr_open's default: no fd number reaches it, whatever RLIMIT_NOFILE says.
  static constexpr int kMaxFds = 1 << 20;

  FdTable() = default;
  ~FdTable();
  FdTable(const FdTable&) = delete;
  FdTable& operator=(const FdTable&) = delete;

  Result<std::shared_ptr<FileDescription>> Get(int fd);
  Result<bool> GetCloexec(int fd);
  Result<void> SetCloexec(int fd, bool cloexec);
  // The lowest free number >= min_fd below `limit` (RLIMIT_NOFILE); EMFILE if none.
  Result<int> Install(std::shared_ptr<FileDescription> file, bool cloexec, int min_fd,
                      uint64_t limit);
  // Installs at exactly `fd`, replacing (and closing) what was there.
  Result<void> InstallAt(int fd, std::shared_ptr<FileDescription> file, bool cloexec,
                         uint64_t limit = kMaxFds);
  Result<void> Close(int fd);
  // The open fd numbers, ascending (/proc/PID/fd).
  std::vector<int> Fds();
  // fork: a new table with the same files and flags.
  std::shared_ptr<FdTable> Clone();
  // execve: closes every FD_CLOEXEC descriptor.
  void CloseOnExec();
  // close_range(2) without flags: closes what is open in [first, last].
  void CloseRange(unsigned first, unsigned last);
  // close_range with CLOSE_RANGE_CLOEXEC: marks them instead.
  void SetCloexecRange(unsigned first, unsigned last);
  // A record lock was taken with this table as owner: closing fds has locks to drop from now on.
  void NoteRecordLock() { record_locked_.store(true, std::memory_order_relaxed); }

 private:
  struct Entry {
    std::shared_ptr<FileDescription> file;
    bool cloexec = false;
  };
  // Drops this table's record locks (and dnotify registration) on the file of `closed`, an fd
  // just closed (null: none).
  void ReleaseRecordLocks(const FileDescription* closed);

  absl::Mutex mu_;
  std::vector<Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> record_locked_{false};
};

}  // namespace sentry::vfs
