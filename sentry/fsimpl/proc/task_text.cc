// The texts of /proc/PID's files, in the formats Linux 6.1 prints.
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/capability.h>
#include <sched.h>
#include <algorithm>
#include <charconv>
#include <mutex>
#include <optional>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sentry/base/user_addr.h"
#include "sentry/fsimpl/inotify/inotify.h"
#include "sentry/fsimpl/proc/task_files.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/limits.h"
#include "sentry/kernel/pidfd.h"

namespace sentry::fsimpl::proc {
namespace {

constexpr uint64_t kNsPerTick = 1'000'000'000 / kTicksPerSecond;
// The kernel's O_LARGEFILE on x86-64; glibc defines it as 0 there, but the kernel sets this
// bit in every regular open and fdinfo shows it.
constexpr int kKernelLargefile = 0100000;

// Escapes what would break a mounts line: space, tab, newline and backslash, as octal.
std::string Mangle(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\\') {
      absl::StrAppendFormat(&out, "\\%03o", static_cast<unsigned char>(c));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string MountOptions(const vfs::Mount& m) {
  std::string opts = m.read_only() ? "ro" : "rw";
  if (m.flags() & MS_NOSUID) opts += ",nosuid";
  if (m.flags() & MS_NODEV) opts += ",nodev";
  if (m.flags() & MS_NOEXEC) opts += ",noexec";
  if (m.flags() & MS_NOATIME) opts += ",noatime";
  if (m.flags() & MS_NODIRATIME) opts += ",nodiratime";
  if (!(m.flags() & (MS_NOATIME | MS_STRICTATIME))) opts += ",relatime";
  if (m.flags() & MS_NOSYMFOLLOW) opts += ",nosymfollow";
  return opts;
}

std::string MountPointOf(const std::shared_ptr<vfs::Mount>& m, vfs::MountNamespace& mounts,
                         const vfs::VirtualDentry& root) {
  return mounts.PathOf({m, m->root()}, root);
}

struct MapsLine {
  uint64_t start = 0, end = 0;
  std::string_view perms;  // "rwxp"
  std::string_view name;   // empty for anonymous memory
};

// One line of MapsText(): "START-END PERMS OFFSET DEV INODE [NAME]", the name after padding.
std::optional<MapsLine> ParseMapsLine(std::string_view line) {
  auto field = [&line]() {
    while (!line.empty() && line[0] == ' ') line.remove_prefix(1);
    size_t sp = line.find(' ');
    std::string_view f = line.substr(0, sp);
    line.remove_prefix(f.size());
    return f;
  };
  auto hex = [](std::string_view s, uint64_t& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 16);
    return ec == std::errc() && p == s.data() + s.size();
  };
  MapsLine m;
  std::string_view range = field();
  size_t dash = range.find('-');
  if (dash == std::string_view::npos || !hex(range.substr(0, dash), m.start) ||
      !hex(range.substr(dash + 1), m.end) || m.end < m.start) {
    return std::nullopt;
  }
  m.perms = field();
  if (m.perms.size() != 4) return std::nullopt;
  for (int i = 0; i < 3; ++i) field();  // offset, device, inode
  while (!line.empty() && line[0] == ' ') line.remove_prefix(1);
  m.name = line;
  return m;
}

// The caller is the task when it reads its own files; only then is it surely running.
bool IsReader(const kernel::Task* t) { return t != nullptr && ProcFs::Reader() == t; }

// The state letter and its name: the reader runs, a thread parked by a group stop is stopped;
// everything else waits for the sentry (the sentry does not tell a task blocked in a syscall
// from one running application code).
std::pair<char, const char*> StateOf(const Subject& s) {
  if (!s.task) return {'Z', "zombie"};
  if (IsReader(s.task.get())) return {'R', "running"};
  if (s.task->group_stopped()) return {'T', "stopped"};
  return {'S', "sleeping"};
}

struct SignalSets {
  uint64_t ignored = 0;
  uint64_t caught = 0;
};

SignalSets SignalSetsOf(kernel::ThreadGroup& tg) {
  SignalSets s;
  std::lock_guard lock(tg.mu());
  for (int sig = 1; sig <= kernel::kNumSignals; ++sig) {
    uint64_t handler = tg.action(sig).handler;
    if (handler == reinterpret_cast<uint64_t>(SIG_IGN)) s.ignored |= kernel::SigBit(sig);
    if (handler > reinterpret_cast<uint64_t>(SIG_IGN)) s.caught |= kernel::SigBit(sig);
  }
  return s;
}

kernel::Rlimit LimitOf(kernel::ThreadGroup& tg, int resource) {
  std::lock_guard lock(tg.mu());
  return tg.limits().Get(resource);
}

// The figures stat and status show of a task, or of what an exited leader left.
struct TaskFacts {
  std::string comm;
  kernel::Credentials creds;
  std::vector<uint32_t> groups;
  uint64_t signal_mask = 0;
  uint64_t start_time_ns = 0;
  uint64_t utime = 0, stime = 0;  // ticks
  kernel::Task::SchedAttr sched;
};

TaskFacts FactsOf(const Subject& s) {
  TaskFacts f;
  if (s.task) {
    kernel::Task& t = *s.task;
    f.comm = t.comm();
    f.creds = t.CredsCopy();
    f.groups = t.groups();
    f.signal_mask = t.signal_mask();
    f.start_time_ns = t.start_time_ns();
    std::tie(f.utime, f.stime) = CpuTicks(t);
    if (s.process_view) {
      // The process's times are all its threads', ended ones included, as Linux sums them.
      kernel::ThreadGroup::CpuTimes sum = s.tg->exited_threads_cpu();
      for (const auto& thread : s.threads) {
        kernel::ThreadGroup::Accumulate(sum, thread->CpuTimesSplit());
      }
      f.utime = sum.user_ns / kNsPerTick;
      f.stime = sum.sys_ns / kNsPerTick;
    }
    f.sched = t.sched();
  } else {
    const kernel::ExitedLeader& e = *s.exited;
    f.comm = e.comm;
    f.creds = e.creds;
    f.groups = e.groups;
    f.signal_mask = e.signal_mask;
    f.start_time_ns = e.start_time_ns;
    f.utime = e.user_ns / kNsPerTick;
    f.stime = e.sys_ns / kNsPerTick;
  }
  return f;
}

// Reads [start, end) of `mm`, page by page, stopping at the first page that cannot be read
// (as Linux's access_remote_vm returns what it got).
std::string ReadRange(mm::MemoryManager& mm, uint64_t start, uint64_t end) {
  std::string out;
  if (end <= start) return out;
  out.reserve(end - start);
  for (uint64_t at = start; at < end;) {
    uint64_t page_end = (at / kPageSize + 1) * kPageSize;
    uint64_t n = std::min(end, page_end) - at;
    size_t old = out.size();
    out.resize(old + n);
    if (!mm.CopyIn(UserAddr(at), out.data() + old, n)) {
      out.resize(old);
      break;
    }
    at += n;
  }
  return out;
}

// Linux's FDSize: the fd array's size, which grows in powers of two from 64.
uint64_t FdTableSize(const std::vector<int>& fds) {
  uint64_t size = 64;
  while (!fds.empty() && static_cast<uint64_t>(fds.back()) >= size) size *= 2;
  return size;
}

// A CPU mask as Linux prints it: 32-bit groups in hex, most significant first, comma
// separated, the first one only as wide as its bits need.
std::string CpuMask(unsigned cpus) {
  std::string out;
  unsigned groups = (cpus + 31) / 32;
  for (unsigned g = groups; g-- > 0;) {
    unsigned bits = std::min(32u, cpus - g * 32);
    uint32_t word = bits == 32 ? 0xffffffffu : (1u << bits) - 1;
    if (g + 1 == groups) {
      absl::StrAppendFormat(&out, "%0*x", static_cast<int>((bits + 3) / 4), word);
    } else {
      absl::StrAppendFormat(&out, ",%08x", word);
    }
  }
  return out;
}

std::string CpuList(unsigned cpus) { return cpus == 1 ? "0" : absl::StrCat("0-", cpus - 1); }

// A zombie counts as the one thread Linux keeps until it is reaped.
size_t ThreadCount(const Subject& s) { return std::max<size_t>(1, s.threads.size()); }

}  // namespace

vfs::VirtualDentry RootOf(kernel::Task& t) {
  std::lock_guard lock(t.fs().mu);
  return t.fs().root;
}

vfs::VirtualDentry CwdOf(kernel::Task& t) {
  std::lock_guard lock(t.fs().mu);
  return t.fs().cwd;
}

vfs::VirtualDentry ReaderRoot(const ProcFs& fs) {
  vfs::VirtualDentry root;
  if (kernel::Task* reader = ProcFs::Reader()) root = RootOf(*reader);
  if (!root.dentry) root = fs.kernel().mounts().Root();
  return root;
}

Result<void> MayReadPrivate(const ProcFs&, const Subject& s) {
  kernel::Task* reader = ProcFs::Reader();
  if (reader == nullptr || &reader->thread_group() == s.tg.get()) return {};
  const kernel::Credentials& me = reader->creds();
  constexpr uint64_t kCapSysPtrace = uint64_t{1} << CAP_SYS_PTRACE;
  if (me.cap_effective & kCapSysPtrace) return {};
  kernel::Credentials c = s.task ? s.task->CredsCopy() : s.exited->creds;
  // The reader's fs IDs are its effective ones: nothing sets them apart yet.
  bool same_user = c.ruid == me.euid && c.euid == me.euid && c.suid == me.euid;
  bool same_group = c.rgid == me.egid && c.egid == me.egid && c.sgid == me.egid;
  if (same_user && same_group && s.tg->dumpable() != 0) return {};
  return Err(EACCES);
}

std::pair<uint64_t, uint64_t> CpuTicks(kernel::Task& t) {
  // The sentry's share is known only on the task's own thread; another reader sees 0 there
  // rather than its own thread's time.
  kernel::ThreadGroup::CpuTimes cpu = t.CpuTimesSplit();
  return {cpu.user_ns / kNsPerTick, cpu.sys_ns / kNsPerTick};
}

std::string CommOf(const Subject& s) { return s.task ? s.task->comm() : s.exited->comm; }

VmStats VmStatsOf(kernel::Task& t) {
  // The memory manager keeps no per-kind counters, so the figures come from the maps text,
  // one line per mapping: "START-END PERMS OFFSET DEV INODE [NAME]". Residency is not tracked
  // (the host faults pages in behind the sentry's back), so RSS counts every accessible page:
  // an upper bound that tools showing memory use will overstate.
  VmStats vm;
  auto mm = t.mm_ptr();
  if (!mm) return vm;
  std::string maps = mm->MapsText();
  std::string exe_path = t.exe_path();
  std::string_view rest = maps;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    auto m = ParseMapsLine(line);
    if (!m) continue;
    uint64_t len = m->end - m->start;
    std::string_view perms = m->perms;
    bool accessible = perms.substr(0, 3) != "---";
    bool file = !m->name.empty() && m->name[0] == '/';
    vm.size += len;
    if (accessible) {
      vm.rss += len;
      (file ? vm.rss_file : vm.rss_anon) += len;
    }
    if (m->name == "[stack]") {
      vm.stack += len;
    } else if (perms[1] == 'w' && perms[3] == 'p') {
      vm.data += len;
    }
    if (perms[2] == 'x' && file) (m->name == exe_path ? vm.exe : vm.lib) += len;
  }
  return vm;
}

