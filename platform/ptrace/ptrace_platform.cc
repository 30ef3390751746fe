#include "platform/ptrace/ptrace_platform.h"

#include <elf.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "platform/ptrace/stub.h"
#include "spdlog/spdlog.h"

namespace platform::ptrace {
namespace {

using sentry::Err;
using sentry::Result;
using sentry::platform::AccessType;
using sentry::platform::SwitchKind;
using sentry::platform::SwitchResult;

// The signal Interrupt() sends to a running stub thread. Stubs have no children, so SIGCHLD
// never means anything else there, and a traced thread stops for it although it is ignored.
constexpr int kInterruptSignal = SIGCHLD;
// Larger than any XSAVE area x86 CPUs have today (AMX makes it ~11 KiB); the kernel says how
// much it filled.
constexpr size_t kMaxXStateSize = 16384;

uint64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

int PermsToProt(uint8_t perms) {
  int prot = PROT_NONE;
  if (perms & sentry::platform::kAccessRead) prot |= PROT_READ;
  if (perms & sentry::platform::kAccessWrite) prot |= PROT_WRITE;
  if (perms & sentry::platform::kAccessExec) prot |= PROT_EXEC;
  return prot;
}

class PtraceAddressSpace : public sentry::platform::AddressSpace {
 public:
  explicit PtraceAddressSpace(std::unique_ptr<StubProcess> stub) : stub_(std::move(stub)) {}

  Result<void> MapFile(uint64_t addr, uint64_t offset, uint64_t len, uint8_t perms) override {
    uint64_t r = TRY(Run(SYS_mmap, addr, len, PermsToProt(perms), MAP_SHARED | MAP_FIXED,
                         stub_->memory_fd(), offset));
    if (r > static_cast<uint64_t>(-4096)) return Err(static_cast<int>(-r));
    return {};
  }

  void Unmap(uint64_t addr, uint64_t len) override {
    auto r = Run(SYS_munmap, addr, len);
    if (!r || *r != 0) spdlog::warn("stub munmap({:#x}, {:#x}) failed", addr, len);
  }

  Result<void> Protect(uint64_t addr, uint64_t len, uint8_t perms) override {
    // The sentry's seccomp filter, which the stub inherits, refuses mprotect with PROT_EXEC.
    if (perms & sentry::platform::kAccessExec) return Err(ENOTSUP);
    uint64_t r = TRY(Run(SYS_mprotect, addr, len, PermsToProt(perms)));
    if (r > static_cast<uint64_t>(-4096)) return Err(static_cast<int>(-r));
    return {};
  }

  Result<void> AddThread() override { return stub_->AddThread(); }
  Result<void> EnableForeignAccess() override { return stub_->AddSpareThread(); }

  StubProcess& stub() { return *stub_; }

 private:
  // A host syscall in the stub: on the caller's own stub thread, or, for a host thread that
  // runs no task here, on the spare thread.
  Result<uint64_t> Run(uint64_t nr, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0,
                       uint64_t a3 = 0, uint64_t a4 = 0, uint64_t a5 = 0) {
    if (stub_->CallerThread() == 0) {
      auto r = stub_->ForeignSyscall(nr, a0, a1, a2, a3, a4, a5);
      if (r || r.error().value != EAGAIN) return r;
    }
    return stub_->Syscall(nr, a0, a1, a2, a3, a4, a5);
  }

  std::unique_ptr<StubProcess> stub_;
};

class PtraceContext : public sentry::platform::Context {
 public:
  explicit PtraceContext(int cpu) : cpu_(cpu) {}

