// System V IPC: shmget, shmat, shmdt, shmctl, semget, semop, semtimedop, semctl, msgget,
// msgsnd, msgrcv, msgctl. The objects live in kernel/ipc; here the arguments are decoded.
#include <sys/syscall.h>

#include <climits>
#include <ctime>

#include "sentry/kernel/ipc/ipc_namespace.h"
#include "sentry/kernel/kernel.h"
#include "sentry/syscalls/table.h"

namespace sentry::syscalls {
namespace {

kernel::ipc::IpcNamespace& Ipc(kernel::Task& t) { return t.kernel().ipc(); }

Result<uint64_t> Sys_shmget(kernel::Task& t, const Args& a) {
  return TRY(Ipc(t).shm().Get(t, ArgInt(a[0]), a[1], ArgInt(a[2])));
}

Result<uint64_t> Sys_shmat(kernel::Task& t, const Args& a) {
  return TRY(Ipc(t).shm().Attach(t, ArgInt(a[0]), a[1], ArgInt(a[2]))).value;
}

Result<uint64_t> Sys_shmdt(kernel::Task& t, const Args& a) {
  TRY(Ipc(t).shm().Detach(t, UserAddr(a[0])));
  return 0;
}

Result<uint64_t> Sys_shmctl(kernel::Task& t, const Args& a) {
  return Ipc(t).shm().Control(t, ArgInt(a[0]), ArgInt(a[1]), UserAddr(a[2]));
}

Result<uint64_t> Sys_semget(kernel::Task& t, const Args& a) {
  return TRY(Ipc(t).sem().Get(t, ArgInt(a[0]), ArgInt(a[1]), ArgInt(a[2])));
}

Result<uint64_t> DoSemTimedOp(kernel::Task& t, int id, UserAddr sops, uint64_t nsops,
                              UserAddr timeout) {
  if (nsops < 1 || id < 0) return Err(EINVAL);
  if (nsops > kernel::ipc::kSemOpm) return Err(E2BIG);
  std::vector<sembuf> ops(nsops);
  TRY(t.mm().CopyIn(sops, ops.data(), nsops * sizeof(sembuf)));
  std::optional<absl::Time> deadline;
  if (timeout.value != 0) {
    timespec ts = TRY(t.mm().CopyInObject<timespec>(timeout));
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000L) return Err(EINVAL);
    deadline = absl::Now() + absl::DurationFromTimespec(ts);
  }
  return Ipc(t).sem().Op(t, id, ops, deadline);
}

Result<uint64_t> Sys_semop(kernel::Task& t, const Args& a) {
  return DoSemTimedOp(t, ArgInt(a[0]), UserAddr(a[1]), a[2], UserAddr(0));
}

Result<uint64_t> Sys_semtimedop(kernel::Task& t, const Args& a) {
  return DoSemTimedOp(t, ArgInt(a[0]), UserAddr(a[1]), a[2], UserAddr(a[3]));
}

Result<uint64_t> Sys_semctl(kernel::Task& t, const Args& a) {
  return Ipc(t).sem().Control(t, ArgInt(a[0]), ArgInt(a[1]), ArgInt(a[2]), a[3]);
}

Result<uint64_t> Sys_msgget(kernel::Task& t, const Args& a) {
  return TRY(Ipc(t).msg().Get(t, ArgInt(a[0]), ArgInt(a[1])));
}

Result<uint64_t> Sys_msgsnd(kernel::Task& t, const Args& a) {
  int id = ArgInt(a[0]);
  UserAddr msgp(a[1]);
  uint64_t size = a[2];
  kernel::ipc::Message msg;
  msg.type = TRY(t.mm().CopyInObject<long>(msgp));
  if (size > kernel::ipc::kMsgMax || static_cast<int64_t>(size) < 0 || id < 0) return Err(EINVAL);
  if (msg.type < 1) return Err(EINVAL);
  msg.text.resize(size);
  TRY(t.mm().CopyIn(UserAddr(msgp.value + sizeof(long)), msg.text.data(), size));
  TRY(Ipc(t).msg().Send(t, id, std::move(msg), ArgInt(a[3])));
  return 0;
}

Result<uint64_t> Sys_msgrcv(kernel::Task& t, const Args& a) {
  int id = ArgInt(a[0]);
  UserAddr msgp(a[1]);
  uint64_t size = a[2];
  if (id < 0 || static_cast<int64_t>(size) < 0) return Err(EINVAL);
  kernel::ipc::Message msg =
      TRY(Ipc(t).msg().Receive(t, id, size, static_cast<long>(a[3]), ArgInt(a[4])));
  // As on Linux, a message taken is gone even when the copy fails.
  TRY(t.mm().CopyOutObject(msgp, msg.type));
  TRY(t.mm().CopyOut(UserAddr(msgp.value + sizeof(long)), msg.text.data(), msg.text.size()));
  return msg.text.size();
}

Result<uint64_t> Sys_msgctl(kernel::Task& t, const Args& a) {
  return Ipc(t).msg().Control(t, ArgInt(a[0]), ArgInt(a[1]), UserAddr(a[2]));
}

}  // namespace

void RegisterIpcSyscalls(SyscallTable& t) {
  t.handlers[SYS_shmget] = Sys_shmget;
  t.handlers[SYS_shmat] = Sys_shmat;
  t.handlers[SYS_shmdt] = Sys_shmdt;
  t.handlers[SYS_shmctl] = Sys_shmctl;
  t.handlers[SYS_semget] = Sys_semget;
  t.handlers[SYS_semop] = Sys_semop;
  t.handlers[SYS_semtimedop] = Sys_semtimedop;
  t.handlers[SYS_semctl] = Sys_semctl;
  t.handlers[SYS_msgget] = Sys_msgget;
  t.handlers[SYS_msgsnd] = Sys_msgsnd;
  t.handlers[SYS_msgrcv] = Sys_msgrcv;
  t.handlers[SYS_msgctl] = Sys_msgctl;
}

}  // namespace sentry::syscalls