std::vector<int> OpenFds(kernel::Task& t) {
  auto fds = t.fds_ptr();
  return fds ? fds->Fds() : std::vector<int>{};
}

std::string StatusText(ProcFs& fs, const Subject& s) {
  kernel::ThreadGroup& tg = *s.tg;
  TaskFacts f = FactsOf(s);
  const kernel::Credentials& c = f.creds;
  pid_t tgid = tg.tgid();
  auto [state, state_name] = StateOf(s);
  SignalSets sigs = SignalSetsOf(tg);
  auto kb = [](uint64_t bytes) { return absl::StrFormat("%8u kB", bytes / 1024); };
  unsigned cpus = fs.host().num_cpus;
  std::string out;
  absl::StrAppend(&out, "Name:\t", f.comm, "\n");
  // A task that has exited has no fs context, and Linux then leaves the line out.
  if (s.task) {
    mode_t umask;
    {
      std::lock_guard lock(s.task->fs().mu);
      umask = s.task->fs().umask;
    }
    absl::StrAppendFormat(&out, "Umask:\t%04o\n", umask);
  }
  absl::StrAppend(&out, "State:\t", std::string(1, state), " (", state_name, ")\n");
  absl::StrAppend(&out, "Tgid:\t", tgid, "\nNgid:\t0\nPid:\t", s.tid, "\n");
  absl::StrAppend(&out, "PPid:\t", tg.ppid(), "\nTracerPid:\t0\n");
  // The fs IDs follow the effective ones: nothing sets them apart yet.
  absl::StrAppend(&out, "Uid:\t", c.ruid, "\t", c.euid, "\t", c.suid, "\t", c.euid, "\n");
  absl::StrAppend(&out, "Gid:\t", c.rgid, "\t", c.egid, "\t", c.sgid, "\t", c.egid, "\n");
  // Linux ends the list of supplementary groups with a space, even an empty one.
  std::vector<int> fds = s.task ? OpenFds(*s.task) : std::vector<int>{};
  absl::StrAppend(&out, "FDSize:\t", s.task && s.task->fds_ptr() ? FdTableSize(fds) : 0,
                  "\nGroups:\t");
  for (uint32_t g : f.groups) absl::StrAppend(&out, g, " ");
  absl::StrAppend(&out, " \n");
  absl::StrAppend(&out, "NStgid:\t", tgid, "\nNSpid:\t", s.tid, "\nNSpgid:\t", tg.pgid(),
                  "\nNSsid:\t", tg.sid(), "\n");
  // The memory lines only while the task has its memory, as Linux.
  if (s.task && s.task->mm_ptr()) {
    VmStats vm = VmStatsOf(*s.task);
    absl::StrAppend(&out, "VmPeak:\t", kb(vm.size), "\nVmSize:\t", kb(vm.size), "\n");
    absl::StrAppend(&out, "VmLck:\t", kb(0), "\nVmPin:\t", kb(0), "\n");
    absl::StrAppend(&out, "VmHWM:\t", kb(vm.rss), "\nVmRSS:\t", kb(vm.rss), "\n");
    absl::StrAppend(&out, "RssAnon:\t", kb(vm.rss_anon), "\nRssFile:\t", kb(vm.rss_file),
                    "\nRssShmem:\t", kb(0), "\n");
    absl::StrAppend(&out, "VmData:\t", kb(vm.data), "\nVmStk:\t", kb(vm.stack), "\nVmExe:\t",
                    kb(vm.exe), "\nVmLib:\t", kb(vm.lib), "\n");
    absl::StrAppend(&out, "VmPTE:\t", kb(0), "\nVmSwap:\t", kb(0), "\nHugetlbPages:\t", kb(0),
                    "\n");
    absl::StrAppend(&out, "CoreDumping:\t0\nTHP_enabled:\t1\n");
  }
  absl::StrAppend(&out, "Threads:\t", ThreadCount(s), "\n");
  absl::StrAppend(&out, "SigQ:\t", fs.kernel().QueuedSignals(tg), "/",
                  LimitOf(tg, RLIMIT_SIGPENDING).cur, "\n");
  auto [own, shared] = s.task ? fs.kernel().PendingSets(*s.task) : std::pair<uint64_t, uint64_t>{};
  absl::StrAppendFormat(&out, "SigPnd:\t%016x\nShdPnd:\t%016x\n", own, shared);
  absl::StrAppendFormat(&out, "SigBlk:\t%016x\nSigIgn:\t%016x\nSigCgt:\t%016x\n", f.signal_mask,
                        sigs.ignored, sigs.caught);
  absl::StrAppendFormat(&out, "CapInh:\t%016x\nCapPrm:\t%016x\nCapEff:\t%016x\n", c.cap_inheritable,
                        c.cap_permitted, c.cap_effective);
  absl::StrAppendFormat(&out, "CapBnd:\t%016x\nCapAmb:\t%016x\n", c.cap_bounding, 0);
  // Seccomp: the application installs no filter in the sandbox (the sentry's own filters are
  // the host's business and must not show here).
  absl::StrAppend(&out, "NoNewPrivs:\t", s.task && s.task->no_new_privs() ? 1 : 0,
                  "\nSeccomp:\t0\nSeccomp_filters:\t0\n");
  absl::StrAppend(&out,
                  "Speculation_Store_Bypass:\tunknown\nSpeculationIndirectBranch:\tunknown\n");
  absl::StrAppend(&out, "Cpus_allowed:\t", CpuMask(cpus), "\nCpus_allowed_list:\t", CpuList(cpus),
                  "\n");
  absl::StrAppend(&out, "Mems_allowed:\t1\nMems_allowed_list:\t0\n");
  absl::StrAppend(&out, "voluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n");
  return out;
}