  Result<SwitchResult> Switch(sentry::platform::AddressSpace& as,
                              sentry::arch::CpuState& state) override {
    auto& stub = static_cast<PtraceAddressSpace&>(as).stub();
    if (stub.dead()) return Err(ESRCH);
    bool fresh = false;
    if (stub_id_ != stub.id()) {
      // First switch into this address space: take the stub thread made ready for this task.
      pid_t tid = stub.CallerThread();
      if (tid == 0) {
        auto attached = stub.AttachCaller();
        if (!attached) {
          spdlog::error("ptrace: no stub thread for this task in stub {}", stub.pid());
          return std::unexpected(attached.error());
        }
        tid = *attached;
        fresh = true;
      }
      stub_id_ = stub.id();
      stub_tid_ = tid;
    }
    pid_t tid = stub_tid_;
    Bind(stub.pid(), tid);
    running_.store(Pack(stub.pid(), tid), std::memory_order_seq_cst);
    if (interrupt_.exchange(false)) {
      running_.store(0);
      return SwitchResult{.kind = SwitchKind::kInterrupted};
    }
    if (state.xstate_to_load) {
      iovec iov{state.xstate_to_load->data(), state.xstate_to_load->size()};
      if (::ptrace(PTRACE_SETREGSET, tid, NT_X86_XSTATE, &iov) != 0) {
        running_.store(0);
        return Lost(stub, "SETREGSET");
      }
      state.xstate_to_load.reset();
    }
    if (state.fp_to_load) {
      if (::ptrace(PTRACE_SETFPREGS, tid, 0, &*state.fp_to_load) != 0) {
        running_.store(0);
        return Lost(stub, "SETFPREGS");
      }
      state.fp_to_load.reset();
    }
    user_regs_struct regs = state.regs;
    // A seized thread stopped inside pause(2): no syscall restart may rewind it.
    if (fresh) regs.orig_rax = static_cast<uint64_t>(-1);
    if (::ptrace(PTRACE_SETREGS, tid, 0, &regs) != 0 || ::ptrace(PTRACE_SYSEMU, tid, 0, 0) != 0) {
      running_.store(0);
      return Lost(stub, "resume");
    }
    uint64_t resumed = MonotonicNs();
    SetRun(run_ns_.load(std::memory_order_relaxed), resumed);
    int status = WaitStop(tid);
    SetRun(run_ns_.load(std::memory_order_relaxed) + (MonotonicNs() - resumed), 0);
    running_.store(0);
    if (status < 0 || !WIFSTOPPED(status)) return Lost(stub, "wait");
    if (::ptrace(PTRACE_GETREGS, tid, 0, &state.regs) != 0) return Lost(stub, "GETREGS");

    int sig = WSTOPSIG(status);
    if (sig == (SIGTRAP | 0x80)) return SwitchResult{.kind = SwitchKind::kSyscall};
    SwitchResult result{.kind = SwitchKind::kSignal};
    if (sig == kInterruptSignal || sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN ||
        sig == SIGTTOU || sig == SIGWINCH || sig == SIGURG) {
      // Not the application's doing: an interrupt, or a job-control or harmless signal the
      // host sent to the stub. The sentry decides; the host signal is dropped on resume.
      interrupt_.store(false);
      result.kind = SwitchKind::kInterrupted;
      return result;
    }
    if (::ptrace(PTRACE_GETSIGINFO, tid, 0, &result.info) != 0) return Lost(stub, "GETSIGINFO");
    if (sig == SIGSEGV || sig == SIGBUS) result.kind = SwitchKind::kFault;
    return result;
  }

  Result<user_fpregs_struct> ReadFpState(sentry::platform::AddressSpace& as) override {
    auto& stub = static_cast<PtraceAddressSpace&>(as).stub();
    pid_t tid = stub.id() == stub_id_ ? stub_tid_ : stub.CallerThread();
    if (tid == 0) return Err(ESRCH);
    user_fpregs_struct fp;
    if (::ptrace(PTRACE_GETFPREGS, tid, 0, &fp) != 0) return Err(errno);
    return fp;
  }

  Result<std::vector<uint8_t>> ReadXState(sentry::platform::AddressSpace& as) override {
    auto& stub = static_cast<PtraceAddressSpace&>(as).stub();
    pid_t tid = stub.id() == stub_id_ ? stub_tid_ : stub.CallerThread();
    if (tid == 0) return Err(ESRCH);
    std::vector<uint8_t> buf(kMaxXStateSize);
    iovec iov{buf.data(), buf.size()};
    if (::ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, &iov) != 0) return Err(errno);
    buf.resize(iov.iov_len);
    return buf;
  }

  void Leave(sentry::platform::AddressSpace& as) override {
    auto& stub = static_cast<PtraceAddressSpace&>(as).stub();
    stub.DetachCaller();
    if (stub.id() == stub_id_) stub_id_ = 0;
  }

  uint64_t AppCpuTimeNs() const override {
    if (bound_pid_ == 0) return 0;
    // The host's CPU clock of the stub process (MAKE_PROCESS_CPUCLOCK(pid, SCHED)): Linux
    // reads other processes' clocks but only its own threads' per-thread ones, so a task that
    // shares its address space with others (threads) is charged for all of them.
    clockid_t clock = static_cast<clockid_t>((~static_cast<unsigned>(bound_pid_) << 3) | 2);
    timespec ts{};
    if (clock_gettime(clock, &ts) != 0) return 0;
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + ts.tv_nsec;
  }

