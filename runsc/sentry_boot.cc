#include "runsc/sentry_boot.h"

#include <fcntl.h>
#include <unistd.h>

#include <set>

#include "absl/base/internal/sysinfo.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "platform/ptrace/ptrace_platform.h"
#include "platform/ptrace/stub_seccomp.h"
#include "runsc/console.h"
#include "runsc/container_mounts.h"
#include "runsc/sandbox_namespaces.h"
#include "runsc/sentry_confinement.h"
#include "sentry/control/server.h"
#include "sentry/fsimpl/dev/dev.h"
#include "sentry/fsimpl/devpts/devpts.h"
#include "sentry/fsimpl/devpts/host_console.h"
#include "sentry/fsimpl/devpts/terminal.h"
#include "sentry/fsimpl/gofer/gofer_fs.h"
#include "sentry/fsimpl/gofer/kept_pages.h"
#include "sentry/fsimpl/mqueue/mqueue.h"
#include "sentry/fsimpl/overlay/overlay.h"
#include "sentry/fsimpl/proc/proc.h"
#include "sentry/fsimpl/sys/sys.h"
#include "sentry/fsimpl/tmpfs/tmpfs.h"
#include "sentry/kernel/kernel.h"
#include "sentry/loader/vdso.h"
#include "sentry/syscalls/table.h"
#include "sentry/vfs/resolve.h"
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

namespace vfs = sentry::vfs;

// What procfs takes as options (Linux 6.1): hidepid=, gid=, subset=pid. They change nothing
// here: the sandbox's /proc shows only the caller's own process anyway.
sentry::Result<void> CheckProcOptions(const std::vector<vfs::MountOption>& options) {
  for (const auto& o : options) {
    if (!o.has_value || o.value.empty()) return sentry::Err(EINVAL);
    if (o.key == "hidepid") {
      static const std::set<std::string> kValues = {"0",   "1",        "2",         "4",
                                                    "off", "noaccess", "invisible", "ptraceable"};
      if (!kValues.contains(o.value)) return sentry::Err(EINVAL);
    } else if (o.key == "gid") {
      if (o.value.find_first_not_of("0123456789") != std::string::npos) {
        return sentry::Err(EINVAL);
      }
    } else if (o.key == "subset") {
      if (o.value != "pid") return sentry::Err(EINVAL);
    } else {
      return sentry::Err(EINVAL);
    }
  }
  return {};
}

// The file system types mount(2) knows: tmpfs, proc, sysfs and mqueue (the last two one tree
// each, shared by every mount of it, as Linux's are within a network or IPC namespace).
void RegisterFilesystems(sentry::kernel::Kernel& kernel,
                         const sentry::fsimpl::proc::HostProcSnapshot& host) {
  namespace tmpfs = sentry::fsimpl::tmpfs;
  using RootResult = sentry::Result<std::shared_ptr<vfs::Inode>>;
  sentry::mm::MemoryFile& memory = kernel.memory_file();
  const uint64_t ram = host.mem_total_bytes;
  kernel.filesystems().Register(vfs::FilesystemType{
      .name = "tmpfs",
      .mount = [&memory, ram](const vfs::MountArgs& args) -> RootResult {
        tmpfs::MountOptions o = TRY(tmpfs::ParseMountOptions(args.options, ram));
        // Linux's default size is half the RAM (0, unlimited, when the host's is unknown).
        tmpfs::FilesystemOptions limits{.size_limit = o.size_limit.value_or(ram / 2),
                                        .max_inodes = o.max_inodes.value_or(0)};
        return tmpfs::Filesystem::Create(memory, o.mode, o.uid, o.gid, limits)->root();
      },
      .remount = [ram](vfs::Inode& root,
                       const std::vector<vfs::MountOption>& options) -> sentry::Result<void> {
        return tmpfs::Remount(root, TRY(tmpfs::ParseMountOptions(options, ram)));
      }});
  kernel.filesystems().Register(vfs::FilesystemType{
      .name = "proc",
      .mount = [&kernel, host](const vfs::MountArgs& args) -> RootResult {
        TRY(CheckProcOptions(args.options));
        return sentry::fsimpl::proc::NewProcRoot(kernel, host);
      },
      .remount = [](vfs::Inode&, const std::vector<vfs::MountOption>& options) {
        return CheckProcOptions(options);
      }});
  kernel.filesystems().Register(vfs::FilesystemType{
      .name = "devpts",
      .mount = [&kernel](const vfs::MountArgs& args) -> RootResult {
        namespace devpts = sentry::fsimpl::devpts;
        return devpts::Devpts::NewRoot(kernel, TRY(devpts::ParseDevptsOptions(args.options)));
      },
      .remount = nullptr});
  auto sys = sentry::fsimpl::sys::NewSysRoot({.num_cpus = host.num_cpus});
  kernel.filesystems().Register(
      vfs::FilesystemType{.name = "sysfs",
                          .mount = [sys](const vfs::MountArgs& args) -> RootResult {
                            if (!args.options.empty()) return sentry::Err(EINVAL);
                            return sys;
                          },
                          .remount = nullptr});
  // POSIX message queues: one instance (the sandbox's IPC namespace), the one mq_open uses.
  kernel.filesystems().Register(vfs::FilesystemType{
      .name = "mqueue",
      .mount = [&kernel](const vfs::MountArgs& args) -> RootResult {
        if (!args.options.empty()) return sentry::Err(EINVAL);
        return kernel.InternalMount("mqueue", sentry::fsimpl::mqueue::NewMqueueMount)
            ->root()
            ->inode_ptr();
      },
      .remount = nullptr});
}

