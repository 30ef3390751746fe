// The texts of /proc/PID's files, in the formats Linux 6.1 prints.
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <mutex>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sentry/base/user_addr.h"
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
bool IsReader(const ProcFs& fs, const kernel::Task& t) { return fs.tasks().Current() == &t; }

struct SignalSets {
  uint64_t ignored = 0;
  uint64_t caught = 0;
};

SignalSets SignalSetsOf(kernel::Task& t) {
  SignalSets s;
  kernel::ThreadGroup& tg = t.thread_group();
  std::lock_guard lock(tg.mu());
  for (int sig = 1; sig <= kernel::kNumSignals; ++sig) {
    uint64_t handler = tg.action(sig).handler;
    if (handler == reinterpret_cast<uint64_t>(SIG_IGN)) s.ignored |= kernel::SigBit(sig);
    if (handler > reinterpret_cast<uint64_t>(SIG_IGN)) s.caught |= kernel::SigBit(sig);
  }
  return s;
}

kernel::Rlimit LimitOf(kernel::Task& t, int resource) {
  std::lock_guard lock(t.thread_group().mu());
  return t.thread_group().limits().Get(resource);
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

size_t ThreadCount(const ProcFs& fs, kernel::Task& t) {
  return std::max<size_t>(1, fs.tasks().Threads(t.thread_group().tgid()).size());
}

}  // namespace

vfs::VirtualDentry RootOf(kernel::Task& t) {
  std::lock_guard lock(t.fs().mu);
  return t.fs().root;
}

vfs::VirtualDentry CwdOf(kernel::Task& t) {
  std::lock_guard lock(t.fs().mu);
  return t.fs().cwd;
}

vfs::VirtualDentry ReaderRoot(const ProcFs& fs, kernel::Task& owner) {
  kernel::Task* reader = fs.tasks().Current();
  vfs::VirtualDentry root = RootOf(reader != nullptr ? *reader : owner);
  if (!root.dentry) root = owner.kernel().mounts().Root();
  return root;
}

std::pair<uint64_t, uint64_t> CpuTicks(kernel::Task& t) {
  uint64_t app = t.context().AppCpuTimeNs();
  uint64_t total = t.CpuTimeNs();
  uint64_t sys = total > app ? total - app : 0;
  return {app / kNsPerTick, sys / kNsPerTick};
}

std::string CommOf(const kernel::Task& t) { return t.comm(); }

VmStats VmStatsOf(kernel::Task& t) {
  // The memory manager keeps no per-kind counters, so the figures come from the maps text,
  // one line per mapping: "START-END PERMS OFFSET DEV INODE [NAME]". Residency is not tracked
  // (the host faults pages in behind the sentry's back), so RSS counts every accessible page:
  // an upper bound that tools showing memory use will overstate.
  VmStats vm;
  std::string maps = t.mm().MapsText();
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
    if (perms[2] == 'x' && file) (m->name == t.exe_path() ? vm.exe : vm.lib) += len;
  }
  return vm;
}

std::vector<int> OpenFds(kernel::Task& t) { return t.fds().Fds(); }

