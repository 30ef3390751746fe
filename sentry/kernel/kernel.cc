#include "sentry/kernel/kernel.h"

#include <sys/wait.h>
#include <time.h>

#include "absl/strings/str_cat.h"
#include "sentry/fsimpl/host/host_file.h"
#include "sentry/kernel/ipc/ipc_namespace.h"
#include "sentry/kernel/ctty.h"
#include "sentry/kernel/task.h"
#include "sentry/loader/loader.h"
#include "sentry/vfs/resolve.h"
#include "spdlog/spdlog.h"

namespace sentry::kernel {

Kernel::Kernel(KernelOptions options, std::unique_ptr<mm::MemoryFile> memory,
               std::unique_ptr<platform::Platform> platform)
    : options_(std::move(options)), memory_(std::move(memory)), platform_(std::move(platform)) {
  clock_gettime(CLOCK_BOOTTIME, &boot_boottime_);
  ipc_ = std::make_unique<ipc::IpcNamespace>(*memory_);
  auto vdso = loader::Vdso::Create(
      *memory_, {.tsc_clocks = options_.vdso_tsc_clocks, .num_cpus = options_.num_cpus});
  if (vdso.ok()) {
    vdso_ = std::move(*vdso);
  } else {
    spdlog::warn("no vDSO: {}", vdso.status().ToString());
  }
}

uint64_t Kernel::UptimeNs() const {
  timespec now{};
  clock_gettime(CLOCK_BOOTTIME, &now);
  int64_t ns = (now.tv_sec - boot_boottime_.tv_sec) * 1'000'000'000LL +
               (now.tv_nsec - boot_boottime_.tv_nsec);
  return ns > 0 ? static_cast<uint64_t>(ns) : 0;
}

std::vector<std::shared_ptr<Task>> Kernel::AllTasks() {
  absl::MutexLock lock(&procs_mu_);
  std::vector<std::shared_ptr<Task>> out;
  for (auto& [tid, weak] : task_index_) {
    if (auto t = weak.lock()) out.push_back(std::move(t));
  }
  return out;
}

size_t Kernel::NumTasks() {
  absl::MutexLock lock(&procs_mu_);
  size_t n = 0;
  for (auto& [tid, weak] : task_index_) n += weak.expired() ? 0 : 1;
  return n;
}

Kernel::~Kernel() = default;

std::shared_ptr<vfs::Mount> Kernel::InternalMount(
    std::string_view key, absl::FunctionRef<std::shared_ptr<vfs::Mount>()> make) {
  absl::MutexLock lock(&internal_mounts_mu_);
  auto it = internal_mounts_.find(key);
  if (it == internal_mounts_.end()) it = internal_mounts_.emplace(std::string(key), make()).first;
  return it->second;
}

void Kernel::ReportUnsupported(uint64_t nr) {
  if (nr >= reported_.size()) nr = reported_.size() - 1;
  while (report_lock_.test_and_set(std::memory_order_acquire)) {
  }
  bool first = !reported_.test(nr);
  reported_.set(nr);
  report_lock_.clear(std::memory_order_release);
  if (first) spdlog::info("unsupported syscall {}: returning ENOSYS", nr);
}

std::expected<int, StartError> Kernel::RunInit(InitProcessArgs args) {
  constexpr pid_t kInitPid = 1;
  auto tg = std::make_shared<ThreadGroup>(kInitPid, nullptr);
  {
    absl::MutexLock lock(&procs_mu_);
    init_ = tg;
  }
  auto context = platform_->NewContext();
  if (!context.ok()) {
    return std::unexpected(StartError{EIO, std::string(context.status().message())});
  }
  auto fs = std::make_shared<FsContext>();
  fs->root = fs->cwd = mounts_->Root();
  PrepareFirstTask(*tg, *fs, args.identity);
  const Credentials creds = StartingCredentials(args.identity);
  vfs::FsCredentials fcreds{
      .uid = creds.euid,
      .gid = creds.egid,
      .groups = args.identity ? args.identity->groups : std::vector<uint32_t>{},
      .dac_override = creds.HasCapability(CAP_DAC_OVERRIDE)};
  vfs::ResolveContext rctx{*mounts_, fs->root, fcreds};
  if (auto cwd = vfs::Resolve(rctx, fs->root, args.cwd, vfs::kFollowFinal | vfs::kMustBeDir)) {
    fs->cwd = *cwd;
  } else {
    spdlog::warn("working directory {} is not in the sandbox; using /", args.cwd);
  }
  if (args.argv.empty()) args.argv.push_back(args.path);
  std::string error;
  auto program = LoadProgram({fs->root, fs->cwd}, creds, tg->limits().Get(RLIMIT_STACK).cur,
                             args.path, std::move(args.argv), std::move(args.envp), &error);
  if (!program) {
    int err = program.error().value;
    std::string msg = absl::StrCat(args.path, ": ", strerror(err));
    if (!error.empty()) absl::StrAppend(&msg, ": ", error);
    return std::unexpected(StartError{err, msg});
  }

  auto task = NewFirstTask(tg, std::move(*program), args, std::move(fs), std::move(*context));
  RunTask(std::move(task));
  // The sandbox ends with init's process, not with its first thread.
  int status;
  {
    absl::MutexLock lock(&procs_mu_);
    procs_mu_.Await(absl::Condition(&tg->exited_));
    status = tg->wait_status_;
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

std::shared_ptr<Task> Kernel::NewFirstTask(std::shared_ptr<ThreadGroup> tg, LoadedProgram program,
                                           InitProcessArgs& args,
                                           std::shared_ptr<FsContext> fs,
                                           std::unique_ptr<platform::Context> context) {
  const std::optional<ProcessIdentity>& identity = args.identity;
  auto fds = std::make_shared<vfs::FdTable>();
  for (size_t i = 0; i < args.stdio.size(); ++i) {
    (void)fds->InstallAt(static_cast<int>(i),
                         fsimpl::host::HostFile::Create(std::move(args.stdio[i])), false);
  }
  for (size_t i = 0; i < args.stdio_files.size(); ++i) {
    (void)fds->InstallAt(static_cast<int>(i), args.stdio_files[i], false);
  }
  pid_t pid = tg->tgid();
  if (args.terminal) {
    // A session of its own, whose controlling terminal is the console runsc gave it.
    tg->set_sid(pid);
    tg->set_pgid(pid);
    if (SetSessionTerminal(pid, args.terminal)) (void)args.terminal->AttachSession(pid, pid);
  }
  auto task = std::make_shared<Task>(*this, tg, pid, std::move(program.mm), std::move(fds),
                                     std::move(fs), std::move(context));
  task->set_creds(StartingCredentials(identity));
  if (identity) {
    task->set_groups(identity->groups);
    if (identity->no_new_privs) task->set_no_new_privs();
  }
  task->state() = program.state;
  task->set_exe_path(program.execfn);
  task->set_argv(std::move(program.argv));
  task->set_exec_strings(program.strings);
  RegisterTask(task);
  return task;
}

Credentials Kernel::StartingCredentials(const std::optional<ProcessIdentity>& identity) const {
  uint32_t uid = identity ? identity->uid : options_.uid;
  uint32_t gid = identity ? identity->gid : options_.gid;
  Credentials c{uid, uid, uid, gid, gid, gid};
  if (identity && identity->caps) {
    const auto& caps = *identity->caps;
    c.cap_bounding = caps.bounding & kAllCaps;
    c.cap_effective = caps.effective & kAllCaps;
    c.cap_permitted = caps.permitted & kAllCaps;
    c.cap_inheritable = caps.inheritable & kAllCaps;
    c.cap_ambient = caps.ambient & kAllCaps;
  } else if (uid != 0) {
    c.cap_effective = c.cap_permitted = 0;  // as after setuid(2) away from root
  }
  return c;
}

void Kernel::PrepareFirstTask(ThreadGroup& tg, FsContext& fs,
                              const std::optional<ProcessIdentity>& identity) {
  if (!identity) return;
  for (const auto& [resource, limit] : identity->rlimits) {
    if (resource >= 0 && resource < RLIM_NLIMITS) tg.limits().Set(resource, limit);
  }
  if (identity->umask) fs.umask = *identity->umask & 0777;
}

}  // namespace sentry::kernel
