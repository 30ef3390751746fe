// read/write and friends on the files the sandbox has so far (the donated standard streams).
#include <fcntl.h>
#include <linux/limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <climits>

#include "sentry/kernel/kernel.h"
#include "sentry/syscalls/table.h"

namespace sentry::syscalls {
namespace {

// Linux caps one read or write at MAX_RW_COUNT bytes.
constexpr uint64_t kMaxRwCount = INT_MAX & ~(kPageSize - 1);

using vfs::FileDescription;

Result<std::shared_ptr<FileDescription>> ReadableFile(kernel::Task& t, uint64_t fd) {
  auto file = TRY(t.fds().Get(ArgInt(fd)));
  if (!file->Readable()) return Err(EBADF);
  return file;
}

Result<std::shared_ptr<FileDescription>> WritableFile(kernel::Task& t, uint64_t fd) {
  auto file = TRY(t.fds().Get(ArgInt(fd)));
  if (!file->Writable()) return Err(EBADF);
  return file;
}

// The sentry's views of the application's iovec array, for a transfer in direction `access`.
// Like Linux, a bad iovec after the first only shortens the transfer.
Result<std::vector<iovec>> IovecViews(kernel::Task& t, uint64_t iov_addr, uint64_t iovcnt,
                                      uint8_t access) {
  int count = ArgInt(iovcnt);
  if (count < 0 || count > IOV_MAX) return Err(EINVAL);
  std::vector<iovec> iovs(count);
  TRY(t.mm().CopyIn(UserAddr(iov_addr), iovs.data(), count * sizeof(iovec)));
  uint64_t total = 0;
  for (const iovec& v : iovs) {
    if (static_cast<int64_t>(v.iov_len) < 0) return Err(EINVAL);
    total += v.iov_len;
    if (static_cast<int64_t>(total) < 0) return Err(EINVAL);
  }
  std::vector<iovec> views;
  uint64_t budget = kMaxRwCount;
  for (const iovec& v : iovs) {
    uint64_t len = std::min<uint64_t>(v.iov_len, budget);
    if (len == 0) continue;
    auto part = t.mm().Translate(UserAddr(reinterpret_cast<uint64_t>(v.iov_base)), len, access);
    if (!part) {
      if (views.empty()) return std::unexpected(part.error());
      break;
    }
    uint64_t got = 0;
    for (const iovec& p : *part) got += p.iov_len;
    views.insert(views.end(), part->begin(), part->end());
    budget -= got;
    if (got < len || budget == 0) break;
  }
  return views;
}

Result<uint64_t> Sys_read(kernel::Task& t, const Args& a) {
  auto file = TRY(ReadableFile(t, a[0]));
  uint64_t len = std::min<uint64_t>(a[2], kMaxRwCount);
  if (len == 0) return 0;
  auto views = TRY(t.mm().Translate(UserAddr(a[1]), len, platform::kAccessWrite));
  return file->Read(views, std::nullopt);
}

Result<uint64_t> Sys_write(kernel::Task& t, const Args& a) {
  auto file = TRY(WritableFile(t, a[0]));
  uint64_t len = std::min<uint64_t>(a[2], kMaxRwCount);
  if (len == 0) return 0;
  auto views = TRY(t.mm().Translate(UserAddr(a[1]), len, platform::kAccessRead));
  return file->Write(views, std::nullopt);
}

Result<uint64_t> Sys_pread64(kernel::Task& t, const Args& a) {
  auto file = TRY(ReadableFile(t, a[0]));
  if (static_cast<int64_t>(a[3]) < 0) return Err(EINVAL);
  uint64_t len = std::min<uint64_t>(a[2], kMaxRwCount);
  if (len == 0) return 0;
  auto views = TRY(t.mm().Translate(UserAddr(a[1]), len, platform::kAccessWrite));
  return file->Read(views, static_cast<int64_t>(a[3]));
}

Result<uint64_t> Sys_pwrite64(kernel::Task& t, const Args& a) {
  auto file = TRY(WritableFile(t, a[0]));
  if (static_cast<int64_t>(a[3]) < 0) return Err(EINVAL);
  uint64_t len = std::min<uint64_t>(a[2], kMaxRwCount);
  if (len == 0) return 0;
  auto views = TRY(t.mm().Translate(UserAddr(a[1]), len, platform::kAccessRead));
  return file->Write(views, static_cast<int64_t>(a[3]));
}

Result<uint64_t> Sys_readv(kernel::Task& t, const Args& a) {
  auto file = TRY(ReadableFile(t, a[0]));
  auto views = TRY(IovecViews(t, a[1], a[2], platform::kAccessWrite));
  if (views.empty()) return 0;
  return file->Read(views, std::nullopt);
}

Result<uint64_t> Sys_writev(kernel::Task& t, const Args& a) {
  auto file = TRY(WritableFile(t, a[0]));
  auto views = TRY(IovecViews(t, a[1], a[2], platform::kAccessRead));
  if (views.empty()) return 0;
  return file->Write(views, std::nullopt);
}

Result<uint64_t> Sys_close(kernel::Task& t, const Args& a) {
  TRY(t.fds().Close(ArgInt(a[0])));
  return 0;
}

Result<uint64_t> Sys_fstat(kernel::Task& t, const Args& a) {
  auto file = TRY(t.fds().Get(ArgInt(a[0])));
  struct stat st = TRY(file->Stat());
  TRY(t.mm().CopyOutObject(UserAddr(a[1]), st));
  return 0;
}

// Only the fd form (AT_EMPTY_PATH with an empty path, which glibc's fstat uses) exists until
// there is a file system to look paths up in.
Result<uint64_t> Sys_newfstatat(kernel::Task& t, const Args& a) {
  int flags = ArgInt(a[3]);
  if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT)) return Err(EINVAL);
  std::string path = TRY(t.mm().CopyInString(UserAddr(a[1]), PATH_MAX));
  if (!path.empty()) {
    t.kernel().ReportUnsupported(SYS_newfstatat);
    return Err(ENOSYS);
  }
  if (!(flags & AT_EMPTY_PATH)) return Err(ENOENT);
  auto file = TRY(t.fds().Get(ArgInt(a[0])));
  struct stat st = TRY(file->Stat());
  TRY(t.mm().CopyOutObject(UserAddr(a[2]), st));
  return 0;
}

