// epoll_create, epoll_create1, epoll_ctl, epoll_wait, epoll_pwait, epoll_pwait2; eventfd,
// eventfd2; signalfd, signalfd4; timerfd_create, timerfd_settime, timerfd_gettime.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>

#include <climits>
#include <cstring>

#include "sentry/fsimpl/epoll/epoll.h"
#include "sentry/fsimpl/eventfd/eventfd.h"
#include "sentry/fsimpl/signalfd/signalfd.h"
#include "sentry/fsimpl/timerfd/timerfd.h"
#include "sentry/syscalls/path_util.h"
#include "sentry/syscalls/poll_util.h"
#include "sentry/syscalls/table.h"

namespace sentry::syscalls {
namespace {

using fsimpl::epoll::EpollFile;

// struct epoll_event is packed on amd64: 12 bytes.
static_assert(sizeof(epoll_event) == 12);
// Linux's EP_MAX_EVENTS.
constexpr int kMaxEvents = INT_MAX / sizeof(epoll_event);
// Where the application's address space ends (TASK_SIZE): access_ok's limit.
constexpr uint64_t kTaskSize = 0x7ffffffff000;
// What may come with EPOLLEXCLUSIVE (EPOLLEXCLUSIVE_OK_BITS).
constexpr uint32_t kExclusiveOk =
    EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;

Result<uint64_t> InstallNew(kernel::Task& t, std::shared_ptr<vfs::FileDescription> f,
                            bool cloexec) {
  return TRY(t.fds().Install(std::move(f), cloexec, 0, FdLimit(t)));
}

Result<uint64_t> Sys_epoll_create(kernel::Task& t, const Args& a) {
  if (ArgInt(a[0]) <= 0) return Err(EINVAL);
  return InstallNew(t, std::make_shared<EpollFile>(0), false);
}

Result<uint64_t> Sys_epoll_create1(kernel::Task& t, const Args& a) {
  int flags = ArgInt(a[0]);
  if (flags & ~EPOLL_CLOEXEC) return Err(EINVAL);
  return InstallNew(t, std::make_shared<EpollFile>(0), flags & EPOLL_CLOEXEC);
}

Result<uint64_t> Sys_epoll_ctl(kernel::Task& t, const Args& a) {
  int op = ArgInt(a[1]);
  int fd = ArgInt(a[2]);
  epoll_event ev{};
  if (op != EPOLL_CTL_DEL) ev = TRY(t.mm().CopyInObject<epoll_event>(UserAddr(a[3])));
  auto epfile = TRY(t.fds().Get(ArgInt(a[0])));
  auto target = TRY(t.fds().Get(fd));
  if (!target->Pollable()) return Err(EPERM);
  auto* ep = dynamic_cast<EpollFile*>(epfile.get());
  if (ep == nullptr || epfile == target) return Err(EINVAL);
  if (op != EPOLL_CTL_DEL && (ev.events & EPOLLEXCLUSIVE)) {
    if (op == EPOLL_CTL_MOD) return Err(EINVAL);
    if (op == EPOLL_CTL_ADD &&
        (dynamic_cast<EpollFile*>(target.get()) != nullptr || (ev.events & ~kExclusiveOk))) {
      return Err(EINVAL);
    }
  }
  // Without CAP_BLOCK_SUSPEND (which the sandbox never has) EPOLLWAKEUP is dropped silently.
  ev.events &= ~EPOLLWAKEUP;
  TRY(ep->Ctl(op, fd, std::move(target), ev));
  return 0;
}

Result<uint64_t> DoEpollWait(kernel::Task& t, int epfd, uint64_t events_addr, int maxevents,
                             const std::optional<timespec>& deadline) {
  if (maxevents <= 0 || maxevents > kMaxEvents) return Err(EINVAL);
  uint64_t len = static_cast<uint64_t>(maxevents) * sizeof(epoll_event);
  if (events_addr > kTaskSize || len > kTaskSize - events_addr) return Err(EFAULT);
  auto file = TRY(t.fds().Get(epfd));
  auto* ep = dynamic_cast<EpollFile*>(file.get());
  if (ep == nullptr) return Err(EINVAL);
  std::vector<epoll_event> events = TRY(ep->Wait(static_cast<size_t>(maxevents), deadline));
  if (!events.empty()) {
    TRY(t.mm().CopyOut(UserAddr(events_addr), events.data(), events.size() * sizeof(epoll_event)));
  }
  return events.size();
}

Result<uint64_t> Sys_epoll_wait(kernel::Task& t, const Args& a) {
  return DoEpollWait(t, ArgInt(a[0]), a[1], ArgInt(a[2]), DeadlineFromMs(ArgInt(a[3])));
}

Result<uint64_t> Sys_epoll_pwait(kernel::Task& t, const Args& a) {
  auto mask = TRY(CheckSigmask(t, a[4], a[5]));
  return WithSigmask(t, mask, [&] {
    return DoEpollWait(t, ArgInt(a[0]), a[1], ArgInt(a[2]), DeadlineFromMs(ArgInt(a[3])));
  });
}

Result<uint64_t> Sys_epoll_pwait2(kernel::Task& t, const Args& a) {
  std::optional<timespec> deadline;
  if (a[3] != 0) deadline = DeadlineAfter(TRY(CopyInTimeout(t, a[3])));
  auto mask = TRY(CheckSigmask(t, a[4], a[5]));
  return WithSigmask(t, mask,
                     [&] { return DoEpollWait(t, ArgInt(a[0]), a[1], ArgInt(a[2]), deadline); });
}

Result<uint64_t> DoEventfd2(kernel::Task& t, uint32_t initval, int flags) {
  if (flags & ~(EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE)) return Err(EINVAL);
  return InstallNew(t, std::make_shared<fsimpl::eventfd::EventFile>(initval, flags),
                    flags & EFD_CLOEXEC);
}

Result<uint64_t> Sys_eventfd(kernel::Task& t, const Args& a) {
  return DoEventfd2(t, static_cast<uint32_t>(a[0]), 0);
}

Result<uint64_t> Sys_eventfd2(kernel::Task& t, const Args& a) {
  return DoEventfd2(t, static_cast<uint32_t>(a[0]), ArgInt(a[1]));
}

// signalfd/signalfd4: a new signalfd (fd -1), or a new mask for an existing one.
Result<uint64_t> DoSignalfd4(kernel::Task& t, int fd, uint64_t mask_addr, uint64_t size,
                             int flags) {
  if (size != sizeof(uint64_t)) return Err(EINVAL);
  uint64_t mask = TRY(t.mm().CopyInObject<uint64_t>(UserAddr(mask_addr)));
  if (flags & ~(SFD_CLOEXEC | SFD_NONBLOCK)) return Err(EINVAL);
  if (fd == -1) {
    return InstallNew(t, std::make_shared<fsimpl::signalfd::SignalFile>(mask, flags),
                      flags & SFD_CLOEXEC);
  }
  auto file = TRY(t.fds().Get(fd));
  auto* sfd = dynamic_cast<fsimpl::signalfd::SignalFile*>(file.get());
  if (sfd == nullptr) return Err(EINVAL);
  sfd->SetMask(mask);
  return static_cast<uint64_t>(fd);
}

Result<uint64_t> Sys_signalfd(kernel::Task& t, const Args& a) {
  return DoSignalfd4(t, ArgInt(a[0]), a[1], a[2], 0);
}

Result<uint64_t> Sys_signalfd4(kernel::Task& t, const Args& a) {
  return DoSignalfd4(t, ArgInt(a[0]), a[1], a[2], ArgInt(a[3]));
}

Result<uint64_t> Sys_timerfd_create(kernel::Task& t, const Args& a) {
  int clock = ArgInt(a[0]);
  int flags = ArgInt(a[1]);
  if (flags & ~(TFD_CLOEXEC | TFD_NONBLOCK)) return Err(EINVAL);
  switch (clock) {
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_BOOTTIME:
      break;
    case CLOCK_REALTIME_ALARM:
    case CLOCK_BOOTTIME_ALARM:
      return Err(EPERM);  // needs CAP_WAKE_ALARM in the host's user namespace
    default:
      return Err(EINVAL);
  }
  auto file = TRY(fsimpl::timerfd::TimerFile::Create(clock, flags));
  return InstallNew(t, std::move(file), flags & TFD_CLOEXEC);
}

bool ValidTimespec(const timespec& ts) {
  return ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000;
}

Result<fsimpl::timerfd::TimerFile*> GetTimer(kernel::Task& t, int fd,
                                             std::shared_ptr<vfs::FileDescription>& hold) {
  hold = TRY(t.fds().Get(fd));
  auto* timer = dynamic_cast<fsimpl::timerfd::TimerFile*>(hold.get());
  if (timer == nullptr) return Err(EINVAL);
  return timer;
}

Result<uint64_t> Sys_timerfd_settime(kernel::Task& t, const Args& a) {
  int flags = ArgInt(a[1]);
  itimerspec value = TRY(t.mm().CopyInObject<itimerspec>(UserAddr(a[2])));
  if ((flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)) || !ValidTimespec(value.it_value) ||
      !ValidTimespec(value.it_interval)) {
    return Err(EINVAL);
  }
  std::shared_ptr<vfs::FileDescription> hold;
  auto* timer = TRY(GetTimer(t, ArgInt(a[0]), hold));
  itimerspec old = TRY(timer->Set(flags, value));
  if (a[3] != 0) TRY(t.mm().CopyOutObject(UserAddr(a[3]), old));
  return 0;
}

Result<uint64_t> Sys_timerfd_gettime(kernel::Task& t, const Args& a) {
  std::shared_ptr<vfs::FileDescription> hold;
  auto* timer = TRY(GetTimer(t, ArgInt(a[0]), hold));
  itimerspec cur = TRY(timer->Get());
  TRY(t.mm().CopyOutObject(UserAddr(a[1]), cur));
  return 0;
}

}  // namespace

void RegisterEpollSyscalls(SyscallTable& t) {
  t.handlers[SYS_epoll_create] = Sys_epoll_create;
  t.handlers[SYS_epoll_create1] = Sys_epoll_create1;
  t.handlers[SYS_epoll_ctl] = Sys_epoll_ctl;
  t.handlers[SYS_epoll_wait] = Sys_epoll_wait;
  t.handlers[SYS_epoll_pwait] = Sys_epoll_pwait;
  t.handlers[SYS_epoll_pwait2] = Sys_epoll_pwait2;
  t.handlers[SYS_eventfd] = Sys_eventfd;
  t.handlers[SYS_eventfd2] = Sys_eventfd2;
  t.handlers[SYS_signalfd] = Sys_signalfd;
  t.handlers[SYS_signalfd4] = Sys_signalfd4;
  t.handlers[SYS_timerfd_create] = Sys_timerfd_create;
  t.handlers[SYS_timerfd_settime] = Sys_timerfd_settime;
  t.handlers[SYS_timerfd_gettime] = Sys_timerfd_gettime;
}

}  // namespace sentry::syscalls
