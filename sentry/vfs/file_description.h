// FileDescription: an open file as the application's fds refer to it (Linux's struct file).
// Data moves between a file and the sentry's views of application memory (iovecs obtained from
// MemoryManager::Translate), so host-backed files read and write application memory directly.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>

#include "sentry/base/errno.h"
#include "sentry/vfs/file_owner.h"
#include "sentry/vfs/inode.h"
#include "sentry/vfs/mount.h"
#include "sentry/vfs/wait_queue.h"

namespace sentry::mm {
class MemoryManager;
class Mappable;
}

namespace sentry::vfs {

// F_SEAL_EXEC (Linux 6.3) is newer than the build's headers; the other F_SEAL_* come from fcntl.h.
inline constexpr uint32_t kSealExec = 0x20;
inline constexpr uint32_t kAllSeals =
    F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | kSealExec;

class FileDescription {
 public:
  virtual ~FileDescription();

  // What flock(2) and record locks lock: the inode, or the description itself when it has no
  // place in the tree (anonymous pipes lock their pipe, as both ends share an inode on Linux).
  virtual const void* LockFile() const;
  // flock(2) on this description.
  Result<void> Flock(int op);
  // An OFD record lock was taken with this description as owner: the description drops its
  // locks when it goes.
  void NoteOfdLock() { ofd_locked_.store(true, std::memory_order_relaxed); }
  // Likewise for a lease (vfs/lease.h).
  void NoteLease() { leased_.store(true, std::memory_order_relaxed); }
  // The count of its inode's OpenCounts this description is in (a regular file opened for
  // reading or writing), or null.
  const std::atomic<int32_t>* open_count() const { return open_count_; }

  // offset: nullopt for read/write at (and advancing) the file position, a value for
  // pread/pwrite. The defaults are what Linux says for files that cannot do it.
  virtual Result<uint64_t> Read(std::span<const iovec> dst, std::optional<int64_t> offset);
  virtual Result<uint64_t> Write(std::span<const iovec> src, std::optional<int64_t> offset);
  // lseek(2); the default serves regular files and directories from the file position.
  virtual Result<int64_t> Seek(int64_t offset, int whence);
  // getdents64: calls `emit` for entries from the position on until it returns false.
  virtual Result<void> ReadDir(const std::function<bool(const DirEntry&, int64_t next)>& emit);
  virtual Result<struct stat> Stat();
  virtual Result<void> Truncate(uint64_t size);
  virtual Result<void> Sync() { return {}; }
  // ioctl(2): arguments are the application's; memory goes through mm.
  virtual Result<uint64_t> Ioctl(mm::MemoryManager& mm, uint64_t cmd, uint64_t arg);

  // Readiness (poll(2)'s events): which of `mask`'s POLL* events hold now. Files that cannot
  // wait (regular files, directories) are always readable and writable, as Linux's
  // DEFAULT_POLLMASK. POLLERR and POLLHUP are reported whatever the mask.
  virtual uint32_t Readiness(uint32_t mask);
  // Whether the file has real readiness (Linux: a poll method): epoll_ctl refuses the others
  // with EPERM.
  virtual bool Pollable() const { return false; }
  // Registration for readiness changes; a no-op for files whose readiness never changes.
  virtual void EventRegister(WaitEntry*) {}
  virtual void EventUnregister(WaitEntry*) {}
  // Host fds whose readiness is this file's (host stdio, timerfds): a sleeping waiter watches
  // them in the host too, since no sentry code sees them become ready. Appends to `out`.
  virtual void HostWaitFds(uint32_t /*mask*/, std::vector<pollfd>& /*out*/) {}
  // The queue whose notifications O_ASYNC turns into signals (the file keeps it alive through
  // the pointer); null for files without signal-driven I/O (Linux: no fasync method), where
  // F_SETFL's O_ASYNC changes nothing.
  virtual std::shared_ptr<WaitQueue> AsyncQueue() { return nullptr; }
  // The owner and signal of fcntl F_SETOWN/F_SETSIG and O_ASYNC's registration; shared by every
  // fd (dup, fork) of the description, as Linux's f_owner.
  AsyncState& async() { return async_; }
  // File seals (fcntl F_GET_SEALS / F_ADD_SEALS, F_SEAL_* bits): only tmpfs files have them,
  // as only shmem files do on Linux; EINVAL for the rest. The caller has checked that the
  // description is writable and the bits known.
  virtual Result<uint32_t> GetSeals() { return Err(EINVAL); }
  virtual Result<void> AddSeals(uint32_t /*seals*/) { return Err(EINVAL); }
  // The file's own pages for MAP_SHARED mappings (files whose data lives in the MemoryFile:
  // tmpfs, memfds, an overlay's upper files); null for the rest, whose mappings are copies.
  virtual std::shared_ptr<mm::Mappable> GetMappable() { return nullptr; }

