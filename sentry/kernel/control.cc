// The kernel's side of the control channel: what runsc asks of a running sandbox (exec, kill,
// wait, ps) through sentry/control. Kept apart from process.cc so that the syscall paths and
// these outside requests change independently.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/vfs/resolve.h"
#include "spdlog/spdlog.h"

namespace sentry::kernel {
namespace {

constexpr char kDefaultPath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// The candidates a shell would try for `name`, in order: itself when it has a slash, else each
// directory of the process's own $PATH.
std::vector<std::string> Candidates(const std::string& name, const std::vector<std::string>& envp) {
  if (name.find('/') != std::string::npos) return {name};
  std::string path = kDefaultPath;
  for (const std::string& e : envp) {
    if (e.starts_with("PATH=")) path = e.substr(5);
  }
  std::vector<std::string> out;
  for (auto dir : absl::StrSplit(path, ':')) {
    out.push_back(absl::StrCat(dir.empty() ? "." : dir, "/", name));
  }
  return out;
}

}  // namespace

std::expected<pid_t, StartError> Kernel::StartProcess(InitProcessArgs args) {
  if (args.argv.empty()) args.argv.push_back(args.path);
  const pid_t pid = *AllocatePid(0);  // never fails without a wanted id
  auto tg = std::make_shared<ThreadGroup>(pid, nullptr);

  // As in Fork: the address space must be built by the host thread that will run it.
  struct Handoff {
    absl::Mutex mu;
    bool done = false;
    std::optional<StartError> error;
  } handoff;
  std::thread([this, &handoff, &args, tg, pid]() {
    auto fail = [&](StartError e) {
      absl::MutexLock lock(&handoff.mu);
      handoff.error = std::move(e);
      handoff.done = true;
    };
    auto context = platform_->NewContext();
    if (!context.ok()) return fail({EAGAIN, std::string(context.status().message())});
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
    auto cwd = vfs::Resolve(rctx, fs->root, args.cwd, vfs::kFollowFinal | vfs::kMustBeDir);
    if (!cwd) return fail({cwd.error().value, absl::StrCat("cwd ", args.cwd)});
    fs->cwd = *cwd;
    Result<LoadedProgram> program = Err(ENOENT);
    std::string error;
    for (const std::string& candidate : Candidates(args.path, args.envp)) {
      program = LoadProgram({fs->root, fs->cwd}, creds, tg->limits().Get(RLIMIT_STACK).cur,
                            candidate, args.argv, args.envp, &error);
      if (program || program.error().value != ENOENT) break;
    }
    if (!program) {
      int err = program.error().value;
      std::string msg = err == ENOENT && args.path.find('/') == std::string::npos
                            ? absl::StrCat(args.path, ": executable file not found in $PATH")
                            : absl::StrCat(args.path, ": ", strerror(err));
      if (!error.empty()) absl::StrAppend(&msg, ": ", error);
      return fail({err, std::move(msg)});
    }
    auto task = NewFirstTask(tg, std::move(*program), args, std::move(fs), std::move(*context));
    {
      absl::MutexLock lock(&procs_mu_);
      started_.push_back(tg);
    }
    {
      absl::MutexLock lock(&handoff.mu);
      handoff.done = true;
    }
    // From here on handoff and args (the caller's) may be gone.
    RunTask(std::move(task));
  }).detach();

  absl::MutexLock lock(&handoff.mu);
  handoff.mu.Await(absl::Condition(&handoff.done));
  if (handoff.error) return std::unexpected(std::move(*handoff.error));
  return pid;
}

Result<int> Kernel::WaitProcess(pid_t pid) {
  absl::MutexLock lock(&procs_mu_);
  auto it = std::find_if(started_.begin(), started_.end(),
                         [&](const auto& tg) { return tg->tgid() == pid; });
  if (it == started_.end()) return Err(ESRCH);
  std::shared_ptr<ThreadGroup> tg = *it;
  procs_mu_.Await(absl::Condition(&tg->exited_));
  std::erase(started_, tg);
  tg_index_.erase(pid);
  tg->reaped_.store(true);
  return tg->wait_status_;
}

Result<void> Kernel::SignalProcess(pid_t pid, int sig) {
  if (sig < 1 || sig > kNumSignals) return Err(EINVAL);
  std::shared_ptr<ThreadGroup> tg;
  {
    absl::MutexLock lock(&procs_mu_);
    if (auto it = tg_index_.find(pid); it != tg_index_.end()) tg = it->second.lock();
    if (!tg || tg->exited_) return Err(ESRCH);
    if (tg->tasks_.empty()) return {};  // exiting already
  }
  // From outside the sandbox, as from a parent PID namespace: SIGKILL always ends the process
  // (init included); anything else goes through the sandbox's own signal path, where init
  // ignores what it has no handler for.
  if (sig == SIGKILL) {
    KillThreadGroup(*tg, SIGKILL);
    return {};
  }
  siginfo_t info{};
  info.si_signo = sig;
  info.si_code = SI_USER;
  return SendToThreadGroup(*tg, info);
}

std::vector<Kernel::ProcessInfo> Kernel::Processes() {
  std::vector<std::shared_ptr<ThreadGroup>> order;
  {
    absl::MutexLock lock(&procs_mu_);
    std::vector<std::shared_ptr<ThreadGroup>> pending;
    for (auto it = started_.rbegin(); it != started_.rend(); ++it) pending.push_back(*it);
    if (init_) pending.push_back(init_);
    while (!pending.empty()) {
      auto cur = std::move(pending.back());
      pending.pop_back();
      if (!cur->exited_ && !cur->tasks_.empty()) order.push_back(cur);
      for (auto it = cur->children_.rbegin(); it != cur->children_.rend(); ++it) {
        pending.push_back(*it);
      }
    }
  }
  std::vector<ProcessInfo> out;
  for (const auto& tg : order) {
    ProcessInfo info{.pid = tg->tgid(), .ppid = tg->ppid(), .argv = {}};
    absl::MutexLock lock(&procs_mu_);
    if (!tg->tasks_.empty()) info.argv = tg->tasks_.front()->argv();
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace sentry::kernel