// The sandbox's mount tree: the gofer's root (the host's /, served read-only) under an overlay
// whose tmpfs upper layer takes every write, so the sandbox can change any file and the host's
// stay as they are; the sandbox's own /dev, /proc and /sys; and the volumes, the gofer's other
// attach points, each on its path (created in the overlay if missing), read-only if asked.
absl::StatusOr<std::shared_ptr<vfs::MountNamespace>> BuildMounts(
    int gofer_fd, sentry::kernel::Kernel& kernel, const std::vector<VolumeMount>& volumes,
    bool root_read_only, bool root_writable, const ContainerSetup& container) {
  sentry::mm::MemoryFile& memory = kernel.memory_file();
  auto channel = std::make_shared<gofer::Channel>(sentry::FileDescriptor(gofer_fd));
  auto fs = std::make_shared<sentry::fsimpl::gofer::Filesystem>(std::move(channel), &memory);
  // The host's root under the overlay is only ever read, and nobody is expected to change it
  // under a running sandbox: cached as the sandbox sees it, the fast path for programs and
  // libraries. A writable root is the bundle's rootfs, which the host may change as well.
  auto root = fs->Attach(0, root_writable ? sentry::fsimpl::gofer::CachePolicy::kRevalidate
                                          : sentry::fsimpl::gofer::CachePolicy::kExclusive);
  if (!root) {
    return absl::UnavailableError(
        absl::StrCat("attaching to the gofer: ", strerror(root.error().value)));
  }
  // A writable container root (OCI root.readonly false) is the gofer's own tree, as runc
  // would give it: writes reach the bundle's rootfs.
  auto mount = root_writable ? std::make_shared<vfs::Mount>(vfs::Dentry::NewRoot(std::move(*root)),
                                                            "gofer", "rootfs", 0)
                             : std::make_shared<vfs::Mount>(
                                   vfs::Dentry::NewRoot(sentry::fsimpl::overlay::NewOverlayRoot(
                                       memory, std::move(*root))),
                                   "overlay", "overlay", 0);
  auto mounts = std::make_shared<vfs::MountNamespace>(std::move(mount));

  struct Extra {
    const char* path;
    std::shared_ptr<vfs::Inode> root;
    const char* type;
    int flags;
  };
  auto instance = [&](const char* type) -> std::shared_ptr<vfs::Inode> {
    vfs::MountArgs args;
    args.source = type;
    auto r = kernel.filesystems().Find(type)->mount(args);
    return r ? *r : nullptr;
  };
  constexpr int kNoSuidDevExec = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  for (const Extra& e :
       {Extra{"/dev", sentry::fsimpl::dev::NewDevFilesystem(memory)->root(), "tmpfs", MS_NOSUID},
        Extra{"/dev/mqueue", instance("mqueue"), "mqueue", kNoSuidDevExec},
        // With ptmxmode=0666 (the default here), as container runtimes mount it.
        Extra{"/dev/pts", instance("devpts"), "devpts", MS_NOSUID | MS_NOEXEC},
        Extra{"/proc", instance("proc"), "proc", kNoSuidDevExec},
        Extra{"/sys", instance("sysfs"), "sysfs", kNoSuidDevExec}}) {
    // A container's rootfs may lack them (the host's root has them all): made in the overlay.
    auto at = MakeMountPoint(*mounts, e.path, /*dir=*/true);
    if (!at) {
      spdlog::warn("no {} to mount {} on", e.path, e.type);
      continue;
    }
    auto m = std::make_shared<vfs::Mount>(vfs::Dentry::NewRoot(e.root), e.type, e.type, e.flags);
    if (auto r = mounts->AddMount(*at, std::move(m)); !r) {
      return absl::InternalError(
          absl::StrCat("mounting ", e.path, ": ", strerror(r.error().value)));
    }
  }

  for (size_t i = 0; i < volumes.size(); ++i) {
    const VolumeMount& v = volumes[i];
    auto failed = [&](const char* what, int err) {
      return absl::InternalError(absl::StrCat("volume ", v.path, ": ", what, ": ", strerror(err)));
    };
    // A volume is shared with the host by design: revalidated.
    auto volume_root =
        fs->Attach(static_cast<uint32_t>(i + 1), sentry::fsimpl::gofer::CachePolicy::kRevalidate);
    if (!volume_root) return failed("attaching to the gofer", volume_root.error().value);
    auto at = MakeMountPoint(*mounts, v.path, (*volume_root)->IsDir());
    if (!at) return failed("making the mount point", at.error().value);
    bool known = !v.fs_type.empty();
    auto m = std::make_shared<vfs::Mount>(
        vfs::Dentry::NewRoot(std::move(*volume_root)), known ? v.fs_type : "gofer",
        known ? v.source : "none", v.read_only ? MS_RDONLY : 0, known ? v.fs_root : "");
    if (auto r = mounts->AddMount(*at, std::move(m)); !r) return failed("mounting", r.error().value);
  }
  if (auto s = ApplyContainerMounts(*mounts, kernel, *fs, container); !s.ok()) return s;
  if (root_read_only) {
    // Only now: the mount points above were made in the overlay first.
    vfs::Mount& root_mount = *mounts->Root().mount;
    if (auto r = mounts->SetFlags(root_mount, root_mount.flags() | MS_RDONLY); !r) {
      return absl::InternalError(
          absl::StrCat("making the root read-only: ", strerror(r.error().value)));
    }
  }
  return mounts;
}

