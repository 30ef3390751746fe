// The platform runs application code until it needs the kernel. Everything above this header
// (kernel, mm, syscalls) is platform-neutral; platform/ptrace and platform/kvm implement it.
#pragma once

#include <signal.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sentry/arch/cpu_state.h"
#include "sentry/base/errno.h"

namespace sentry::platform {

enum AccessType : uint8_t {
  kAccessNone = 0,
  kAccessRead = 1,
  kAccessWrite = 2,
  kAccessExec = 4,
};

// One application address space. Ranges are page aligned and lie below MaxUserAddress().
class AddressSpace {
 public:
  virtual ~AddressSpace() = default;
  // Maps [addr, addr+len) to the MemoryFile range starting at `offset` with `perms`, replacing
  // whatever was mapped there. Also used to change protections of a mapped range.
  virtual Result<void> MapFile(uint64_t addr, uint64_t offset, uint64_t len, uint8_t perms) = 0;
  virtual void Unmap(uint64_t addr, uint64_t len) = 0;
  // Changes the protection of [addr, addr+len), which MapFile mapped, keeping what is mapped
  // (cheaper than mapping it again). May refuse (ENOSYS, or for execute permission on ptrace);
  // the caller then uses MapFile.
  virtual Result<void> Protect(uint64_t /*addr*/, uint64_t /*len*/, uint8_t /*perms*/) {
    return Err(ENOSYS);
  }
  // From now on MapFile and Unmap may also be called on host threads that run no task here (a
  // process truncating a file that this address space maps drops the file's pages here). Called
  // on a thread that can drive this address space; once is enough.
  virtual Result<void> EnableForeignAccess() { return {}; }
  // Makes room for one more task to run here (a new thread, or a vfork child sharing the
  // memory). Called on the host thread of a task that runs here already, before the new task's
  // first Switch.
  virtual Result<void> AddThread() = 0;
};

enum class SwitchKind {
  kSyscall,      // the application made a system call; state holds its number and arguments
  kFault,        // a memory fault (SIGSEGV/SIGBUS); info.si_addr is the faulting address
  kSignal,       // a synchronous exception such as SIGILL, SIGFPE or SIGTRAP; see info
  kInterrupted,  // Interrupt() was called, or the host asked the task to stop
};

struct SwitchResult {
  SwitchKind kind;
  siginfo_t info{};  // valid for kFault and kSignal
};

// The execution context of one task: it runs on the host thread that created it.
class Context {
 public:
  virtual ~Context() = default;
  // Runs `state` in `as` until a syscall, fault or interrupt; returns which and updates `state`.
  // An error means the platform lost the task (its host stub died); the task cannot continue.
  virtual Result<SwitchResult> Switch(AddressSpace& as, arch::CpuState& state) = 0;
  // Callable from any thread: makes a running or upcoming Switch return kInterrupted soon.
  virtual void Interrupt() = 0;
  // The task's FP/SSE registers as they are now (between Switch calls, on the task's thread).
  virtual Result<user_fpregs_struct> ReadFpState(AddressSpace& as) = 0;
  // The task's whole extended register state (XSAVE layout), between Switch calls.
  virtual Result<std::vector<uint8_t>> ReadXState(AddressSpace& as) = 0;
  // The task leaves `as` for good (it exits, or execve gives it a new address space): what the
  // platform keeps for it there is released. Call on the task's thread, before that thread ends.
  virtual void Leave(AddressSpace& as) = 0;
  // CPU time the application has spent running in this context, in nanoseconds.
  virtual uint64_t AppCpuTimeNs() const = 0;
  // Wall time this context has spent running the application (from each resume to the trap
  // that ended it), in nanoseconds: this thread's own share, where AppCpuTimeNs may count a
  // whole address space. It exceeds the CPU time by what the host preempted.
  virtual uint64_t AppRunTimeNs() const { return AppCpuTimeNs(); }
};

class Platform {
 public:
  virtual ~Platform() = default;
  virtual std::string Name() const = 0;
  // Highest application address (exclusive); the platform may reserve what lies above. Every
  // mapping below it, the vDSO's too, is the kernel's (sentry/loader/vdso.h): a platform adds
  // none of its own.
  virtual uint64_t MaxUserAddress() const = 0;
  virtual absl::StatusOr<std::unique_ptr<AddressSpace>> NewAddressSpace() = 0;
  virtual absl::StatusOr<std::unique_ptr<Context>> NewContext() = 0;
};

}  // namespace sentry::platform