  uint64_t AppRunTimeNs() const override {
    // A thread that runs the application without trapping must still be seen to advance:
    // the run in progress counts up to now. The pair is read under a sequence count, so that
    // a run ending meanwhile is not counted twice or not at all.
    while (true) {
      uint64_t seq = run_seq_.load(std::memory_order_acquire);
      if (seq & 1) continue;
      uint64_t total = run_ns_.load(std::memory_order_acquire);
      uint64_t start = run_start_.load(std::memory_order_acquire);
      if (run_seq_.load(std::memory_order_acquire) != seq) continue;
      if (start == 0) return total;
      uint64_t now = MonotonicNs();
      return total + (now > start ? now - start : 0);
    }
  }

  void Interrupt() override {
    interrupt_.store(true, std::memory_order_seq_cst);
    uint64_t running = running_.load(std::memory_order_seq_cst);
    if (running != 0) {
      syscall(SYS_tgkill, static_cast<pid_t>(running >> 32), static_cast<pid_t>(running),
              kInterruptSignal);
    }
  }

 private:
  // Keeps the sentry thread and its stub thread on one CPU: every trap is a hand-off between
  // the two, and on a nested VM a cross-CPU wake-up costs several times a same-CPU switch.
  static uint64_t Pack(pid_t pid, pid_t tid) {
    return (static_cast<uint64_t>(pid) << 32) | static_cast<uint32_t>(tid);
  }

  void Bind(pid_t stub_pid, pid_t stub_tid) {
    pid_t self = gettid();
    if (bound_self_ == self && bound_stub_ == stub_tid) return;
    bound_self_ = self;
    bound_stub_ = stub_tid;
    bound_pid_ = stub_pid;
    if (cpu_ < 0) cpu_ = sched_getcpu();  // no preference: stay where the task started
    if (cpu_ < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu_, &set);
    sched_setaffinity(0, sizeof(set), &set);
    sched_setaffinity(stub_tid, sizeof(set), &set);
  }

  // Only the context's own thread writes the pair; readers are other threads.
  void SetRun(uint64_t total, uint64_t start) {
    run_seq_.fetch_add(1, std::memory_order_acq_rel);
    run_ns_.store(total, std::memory_order_release);
    run_start_.store(start, std::memory_order_release);
    run_seq_.fetch_add(1, std::memory_order_acq_rel);
  }

  Result<SwitchResult> Lost(StubProcess& stub, const char* what) {
    spdlog::error("ptrace: lost stub {} ({}: {})", stub.pid(), what, strerror(errno));
    stub.MarkDead();
    return Err(ESRCH);
  }

  int cpu_;
  uint64_t stub_id_ = 0;  // the address space this context last ran in...
  pid_t stub_tid_ = 0;    // ...and its stub thread there
  pid_t bound_self_ = 0, bound_stub_ = 0, bound_pid_ = 0;
  std::atomic<uint64_t> running_{0};  // Pack(stub pid, stub tid) while the application runs
  std::atomic<bool> interrupt_{false};
  // The stub's CPU clock is its whole process's (all threads of the application); a thread's
  // own share is bounded by the time it ran, measured around each resume (the vDSO makes
  // that cheap; the host keeps other processes' thread clocks to themselves).
  std::atomic<uint64_t> run_ns_{0};
  std::atomic<uint64_t> run_start_{0};  // when the run in progress began; 0 between runs
  std::atomic<uint64_t> run_seq_{0};    // odd while the two above change
};

}  // namespace

PtracePlatform::PtracePlatform(int memory_fd, std::vector<int> cpus)
    : memory_fd_(memory_fd), cpus_(std::move(cpus)) {}

absl::StatusOr<std::unique_ptr<PtracePlatform>> PtracePlatform::Create(int memory_fd) {
  if (auto s = InstallStubCode(); !s.ok()) return s;
  cpu_set_t set;
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int i = 0; i < CPU_SETSIZE; ++i) {
      if (CPU_ISSET(i, &set)) cpus.push_back(i);
    }
  }
  return std::make_unique<PtracePlatform>(memory_fd, std::move(cpus));
}

absl::StatusOr<std::unique_ptr<sentry::platform::AddressSpace>> PtracePlatform::NewAddressSpace() {
  auto stub = StubProcess::Create(memory_fd_);
  if (!stub.ok()) return stub.status();
  return std::make_unique<PtraceAddressSpace>(std::move(*stub));
}

absl::StatusOr<std::unique_ptr<sentry::platform::Context>> PtracePlatform::NewContext() {
  // The first context stays on whatever CPU its task starts on; later ones (threads, which
  // come with the processes issue) are spread over the others.
  size_t n = next_cpu_.fetch_add(1);
  int cpu = n == 0 || cpus_.empty() ? -1 : cpus_[n % cpus_.size()];
  return std::make_unique<PtraceContext>(cpu);
}

}  // namespace platform::ptrace
