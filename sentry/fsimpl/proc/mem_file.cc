// /proc/PID/mem: a process's memory as a file whose offsets are addresses.
//
// As on Linux, opening needs ptrace access to the process (MayReadPrivate: the same process, or
// the same IDs and a dumpable process, or CAP_SYS_PTRACE) and ties the file to the address
// space the process has then: after an exec or exit that address space is gone and reads and
// writes see end of file. Access is forced (Linux's FOLL_FORCE): reads see memory the process
// cannot read, writes reach its read-only private mappings (copying memory shared since fork
// first). A transfer stops at the first address that cannot be reached; EIO when that is the
// first one.
#include <fcntl.h>

#include "sentry/fsimpl/proc/task_files.h"
#include "sentry/mm/memory_manager.h"

namespace sentry::fsimpl::proc {
namespace {

class MemFile : public vfs::FileDescription {
 public:
  MemFile(int flags, vfs::VirtualDentry path, std::shared_ptr<ProcFs> fs, TaskRef ref,
          std::weak_ptr<mm::MemoryManager> mm)
      : FileDescription(flags, std::move(path)),
        fs_(std::move(fs)),
        ref_(std::move(ref)),
        mm_(std::move(mm)) {}

  Result<uint64_t> Read(std::span<const iovec> dst, std::optional<int64_t> offset) override {
    return Transfer(dst, offset, /*write=*/false);
  }
  Result<uint64_t> Write(std::span<const iovec> src, std::optional<int64_t> offset) override {
    return Transfer(src, offset, /*write=*/true);
  }

  // Positions are addresses, unsigned: any 64-bit value is one, and lseek returns it even when
  // it reads as negative (Linux's mem_lseek does the same), so that read(2) reaches the top
  // half (pread(2) refuses negative offsets before any file sees them). SEEK_END has no
  // meaning.
  Result<int64_t> Seek(int64_t offset, int whence) override {
    std::lock_guard lock(pos_mu_);
    uint64_t base;
    switch (whence) {
      case SEEK_SET:
        base = 0;
        break;
      case SEEK_CUR:
        base = static_cast<uint64_t>(pos_);
        break;
      default:
        return Err(EINVAL);
    }
    pos_ = static_cast<int64_t>(base + static_cast<uint64_t>(offset));
    return pos_;
  }

 private:
  // The address space the file was opened on while some task still runs in it; null once
  // the process has exec'd or exited (Linux: the mm has no users left).
  std::shared_ptr<mm::MemoryManager> LiveMm() const {
    auto mm = mm_.lock();
    if (!mm) return nullptr;
    auto s = fs_->Resolve(ref_);
    if (!s) return nullptr;
    for (const auto& t : s->threads) {
      if (t->mm_ptr() == mm) return mm;
    }
    return nullptr;
  }

  Result<uint64_t> Transfer(std::span<const iovec> bufs, std::optional<int64_t> offset,
                            bool write) {
    auto mm = LiveMm();
    if (!mm) return 0;
    std::unique_lock lock(pos_mu_, std::defer_lock);
    if (!offset) lock.lock();
    uint64_t addr = static_cast<uint64_t>(offset.value_or(pos_));
    uint64_t done = 0;
    for (const iovec& v : bufs) {
      if (v.iov_len == 0) continue;
      auto* buf = static_cast<uint8_t*>(v.iov_base);
      auto n = mm->ForceAccess(UserAddr(addr + done), buf, v.iov_len, write);
      if (!n) break;
      done += *n;
      if (*n < v.iov_len) break;
    }
    if (done == 0) return Err(EIO);
    if (!offset) pos_ = static_cast<int64_t>(addr + done);
    return done;
  }

  const std::shared_ptr<ProcFs> fs_;
  const TaskRef ref_;
  const std::weak_ptr<mm::MemoryManager> mm_;
};

class MemInode : public ProcInode {
 public:
  MemInode(std::shared_ptr<ProcFs> fs, uint64_t ino, TaskRef ref)
      : ProcInode(std::move(fs), S_IFREG | 0600, ino, std::move(ref)) {}

  Result<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& path,
                                                     int flags) override {
    TRY(CheckAlive());
    Subject s = TRY(fs().Resolve(ref()));
    TRY(MayReadPrivate(fs(), s));
    // A zombie has no memory: the file opens and reads nothing, as Linux's.
    std::weak_ptr<mm::MemoryManager> mm;
    if (s.task) mm = s.task->mm_ptr();
    return std::shared_ptr<vfs::FileDescription>(
        std::make_shared<MemFile>(flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC),
                                  path, fs_ptr(), ref(), std::move(mm)));
  }
};

}  // namespace

std::shared_ptr<ProcInode> NewMemFile(std::shared_ptr<ProcFs> fs, uint64_t ino, TaskRef ref) {
  return std::make_shared<MemInode>(std::move(fs), ino, std::move(ref));
}

}  // namespace sentry::fsimpl::proc
