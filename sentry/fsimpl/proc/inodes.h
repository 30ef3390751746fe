// The building blocks of procfs: the state an instance shares (ProcFs), and the four kinds of
// inode everything in /proc is made of: directories with a fixed table of children and an
// optional dynamic part, files whose text a function generates, symlinks whose target a function
// computes, and magic links (/proc/PID/exe, fd/N, cwd, root) that lead to a place in the tree
// rather than to a path.
//
// Inodes bound to a task hold a TaskRef (weak references, never a Task) and resolve it at each
// operation: the dentry cache keeps /proc names after their task or fd is gone, so each
// operation must ask again (Linux revalidates its proc dentries for the same reason).
#pragma once

#include <sys/stat.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "sentry/fsimpl/proc/proc.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/inode.h"
#include "sentry/vfs/mount.h"

namespace sentry::fsimpl::proc {

// What a per-task inode stands for: a process (/proc/PID) or one thread (/proc/PID/task/TID),
// held weakly so that it keeps nothing alive. An unbound inode (the global files) has id 0.
struct TaskRef {
  std::weak_ptr<kernel::ThreadGroup> tg;
  std::weak_ptr<kernel::Task> thread;  // thread directories only
  pid_t id = 0;                        // the tgid, or the thread's tid
  bool is_thread = false;
  bool bound() const { return id != 0; }
};

// A TaskRef resolved for one operation: what the files read. Holding it keeps the objects
// valid (a task that exits meanwhile is dead, not freed).
struct Subject {
  std::shared_ptr<kernel::ThreadGroup> tg;
  // The thread, or the process's leader; null once it has exited, and then `exited` says
  // what it was (its /proc entries show a zombie).
  std::shared_ptr<kernel::Task> task;
  std::shared_ptr<const kernel::ExitedLeader> exited;
  std::vector<std::shared_ptr<kernel::Task>> threads;  // the process's live threads, by tid
  bool zombie = false;                                 // the whole process has exited
  int wait_status = 0;                                 // a zombie's, as wait(2) will see it
  pid_t tid = 0;                                       // the thread id it shows
  bool process_view = false;  // /proc/PID (the whole process) rather than task/TID
};

// What the whole instance shares. Immutable after construction.
class ProcFs {
 public:
  ProcFs(kernel::Kernel& k, HostProcSnapshot host);

  kernel::Kernel& kernel() const { return kernel_; }
  const HostProcSnapshot& host() const { return host_; }
  // The task reading (the caller's own thread), or null outside any task.
  static kernel::Task* Reader() { return kernel::Task::Current(); }
  dev_t dev() const { return dev_; }
  // When the instance was created: the sandbox's boot, for uptime and btime.
  const timespec& boot_realtime() const { return boot_realtime_; }
  // Nanoseconds since boot (CLOCK_BOOTTIME, so a suspended host still counts).
  uint64_t UptimeNs() const;

  // A mount's ID for mountinfo and fdinfo: the one its namespace gave it. Null (files with no
  // place) gets 0.
  static int MountId(const std::shared_ptr<vfs::Mount>& m) { return m ? m->id() : 0; }

  // What `ref` stands for now, or ESRCH once it is gone (reaped, or a thread that exited).
  Result<Subject> Resolve(const TaskRef& ref) const;
  // A reference to process `tgid` or, with `thread`, to thread `tid` of it; ENOENT if none.
  Result<TaskRef> RefTo(pid_t tgid, pid_t tid, bool thread) const;

 private:
  kernel::Kernel& kernel_;
  const HostProcSnapshot host_;
  const dev_t dev_;
  timespec boot_realtime_;
  timespec boot_boottime_;
};

// An inode number for the entry named by `key` (e.g. "pid/1/status"): the same key always gets
// the same number, so readdir and stat agree without keeping every inode alive.
uint64_t InoFor(std::string_view key);

// Fields every procfs inode has. `ref` binds it to a task: a bound inode is owned by the
// task's effective IDs and answers ENOENT once the task is gone.
class ProcInode : public vfs::Inode {
 public:
  ProcInode(std::shared_ptr<ProcFs> fs, mode_t mode, uint64_t ino, TaskRef ref);