std::string StatText(ProcFs& fs, const Subject& s) {
  kernel::ThreadGroup& tg = *s.tg;
  TaskFacts f = FactsOf(s);
  VmStats vm = s.task ? VmStatsOf(*s.task) : VmStats{};
  kernel::ExecStrings strings = s.task ? s.task->exec_strings() : kernel::ExecStrings{};
  SignalSets sigs = SignalSetsOf(tg);
  auto [own, shared] = s.task ? fs.kernel().PendingSets(*s.task) : std::pair<uint64_t, uint64_t>{};
  kernel::ThreadGroup::CpuTimes children = tg.reaped_children_cpu();
  kernel::Rlimit rss = LimitOf(tg, RLIMIT_RSS);
  bool rt = f.sched.policy == SCHED_FIFO || f.sched.policy == SCHED_RR;
  int priority = rt ? -1 - f.sched.priority : 20 + f.sched.nice;
  // Fields the sentry does not know (fault counts, code and stack addresses, the CPU last
  // run on) are 0, which is also what Linux shows some of them as to readers without ptrace
  // access. The exit code shows only once the process is a zombie.
  int exit_code = s.zombie ? s.wait_status : 0;
  std::string out = absl::StrFormat(
      "%d (%s) %c %d %d %d 0 -1 %u 0 0 0 0 %u %u %u %u %d %d %u 0 %u ", s.tid, f.comm,
      StateOf(s).first, tg.ppid(), tg.pgid(), tg.sid(), 0x400000u /* PF_RANDOMIZE */, f.utime,
      f.stime, children.user_ns / kNsPerTick, children.sys_ns / kNsPerTick, priority, f.sched.nice,
      ThreadCount(s), f.start_time_ns / kNsPerTick);
  absl::StrAppendFormat(&out, "%u %u %u 0 0 0 0 0 %u %u %u %u 0 0 0 %d 0 %d %d 0 0 0 0 0 0 ",
                        vm.size, vm.rss / kPageSize, rss.cur, own | shared, f.signal_mask,
                        sigs.ignored, sigs.caught, tg.exit_signal(), rt ? f.sched.priority : 0,
                        f.sched.policy);
  absl::StrAppendFormat(&out, "%u %u %u %u %d\n", strings.arg_start, strings.arg_end,
                        strings.env_start, strings.env_end, exit_code);
  return out;
}

