#include "sentry/fsimpl/proc/inodes.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/sysmacros.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "sentry/kernel/task.h"

namespace sentry::fsimpl::proc {
namespace {

timespec Clock(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return ts;
}

// Anonymous device numbers (major 0) for procfs instances. tmpfs hands out its own from minor
// 16 up; starting far above keeps the two apart until vfs owns one allocator for all.
dev_t NextProcDev() {
  static std::atomic<unsigned> next_minor{0x8000};
  return makedev(0, next_minor.fetch_add(1, std::memory_order_relaxed));
}

// Copies `text` from `offset` into `dst`; returns the bytes copied.
uint64_t CopyOut(std::span<const iovec> dst, std::string_view text, int64_t offset) {
  if (offset < 0 || static_cast<uint64_t>(offset) >= text.size()) return 0;
  std::string_view rest = text.substr(static_cast<size_t>(offset));
  uint64_t done = 0;
  for (const iovec& v : dst) {
    if (done == rest.size()) break;
    size_t n = std::min(v.iov_len, rest.size() - done);
    std::memcpy(v.iov_base, rest.data() + done, n);
    done += n;
  }
  return done;
}

}  // namespace

ProcFs::ProcFs(kernel::Kernel& k, HostProcSnapshot host)
    : kernel_(k),
      host_(std::move(host)),
      dev_(NextProcDev()),
      boot_realtime_(Clock(CLOCK_REALTIME)),
      boot_boottime_(Clock(CLOCK_BOOTTIME)) {}

uint64_t ProcFs::UptimeNs() const {
  timespec now = Clock(CLOCK_BOOTTIME);
  int64_t ns = (now.tv_sec - boot_boottime_.tv_sec) * 1'000'000'000LL +
               (now.tv_nsec - boot_boottime_.tv_nsec);
  return ns > 0 ? static_cast<uint64_t>(ns) : 0;
}

Result<Subject> ProcFs::Resolve(const TaskRef& ref) const {
  auto tg = ref.tg.lock();
  if (!tg) return Err(ESRCH);
  auto view = kernel_.FindProcess(tg->tgid());
  // The same process still (not reaped, its id not taken by another).
  if (!view || view->tg != tg) return Err(ESRCH);
  Subject s{.tg = std::move(view->tg),
            .task = nullptr,
            .exited = std::move(view->exited_leader),
            .threads = std::move(view->threads),
            .zombie = view->zombie,
            .wait_status = view->wait_status,
            .tid = ref.id};
  if (!ref.is_thread) {
    s.process_view = true;
    s.task = std::move(view->leader);
    return s;
  }
  auto thread = ref.thread.lock();
  for (const auto& t : s.threads) {
    if (t == thread && t->tid() == ref.id) {
      s.task = t;
      return s;
    }
  }
  // A thread that exited is gone at once, except the leader, which stays (dead) with its
  // process.
  if (ref.id == s.tg->tgid() && !view->leader) return s;
  return Err(ESRCH);
}

Result<TaskRef> ProcFs::RefTo(pid_t tgid, pid_t tid, bool thread) const {
  auto view = kernel_.FindProcess(tgid);
  if (!view) return Err(ENOENT);
  TaskRef ref{.tg = view->tg, .thread = {}, .id = thread ? tid : tgid, .is_thread = thread};
  if (!thread) return ref;
  for (const auto& t : view->threads) {
    if (t->tid() == tid) {
      ref.thread = t;
      return ref;
    }
  }
  if (tid == tgid && !view->leader) return ref;  // the dead leader of a live process
  return Err(ENOENT);
}

uint64_t InoFor(std::string_view key) {
  // Numbers below 4096 are left for the fixed inodes (the root is 1, as on Linux).
  uint64_t h = std::hash<std::string_view>{}(key);
  return h < 4096 ? h + 4096 : h;
}

// ---- ProcInode ----------------------------------------------------------------------------

ProcInode::ProcInode(std::shared_ptr<ProcFs> fs, mode_t mode, uint64_t ino, TaskRef ref)
    : Inode(mode),
      fs_(std::move(fs)),
      mode_(mode),
      ino_(ino),
      ref_(std::move(ref)),
      ctime_(Clock(CLOCK_REALTIME)) {}

Result<void> ProcInode::CheckAlive() const {
  if (ref_.bound() && !fs_->Resolve(ref_)) return Err(ENOENT);
  return {};
}

Result<struct stat> ProcInode::Stat() {
  TRY(CheckAlive());
  struct stat st {};
  st.st_dev = fs_->dev();
  st.st_ino = ino_;
  st.st_mode = type() | Perms();
  st.st_nlink = Links();
  if (ref_.bound()) {
    // A task's files belong to its effective IDs while it is dumpable, else (or once it has
    // exited: no memory left) to root (Linux's task_dump_owner; the sandbox's root is root).
    if (auto s = fs_->Resolve(ref_)) {
      kernel::Credentials c = s->task ? s->task->CredsCopy() : s->exited->creds;
      bool to_root = !s->task || s->tg->dumpable() != 1;
      if (!to_root || KeepsTaskOwner()) {
        st.st_uid = c.euid;
        st.st_gid = c.egid;
      }
    }
  }
  st.st_size = Size();
  st.st_blksize = 1024;
  st.st_atim = st.st_mtim = st.st_ctim = ctime_;
  return st;
}

Result<struct statfs> ProcInode::StatFs() {
  struct statfs st {};
  st.f_type = PROC_SUPER_MAGIC;
  st.f_bsize = kPageSize;
  st.f_frsize = kPageSize;
  st.f_namelen = 255;
  return st;
}

Result<void> ProcInode::SetStat(const vfs::SetStatRequest& req) {
  TRY(CheckAlive());
  if (req.mode) return Err(EPERM);
  return {};
}

// ---- ProcDir ------------------------------------------------------------------------------

ProcDir::ProcDir(std::shared_ptr<ProcFs> fs, mode_t perms, uint64_t ino, TaskRef ref,
                 std::vector<Child> children, bool sysctl)
    : ProcInode(std::move(fs), S_IFDIR | perms, ino, std::move(ref)),
      children_(std::move(children)),
      sysctl_(sysctl) {}

Result<std::shared_ptr<vfs::Inode>> ProcDir::Lookup(std::string_view name) {
  TRY(CheckAlive());
  for (const Child& c : children_) {
    if (c.name == name) return std::shared_ptr<vfs::Inode>(c.make());
  }
  return std::shared_ptr<vfs::Inode>(TRY(DynamicLookup(name)));
}

bool ProcDir::CachesChild(std::string_view name) const {
  return std::any_of(children_.begin(), children_.end(),
                     [name](const Child& c) { return c.name == name; });
}

Result<std::vector<vfs::DirEntry>> ProcDir::ReadDir() {
  TRY(CheckAlive());
  std::vector<vfs::DirEntry> out;
  out.reserve(children_.size());
  for (const Child& c : children_) out.push_back({c.make()->ino(), c.type, c.name});
  for (auto& e : TRY(DynamicEntries())) out.push_back(std::move(e));
  return out;
}

nlink_t ProcDir::Links() const {
  nlink_t n = 2 + DynamicSubdirs();
  for (const Child& c : children_) n += c.type == DT_DIR;
  return n;
}

Result<std::shared_ptr<vfs::FileDescription>> ProcDir::Open(const vfs::VirtualDentry& path,
                                                            int flags) {
  TRY(CheckAlive());
  return std::shared_ptr<vfs::FileDescription>(std::make_shared<vfs::DirectoryFile>(flags, path));
}

Result<void> ProcDir::RefuseChange(std::string_view name, int exists) {
  TRY(Lookup(name));
  return Err(exists);  // never success: every change is refused
}

Result<std::shared_ptr<vfs::Inode>> ProcDir::Create(std::string_view name, mode_t,
                                                    const vfs::FsCredentials&) {
  return std::unexpected(RefuseChange(name, EEXIST).error());
}
Result<std::shared_ptr<vfs::Inode>> ProcDir::Mkdir(std::string_view name, mode_t,
                                                   const vfs::FsCredentials&) {
  return std::unexpected(RefuseChange(name, EEXIST).error());
}
Result<std::shared_ptr<vfs::Inode>> ProcDir::Mknod(std::string_view name, mode_t, dev_t,
                                                   const vfs::FsCredentials&) {
  return std::unexpected(RefuseChange(name, EEXIST).error());
}
Result<std::shared_ptr<vfs::Inode>> ProcDir::Symlink(std::string_view name, std::string_view,
                                                     const vfs::FsCredentials&) {
  return std::unexpected(RefuseChange(name, EEXIST).error());
}
Result<void> ProcDir::Link(std::string_view name, vfs::Inode&) {
  return RefuseChange(name, EEXIST);
}
Result<void> ProcDir::Unlink(std::string_view name) {
  return RefuseChange(name, sysctl_ ? EACCES : EPERM);
}
Result<void> ProcDir::Rmdir(std::string_view name) {
  return RefuseChange(name, sysctl_ ? EACCES : EPERM);
}
Result<void> ProcDir::Rename(std::string_view old_name, vfs::Inode& new_dir,
                             std::string_view new_name, unsigned) {
  TRY(Lookup(old_name));
  // The target name must exist too: procfs looks it up and has no negative entries.
  if (new_dir.FilesystemId() != FilesystemId()) return Err(EXDEV);
  TRY(new_dir.Lookup(new_name));
  return Err(sysctl_ ? EACCES : EPERM);
}

// ---- GeneratedFile and SnapshotFile --------------------------------------------------------

GeneratedFile::GeneratedFile(std::shared_ptr<ProcFs> fs, mode_t perms, uint64_t ino, TaskRef ref,
                             Generator generate, WritePolicy writes, bool seek_end_ok,
                             OpenCheck may_open)
    : ProcInode(std::move(fs), S_IFREG | perms, ino, std::move(ref)),
      generate_(std::move(generate)),
      writes_(writes),
      seek_end_ok_(seek_end_ok),
      may_open_(std::move(may_open)) {}

Result<std::shared_ptr<vfs::FileDescription>> GeneratedFile::Open(const vfs::VirtualDentry& path,
                                                                  int flags) {
  TRY(CheckAlive());
  int mode = flags & O_ACCMODE;
  bool writing = mode == O_WRONLY || mode == O_RDWR;
  if (writing && writes_ == WritePolicy::kOpenEacces) return Err(EACCES);
  if (may_open_) TRY(may_open_());
  std::string text = TRY(generate_());
  int write_errno = writes_ == WritePolicy::kWriteEio ? EIO : EINVAL;
  GeneratedFile::OpenCheck alive;
  if (ref().bound()) {
    alive = [fs = fs_ptr(), ref = ref()]() -> Result<void> {
      TRY(fs->Resolve(ref));
      return {};
    };
  }
  return std::shared_ptr<vfs::FileDescription>(std::make_shared<SnapshotFile>(
      flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC), path, generate_,
      std::move(text), write_errno, seek_end_ok_, std::move(alive)));
}

