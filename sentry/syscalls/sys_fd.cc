// File descriptor plumbing: dup, dup2, dup3, fcntl (with record locks and file seals), lseek,
// flock, and the generic ioctls.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <climits>
#include <mutex>

#include "sentry/fsimpl/pipe/pipe.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/syscalls/path_util.h"
#include "sentry/syscalls/table.h"
#include "sentry/vfs/dnotify.h"
#include "sentry/vfs/lease.h"
#include "sentry/vfs/record_lock.h"
#include "sentry/vfs/write_hint.h"
#include "spdlog/spdlog.h"

namespace sentry::syscalls {
namespace {

// What F_SETFL may change; the access mode and creation flags stay as opened.
constexpr int kSettableStatusFlags = O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME;
// The uids that set a file's owner (Linux with CONFIG_CHECKPOINT_RESTORE); glibc does not name it.
constexpr int kGetOwnerUids = 17;

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

// F_SETOWN's argument: a process, or (negative) a process group. Linux checks only that the id
// is in use, not who may own the file: sending checks the setter's uids against the target's.
Result<void> SetOwner(kernel::Task& t, vfs::FileDescription& file, int type, pid_t pid) {
  if (pid != 0 && !t.kernel().IdInUse(pid)) return Err(ESRCH);
  vfs::FileOwner owner = file.async().owner();
  owner.type = type;
  owner.pid = pid;
  if (pid != 0) {
    owner.uid = t.creds().ruid;
    owner.euid = t.creds().euid;
  }
  file.async().set_owner(owner);
  return {};
}

// Signal-driven I/O: fcntl F_SETOWN, F_GETOWN, their _EX forms, F_SETSIG, F_GETSIG and
// F_GETOWNER_UIDS. Linux takes them on every file, whether or not it can signal.
Result<uint64_t> OwnerCommand(kernel::Task& t, vfs::FileDescription& file, int cmd, uint64_t arg) {
  switch (cmd) {
    case F_SETOWN: {
      int who = static_cast<int>(arg);
      if (who == INT_MIN) return Err(EINVAL);  // no group id to negate
      TRY(SetOwner(t, file, who < 0 ? F_OWNER_PGRP : F_OWNER_PID, who < 0 ? -who : who));
      return 0;
    }
    case F_GETOWN: {
      // 0 once nobody of the owner's kind is left; a group is reported negated (which libc
      // may mistake for an error: the reason for F_GETOWN_EX).
      vfs::FileOwner owner = file.async().owner();
      if (!t.kernel().OwnerExists(owner)) return 0;
      pid_t pid = owner.type == F_OWNER_PGRP ? -owner.pid : owner.pid;
      return static_cast<uint64_t>(static_cast<int64_t>(pid));
    }
    case F_SETOWN_EX: {
      auto ex = TRY(t.mm().CopyInObject<struct f_owner_ex>(UserAddr(arg)));
      if (ex.type != F_OWNER_TID && ex.type != F_OWNER_PID && ex.type != F_OWNER_PGRP) {
        return Err(EINVAL);
      }
      if (ex.pid < 0) return Err(ESRCH);
      TRY(SetOwner(t, file, ex.type, ex.pid));
      return 0;
    }
    case F_GETOWN_EX: {
      vfs::FileOwner owner = file.async().owner();
      struct f_owner_ex ex {};
      ex.type = static_cast<decltype(ex.type)>(owner.type);
      ex.pid = t.kernel().OwnerExists(owner) ? owner.pid : 0;
      TRY(t.mm().CopyOutObject(UserAddr(arg), ex));
      return 0;
    }
    case kGetOwnerUids: {
      vfs::FileOwner owner = file.async().owner();
      std::array<uint32_t, 2> uids{owner.uid, owner.euid};
      TRY(t.mm().CopyOutObject(UserAddr(arg), uids));
      return 0;
    }
    case F_SETSIG: {
      // 0 restores SIGIO; the argument is an int, so a negative one is out of range too.
      int sig = static_cast<int>(arg);
      if (sig < 0 || sig > kernel::kNumSignals) return Err(EINVAL);
      file.async().set_signal(sig);
      return 0;
    }
    case F_GETSIG:
      return static_cast<uint64_t>(file.async().signal());
    default:
      return Err(EINVAL);
  }
}

// What a description's write hint belongs to: its inode, an anonymous pipe's pipe (one inode
// for both ends on Linux), or the one anonymous inode Linux's eventfds, epolls and the like share.
std::weak_ptr<const void> HintOwner(vfs::FileDescription& file) {
  if (file.path().dentry) return file.path().inode().weak_from_this();
  if (auto* pipe_file = dynamic_cast<fsimpl::pipe::PipeFile*>(&file)) {
    return pipe_file->pipe().weak_from_this();
  }
  static const auto* anon_inode = new std::shared_ptr<const int>(std::make_shared<const int>(0));
  return *anon_inode;
}

// F_GET_RW_HINT / F_SET_RW_HINT: a u64 in the application's memory. The per-description forms
// (F_GET/SET_FILE_RW_HINT) went in Linux 5.18, so they fall to EINVAL with the unknown ones.
Result<uint64_t> RwHint(kernel::Task& t, vfs::FileDescription& file, int cmd, uint64_t arg) {
  if (cmd == F_GET_RW_HINT) {
    TRY(t.mm().CopyOutObject(UserAddr(arg), vfs::WriteHints::Get(HintOwner(file))));
    return 0;
  }
  auto hint = TRY(t.mm().CopyInObject<uint64_t>(UserAddr(arg)));
  if (hint > vfs::kMaxWriteHint) return Err(EINVAL);
  vfs::WriteHints::Set(HintOwner(file), hint);
  return 0;
}

// F_SETLEASE, in the order of Linux's checks (fcntl_setlease, vfs_setlease): the lease type,
// then the caller's right to the file (its fsuid owns it, or CAP_LEASE), then the kind of file.
Result<uint64_t> SetLease(kernel::Task& t, int fd, vfs::FileDescription& file, int type) {
  if (type != F_RDLCK && type != F_WRLCK && type != F_UNLCK) return Err(EINVAL);
  auto st = file.Stat();
  if (!st) return Err(EINVAL);
  if (st->st_uid != FsCreds(t).uid && !t.creds().HasCapability(CAP_LEASE)) return Err(EACCES);
  if (!S_ISREG(st->st_mode) || !file.path().dentry) return Err(EINVAL);
  const kernel::Credentials& creds = t.creds();
  vfs::FileOwner self{
      .type = F_OWNER_PID, .pid = t.thread_group().tgid(), .uid = creds.ruid, .euid = creds.euid};
  kernel::Kernel* k = &t.kernel();
  TRY(vfs::LeaseTable::Get().Set(
      file, type, fd,
      [k](const vfs::FileOwner& owner, int sig, int on_fd, int reason) {
        k->SendSigio(owner, sig, on_fd, reason);
      },
      self));
  return 0;
}

// fcntl F_NOTIFY (dnotify): the caller's process becomes the directory's owner, to get SIGIO
// (or the F_SETSIG signal) when its entries change.
Result<uint64_t> DirNotify(kernel::Task& t, int fd,
                           const std::shared_ptr<vfs::FileDescription>& file, uint32_t arg) {
  kernel::Kernel* k = &t.kernel();
  TRY(vfs::dnotify::Set(file, fd, &t.fds(), arg,
                        [k](const vfs::FileOwner& owner, int sig, int on_fd, int reason) {
                          k->SendSigio(owner, sig, on_fd, reason);
                        }));
  if (arg & ~DN_MULTISHOT) TRY(SetOwner(t, *file, F_OWNER_PID, t.thread_group().tgid()));
  return 0;
}

// The commands an O_PATH description takes (Linux's check_fcntl_cmd); the rest are EBADF.
bool PathFileTakes(int cmd) {
  return cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC || cmd == F_GETFD || cmd == F_SETFD ||
         cmd == F_GETFL;
}

Result<uint64_t> Sys_fcntl(kernel::Task& t, const Args& a) {
  int fd = ArgInt(a[0]);
  int cmd = ArgInt(a[1]);
  auto file = TRY(t.fds().Get(fd));
  if (file->IsPath() && !PathFileTakes(cmd)) return Err(EBADF);
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
      // O_ASYNC is the registration's, not F_SETFL's (Linux's fasync_helper sets and clears
      // it): a file without signal-driven I/O never shows it, and one given to open(2), which
      // registers nothing, stays on and dead, as Linux's does.
      int async = file->status_flags() & O_ASYNC;
      if ((flags ^ async) & O_ASYNC) {
        if (auto queue = file->AsyncQueue()) {
          if (flags & O_ASYNC) {
            kernel::Kernel* k = &t.kernel();
            file->async().Enable(std::move(queue), file->Readable(), file->Writable(), fd,
                                 [k](const vfs::FileOwner& owner, int sig, int on_fd, int reason) {
                                   k->SendSigio(owner, sig, on_fd, reason);
                                 });
            async = O_ASYNC;
          } else if (file->async().Disable()) {
            async = 0;
          }
        }
      }
      file->set_status_flags((file->status_flags() & ~(kSettableStatusFlags | O_ASYNC)) |
                             (flags & kSettableStatusFlags) | async);
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
    case F_SETOWN:
    case F_GETOWN:
    case F_SETOWN_EX:
    case F_GETOWN_EX:
    case kGetOwnerUids:
    case F_SETSIG:
    case F_GETSIG:
      return OwnerCommand(t, *file, cmd, a[2]);
    case F_GET_RW_HINT:
    case F_SET_RW_HINT:
      return RwHint(t, *file, cmd, a[2]);
    case F_GETLEASE:
      return static_cast<uint64_t>(vfs::LeaseTable::Get().Type(*file));
    case F_SETLEASE:
      return SetLease(t, fd, *file, ArgInt(a[2]));
    case F_NOTIFY:
      return DirNotify(t, fd, file, static_cast<uint32_t>(a[2]));
    default:
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
