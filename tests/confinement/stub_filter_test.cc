// The stubs' seccomp filter (platform/ptrace/stub_seccomp.h), against real stubs: it lets the
// sentry map and unmap the MemoryFile, kills the stub on anything else, never sees the
// application's syscalls (PTRACE_SYSEMU skips them first), and turns the vsyscall page into
// SIGSYS.
#include "platform/ptrace/stub_seccomp.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <xbyak/xbyak.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "platform/ptrace/ptrace_platform.h"
#include "platform/ptrace/stub.h"
#include "sentry/base/file_descriptor.h"
#include "sentry/mm/memory_file.h"

namespace platform::ptrace {
namespace {

using sentry::platform::kAccessExec;
using sentry::platform::kAccessRead;
using sentry::platform::kAccessWrite;
using sentry::platform::SwitchKind;

constexpr uint64_t kCodeAddr = 0x10000;
constexpr uint64_t kStackAddr = 0x20000;
constexpr uint64_t kVsyscallGettimeofday = 0xffffffffff600000;
constexpr uint64_t kVsyscallTime = 0xffffffffff600400;
constexpr uint64_t kVsyscallGetcpu = 0xffffffffff600800;

std::string SeccompMode(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("Seccomp:")) return line.substr(line.find_first_not_of(" \t", 8));
  }
  return "?";
}

bool HostHasVsyscallPage() {
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    if (line.ends_with("[vsyscall]")) return true;
  }
  return false;
}

// Application code: makes each syscall in `numbers` in turn, then spins.
class SyscallProgram : public Xbyak::CodeGenerator {
 public:
  explicit SyscallProgram(const std::vector<int>& numbers)
      : Xbyak::CodeGenerator(4096, Xbyak::DontSetProtectRWE) {
    for (int nr : numbers) {
      mov(eax, nr);
      syscall();
    }
    Xbyak::Label spin;
    L(spin);
    jmp(spin);
  }
};

// Application code: calls a vsyscall entry (with null arguments), then makes getpid.
class VsyscallProgram : public Xbyak::CodeGenerator {
 public:
  explicit VsyscallProgram(uint64_t entry) : Xbyak::CodeGenerator(4096, Xbyak::DontSetProtectRWE) {
    xor_(edi, edi);
    xor_(esi, esi);
    xor_(edx, edx);
    mov(rax, entry);
    call(rax);
    mov(eax, SYS_getpid);
    syscall();
    Xbyak::Label spin;
    L(spin);
    jmp(spin);
  }
};

class StubFilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mf = sentry::mm::MemoryFile::Create(1 << 24);
    ASSERT_TRUE(mf.ok()) << mf.status();
    memory_ = std::move(*mf);
    // What PtracePlatform::Create does first, for the tests that make stubs by hand.
    ASSERT_TRUE(InstallStubCode().ok());
  }

  // A platform whose stubs carry the filter (with_filter) or not. Without it, the platform gets
  // a dup of the MemoryFile fd under a number no filter was enabled for.
  void StartPlatform(bool with_filter) {
    int fd = memory_->fd();
    if (with_filter) {
      ASSERT_TRUE(EnableStubFilter(fd).ok());
    } else {
      while (StubFilterFor(fd) != nullptr) {
        dups_.emplace_back(dup(fd));
        fd = dups_.back().get();
      }
    }
    auto p = PtracePlatform::Create(fd);
    ASSERT_TRUE(p.ok()) << p.status();
    platform_ = std::move(*p);
    auto as = platform_->NewAddressSpace();
    ASSERT_TRUE(as.ok()) << as.status();
    as_ = std::move(*as);
    auto ctx = platform_->NewContext();
    ASSERT_TRUE(ctx.ok());
    ctx_ = std::move(*ctx);
  }

  // Copies `code` into a fresh MemoryFile page and maps it at kCodeAddr, with a stack below it.
  void LoadProgram(const Xbyak::CodeGenerator& code) {
    uint64_t offset = *memory_->Allocate(4096);
    std::memcpy(memory_->Access(offset), code.getCode(), code.getSize());
    ASSERT_TRUE(as_->MapFile(kCodeAddr, offset, 4096, kAccessRead | kAccessExec));
    uint64_t stack = *memory_->Allocate(4096);
    ASSERT_TRUE(as_->MapFile(kStackAddr, stack, 4096, kAccessRead | kAccessWrite));
  }

  std::unique_ptr<sentry::mm::MemoryFile> memory_;
  std::vector<sentry::FileDescriptor> dups_;
  std::unique_ptr<PtracePlatform> platform_;
  std::unique_ptr<sentry::platform::AddressSpace> as_;
  std::unique_ptr<sentry::platform::Context> ctx_;
};

