// File descriptor plumbing: dup, dup2, dup3, fcntl (with record locks and file seals), lseek,
// flock, and the generic ioctls.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sentry/fsimpl/pipe/pipe.h"
#include "sentry/syscalls/path_util.h"
#include "sentry/syscalls/table.h"
#include "sentry/vfs/record_lock.h"

namespace sentry::syscalls {
namespace {

// What F_SETFL may change; the access mode and creation flags stay as opened.
constexpr int kSettableStatusFlags = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;

Result<uint64_t> Sys_dup(kernel::Task& t, const Args& a) {
  auto file = TRY(t.fds().Get(ArgInt(a[0])));
  return static_cast<uint64_t>(TRY(t.fds().Install(std::move(file), false, 0, FdLimit(t))));
}

Result<uint64_t> Dup3(kernel::Task& t, int oldfd, int newfd, int flags) {
  if (flags & ~O_CLOEXEC) return Err(EINVAL);
  auto file = TRY(t.fds().Get(oldfd));
  if (oldfd == newfd) return Err(EINVAL);
  TRY(t.fds().InstallAt(newfd, std::move(file), flags & O_CLOEXEC, FdLimit(t)));
  return static_cast<uint64_t>(newfd);
}

Result<uint64_t> Sys_dup2(kernel::Task& t, const Args& a) {
  int oldfd = ArgInt(a[0]), newfd = ArgInt(a[1]);
  if (oldfd == newfd) {
    TRY(t.fds().Get(oldfd));  // dup2 onto itself only checks that oldfd is open
    return static_cast<uint64_t>(newfd);
  }
  return Dup3(t, oldfd, newfd, 0);
}

Result<uint64_t> Sys_dup3(kernel::Task& t, const Args& a) {
  return Dup3(t, ArgInt(a[0]), ArgInt(a[1]), ArgInt(a[2]));
}

// fcntl's record locks: F_GETLK, F_SETLK, F_SETLKW and their F_OFD_ forms (F_*LK64 are the
// same commands on x86-64), in Linux's order of checks (fs/locks.c).
Result<uint64_t> RecordLock(kernel::Task& t, int fd, std::shared_ptr<vfs::FileDescription> file,
                            int cmd, UserAddr arg) {
  if (file->IsPath()) return Err(EBADF);
  struct flock fl = TRY(t.mm().CopyInObject<struct flock>(arg));
  bool ofd = cmd == F_OFD_GETLK || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW;
  bool get = cmd == F_GETLK || cmd == F_OFD_GETLK;
  // F_GETLK asks about a read or a write lock; F_OFD_GETLK may also ask with F_UNLCK, which
  // finds the description's own locks.
  if (get && cmd != F_OFD_GETLK && fl.l_type != F_RDLCK && fl.l_type != F_WRLCK) {
    return Err(EINVAL);
  }
  int64_t base = 0;
  switch (fl.l_whence) {
    case SEEK_SET:
      break;
    case SEEK_CUR:
      base = file->Seek(0, SEEK_CUR).value_or(0);  // what cannot seek is at 0
      break;
    case SEEK_END: {
      auto st = file->Stat();
      base = st ? st->st_size : 0;
      break;
    }
    default:
      return Err(EINVAL);
  }
  vfs::LockSpan span = TRY(vfs::ToLockSpan(base, fl.l_start, fl.l_len));
  if (fl.l_type != F_RDLCK && fl.l_type != F_WRLCK && fl.l_type != F_UNLCK) return Err(EINVAL);
  // A read lock needs a file open for reading, a write lock one open for writing.
  if (!get && ((fl.l_type == F_RDLCK && !file->Readable()) ||
               (fl.l_type == F_WRLCK && !file->Writable()))) {
    return Err(EBADF);
  }
  if (ofd && fl.l_pid != 0) return Err(EINVAL);

  auto& table = vfs::RecordLockTable::Get();
  // Process locks belong to the fd table (Linux's files_struct), OFD locks to the description.
  vfs::LockOwner owner{
      ofd ? static_cast<const void*>(file.get()) : static_cast<const void*>(&t.fds()),
      t.thread_group().tgid(), ofd};
  const void* locked = file->LockFile();
  if (get) {
    auto conflict = table.Test(locked, owner, fl.l_type, span.start, span.end);
    if (!conflict) {
      fl.l_type = F_UNLCK;  // the rest of the struct stays as it came
    } else {
      fl.l_type = conflict->range.type;
      fl.l_whence = SEEK_SET;
      fl.l_start = conflict->range.start;
      fl.l_len = conflict->range.end == vfs::kLockOffsetMax
                     ? 0
                     : conflict->range.end - conflict->range.start + 1;
      fl.l_pid = conflict->ofd ? -1 : conflict->range.pid;
    }
    TRY(t.mm().CopyOutObject(arg, fl));
    return 0;
  }

  if (fl.l_type != F_UNLCK) {
    // Before taking it, so that no close can come between the lock and the note.
    if (ofd) {
      file->NoteOfdLock();
    } else {
      t.fds().NoteRecordLock();
    }
  }
  bool wait = cmd == F_SETLKW || cmd == F_OFD_SETLKW;
  TRY(table.Set(locked, owner, fl.l_type, span.start, span.end, wait));
  // A process lock taken while the fd was being closed (or replaced) would outlive the close
  // that should have dropped it: give it back, as Linux does.
  if (!ofd && fl.l_type != F_UNLCK) {
    auto now = t.fds().Get(fd);
    if (!now || now->get() != file.get()) {
      (void)table.Set(locked, owner, F_UNLCK, span.start, span.end, false);
      return Err(EBADF);
    }
  }
  return 0;
}

Result<uint64_t> Sys_fcntl(kernel::Task& t, const Args& a) {
  int fd = ArgInt(a[0]);
  int cmd = ArgInt(a[1]);
  auto file = TRY(t.fds().Get(fd));
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      int min_fd = ArgInt(a[2]);
      if (min_fd < 0 || static_cast<uint64_t>(min_fd) >= FdLimit(t)) return Err(EINVAL);
      return static_cast<uint64_t>(
          TRY(t.fds().Install(std::move(file), cmd == F_DUPFD_CLOEXEC, min_fd, FdLimit(t))));
    }
    case F_GETFD:
      return TRY(t.fds().GetCloexec(fd)) ? FD_CLOEXEC : 0;
    case F_SETFD:
      TRY(t.fds().SetCloexec(fd, a[2] & FD_CLOEXEC));
      return 0;
    case F_GETFL: {
      // open(2) gives every file O_LARGEFILE on 64-bit; pipe(2) does not give it to its ends.
      // The kernel's bit: glibc's O_LARGEFILE is 0 on 64-bit.
      constexpr int kKernelLargefile = 0100000;
      auto* pipe_file = dynamic_cast<fsimpl::pipe::PipeFile*>(file.get());
      bool largefile = pipe_file == nullptr || !pipe_file->anonymous();
      return static_cast<uint64_t>(file->status_flags() | (largefile ? kKernelLargefile : 0));
    }
    case F_SETFL: {
      if (file->IsPath()) return Err(EBADF);
      int flags = ArgInt(a[2]);
      file->set_status_flags((file->status_flags() & ~kSettableStatusFlags) |
                             (flags & kSettableStatusFlags));
      return 0;
    }
    case F_GETPIPE_SZ:
    case F_SETPIPE_SZ: {
      // Pipes and FIFOs only; anything else is EBADF, as Linux's get_pipe_info makes it.
      auto* pipe_file = dynamic_cast<fsimpl::pipe::PipeFile*>(file.get());
      if (pipe_file == nullptr) return Err(EBADF);
      if (cmd == F_GETPIPE_SZ) return pipe_file->pipe().Capacity();
      // Growing past pipe-max-size needs CAP_SYS_RESOURCE, which the sandbox's root has.
      return TRY(pipe_file->pipe().SetCapacity(static_cast<uint32_t>(a[2]),
                                               t.creds().HasCapability(CAP_SYS_RESOURCE)));
    }
    case F_GET_SEALS:
      return TRY(file->GetSeals());
    case F_ADD_SEALS: {
      // Linux's memfd_add_seals: a read-only description may not seal (before any other check).
      if (!file->Writable()) return Err(EPERM);
      auto seals = static_cast<uint32_t>(a[2]);
      if (seals & ~vfs::kAllSeals) return Err(EINVAL);
      TRY(file->AddSeals(seals));
      return 0;
    }
    case F_GETLK:
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_GETLK:
    case F_OFD_SETLK:
    case F_OFD_SETLKW:
      return RecordLock(t, fd, std::move(file), cmd, UserAddr(a[2]));
    default:
      // Leases and notifications come with later work.
      return Err(EINVAL);
  }
}

