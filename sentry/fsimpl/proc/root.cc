// /proc itself: the system-wide files, /proc/sys, self and thread-self, and a directory per
// process. Also the default TaskLookup and NewProcRoot.
#include <dirent.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sentry/fsimpl/inotify/inotify.h"
#include "sentry/fsimpl/proc/proc.h"
#include "sentry/fsimpl/proc/sysctl_int.h"
#include "sentry/fsimpl/proc/task_files.h"
#include "sentry/kernel/ipc/ipc_namespace.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/limits.h"
#include "sentry/vfs/lease.h"

namespace sentry::fsimpl::proc {
namespace {

// The release uname(2) reports, and the version string after it.
constexpr const char* kRelease = "6.1.0";
constexpr const char* kUnameVersion = "#1 SMP PREEMPT_DYNAMIC sandbox";
// Linux's default on 64-bit machines with many CPUs, and what the PID allocator may reach.
constexpr const char* kPidMax = "4194304";
// Without a host figure (HostProcSnapshot left empty), meminfo shows this much memory.
constexpr uint64_t kDefaultMemTotal = uint64_t{4} << 30;
// The file systems mount(2) inside the sandbox knows by name.
constexpr const char* kFilesystems = "nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tmqueue\n";

// Every running task, for the system-wide figures.
std::vector<std::shared_ptr<kernel::Task>> AllTasks(const ProcFs& fs) {
  return fs.kernel().AllTasks();
}

// Busy CPU time of the whole sandbox, in ticks: user and system.
std::pair<uint64_t, uint64_t> SandboxCpuTicks(const ProcFs& fs) {
  uint64_t user = 0, sys = 0;
  for (const auto& t : AllTasks(fs)) {
    auto [u, s] = CpuTicks(*t);
    user += u;
    sys += s;
  }
  return {user, sys};
}

std::string CpuinfoText(const ProcFs& fs) {
  if (!fs.host().cpuinfo.empty()) return fs.host().cpuinfo;
  // No host text to show: the fields programs look for, with nothing claimed about the CPU.
  std::string s;
  for (unsigned i = 0; i < fs.host().num_cpus; ++i) {
    absl::StrAppendFormat(&s,
                          "processor\t: %u\nvendor_id\t: unknown\nmodel name\t: unknown\n"
                          "physical id\t: 0\ncore id\t\t: %u\ncpu cores\t: %u\n\n",
                          i, i, fs.host().num_cpus);
  }
  return s;
}

std::string MeminfoText(const ProcFs& fs) {
  // MemTotal is the host's memory at boot. The sandbox's own use is what its MemoryFile holds
  // (all application memory); the rest counts as free. Of that, the pages that cache host
  // files (the gofer's page cache) are Cached, as file pages: active while mapped, inactive
  // (and available, as the sentry gives them back when short) while kept for files nobody
  // maps. Everything else counts as anonymous. Slab and swap have no meaning here and read 0.
  auto& memory = fs.kernel().memory_file();
  uint64_t total = fs.host().mem_total_bytes;
  uint64_t used = std::min(memory.AllocatedBytes(), total);
  uint64_t cached = std::min(memory.FileCacheBytes(), used);
  uint64_t inactive_file = std::min(memory.ReclaimableBytes(), cached);
  uint64_t anon = used - cached;
  uint64_t free = total - used;
  std::string s;
  auto kb = [&](const char* name, uint64_t bytes) {
    absl::StrAppendFormat(&s, "%-16s%8u kB\n", absl::StrCat(name, ":"), bytes / 1024);
  };
  auto count = [&](const char* name, uint64_t n) {
    absl::StrAppendFormat(&s, "%-16s%8u\n", absl::StrCat(name, ":"), n);
  };
  kb("MemTotal", total);
  kb("MemFree", free);
  kb("MemAvailable", free + inactive_file);
  kb("Buffers", 0);
  kb("Cached", cached);
  kb("SwapCached", 0);
  kb("Active", used - inactive_file);
  kb("Inactive", inactive_file);
  kb("Active(anon)", anon);
  kb("Inactive(anon)", 0);
  kb("Active(file)", cached - inactive_file);
  kb("Inactive(file)", inactive_file);
  for (const char* name :
       {"Unevictable", "Mlocked", "SwapTotal", "SwapFree", "Dirty", "Writeback"}) {
    kb(name, 0);
  }
  kb("AnonPages", anon);
  for (const char* name : {"Mapped", "Shmem", "KReclaimable", "Slab", "SReclaimable", "SUnreclaim",
                           "KernelStack", "PageTables", "NFS_Unstable", "Bounce", "WritebackTmp"}) {
    kb(name, 0);
  }
  kb("CommitLimit", total / 2);  // overcommit_ratio 50 and no swap
  kb("Committed_AS", anon);
  kb("VmallocTotal", uint64_t{34359738367} * 1024);
  for (const char* name : {"VmallocUsed", "VmallocChunk", "Percpu", "AnonHugePages",
                           "ShmemHugePages", "ShmemPmdMapped", "FileHugePages", "FilePmdMapped"}) {
    kb(name, 0);
  }
  for (const char* name :
       {"HugePages_Total", "HugePages_Free", "HugePages_Rsvd", "HugePages_Surp"}) {
    count(name, 0);
  }
  kb("Hugepagesize", 2048 * 1024);
  kb("Hugetlb", 0);
  kb("DirectMap4k", 0);
  kb("DirectMap2M", total);
  kb("DirectMap1G", 0);
  return s;
}

// Idle ticks of each CPU: the time since boot that the sandbox's tasks did not use, spread
// evenly, so that busy plus idle grows with the clock as tools expect.
uint64_t IdleTicksPerCpu(const ProcFs& fs, uint64_t busy) {
  uint64_t up = fs.UptimeNs() / (1'000'000'000 / kTicksPerSecond);
  uint64_t share = busy / fs.host().num_cpus;
  return up > share ? up - share : 0;
}

std::string SystemStatText(const ProcFs& fs) {
  auto [user, sys] = SandboxCpuTicks(fs);
  unsigned cpus = fs.host().num_cpus;
  uint64_t idle = IdleTicksPerCpu(fs, user + sys);
  std::string s = absl::StrFormat("cpu  %u 0 %u %u 0 0 0 0 0 0\n", user, sys, idle * cpus);
  for (unsigned i = 0; i < cpus; ++i) {
    absl::StrAppendFormat(&s, "cpu%u %u 0 %u %u 0 0 0 0 0 0\n", i, user / cpus, sys / cpus, idle);
  }
  size_t tasks = AllTasks(fs).size();
  absl::StrAppendFormat(&s,
                        "intr 0\nctxt 0\nbtime %d\nprocesses %u\nprocs_running %u\n"
                        "procs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n",
                        fs.boot_realtime().tv_sec, tasks, ProcFs::Reader() ? 1 : 0);
  return s;
}

std::string UptimeText(const ProcFs& fs) {
  auto [user, sys] = SandboxCpuTicks(fs);
  uint64_t idle = IdleTicksPerCpu(fs, user + sys) * fs.host().num_cpus;
  uint64_t up_cs = fs.UptimeNs() / 10'000'000;  // hundredths of a second
  return absl::StrFormat("%u.%02u %u.%02u\n", up_cs / 100, up_cs % 100, idle / kTicksPerSecond,
                         idle % kTicksPerSecond);
}

std::string LoadavgText(const ProcFs& fs) {
  // No run queue to average: the load is 0. "running/total" counts threads; the last field is
  // the most recent PID, which the highest TID stands in for.
  auto tasks = AllTasks(fs);
  pid_t last = 0;
  for (const auto& t : tasks) last = std::max(last, t->tid());
  return absl::StrFormat("0.00 0.00 0.00 %u/%u %d\n", ProcFs::Reader() ? 1 : 0, tasks.size(), last);
}

class RootDir : public ProcDir {
 public:
  RootDir(std::shared_ptr<ProcFs> fs, std::vector<Child> children)
      : ProcDir(std::move(fs), 0555, /*ino=*/1, TaskRef{}, std::move(children)) {}

 protected:
  Result<std::shared_ptr<ProcInode>> DynamicLookup(std::string_view name) override {
    // Any thread can be looked up by its TID, though only processes are listed (as on Linux).
    auto pid = ParsePid(name);
    if (!pid) return Err(ENOENT);
    if (auto ref = fs().RefTo(*pid, *pid, /*thread=*/false)) {
      return NewTaskDir(fs_ptr(), std::move(*ref), /*process_view=*/true);
    }
    auto thread = fs().kernel().FindTask(*pid);
    if (!thread) return Err(ENOENT);
    TaskRef ref = TRY(fs().RefTo(thread->thread_group().tgid(), *pid, /*thread=*/true));
    return NewTaskDir(fs_ptr(), std::move(ref), /*process_view=*/true);
  }
  Result<std::vector<vfs::DirEntry>> DynamicEntries() override {
    std::vector<vfs::DirEntry> out;
    for (pid_t pid : fs().kernel().ProcessIds()) {
      out.push_back({InoFor(absl::StrCat("p/", pid)), DT_DIR, absl::StrCat(pid)});
    }
    return out;
  }
  nlink_t DynamicSubdirs() const override { return fs().kernel().ProcessIds().size(); }
};

using Text = std::function<std::string(const ProcFs&)>;

// A file in /proc or /proc/sys.
ProcDir::Child File(const std::shared_ptr<ProcFs>& fs, std::string name, std::string key,
                    mode_t perms, Text text, WritePolicy writes, bool seek_end_ok = false) {
  uint64_t ino = InoFor(key);
  auto gen = [fs, text = std::move(text)]() -> Result<std::string> { return text(*fs); };
  return {std::move(name), DT_REG, [fs, ino, perms, gen, writes, seek_end_ok] {
            return std::make_shared<GeneratedFile>(fs, perms, ino, TaskRef{}, gen, writes,
                                                   seek_end_ok);
          }};
}

ProcDir::Child Dir(const std::shared_ptr<ProcFs>& fs, std::string name, std::string key,
                   std::vector<ProcDir::Child> children, bool sysctl) {
  uint64_t ino = InoFor(key);
  return {std::move(name), DT_DIR, [fs, ino, children = std::move(children), sysctl] {
            return std::make_shared<ProcDir>(fs, 0555, ino, TaskRef{}, children, sysctl);
          }};
}

ProcDir::Child Link(const std::shared_ptr<ProcFs>& fs, std::string name, ProcSymlink::Text text) {
  uint64_t ino = InoFor(absl::StrCat("g/", name));
  return {std::move(name), DT_LNK, [fs, ino, text = std::move(text)] {
            return std::make_shared<ProcSymlink>(fs, 0777, ino, TaskRef{}, text);
          }};
}

// A sysctl: seekable from its end, and never writable from inside the sandbox (the host's
// tunables are not the sandbox's to change; hostname would be, but has no setter yet).
ProcDir::Child Sysctl(const std::shared_ptr<ProcFs>& fs, std::string dir, std::string name,
                      mode_t perms, Text text) {
  std::string key = absl::StrCat("g/sys/", dir, "/", name);
  return File(fs, std::move(name), std::move(key), perms, std::move(text), WritePolicy::kOpenEacces,
              /*seek_end_ok=*/true);
}

// A sysctl the sandbox's root may write (mode 0644 keeps others out, as on Linux).
ProcDir::Child IntSysctlChild(const std::shared_ptr<ProcFs>& fs, std::string dir, std::string name,
                              std::function<int()> get, std::function<void(int)> set) {
  uint64_t ino = InoFor(absl::StrCat("g/sys/", dir, "/", name));
  return {std::move(name), DT_REG, [fs, ino, get = std::move(get), set = std::move(set)] {
            return std::make_shared<IntSysctl>(fs, 0644, ino, get, set);
          }};
}

Text Fixed(std::string s) {
  return [s = std::move(s)](const ProcFs&) { return s; };
}

std::vector<ProcDir::Child> RootChildren(const std::shared_ptr<ProcFs>& fs) {
  auto global = [&](std::string name, Text text) {
    std::string key = absl::StrCat("g/", name);
    return File(fs, std::move(name), std::move(key), 0444, std::move(text), WritePolicy::kWriteEio);
  };
  std::vector<ProcDir::Child> sys = {
      Dir(fs, "fs", "g/sys/fs",
          {Dir(fs, "inotify", "g/sys/fs/inotify",
               {Sysctl(fs, "fs/inotify", "max_queued_events", 0644,
                       Fixed(absl::StrCat(inotify::kMaxQueuedEvents, "\n"))),
                Sysctl(fs, "fs/inotify", "max_user_instances", 0644,
                       Fixed(absl::StrCat(inotify::kMaxUserInstances, "\n"))),
                Sysctl(fs, "fs/inotify", "max_user_watches", 0644,
                       Fixed(absl::StrCat(inotify::kMaxUserWatches, "\n")))},
               true),
           IntSysctlChild(fs, "fs", "lease-break-time", vfs::LeaseBreakTime,
                          vfs::SetLeaseBreakTime),
           IntSysctlChild(fs, "fs", "leases-enable", vfs::LeasesEnable, vfs::SetLeasesEnable),
           Sysctl(fs, "fs", "nr_open", 0644, Fixed(absl::StrCat(kernel::kNrOpen, "\n")))},
          true),
      Dir(fs, "kernel", "g/sys/kernel",
          {Sysctl(fs, "kernel", "hostname", 0644,
                  [](const ProcFs& f) { return f.kernel().options().hostname + "\n"; }),
           Sysctl(fs, "kernel", "msgmax", 0644, Fixed(absl::StrCat(kernel::ipc::kMsgMax, "\n"))),
           Sysctl(fs, "kernel", "msgmnb", 0644, Fixed(absl::StrCat(kernel::ipc::kMsgMnb, "\n"))),
           Sysctl(fs, "kernel", "msgmni", 0644, Fixed(absl::StrCat(kernel::ipc::kMsgMni, "\n"))),
           Sysctl(fs, "kernel", "osrelease", 0444, Fixed(absl::StrCat(kRelease, "\n"))),
           Sysctl(fs, "kernel", "ostype", 0444, Fixed("Linux\n")),
           Sysctl(fs, "kernel", "pid_max", 0644, Fixed(absl::StrCat(kPidMax, "\n"))),
           Sysctl(
               fs, "kernel", "sem", 0644,
               Fixed(absl::StrFormat("%d\t%d\t%d\t%d\n", kernel::ipc::kSemMsl, kernel::ipc::kSemMns,
                                     kernel::ipc::kSemOpm, kernel::ipc::kSemMni))),
           Sysctl(fs, "kernel", "shmall", 0644, Fixed(absl::StrCat(kernel::ipc::kShmAll, "\n"))),
           Sysctl(fs, "kernel", "shmmax", 0644, Fixed(absl::StrCat(kernel::ipc::kShmMax, "\n"))),
           Sysctl(fs, "kernel", "shmmni", 0644, Fixed(absl::StrCat(kernel::ipc::kShmMni, "\n")))},
          true),
      Dir(fs, "vm", "g/sys/vm", {Sysctl(fs, "vm", "overcommit_memory", 0644, Fixed("0\n"))}, true),
  };
  std::vector<ProcDir::Child> c = {
      global("cpuinfo", CpuinfoText),
      global("filesystems", Fixed(kFilesystems)),
      global("loadavg", LoadavgText),
      global("meminfo", MeminfoText),
      Link(fs, "mounts", [] { return Result<std::string>("self/mounts"); }),
      global("stat", SystemStatText),
      Dir(fs, "sys", "g/sys", std::move(sys), true),
      global("uptime", UptimeText),
      global("version",
             Fixed(absl::StrCat("Linux version ", kRelease, " (root@sandbox) (gcc version 12) ",
                                kUnameVersion, "\n"))),
  };
  // self and thread-self come after the fixed files and before the PIDs, as on Linux.
  c.push_back(Link(fs, "self", [fs]() -> Result<std::string> {
    kernel::Task* t = ProcFs::Reader();
    if (t == nullptr) return Err(ENOENT);
    return absl::StrCat(t->thread_group().tgid());
  }));
  c.push_back(Link(fs, "thread-self", [fs]() -> Result<std::string> {
    kernel::Task* t = ProcFs::Reader();
    if (t == nullptr) return Err(ENOENT);
    return absl::StrCat(t->thread_group().tgid(), "/task/", t->tid());
  }));
  return c;
}

}  // namespace

std::shared_ptr<vfs::Inode> NewProcRoot(kernel::Kernel& k, HostProcSnapshot host) {
  if (host.num_cpus == 0) host.num_cpus = 1;
  if (host.mem_total_bytes == 0) host.mem_total_bytes = kDefaultMemTotal;
  auto fs = std::make_shared<ProcFs>(k, std::move(host));
  return std::make_shared<RootDir>(fs, RootChildren(fs));
}

}  // namespace sentry::fsimpl::proc
