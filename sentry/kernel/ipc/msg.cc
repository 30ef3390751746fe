#include "sentry/kernel/ipc/msg.h"

#include <linux/capability.h>
#include <sys/stat.h>

#include <climits>

#include "sentry/base/interrupter.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel::ipc {

namespace {

// msgrcv(2) flags missing from the uapi header.
constexpr int kMsgCopy = 040000;

// Which message msgrcv takes: the first, the first of a type (or of any other type with
// MSG_EXCEPT), the first of the lowest type up to -type, or the type-th (MSG_COPY).
std::list<Message>::iterator FindMessage(std::list<Message>& messages, long type, int flags) {
  if (flags & kMsgCopy) {
    auto it = messages.begin();
    for (long i = 0; it != messages.end() && i < type; ++i) ++it;
    return type < 0 ? messages.end() : it;
  }
  if (type == 0) return messages.begin();
  if (type > 0) {
    bool except = flags & MSG_EXCEPT;
    for (auto it = messages.begin(); it != messages.end(); ++it) {
      if ((it->type == type) != except) return it;
    }
    return messages.end();
  }
  long limit = type == LONG_MIN ? LONG_MAX : -type;
  auto best = messages.end();
  for (auto it = messages.begin(); it != messages.end(); ++it) {
    if (it->type <= limit && (best == messages.end() || it->type < best->type)) best = it;
  }
  return best;
}

}  // namespace

msginfo MsgRegistry::Limits() {
  msginfo info{};
  info.msgpool = kMsgMni * kMsgMnb / 1024;
  info.msgmap = kMsgMnb;
  info.msgmax = kMsgMax;
  info.msgmnb = kMsgMnb;
  info.msgmni = kMsgMni;
  info.msgssz = 16;
  info.msgtql = kMsgMnb;
  info.msgseg = 0xffff;
  return info;
}

Result<int> MsgRegistry::Get(Task& task, key_t key, int flags) {
  Caller caller = CallerOf(task);
  absl::MutexLock lock(&mu_);
  auto check = [](MsgQueue&) -> Result<void> { return {}; };
  auto make = [&]() -> Result<std::shared_ptr<MsgQueue>> {
    if (table_.size() >= static_cast<size_t>(kMsgMni)) return Err(ENOSPC);
    auto q = std::make_shared<MsgQueue>();
    q->ctime = NowSeconds();
    return q;
  };
  return GetObject(table_, key, flags, caller, check, make);
}

Result<void> MsgRegistry::Send(Task& task, int id, Message msg, int flags) {
  Caller caller = CallerOf(task);
  absl::MutexLock lock(&mu_);
  std::shared_ptr<MsgQueue> q = TRY(table_.Find(id));
  ScopedArm arm(CurrentInterrupter(), [this] {
    absl::MutexLock l(&mu_);
    changed_.SignalAll();
  });
  const uint64_t size = msg.text.size();
  for (;;) {
    if (!MayAccess(q->perm, caller, kMayWrite)) return Err(EACCES);
    if (q->removed) return Err(EIDRM);
    if (q->bytes + size <= q->max_bytes && q->messages.size() + 1 <= q->max_bytes) break;
    if (flags & IPC_NOWAIT) return Err(EAGAIN);
    if (arm.Interrupted()) return Err(EINTR);
    changed_.Wait(&mu_);
  }
  q->messages.push_back(std::move(msg));
  q->bytes += size;
  q->stime = NowSeconds();
  q->lspid = caller.tgid;
  total_messages_++;
  total_bytes_ += size;
  changed_.SignalAll();
  return {};
}

