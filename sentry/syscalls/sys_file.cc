// read/write and friends: the data path of every file.
#include <fcntl.h>
#include <linux/limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <linux/fs.h>
#include <climits>

#include "sentry/kernel/kernel.h"
#include "sentry/syscalls/table.h"
#include "sentry/vfs/fsnotify.h"
#include "sentry/vfs/iovec.h"

namespace sentry::syscalls {
namespace {

using vfs::kMaxRwCount;

using vfs::FileDescription;

// A transfer that moved data is reported to fsnotify: IN_ACCESS for reads, IN_MODIFY for writes.
Result<uint64_t> Reported(const FileDescription& file, Result<uint64_t> r, uint32_t event) {
  if (r && *r > 0) vfs::fsnotify::NotifyFile(file, event);
  return r;
}
Result<uint64_t> ReadOf(FileDescription& file, std::span<const iovec> dst,
                        std::optional<int64_t> offset) {
  return Reported(file, file.Read(dst, offset), vfs::fsnotify::kAccess);
}
Result<uint64_t> WriteOf(FileDescription& file, std::span<const iovec> src,
                         std::optional<int64_t> offset) {
  return Reported(file, file.Write(src, offset), vfs::fsnotify::kModify);
}

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

// The file for pread/pwrite-style calls: ESPIPE comes before any other check, as in Linux.
Result<std::shared_ptr<FileDescription>> PositionalFile(kernel::Task& t, uint64_t fd, bool write) {
  auto file = TRY(t.fds().Get(ArgInt(fd)));
  if (!file->IsPath() && !file->Positional()) return Err(ESPIPE);
  if (write ? !file->Writable() : !file->Readable()) return Err(EBADF);
  return file;
}

// The sentry's views of the application's iovec array, for a transfer in direction `access`.
// Like Linux, a bad iovec after the first only shortens the transfer.
Result<std::vector<iovec>> IovecViews(kernel::Task& t, uint64_t iov_addr, uint64_t iovcnt,
                                      uint8_t access, mm::FileStores* stores = nullptr) {
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
    auto part = t.mm().Translate(UserAddr(reinterpret_cast<uint64_t>(v.iov_base)), len, access,
                                 1024, stores);
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
  // Linux hands even an empty read to the file: some refuse it (eventfd, timerfd: EINVAL).
  if (len == 0) return file->Read({}, std::nullopt);
  mm::FileStores stores;  // goes after the read: see FileStores
  auto views = TRY(t.mm().Translate(UserAddr(a[1]), len, platform::kAccessWrite, 1024, &stores));
  return ReadOf(*file, views, std::nullopt);
}

Result<uint64_t> Sys_write(kernel::Task& t, const Args& a) {
  auto file = TRY(WritableFile(t, a[0]));
  uint64_t len = std::min<uint64_t>(a[2], kMaxRwCount);
  if (len == 0) return file->Write({}, std::nullopt);  // as read: the file decides
  auto views = TRY(t.mm().Translate(UserAddr(a[1]), len, platform::kAccessRead));
  return WriteOf(*file, views, std::nullopt);
}

Result<uint64_t> Sys_pread64(kernel::Task& t, const Args& a) {
  auto file = TRY(PositionalFile(t, a[0], false));
  if (static_cast<int64_t>(a[3]) < 0) return Err(EINVAL);
  uint64_t len = std::min<uint64_t>(a[2], kMaxRwCount);
  if (len == 0) return 0;
  mm::FileStores stores;
  auto views = TRY(t.mm().Translate(UserAddr(a[1]), len, platform::kAccessWrite, 1024, &stores));
  return ReadOf(*file, views, static_cast<int64_t>(a[3]));
}

Result<uint64_t> Sys_pwrite64(kernel::Task& t, const Args& a) {
  auto file = TRY(PositionalFile(t, a[0], true));
  if (static_cast<int64_t>(a[3]) < 0) return Err(EINVAL);
  uint64_t len = std::min<uint64_t>(a[2], kMaxRwCount);
  if (len == 0) return 0;
  auto views = TRY(t.mm().Translate(UserAddr(a[1]), len, platform::kAccessRead));
  return WriteOf(*file, views, static_cast<int64_t>(a[3]));
}

Result<uint64_t> Sys_readv(kernel::Task& t, const Args& a) {
  auto file = TRY(ReadableFile(t, a[0]));
  mm::FileStores stores;
  auto views = TRY(IovecViews(t, a[1], a[2], platform::kAccessWrite, &stores));
  if (views.empty()) return 0;
  return ReadOf(*file, views, std::nullopt);
}

Result<uint64_t> Sys_writev(kernel::Task& t, const Args& a) {
  auto file = TRY(WritableFile(t, a[0]));
  auto views = TRY(IovecViews(t, a[1], a[2], platform::kAccessRead));
  if (views.empty()) return 0;
  return WriteOf(*file, views, std::nullopt);
}

// preadv/pwritev(2) take the offset split in two longs; on 64-bit it is all in the low one.
Result<uint64_t> Sys_preadv(kernel::Task& t, const Args& a) {
  auto file = TRY(PositionalFile(t, a[0], false));
  if (static_cast<int64_t>(a[3]) < 0) return Err(EINVAL);
  mm::FileStores stores;
  auto views = TRY(IovecViews(t, a[1], a[2], platform::kAccessWrite, &stores));
  if (views.empty()) return 0;
  return ReadOf(*file, views, static_cast<int64_t>(a[3]));
}

Result<uint64_t> Sys_pwritev(kernel::Task& t, const Args& a) {
  auto file = TRY(PositionalFile(t, a[0], true));
  if (static_cast<int64_t>(a[3]) < 0) return Err(EINVAL);
  auto views = TRY(IovecViews(t, a[1], a[2], platform::kAccessRead));
  if (views.empty()) return 0;
  return WriteOf(*file, views, static_cast<int64_t>(a[3]));
}

// preadv2/pwritev2: offset -1 means the file position; the RWF_* hints change nothing here.
constexpr uint64_t kKnownRwf = RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | RWF_APPEND;

Result<uint64_t> Sys_preadv2(kernel::Task& t, const Args& a) {
  if (a[5] & ~kKnownRwf) return Err(EOPNOTSUPP);
  auto file = TRY(ReadableFile(t, a[0]));
  int64_t off = static_cast<int64_t>(a[3]);
  if (off < -1) return Err(EINVAL);
  mm::FileStores stores;
  auto views = TRY(IovecViews(t, a[1], a[2], platform::kAccessWrite, &stores));
  if (views.empty()) return 0;
  return ReadOf(*file, views, off == -1 ? std::nullopt : std::optional<int64_t>(off));
}

Result<uint64_t> Sys_pwritev2(kernel::Task& t, const Args& a) {
  if (a[5] & ~kKnownRwf) return Err(EOPNOTSUPP);
  auto file = TRY(WritableFile(t, a[0]));
  int64_t off = static_cast<int64_t>(a[3]);
  if (off < -1) return Err(EINVAL);
  auto views = TRY(IovecViews(t, a[1], a[2], platform::kAccessRead));
  if (views.empty()) return 0;
  return WriteOf(*file, views, off == -1 ? std::nullopt : std::optional<int64_t>(off));
}

}  // namespace

void RegisterFileSyscalls(SyscallTable& t) {
  t.handlers[SYS_read] = Sys_read;
  t.handlers[SYS_write] = Sys_write;
  t.handlers[SYS_pread64] = Sys_pread64;
  t.handlers[SYS_pwrite64] = Sys_pwrite64;
  t.handlers[SYS_readv] = Sys_readv;
  t.handlers[SYS_writev] = Sys_writev;
  t.handlers[SYS_preadv] = Sys_preadv;
  t.handlers[SYS_pwritev] = Sys_pwritev;
  t.handlers[SYS_preadv2] = Sys_preadv2;
  t.handlers[SYS_pwritev2] = Sys_pwritev2;
}

}  // namespace sentry::syscalls