Result<uint64_t> Sys_ioctl(kernel::Task& t, const Args& a) {
  auto file = TRY(t.fds().Get(ArgInt(a[0])));
  return file->Ioctl(t.mm(), static_cast<uint32_t>(a[1]), a[2]);
}

// There is no file system yet: every task's working directory is the root.
Result<uint64_t> Sys_getcwd(kernel::Task& t, const Args& a) {
  static constexpr char kRoot[] = "/";
  if (a[1] < sizeof(kRoot)) return Err(ERANGE);
  TRY(t.mm().CopyOut(UserAddr(a[0]), kRoot, sizeof(kRoot)));
  return sizeof(kRoot);
}

}  // namespace

void RegisterFileSyscalls(SyscallTable& t) {
  t.handlers[SYS_read] = Sys_read;
  t.handlers[SYS_write] = Sys_write;
  t.handlers[SYS_pread64] = Sys_pread64;
  t.handlers[SYS_pwrite64] = Sys_pwrite64;
  t.handlers[SYS_readv] = Sys_readv;
  t.handlers[SYS_writev] = Sys_writev;
  t.handlers[SYS_close] = Sys_close;
  t.handlers[SYS_fstat] = Sys_fstat;
  t.handlers[SYS_newfstatat] = Sys_newfstatat;
  t.handlers[SYS_ioctl] = Sys_ioctl;
  t.handlers[SYS_getcwd] = Sys_getcwd;
}

}  // namespace sentry::syscalls
