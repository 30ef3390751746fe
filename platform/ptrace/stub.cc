#include "platform/ptrace/stub.h"

#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xbyak/xbyak.h>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "platform/ptrace/ptrace_platform.h"
#include "platform/ptrace/stub_factory.h"
#include "platform/ptrace/stub_seccomp.h"
#include "sentry/arch/cpu_state.h"
#include "spdlog/spdlog.h"

namespace platform::ptrace {
namespace {

uint64_t g_loop_addr = 0;   // address of the syscall loop inside the stub page
uint64_t g_clone_addr = 0;  // where a stub thread clones a parked sibling
uint64_t g_park_addr = 0;   // where parked threads sleep
std::atomic<uint64_t> g_next_stub_id{1};

// The stub's whole program. `init` runs once in the freshly forked child: it unmaps everything
// of the sentry but the stub page (the host's vDSO too: applications get the sentry's own,
// which the loader maps), then traps to its tracer. `loop` is
// where the sentry points the thread to run one host syscall: the int3 hands the result back.
class StubCode : public Xbyak::CodeGenerator {
 public:
  // keep: sorted, disjoint, page-aligned ranges to leave mapped.
  explicit StubCode(const std::vector<std::pair<uint64_t, uint64_t>>& keep)
      : Xbyak::CodeGenerator(4096, Xbyak::DontSetProtectRWE) {
    using namespace Xbyak::util;
    uint64_t from = 0;
    auto unmap = [&](uint64_t start, uint64_t end) {
      if (end <= start) return;
      mov(rdi, start);
      mov(rsi, end - start);
      mov(eax, SYS_munmap);
      syscall();
    };
    for (const auto& [start, end] : keep) {
      unmap(from, start);
      from = end;
    }
    unmap(from, sentry::arch::kTaskSize);
    int3();
    align(64);
    L(loop_);
    syscall();
    int3();
    jmp(loop_);
    // clone(kStubThreadCloneFlags): the parent reports back; the child, which nobody traces
    // yet, parks until a host thread seizes it.
    align(16);
    L(clone_);
    syscall();
    test(rax, rax);
    jz(park_);
    int3();
    jmp(loop_);
    align(16);
    L(park_);
    mov(eax, SYS_pause);
    syscall();
    jmp(park_);
  }
  uint64_t loop_offset() const { return Offset(loop_); }
  uint64_t clone_offset() const { return Offset(clone_); }
  uint64_t park_offset() const { return Offset(park_); }

 private:
  uint64_t Offset(const Xbyak::Label& l) const { return l.getAddress() - getCode(); }
  Xbyak::Label loop_, clone_, park_;
};

// Runs in the child of a raw clone of the sentry: only async-signal-safe raw syscalls.
[[noreturn]] void StubChild(int memory_fd, bool as_template) {
  // No PR_SET_PDEATHSIG: the "parent" it watches is the creating host thread, which may end
  // while other tasks still run in this address space. Stubs die with their tracers instead
  // (PTRACE_O_EXITKILL), with the sentry's PID namespace, or when the sentry kills them.
  //
  // The fork kept glibc's rseq registration, whose area is about to be unmapped; the kernel
  // would then kill the stub with SIGSEGV at its next preemption.
  if (__rseq_size > 0) {
    uintptr_t tp;
    asm volatile("mov %%fs:0, %0" : "=r"(tp));
    void* area = reinterpret_cast<void*>(tp + __rseq_offset);
    if (syscall(SYS_rseq, area, __rseq_size, RSEQ_FLAG_UNREGISTER, RSEQ_SIG) != 0) {
      syscall(SYS_rseq, area, 32, RSEQ_FLAG_UNREGISTER, RSEQ_SIG);
    }
  }
  // The application must reach nothing of the sentry's: no fd but the memory file, no blocked
  // signals (the sentry's interrupt signal must stop the thread), no handler pointing into
  // sentry code that is about to disappear (a parked thread, untraced, would run it).
  if (memory_fd > 0) syscall(SYS_close_range, 0, memory_fd - 1, 0);
  syscall(SYS_close_range, memory_fd + 1, ~0U, 0);
  struct KernelSigaction {
    uint64_t handler, flags, restorer, mask;
  } dfl{};
  for (int sig = 1; sig <= 64; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) syscall(SYS_rt_sigaction, sig, &dfl, nullptr, 8);
  }
  if (as_template) {
    // The stubs forked from the template are reaped by the kernel when they exit: their
    // tracers see them go, and nothing here could wait for them.
    KernelSigaction ignore{reinterpret_cast<uint64_t>(SIG_IGN), 0, 0, 0};
    syscall(SYS_rt_sigaction, SIGCHLD, &ignore, nullptr, 8);
  }
  sigset_t none;
  sigemptyset(&none);
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, sizeof(uint64_t));
  if (syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0) != 0) syscall(SYS_exit_group, 2);
  // [confinement] The stub's own seccomp filter, prebuilt by EnableStubFilter (stub_seccomp.h).
  if (const sock_fprog* filter = StubFilterFor(memory_fd)) {
    if (!InstallStubFilterRaw(*filter)) syscall(SYS_exit_group, 3);
  }
  asm volatile("jmp *%0" : : "r"(kStubCodeAddr));
  __builtin_unreachable();
}

}  // namespace

