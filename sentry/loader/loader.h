// The loader: puts an ELF executable (static or static-pie for now) into a fresh address space
// and builds its initial stack (argv, envp, auxv), as Linux's execve does.
#pragma once

#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sentry/arch/cpu_state.h"
#include "sentry/mm/memory_manager.h"
#include "sentry/vfs/file_description.h"

namespace sentry::loader {

struct ExecArgs {
  std::string execfn;  // AT_EXECFN: the path as execve received it
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  uint32_t uid = 0, euid = 0, gid = 0, egid = 0;
};

struct LoadError {
  int err;  // Linux errno execve would return: ENOEXEC, ENOENT (missing interpreter), E2BIG...
  std::string message;
};

// Chooses where the stack, the mmap area and the vDSO go, with Linux's randomisation. The vDSO
// ([vvar] and [vdso], `vdso_span` bytes, none when 0) goes in a window above the stack, as
// Linux placed it; layout.vdso_base is where its image (AT_SYSINFO_EHDR) starts.
mm::Layout ChooseLayout(uint64_t max_addr, uint64_t stack_limit, uint64_t vdso_span = 0);

// Opens a file by path in the sandbox (for the ELF interpreter).
using FileOpener =
    std::function<Result<std::shared_ptr<vfs::FileDescription>>(const std::string& path)>;

// A loaded program: the registers to start it with, and where its argument and environment
// strings lie on the new stack ([arg_start, arg_end) then [env_start, env_end), each string
// NUL-terminated, as Linux's mm->arg_start..env_end).
struct Loaded {
  arch::CpuState state;
  uint64_t arg_start = 0, arg_end = 0;
  uint64_t env_start = 0, env_end = 0;
};

// Loads the executable `exe` (and its interpreter, through `open`) into `mm` (fresh, with the
// layout from ChooseLayout).
std::expected<Loaded, LoadError> Load(mm::MemoryManager& mm, vfs::FileDescription& exe,
                                      const ExecArgs& args, const FileOpener& open);

}  // namespace sentry::loader
