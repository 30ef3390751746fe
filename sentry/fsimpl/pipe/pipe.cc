#include "sentry/fsimpl/pipe/pipe.h"

#include "sentry/vfs/iovec.h"

#include <sys/ioctl.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>
#include <functional>
#include <vector>

#include "sentry/mm/memory_manager.h"

namespace sentry::fsimpl::pipe {
namespace {

using vfs::IovecCursor;
using vfs::IovecTotal;

// pipefs's device number: an anonymous one (major 0) below the minors tmpfs hands out (16 up).
const dev_t kPipefsDev = makedev(0, 15);

timespec Now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

uint64_t NextIno() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

Pipe::Pipe(uint32_t uid, uint32_t gid) : ino_(NextIno()), uid_(uid), gid_(gid) {
  atime_ = mtime_ = ctime_ = Now();
}

std::unique_ptr<uint8_t[]> Pipe::NewPageLocked() {
  if (spare_page_) return std::move(spare_page_);
  // Uninitialised: a slot's bytes are only ever read after being written.
  return std::make_unique_for_overwrite<uint8_t[]>(kPageSize);
}

void Pipe::FreeSlotLocked() {
  if (!spare_page_) spare_page_ = std::move(slots_.front().page);
  slots_.pop_front();
}

Result<void> Pipe::WaitLocked(absl::CondVar& cv, absl::FunctionRef<bool()> ready,
                              Interrupter* intr) {
  if (ready()) return {};
  if (intr != nullptr) {
    // The wake-up may run after this wait, or the pipe, is gone: it holds only a weak reference.
    intr->Arm([weak = weak_from_this(), &cv] {
      if (auto self = weak.lock()) {
        absl::MutexLock lock(&self->mu_);
        cv.SignalAll();
      }
    });
  }
  Result<void> result;
  while (!ready()) {
    if (intr != nullptr && intr->Interrupted()) {
      // The task turns this into ERESTARTSYS, so SA_RESTART restarts the call.
      result = Err(EINTR);
      break;
    }
    cv.Wait(&mu_);
  }
  if (intr != nullptr) intr->Disarm();
  return result;
}

Pipe::NotifyOnExit::~NotifyOnExit() {
  uint32_t events;
  {
    absl::MutexLock lock(&p_->mu_);
    events = std::exchange(p_->pending_events_, 0);
  }
  if (events != 0) p_->queue_.Notify(events);
}

uint32_t Pipe::Readiness(bool reads, bool writes, uint64_t writer_opens_seen, uint32_t mask) {
  uint32_t r = 0;
  absl::MutexLock lock(&mu_);
  if (reads) {
    if (bytes_ > 0) r |= POLLIN | POLLRDNORM;
    if (writers_ == 0 && writer_opens_ != writer_opens_seen) r |= POLLHUP;
  }
  if (writes) {
    if (!FullLocked()) r |= POLLOUT | POLLWRNORM;
    if (readers_ == 0) r |= POLLERR;
  }
  return r & (mask | POLLHUP | POLLERR);
}

uint64_t Pipe::HupBaseline() {
  absl::MutexLock lock(&mu_);
  return writers_ == 0 ? writer_opens_ : 0;
}

Result<uint64_t> Pipe::Read(std::span<const iovec> dst, bool nonblocking, Interrupter* intr) {
  uint64_t want = IovecTotal(dst);
  if (want == 0) return 0;
  IovecCursor out(dst);
  NotifyOnExit notify(this);
  absl::MutexLock lock(&mu_);
  for (;;) {
    uint64_t done = 0;
    bool freed = false;
    while (want > 0 && !slots_.empty()) {
      Slot& s = slots_.front();
      uint64_t n = std::min<uint64_t>(s.len, want);
      out.Fill(s.page.get() + s.offset, n);
      s.offset += n;
      s.len -= n;
      bytes_ -= n;
      done += n;
      want -= n;
      if (s.packet) {
        // One packet per read; what did not fit is dropped.
        bytes_ -= s.len;
        s.len = 0;
        want = 0;
      }
      if (s.len == 0) {
        FreeSlotLocked();
        freed = true;
      }
    }
    if (done > 0) {
      if (freed) WritableChangedLocked();
      atime_ = Now();
      return done;
    }
    if (writers_ == 0) return 0;
    if (nonblocking) return Err(EAGAIN);
    TRY(WaitLocked(
        read_cv_,
        [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return !slots_.empty() || writers_ == 0; },
        intr));
  }
}

Result<uint64_t> Pipe::Write(std::span<const iovec> src, bool nonblocking, bool packet,
                             Interrupter* intr) {
  uint64_t left = IovecTotal(src);
  if (left == 0) return 0;  // before the reader check, as Linux: no EPIPE for nothing
  IovecCursor in(src);
  uint64_t done = 0;
  bool try_merge = true;
  NotifyOnExit notify(this);
  absl::MutexLock lock(&mu_);
  for (;;) {
    if (readers_ == 0) {
      // Linux also sends SIGPIPE when part of the write went through; the sentry raises it
      // (Task::HandleSyscall) only with the EPIPE.
      if (done > 0) break;
      return Err(EPIPE);
    }
    if (try_merge) {
      // Only once, first: what is left over after whole pages tops up the last slot if it all
      // fits there. Small writes share pages this way and large ones stay page-aligned; a write
      // of at most PIPE_BUF either fits there or takes one fresh slot, so it is never split.
      try_merge = false;
      uint64_t tail = left % kPageSize;
      if (tail != 0 && !slots_.empty()) {
        Slot& last = slots_.back();
        if (!last.packet && last.can_merge && last.offset + last.len + tail <= kPageSize) {
          in.Drain(last.page.get() + last.offset + last.len, tail);
          last.len += tail;
          bytes_ += tail;
          done += tail;
          left -= tail;
          if (left == 0) break;
        }
      }
    }
    while (left > 0 && !FullLocked()) {
      Slot s;
      s.page = NewPageLocked();
      uint64_t n = std::min<uint64_t>(left, kPageSize);
      in.Drain(s.page.get(), n);
      s.len = static_cast<uint32_t>(n);
      s.packet = packet;
      slots_.push_back(std::move(s));
      bytes_ += n;
      done += n;
      left -= n;
    }
    if (left == 0) break;
    if (nonblocking) {
      if (done > 0) break;
      return Err(EAGAIN);
    }
    // Full: readers may take what is there while this write waits for room.
    if (done > 0) ReadableChangedLocked();
    auto waited = WaitLocked(
        write_cv_,
        [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return !FullLocked() || readers_ == 0; }, intr);
    if (!waited) {
      if (done > 0) break;
      return std::unexpected(waited.error());
    }
  }
  ReadableChangedLocked();
  mtime_ = ctime_ = Now();
  return done;
}

void Pipe::DropFrontLocked(uint64_t n) {
  while (n > 0 && !slots_.empty()) {
    Slot& s = slots_.front();
    uint64_t k = std::min<uint64_t>(n, s.len);
    s.offset += k;
    s.len -= k;
    bytes_ -= k;
    n -= k;
    if (s.len == 0) FreeSlotLocked();
  }
}

void Pipe::AppendCopyLocked(const Slot& from, uint64_t len) {
  Slot s;
  s.page = NewPageLocked();
  std::memcpy(s.page.get(), from.page.get() + from.offset, len);
  s.len = static_cast<uint32_t>(len);
  s.packet = from.packet;
  s.can_merge = false;
  slots_.push_back(std::move(s));
  bytes_ += len;
}

Result<uint64_t> Pipe::ReadTo(uint64_t max, bool nonblocking, Transfer sink, Interrupter* intr) {
  if (max == 0) return 0;
  NotifyOnExit notify(this);
  absl::MutexLock lock(&mu_);
  while (slots_.empty()) {
    if (writers_ == 0) return 0;
    if (nonblocking) return Err(EAGAIN);
    TRY(WaitLocked(
        read_cv_,
        [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return !slots_.empty() || writers_ == 0; },
        intr));
  }
  std::vector<iovec> views;
  uint64_t offered = 0;
  for (const Slot& s : slots_) {
    if (offered == max) break;
    uint64_t n = std::min<uint64_t>(s.len, max - offered);
    views.push_back({s.page.get() + s.offset, n});
    offered += n;
  }
  uint64_t taken = std::min(TRY(sink(views)), offered);
  if (taken > 0) {
    DropFrontLocked(taken);
    WritableChangedLocked();
    atime_ = Now();
  }
  return taken;
}

Result<uint64_t> Pipe::WriteFrom(uint64_t max, bool nonblocking, Transfer source,
                                 Interrupter* intr) {
  if (max == 0) return 0;
  NotifyOnExit notify(this);
  absl::MutexLock lock(&mu_);
  for (;;) {
    if (readers_ == 0) return Err(EPIPE);
    if (!FullLocked()) break;
    if (nonblocking) return Err(EAGAIN);
    TRY(WaitLocked(
        write_cv_,
        [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return !FullLocked() || readers_ == 0; }, intr));
  }
  // No more than the free slots hold (Linux's do_splice_read), each filled from its start.
  uint64_t want = std::min(max, (max_slots_ - slots_.size()) * kPageSize);
  std::vector<std::unique_ptr<uint8_t[]>> pages;
  std::vector<iovec> views;
  for (uint64_t at = 0; at < want; at += kPageSize) {
    pages.push_back(NewPageLocked());
    views.push_back({pages.back().get(), std::min(kPageSize, want - at)});
  }
  auto filled = source(views);
  uint64_t n = filled ? std::min(*filled, want) : 0;
  for (size_t i = 0; i < pages.size(); ++i) {
    uint64_t at = i * kPageSize;
    if (at >= n) {
      if (!spare_page_) spare_page_ = std::move(pages[i]);
      continue;
    }
    Slot s;
    s.page = std::move(pages[i]);
    s.len = static_cast<uint32_t>(std::min(kPageSize, n - at));
    s.can_merge = false;  // Linux's spliced-in buffers take no merges
    bytes_ += s.len;
    slots_.push_back(std::move(s));
  }
  if (!filled) return std::unexpected(filled.error());
  if (n > 0) {
    ReadableChangedLocked();
    mtime_ = ctime_ = Now();
  }
  return n;
}

Result<void> Pipe::WaitReadableLocked(bool nonblocking, Interrupter* intr) {
  if (!slots_.empty() || writers_ == 0) return {};
  if (nonblocking) return Err(EAGAIN);
  return WaitLocked(
      read_cv_,
      [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return !slots_.empty() || writers_ == 0; }, intr);
}

Result<void> Pipe::WaitWritableLocked(bool nonblocking, Interrupter* intr) {
  // Linux's opipe_prep minds the readers only when the pipe is full; the transfer checks again.
  while (FullLocked()) {
    if (readers_ == 0) return Err(EPIPE);
    if (nonblocking) return Err(EAGAIN);
    TRY(WaitLocked(
        write_cv_,
        [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return !FullLocked() || readers_ == 0; }, intr));
  }
  return {};
}

Result<void> Pipe::WaitBoth(Pipe& in, Pipe& out, bool nonblocking, Interrupter* intr) {
  {
    absl::MutexLock lock(&in.mu_);
    TRY(in.WaitReadableLocked(nonblocking, intr));
  }
  absl::MutexLock lock(&out.mu_);
  return out.WaitWritableLocked(nonblocking, intr);
}

class Pipe::BothLocked {
 public:
  BothLocked(Pipe& a, Pipe& b) ABSL_NO_THREAD_SAFETY_ANALYSIS
      : first_(std::less<Pipe*>()(&a, &b) ? a : b),
        second_(&first_ == &a ? b : a) {
    first_.mu_.Lock();
    second_.mu_.Lock();
  }
  ~BothLocked() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    second_.mu_.Unlock();
    first_.mu_.Unlock();
  }

