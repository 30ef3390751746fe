#include "sentry/fsimpl/devpts/files.h"

#include <sys/ioctl.h>

#include "sentry/fsimpl/devpts/devpts.h"
#include "sentry/kernel/task.h"
#include "sentry/mm/memory_manager.h"
#include "sentry/vfs/dentry.h"

namespace sentry::fsimpl::devpts {

MasterFile::MasterFile(int flags, vfs::VirtualDentry path, std::shared_ptr<Terminal> terminal)
    : FileDescription(flags, std::move(path)), terminal_(std::move(terminal)) {}

MasterFile::~MasterFile() { terminal_->MasterClosed(); }

Result<uint64_t> MasterFile::Read(std::span<const iovec> dst, std::optional<int64_t> offset) {
  if (offset) return Err(ESPIPE);
  if (!Readable()) return Err(EBADF);
  return terminal_->MasterRead(dst, status_flags() & O_NONBLOCK);
}

Result<uint64_t> MasterFile::Write(std::span<const iovec> src, std::optional<int64_t> offset) {
  if (offset) return Err(ESPIPE);
  if (!Writable()) return Err(EBADF);
  return terminal_->MasterWrite(src, status_flags() & O_NONBLOCK);
}

Result<struct stat> MasterFile::Stat() {
  if (!path().dentry) return Err(EBADF);
  return path().inode().Stat();
}

Result<uint64_t> MasterFile::Ioctl(mm::MemoryManager& mm, uint64_t cmd, uint64_t arg) {
  switch (cmd) {
    case TIOCGPTN:
      TRY(mm.CopyOutObject<uint32_t>(UserAddr(arg), terminal_->index()));
      return 0;
    case TIOCSPTLCK: {
      int lock = TRY(mm.CopyInObject<int>(UserAddr(arg)));
      terminal_->SetLocked(lock != 0);
      return 0;
    }
    case TIOCGPTLCK:
      TRY(mm.CopyOutObject<int>(UserAddr(arg), terminal_->locked() ? 1 : 0));
      return 0;
    case TIOCGPTPEER:
      return OpenPeer(arg);
    default:
      return terminal_->Ioctl(/*master=*/true, *this, mm, cmd, arg);
  }
}

Result<uint64_t> MasterFile::OpenPeer(uint64_t flags) {
  kernel::Task* task = kernel::Task::Current();
  if (task == nullptr) return Err(EINVAL);
  // Through the devpts this master came from, as if /dev/pts/N were opened there.
  if (!path().dentry) return Err(EINVAL);
  auto dir = path().dentry->parent();
  if (!dir) return Err(EINVAL);
  auto child = TRY(dir->Child(std::to_string(terminal_->index())));
  vfs::VirtualDentry vd{path().mount, child};
  int open_flags = static_cast<int>(flags) & ~(O_CREAT | O_EXCL | O_TRUNC);
  auto file = TRY(vd.inode().Open(vd, open_flags));
  file->set_status_flags(file->status_flags() & ~(O_NOCTTY | O_CLOEXEC));
  int fd = TRY(task->fds().Install(std::move(file), open_flags & O_CLOEXEC, 0,
                                   task->thread_group().limits().Get(RLIMIT_NOFILE).cur));
  return static_cast<uint64_t>(fd);
}

ReplicaFile::ReplicaFile(int flags, vfs::VirtualDentry path, std::shared_ptr<Terminal> terminal)
    : FileDescription(flags, std::move(path)), terminal_(std::move(terminal)) {}

ReplicaFile::~ReplicaFile() { terminal_->ReplicaClosed(); }

Result<uint64_t> ReplicaFile::Read(std::span<const iovec> dst, std::optional<int64_t> offset) {
  if (offset) return Err(ESPIPE);
  if (!Readable()) return Err(EBADF);
  return terminal_->ReplicaRead(dst, status_flags() & O_NONBLOCK);
}

Result<uint64_t> ReplicaFile::Write(std::span<const iovec> src, std::optional<int64_t> offset) {
  if (offset) return Err(ESPIPE);
  if (!Writable()) return Err(EBADF);
  return terminal_->ReplicaWrite(src, status_flags() & O_NONBLOCK);
}

Result<struct stat> ReplicaFile::Stat() {
  if (!path().dentry) return Err(EBADF);
  return path().inode().Stat();
}

Result<uint64_t> ReplicaFile::Ioctl(mm::MemoryManager& mm, uint64_t cmd, uint64_t arg) {
  return terminal_->Ioctl(/*master=*/false, *this, mm, cmd, arg);
}

}  // namespace sentry::fsimpl::devpts
