// The directories of a task: /proc/PID, /proc/PID/task/TID, and their fd/, fdinfo/ and task/.
#include <dirent.h>
#include <fcntl.h>

#include <charconv>
#include <utility>

#include "absl/strings/str_cat.h"
#include "sentry/fsimpl/proc/task_files.h"
#include "sentry/kernel/kernel.h"
#include "sentry/vfs/resolve.h"

namespace sentry::fsimpl::proc {
namespace {

using TaskText = std::function<std::string(ProcFs&, kernel::Task&)>;

// A generator over task `tid`, failing with ESRCH once the task is gone.
GeneratedFile::Generator ForTask(std::shared_ptr<ProcFs> fs, pid_t tid, TaskText text) {
  return [fs = std::move(fs), tid, text = std::move(text)]() -> Result<std::string> {
    kernel::Task* t = TRY(fs->TaskOr(tid));
    return text(*fs, *t);
  };
}

// The open file behind fd `fd` of task `tid`; ENOENT when either is gone, as Linux's
// /proc/PID/fd/N lookups fail.
Result<std::shared_ptr<vfs::FileDescription>> FileOf(const ProcFs& fs, pid_t tid, int fd) {
  kernel::Task* t = fs.tasks().Find(tid);
  if (t == nullptr) return Err(ENOENT);
  auto file = t->fds().Get(fd);
  if (!file) return Err(ENOENT);
  return *file;
}

// What /proc/PID/fd/N leads to when its file has no place in the tree (a pipe, a donated host
// stream): an inode standing for the open file, alone on a mount of its own, so that ".."
// leads nowhere. Opening it gives back the same open file. Linux would open the pipe or tty
// anew; the sentry cannot reopen a host fd once confined, and sharing the description differs
// only in the file position and status flags, which pipes and terminals hardly use.
class OpenFileInode : public vfs::Inode {
 public:
  OpenFileInode(std::shared_ptr<vfs::FileDescription> file, mode_t type)
      : Inode(type), file_(std::move(file)) {}

  Result<struct stat> Stat() override {
    if (auto st = file_->Stat()) return st;
    // Files that cannot say (anonymous ones) look like Linux's anon inodes.
    struct stat st {};
    st.st_mode = type() | S_IRUSR | S_IWUSR;
    st.st_nlink = 1;
    st.st_blksize = 4096;
    return st;
  }

  // O_TRUNC through /dev/stdout when stdout is a regular file.
  Result<void> SetStat(const vfs::SetStatRequest& req) override {
    if (req.mode || req.uid || req.gid || req.atime || req.mtime) return Err(EPERM);
    if (req.size) TRY(file_->Truncate(*req.size));
    return {};
  }

  Result<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry&,
                                                     int flags) override {
    // The new open may not do what the file was not opened for.
    int mode = flags & O_ACCMODE;
    bool read = mode == O_RDONLY || mode == O_RDWR;
    bool write = mode == O_WRONLY || mode == O_RDWR;
    if ((read && !file_->Readable()) || (write && !file_->Writable())) return Err(EACCES);
    return file_;
  }

  const void* FilesystemId() const override { return this; }

 private:
  const std::shared_ptr<vfs::FileDescription> file_;
};

Result<vfs::VirtualDentry> MagicTargetOf(std::shared_ptr<vfs::FileDescription> file) {
  if (file->path().dentry) return file->path();
  mode_t type = S_IFREG;
  if (auto st = file->Stat()) type = st->st_mode & S_IFMT;
  auto dentry = vfs::Dentry::NewRoot(std::make_shared<OpenFileInode>(std::move(file), type));
  auto mount = std::make_shared<vfs::Mount>(dentry, "anon_inodefs", "anon_inodefs", 0);
  return vfs::VirtualDentry{std::move(mount), std::move(dentry)};
}

// /proc/PID/fd/N.
class FdLink : public ProcSymlink {
 public:
  FdLink(std::shared_ptr<ProcFs> fs, uint64_t ino, pid_t tid, int fd)
      : ProcSymlink(
            fs, 0700, ino, tid,
            [fs, tid, fd]() -> Result<std::string> {
              auto file = TRY(FileOf(*fs, tid, fd));
              kernel::Task* t = TRY(fs->TaskOr(tid));
              return FileName(*fs, *t, *file);
            },
            [fs, tid, fd]() -> Result<vfs::VirtualDentry> {
              return MagicTargetOf(TRY(FileOf(*fs, tid, fd)));
            }),
        fd_(fd) {}