TEST(StubFilterProgram, BuildsAndRefusesABadFd) {
  auto program = BuildStubFilter(3);
  ASSERT_TRUE(program.ok()) << program.status();
  EXPECT_GT(program->size(), 10u);
  EXPECT_FALSE(BuildStubFilter(-1).ok());
}

TEST_F(StubFilterTest, StubsRunUnderTheFilter) {
  ASSERT_TRUE(EnableStubFilter(memory_->fd()).ok());
  auto stub = StubProcess::Create(memory_->fd());
  ASSERT_TRUE(stub.ok()) << stub.status();
  EXPECT_EQ(SeccompMode((*stub)->pid()), "2");
}

TEST_F(StubFilterTest, AllowsMappingTheMemoryFile) {
  ASSERT_TRUE(EnableStubFilter(memory_->fd()).ok());
  auto created = StubProcess::Create(memory_->fd());
  ASSERT_TRUE(created.ok()) << created.status();
  StubProcess& stub = **created;
  uint64_t offset = *memory_->Allocate(4096);
  auto r = stub.Syscall(SYS_mmap, kCodeAddr, 4096, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED,
                        memory_->fd(), offset);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, kCodeAddr);
  r = stub.Syscall(SYS_mprotect, kCodeAddr, 4096, PROT_READ);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 0u);
  r = stub.Syscall(SYS_munmap, kCodeAddr, 4096);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 0u);
  EXPECT_FALSE(stub.dead());
}

// Each forbidden syscall, run by the stub itself, kills it: the sentry sees it gone.
struct Forbidden {
  const char* name;
  uint64_t nr, a0, a1, a2, a3, a4;
  bool use_memory_fd;  // a4 is the MemoryFile fd
};

class StubFilterKillsTest : public StubFilterTest,
                            public ::testing::WithParamInterface<Forbidden> {};

TEST_P(StubFilterKillsTest, KillsTheStub) {
  const Forbidden& f = GetParam();
  ASSERT_TRUE(EnableStubFilter(memory_->fd()).ok());
  auto created = StubProcess::Create(memory_->fd());
  ASSERT_TRUE(created.ok()) << created.status();
  StubProcess& stub = **created;
  uint64_t a4 = f.use_memory_fd ? static_cast<uint64_t>(memory_->fd()) : f.a4;
  auto r = stub.Syscall(f.nr, f.a0, f.a1, f.a2, f.a3, a4);
  EXPECT_FALSE(r) << f.name << " returned " << (r ? *r : 0);
  EXPECT_TRUE(stub.dead()) << f.name;
}