std::string StatmText(const Subject& s) {
  // size resident shared text lib data dt, in pages.
  if (!s.task) return "0 0 0 0 0 0 0\n";
  VmStats vm = VmStatsOf(*s.task);
  return absl::StrFormat("%u %u %u %u 0 %u 0\n", vm.size / kPageSize, vm.rss / kPageSize,
                         vm.rss_file / kPageSize, vm.exe / kPageSize,
                         (vm.data + vm.stack) / kPageSize);
}

Result<std::string> CmdlineText(const Subject& s) {
  // Linux reads the arguments from the application's memory, so a program may rewrite them.
  // When the NUL that ended the last argument has been overwritten (setproctitle), the text
  // runs on into the environment, up to its first NUL.
  if (!s.task) return std::string();
  auto mm = s.task->mm_ptr();
  if (!mm) return std::string();
  kernel::ExecStrings r = s.task->exec_strings();
  std::string args = ReadRange(*mm, r.arg_start, r.arg_end);
  if (args.size() < r.arg_end - r.arg_start || args.empty() || args.back() == '\0') return args;
  // As Linux's get_mm_proctitle: one string, at most a page, from the first argument on.
  std::string title = ReadRange(*mm, r.arg_start, r.arg_start + kPageSize);
  if (size_t nul = title.find('\0'); nul != std::string::npos) title.resize(nul);
  return title;
}