 protected:
  Result<void> CheckAlive() const override {
    TRY(FileOf(fs(), tid(), fd_));
    return {};
  }
  // lr-x------ for a file open for reading, l-wx------ for writing, lrwx------ for both.
  mode_t Perms() const override {
    auto file = FileOf(fs(), tid(), fd_);
    if (!file) return 0700;
    return S_IXUSR | ((*file)->Readable() ? S_IRUSR : 0) | ((*file)->Writable() ? S_IWUSR : 0);
  }

 private:
  const int fd_;
};

// /proc/PID/fdinfo/N.
class FdInfoFile : public GeneratedFile {
 public:
  FdInfoFile(std::shared_ptr<ProcFs> fs, uint64_t ino, pid_t tid, int fd)
      : GeneratedFile(
            fs, 0444, ino, tid,
            [fs, tid, fd]() -> Result<std::string> {
              kernel::Task* t = fs->tasks().Find(tid);
              if (t == nullptr) return Err(ESRCH);
              auto file = t->fds().Get(fd);
              auto cloexec = t->fds().GetCloexec(fd);
              if (!file || !cloexec) return Err(ENOENT);
              return FdInfoText(*fs, **file, *cloexec);
            },
            WritePolicy::kWriteEinval),
        fd_(fd) {}

 protected:
  Result<void> CheckAlive() const override {
    TRY(FileOf(fs(), tid(), fd_));
    return {};
  }

 private:
  const int fd_;
};

std::optional<int> ParseFd(std::string_view name) {
  auto n = ParsePid(name);
  if (!n) return std::nullopt;
  return static_cast<int>(*n);
}

// fd/ and fdinfo/: one entry per open fd, made by `make`.
class FdDir : public ProcDir {
 public:
  using Make = std::function<std::shared_ptr<ProcInode>(int fd)>;
  FdDir(std::shared_ptr<ProcFs> fs, mode_t perms, uint64_t ino, pid_t tid, std::string key,
        uint8_t entry_type, Make make)
      : ProcDir(std::move(fs), perms, ino, tid, {}),
        key_(std::move(key)),
        entry_type_(entry_type),
        make_(std::move(make)) {}

 protected:
  Result<std::shared_ptr<ProcInode>> DynamicLookup(std::string_view name) override {
    auto fd = ParseFd(name);
    if (!fd) return Err(ENOENT);
    TRY(FileOf(fs(), tid(), *fd));
    return make_(*fd);
  }
  Result<std::vector<vfs::DirEntry>> DynamicEntries() override {
    kernel::Task* t = fs().tasks().Find(tid());
    if (t == nullptr) return Err(ENOENT);
    std::vector<vfs::DirEntry> out;
    for (int fd : OpenFds(*t)) {
      std::string name = absl::StrCat(fd);
      out.push_back({InoFor(absl::StrCat(key_, "/", name)), entry_type_, std::move(name)});
    }
    return out;
  }

 private:
  const std::string key_;
  const uint8_t entry_type_;
  const Make make_;
};

// /proc/PID/task: the threads of PID's thread group.
class ThreadListDir : public ProcDir {
 public:
  ThreadListDir(std::shared_ptr<ProcFs> fs, uint64_t ino, pid_t tid)
      : ProcDir(std::move(fs), 0555, ino, tid, {}) {}

