// Pipes: the buffer that pipe(2) and named FIFOs share (Linux's pipe_inode_info), the open ends
// that read and write it (PipeFile), and the FIFO state a file system keeps in each S_IFIFO
// inode (Fifo).
//
// The buffer is a ring of page-sized slots, as in Linux, not a byte ring: a write first tops up
// the last slot (when what is left over after whole pages fits in it), then fills fresh slots.
// That makes the odd corners come out as on Linux: 100-byte writes fill a 64 KiB pipe with
// 64000 bytes, one byte followed by a 64 KiB write leaves 61440 bytes taken, a write of at most
// PIPE_BUF lands in one slot (so it is atomic), and packet mode (O_DIRECT) is one packet per slot.
// Slot pages are sentry heap memory: they are the kernel's, not the application's.
//
// Readiness: pollers register on the pipe's WaitQueue; the pipe notifies it after a read, a
// write, a splice or tee, a resize, and when the last reader or writer goes, always with mu_
// released (see sentry/vfs/wait_queue.h).
//
// Locks: Pipe::mu_ comes before everything else: a wait calls an Interrupter's Arm/Disarm with it
// held (see sentry/base/interrupter.h for the order that implies), and splice(2) reads or writes
// the file at its other end with it held, as Linux holds pipe->mutex there (so that what a file
// write does not take stays in the pipe, in order). Two pipes (splice and tee between pipes) are
// locked in address order. Nothing that holds a file system's lock ever takes a pipe's.
// Application memory is copied with mu_ held; the iovecs are the sentry's own views of it, so
// the copies cannot fault.
#pragma once

#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/base/interrupter.h"
#include "sentry/base/user_addr.h"
#include "sentry/vfs/file_description.h"

namespace sentry::fsimpl::pipe {

// PIPE_BUF: writes of at most this many bytes are atomic.
inline constexpr uint64_t kPipeBuf = 4096;
// A new pipe's capacity: 16 pages.
inline constexpr uint64_t kDefaultPipeSize = 16 * kPageSize;
// /proc/sys/fs/pipe-max-size's default: F_SETPIPE_SZ beyond it needs CAP_SYS_RESOURCE.
inline constexpr uint64_t kPipeMaxSize = 1 << 20;

// Blocking waits end early when the waiting task is interrupted (sentry/base/interrupter.h).
using Interrupter = sentry::Interrupter;

// The shared buffer and the count of open ends. Held by shared_ptr: by each PipeFile and, for a
// FIFO, while an open is in progress.
class Pipe : public std::enable_shared_from_this<Pipe> {
 public:
  // uid/gid own the pipe as fstat shows it (for anonymous pipes; a FIFO shows its inode).
  Pipe(uint32_t uid, uint32_t gid);
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;

  // read(2): blocks while the pipe is empty and has writers (EAGAIN instead if `nonblocking`);
  // 0 at end of file, when it is empty and has none. Takes what is there, never waits for more
  // once it has some. A packet (O_DIRECT write) is read alone, and what does not fit is dropped.
  Result<uint64_t> Read(std::span<const iovec> dst, bool nonblocking, Interrupter* intr = nullptr);
  // write(2): EPIPE without readers; blocks while full (or EAGAIN / a partial count if
  // `nonblocking`, per pipe(7)). `packet` is O_DIRECT: each slot it fills is one packet.
  // An interrupted write returns what it wrote, or EINTR if nothing.
  Result<uint64_t> Write(std::span<const iovec> src, bool nonblocking, bool packet,
                         Interrupter* intr = nullptr);

  // splice(2) out of the pipe: waits as Read does (EAGAIN if `nonblocking`; 0 at end of file),
  // then hands `sink` views of up to `max` bytes from the front, in order, with the pipe locked,
  // and removes as many as sink says it took. Packets are bytes here, as splice sees them.
  // An error from sink is the result when it took nothing. `sink` must not use this pipe.
  using Transfer = absl::FunctionRef<Result<uint64_t>(std::span<const iovec>)>;
  Result<uint64_t> ReadTo(uint64_t max, bool nonblocking, Transfer sink,
                          Interrupter* intr = nullptr);
  // splice(2) into the pipe: EPIPE without readers; waits for a free slot (EAGAIN if
  // `nonblocking`), then hands `source` views of fresh pages for up to `max` bytes, as many as
  // the free slots hold, with the pipe locked; what source says it filled becomes new slots
  // (never merged with earlier data, as Linux's spliced buffers are not). `source` must not use
  // this pipe.
  Result<uint64_t> WriteFrom(uint64_t max, bool nonblocking, Transfer source,
                             Interrupter* intr = nullptr);
  // splice(2) between two pipes (Linux's splice_pipe_to_pipe): moves up to `max` bytes from
  // `in` to `out`, whole slots where they fit. Waits for data in `in` and room in `out` (EAGAIN
  // if `nonblocking`); 0 when `in` is empty without writers, EPIPE when `out` has no readers.
  static Result<uint64_t> Splice(Pipe& in, Pipe& out, uint64_t max, bool nonblocking,
                                 Interrupter* intr = nullptr) ABSL_NO_THREAD_SAFETY_ANALYSIS;
  // tee(2) (Linux's link_pipe): copies up to `max` bytes from the front of `in` to `out` without
  // consuming them, one slot of `in` per slot of `out`, as many as `out` has room for. Waits as
  // Splice does, but returns what it copied as soon as either side stops it.
  static Result<uint64_t> Tee(Pipe& in, Pipe& out, uint64_t max, bool nonblocking,
                              Interrupter* intr = nullptr) ABSL_NO_THREAD_SAFETY_ANALYSIS;