Result<std::string> EnvironText(const Subject& s) {
  if (!s.task) return std::string();
  auto mm = s.task->mm_ptr();
  if (!mm) return std::string();
  kernel::ExecStrings r = s.task->exec_strings();
  return ReadRange(*mm, r.env_start, r.env_end);
}

std::string LimitsText(const Subject& subject) {
  struct Row {
    int resource;
    const char* name;
    const char* unit;  // null: none, and Linux prints no unit column
  };
  static constexpr Row kRows[] = {
      {RLIMIT_CPU, "Max cpu time", "seconds"},
      {RLIMIT_FSIZE, "Max file size", "bytes"},
      {RLIMIT_DATA, "Max data size", "bytes"},
      {RLIMIT_STACK, "Max stack size", "bytes"},
      {RLIMIT_CORE, "Max core file size", "bytes"},
      {RLIMIT_RSS, "Max resident set", "bytes"},
      {RLIMIT_NPROC, "Max processes", "processes"},
      {RLIMIT_NOFILE, "Max open files", "files"},
      {RLIMIT_MEMLOCK, "Max locked memory", "bytes"},
      {RLIMIT_AS, "Max address space", "bytes"},
      {RLIMIT_LOCKS, "Max file locks", "locks"},
      {RLIMIT_SIGPENDING, "Max pending signals", "signals"},
      {RLIMIT_MSGQUEUE, "Max msgqueue size", "bytes"},
      {RLIMIT_NICE, "Max nice priority", nullptr},
      {RLIMIT_RTPRIO, "Max realtime priority", nullptr},
      {RLIMIT_RTTIME, "Max realtime timeout", "us"},
  };
  auto value = [](uint64_t v) {
    return v == kernel::kRlimInfinity ? std::string("unlimited") : absl::StrCat(v);
  };
  std::string s =
      absl::StrFormat("%-25s %-20s %-20s %-10s\n", "Limit", "Soft Limit", "Hard Limit", "Units");
  for (const Row& row : kRows) {
    kernel::Rlimit r = LimitOf(*subject.tg, row.resource);
    absl::StrAppendFormat(&s, "%-25s %-20s %-20s ", row.name, value(r.cur), value(r.max));
    if (row.unit != nullptr) absl::StrAppendFormat(&s, "%-10s", row.unit);
    s += '\n';
  }
  return s;
}