 protected:
  Result<std::shared_ptr<ProcInode>> DynamicLookup(std::string_view name) override {
    auto id = ParsePid(name);
    kernel::Task* owner = fs().tasks().Find(tid());
    kernel::Task* t = id ? fs().tasks().Find(*id) : nullptr;
    if (owner == nullptr || t == nullptr ||
        t->thread_group().tgid() != owner->thread_group().tgid()) {
      return Err(ENOENT);
    }
    return NewTaskDir(fs_ptr(), *id, /*thread=*/true);
  }
  Result<std::vector<vfs::DirEntry>> DynamicEntries() override {
    std::vector<vfs::DirEntry> out;
    for (pid_t id : Threads()) {
      out.push_back({InoFor(absl::StrCat("t/", id)), DT_DIR, absl::StrCat(id)});
    }
    return out;
  }
  nlink_t DynamicSubdirs() const override { return Threads().size(); }

 private:
  std::vector<pid_t> Threads() const {
    kernel::Task* owner = fs().tasks().Find(tid());
    if (owner == nullptr) return {};
    return fs().tasks().Threads(owner->thread_group().tgid());
  }
};

// Resolving exe_path can lead back here (a program executed as /proc/self/exe); one level of
// nesting is refused so that such a path cannot recurse until the sentry's stack overflows.
thread_local int exe_resolution_depth = 0;

// The executable's place in the tree, found again from the path it was executed by.
// TODO: Task should keep the executable's VirtualDentry from exec; this re-resolution sees a
// renamed or deleted executable as gone, and a relative path from today's cwd.
Result<vfs::VirtualDentry> ExeOf(kernel::Task& t) {
  if (t.exe_path().empty()) return Err(ENOENT);
  if (exe_resolution_depth > 0) return Err(ELOOP);
  ++exe_resolution_depth;
  vfs::ResolveContext ctx{t.kernel().mounts(), RootOf(t), vfs::FsCredentials{}};
  auto vd = vfs::Resolve(ctx, CwdOf(t), t.exe_path(), vfs::kFollowFinal);
  --exe_resolution_depth;
  return vd;
}

Result<vfs::VirtualDentry> Present(vfs::VirtualDentry vd) {
  if (!vd.dentry) return Err(ENOENT);
  return vd;
}

std::vector<ProcDir::Child> TaskChildren(const std::shared_ptr<ProcFs>& fs, pid_t tid, bool thread,
                                         const std::string& key) {
  std::vector<ProcDir::Child> c;
  auto file = [&](std::string name, mode_t perms, TaskText text, bool seek_end_ok = false) {
    uint64_t ino = InoFor(absl::StrCat(key, "/", name));
    auto gen = ForTask(fs, tid, std::move(text));
    c.push_back({std::move(name), DT_REG, [fs, ino, tid, perms, gen, seek_end_ok] {
                   return std::make_shared<GeneratedFile>(fs, perms, ino, tid, gen,
                                                          WritePolicy::kWriteEinval, seek_end_ok);
                 }});
  };
  // The simple files Linux lets lseek(SEEK_END) from their size 0.
  auto seekable_file = [&](std::string name, mode_t perms, TaskText text) {
    file(std::move(name), perms, std::move(text), /*seek_end_ok=*/true);
  };
  using Place = std::function<Result<vfs::VirtualDentry>(kernel::Task&)>;
  // exe, cwd, root: magic links to a place, read as its path from the reader's root.
  auto link = [&](std::string name, Place place) {
    uint64_t ino = InoFor(absl::StrCat(key, "/", name));
    c.push_back({std::move(name), DT_LNK, [fs, ino, tid, place] {
                   auto target = [fs, tid, place]() -> Result<vfs::VirtualDentry> {
                     return place(*TRY(fs->TaskOr(tid)));
                   };
                   auto text = [fs, tid, place]() -> Result<std::string> {
                     kernel::Task* t = TRY(fs->TaskOr(tid));
                     auto vd = place(*t);
                     // An executable that cannot be found again still reads as its path.
                     if (!vd && !t->exe_path().empty() && t->exe_path()[0] == '/' &&
                         vd.error() == Errno(ELOOP)) {
                       return t->exe_path();
                     }
                     return t->kernel().mounts().PathOf(TRY(std::move(vd)), ReaderRoot(*fs, *t));
                   };
                   return std::make_shared<ProcSymlink>(fs, 0777, ino, tid, text, target);
                 }});
  };
  auto dir = [&](std::string name, std::function<std::shared_ptr<ProcInode>(uint64_t)> make) {
    uint64_t ino = InoFor(absl::StrCat(key, "/", name));
    c.push_back({std::move(name), DT_DIR, [make, ino] { return make(ino); }});
  };

  file("cgroup", 0444, [](ProcFs&, kernel::Task&) { return std::string("0::/\n"); });
  seekable_file("cmdline", 0444, [](ProcFs&, kernel::Task& t) { return CmdlineText(t); });
  // Writable on Linux (it renames the task); the sentry's tasks have no settable name yet.
  file("comm", 0644, [](ProcFs&, kernel::Task& t) { return CommOf(t) + "\n"; });
  link("cwd", [](kernel::Task& t) { return Present(CwdOf(t)); });
  // The environment lives in the application's memory and the sentry does not record where
  // exec put it yet, so this reads as empty.
  seekable_file("environ", 0400, [](ProcFs&, kernel::Task&) { return std::string(); });
  link("exe", ExeOf);
  std::string fd_key = key + "/fd";
  dir("fd", [fs, tid, fd_key](uint64_t ino) {
    return std::make_shared<FdDir>(fs, 0500, ino, tid, fd_key, DT_LNK, [fs, tid, fd_key](int fd) {
      return std::make_shared<FdLink>(fs, InoFor(absl::StrCat(fd_key, "/", fd)), tid, fd);
    });
  });
  std::string fdinfo_key = key + "/fdinfo";
  dir("fdinfo", [fs, tid, fdinfo_key](uint64_t ino) {
    return std::make_shared<FdDir>(fs, 0555, ino, tid, fdinfo_key, DT_REG,
                                   [fs, tid, fdinfo_key](int fd) {
                                     return std::make_shared<FdInfoFile>(
                                         fs, InoFor(absl::StrCat(fdinfo_key, "/", fd)), tid, fd);
                                   });
  });
  file("limits", 0444, [](ProcFs&, kernel::Task& t) { return LimitsText(t); });
  file("maps", 0444, [](ProcFs&, kernel::Task& t) { return t.mm().MapsText(); });
  file("mountinfo", 0444, MountInfoText);
  file("mounts", 0444, MountsText);
  link("root", [](kernel::Task& t) { return Present(RootOf(t)); });
  file("stat", 0444, StatText);
  file("statm", 0444, [](ProcFs&, kernel::Task& t) { return StatmText(t); });
  file("status", 0444, StatusText);
  if (!thread) {
    dir("task", [fs, tid](uint64_t ino) { return std::make_shared<ThreadListDir>(fs, ino, tid); });
  }
  return c;
}

}  // namespace

std::optional<pid_t> ParsePid(std::string_view name) {
  // "0" is a number (fd 0); "01" is not, as Linux's name_to_int has it.
  if (name.empty() || name.size() > 10 || (name[0] == '0' && name.size() > 1)) return std::nullopt;
  pid_t v = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), v);
  if (ec != std::errc() || end != name.data() + name.size()) return std::nullopt;
  return v;
}

std::shared_ptr<ProcInode> NewTaskDir(std::shared_ptr<ProcFs> fs, pid_t tid, bool thread) {
  std::string key = absl::StrCat(thread ? "t/" : "p/", tid);
  auto children = TaskChildren(fs, tid, thread, key);
  return std::make_shared<ProcDir>(std::move(fs), 0555, InoFor(key), tid, std::move(children));
}

}  // namespace sentry::fsimpl::proc