 private:
  Pipe& first_;
  Pipe& second_;
};

void Pipe::TransferredLocked(Pipe& in, Pipe& out, bool consumed) {
  timespec now = Now();
  if (consumed) in.WritableChangedLocked();
  in.atime_ = now;
  out.ReadableChangedLocked();
  out.mtime_ = out.ctime_ = now;
}

Result<uint64_t> Pipe::Splice(Pipe& in, Pipe& out, uint64_t max, bool nonblocking,
                              Interrupter* intr) {
  if (max == 0) return 0;
  NotifyOnExit notify_in(&in), notify_out(&out);
  for (;;) {
    TRY(WaitBoth(in, out, nonblocking, intr));
    BothLocked lock(in, out);
    uint64_t moved = 0;
    bool raced = false;
    Result<uint64_t> result;
    while (max > 0) {
      if (out.readers_ == 0) {
        if (moved == 0) result = Err(EPIPE);
        break;
      }
      if (in.slots_.empty() && in.writers_ == 0) break;
      if (in.slots_.empty() || out.FullLocked()) {
        if (moved > 0) break;
        if (nonblocking) {
          result = Err(EAGAIN);
          break;
        }
        raced = true;  // another reader or writer got there first: wait again
        break;
      }
      Slot& s = in.slots_.front();
      if (max >= s.len) {
        // The whole slot moves, page and all.
        uint64_t n = s.len;
        in.bytes_ -= n;
        out.bytes_ += n;
        out.slots_.push_back(std::move(s));
        in.slots_.pop_front();
        moved += n;
        max -= n;
      } else {
        out.AppendCopyLocked(s, max);
        in.DropFrontLocked(max);
        moved += max;
        max = 0;
      }
    }
    if (moved > 0) TransferredLocked(in, out, /*consumed=*/true);
    if (raced) continue;
    if (!result) return result;
    return moved;
  }
}

Result<uint64_t> Pipe::Tee(Pipe& in, Pipe& out, uint64_t max, bool nonblocking, Interrupter* intr) {
  if (max == 0) return 0;
  NotifyOnExit notify_in(&in), notify_out(&out);
  TRY(WaitBoth(in, out, nonblocking, intr));
  BothLocked lock(in, out);
  uint64_t copied = 0;
  for (const Slot& s : in.slots_) {
    if (out.readers_ == 0) {
      if (copied == 0) return Err(EPIPE);
      break;
    }
    if (max == 0 || out.FullLocked()) break;
    uint64_t n = std::min<uint64_t>(s.len, max);
    out.AppendCopyLocked(s, n);
    copied += n;
    max -= n;
  }
  // Nothing to copy and no reader: Linux's link_pipe says EPIPE before it looks at the input.
  if (copied == 0 && out.readers_ == 0) return Err(EPIPE);
  if (copied > 0) TransferredLocked(in, out, /*consumed=*/false);
  return copied;
}

void Pipe::Acquire(bool reader, bool writer) {
  absl::MutexLock lock(&mu_);
  AcquireLocked(reader, writer);
}

void Pipe::Release(bool reader, bool writer) {
  NotifyOnExit notify(this);
  absl::MutexLock lock(&mu_);
  ReleaseLocked(reader, writer);
}

void Pipe::AcquireLocked(bool reader, bool writer) {
  if (reader) {
    ++readers_;
    ++reader_opens_;
  }
  if (writer) {
    ++writers_;
    ++writer_opens_;
  }
  partner_cv_.SignalAll();
}

void Pipe::ReleaseLocked(bool reader, bool writer) {
  // The last reader leaving turns blocked writes into EPIPE; the last writer, reads into EOF.
  if (reader && --readers_ == 0) WritableChangedLocked();
  if (writer && --writers_ == 0) ReadableChangedLocked();
}

Result<void> Pipe::OpenFifoEnd(bool reader, bool writer, bool nonblocking, Interrupter* intr) {
  NotifyOnExit notify(this);
  absl::MutexLock lock(&mu_);
  // POSIX: a nonblocking open for writing fails at once when nobody reads.
  if (writer && !reader && nonblocking && readers_ == 0) return Err(ENXIO);
  AcquireLocked(reader, writer);
  if (reader && writer) return {};  // O_RDWR never waits: the opener can talk to itself
  Result<void> waited;
  if (reader && !nonblocking && writers_ == 0) {
    uint64_t seen = writer_opens_;
    waited = WaitLocked(
        partner_cv_, [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return writer_opens_ != seen; }, intr);
  } else if (writer && readers_ == 0) {
    uint64_t seen = reader_opens_;
    waited = WaitLocked(
        partner_cv_, [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return reader_opens_ != seen; }, intr);
  }
  if (!waited) ReleaseLocked(reader, writer);
  return waited;
}

uint64_t Pipe::BytesReadable() {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

uint64_t Pipe::Capacity() {
  absl::MutexLock lock(&mu_);
  return max_slots_ * kPageSize;
}

Result<uint64_t> Pipe::SetCapacity(uint32_t size, bool privileged) {
  if (size > (1U << 31)) return Err(EINVAL);
  uint64_t bytes = size < kPageSize ? kPageSize : std::bit_ceil(uint64_t{size});
  uint64_t slots = bytes / kPageSize;
  NotifyOnExit notify(this);
  absl::MutexLock lock(&mu_);
  // Shrinking is always allowed (if the content fits); only growth past the limit is checked.
  if (slots > max_slots_ && bytes > kPipeMaxSize && !privileged) return Err(EPERM);
  if (slots < slots_.size()) return Err(EBUSY);
  max_slots_ = slots;
  WritableChangedLocked();
  return bytes;
}

struct stat Pipe::Stat() {
  struct stat st {};
  st.st_dev = kPipefsDev;
  st.st_ino = ino_;
  st.st_mode = S_IFIFO | S_IRUSR | S_IWUSR;
  st.st_nlink = 1;
  st.st_uid = uid_;
  st.st_gid = gid_;
  st.st_blksize = kPageSize;
  absl::MutexLock lock(&mu_);
  st.st_atim = atime_;
  st.st_mtim = mtime_;
  st.st_ctim = ctime_;
  return st;
}

std::pair<std::shared_ptr<PipeFile>, std::shared_ptr<PipeFile>> PipeFile::NewPipe(int flags,
                                                                                  uint32_t uid,
                                                                                  uint32_t gid) {
  auto pipe = std::make_shared<Pipe>(uid, gid);
  // Linux gives O_DIRECT to the write end only: packet mode is a property of writes.
  pipe->Acquire(true, false);
  auto read_end = std::make_shared<PipeFile>(Key{}, pipe, O_RDONLY | (flags & O_NONBLOCK),
                                             vfs::VirtualDentry{});
  pipe->Acquire(false, true);
  auto write_end = std::make_shared<PipeFile>(
      Key{}, pipe, O_WRONLY | (flags & (O_NONBLOCK | O_DIRECT)), vfs::VirtualDentry{});
  return {std::move(read_end), std::move(write_end)};
}

PipeFile::PipeFile(Key, std::shared_ptr<Pipe> pipe, int flags, vfs::VirtualDentry path)
    : FileDescription(flags, std::move(path)),
      pipe_(std::move(pipe)),
      reads_(Readable()),
      writes_(Writable()),
      writer_opens_seen_(anonymous() ? 0 : pipe_->HupBaseline()) {}

uint32_t PipeFile::Readiness(uint32_t mask) {
  return pipe_->Readiness(reads_, writes_, writer_opens_seen_, mask);
}

PipeFile::~PipeFile() { pipe_->Release(reads_, writes_); }

Result<uint64_t> PipeFile::Read(std::span<const iovec> dst, std::optional<int64_t> offset) {
  if (offset) return Err(ESPIPE);
  return pipe_->Read(dst, status_flags() & O_NONBLOCK, CurrentInterrupter());
}

Result<uint64_t> PipeFile::Write(std::span<const iovec> src, std::optional<int64_t> offset) {
  if (offset) return Err(ESPIPE);
  // O_DIRECT is read at each write: F_SETFL may turn packet mode on and off.
  return pipe_->Write(src, status_flags() & O_NONBLOCK, status_flags() & O_DIRECT,
                      CurrentInterrupter());
}

Result<struct stat> PipeFile::Stat() {
  if (anonymous()) return pipe_->Stat();
  return FileDescription::Stat();  // a FIFO: its inode
}

Result<uint64_t> PipeFile::Ioctl(mm::MemoryManager& mm, uint64_t cmd, uint64_t arg) {
  if (cmd == FIONREAD) {
    // An int, as Linux copies out; a pipe holds at most 2 GiB.
    int n = static_cast<int>(pipe_->BytesReadable());
    TRY(mm.CopyOutObject(UserAddr(arg), n));
    return 0;
  }
  return Err(ENOTTY);
}

Result<std::shared_ptr<vfs::FileDescription>> Fifo::Open(const vfs::VirtualDentry& path,
                                                         int flags) {
  int mode = flags & O_ACCMODE;
  if (mode == O_ACCMODE) return Err(EINVAL);  // neither end (fifo_open's default case)
  bool reader = mode != O_WRONLY;
  bool writer = mode != O_RDONLY;
  std::shared_ptr<Pipe> pipe;
  {
    absl::MutexLock lock(&mu_);
    pipe = pipe_.lock();
    if (!pipe) {
      // The owner only matters to an anonymous pipe's fstat; a FIFO shows its inode.
      pipe = std::make_shared<Pipe>(0, 0);
      pipe_ = pipe;
    }
  }
  // Not under mu_: the open may wait for a partner, who comes through here too.
  TRY(pipe->OpenFifoEnd(reader, writer, flags & O_NONBLOCK, CurrentInterrupter()));
  return std::make_shared<PipeFile>(PipeFile::Key{}, std::move(pipe), flags, path);
}

}  // namespace sentry::fsimpl::pipe