std::string StatusText(ProcFs& fs, kernel::Task& t) {
  const kernel::Credentials& c = t.creds();
  pid_t tgid = t.thread_group().tgid();
  mode_t umask;
  {
    std::lock_guard lock(t.fs().mu);
    umask = t.fs().umask;
  }
  VmStats vm = VmStatsOf(t);
  SignalSets sigs = SignalSetsOf(t);
  auto kb = [](uint64_t bytes) { return absl::StrFormat("%8u kB", bytes / 1024); };
  unsigned cpus = fs.host().num_cpus;
  std::string s;
  absl::StrAppend(&s, "Name:\t", CommOf(t), "\n");
  absl::StrAppendFormat(&s, "Umask:\t%04o\n", umask);
  absl::StrAppend(&s, "State:\t", IsReader(fs, t) ? "R (running)" : "S (sleeping)", "\n");
  absl::StrAppend(&s, "Tgid:\t", tgid, "\nNgid:\t0\nPid:\t", t.tid(), "\n");
  absl::StrAppend(&s, "PPid:\t", t.thread_group().ppid(), "\nTracerPid:\t0\n");
  // The fs IDs follow the effective ones: nothing sets them apart yet.
  absl::StrAppend(&s, "Uid:\t", c.ruid, "\t", c.euid, "\t", c.suid, "\t", c.euid, "\n");
  absl::StrAppend(&s, "Gid:\t", c.rgid, "\t", c.egid, "\t", c.sgid, "\t", c.egid, "\n");
  // Linux ends the list of supplementary groups with a space, even an empty one.
  absl::StrAppend(&s, "FDSize:\t", FdTableSize(OpenFds(t)), "\nGroups:\t");
  for (uint32_t g : t.groups()) absl::StrAppend(&s, g, " ");
  absl::StrAppend(&s, " \n");
  // No process groups or sessions yet: every process leads its own, as init does.
  absl::StrAppend(&s, "NStgid:\t", tgid, "\nNSpid:\t", t.tid(), "\nNSpgid:\t", tgid, "\nNSsid:\t",
                  tgid, "\n");
  absl::StrAppend(&s, "VmPeak:\t", kb(vm.size), "\nVmSize:\t", kb(vm.size), "\n");
  absl::StrAppend(&s, "VmLck:\t", kb(0), "\nVmPin:\t", kb(0), "\n");
  absl::StrAppend(&s, "VmHWM:\t", kb(vm.rss), "\nVmRSS:\t", kb(vm.rss), "\n");
  absl::StrAppend(&s, "RssAnon:\t", kb(vm.rss_anon), "\nRssFile:\t", kb(vm.rss_file),
                  "\nRssShmem:\t", kb(0), "\n");
  absl::StrAppend(&s, "VmData:\t", kb(vm.data), "\nVmStk:\t", kb(vm.stack), "\nVmExe:\t",
                  kb(vm.exe), "\nVmLib:\t", kb(vm.lib), "\n");
  absl::StrAppend(&s, "VmPTE:\t", kb(0), "\nVmSwap:\t", kb(0), "\nHugetlbPages:\t", kb(0), "\n");
  absl::StrAppend(&s, "CoreDumping:\t0\nTHP_enabled:\t1\n");
  absl::StrAppend(&s, "Threads:\t", ThreadCount(fs, t), "\n");
  absl::StrAppend(&s, "SigQ:\t0/", LimitOf(t, RLIMIT_SIGPENDING).cur, "\n");
  // Signals are not queued yet, so nothing is ever pending.
  absl::StrAppendFormat(&s, "SigPnd:\t%016x\nShdPnd:\t%016x\n", 0, 0);
  absl::StrAppendFormat(&s, "SigBlk:\t%016x\nSigIgn:\t%016x\nSigCgt:\t%016x\n", t.signal_mask(),
                        sigs.ignored, sigs.caught);
  absl::StrAppendFormat(&s, "CapInh:\t%016x\nCapPrm:\t%016x\nCapEff:\t%016x\n", c.cap_inheritable,
                        c.cap_permitted, c.cap_effective);
  absl::StrAppendFormat(&s, "CapBnd:\t%016x\nCapAmb:\t%016x\n", c.cap_bounding, 0);
  // Seccomp: the application installs no filter in the sandbox (the sentry's own filters are
  // the host's business and must not show here).
  absl::StrAppend(&s, "NoNewPrivs:\t", t.no_new_privs() ? 1 : 0,
                  "\nSeccomp:\t0\nSeccomp_filters:\t0\n");
  absl::StrAppend(&s, "Speculation_Store_Bypass:\tunknown\nSpeculationIndirectBranch:\tunknown\n");
  absl::StrAppend(&s, "Cpus_allowed:\t", CpuMask(cpus), "\nCpus_allowed_list:\t", CpuList(cpus),
                  "\n");
  absl::StrAppend(&s, "Mems_allowed:\t1\nMems_allowed_list:\t0\n");
  absl::StrAppend(&s, "voluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n");
  return s;
}

