// confine_probe SCENARIO: confines itself as the sentry does (ConfineSentry), then does what the
// scenario says. sentry_confinement_test starts it in the sandbox's namespaces and checks how it
// ends: exit 0 when everything allowed worked, killed by SIGSYS when it tried a forbidden
// syscall, or another exit code naming the step that went wrong.
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <xbyak/xbyak.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "platform/ptrace/ptrace_platform.h"
#include "platform/ptrace/stub_seccomp.h"
#include "runsc/sandbox_namespaces.h"
#include "runsc/sentry_confinement.h"
#include "sentry/mm/memory_file.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace {

constexpr int kNotKilled = 3;  // a forbidden syscall came back

bool Confine(int memory_fd) {
  auto s = runsc::ConfineSentry({.memory_fd = memory_fd});
  if (!s.ok()) fprintf(stderr, "confine_probe: %s\n", s.ToString().c_str());
  return s.ok();
}

// Tells the test we are confined, then waits for it to close our stdin.
int WaitForTest() {
  if (write(1, "ready\n", 6) != 6) return 4;
  char c;
  while (read(0, &c, 1) > 0) {
  }
  return 0;
}

// Everything the sentry does after confinement still works: logging with timestamps, threads,
// large allocations, clocks, random bytes, sleeping, stat of an fd.
int Allowed(int) {
  auto logger =
      std::make_shared<spdlog::logger>("probe", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern("%L %H:%M:%S.%f %t] %v");
  logger->warn("logging after confinement");
  int from_thread = 0;
  std::thread t([&] { from_thread = 42; });
  t.join();
  if (from_thread != 42) return 10;
  // glibc tried clone3 first: the filter answers ENOSYS, so it fell back to clone.
  if (syscall(SYS_clone3, nullptr, 0) != -1 || errno != ENOSYS) return 18;
  std::vector<char> big(64 << 20, 1);
  if (big[12345] != 1) return 11;
  big.clear();
  big.shrink_to_fit();
  timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 12;
  uint64_t r;
  if (getrandom(&r, sizeof(r), 0) != sizeof(r)) return 13;
  timespec nap = {0, 1000000};
  if (clock_nanosleep(CLOCK_MONOTONIC, 0, &nap, nullptr) != 0) return 14;
  struct stat st;
  if (fstat(1, &st) != 0) return 15;
  if (sched_yield() != 0) return 16;
  if (write(1, "ok\n", 3) != 3) return 17;
  return 0;
}

// A stub forked after confinement: it starts under the sentry's filter and stacks its own;
// application syscalls trap, the vsyscall page gives SIGSYS.
class Program : public Xbyak::CodeGenerator {
 public:
  Program() : Xbyak::CodeGenerator(4096, Xbyak::DontSetProtectRWE) {
    mov(eax, SYS_openat);  // forbidden for the sentry and the stub: still only a trap
    syscall();
    xor_(edi, edi);
    xor_(esi, esi);
    mov(rax, 0xffffffffff600000);  // vsyscall gettimeofday
    call(rax);
    Xbyak::Label spin;
    L(spin);
    jmp(spin);
  }
};

int Platform(int) {
  auto memory = sentry::mm::MemoryFile::Create(1 << 24);
  if (!memory.ok()) return 20;
  auto platform = platform::ptrace::PtracePlatform::Create((*memory)->fd());
  if (!platform.ok()) return 21;
  if (!platform::ptrace::EnableStubFilter((*memory)->fd()).ok()) return 22;
  if (!Confine((*memory)->fd())) return 2;
  auto as = (*platform)->NewAddressSpace();
  if (!as.ok()) return 23;
  auto ctx = (*platform)->NewContext();
  if (!ctx.ok()) return 24;
  Program program;
  uint64_t code = *(*memory)->Allocate(4096);
  std::memcpy((*memory)->Access(code), program.getCode(), program.getSize());
  uint64_t stack = *(*memory)->Allocate(4096);
  using sentry::platform::kAccessExec;
  using sentry::platform::kAccessRead;
  using sentry::platform::kAccessWrite;
  if (!(*as)->MapFile(0x10000, code, 4096, kAccessRead | kAccessExec)) return 25;
  if (!(*as)->MapFile(0x20000, stack, 4096, kAccessRead | kAccessWrite)) return 26;
  auto state = sentry::arch::CpuState::ForEntry(0x10000, 0x21000);
  auto r = (*ctx)->Switch(**as, state);
  if (!r || r->kind != sentry::platform::SwitchKind::kSyscall) return 27;
  if (state.SyscallNumber() != SYS_openat) return 28;
  state.SetReturn(-ENOENT);
  r = (*ctx)->Switch(**as, state);
  if (!r || r->kind != sentry::platform::SwitchKind::kSignal) return 29;
  if (r->info.si_signo != SIGSYS || r->info.si_syscall != SYS_gettimeofday) return 30;
  return 0;
}

int Signals(int) {
  runsc::InstallInitSignalHandlers();
  return WaitForTest();
}

// Forbidden: each must kill the process with SIGSYS.
const std::map<std::string, std::function<long()>> kForbidden = {
    {"open", [] { return syscall(SYS_open, "/etc/passwd", O_RDONLY); }},
    {"openat", [] { return syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY); }},
    {"openat2", [] { return syscall(SYS_openat2, AT_FDCWD, "/", nullptr, 0); }},
    {"creat", [] { return syscall(SYS_creat, "/x", 0600); }},
    {"execve", [] { return syscall(SYS_execve, "/bin/sh", nullptr, nullptr); }},
    {"execveat", [] { return syscall(SYS_execveat, AT_FDCWD, "/bin/sh", nullptr, nullptr, 0); }},
    {"socket", [] { return syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0); }},
    {"connect", [] { return syscall(SYS_connect, 0, nullptr, 0); }},
    {"bind", [] { return syscall(SYS_bind, 0, nullptr, 0); }},
    {"mount", [] { return syscall(SYS_mount, "none", "/", "tmpfs", 0, nullptr); }},
    {"chroot", [] { return syscall(SYS_chroot, "/"); }},
    {"pivot_root", [] { return syscall(SYS_pivot_root, ".", "."); }},
    {"unshare", [] { return syscall(SYS_unshare, CLONE_NEWUSER); }},
    {"ptrace_attach", [] { return syscall(SYS_ptrace, PTRACE_ATTACH, 1, 0, 0); }},
    {"ptrace_peekdata", [] { return syscall(SYS_ptrace, PTRACE_PEEKDATA, 1, 0, 0); }},
    {"process_vm_readv",
     [] { return syscall(SYS_process_vm_readv, 1, nullptr, 0, nullptr, 0, 0); }},
    {"clone_newuser", [] { return syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0); }},
    {"mmap_exec",
     [] {
       return reinterpret_cast<long>(
           mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
     }},
    {"mprotect_exec",
     [] {
       void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
       return static_cast<long>(mprotect(p, 4096, PROT_READ | PROT_EXEC));
     }},
    {"ioctl_tiocsti", [] { return syscall(SYS_ioctl, 0, TIOCSTI, "x"); }},
    {"fallocate_other_fd", [] { return syscall(SYS_fallocate, 1, 0, 0, 4096); }},
    {"prlimit_set",
     [] {
       rlimit r = {1, 1};
       return syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &r, nullptr);
     }},
    {"setuid", [] { return syscall(SYS_setuid, 0); }},
    {"kexec_load", [] { return syscall(SYS_kexec_load, 0, 0, nullptr, 0); }},
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: confine_probe SCENARIO\n");
    return 64;
  }
  std::string scenario = argv[1];
  if (scenario == "platform") return Platform(0);
  if (scenario == "signals") return Signals(0);

  // The sentry's memory file stands in for the one fd whose mappings may be executable.
  auto memory = sentry::mm::MemoryFile::Create(1 << 20);
  if (!memory.ok()) return 5;
  if (!Confine((*memory)->fd())) return 2;
  if (scenario == "allowed") return Allowed(0);
  if (scenario == "pause") return WaitForTest();
  auto it = kForbidden.find(scenario);
  if (it == kForbidden.end()) return 64;
  it->second();
  return kNotKilled;
}