  Result<struct stat> Stat() override;
  // procfs keeps no attributes: chmod is EPERM as on Linux; the changes Linux accepts and
  // forgets (chown, utimes and truncate of a proc file) succeed and change nothing.
  Result<void> SetStat(const vfs::SetStatRequest& req) override;
  Result<struct statfs> StatFs() override;  // PROC_SUPER_MAGIC, no blocks or inodes
  const void* FilesystemId() const override { return fs_.get(); }

  uint64_t ino() const { return ino_; }
  const TaskRef& ref() const { return ref_; }
  ProcFs& fs() const { return *fs_; }
  const std::shared_ptr<ProcFs>& fs_ptr() const { return fs_; }

 protected:
  // ENOENT when what this inode shows is gone (its task exited, its fd was closed).
  virtual Result<void> CheckAlive() const;
  // The permission bits now (fd links follow their file's access mode).
  virtual mode_t Perms() const { return mode_ & 07777; }
  virtual nlink_t Links() const { return 1; }
  virtual off_t Size() const { return 0; }
  // Whether the entry stays its task's (effective IDs) while the task is not dumpable. Linux
  // gives a non-dumpable (or exited) task's entries to root, all but the world-readable
  // directories (task_dump_owner); fd/ overrides this (see FdDir).
  virtual bool KeepsTaskOwner() const { return mode_ == (S_IFDIR | 0555); }

 private:
  const std::shared_ptr<ProcFs> fs_;
  const mode_t mode_;
  const uint64_t ino_;
  const TaskRef ref_;
  const timespec ctime_;
};

// A directory: a fixed table of children, made on lookup, plus what DynamicLookup and
// DynamicEntries add (PIDs, fds). Names cannot be created or removed: creating fails with
// ENOENT (procfs refuses to look the new name up; EEXIST if it exists), removing with EPERM.
class ProcDir : public ProcInode {
 public:
  struct Child {
    std::string name;
    uint8_t type;  // DT_*
    std::function<std::shared_ptr<ProcInode>()> make;
  };
  // `sysctl`: under /proc/sys, where Linux checks the directory's own mode bits even for root,
  // so removing a name is EACCES rather than EPERM.
  ProcDir(std::shared_ptr<ProcFs> fs, mode_t perms, uint64_t ino, TaskRef ref,
          std::vector<Child> children, bool sysctl = false);

  Result<std::shared_ptr<vfs::Inode>> Lookup(std::string_view name) override;
  // Only the fixed table's names are cached: the dynamic ones (PIDs, TIDs, fds) live as long
  // as someone uses them, so that reaped processes leave nothing behind.
  bool CachesChild(std::string_view name) const override;
  Result<std::vector<vfs::DirEntry>> ReadDir() override;
  Result<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& path,
                                                     int flags) override;
  Result<std::shared_ptr<vfs::Inode>> Create(std::string_view name, mode_t,
                                             const vfs::FsCredentials&) override;
  Result<std::shared_ptr<vfs::Inode>> Mkdir(std::string_view name, mode_t,
                                            const vfs::FsCredentials&) override;
  Result<std::shared_ptr<vfs::Inode>> Mknod(std::string_view name, mode_t, dev_t,
                                            const vfs::FsCredentials&) override;
  Result<std::shared_ptr<vfs::Inode>> Symlink(std::string_view name, std::string_view,
                                              const vfs::FsCredentials&) override;
  Result<void> Link(std::string_view name, vfs::Inode&) override;
  Result<void> Unlink(std::string_view name) override;
  Result<void> Rmdir(std::string_view name) override;
  Result<void> Rename(std::string_view old_name, vfs::Inode& new_dir, std::string_view new_name,
                      unsigned flags) override;