SnapshotFile::SnapshotFile(int flags, vfs::VirtualDentry path, GeneratedFile::Generator generate,
                           std::string text, int write_errno, bool seek_end_ok,
                           GeneratedFile::OpenCheck alive)
    : FileDescription(flags, std::move(path)),
      generate_(std::move(generate)),
      alive_(std::move(alive)),
      write_errno_(write_errno),
      seek_end_ok_(seek_end_ok),
      text_(std::move(text)) {}

Result<uint64_t> SnapshotFile::Read(std::span<const iovec> dst, std::optional<int64_t> offset) {
  if (alive_) TRY(alive_());
  std::unique_lock lock(pos_mu_);
  int64_t at = offset.value_or(pos_);
  if (at < 0) return Err(EINVAL);
  // A read from the start sees the state now (top rereads /proc/stat this way); the text made
  // at open serves the first one, so open-then-read generates once.
  if (at == 0 && !fresh_) {
    // Generated without the lock: a file may describe itself (fdinfo of its own fd asks its
    // position), and that must not deadlock.
    lock.unlock();
    std::string text = TRY(generate_());
    lock.lock();
    text_ = std::move(text);
    at = offset.value_or(pos_);
  }
  fresh_ = false;
  uint64_t n = CopyOut(dst, text_, at);
  if (!offset) pos_ += static_cast<int64_t>(n);
  return n;
}