Result<uint64_t> Sys_lseek(kernel::Task& t, const Args& a) {
  auto file = TRY(t.fds().Get(ArgInt(a[0])));
  if (file->IsPath()) return Err(EBADF);
  int whence = ArgInt(a[2]);
  if (whence < SEEK_SET || whence > SEEK_HOLE) return Err(EINVAL);
  return static_cast<uint64_t>(TRY(file->Seek(static_cast<int64_t>(a[1]), whence)));
}

Result<uint64_t> Sys_ioctl(kernel::Task& t, const Args& a) {
  int fd = ArgInt(a[0]);
  auto file = TRY(t.fds().Get(fd));
  if (file->IsPath()) return Err(EBADF);
  uint32_t cmd = static_cast<uint32_t>(a[1]);
  switch (cmd) {
    case FIOCLEX:
      TRY(t.fds().SetCloexec(fd, true));
      return 0;
    case FIONCLEX:
      TRY(t.fds().SetCloexec(fd, false));
      return 0;
    case FIONBIO: {
      int on = TRY(t.mm().CopyInObject<int>(UserAddr(a[2])));
      int flags = file->status_flags();
      file->set_status_flags(on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK);
      return 0;
    }
    default:
      return file->Ioctl(t.mm(), cmd, a[2]);
  }
}

Result<uint64_t> Sys_flock(kernel::Task& t, const Args& a) {
  auto file = TRY(t.fds().Get(ArgInt(a[0])));
  if (file->IsPath()) return Err(EBADF);
  int op = ArgInt(a[1]);
  int kind = op & ~LOCK_NB;
  if (kind != LOCK_SH && kind != LOCK_EX && kind != LOCK_UN) return Err(EINVAL);
  TRY(file->Flock(op));
  return 0;
}

}  // namespace

void RegisterFdSyscalls(SyscallTable& t) {
  t.handlers[SYS_dup] = Sys_dup;
  t.handlers[SYS_dup2] = Sys_dup2;
  t.handlers[SYS_dup3] = Sys_dup3;
  t.handlers[SYS_fcntl] = Sys_fcntl;
  t.handlers[SYS_lseek] = Sys_lseek;
  t.handlers[SYS_ioctl] = Sys_ioctl;
  t.handlers[SYS_flock] = Sys_flock;
}

}  // namespace sentry::syscalls