std::string StatText(ProcFs& fs, kernel::Task& t) {
  pid_t tgid = t.thread_group().tgid();
  VmStats vm = VmStatsOf(t);
  SignalSets sigs = SignalSetsOf(t);
  auto [utime, stime] = CpuTicks(t);
  kernel::Rlimit rss = LimitOf(t, RLIMIT_RSS);
  // Fields the sentry does not know (fault counts, the start time, code and stack addresses)
  // are 0, which is also what Linux shows them as to readers without ptrace access.
  return absl::StrFormat(
      "%d (%s) %c %d %d %d 0 -1 %u 0 0 0 0 %u %u 0 0 20 0 %u 0 0 %u %u %u 0 0 0 0 0 0 %u %u "
      "%u 0 0 0 %d 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
      t.tid(), CommOf(t), IsReader(fs, t) ? 'R' : 'S', t.thread_group().ppid(), tgid, tgid,
      0x400000u /* PF_RANDOMIZE */, utime, stime, ThreadCount(fs, t), vm.size, vm.rss / kPageSize,
      rss.cur, t.signal_mask(), sigs.ignored, sigs.caught, SIGCHLD);
}

std::string StatmText(kernel::Task& t) {
  // size resident shared text lib data dt, in pages.
  VmStats vm = VmStatsOf(t);
  return absl::StrFormat("%u %u %u %u 0 %u 0\n", vm.size / kPageSize, vm.rss / kPageSize,
                         vm.rss_file / kPageSize, vm.exe / kPageSize,
                         (vm.data + vm.stack) / kPageSize);
}

std::string CmdlineText(const kernel::Task& t) {
  // The arguments as exec gave them, each ended by a NUL. Linux reads them from the
  // application's memory (so a program may rewrite them); the sentry keeps exec's copy.
  std::string s;
  for (const std::string& arg : t.argv()) {
    s += arg;
    s.push_back('\0');
  }
  return s;
}

std::string LimitsText(kernel::Task& t) {
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
    kernel::Rlimit r = LimitOf(t, row.resource);
    absl::StrAppendFormat(&s, "%-25s %-20s %-20s ", row.name, value(r.cur), value(r.max));
    if (row.unit != nullptr) absl::StrAppendFormat(&s, "%-10s", row.unit);
    s += '\n';
  }
  return s;
}

std::string MountsText(ProcFs& fs, kernel::Task& t) {
  vfs::MountNamespace& mounts = t.kernel().mounts();
  vfs::VirtualDentry root = ReaderRoot(fs, t);
  std::string s;
  for (const auto& m : mounts.Mounts()) {
    absl::StrAppend(&s, Mangle(m->source()), " ", Mangle(MountPointOf(m, mounts, root)), " ",
                    m->fs_type(), " ", MountOptions(*m), " 0 0\n");
  }
  return s;
}

std::string MountInfoText(ProcFs& fs, kernel::Task& t) {
  vfs::MountNamespace& mounts = t.kernel().mounts();
  vfs::VirtualDentry root = ReaderRoot(fs, t);
  std::string s;
  for (const auto& m : mounts.Mounts()) {
    int id = fs.MountId(m);
    auto parent = m->parent();
    // The namespace's root mount sits on nothing visible; Linux's own root names itself.
    int parent_id = parent ? fs.MountId(parent) : id;
    dev_t dev = 0;
    if (auto st = m->root()->inode().Stat()) dev = st->st_dev;
    absl::StrAppendFormat(&s, "%d %d %u:%u %s %s %s - %s %s %s\n", id, parent_id, major(dev),
                          minor(dev), Mangle(m->root()->PathInFilesystem()),
                          Mangle(MountPointOf(m, mounts, root)), MountOptions(*m), m->fs_type(),
                          Mangle(m->source()), m->read_only() ? "ro" : "rw");
  }
  return s;
}

std::string FileName(ProcFs& fs, kernel::Task& owner, vfs::FileDescription& file) {
  if (file.path().dentry) return owner.kernel().mounts().PathOf(file.path(), ReaderRoot(fs, owner));
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
// A pidfd adds the process's id.
std::string PidFdInfo(vfs::FileDescription& file) {
  auto* pidfd = dynamic_cast<kernel::PidFdFile*>(&file);
  return pidfd ? pidfd->FdInfoLines() : std::string();
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