  // Open ends. Every Acquire is paired with a Release of the same kind (PipeFile does that).
  void Acquire(bool reader, bool writer);
  void Release(bool reader, bool writer);
  // Opening one end of a FIFO (fifo_open): O_RDONLY waits until a writer has opened (unless
  // nonblocking), O_WRONLY until a reader has (ENXIO if nonblocking and there is none), O_RDWR
  // never waits. On success the end is acquired; on failure (EINTR) nothing is.
  Result<void> OpenFifoEnd(bool reader, bool writer, bool nonblocking, Interrupter* intr = nullptr);

  // poll(2) for an end that `reads` and/or `writes`: POLLIN when there are bytes, POLLHUP when
  // no writer is left (for a FIFO, only once a writer other than the first `writer_opens_seen`
  // has come and gone, as Linux's f_version), POLLOUT when there is room, POLLERR when no
  // reader is left.
  uint32_t Readiness(bool reads, bool writes, uint64_t writer_opens_seen, uint32_t mask);
  vfs::WaitQueue& queue() { return queue_; }
  // For a FIFO reader opening now: Linux's f_version, the writer opens it must not report
  // POLLHUP for (all so far when there is no writer, as after a nonblocking open).
  uint64_t HupBaseline();

  // FIONREAD: the bytes waiting to be read.
  uint64_t BytesReadable();
  // F_GETPIPE_SZ.
  uint64_t Capacity();
  // F_SETPIPE_SZ with fcntl's 32-bit argument: rounds up to a power-of-two number of pages
  // (at least one); EINVAL above 2 GiB, EPERM above kPipeMaxSize when growing unless
  // `privileged` (CAP_SYS_RESOURCE), EBUSY if the content takes more slots than it would have.
  // Returns the new capacity.
  Result<uint64_t> SetCapacity(uint32_t size, bool privileged);

  // What fstat shows for an anonymous pipe (a pipefs inode).
  struct stat Stat();
  uint64_t ino() const { return ino_; }

 private:
  struct Slot {
    std::unique_ptr<uint8_t[]> page;  // kPageSize bytes
    uint32_t offset = 0;              // where the unread bytes start in page
    uint32_t len = 0;                 // how many there are
    bool packet = false;              // written in packet mode: read alone, never merged into
    bool can_merge = true;            // later writes may top it up (not spliced or teed data)
  };