std::string MountsText(ProcFs& fs) {
  vfs::MountNamespace& mounts = fs.kernel().mounts();
  vfs::VirtualDentry root = ReaderRoot(fs);
  std::string s;
  for (const auto& m : mounts.Mounts()) {
    absl::StrAppend(&s, Mangle(m->source()), " ", Mangle(MountPointOf(m, mounts, root)), " ",
                    m->fs_type(), " ", MountOptions(*m), " 0 0\n");
  }
  return s;
}

std::string MountInfoText(ProcFs& fs) {
  vfs::MountNamespace& mounts = fs.kernel().mounts();
  vfs::VirtualDentry root = ReaderRoot(fs);
  std::string s;
  for (const auto& m : mounts.Mounts()) {
    int id = fs.MountId(m);
    auto parent = m->parent();
    // The namespace's root mount sits on nothing visible; Linux's own root names itself.
    int parent_id = parent ? fs.MountId(parent) : id;
    dev_t dev = 0;
    if (auto st = m->root()->inode().Stat()) dev = st->st_dev;
    // A mount that binds a directory of another file system (a volume) names that directory.
    std::string fs_root = m->root()->PathInFilesystem();
    if (!m->fs_root().empty()) fs_root = fs_root == "/" ? m->fs_root() : m->fs_root() + fs_root;
    absl::StrAppendFormat(&s, "%d %d %u:%u %s %s %s - %s %s %s\n", id, parent_id, major(dev),
                          minor(dev), Mangle(fs_root), Mangle(MountPointOf(m, mounts, root)),
                          MountOptions(*m), m->fs_type(), Mangle(m->source()),
                          m->read_only() ? "ro" : "rw");
  }
  return s;
}

