#include "sentry/kernel/kernel.h"

#include <sys/wait.h>

#include "absl/strings/str_cat.h"
#include "sentry/fsimpl/host/host_file.h"
#include "sentry/kernel/task.h"
#include "sentry/loader/loader.h"
#include "sentry/vfs/resolve.h"
#include "spdlog/spdlog.h"

namespace sentry::kernel {

Kernel::Kernel(KernelOptions options, std::unique_ptr<mm::MemoryFile> memory,
               std::unique_ptr<platform::Platform> platform)
    : options_(std::move(options)), memory_(std::move(memory)), platform_(std::move(platform)) {}

Kernel::~Kernel() = default;

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
  auto tg = std::make_shared<ThreadGroup>(kInitPid, 0);
  auto as = platform_->NewAddressSpace();
  if (!as.ok()) return std::unexpected(StartError{EIO, std::string(as.status().message())});
  auto context = platform_->NewContext();
  if (!context.ok()) {
    return std::unexpected(StartError{EIO, std::string(context.status().message())});
  }

  uint64_t stack_limit = tg->limits().Get(RLIMIT_STACK).cur;
  auto shared = platform_->SharedRegions();
  auto mm = std::make_shared<mm::MemoryManager>(
      *memory_, std::move(*as),
      loader::ChooseLayout(platform_->MaxUserAddress(), stack_limit, shared), shared);
  loader::ExecArgs exec{.execfn = args.path,
                        .argv = std::move(args.argv),
                        .envp = std::move(args.envp),
                        .uid = options_.uid,
                        .euid = options_.uid,
                        .gid = options_.gid,
                        .egid = options_.gid};
  if (exec.argv.empty()) exec.argv.push_back(args.path);
  std::vector<std::string> argv_copy = exec.argv;

  auto fs = std::make_shared<FsContext>();
  fs->root = fs->cwd = mounts_->Root();
  vfs::FsCredentials creds{.uid = options_.uid, .gid = options_.gid, .groups = {},
                           .dac_override = options_.uid == 0};
  vfs::ResolveContext rctx{*mounts_, fs->root, creds};
  if (auto cwd = vfs::Resolve(rctx, fs->root, args.cwd, vfs::kFollowFinal | vfs::kMustBeDir)) {
    fs->cwd = *cwd;
  } else {
    spdlog::warn("working directory {} is not in the sandbox; using /", args.cwd);
  }
  // Opens an executable file as execve does: a regular file someone may execute, on a mount
  // that allows it.
  loader::FileOpener open = [&](const std::string& path) -> Result<std::shared_ptr<vfs::FileDescription>> {
    vfs::ResolveContext ctx{*mounts_, fs->root, creds};
    vfs::VirtualDentry vd = TRY(vfs::Resolve(ctx, fs->cwd, path, vfs::kFollowFinal));
    if (vd.inode().IsDir()) return Err(EACCES);
    struct stat st = TRY(vd.inode().Stat());
    if (!S_ISREG(st.st_mode) || (vd.mount->flags() & MS_NOEXEC) ||
        !vfs::MayAccess(st, creds, X_OK)) {
      return Err(EACCES);
    }
    return vd.inode().Open(vd, O_RDONLY);
  };
  auto exe = open(args.path);
  if (!exe) {
    return std::unexpected(StartError{exe.error().value,
                                      absl::StrCat(args.path, ": ", strerror(exe.error().value))});
  }
  auto state = loader::Load(*mm, **exe, exec, open);
  if (!state) {
    return std::unexpected(StartError{
        state.error().err,
        absl::StrCat(args.path, ": ", strerror(state.error().err), ": ", state.error().message)});
  }
  exe->reset();

  auto fds = std::make_shared<vfs::FdTable>();
  for (size_t i = 0; i < args.stdio.size(); ++i) {
    (void)fds->InstallAt(static_cast<int>(i),
                         fsimpl::host::HostFile::Create(std::move(args.stdio[i])), false);
  }
  Task task(*this, tg, kInitPid, std::move(mm), std::move(fds), std::move(fs),
            std::move(*context));
  task.state() = *state;
  task.set_exe_path(args.path);
  task.set_argv(std::move(argv_copy));
  int status = task.Run();
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

}  // namespace sentry::kernel
