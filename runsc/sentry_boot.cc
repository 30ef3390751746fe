#include "runsc/sentry_boot.h"

#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "platform/ptrace/ptrace_platform.h"
#include "sentry/kernel/kernel.h"
#include "sentry/syscalls/table.h"
#include "spdlog/sinks/basic_file_sink.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace runsc {
namespace {

// Logs go to DIR/runsc.sentry.PID.log with --debug-log (everything), else to stderr (warnings
// and errors). The strace logger follows the same sink but always logs.
void SetUpLogging(const BootConfig& config) {
  spdlog::sink_ptr sink;
  if (!config.debug_log_dir.empty()) {
    std::string path = absl::StrCat(config.debug_log_dir, "/runsc.sentry.", getpid(), ".log");
    sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, false);
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  auto main = std::make_shared<spdlog::logger>("sentry", sink);
  main->set_pattern("%^%L%$ %H:%M:%S.%f %t] %v");
  main->set_level(config.debug_log_dir.empty() ? spdlog::level::warn : spdlog::level::debug);
  main->flush_on(spdlog::level::info);
  spdlog::set_default_logger(main);
  auto strace = std::make_shared<spdlog::logger>("strace", sink);
  strace->set_pattern("%v");
  strace->set_level(spdlog::level::info);
  strace->flush_on(spdlog::level::info);
  spdlog::register_logger(strace);
}

int ExitCodeForStartError(int err) {
  if (err == ENOENT) return 127;
  if (err == ENOEXEC || err == EACCES) return 126;
  return 1;
}

}  // namespace

int Boot(BootConfig config) {
  SetUpLogging(config);
  if (config.platform != "ptrace") {
    spdlog::error("platform {} is not available; use --platform=ptrace", config.platform);
    return 1;
  }
  auto memory = sentry::mm::MemoryFile::Create();
  if (!memory.ok()) {
    spdlog::error("memory file: {}", memory.status().ToString());
    return 1;
  }
  auto platform = platform::ptrace::PtracePlatform::Create((*memory)->fd());
  if (!platform.ok()) {
    spdlog::error("ptrace platform: {}", platform.status().ToString());
    return 1;
  }
  sentry::kernel::KernelOptions options{.strace = config.strace,
                                .hostname = config.hostname,
                                .dispatcher = sentry::syscalls::Dispatch};
  sentry::kernel::Kernel k(std::move(options), std::move(*memory), std::move(*platform));

  sentry::kernel::InitProcessArgs init{.executable = sentry::FileDescriptor(config.executable_fd),
                               .path = config.executable_path,
                               .argv = std::move(config.argv),
                               .envp = std::move(config.envp),
                               .stdio = {}};
  for (int fd = 0; fd < 3; ++fd) init.stdio.emplace_back(fcntl(fd, F_DUPFD_CLOEXEC, 3));
  auto exit_code = k.RunInit(std::move(init));
  if (!exit_code) {
    // The message carries the errno's text ("Exec format error"), as a shell would print it.
    spdlog::error("{}", exit_code.error().message);
    if (!config.debug_log_dir.empty()) fprintf(stderr, "runsc: %s\n", exit_code.error().message.c_str());
    return ExitCodeForStartError(exit_code.error().err);
  }
  return *exit_code;
}

}  // namespace runsc