absl::Status InstallStubCode() {
  if (g_loop_addr != 0) return absl::OkStatus();  // once per sentry process
  std::vector<std::pair<uint64_t, uint64_t>> keep;
  keep.emplace_back(kStubCodeAddr, kStubCodeAddr + kStubCodeSize);
  StubCode code(keep);
  if (code.getSize() > kStubCodeSize) return absl::InternalError("stub code too large");
  void* page = mmap(reinterpret_cast<void*>(kStubCodeAddr), kStubCodeSize, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (page == MAP_FAILED) {
    return absl::InternalError(absl::StrCat("cannot map the stub page at ",
                                            absl::Hex(kStubCodeAddr), ": ", strerror(errno)));
  }
  std::memcpy(page, code.getCode(), code.getSize());
  if (mprotect(page, kStubCodeSize, PROT_READ | PROT_EXEC) != 0) {
    return absl::InternalError(absl::StrCat("mprotect stub page: ", strerror(errno)));
  }
  g_loop_addr = kStubCodeAddr + code.loop_offset();
  g_clone_addr = kStubCodeAddr + code.clone_offset();
  g_park_addr = kStubCodeAddr + code.park_offset();
  return absl::OkStatus();
}

int WaitStop(pid_t tid) {
  int status = 0;
  while (waitpid(tid, &status, __WALL) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

namespace {

// Takes a parked (untraced, paused) stub thread for the calling host thread: SEIZE, unlike
// ATTACH, sends no SIGSTOP (which would stop every thread of the stub); the interrupt stops
// just this one, inside its pause. 0, or the errno that stopped it.
int SeizeParked(pid_t tid) {
  if (::ptrace(PTRACE_SEIZE, tid, 0, PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD) != 0 ||
      ::ptrace(PTRACE_INTERRUPT, tid, 0, 0) != 0) {
    return errno;
  }
  int status = WaitStop(tid);
  return status < 0 || !WIFSTOPPED(status) ? ESRCH : 0;
}

// `base` set up to run host syscall `nr` with its arguments.
user_regs_struct SyscallRegs(user_regs_struct base, uint64_t nr, uint64_t a0, uint64_t a1,
                             uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5) {
  base.rax = nr;
  base.rdi = a0;
  base.rsi = a1;
  base.rdx = a2;
  base.r10 = a3;
  base.r8 = a4;
  base.r9 = a5;
  return base;
}

}  // namespace

absl::StatusOr<std::unique_ptr<StubProcess>> StubProcess::Create(int memory_fd) {
  if (g_loop_addr == 0) return absl::FailedPreconditionError("stub code not installed");
  auto pid = StubFactory::Get().ForkParked(memory_fd);
  if (pid.ok()) {
    auto stub = Adopt(*pid, memory_fd);
    if (stub.ok()) return stub;
    kill(*pid, SIGKILL);
    spdlog::warn("ptrace: cannot adopt a stub from the template: {}", stub.status().ToString());
  }
  return ForkSentry(memory_fd, false);
}

absl::StatusOr<std::unique_ptr<StubProcess>> StubProcess::CreateTemplate(int memory_fd) {
  if (g_loop_addr == 0) return absl::FailedPreconditionError("stub code not installed");
  return ForkSentry(memory_fd, true);
}

sentry::Result<pid_t> StubProcess::ForkParked() { return CloneParkedWith(kStubForkFlags); }

absl::StatusOr<std::unique_ptr<StubProcess>> StubProcess::Adopt(pid_t pid, int memory_fd) {
  if (int err = SeizeParked(pid); err != 0) {
    return absl::InternalError(absl::StrCat("seize stub ", pid, ": ", strerror(err)));
  }
  user_regs_struct regs;
  if (::ptrace(PTRACE_GETREGS, pid, 0, &regs) != 0) {
    return absl::InternalError(absl::StrCat("PTRACE_GETREGS: ", strerror(errno)));
  }
  regs.rip = g_loop_addr;
  regs.orig_rax = static_cast<uint64_t>(-1);
  auto stub = std::make_unique<StubProcess>(pid, memory_fd, regs);
  stub->traced_[gettid()] = pid;
  return stub;
}

absl::StatusOr<std::unique_ptr<StubProcess>> StubProcess::ForkSentry(int memory_fd,
                                                                     bool as_template) {
  long pid = syscall(SYS_clone, kStubForkFlags, 0, 0, 0, 0);
  if (pid < 0) return absl::InternalError(absl::StrCat("clone stub: ", strerror(errno)));
  if (pid == 0) StubChild(memory_fd, as_template);

  int status = WaitStop(static_cast<pid_t>(pid));
  if (status < 0 || !WIFSTOPPED(status) || WSTOPSIG(status) != SIGTRAP) {
    kill(static_cast<pid_t>(pid), SIGKILL);
    WaitStop(static_cast<pid_t>(pid));
    return absl::InternalError(absl::StrCat("stub did not start (wait status ", status, ")"));
  }
  if (::ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD) != 0) {
    kill(static_cast<pid_t>(pid), SIGKILL);
    WaitStop(static_cast<pid_t>(pid));
    return absl::InternalError(absl::StrCat("PTRACE_SETOPTIONS: ", strerror(errno)));
  }
  user_regs_struct regs;
  ::ptrace(PTRACE_GETREGS, pid, 0, &regs);
  regs.rip = g_loop_addr;
  regs.orig_rax = static_cast<uint64_t>(-1);
  auto stub = std::make_unique<StubProcess>(static_cast<pid_t>(pid), memory_fd, regs);
  stub->traced_[gettid()] = static_cast<pid_t>(pid);
  return stub;
}

StubProcess::StubProcess(pid_t pid, int memory_fd, const user_regs_struct& regs)
    : pid_(pid), id_(g_next_stub_id.fetch_add(1)), memory_fd_(memory_fd), syscall_regs_(regs) {}

StubProcess::~StubProcess() {
  kill(pid_, SIGKILL);
  // Reap it, so no zombie outlives the address space: first the threads still traced (their
  // exits are reported to the sentry, and the leader's waits for them), then the process.
  std::lock_guard lock(mu_);
  for (const auto& [host, tid] : traced_) {
    if (tid != pid_) WaitStop(tid);
  }
  while (true) {
    int status = WaitStop(pid_);
    if (status < 0 || WIFEXITED(status) || WIFSIGNALED(status)) break;
  }
}

pid_t StubProcess::CallerThread() {
  std::lock_guard lock(mu_);
  auto it = traced_.find(gettid());
  return it == traced_.end() ? 0 : it->second;
}

sentry::Result<pid_t> StubProcess::AttachCaller() {
  if (dead()) return sentry::Err(ESRCH);
  pid_t tid;
  {
    std::lock_guard lock(mu_);
    if (auto it = traced_.find(gettid()); it != traced_.end()) return it->second;
    if (parked_.empty()) return sentry::Err(EAGAIN);
    tid = parked_.back();
    parked_.pop_back();
    if (reserved_ > 0) --reserved_;
  }
  if (int err = SeizeParked(tid); err != 0) {
    MarkDead();
    return sentry::Err(err == EPERM ? EPERM : ESRCH);
  }
  std::lock_guard lock(mu_);
  traced_[gettid()] = tid;
  return tid;
}

sentry::Result<void> StubProcess::AddThread() {
  pid_t self = CallerThread();
  if (self == 0) return sentry::Err(EINVAL);
  {
    std::lock_guard lock(mu_);
    if (parked_.size() > reserved_) {
      ++reserved_;
      return {};
    }
  }
  pid_t tid = TRY(CloneParked());
  std::lock_guard lock(mu_);
  parked_.push_back(tid);
  ++reserved_;
  return {};
}

sentry::Result<pid_t> StubProcess::CloneParked() { return CloneParkedWith(kStubThreadCloneFlags); }

sentry::Result<pid_t> StubProcess::CloneParkedWith(uint64_t flags) {
  pid_t self = CallerThread();
  if (self == 0) return sentry::Err(EINVAL);
  // The stub's clone path: the child (rax 0) parks, the parent traps back with its id.
  user_regs_struct regs = syscall_regs_;
  regs.rax = SYS_clone;
  regs.rdi = flags;
  regs.rsi = 0;  // the child keeps the stack pointer; stub code uses no stack
  regs.rdx = regs.r10 = regs.r8 = 0;
  uint64_t id = TRY(RunStubCode(self, g_clone_addr, regs));
  if (id > static_cast<uint64_t>(-4096)) return sentry::Err(static_cast<int>(-id));
  return static_cast<pid_t>(id);
}

sentry::Result<void> StubProcess::AddSpareThread() {
  std::lock_guard foreign(foreign_mu_);
  if (spare_ != 0) return {};
  spare_ = TRY(CloneParked());
  return {};
}

sentry::Result<uint64_t> StubProcess::ForeignSyscall(uint64_t nr, uint64_t a0, uint64_t a1,
                                                     uint64_t a2, uint64_t a3, uint64_t a4,
                                                     uint64_t a5) {
  std::lock_guard foreign(foreign_mu_);
  if (dead()) return sentry::Err(ESRCH);
  if (spare_ == 0) return sentry::Err(EAGAIN);
  pid_t tid = spare_;
  if (SeizeParked(tid) != 0) {
    MarkDead();
    return sentry::Err(ESRCH);
  }
  auto result =
      RunStubCode(tid, g_loop_addr, SyscallRegs(syscall_regs_, nr, a0, a1, a2, a3, a4, a5));
  if (dead()) return result;
  user_regs_struct park = syscall_regs_;
  park.rip = g_park_addr;
  park.orig_rax = static_cast<uint64_t>(-1);
  if (::ptrace(PTRACE_SETREGS, tid, 0, &park) != 0 || ::ptrace(PTRACE_DETACH, tid, 0, 0) != 0) {
    spdlog::warn("ptrace: cannot park the spare stub thread {}: {}", tid, strerror(errno));
    MarkDead();
    kill(pid_, SIGKILL);
  }
  return result;
}

void StubProcess::DetachCaller() {
  pid_t tid;
  {
    std::lock_guard lock(mu_);
    auto it = traced_.find(gettid());
    if (it == traced_.end()) return;
    tid = it->second;
    traced_.erase(it);
  }
  if (dead()) return;
  user_regs_struct regs = syscall_regs_;
  regs.rip = g_park_addr;
  if (::ptrace(PTRACE_SETREGS, tid, 0, &regs) != 0 || ::ptrace(PTRACE_DETACH, tid, 0, 0) != 0) {
    // A thread that cannot be parked cannot be trusted to sit still either.
    spdlog::warn("ptrace: cannot park stub thread {}: {}", tid, strerror(errno));
    MarkDead();
    kill(pid_, SIGKILL);
    return;
  }
  std::lock_guard lock(mu_);
  parked_.push_back(tid);
}

sentry::Result<uint64_t> StubProcess::Syscall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
                                              uint64_t a3, uint64_t a4, uint64_t a5) {
  pid_t tid = CallerThread();
  if (tid == 0) tid = TRY(AttachCaller());
  return RunStubCode(tid, g_loop_addr, SyscallRegs(syscall_regs_, nr, a0, a1, a2, a3, a4, a5));
}

sentry::Result<uint64_t> StubProcess::RunStubCode(pid_t tid, uint64_t rip, user_regs_struct regs) {
  if (dead()) return sentry::Err(ESRCH);
  regs.rip = rip;
  regs.orig_rax = static_cast<uint64_t>(-1);
  if (::ptrace(PTRACE_SETREGS, tid, 0, &regs) != 0) return sentry::Err(errno);
  if (::ptrace(PTRACE_CONT, tid, 0, 0) != 0) return sentry::Err(errno);
  while (true) {
    int status = WaitStop(tid);
    if (status < 0 || !WIFSTOPPED(status)) {
      MarkDead();
      return sentry::Err(ESRCH);
    }
    int sig = WSTOPSIG(status);
    if (sig == SIGTRAP && (status >> 16) == 0) break;
    if (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGSYS) {
      // The stub itself faulted: it cannot be trusted to run anything any more.
      kill(pid_, SIGKILL);
      MarkDead();
      return sentry::Err(EFAULT);
    }
    // Another signal (an interrupt meant for the task, which its context has recorded, or a
    // job-control signal from the host), or a group stop: drop it and let the code finish.
    if (::ptrace(PTRACE_CONT, tid, 0, 0) != 0) return sentry::Err(errno);
  }
  if (::ptrace(PTRACE_GETREGS, tid, 0, &regs) != 0) return sentry::Err(errno);
  return regs.rax;
}

}  // namespace platform::ptrace
