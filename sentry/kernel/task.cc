#include "sentry/kernel/task.h"

#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>

#include <algorithm>

#include "sentry/kernel/kernel.h"
#include "spdlog/spdlog.h"

namespace sentry::kernel {
namespace {
thread_local Task* current_task = nullptr;

// Writes to a pipe (or, later, a socket) without readers raise SIGPIPE besides failing.
bool RaisesSigpipe(uint64_t nr) {
  switch (nr) {
    case SYS_write: case SYS_writev: case SYS_pwrite64: case SYS_pwritev: case SYS_pwritev2:
    case SYS_sendfile: case SYS_splice: case SYS_tee: case SYS_vmsplice: case SYS_sendto:
    case SYS_sendmsg: case SYS_sendmmsg:
      return true;
    default:
      return false;
  }
}
}  // namespace

Task* Task::Current() { return current_task; }

Task::Task(Kernel& kernel, std::shared_ptr<ThreadGroup> tg, pid_t tid,
           std::shared_ptr<mm::MemoryManager> mm, std::shared_ptr<vfs::FdTable> fds,
           std::shared_ptr<FsContext> fs, std::unique_ptr<platform::Context> context)
    : kernel_(kernel),
      tg_(std::move(tg)),
      tid_(tid),
      mm_(std::move(mm)),
      fds_(std::move(fds)),
      fs_(std::move(fs)),
      context_(std::move(context)),
      start_time_ns_(kernel.UptimeNs()) {
  const KernelOptions& o = kernel.options();
  creds_ = Credentials{o.uid, o.uid, o.uid, o.gid, o.gid, o.gid};
  if (o.uid != 0) creds_.cap_effective = creds_.cap_permitted = 0;  // as after setuid(2)
}

bool Completion::Wait(Interrupter* intr) {
  absl::MutexLock lock(&mu_);
  // The wake-up only takes the lock: absl::Mutex re-evaluates the condition on each unlock.
  ScopedArm arm(intr, [self = shared_from_this()] { absl::MutexLock l(&self->mu_); });
  auto ready = [&] { return done_ || arm.Interrupted(); };
  mu_.Await(absl::Condition(&ready));
  return done_;
}

int Task::Run() {
  current_task = this;
  clockid_t clock;
  if (pthread_getcpuclockid(pthread_self(), &clock) == 0) {
    host_cpu_clock_.store(clock);
    host_cpu_clock_set_.store(true);
  }
  SetCurrentInterrupter(&interrupter_);
  // A thread born into a group stop parks before its first instruction.
  if (interrupter_.Interrupted() && !exiting_) kernel_.DeliverSignals(*this);
  while (!exiting_) {
    auto result = context_->Switch(mm_->address_space(), state_);
    if (!result) {
      spdlog::error("task {}: the platform lost the application; killing it", tid());
      kernel_.ExitGroup(*this, SIGKILL);
      break;
    }
    switch (result->kind) {
      case platform::SwitchKind::kSyscall:
        HandleSyscall();
        break;
      case platform::SwitchKind::kFault:
        switch (mm_->HandleFault(reinterpret_cast<uint64_t>(result->info.si_addr),
                                 result->info.si_code)) {
          case mm::FaultResult::kHandled:
            CountFault();
            break;
          case mm::FaultResult::kSegv:
            kernel_.ForceSignal(*this, result->info);
            break;
          case mm::FaultResult::kBus: {
            // A mapped file page past the end of the file, as Linux reports it.
            siginfo_t bus{};
            bus.si_signo = SIGBUS;
            bus.si_code = BUS_ADRERR;
            bus.si_addr = result->info.si_addr;
            kernel_.ForceSignal(*this, bus);
            break;
          }
        }
        break;
      case platform::SwitchKind::kSignal:
        kernel_.ForceSignal(*this, result->info);
        break;
      case platform::SwitchKind::kInterrupted:
        break;
    }
    if (interrupter_.Interrupted() && !exiting_) kernel_.DeliverSignals(*this);
  }
  SetCurrentInterrupter(nullptr);
  current_task = nullptr;
  return exit_status_;
}

void Task::HandleSyscall() {
  uint64_t nr = state_.SyscallNumber();
  uint64_t ret = kernel_.options().dispatcher(*this, nr, state_.SyscallArgs());
  if (exiting_) return;
  if (ret == static_cast<uint64_t>(-EINTR) && nr != SYS_rt_sigreturn &&
      interrupter_.Interrupted()) {
    ret = RestartCodeForInterruptedSyscall(nr);
  } else if (ret == static_cast<uint64_t>(-EPIPE) && RaisesSigpipe(nr)) {
    siginfo_t info{};
    info.si_signo = SIGPIPE;
    info.si_code = SI_USER;
    info.si_pid = tg_->tgid();
    info.si_uid = creds_.ruid;
    kernel_.SendToTask(*this, info);
  }
  state_.SetReturn(ret);
}

uint64_t Task::CpuTimeNs() const { return SentryCpuTimeNs() + context_->AppCpuTimeNs(); }

uint64_t Task::SentryCpuTimeNs() const {
  clockid_t clock = CLOCK_THREAD_CPUTIME_ID;
  if (Current() != this) {
    if (!host_cpu_clock_set_.load()) return 0;
    clock = host_cpu_clock_.load();
  }
  timespec ts{};
  // Fails once the host thread has gone; its time was added to the process then.
  if (clock_gettime(clock, &ts) != 0) return 0;
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + ts.tv_nsec;
}

}  // namespace sentry::kernel

namespace sentry::kernel {

std::string Task::comm() const {
  std::lock_guard lock(attr_mu_);
  if (comm_) return *comm_;
  // Linux names a task after the last component of the path it was executed by
  // (TASK_COMM_LEN: 15 bytes and the NUL).
  std::string_view path = exe_path_;
  size_t slash = path.rfind('/');
  std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  return std::string(base.substr(0, 15));
}

void Task::InheritAttrsFrom(const Task& parent) {
  set_comm(parent.comm());
  set_groups(parent.groups());
  if (parent.no_new_privs()) set_no_new_privs();
  set_timer_slack_ns(parent.timer_slack_ns());
  set_personality(parent.personality());
  SchedAttr s = parent.sched();
  // SCHED_RESET_ON_FORK: a real-time parent's child starts as SCHED_OTHER, and no child
  // inherits a negative nice or the flag itself.
  if (s.reset_on_fork) {
    if (s.policy == SCHED_FIFO || s.policy == SCHED_RR) s.policy = SCHED_OTHER, s.priority = 0;
    s.nice = std::max(s.nice, 0);
    s.reset_on_fork = false;
  }
  set_sched(s);
  // The parent-death signal is not inherited (Linux clears it in the child).
}

ThreadGroup::CpuTimes Task::CpuTimesSplit() const {
  // The platform's CPU time is the address space's, which sibling threads share; the time
  // this thread ran the application bounds its own part. Exact for a thread alone in its
  // address space; a thread the host preempted while others ran is charged a little more.
  uint64_t user = std::min(context_->AppCpuTimeNs(), context_->AppRunTimeNs());
  return ThreadGroup::CpuTimes{.user_ns = user,
                               .sys_ns = SentryCpuTimeNs(),
                               .minflt = minflt_.load(std::memory_order_relaxed),
                               .nvcsw = interrupter_.arms()};
}

}  // namespace sentry::kernel