  // Whether pread/pwrite make sense (Linux's FMODE_PREAD): not for pipes, FIFOs and sockets.
  virtual bool Positional() const {
    return !path_.dentry || (!S_ISFIFO(path_.inode().type()) && !S_ISSOCK(path_.inode().type()));
  }

  // O_APPEND, O_NONBLOCK, access mode... Atomic: a lease broken by another task's open clears
  // O_ASYNC from that task's thread.
  int status_flags() const { return status_flags_.load(std::memory_order_relaxed); }
  void set_status_flags(int flags) { status_flags_.store(flags, std::memory_order_relaxed); }
  bool Readable() const { return (status_flags() & O_ACCMODE) != O_WRONLY && !IsPath(); }
  bool Writable() const {
    int mode = status_flags() & O_ACCMODE;
    return (mode == O_WRONLY || mode == O_RDWR) && !IsPath();
  }
  bool IsPath() const { return status_flags() & O_PATH; }
  // Where the file was opened; empty for files with no place in the tree (host stdio, pipes).
  const VirtualDentry& path() const { return path_; }
  // open(2) reported this file's opening to fsnotify: its last reference reports the close.
  void NoteOpenNotified() { notify_close_ = true; }

 protected:
  // A file opened for writing (other than a device, FIFO or socket) counts as a writer of its
  // mount for as long as it lives.
  FileDescription(int status_flags, VirtualDentry path);
  explicit FileDescription(int status_flags) : status_flags_(status_flags) {}

  bool flocked_ = false;  // set once a flock was taken; the lock goes with the description
  std::atomic<bool> ofd_locked_{false};  // likewise for OFD record locks
  std::atomic<bool> leased_{false};      // and for a lease

  // The file position, for implementations that keep one.
  std::mutex pos_mu_;
  int64_t pos_ = 0;

 private:
  std::atomic<int> status_flags_;
  VirtualDentry path_;
  AsyncState async_;
  bool mount_writer_ = false;  // counted in path_.mount's writers
  std::atomic<int32_t>* open_count_ = nullptr;
  bool notify_close_ = false;
};

// A directory opened for reading: getdents64 walks a snapshot taken at the first read (or after
// a rewind), with "." and ".." first.
class DirectoryFile : public FileDescription {
 public:
  DirectoryFile(int flags, VirtualDentry path) : FileDescription(flags, std::move(path)) {}
  Result<void> ReadDir(const std::function<bool(const DirEntry&, int64_t)>& emit) override;
  Result<int64_t> Seek(int64_t offset, int whence) override;

 private:
  std::optional<std::vector<DirEntry>> snapshot_;
};

// An O_PATH file: only a place in the tree, for *at() calls, fstat and fchdir.
class PathFile : public FileDescription {
 public:
  PathFile(int flags, VirtualDentry path) : FileDescription(flags, std::move(path)) {}
  Result<int64_t> Seek(int64_t, int) override { return Err(EBADF); }
  Result<void> ReadDir(const std::function<bool(const DirEntry&, int64_t)>&) override {
    return Err(EBADF);
  }
  Result<uint64_t> Ioctl(mm::MemoryManager&, uint64_t, uint64_t) override { return Err(EBADF); }
};

}  // namespace sentry::vfs

namespace sentry::vfs {

// A blocking operation on a file with readiness: tries `attempt` until it gives something other
// than EAGAIN, sleeping in between on the file's wait queue for `mask` (and on its host fds).
// EINTR when the task is interrupted. Nonblocking callers call `attempt` themselves.
Result<uint64_t> BlockOn(FileDescription& file, uint32_t mask,
                         const std::function<Result<uint64_t>()>& attempt);

// A file with no place in any tree (Linux's anon_inode files: eventfd, epoll, timerfd): fstat
// shows the one anonymous inode, lseek is a no-op and there is no pread or pwrite.
class AnonFile : public FileDescription {
 public:
  explicit AnonFile(int flags) : FileDescription(flags) {}
  Result<struct stat> Stat() override;
  Result<int64_t> Seek(int64_t, int) override { return 0; }  // noop_llseek
  bool Positional() const override { return false; }
};

}  // namespace sentry::vfs
