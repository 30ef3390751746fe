#include "sentry/fsimpl/dev/dev.h"

#include <sys/random.h>
#include <sys/sysmacros.h>

#include <cerrno>

#include "sentry/kernel/ctty.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/vfs/iovec.h"

namespace sentry::fsimpl::dev {
namespace {

using tmpfs::CharDevice;
using vfs::IovecCursor;
using vfs::IovecTotal;

class NullDev : public CharDevice {
 public:
  Result<uint64_t> Read(std::span<const iovec>) override { return 0; }
  Result<uint64_t> Write(std::span<const iovec> src) override { return IovecTotal(src); }
};

class ZeroDev : public CharDevice {
 public:
  Result<uint64_t> Read(std::span<const iovec> dst) override {
    uint64_t n = IovecTotal(dst);
    IovecCursor(dst).FillZeros(n);
    return n;
  }
  Result<uint64_t> Write(std::span<const iovec> src) override { return IovecTotal(src); }
};

class FullDev : public ZeroDev {
 public:
  // Even an empty write fails, as on Linux.
  Result<uint64_t> Write(std::span<const iovec>) override { return Err(ENOSPC); }
};

class RandomDev : public CharDevice {
 public:
  Result<uint64_t> Read(std::span<const iovec> dst) override {
    uint64_t want = IovecTotal(dst);
    uint64_t done = 0;
    for (const iovec& v : dst) {
      auto* p = static_cast<uint8_t*>(v.iov_base);
      uint64_t len = std::min<uint64_t>(v.iov_len, want - done);
      uint64_t got = 0;
      while (got < len) {
        // getrandom returns at most 32 MiB per call and may be interrupted: loop.
        ssize_t r = getrandom(p + got, len - got, 0);
        if (r < 0) {
          if (errno == EINTR) continue;
          if (done + got > 0) return done + got;
          return Err(errno);
        }
        got += static_cast<uint64_t>(r);
      }
      done += got;
      if (done == want) break;
    }
    return done;
  }
  Result<uint64_t> Write(std::span<const iovec> src) override { return IovecTotal(src); }
};

// /dev/tty: every open is one of the caller's controlling terminal (ENXIO without one).
class TtyDev : public CharDevice {
 public:
  Result<uint64_t> Read(std::span<const iovec>) override { return Err(EIO); }
  Result<uint64_t> Write(std::span<const iovec>) override { return Err(EIO); }
  Result<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& path,
                                                     int flags) override {
    kernel::Task* task = kernel::Task::Current();
    if (task == nullptr) return Err(ENXIO);
    auto terminal = task->kernel().TerminalOf(task->thread_group());
    if (!terminal) return Err(ENXIO);
    return terminal->OpenAsDevTty(path, flags);
  }
};

}  // namespace

std::shared_ptr<CharDevice> NullDevice() { return std::make_shared<NullDev>(); }
std::shared_ptr<CharDevice> ZeroDevice() { return std::make_shared<ZeroDev>(); }
std::shared_ptr<CharDevice> FullDevice() { return std::make_shared<FullDev>(); }
std::shared_ptr<CharDevice> RandomDevice() { return std::make_shared<RandomDev>(); }

std::shared_ptr<tmpfs::Filesystem> NewDevFilesystem(mm::MemoryFile& memory) {
  auto fs = tmpfs::Filesystem::Create(memory, 0755, 0, 0);
  tmpfs::Directory& root = *fs->root_dir();
  const vfs::FsCredentials root_creds;  // uid 0, gid 0
  struct DeviceNode {
    const char* name;
    unsigned minor;
    std::shared_ptr<CharDevice> device;
  };
  // Linux's numbers for the memory devices (major 1, drivers/char/mem.c).
  const DeviceNode devices[] = {
      {"null", 3, NullDevice()},     {"zero", 5, ZeroDevice()},      {"full", 7, FullDevice()},
      {"random", 8, RandomDevice()}, {"urandom", 9, RandomDevice()},
  };
  // A fresh, empty instance cannot refuse these: the names are distinct and the inode limit is
  // far away. The results are dropped for that reason.
  for (const DeviceNode& d : devices) {
    (void)root.AddDevice(d.name, 0666, makedev(1, d.minor), d.device, root_creds);
  }
  (void)root.AddDevice("tty", 0666, makedev(5, 0), std::make_shared<TtyDev>(), root_creds);
  // As container runtimes make it: the ptmx of the devpts mounted on /dev/pts.
  (void)root.Symlink("ptmx", "pts/ptmx", root_creds);
  (void)root.Symlink("fd", "/proc/self/fd", root_creds);
  (void)root.Symlink("stdin", "/proc/self/fd/0", root_creds);
  (void)root.Symlink("stdout", "/proc/self/fd/1", root_creds);
  (void)root.Symlink("stderr", "/proc/self/fd/2", root_creds);
  (void)root.Mkdir("shm", 01777, root_creds);
  (void)root.Mkdir("pts", 0755, root_creds);
  return fs;
}

}  // namespace sentry::fsimpl::dev
