#include "sentry/kernel/ipc/ipc_object.h"

#include <linux/capability.h>

#include <algorithm>

#include "absl/time/clock.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel::ipc {

bool Caller::InGroup(uint32_t gid) const {
  return gid == egid || std::ranges::find(groups, gid) != groups.end();
}

Caller CallerOf(Task& task) {
  const Credentials& c = task.creds();
  return Caller{c.euid, c.egid, task.groups(), c.cap_effective, task.thread_group().tgid()};
}

ipc64_perm Perm::ToUser() const {
  ipc64_perm out{};
  out.key = key;
  out.uid = uid;
  out.gid = gid;
  out.cuid = cuid;
  out.cgid = cgid;
  out.mode = mode;
  out.seq = static_cast<unsigned short>(id / kSeqMultiplier);
  return out;
}

bool MayAccess(const Perm& perm, const Caller& caller, int flag) {
  int requested = (flag >> 6) | (flag >> 3) | flag;
  int granted = static_cast<int>(perm.mode);
  if (caller.euid == perm.cuid || caller.euid == perm.uid) {
    granted >>= 6;
  } else if (caller.InGroup(perm.cgid) || caller.InGroup(perm.gid)) {
    granted >>= 3;
  }
  return !(requested & ~granted & 07) || caller.Capable(CAP_IPC_OWNER);
}

bool MayChange(const Perm& perm, const Caller& caller) {
  return caller.euid == perm.cuid || caller.euid == perm.uid || caller.Capable(CAP_SYS_ADMIN);
}

void SetFromUser(Perm& perm, const ipc64_perm& in) {
  perm.uid = in.uid;
  perm.gid = in.gid;
  perm.mode = (perm.mode & ~0777u) | (in.mode & 0777);
}

int64_t NowSeconds() { return absl::ToUnixSeconds(absl::Now()); }

}  // namespace sentry::kernel::ipc
