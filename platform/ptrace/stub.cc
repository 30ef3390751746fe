#include "platform/ptrace/stub.h"

#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/rseq.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>
#include <xbyak/xbyak.h>

#include "absl/strings/str_cat.h"
#include "platform/ptrace/ptrace_platform.h"
#include "platform/ptrace/stub_seccomp.h"
#include "sentry/arch/cpu_state.h"

namespace platform::ptrace {
namespace {

uint64_t g_loop_addr = 0;  // address of the syscall loop inside the stub page
std::vector<sentry::platform::SharedRegion> g_host_vdso;  // [vvar]...[vdso], kept in stubs

// The stub's whole program. `init` runs once in the freshly forked child: it unmaps everything
// of the sentry but the stub page and the host's vDSO, then traps to its tracer. `loop` is
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
  }
  uint64_t loop_offset() const { return loop_.getAddress() - getCode(); }

 private:
  Xbyak::Label loop_;
};

// The host kernel's [vvar*] and [vdso] mappings of this process: one contiguous run ending with
// [vdso]. Stubs keep them, so applications read clocks through the host's vDSO without a trap.
std::vector<sentry::platform::SharedRegion> FindHostVdso() {
  std::vector<sentry::platform::SharedRegion> regions;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    uint64_t start = 0, end = 0;
    char perms[5] = {};
    char name[64] = {};
    if (sscanf(line.c_str(), "%" SCNx64 "-%" SCNx64 " %4s %*s %*s %*s %63s", &start, &end, perms,
               name) != 4) {
      continue;
    }
    std::string_view n(name);
    if (!n.starts_with("[vvar") && n != "[vdso]") continue;
    uint8_t access = 0;
    if (perms[0] == 'r') access |= sentry::platform::kAccessRead;
    if (perms[2] == 'x') access |= sentry::platform::kAccessExec;
    regions.push_back({start, end, access, std::string(n)});
  }
  std::sort(regions.begin(), regions.end(),
            [](const auto& a, const auto& b) { return a.start < b.start; });
  // Only a run that ends in [vdso] and sits below the stub page is usable.
  if (regions.empty() || regions.back().name != "[vdso]" ||
      regions.back().end > kStubCodeAddr) {
    return {};
  }
  for (size_t i = 1; i < regions.size(); ++i) {
    if (regions[i - 1].end != regions[i].start) return {};
  }
  return regions;
}

// Runs in the child of a raw clone of the sentry: only async-signal-safe raw syscalls.
[[noreturn]] void StubChild(int memory_fd, pid_t parent) {
  syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (syscall(SYS_getppid) != parent) syscall(SYS_exit_group, 1);
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
  // signals (the sentry's interrupt signal must stop the thread).
  if (memory_fd > 0) syscall(SYS_close_range, 0, memory_fd - 1, 0);
  syscall(SYS_close_range, memory_fd + 1, ~0U, 0);
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
  g_host_vdso = FindHostVdso();
  std::vector<std::pair<uint64_t, uint64_t>> keep;
  if (!g_host_vdso.empty()) keep.emplace_back(g_host_vdso.front().start, g_host_vdso.back().end);
  keep.emplace_back(kStubCodeAddr, kStubCodeAddr + kStubCodeSize);
  StubCode code(keep);
  if (code.getSize() > kStubCodeSize) return absl::InternalError("stub code too large");
  void* page = mmap(reinterpret_cast<void*>(kStubCodeAddr), kStubCodeSize, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (page == MAP_FAILED) {
    return absl::InternalError(absl::StrCat("cannot map the stub page at ", absl::Hex(kStubCodeAddr),
                                            ": ", strerror(errno)));
  }
  std::memcpy(page, code.getCode(), code.getSize());
  if (mprotect(page, kStubCodeSize, PROT_READ | PROT_EXEC) != 0) {
    return absl::InternalError(absl::StrCat("mprotect stub page: ", strerror(errno)));
  }
  g_loop_addr = kStubCodeAddr + code.loop_offset();
  return absl::OkStatus();
}

const std::vector<sentry::platform::SharedRegion>& HostVdsoRegions() { return g_host_vdso; }

int WaitStop(pid_t tid) {
  int status = 0;
  while (waitpid(tid, &status, __WALL) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

absl::StatusOr<std::unique_ptr<StubProcess>> StubProcess::Create(int memory_fd) {
  if (g_loop_addr == 0) return absl::FailedPreconditionError("stub code not installed");
  pid_t parent = getpid();
  long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) return absl::InternalError(absl::StrCat("clone stub: ", strerror(errno)));
  if (pid == 0) StubChild(memory_fd, parent);

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
  return std::make_unique<StubProcess>(static_cast<pid_t>(pid), static_cast<pid_t>(gettid()),
                                       memory_fd, regs);
}

StubProcess::StubProcess(pid_t pid, pid_t tracer, int memory_fd, const user_regs_struct& regs)
    : pid_(pid), tracer_(tracer), memory_fd_(memory_fd), syscall_regs_(regs) {}

StubProcess::~StubProcess() {
  kill(pid_, SIGKILL);
  // Reap it, so no zombie outlives the address space.
  while (true) {
    int status = WaitStop(pid_);
    if (status < 0 || WIFEXITED(status) || WIFSIGNALED(status)) break;
  }
}

sentry::Result<uint64_t> StubProcess::Syscall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
                                              uint64_t a3, uint64_t a4, uint64_t a5) {
  if (dead_) return sentry::Err(ESRCH);
  user_regs_struct regs = syscall_regs_;
  regs.rax = nr;
  regs.rdi = a0;
  regs.rsi = a1;
  regs.rdx = a2;
  regs.r10 = a3;
  regs.r8 = a4;
  regs.r9 = a5;
  if (::ptrace(PTRACE_SETREGS, pid_, 0, &regs) != 0) return sentry::Err(errno);
  if (::ptrace(PTRACE_CONT, pid_, 0, 0) != 0) return sentry::Err(errno);
  while (true) {
    int status = WaitStop(pid_);
    if (status < 0 || !WIFSTOPPED(status)) {
      dead_ = true;
      return sentry::Err(ESRCH);
    }
    int sig = WSTOPSIG(status);
    if (sig == SIGTRAP) break;
    if (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGSYS) {
      // The stub itself faulted: it cannot be trusted to run anything any more.
      kill(pid_, SIGKILL);
      dead_ = true;
      return sentry::Err(EFAULT);
    }
    // Another signal (an interrupt meant for the task, which its context has recorded, or a
    // job-control signal from the host): drop it and let the syscall finish.
    if (::ptrace(PTRACE_CONT, pid_, 0, 0) != 0) return sentry::Err(errno);
  }
  if (::ptrace(PTRACE_GETREGS, pid_, 0, &regs) != 0) return sentry::Err(errno);
  return regs.rax;
}

}  // namespace platform::ptrace
