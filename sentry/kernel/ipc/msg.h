// System V message queues (msgget, msgsnd, msgrcv, msgctl). Senders waiting for room and
// receivers waiting for a message sleep on the registry's condition variable and look again
// after every change.
#pragma once

#include <linux/msg.h>

#include <cstdint>
#include <list>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/base/user_addr.h"
#include "sentry/kernel/ipc/ipc_object.h"

namespace sentry::kernel::ipc {

// Linux's defaults (include/uapi/linux/msg.h).
inline constexpr uint64_t kMsgMax = 8192;   // bytes in one message
inline constexpr uint64_t kMsgMnb = 16384;  // bytes in one queue
inline constexpr int kMsgMni = 32000;

struct Message {
  long type = 0;
  std::vector<uint8_t> text;
};

struct MsgQueue {
  Perm perm;
  std::list<Message> messages;
  uint64_t bytes = 0;  // msg_cbytes
  uint64_t max_bytes = kMsgMnb;
  int64_t stime = 0, rtime = 0, ctime = 0;
  pid_t lspid = 0, lrpid = 0;
  bool removed = false;
};

class MsgRegistry {
 public:
  Result<int> Get(Task& task, key_t key, int flags);
  // msgsnd with the type and text copied in (and the size checked).
  Result<void> Send(Task& task, int id, Message msg, int flags);
  // msgrcv: the message taken (or copied, MSG_COPY), its text cut to `max_size` bytes.
  Result<Message> Receive(Task& task, int id, uint64_t max_size, long type, int flags);
  Result<uint64_t> Control(Task& task, int id, int cmd, UserAddr buf);

  static msginfo Limits();

 private:
  msqid64_ds StatLocked(const MsgQueue& q) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  absl::CondVar changed_;  // a message came or went, a queue grew or was removed
  ObjectTable<MsgQueue> table_ ABSL_GUARDED_BY(mu_){kMsgMni};
  uint64_t total_messages_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t total_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sentry::kernel::ipc