std::string FileName(ProcFs& fs, vfs::FileDescription& file) {
  if (file.path().dentry) return fs.kernel().mounts().PathOf(file.path(), ReaderRoot(fs));
  if (dynamic_cast<inotify::InotifyFile*>(&file) != nullptr) return "anon_inode:inotify";
  auto st = file.Stat();
  if (!st) return "anon_inode:[unknown]";
  unsigned maj = major(st->st_rdev), min = minor(st->st_rdev);
  switch (st->st_mode & S_IFMT) {
    case S_IFIFO:
      return absl::StrCat("pipe:[", st->st_ino, "]");
    case S_IFSOCK:
      return absl::StrCat("socket:[", st->st_ino, "]");
    case S_IFCHR:
      // Host character devices reach the sandbox only as donated stdio: name them by their
      // numbers as the devices.txt registry assigns them.
      if (maj >= 136 && maj <= 143) return absl::StrCat("/dev/pts/", (maj - 136) * 256 + min);
      if (maj == 1) {
        static constexpr const char* kMem[] = {nullptr, "mem",   nullptr, "null",   "port",
                                               "zero",  nullptr, "full",  "random", "urandom"};
        if (min < std::size(kMem) && kMem[min] != nullptr) return absl::StrCat("/dev/", kMem[min]);
      }
      if (maj == 5 && min == 0) return "/dev/tty";
      if (maj == 5 && min == 1) return "/dev/console";
      if (maj == 5 && min == 2) return "/dev/ptmx";
      if (maj == 4 && min < 64) return absl::StrCat("/dev/tty", min);
      break;
    default:
      break;
  }
  return "anon_inode:[unknown]";
}

namespace {
// A pidfd adds the process's id, an inotify instance its watches.
std::string PidFdInfo(vfs::FileDescription& file) {
  if (auto* pidfd = dynamic_cast<kernel::PidFdFile*>(&file)) return pidfd->FdInfoLines();
  if (auto* in = dynamic_cast<inotify::InotifyFile*>(&file)) return in->instance().FdInfoLines();
  return std::string();
}
}  // namespace

std::string FdInfoText(ProcFs& fs, vfs::FileDescription& file, bool cloexec) {
  int64_t pos = file.Seek(0, SEEK_CUR).value_or(0);
  int flags = file.status_flags();
  if (!file.IsPath()) flags |= kKernelLargefile;
  if (cloexec) flags |= O_CLOEXEC;
  uint64_t ino = 0;
  if (auto st = file.Stat()) ino = st->st_ino;
  return absl::StrFormat("pos:\t%d\nflags:\t0%o\nmnt_id:\t%d\nino:\t%u\n", pos, flags,
                         fs.MountId(file.path().mount), ino) +
         PidFdInfo(file);
}

}  // namespace sentry::fsimpl::proc
