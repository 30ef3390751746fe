// POSIX message queues: mq_open, mq_unlink, mq_timedsend, mq_timedreceive, mq_notify,
// mq_getsetattr. The queues and their file system are in fsimpl/mqueue.
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <climits>
#include <ctime>

#include "sentry/fsimpl/mqueue/mqueue.h"
#include "sentry/kernel/kernel.h"
#include "sentry/syscalls/path_util.h"
#include "sentry/syscalls/table.h"
#include "sentry/vfs/dentry.h"

namespace sentry::syscalls {
namespace {

namespace mq = fsimpl::mqueue;

// Linux's NOTIFY_COOKIE_LEN: what SIGEV_THREAD reads from sigev_value.sival_ptr.
constexpr size_t kNotifyCookieLen = 32;

std::shared_ptr<vfs::Mount> Instance(kernel::Task& t) {
  return t.kernel().InternalMount("mqueue", mq::NewMqueueMount);
}

mq::RootInode& Root(const std::shared_ptr<vfs::Mount>& m) {
  return static_cast<mq::RootInode&>(m->root()->inode());
}

bool Capable(kernel::Task& t, int cap) { return t.creds().cap_effective & (uint64_t{1} << cap); }

// The name as glibc passes it (without its leading slash), checked as getname and
// lookup_one_len do.
Result<std::string> CopyInName(kernel::Task& t, uint64_t addr) {
  std::string name = TRY(t.mm().CopyInString(UserAddr(addr), PATH_MAX));
  if (name.empty()) return Err(ENOENT);  // getname()'s answer, before any lookup
  if (name == "." || name == ".." || name.find('/') != std::string::npos) {
    return Err(EACCES);
  }
  if (name.size() > NAME_MAX) return Err(ENAMETOOLONG);
  return name;
}

// An absolute CLOCK_REALTIME timeout as a CLOCK_MONOTONIC deadline for vfs::Waiter.
Result<std::optional<timespec>> CopyInDeadline(kernel::Task& t, uint64_t addr) {
  if (addr == 0) return std::nullopt;
  timespec abs = TRY(t.mm().CopyInObject<timespec>(UserAddr(addr)));
  if (abs.tv_sec < 0 || abs.tv_nsec < 0 || abs.tv_nsec >= 1000000000L) return Err(EINVAL);
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  timespec mono = vfs::MonotonicNow();
  if (!vfs::TimespecLess(now, abs)) return mono;  // already passed
  timespec left{abs.tv_sec - now.tv_sec, abs.tv_nsec - now.tv_nsec};
  if (left.tv_nsec < 0) {
    left.tv_nsec += 1000000000L;
    left.tv_sec -= 1;
  }
  return vfs::AddTimespec(mono, left);
}

Result<std::shared_ptr<mq::QueueFile>> GetQueueFile(kernel::Task& t, int fd) {
  std::shared_ptr<vfs::FileDescription> file = TRY(t.fds().Get(fd));
  auto queue = std::dynamic_pointer_cast<mq::QueueFile>(file);
  if (!queue) return Err(EBADF);
  return queue;
}

// Tries `attempt` until it gives something other than EAGAIN, sleeping on the queue between
// tries: ETIMEDOUT at the deadline, EINTR when interrupted.
template <class T, class Attempt>
Result<T> WaitOnQueue(mq::Queue& queue, uint32_t mask, const std::optional<timespec>& deadline,
                      Attempt attempt) {
  vfs::Waiter waiter;
  vfs::WaitEntry entry{mask, waiter.WakeCallback()};
  queue.waiters().Add(&entry);
  Result<T> r = Err(EAGAIN);
  for (;;) {
    waiter.Reset();
    r = attempt();
    if (r || r.error().value != EAGAIN) break;
    if (auto slept = waiter.Sleep({}, deadline); !slept) {
      r = std::unexpected(slept.error());
      break;
    }
  }
  queue.waiters().Remove(&entry);
  return r;
}

Result<uint64_t> Sys_mq_open(kernel::Task& t, const Args& a) {
  int oflag = ArgInt(a[1]);
  mode_t mode = static_cast<mode_t>(a[2]);
  std::optional<mq_attr> attr;
  if (a[3] != 0) attr = TRY(t.mm().CopyInObject<mq_attr>(UserAddr(a[3])));
  std::string name = TRY(CopyInName(t, a[0]));
  std::shared_ptr<vfs::Mount> mount = Instance(t);
  mq::RootInode& root = Root(mount);
  vfs::FsCredentials creds = FsCreds(t);
  std::shared_ptr<vfs::Inode> inode;
  if (auto found = root.Lookup(name); found) {
    if ((oflag & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL)) return Err(EEXIST);
    if ((oflag & O_ACCMODE) == O_ACCMODE) return Err(EINVAL);
    int want = (oflag & O_ACCMODE) == O_RDONLY   ? R_OK
               : (oflag & O_ACCMODE) == O_WRONLY ? W_OK
                                                 : R_OK | W_OK;
    struct stat st = TRY((*found)->Stat());
    if (!vfs::MayAccess(st, creds, want)) return Err(EACCES);
    inode = *found;
  } else {
    if (!(oflag & O_CREAT)) return Err(ENOENT);
    mode_t umask;
    {
      std::lock_guard lock(t.fs().mu);
      umask = t.fs().umask;
    }
    uint64_t bytes_limit;
    {
      std::lock_guard lock(t.thread_group().mu());
      bytes_limit = t.thread_group().limits().Get(RLIMIT_MSGQUEUE).cur;
    }
    inode = TRY(root.CreateQueue(name, mode & ~umask & 0777, creds, attr ? &*attr : nullptr,
                                 Capable(t, CAP_SYS_RESOURCE), bytes_limit));
  }
  // A dentry of its own, outside the root's cache: mq_unlink drops names from the caches of
  // the mounted instances only.
  auto dentry = std::make_shared<vfs::Dentry>(name, mount->root(), inode);
  std::shared_ptr<vfs::FileDescription> file =
      TRY(inode->Open(vfs::VirtualDentry{mount, dentry}, oflag & (O_ACCMODE | O_NONBLOCK)));
  // Queue descriptors are always close-on-exec, as Linux makes them.
  return TRY(t.fds().Install(std::move(file), /*cloexec=*/true, 0, FdLimit(t)));
}

Result<uint64_t> Sys_mq_unlink(kernel::Task& t, const Args& a) {
  std::string name = TRY(CopyInName(t, a[0]));
  mq::RootInode& root = Root(Instance(t));
  std::shared_ptr<vfs::Inode> inode = TRY(root.Lookup(name));
  // The root is sticky and root's: only the queue's owner (or CAP_FOWNER) removes it.
  struct stat st = TRY(inode->Stat());
  if (t.creds().euid != st.st_uid && !Capable(t, CAP_FOWNER)) {
    return Err(EPERM);
  }
  TRY(root.Unlink(name));
  for (const auto& m : t.kernel().mounts().Mounts()) {
    if (m->fs_type() == "mqueue") m->root()->DropChild(name);
  }
  return 0;
}

Result<uint64_t> Sys_mq_timedsend(kernel::Task& t, const Args& a) {
  uint64_t len = a[2];
  unsigned prio = static_cast<unsigned>(a[3]);
  if (a[3] >= mq::kPrioMax) return Err(EINVAL);
  std::optional<timespec> deadline = TRY(CopyInDeadline(t, a[4]));
  std::shared_ptr<mq::QueueFile> file = TRY(GetQueueFile(t, ArgInt(a[0])));
  if (!file->Writable()) return Err(EBADF);
  mq::Queue& queue = file->queue();
  if (len > static_cast<uint64_t>(queue.msg_size())) return Err(EMSGSIZE);
  std::vector<uint8_t> data(len);
  TRY(t.mm().CopyIn(UserAddr(a[1]), data.data(), len));
  pid_t pid = t.thread_group().tgid();
  uint32_t uid = t.creds().ruid;
  auto attempt = [&]() -> Result<void> { return queue.TrySend(data, prio, pid, uid); };
  if (file->status_flags() & O_NONBLOCK) {
    TRY(attempt());
  } else {
    TRY(WaitOnQueue<void>(queue, POLLOUT | POLLWRNORM, deadline, attempt));
  }
  return 0;
}

Result<uint64_t> Sys_mq_timedreceive(kernel::Task& t, const Args& a) {
  uint64_t len = a[2];
  std::optional<timespec> deadline = TRY(CopyInDeadline(t, a[4]));
  std::shared_ptr<mq::QueueFile> file = TRY(GetQueueFile(t, ArgInt(a[0])));
  if (!file->Readable()) return Err(EBADF);
  mq::Queue& queue = file->queue();
  if (len < static_cast<uint64_t>(queue.msg_size())) return Err(EMSGSIZE);
  auto attempt = [&] { return queue.TryReceive(); };
  Result<mq::QueuedMessage> r = Err(EAGAIN);
  if (file->status_flags() & O_NONBLOCK) {
    r = attempt();
  } else {
    queue.ReceiverWaiting(1);
    r = WaitOnQueue<mq::QueuedMessage>(queue, POLLIN | POLLRDNORM, deadline, attempt);
    queue.ReceiverWaiting(-1);
  }
  if (!r) return std::unexpected(r.error());
  const mq::QueuedMessage& msg = *r;
  // As on Linux, a message taken is gone even when the copy fails.
  TRY(t.mm().CopyOut(UserAddr(a[1]), msg.data.data(), msg.data.size()));
  if (a[3] != 0) TRY(t.mm().CopyOutObject<unsigned>(UserAddr(a[3]), msg.prio));
  return msg.data.size();
}

Result<uint64_t> Sys_mq_notify(kernel::Task& t, const Args& a) {
  std::optional<sigevent> sev;
  if (a[1] != 0) {
    sev = TRY(t.mm().CopyInObject<sigevent>(UserAddr(a[1])));
    int how = sev->sigev_notify;
    if (how != SIGEV_NONE && how != SIGEV_SIGNAL && how != SIGEV_THREAD) return Err(EINVAL);
    if (how == SIGEV_SIGNAL && (sev->sigev_signo < 0 || sev->sigev_signo > 64)) {
      return Err(EINVAL);
    }
    if (how == SIGEV_THREAD) {
      // Linux reads the cookie, then wants sigev_signo to be a netlink socket. The sandbox
      // has no netlink sockets, so this fails as Linux fails for any other file.
      uint8_t cookie[kNotifyCookieLen];
      TRY(t.mm().CopyIn(UserAddr(reinterpret_cast<uint64_t>(sev->sigev_value.sival_ptr)), cookie,
                        sizeof(cookie)));
      std::shared_ptr<vfs::FileDescription> sock = TRY(t.fds().Get(sev->sigev_signo));
      struct stat st = TRY(sock->Stat());
      return Err(S_ISSOCK(st.st_mode) ? EINVAL : ENOTSOCK);
    }
  }
  std::shared_ptr<mq::QueueFile> file = TRY(GetQueueFile(t, ArgInt(a[0])));
  pid_t tgid = t.thread_group().tgid();
  if (!sev) {
    file->queue().ClearNotification(tgid);
    return 0;
  }
  mq::Notification n;
  n.notify = sev->sigev_notify;
  n.signo = sev->sigev_signo;
  n.value = sev->sigev_value;
  n.owner = tgid;
  n.file = file.get();
  if (n.notify == SIGEV_SIGNAL) {
    kernel::Kernel* k = &t.kernel();
    std::weak_ptr<kernel::ThreadGroup> tg = t.thread_group_ptr();
    n.deliver = [k, tg](const siginfo_t& info) {
      if (info.si_signo == 0) return;
      if (auto g = tg.lock()) k->SignalFromKernel(*g, 0, info);
    };
  }
  TRY(file->queue().SetNotification(std::move(n)));
  return 0;
}

Result<uint64_t> Sys_mq_getsetattr(kernel::Task& t, const Args& a) {
  std::optional<mq_attr> set;
  if (a[1] != 0) {
    set = TRY(t.mm().CopyInObject<mq_attr>(UserAddr(a[1])));
    if (set->mq_flags & ~static_cast<long>(O_NONBLOCK)) return Err(EINVAL);
  }
  std::shared_ptr<mq::QueueFile> file = TRY(GetQueueFile(t, ArgInt(a[0])));
  mq_attr old{};
  int flags = file->status_flags();
  old.mq_flags = flags & O_NONBLOCK;
  old.mq_maxmsg = file->queue().max_msgs();
  old.mq_msgsize = file->queue().msg_size();
  old.mq_curmsgs = file->queue().count();
  if (set) file->set_status_flags((flags & ~O_NONBLOCK) | (set->mq_flags & O_NONBLOCK));
  if (a[2] != 0) TRY(t.mm().CopyOutObject(UserAddr(a[2]), old));
  return 0;
}

}  // namespace

void RegisterMqueueSyscalls(SyscallTable& t) {
  t.handlers[SYS_mq_open] = Sys_mq_open;
  t.handlers[SYS_mq_unlink] = Sys_mq_unlink;
  t.handlers[SYS_mq_timedsend] = Sys_mq_timedsend;
  t.handlers[SYS_mq_timedreceive] = Sys_mq_timedreceive;
  t.handlers[SYS_mq_notify] = Sys_mq_notify;
  t.handlers[SYS_mq_getsetattr] = Sys_mq_getsetattr;
}

}  // namespace sentry::syscalls