Result<uint64_t> SnapshotFile::Write(std::span<const iovec>, std::optional<int64_t>) {
  return Err(write_errno_);
}

Result<int64_t> SnapshotFile::Seek(int64_t offset, int whence) {
  std::lock_guard lock(pos_mu_);
  int64_t base;
  switch (whence) {
    case SEEK_SET:
      base = 0;
      break;
    case SEEK_CUR:
      base = pos_;
      break;
    case SEEK_END:
      // seq_file refuses SEEK_END; the simple files (cmdline, sysctls) seek from size 0.
      if (!seek_end_ok_) return Err(EINVAL);
      base = 0;
      break;
    default:
      return Err(EINVAL);
  }
  if ((offset > 0 && base > INT64_MAX - offset) || base + offset < 0) return Err(EINVAL);
  pos_ = base + offset;
  return pos_;
}

// ---- ProcSymlink --------------------------------------------------------------------------

ProcSymlink::ProcSymlink(std::shared_ptr<ProcFs> fs, mode_t perms, uint64_t ino, TaskRef ref,
                         Text text, Target magic)
    : ProcInode(std::move(fs), S_IFLNK | perms, ino, std::move(ref)),
      text_(std::move(text)),
      magic_(std::move(magic)) {}

Result<std::string> ProcSymlink::ReadLink() {
  TRY(CheckAlive());
  return text_();
}

Result<std::optional<vfs::VirtualDentry>> ProcSymlink::MagicLinkTarget() {
  if (!magic_) return std::optional<vfs::VirtualDentry>();
  TRY(CheckAlive());
  return std::optional<vfs::VirtualDentry>(TRY(magic_()));
}

}  // namespace sentry::fsimpl::proc