INSTANTIATE_TEST_SUITE_P(
    Forbidden, StubFilterKillsTest,
    ::testing::Values(
        Forbidden{"getpid", SYS_getpid, 0, 0, 0, 0, 0, false},
        Forbidden{"openat", SYS_openat, static_cast<uint64_t>(AT_FDCWD), 0, 0, 0, 0, false},
        Forbidden{"execve", SYS_execve, 0, 0, 0, 0, 0, false},
        Forbidden{"socket", SYS_socket, AF_INET, SOCK_STREAM, 0, 0, 0, false},
        // A stub may fork (clone(SIGCHLD)) and clone its own threads; nothing else.
        Forbidden{"clone", SYS_clone, CLONE_VM | SIGCHLD, 0, 0, 0, 0, false},
        Forbidden{"mmap anonymous", SYS_mmap, 0x30000, 4096, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, static_cast<uint64_t>(-1), false},
        Forbidden{"mmap of the MemoryFile, private", SYS_mmap, 0x30000, 4096, PROT_READ,
                  MAP_PRIVATE | MAP_FIXED, 0, true},
        Forbidden{"mmap of another fd", SYS_mmap, 0x30000, 4096, PROT_READ, MAP_SHARED | MAP_FIXED,
                  0, false}),
    [](const auto& info) {
      std::string name = info.param.name;
      for (char& c : name) {
        if (!isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

// Without the filter the same stub survives getpid: the kill above is the filter's doing.
TEST_F(StubFilterTest, WithoutTheFilterTheStubSurvivesGetpid) {
  StartPlatform(/*with_filter=*/false);
  int fd = dups_.empty() ? memory_->fd() : dups_.back().get();
  auto created = StubProcess::Create(fd);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(SeccompMode((*created)->pid()), "0");
  auto r = (*created)->Syscall(SYS_getpid);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, static_cast<uint64_t>((*created)->pid()));
}

// The application's syscalls reach the sentry, the forbidden ones included: under PTRACE_SYSEMU
// the kernel stops the stub and skips the syscall before seccomp looks at it.
TEST_F(StubFilterTest, ApplicationSyscallsStillTrapToTheSentry) {
  StartPlatform(/*with_filter=*/true);
  const std::vector<int> numbers = {
      SYS_getpid,       SYS_openat, SYS_execve, SYS_socket, SYS_connect, SYS_mount,     SYS_ptrace,
      SYS_gettimeofday, SYS_time,   SYS_getcpu, SYS_clone,  SYS_mmap,    SYS_exit_group};
  SyscallProgram program(numbers);
  LoadProgram(program);
  auto state = sentry::arch::CpuState::ForEntry(kCodeAddr, kStackAddr + 4096);
  for (int nr : numbers) {
    auto r = ctx_->Switch(*as_, state);
    ASSERT_TRUE(r) << "syscall " << nr;
    ASSERT_EQ(r->kind, SwitchKind::kSyscall) << "syscall " << nr << " signal " << r->info.si_signo;
    EXPECT_EQ(state.SyscallNumber(), static_cast<uint64_t>(nr));
    state.SetReturn(0);
  }
}

struct VsyscallEntry {
  const char* name;
  uint64_t addr;
  int nr;
};

class StubFilterVsyscallTest : public StubFilterTest,
                               public ::testing::WithParamInterface<VsyscallEntry> {};

// The host emulates the vsyscall page without a ptrace stop; the filter makes it a SIGSYS that
// the sentry sees (and will emulate), instead of a host syscall.
TEST_P(StubFilterVsyscallTest, VsyscallStopsWithSigsys) {
  if (!HostHasVsyscallPage()) GTEST_SKIP() << "the host has no vsyscall page";
  StartPlatform(/*with_filter=*/true);
  VsyscallProgram program(GetParam().addr);
  LoadProgram(program);
  auto state = sentry::arch::CpuState::ForEntry(kCodeAddr, kStackAddr + 4096);
  auto r = ctx_->Switch(*as_, state);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->kind, SwitchKind::kSignal);
  EXPECT_EQ(r->info.si_signo, SIGSYS);
  EXPECT_EQ(r->info.si_code, 1);  // SYS_SECCOMP
  EXPECT_EQ(r->info.si_syscall, GetParam().nr);
  EXPECT_EQ(reinterpret_cast<uint64_t>(r->info.si_call_addr), GetParam().addr);
}

INSTANTIATE_TEST_SUITE_P(Entries, StubFilterVsyscallTest,
                         ::testing::Values(VsyscallEntry{"gettimeofday", kVsyscallGettimeofday,
                                                         SYS_gettimeofday},
                                           VsyscallEntry{"time", kVsyscallTime, SYS_time},
                                           VsyscallEntry{"getcpu", kVsyscallGetcpu, SYS_getcpu}),
                         [](const auto& info) { return std::string(info.param.name); });

// Why the trap is needed: without the filter the host runs the vsyscall for the application
// and returns to it, and the sentry only sees the getpid after it.
TEST_F(StubFilterTest, WithoutTheFilterTheHostRunsVsyscalls) {
  if (!HostHasVsyscallPage()) GTEST_SKIP() << "the host has no vsyscall page";
  StartPlatform(/*with_filter=*/false);
  VsyscallProgram program(kVsyscallGettimeofday);
  LoadProgram(program);
  auto state = sentry::arch::CpuState::ForEntry(kCodeAddr, kStackAddr + 4096);
  auto r = ctx_->Switch(*as_, state);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, SwitchKind::kSyscall);
  EXPECT_EQ(state.SyscallNumber(), static_cast<uint64_t>(SYS_getpid));
}

}  // namespace
}  // namespace platform::ptrace