  bool FullLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_) { return slots_.size() >= max_slots_; }
  // Removes the first n bytes (no more than bytes_).
  void DropFrontLocked(uint64_t n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends a slot holding a copy of `len` bytes of `from` (a partial slot moved, or a slot
  // teed): like Linux's shared buffer, it keeps the packet flag and takes no merges.
  void AppendCopyLocked(const Slot& from, uint64_t len) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The waits before a transfer between two pipes (ipipe_prep, opipe_prep), one lock at a time:
  // until `in` has data or no writers; until `out` has room, EPIPE if it is full and unread.
  Result<void> WaitReadableLocked(bool nonblocking, Interrupter* intr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Result<void> WaitWritableLocked(bool nonblocking, Interrupter* intr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Splice and Tee's waits, each pipe locked alone, in Linux's order.
  static Result<void> WaitBoth(Pipe& in, Pipe& out, bool nonblocking, Interrupter* intr);
  // Holds two pipes' locks, taken in address order.
  class BothLocked;
  // After a transfer between pipes: wake-ups and times on both sides.
  static void TransferredLocked(Pipe& in, Pipe& out, bool consumed) ABSL_NO_THREAD_SAFETY_ANALYSIS;
  std::unique_ptr<uint8_t[]> NewPageLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FreeSlotLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);  // drops the oldest slot
  void AcquireLocked(bool reader, bool writer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReleaseLocked(bool reader, bool writer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The only place a pipe sleeps: until ready() holds, EINTR if `intr` fires first.
  Result<void> WaitLocked(absl::CondVar& cv, absl::FunctionRef<bool()> ready, Interrupter* intr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Wake-ups when readiness changes: blocked readers/writers at once, pollers (pending_events_)
  // when the public call that changed it releases mu_ (NotifyOnExit).
  void ReadableChangedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    read_cv_.SignalAll();
    pending_events_ |= POLLIN | POLLRDNORM | POLLHUP;
  }
  void WritableChangedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    write_cv_.SignalAll();
    pending_events_ |= POLLOUT | POLLWRNORM | POLLERR;
  }
  // Declared before the MutexLock of a public call, so that it runs after the unlock.
  class NotifyOnExit {
   public:
    explicit NotifyOnExit(Pipe* p) : p_(p) {}
    ~NotifyOnExit();

   private:
    Pipe* p_;
  };

  const uint64_t ino_;
  const uint32_t uid_;
  const uint32_t gid_;

  absl::Mutex mu_;
  absl::CondVar read_cv_;     // readers: data arrived, or the last writer left
  absl::CondVar write_cv_;    // writers: room appeared, or the last reader left
  absl::CondVar partner_cv_;  // FIFO opens: the other end opened

  std::deque<Slot> slots_ ABSL_GUARDED_BY(mu_);                 // oldest first
  std::unique_ptr<uint8_t[]> spare_page_ ABSL_GUARDED_BY(mu_);  // saves an allocation per slot
  uint64_t max_slots_ ABSL_GUARDED_BY(mu_) = kDefaultPipeSize / kPageSize;
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;  // sum of the slots' len
  uint32_t pending_events_ ABSL_GUARDED_BY(mu_) = 0;
  vfs::WaitQueue queue_;
  uint64_t readers_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t writers_ ABSL_GUARDED_BY(mu_) = 0;
  // How many read/write ends were ever opened: a FIFO open waits for its partner's to move,
  // so a partner that opens and closes at once still lets it through, as on Linux.
  uint64_t reader_opens_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t writer_opens_ ABSL_GUARDED_BY(mu_) = 0;
  timespec atime_ ABSL_GUARDED_BY(mu_);
  timespec mtime_ ABSL_GUARDED_BY(mu_);
  timespec ctime_ ABSL_GUARDED_BY(mu_);
};

// An open end of a pipe: the read end, the write end, or both (a FIFO opened O_RDWR).
// Closing it (destroying the last reference) releases that end.
class PipeFile : public vfs::FileDescription {
  struct Key {};  // only this file's factories construct it

 public:
  bool Positional() const override { return false; }
  // pipe2(2): {read end, write end}. `flags` may hold O_NONBLOCK (both ends) and O_DIRECT (the
  // write end: packet mode); the caller has checked them.
  static std::pair<std::shared_ptr<PipeFile>, std::shared_ptr<PipeFile>> NewPipe(int flags,
                                                                                 uint32_t uid,
                                                                                 uint32_t gid);

  // Adopts one acquired end of `pipe` (see Pipe::Acquire / OpenFifoEnd).
  PipeFile(Key, std::shared_ptr<Pipe> pipe, int flags, vfs::VirtualDentry path);
  ~PipeFile() override;

  Result<uint64_t> Read(std::span<const iovec> dst, std::optional<int64_t> offset) override;
  Result<uint64_t> Write(std::span<const iovec> src, std::optional<int64_t> offset) override;
  Result<int64_t> Seek(int64_t, int) override { return Err(ESPIPE); }
  Result<struct stat> Stat() override;
  Result<uint64_t> Ioctl(mm::MemoryManager& mm, uint64_t cmd, uint64_t arg) override;
  uint32_t Readiness(uint32_t mask) override;
  bool Pollable() const override { return true; }
  void EventRegister(vfs::WaitEntry* e) override { pipe_->queue().Add(e); }
  void EventUnregister(vfs::WaitEntry* e) override { pipe_->queue().Remove(e); }
  std::shared_ptr<vfs::WaitQueue> AsyncQueue() override {
    return std::shared_ptr<vfs::WaitQueue>(pipe_, &pipe_->queue());
  }

  Pipe& pipe() { return *pipe_; }
  // Anonymous pipes have no place in the tree; FIFOs do.
  bool anonymous() const { return !path().dentry; }
  // Both ends of an anonymous pipe lock the same file, the pipe (one inode on Linux).
  const void* LockFile() const override {
    return anonymous() ? pipe_.get() : FileDescription::LockFile();
  }

 private:
  friend class Fifo;

  const std::shared_ptr<Pipe> pipe_;
  const bool reads_;
  const bool writes_;
  // Pipe::HupBaseline when this end opened (0 for an anonymous pipe, whose writer came with
  // it): a FIFO reader opened without writers reports POLLHUP only once a new writer left.
  const uint64_t writer_opens_seen_;
};

// What a file system keeps in a FIFO inode: every open of the inode joins the same pipe, which
// lives while any end is open (or an open waits); after the last close its data is gone.
class Fifo {
 public:
  // open(2) of the FIFO with open's flags (the caller handles O_PATH). May block; see
  // Pipe::OpenFifoEnd. The file's fstat is the inode's, found through `path`.
  Result<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& path, int flags);

 private:
  absl::Mutex mu_;
  std::weak_ptr<Pipe> pipe_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sentry::fsimpl::pipe