Result<Message> MsgRegistry::Receive(Task& task, int id, uint64_t max_size, long type, int flags) {
  if (flags & kMsgCopy) {
    if ((flags & MSG_EXCEPT) || !(flags & IPC_NOWAIT)) return Err(EINVAL);
  }
  Caller caller = CallerOf(task);
  absl::MutexLock lock(&mu_);
  std::shared_ptr<MsgQueue> q = TRY(table_.Find(id));
  ScopedArm arm(CurrentInterrupter(), [this] {
    absl::MutexLock l(&mu_);
    changed_.SignalAll();
  });
  for (;;) {
    if (!MayAccess(q->perm, caller, kMayRead)) return Err(EACCES);
    if (q->removed) return Err(EIDRM);
    auto it = FindMessage(q->messages, type, flags);
    if (it != q->messages.end()) {
      if (max_size < it->text.size() && !(flags & MSG_NOERROR)) return Err(E2BIG);
      if (flags & kMsgCopy) {
        // Linux's copy_msg wants room for the whole message even with MSG_NOERROR.
        if (max_size < it->text.size()) return Err(EINVAL);
        return *it;
      }
      Message out = std::move(*it);
      q->messages.erase(it);
      q->bytes -= out.text.size();
      q->rtime = NowSeconds();
      q->lrpid = caller.tgid;
      total_messages_--;
      total_bytes_ -= out.text.size();
      if (out.text.size() > max_size) out.text.resize(max_size);
      changed_.SignalAll();
      return out;
    }
    if (flags & IPC_NOWAIT) return Err(ENOMSG);
    if (arm.Interrupted()) return Err(EINTR);
    changed_.Wait(&mu_);
  }
}

msqid64_ds MsgRegistry::StatLocked(const MsgQueue& q) const {
  msqid64_ds ds{};
  ds.msg_perm = q.perm.ToUser();
  ds.msg_stime = q.stime;
  ds.msg_rtime = q.rtime;
  ds.msg_ctime = q.ctime;
  ds.msg_cbytes = q.bytes;
  ds.msg_qnum = q.messages.size();
  ds.msg_qbytes = q.max_bytes;
  ds.msg_lspid = q.lspid;
  ds.msg_lrpid = q.lrpid;
  return ds;
}

Result<uint64_t> MsgRegistry::Control(Task& task, int id, int cmd, UserAddr buf) {
  if (id < 0 || cmd < 0) return Err(EINVAL);
  Caller caller = CallerOf(task);
  mm::MemoryManager& mm = task.mm();
  switch (cmd) {
    case IPC_INFO:
    case MSG_INFO: {
      msginfo info = Limits();
      int max_index;
      {
        absl::MutexLock lock(&mu_);
        if (cmd == MSG_INFO) {
          info.msgpool = static_cast<int>(table_.size());
          info.msgmap = static_cast<int>(total_messages_);
          info.msgtql = static_cast<int>(total_bytes_);
        }
        max_index = table_.MaxIndex();
      }
      TRY(mm.CopyOutObject(buf, info));
      return max_index;
    }
    case IPC_STAT:
    case MSG_STAT:
    case MSG_STAT_ANY: {
      msqid64_ds ds;
      int result = 0;
      {
        absl::MutexLock lock(&mu_);
        std::shared_ptr<MsgQueue> q = TRY(cmd == IPC_STAT ? table_.Find(id) : table_.AtIndex(id));
        if (cmd != MSG_STAT_ANY && !MayAccess(q->perm, caller, kMayRead)) return Err(EACCES);
        ds = StatLocked(*q);
        if (cmd != IPC_STAT) result = q->perm.id;
      }
      TRY(mm.CopyOutObject(buf, ds));
      return result;
    }
    case IPC_SET: {
      msqid64_ds in = TRY(mm.CopyInObject<msqid64_ds>(buf));
      absl::MutexLock lock(&mu_);
      std::shared_ptr<MsgQueue> q = TRY(table_.Find(id));
      if (!MayChange(q->perm, caller)) return Err(EPERM);
      if (in.msg_qbytes > kMsgMnb && !caller.Capable(CAP_SYS_RESOURCE)) return Err(EPERM);
      q->max_bytes = in.msg_qbytes;
      SetFromUser(q->perm, in.msg_perm);
      q->ctime = NowSeconds();
      changed_.SignalAll();  // senders may fit now
      return 0;
    }
    case IPC_RMID: {
      absl::MutexLock lock(&mu_);
      std::shared_ptr<MsgQueue> q = TRY(table_.Find(id));
      if (!MayChange(q->perm, caller)) return Err(EPERM);
      q->removed = true;
      total_messages_ -= q->messages.size();
      total_bytes_ -= q->bytes;
      table_.Remove(*q);
      changed_.SignalAll();
      return 0;
    }
    default:
      return Err(EINVAL);
  }
}

}  // namespace sentry::kernel::ipc
