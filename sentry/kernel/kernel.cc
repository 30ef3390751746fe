#include "sentry/kernel/kernel.h"

#include <sys/wait.h>

#include "absl/strings/str_cat.h"
#include "sentry/fsimpl/host/host_file.h"
#include "sentry/kernel/task.h"
#include "sentry/loader/loader.h"
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
  auto state = loader::Load(*mm, args.executable.get(), exec);
  if (!state) {
    return std::unexpected(StartError{
        state.error().err,
        absl::StrCat(args.path, ": ", strerror(state.error().err), ": ", state.error().message)});
  }
  args.executable.Reset();

  auto fds = std::make_shared<vfs::FdTable>();
  for (size_t i = 0; i < args.stdio.size(); ++i) {
    fds->InstallAt(static_cast<int>(i), fsimpl::host::HostFile::Create(std::move(args.stdio[i])),
                   false);
  }
  Task task(*this, tg, kInitPid, std::move(mm), std::move(fds), std::move(*context));
  task.state() = *state;
  int status = task.Run();
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

}  // namespace sentry::kernel
