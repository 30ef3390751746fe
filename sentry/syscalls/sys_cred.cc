// Credentials: setuid, setgid, setreuid, setregid, setresuid, setresgid, getresuid, getresgid.
//
// Linux's rules (kernel/sys.c): a task with CAP_SETUID (CAP_SETGID) may set any IDs; others may
// only move among their real, effective and saved IDs. Giving up UID 0 drops capabilities, as
// Linux does on the move from root to a non-zero UID without PR_SET_KEEPCAPS. The filesystem
// IDs follow the effective ones.
#include <sys/syscall.h>

#include <algorithm>
#include <vector>

#include "sentry/syscalls/table.h"

namespace sentry::syscalls {
namespace {

constexpr uint32_t kNoId = 0xffffffff;  // (uid_t)-1: "leave unchanged", never an ID

// Linux's cap_emulate_setxuid: leaving UID 0 behind drops capabilities (all of them once no
// UID is 0, unless PR_SET_KEEPCAPS; the effective set with the effective UID), and becoming
// effective root again restores the effective set from the permitted one.
void CommitCreds(kernel::Task& t, kernel::Credentials c) {
  const kernel::Credentials& old = t.creds();
  bool had_root = old.ruid == 0 || old.euid == 0 || old.suid == 0;
  if (had_root && c.ruid != 0 && c.euid != 0 && c.suid != 0 && !c.keep_caps) {
    c.cap_permitted = 0;
    c.cap_effective = 0;
  }
  if (old.euid == 0 && c.euid != 0) c.cap_effective = 0;
  if (old.euid != 0 && c.euid == 0) c.cap_effective = c.cap_permitted;
  c.cap_ambient &= c.cap_permitted & c.cap_inheritable;  // ambient needs both
  // Linux's commit_creds: a new effective identity is no longer dumpable (suid_dumpable 0) and
  // forgets its parent-death signal.
  if (old.euid != c.euid || old.egid != c.egid) {
    t.thread_group().set_dumpable(0);
    t.set_pdeath_signal(0);
  }
  t.set_creds(c);
}

// IDs of one kind (user or group) as setres*id and setre*id see them.
struct Ids {
  uint32_t* r;
  uint32_t* e;
  uint32_t* s;
  int capability;  // what lets a task set any of them: CAP_SETUID or CAP_SETGID
  bool Has(uint32_t id) const { return id == *r || id == *e || id == *s; }
};

Ids UserIds(kernel::Credentials& c) { return {&c.ruid, &c.euid, &c.suid, CAP_SETUID}; }
Ids GroupIds(kernel::Credentials& c) { return {&c.rgid, &c.egid, &c.sgid, CAP_SETGID}; }

Result<uint64_t> SetId(kernel::Task& t, uint64_t arg, Ids (*kind)(kernel::Credentials&)) {
  uint32_t id = static_cast<uint32_t>(arg);
  if (id == kNoId) return Err(EINVAL);
  kernel::Credentials c = t.creds();
  Ids ids = kind(c);
  if (t.creds().HasCapability(ids.capability)) {
    *ids.r = *ids.e = *ids.s = id;
  } else if (id == *ids.r || id == *ids.s) {
    *ids.e = id;
  } else {
    return Err(EPERM);
  }
  CommitCreds(t, c);
  return 0;
}

Result<uint64_t> SetReId(kernel::Task& t, uint64_t r_arg, uint64_t e_arg,
                         Ids (*kind)(kernel::Credentials&)) {
  uint32_t r = static_cast<uint32_t>(r_arg), e = static_cast<uint32_t>(e_arg);
  const kernel::Credentials& old = t.creds();
  kernel::Credentials c = old;
  Ids ids = kind(c);
  kernel::Credentials old_copy = old;
  Ids before = kind(old_copy);
  bool capable = old.HasCapability(before.capability);
  if (r != kNoId) {
    if (!capable && r != *before.r && r != *before.e) return Err(EPERM);
    *ids.r = r;
  }
  if (e != kNoId) {
    if (!capable && !before.Has(e)) return Err(EPERM);
    *ids.e = e;
  }
  if (r != kNoId || (e != kNoId && e != *before.r)) *ids.s = *ids.e;
  CommitCreds(t, c);
  return 0;
}

Result<uint64_t> SetResId(kernel::Task& t, const Args& a, Ids (*kind)(kernel::Credentials&)) {
  uint32_t want[3] = {static_cast<uint32_t>(a[0]), static_cast<uint32_t>(a[1]),
                      static_cast<uint32_t>(a[2])};
  kernel::Credentials old_copy = t.creds();
  Ids before = kind(old_copy);
  if (!t.creds().HasCapability(before.capability)) {
    for (uint32_t id : want) {
      if (id != kNoId && !before.Has(id)) return Err(EPERM);
    }
  }
  kernel::Credentials c = t.creds();
  Ids ids = kind(c);
  uint32_t* slots[3] = {ids.r, ids.e, ids.s};
  for (int i = 0; i < 3; ++i) {
    if (want[i] != kNoId) *slots[i] = want[i];
  }
  CommitCreds(t, c);
  return 0;
}

Result<uint64_t> GetResId(kernel::Task& t, const Args& a, Ids (*kind)(kernel::Credentials&)) {
  kernel::Credentials c = t.creds();
  Ids ids = kind(c);
  TRY(t.mm().CopyOutObject(UserAddr(a[0]), *ids.r));
  TRY(t.mm().CopyOutObject(UserAddr(a[1]), *ids.e));
  TRY(t.mm().CopyOutObject(UserAddr(a[2]), *ids.s));
  return 0;
}

constexpr int kNgroupsMax = 65536;  // NGROUPS_MAX

Result<uint64_t> Sys_getgroups(kernel::Task& t, const Args& a) {
  int size = ArgInt(a[0]);
  std::vector<uint32_t> groups = t.groups();
  if (size < 0) return Err(EINVAL);
  if (size == 0) return groups.size();
  if (static_cast<size_t>(size) < groups.size()) return Err(EINVAL);
  TRY(t.mm().CopyOut(UserAddr(a[1]), groups.data(), groups.size() * sizeof(uint32_t)));
  return groups.size();
}

Result<uint64_t> Sys_setgroups(kernel::Task& t, const Args& a) {
  int size = ArgInt(a[0]);
  if (!t.creds().HasCapability(CAP_SETGID)) return Err(EPERM);
  if (size < 0 || size > kNgroupsMax) return Err(EINVAL);
  std::vector<uint32_t> groups(size);
  TRY(t.mm().CopyIn(UserAddr(a[1]), groups.data(), groups.size() * sizeof(uint32_t)));
  std::sort(groups.begin(), groups.end());  // Linux keeps them sorted; getgroups shows that
  t.set_groups(std::move(groups));
  return 0;
}

Result<uint64_t> Sys_setuid(kernel::Task& t, const Args& a) { return SetId(t, a[0], UserIds); }
Result<uint64_t> Sys_setgid(kernel::Task& t, const Args& a) { return SetId(t, a[0], GroupIds); }
Result<uint64_t> Sys_setreuid(kernel::Task& t, const Args& a) {
  return SetReId(t, a[0], a[1], UserIds);
}
Result<uint64_t> Sys_setregid(kernel::Task& t, const Args& a) {
  return SetReId(t, a[0], a[1], GroupIds);
}
Result<uint64_t> Sys_setresuid(kernel::Task& t, const Args& a) { return SetResId(t, a, UserIds); }
Result<uint64_t> Sys_setresgid(kernel::Task& t, const Args& a) { return SetResId(t, a, GroupIds); }
Result<uint64_t> Sys_getresuid(kernel::Task& t, const Args& a) { return GetResId(t, a, UserIds); }
Result<uint64_t> Sys_getresgid(kernel::Task& t, const Args& a) { return GetResId(t, a, GroupIds); }

}  // namespace

void RegisterCredSyscalls(SyscallTable& t) {
  t.handlers[SYS_setuid] = Sys_setuid;
  t.handlers[SYS_setgid] = Sys_setgid;
  t.handlers[SYS_setreuid] = Sys_setreuid;
  t.handlers[SYS_setregid] = Sys_setregid;
  t.handlers[SYS_setresuid] = Sys_setresuid;
  t.handlers[SYS_setresgid] = Sys_setresgid;
  t.handlers[SYS_getresuid] = Sys_getresuid;
  t.handlers[SYS_getresgid] = Sys_getresgid;
  t.handlers[SYS_getgroups] = Sys_getgroups;
  t.handlers[SYS_setgroups] = Sys_setgroups;
}

}  // namespace sentry::syscalls