 protected:
  virtual Result<std::shared_ptr<ProcInode>> DynamicLookup(std::string_view /*name*/) {
    return Err(ENOENT);
  }
  virtual Result<std::vector<vfs::DirEntry>> DynamicEntries() {
    return std::vector<vfs::DirEntry>{};
  }
  // Subdirectories the dynamic part holds, for st_nlink.
  virtual nlink_t DynamicSubdirs() const { return 0; }
  nlink_t Links() const override;

 private:
  // ENOENT for a name that does not exist, else `exists`: what every refused change returns.
  Result<void> RefuseChange(std::string_view name, int exists);

  const std::vector<Child> children_;
  const bool sysctl_;
};

// What a generated file does with writes. Linux lets root open any proc file for writing
// (only the mode bits stop others), and fails the write itself; /proc/sys checks the mode bits
// even for root.
enum class WritePolicy {
  kWriteEinval,  // per-task files: write(2) fails with EINVAL (no write method)
  kWriteEio,     // global files: write(2) fails with EIO (proc_ops without proc_write)
  kOpenEacces,   // sysctl files: opening for writing fails with EACCES
};

// A regular file of size 0 whose text `generate` makes at open, and again whenever a read
// starts at offset 0.
class GeneratedFile : public ProcInode {
 public:
  using Generator = std::function<Result<std::string>()>;
  // Asked at each open before the text is made: a permission or state check (environ).
  using OpenCheck = std::function<Result<void>()>;
  GeneratedFile(std::shared_ptr<ProcFs> fs, mode_t perms, uint64_t ino, TaskRef ref,
                Generator generate, WritePolicy writes, bool seek_end_ok = false,
                OpenCheck may_open = nullptr);

  Result<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& path,
                                                     int flags) override;

 private:
  const Generator generate_;
  const WritePolicy writes_;
  const bool seek_end_ok_;
  const OpenCheck may_open_;
};

// An open generated file: a snapshot of the text, read with read/pread, positioned with lseek
// (SEEK_END only where Linux allows it, as an offset from size 0). `alive`, for a task's file,
// is asked at every read: once the task is gone reads fail (ESRCH) even from the snapshot.
class SnapshotFile : public vfs::FileDescription {
 public:
  SnapshotFile(int flags, vfs::VirtualDentry path, GeneratedFile::Generator generate,
               std::string text, int write_errno, bool seek_end_ok,
               GeneratedFile::OpenCheck alive = nullptr);

  Result<uint64_t> Read(std::span<const iovec> dst, std::optional<int64_t> offset) override;
  Result<uint64_t> Write(std::span<const iovec> src, std::optional<int64_t> offset) override;
  Result<int64_t> Seek(int64_t offset, int whence) override;

 private:
  const GeneratedFile::Generator generate_;
  const GeneratedFile::OpenCheck alive_;
  const int write_errno_;
  const bool seek_end_ok_;
  // Guarded by pos_mu_, with the position: a read and the regeneration it causes are atomic.
  std::string text_;
  bool fresh_ = true;  // text_ was made at open and no read at offset 0 has used it yet
};

// A symbolic link. With `magic`, a magic link: path resolution goes to the place `magic`
// returns instead of resolving the text (see MagicLinkTarget).
class ProcSymlink : public ProcInode {
 public:
  using Text = std::function<Result<std::string>()>;
  using Target = std::function<Result<vfs::VirtualDentry>()>;
  ProcSymlink(std::shared_ptr<ProcFs> fs, mode_t perms, uint64_t ino, TaskRef ref, Text text,
              Target magic = nullptr);

  Result<std::string> ReadLink() override;
  // Only O_PATH|O_NOFOLLOW opens reach a symlink, and the syscall layer serves those.
  Result<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry&, int) override {
    return Err(ELOOP);
  }
  // Where a magic link leads (nullopt for a plain symlink), followed in place of the text so
  // that deleted files and files outside the reader's root still open, as on Linux.
  Result<std::optional<vfs::VirtualDentry>> MagicLinkTarget() override;
  bool IsMagicLink() const { return magic_ != nullptr; }

 private:
  const Text text_;
  const Target magic_;
};

}  // namespace sentry::fsimpl::proc