int ExitCodeForStartError(int err) {
  if (err == ENOENT) return 127;
  if (err == ENOEXEC || err == EACCES) return 126;
  return 1;
}

}  // namespace

int Boot(BootConfig config) {
  InstallInitSignalHandlers();  // [confinement] the sentry is PID 1 of its PID namespace
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
  // [confinement] Stubs install their own seccomp filter (platform/ptrace/stub_seccomp.h).
  const int memory_fd = (*memory)->fd();
  if (auto s = platform::ptrace::EnableStubFilter(memory_fd); !s.ok()) {
    spdlog::error("stub seccomp filter: {}", s.ToString());
    return 1;
  }
  // What /proc and /sys show of the host (cpuinfo, the CPU count) is read now, while the sentry
  // can still open files.
  auto host = sentry::fsimpl::proc::HostProcSnapshot::Capture();
  // Clean pages of host files nobody maps: a share of the memory the sandbox sees.
  if (host.mem_total_bytes != 0) {
    sentry::fsimpl::gofer::KeptPages::Sandbox().SetBudgetBytes(
        sentry::fsimpl::gofer::KeptPages::BudgetFor(host.mem_total_bytes));
  }
  sentry::kernel::KernelOptions options{.strace = config.strace,
                                        .hostname = config.hostname,
                                        .uid = config.uid,
                                        .gid = config.gid,
                                        .dispatcher = sentry::syscalls::Dispatch,
                                        .num_cpus = std::max(1u, host.num_cpus),
                                        .mem_total_bytes = host.mem_total_bytes,
                                        .vdso_tsc_clocks = sentry::loader::HostClocksRunOnTsc()};
  sentry::kernel::Kernel k(std::move(options), std::move(*memory), std::move(*platform));
  RegisterFilesystems(k, host);
  auto mounts = BuildMounts(config.gofer_fd, k, config.volumes, config.root_read_only,
                            config.root_writable, config.container);
  if (!mounts.ok()) {
    spdlog::error("file system: {}", mounts.status().ToString());
    return 1;
  }
  k.SetMounts(std::move(*mounts));

  sentry::kernel::InitProcessArgs init;
  init.path = config.executable_path;
  init.argv = std::move(config.argv);
  init.envp = std::move(config.envp);
  init.cwd = config.cwd;
  init.identity = config.container.identity;
  std::unique_ptr<sentry::fsimpl::devpts::HostConsole> console;
  if (config.console_fd >= 0) {
    // Size changes come from runsc run's SIGWINCH, or from a watcher forked now, while the
    // sentry may still fork freely.
    sentry::FileDescriptor winsize_events;
    if (config.console_winsize_fd >= 0) {
      winsize_events = sentry::FileDescriptor(config.console_winsize_fd);
    } else if (auto w = StartWinsizeWatcher(config.console_fd); w.ok()) {
      winsize_events = std::move(*w);
    } else {
      spdlog::info("console: {}", std::string(w.status().message()));
    }
    auto c = sentry::fsimpl::devpts::HostConsole::Open(
        k.mounts(), sentry::FileDescriptor(config.console_fd), std::move(winsize_events),
        config.uid, config.gid);
    if (!c) {
      spdlog::error("console: opening a terminal in the sandbox: {}", strerror(c.error().value));
      return 1;
    }
    console = std::move(*c);
    init.stdio_files.assign(3, console->replica());
    init.terminal = console->terminal();
    if (config.stdio_fd >= 0) {
      for (int fd = config.stdio_fd; fd < config.stdio_fd + 3; ++fd) close(fd);  // unused
    }
  } else if (config.stdio_fd >= 0) {
    for (int fd = config.stdio_fd; fd < config.stdio_fd + 3; ++fd) init.stdio.emplace_back(fd);
  } else {
    for (int fd = 0; fd < 3; ++fd) init.stdio.emplace_back(fcntl(fd, F_DUPFD_CLOEXEC, 3));
  }
  // [confinement] Empty root, no capabilities, seccomp: from here on the sentry opens no path.
  // The first stub (created by RunInit) inherits the filter and stacks its own on top.
  // Abseil reads the CPU's frequency from /sys and /proc the first time a Mutex is contended;
  // let it read now, before the sentry may open no file.
  (void)absl::base_internal::NominalCPUFrequency();
  (void)absl::base_internal::NumCPUs();
  if (auto s = ConfineSentry({.memory_fd = memory_fd}); !s.ok()) {
    spdlog::error("confining the sentry: {}", s.ToString());
    return 1;
  }
  if (console) {
    console->Start();  // threads only now: the sentry confines itself single-threaded
    console.reset();   // init's stdio keep the replica; the threads keep the rest
  }
  // The server is never destroyed: its threads run until the sentry exits.
  sentry::control::Server* control = nullptr;
  if (config.control_fd >= 0) {
    static sentry::control::Server server(k, sentry::FileDescriptor(config.control_fd));
    control = &server;
    control->Serve();
    if (auto killed = control->WaitForStart()) {
      spdlog::shutdown();
      _exit(128 + *killed);
    }
  }
  auto exit_code = k.RunInit(std::move(init));
  if (control != nullptr) {
    control->InitExited(exit_code ? *exit_code : ExitCodeForStartError(exit_code.error().err));
  }
  if (!exit_code) {
    // The message carries the errno's text ("Exec format error"), as a shell would print it.
    spdlog::error("{}", exit_code.error().message);
    if (!config.debug_log_dir.empty())
      fprintf(stderr, "runsc: %s\n", exit_code.error().message.c_str());
    return ExitCodeForStartError(exit_code.error().err);
  }
  // Init is gone: like a PID namespace, the sandbox ends with it. Other tasks' host threads may
  // still be running (or blocked on the host), so leave at once; their stubs die with the sentry.
  spdlog::shutdown();
  fflush(nullptr);
  _exit(*exit_code);
}

}  // namespace runsc
