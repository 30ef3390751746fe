// /proc/PID and /proc/PID/task/TID: the directories, and the texts of their files.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sentry/fsimpl/proc/inodes.h"
#include "sentry/kernel/task.h"

namespace sentry::fsimpl::proc {

// The directory of the task `ref` names: with `process_view`, /proc/ID (with task/; ID is a
// process's, or a thread's, which Linux resolves though it does not list it), else
// /proc/TGID/task/TID.
std::shared_ptr<ProcInode> NewTaskDir(std::shared_ptr<ProcFs> fs, TaskRef ref, bool process_view);

// /proc/PID/mem (mem_file.cc).
std::shared_ptr<ProcInode> NewMemFile(std::shared_ptr<ProcFs> fs, uint64_t ino, TaskRef ref);

// A PID or fd as procfs spells it: decimal digits, no sign, no leading zero; else nullopt.
std::optional<pid_t> ParsePid(std::string_view name);

// A task's root and working directory (copied under its FsContext lock).
vfs::VirtualDentry RootOf(kernel::Task& t);
vfs::VirtualDentry CwdOf(kernel::Task& t);
// The root paths are shown from: the reading task's, or else the mount tree's.
vfs::VirtualDentry ReaderRoot(const ProcFs& fs);

// Whether the reading task may look into `s`'s memory and files (environ, fd/): Linux's
// ptrace_may_access in its PTRACE_MODE_READ_FSCREDS form. The same process always may; else
// the reader needs CAP_SYS_PTRACE, or the target's real, effective and saved IDs must all be
// the reader's. EACCES otherwise.
Result<void> MayReadPrivate(const ProcFs& fs, const Subject& s);

// The texts. Each reads the subject's state at the moment it is called; a subject whose task
// has exited (a zombie) shows what Linux shows of one.
std::string CommOf(const Subject& s);  // what exec set: the file name, 15 bytes at most
std::string StatusText(ProcFs& fs, const Subject& s);
std::string StatText(ProcFs& fs, const Subject& s);
std::string StatmText(const Subject& s);
// cmdline and environ: read from the task's memory between the bounds exec recorded.
Result<std::string> CmdlineText(const Subject& s);
Result<std::string> EnvironText(const Subject& s);
std::string LimitsText(const Subject& s);
std::string MountsText(ProcFs& fs);
std::string MountInfoText(ProcFs& fs);
// What /proc/PID/fd/N reads as for `file`: its path from the reader's root, or for a file with
// no place in the tree "pipe:[INO]", "socket:[INO]", a device's /dev name, or
// "anon_inode:[unknown]".
std::string FileName(ProcFs& fs, vfs::FileDescription& file);
std::string FdInfoText(ProcFs& fs, vfs::FileDescription& file, bool cloexec);

// CPU time in clock ticks (USER_HZ): the application's own (user), and the sentry's serving it
// (system: the work Linux would count there). The second reads the calling thread's clock, so
// it is exact for the reading task only.
std::pair<uint64_t, uint64_t> CpuTicks(kernel::Task& t);
inline constexpr uint64_t kTicksPerSecond = 100;

// The task's open fd numbers, ascending; none once it has exited.
std::vector<int> OpenFds(kernel::Task& t);

// The memory figures of status and statm, in bytes, taken from the task's maps.
struct VmStats {
  uint64_t size = 0;  // every mapping
  uint64_t rss = 0;   // accessible mappings (the sentry does not track residency; see .cc)
  uint64_t rss_anon = 0;
  uint64_t rss_file = 0;
  uint64_t data = 0;  // private writable, stack excluded
  uint64_t stack = 0;
  uint64_t exe = 0;  // executable mappings of the program file
  uint64_t lib = 0;  // other executable file mappings
};
VmStats VmStatsOf(kernel::Task& t);

}  // namespace sentry::fsimpl::proc
