#include "platform/ptrace/stub_seccomp.h"

#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "platform/ptrace/stub.h"
#include "sentry/base/file_descriptor.h"

namespace platform::ptrace {
namespace {

using ScmpContext = std::unique_ptr<void, decltype(&seccomp_release)>;

absl::Status ScmpError(int rc, absl::string_view what) {
  return absl::ErrnoToStatus(-rc, absl::StrCat("stub filter: ", what));
}

// The stub filter's rules; everything else kills the stub.
absl::Status AddStubRules(scmp_filter_ctx ctx, int memory_fd) {
  const scmp_arg_cmp memory_file = {4, SCMP_CMP_EQ, static_cast<uint64_t>(memory_fd), 0};
  const scmp_arg_cmp shared_fixed = {3, SCMP_CMP_EQ, MAP_SHARED | MAP_FIXED, 0};
  struct Rule {
    int nr;
    uint32_t action;
    std::vector<scmp_arg_cmp> when;
  };
  const Rule rules[] = {
      // AddressSpace::MapFile: a MemoryFile range, at a fixed address, shared with the sentry.
      {SCMP_SYS(mmap), SCMP_ACT_ALLOW, {memory_file, shared_fixed}},
      // AddressSpace::Unmap, and the stub code's start, which unmaps all of the sentry.
      {SCMP_SYS(munmap), SCMP_ACT_ALLOW, {}},
      // Changing protections in place (the sentry's filter, stacked under this one, still
      // refuses PROT_EXEC there).
      {SCMP_SYS(mprotect), SCMP_ACT_ALLOW, {}},
      // AddressSpace::AddThread: a sibling thread for another task, which parks in pause(2)
      // until that task's host thread seizes it.
      {SCMP_SYS(clone), SCMP_ACT_ALLOW, {{0, SCMP_CMP_EQ, kStubThreadCloneFlags, 0}}},
      // The template stub forks every later stub (stub_factory.h). Only the sentry's code in
      // the stub page makes that call; a fork from application code would get a process just
      // as confined, under this filter and the sentry's.
      {SCMP_SYS(clone), SCMP_ACT_ALLOW, {{0, SCMP_CMP_EQ, kStubForkFlags, 0}}},
      {SCMP_SYS(pause), SCMP_ACT_ALLOW, {}},
      // A stub's way out, and the return from a signal handler should one ever run in it.
      {SCMP_SYS(rt_sigreturn), SCMP_ACT_ALLOW, {}},
      {SCMP_SYS(exit), SCMP_ACT_ALLOW, {}},
      {SCMP_SYS(exit_group), SCMP_ACT_ALLOW, {}},
      // The vsyscall page: the host emulates it without a ptrace stop, but asks seccomp first.
      {SCMP_SYS(gettimeofday), SCMP_ACT_TRAP, {}},
      {SCMP_SYS(time), SCMP_ACT_TRAP, {}},
      {SCMP_SYS(getcpu), SCMP_ACT_TRAP, {}},
  };
  for (const Rule& r : rules) {
    int rc = seccomp_rule_add_exact_array(ctx, r.action, r.nr, static_cast<unsigned>(r.when.size()),
                                          r.when.data());
    if (rc != 0) return ScmpError(rc, absl::StrCat("rule for syscall ", r.nr));
  }
  return absl::OkStatus();
}

// One enabled filter: the program and the sock_fprog that points into it, both fixed for the
// life of the process once published.
struct EnabledFilter {
  int memory_fd;
  std::vector<sock_filter> instructions;
  sock_fprog program;
};

std::atomic<const EnabledFilter*> g_enabled{nullptr};

}  // namespace

absl::StatusOr<std::vector<sock_filter>> BuildStubFilter(int memory_fd) {
  if (memory_fd < 0) return absl::InvalidArgumentError("stub filter: no memory file fd");
  ScmpContext ctx(seccomp_init(SCMP_ACT_KILL_PROCESS), seccomp_release);
  if (!ctx) return absl::InternalError("stub filter: seccomp_init failed");
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) {
    return ScmpError(rc, "bad-arch action");
  }
  if (auto s = AddStubRules(ctx.get(), memory_fd); !s.ok()) return s;

  // libseccomp writes the program to an fd only (seccomp_export_bpf_mem is newer than
  // Debian 12's 2.5.4); a memfd cannot fill up and block the way a pipe could.
  sentry::FileDescriptor out(memfd_create("stub-seccomp", MFD_CLOEXEC));
  if (!out.valid()) return absl::ErrnoToStatus(errno, "stub filter: memfd_create");
  if (int rc = seccomp_export_bpf(ctx.get(), out.get())) return ScmpError(rc, "export");
  off_t size = lseek(out.get(), 0, SEEK_END);
  if (size <= 0 || size % sizeof(sock_filter) != 0) {
    return absl::InternalError(absl::StrCat("stub filter: exported ", size, " bytes"));
  }
  std::vector<sock_filter> program(size / sizeof(sock_filter));
  if (pread(out.get(), program.data(), size, 0) != size) {
    return absl::ErrnoToStatus(errno, "stub filter: reading the exported program");
  }
  return program;
}

bool InstallStubFilterRaw(const sock_fprog& program) {
  // Without CAP_SYS_ADMIN the kernel accepts a filter only under no_new_privs.
  if (syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
  return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) == 0;
}

absl::Status EnableStubFilter(int memory_fd) {
  // Filters are few (one per MemoryFile fd number, in practice one per process) and a stub
  // being forked may still point at one, so they are kept until the process ends.
  static std::mutex mu;
  static std::vector<std::unique_ptr<EnabledFilter>> kept;

  std::lock_guard lock(mu);
  const EnabledFilter* current = g_enabled.load();
  if (current != nullptr && current->memory_fd == memory_fd) return absl::OkStatus();
  auto program = BuildStubFilter(memory_fd);
  if (!program.ok()) return program.status();
  auto filter = std::make_unique<EnabledFilter>();
  filter->memory_fd = memory_fd;
  filter->instructions = std::move(*program);
  filter->program.len = static_cast<unsigned short>(filter->instructions.size());
  filter->program.filter = filter->instructions.data();
  g_enabled.store(filter.get());
  kept.push_back(std::move(filter));
  return absl::OkStatus();
}

const sock_fprog* StubFilterFor(int memory_fd) {
  const EnabledFilter* f = g_enabled.load();
  return f != nullptr && f->memory_fd == memory_fd ? &f->program : nullptr;
}

}  // namespace platform::ptrace
