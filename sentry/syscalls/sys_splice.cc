// splice, tee, sendfile, copy_file_range: moving data between files without passing it through
// the application's memory. A pipe's pages are handed to the file at its other end with the
// pipe locked (Pipe::ReadTo, Pipe::WriteFrom), so only what the file took leaves the pipe; two
// pipes trade whole slots (Pipe::Splice) or copies of them (Pipe::Tee). sendfile and
// copy_file_range go through a sentry buffer.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <algorithm>
#include <vector>

#include "sentry/base/interrupter.h"
#include "sentry/fsimpl/pipe/pipe.h"
#include "sentry/kernel/kernel.h"
#include "sentry/syscalls/table.h"
#include "sentry/vfs/fsnotify.h"
#include "sentry/vfs/iovec.h"

namespace sentry::syscalls {
namespace {

using fsimpl::pipe::Pipe;
using fsimpl::pipe::PipeFile;
using vfs::FileDescription;
using vfs::kMaxRwCount;

constexpr unsigned kSpliceFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT;

// The file behind `fd`. O_PATH descriptors are no files here (EBADF), as Linux's fdget sees it.
Result<std::shared_ptr<FileDescription>> FileOf(kernel::Task& t, uint64_t fd) {
  auto file = TRY(t.fds().Get(ArgInt(fd)));
  if (file->IsPath()) return Err(EBADF);
  return file;
}

// Pipes and FIFOs (Linux's get_pipe_info), either end.
PipeFile* AsPipe(FileDescription& file) { return dynamic_cast<PipeFile*>(&file); }

bool Nonblocking(const FileDescription& file) { return file.status_flags() & O_NONBLOCK; }

// Where a read or write without an offset happens: the file position, for files that have one.
int64_t PositionOf(FileDescription& file) {
  return file.Positional() ? file.Seek(0, SEEK_CUR).value_or(0) : 0;
}

// Linux's rw_verify_area: a count negative as a ssize_t, a negative position, or one the count
// would carry past the largest file offset: EINVAL.
Result<void> VerifyArea(int64_t pos, uint64_t count) {
  if (static_cast<int64_t>(count) < 0 || pos < 0) return Err(EINVAL);
  if (static_cast<int64_t>(static_cast<uint64_t>(pos) + count) < 0) return Err(EINVAL);
  return {};
}

bool IsDirectory(const FileDescription& file) {
  return file.path().dentry && file.path().inode().IsDir();
}

Result<std::optional<int64_t>> CopyInOffset(kernel::Task& t, uint64_t addr) {
  if (addr == 0) return std::optional<int64_t>();
  return std::optional<int64_t>(TRY(t.mm().CopyInObject<int64_t>(UserAddr(addr))));
}

// Copies up to `count` bytes (at most kMaxRwCount) from `in` to `out` through a sentry buffer,
// each at its offset or, without one, at (and advancing) its file position. Stops short at the
// end of `in` or at a short write; an error only when nothing moved.
Result<uint64_t> CopyThroughBuffer(FileDescription& in, std::optional<int64_t> in_offset,
                                   FileDescription& out, std::optional<int64_t> out_offset,
                                   uint64_t count) {
  count = std::min(count, kMaxRwCount);
  auto at = [](std::optional<int64_t> offset, uint64_t done) {
    return offset ? std::optional<int64_t>(*offset + static_cast<int64_t>(done)) : std::nullopt;
  };
  std::vector<uint8_t> buf(std::min<uint64_t>(count, 1 << 16));
  uint64_t done = 0;
  while (done < count) {
    iovec v{buf.data(), std::min<uint64_t>(buf.size(), count - done)};
    auto n = in.Read({&v, 1}, at(in_offset, done));
    if (!n) {
      if (done > 0) break;
      return std::unexpected(n.error());
    }
    if (*n == 0) break;
    iovec w{buf.data(), *n};
    auto m = out.Write({&w, 1}, at(out_offset, done));
    if (!m) {
      if (done > 0) break;
      return std::unexpected(m.error());
    }
    done += *m;
    if (*m < *n) break;
  }
  return done;
}

// A transfer that moved data: IN_ACCESS on its input, IN_MODIFY on its output, as Linux reports
// splice, tee, sendfile and copy_file_range.
Result<uint64_t> Reported(const FileDescription& in, const FileDescription& out,
                          Result<uint64_t> r) {
  if (r && *r > 0) {
    vfs::fsnotify::NotifyFile(in, vfs::fsnotify::kAccess);
    vfs::fsnotify::NotifyFile(out, vfs::fsnotify::kModify);
  }
  return r;
}

// splice(2), in Linux's order of checks (__do_splice, do_splice).
Result<uint64_t> Splice(kernel::Task& t, const Args& a, std::shared_ptr<FileDescription>& in,
                        std::shared_ptr<FileDescription>& out) {
  uint64_t len = a[4];
  unsigned flags = static_cast<unsigned>(a[5]);
  if (len == 0) return 0;  // before any other check, even of the flags
  if (flags & ~kSpliceFlags) return Err(EINVAL);
  in = TRY(FileOf(t, a[0]));
  out = TRY(FileOf(t, a[2]));
  PipeFile* in_pipe = AsPipe(*in);
  PipeFile* out_pipe = AsPipe(*out);
  if ((in_pipe && a[1] != 0) || (out_pipe && a[3] != 0)) return Err(ESPIPE);
  std::optional<int64_t> off_out = TRY(CopyInOffset(t, a[3]));
  std::optional<int64_t> off_in = TRY(CopyInOffset(t, a[1]));
  if (!in->Readable() || !out->Writable()) return Err(EBADF);
  bool nonblocking = flags & SPLICE_F_NONBLOCK;
  Interrupter* intr = CurrentInterrupter();  // ends the waits on a pipe

  if (in_pipe && out_pipe) {
    if (&in_pipe->pipe() == &out_pipe->pipe()) return Err(EINVAL);
    nonblocking |= Nonblocking(*in) || Nonblocking(*out);
    return Pipe::Splice(in_pipe->pipe(), out_pipe->pipe(), len, nonblocking, intr);
  }

  if (in_pipe) {
    // Pipe to file: the file takes what it can from the front of the pipe.
    if (off_out && !out->Positional()) return Err(EINVAL);
    if (out->status_flags() & O_APPEND) return Err(EINVAL);
    TRY(VerifyArea(off_out ? *off_out : PositionOf(*out), len));
    nonblocking |= Nonblocking(*in);
    auto write = [&](std::span<const iovec> views) { return out->Write(views, off_out); };
    uint64_t n = TRY(in_pipe->pipe().ReadTo(len, nonblocking, write, intr));
    if (off_out) TRY(t.mm().CopyOutObject(UserAddr(a[3]), *off_out + static_cast<int64_t>(n)));
    return n;
  }

  if (out_pipe) {
    // File to pipe: at most what the pipe has free slots for, read straight into new slots.
    if (off_in && !in->Positional()) return Err(EINVAL);
    TRY(VerifyArea(off_in ? *off_in : PositionOf(*in), len));
    nonblocking |= Nonblocking(*out);
    bool directory = IsDirectory(*in);
    auto read = [&](std::span<const iovec> views) -> Result<uint64_t> {
      if (directory) return Err(EINVAL);  // directories have no splice_read
      return in->Read(views, off_in);
    };
    uint64_t n =
        TRY(out_pipe->pipe().WriteFrom(std::min(len, kMaxRwCount), nonblocking, read, intr));
    if (off_in) TRY(t.mm().CopyOutObject(UserAddr(a[1]), *off_in + static_cast<int64_t>(n)));
    return n;
  }

  return Err(EINVAL);  // neither end is a pipe
}

Result<uint64_t> Sys_splice(kernel::Task& t, const Args& a) {
  std::shared_ptr<FileDescription> in, out;
  Result<uint64_t> r = Splice(t, a, in, out);
  return in && out ? Reported(*in, *out, std::move(r)) : r;
}

// tee(2): both ends pipes, distinct; the input keeps its data.
Result<uint64_t> Sys_tee(kernel::Task& t, const Args& a) {
  uint64_t len = a[2];
  unsigned flags = static_cast<unsigned>(a[3]);
  if (flags & ~kSpliceFlags) return Err(EINVAL);  // before the length, unlike splice
  if (len == 0) return 0;
  auto in = TRY(FileOf(t, a[0]));
  auto out = TRY(FileOf(t, a[1]));
  if (!in->Readable() || !out->Writable()) return Err(EBADF);
  PipeFile* in_pipe = AsPipe(*in);
  PipeFile* out_pipe = AsPipe(*out);
  if (!in_pipe || !out_pipe || &in_pipe->pipe() == &out_pipe->pipe()) return Err(EINVAL);
  bool nonblocking = (flags & SPLICE_F_NONBLOCK) || Nonblocking(*in) || Nonblocking(*out);
  return Reported(
      *in, *out,
      Pipe::Tee(in_pipe->pipe(), out_pipe->pipe(), len, nonblocking, CurrentInterrupter()));
}

// sendfile(2): `in` at *offset (or its position), `out` at its position.
Result<uint64_t> Sys_sendfile(kernel::Task& t, const Args& a) {
  auto out = TRY(t.fds().Get(ArgInt(a[0])));
  if (!out->Writable()) return Err(EBADF);
  auto in = TRY(t.fds().Get(ArgInt(a[1])));
  if (!in->Readable()) return Err(EBADF);
  if (out->status_flags() & O_APPEND) return Err(EINVAL);
  std::optional<int64_t> offset = TRY(CopyInOffset(t, a[2]));
  if (offset && *offset < 0) return Err(EINVAL);
  uint64_t done =
      TRY(Reported(*in, *out, CopyThroughBuffer(*in, offset, *out, std::nullopt, a[3])));
  if (offset) TRY(t.mm().CopyOutObject(UserAddr(a[2]), *offset + static_cast<int64_t>(done)));
  return done;
}

// copy_file_range(2) between regular files of one file system, with Linux's checks in its order
// (generic_copy_file_checks, then rw_verify_area on both ranges).
Result<uint64_t> Sys_copy_file_range(kernel::Task& t, const Args& a) {
  auto in = TRY(FileOf(t, a[0]));
  auto out = TRY(FileOf(t, a[2]));
  std::optional<int64_t> off_in = TRY(CopyInOffset(t, a[1]));
  std::optional<int64_t> off_out = TRY(CopyInOffset(t, a[3]));
  int64_t pos_in = off_in ? *off_in : PositionOf(*in);
  int64_t pos_out = off_out ? *off_out : PositionOf(*out);
  if (static_cast<unsigned>(a[5]) != 0) return Err(EINVAL);
  uint64_t count = a[4];

  struct stat st_in = TRY(in->Stat());
  struct stat st_out = TRY(out->Stat());
  if (S_ISDIR(st_in.st_mode) || S_ISDIR(st_out.st_mode)) return Err(EISDIR);
  if (!S_ISREG(st_in.st_mode) || !S_ISREG(st_out.st_mode)) return Err(EINVAL);
  if (!in->Readable() || !out->Writable() || (out->status_flags() & O_APPEND)) return Err(EBADF);
  // One file system: files with no place in the tree (host stdio) belong to none.
  if (!in->path().dentry || !out->path().dentry ||
      in->path().inode().FilesystemId() != out->path().inode().FilesystemId()) {
    return Err(EXDEV);
  }
  // Positions as Linux compares them: as unsigned 64-bit numbers.
  auto upos_in = static_cast<uint64_t>(pos_in), upos_out = static_cast<uint64_t>(pos_out);
  if (upos_in + count < upos_in || upos_out + count < upos_out) return Err(EOVERFLOW);
  // Short at the end of the input; cut at the largest file offset.
  if (pos_in >= st_in.st_size) {
    count = 0;
  } else {
    count = std::min(count, static_cast<uint64_t>(st_in.st_size) - upos_in);
  }
  if (pos_out >= 0) {
    if (pos_out == INT64_MAX) return Err(EFBIG);
    count = std::min(count, static_cast<uint64_t>(INT64_MAX - pos_out));
  }
  // No overlapping ranges within one file.
  if (st_in.st_dev == st_out.st_dev && st_in.st_ino == st_out.st_ino &&
      upos_out + count > upos_in && upos_out < upos_in + count) {
    return Err(EINVAL);
  }
  TRY(VerifyArea(pos_in, count));
  TRY(VerifyArea(pos_out, count));
  if (count == 0) return 0;

  // At explicit positions: the descriptions' positions move only once the copy is done.
  uint64_t done = TRY(Reported(*in, *out, CopyThroughBuffer(*in, pos_in, *out, pos_out, count)));
  if (done == 0) return 0;
  auto end_in = pos_in + static_cast<int64_t>(done), end_out = pos_out + static_cast<int64_t>(done);
  if (off_in) {
    TRY(t.mm().CopyOutObject(UserAddr(a[1]), end_in));
  } else {
    TRY(in->Seek(end_in, SEEK_SET));
  }
  if (off_out) {
    TRY(t.mm().CopyOutObject(UserAddr(a[3]), end_out));
  } else {
    TRY(out->Seek(end_out, SEEK_SET));
  }
  return done;
}

}  // namespace

void RegisterSpliceSyscalls(SyscallTable& t) {
  t.handlers[SYS_splice] = Sys_splice;
  t.handlers[SYS_tee] = Sys_tee;
  t.handlers[SYS_sendfile] = Sys_sendfile;
  t.handlers[SYS_copy_file_range] = Sys_copy_file_range;
}

}  // namespace sentry::syscalls
