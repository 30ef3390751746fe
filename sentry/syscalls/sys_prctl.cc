// prctl(2) and the capability calls capget(2)/capset(2).
//
// The sandbox keeps Linux's per-task capability sets (root starts with all of them) so that
// programs which check or drop capabilities see Linux's answers; permission checks elsewhere
// still go by the effective UID (see sys_cred.cc).
#include <linux/capability.h>
#include <linux/prctl.h>
#include <signal.h>
#include <sys/syscall.h>

#include "sentry/kernel/kernel.h"
#include "sentry/syscalls/table.h"

namespace sentry::syscalls {
namespace {

constexpr size_t kCommLen = 16;  // TASK_COMM_LEN, with the NUL

Result<std::string> CopyInComm(kernel::Task& t, UserAddr addr) {
  auto s = t.mm().CopyInString(addr, kCommLen);
  if (s) return s->substr(0, kCommLen - 1);
  if (s.error().value != ENAMETOOLONG) return std::unexpected(s.error());
  // No NUL in the first 16 bytes: Linux takes the first 15.
  std::string name(kCommLen - 1, '\0');
  TRY(t.mm().CopyIn(addr, name.data(), name.size()));
  return name;
}

Result<uint64_t> PutInt(kernel::Task& t, uint64_t addr, int v) {
  TRY(t.mm().CopyOutObject(UserAddr(addr), v));
  return 0;
}

// PR_SET_MM: every option needs CAP_SYS_RESOURCE; the sandbox has no way to move the memory
// layout fields (start_code, brk, auxv, ...) that these options set, so it refuses them as Linux
// does for an option it does not know.
Result<uint64_t> SetMm(kernel::Task& t, const Args& a) {
  uint64_t opt = a[1];
  if (a[4] != 0 ||
      (a[3] != 0 && opt != PR_SET_MM_AUXV && opt != PR_SET_MM_MAP && opt != PR_SET_MM_MAP_SIZE)) {
    return Err(EINVAL);
  }
  if (!(t.creds().cap_effective & (uint64_t{1} << CAP_SYS_RESOURCE))) return Err(EPERM);
  return Err(EINVAL);
}

Result<uint64_t> Sys_prctl(kernel::Task& t, const Args& a) {
  int option = ArgInt(a[0]);
  switch (option) {
    case PR_SET_PDEATHSIG: {
      if (a[1] > kernel::kNumSignals) return Err(EINVAL);
      t.set_pdeath_signal(static_cast<int>(a[1]));
      return 0;
    }
    case PR_GET_PDEATHSIG:
      return PutInt(t, a[1], t.pdeath_signal());
    case PR_GET_DUMPABLE:
      return t.thread_group().dumpable();
    case PR_SET_DUMPABLE:
      if (a[1] != 0 && a[1] != 1) return Err(EINVAL);  // 2 (SUID_DUMP_ROOT) is not settable
      t.thread_group().set_dumpable(static_cast<int>(a[1]));
      return 0;
    case PR_GET_KEEPCAPS:
      return t.creds().keep_caps ? 1 : 0;
    case PR_SET_KEEPCAPS: {
      if (a[1] > 1) return Err(EINVAL);
      kernel::Credentials c = t.creds();
      c.keep_caps = a[1] == 1;
      t.set_creds(c);
      return 0;
    }
    case PR_SET_NAME: {
      std::string name = TRY(CopyInComm(t, UserAddr(a[1])));
      t.set_comm(std::move(name));
      return 0;
    }
    case PR_GET_NAME: {
      char buf[kCommLen] = {};
      std::string name = t.comm();
      name.copy(buf, kCommLen - 1);
      TRY(t.mm().CopyOut(UserAddr(a[1]), buf, sizeof(buf)));
      return 0;
    }
    case PR_GET_SECCOMP:
      return 0;  // no filter: the application never gets one installed (see PR_SET_SECCOMP)
    case PR_SET_SECCOMP:
      return Err(EINVAL);  // what Linux built without CONFIG_SECCOMP answers
    case PR_CAPBSET_READ:
      if (a[1] > static_cast<uint64_t>(kernel::kCapLastCap)) return Err(EINVAL);
      return (t.creds().cap_bounding >> a[1]) & 1;
    case PR_CAPBSET_DROP: {
      if (!(t.creds().cap_effective & (uint64_t{1} << CAP_SETPCAP))) return Err(EPERM);
      if (a[1] > static_cast<uint64_t>(kernel::kCapLastCap)) return Err(EINVAL);
      kernel::Credentials c = t.creds();
      c.cap_bounding &= ~(uint64_t{1} << a[1]);
      t.set_creds(c);
      return 0;
    }
    case PR_SET_TIMERSLACK:
      t.set_timer_slack_ns(a[1] == 0 ? kernel::Task::kDefaultTimerSlackNs : a[1]);
      return 0;
    case PR_GET_TIMERSLACK:
      return t.timer_slack_ns();
    case PR_SET_NO_NEW_PRIVS:
      if (a[1] != 1 || a[2] != 0 || a[3] != 0 || a[4] != 0) return Err(EINVAL);
      t.set_no_new_privs();
      return 0;
    case PR_GET_NO_NEW_PRIVS:
      if (a[1] != 0 || a[2] != 0 || a[3] != 0 || a[4] != 0) return Err(EINVAL);
      return t.no_new_privs() ? 1 : 0;
    case PR_SET_CHILD_SUBREAPER:
      t.thread_group().set_child_subreaper(a[1] != 0);
      return 0;
    case PR_GET_CHILD_SUBREAPER:
      return PutInt(t, a[1], t.thread_group().child_subreaper() ? 1 : 0);
    case PR_GET_TID_ADDRESS:
      TRY(t.mm().CopyOutObject(UserAddr(a[1]), t.clear_child_tid().value));
      return 0;
    case PR_SET_MM:
      return SetMm(t, a);
    case PR_SET_VMA:
      return Err(EINVAL);  // anonymous VMA names are not kept
    default:
      return Err(EINVAL);
  }
}

// The user-space capability ABI: a header, then one (v1) or two (v2, v3) 32-bit sets.
struct CapHeader {
  uint32_t version;
  int pid;
};
struct CapData {
  uint32_t effective, permitted, inheritable;
};

// How many CapData a version uses; for an unknown one Linux writes the version it prefers
// back into the header and fails with EINVAL.
Result<int> CapWords(kernel::Task& t, UserAddr header) {
  uint32_t version = TRY(t.mm().CopyInObject<uint32_t>(header));
  switch (version) {
    case _LINUX_CAPABILITY_VERSION_1:
      return _LINUX_CAPABILITY_U32S_1;
    case _LINUX_CAPABILITY_VERSION_2:
    case _LINUX_CAPABILITY_VERSION_3:
      return _LINUX_CAPABILITY_U32S_3;
    default:
      TRY(t.mm().CopyOutObject(header, uint32_t{_LINUX_CAPABILITY_VERSION_3}));
      return Err(EINVAL);
  }
}

Result<uint64_t> Sys_capget(kernel::Task& t, const Args& a) {
  UserAddr header(a[0]), data(a[1]);
  auto words = CapWords(t, header);
  // A NULL data pointer asks only for the preferred version.
  if (data.value == 0 || !words) {
    if (data.value == 0 && (words || words.error().value == EINVAL)) return 0;
    return std::unexpected(words.error());
  }
  int pid = TRY(t.mm().CopyInObject<int>(UserAddr(header.value + offsetof(CapHeader, pid))));
  if (pid < 0) return Err(EINVAL);
  kernel::Credentials c = t.creds();
  if (pid != 0 && pid != t.tid()) {
    auto target = t.kernel().FindTask(pid);
    if (!target) return Err(ESRCH);
    c = target->creds();
  }
  CapData out[_LINUX_CAPABILITY_U32S_3];
  for (int i = 0; i < *words; ++i) {
    out[i] = {static_cast<uint32_t>(c.cap_effective >> (32 * i)),
              static_cast<uint32_t>(c.cap_permitted >> (32 * i)),
              static_cast<uint32_t>(c.cap_inheritable >> (32 * i))};
  }
  TRY(t.mm().CopyOut(data, out, *words * sizeof(CapData)));
  return 0;
}

Result<uint64_t> Sys_capset(kernel::Task& t, const Args& a) {
  UserAddr header(a[0]), data(a[1]);
  int words = TRY(CapWords(t, header));
  int pid = TRY(t.mm().CopyInObject<int>(UserAddr(header.value + offsetof(CapHeader, pid))));
  if (pid != 0 && pid != t.tid()) return Err(EPERM);  // only the caller's own sets
  CapData in[_LINUX_CAPABILITY_U32S_3] = {};
  TRY(t.mm().CopyIn(data, in, words * sizeof(CapData)));
  uint64_t eff = 0, prm = 0, inh = 0;
  for (int i = 0; i < words; ++i) {
    eff |= uint64_t{in[i].effective} << (32 * i);
    prm |= uint64_t{in[i].permitted} << (32 * i);
    inh |= uint64_t{in[i].inheritable} << (32 * i);
  }
  eff &= kernel::kAllCaps;
  prm &= kernel::kAllCaps;
  inh &= kernel::kAllCaps;
  kernel::Credentials c = t.creds();
  bool setpcap = c.cap_effective & (uint64_t{1} << CAP_SETPCAP);
  // Linux's cap_capset: inheritable may grow only within permitted (unless CAP_SETPCAP) and
  // never beyond the bounding set; permitted may only shrink; effective stays within permitted.
  if (!setpcap && (inh & ~(c.cap_inheritable | c.cap_permitted))) return Err(EPERM);
  if (inh & ~(c.cap_inheritable | c.cap_bounding)) return Err(EPERM);
  if (prm & ~c.cap_permitted) return Err(EPERM);
  if (eff & ~prm) return Err(EPERM);
  c.cap_effective = eff;
  c.cap_permitted = prm;
  c.cap_inheritable = inh;
  t.set_creds(c);
  return 0;
}

}  // namespace

void RegisterPrctlSyscalls(SyscallTable& t) {
  t.handlers[SYS_prctl] = Sys_prctl;
  t.handlers[SYS_capget] = Sys_capget;
  t.handlers[SYS_capset] = Sys_capset;
}

}  // namespace sentry::syscalls
