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

using TaskText = std::function<Result<std::string>(ProcFs&, const Subject&)>;

// A generator over the task `ref` names, failing with ESRCH once it is gone.
GeneratedFile::Generator ForTask(std::shared_ptr<ProcFs> fs, TaskRef ref, TaskText text) {
  return
      [fs = std::move(fs), ref = std::move(ref), text = std::move(text)]() -> Result<std::string> {
        Subject s = TRY(fs->Resolve(ref));
        return text(*fs, s);
      };
}

// The open file behind fd `fd` of the task `ref` names; ENOENT when either is gone (an exited
// task has no fd table), as Linux's /proc/PID/fd/N lookups fail.
Result<std::shared_ptr<vfs::FileDescription>> FileOf(const ProcFs& fs, const TaskRef& ref, int fd) {
  auto s = fs.Resolve(ref);
  if (!s || !s->task) return Err(ENOENT);
  auto fds = s->task->fds_ptr();
  if (!fds) return Err(ENOENT);
  auto file = fds->Get(fd);
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
  FdLink(std::shared_ptr<ProcFs> fs, uint64_t ino, TaskRef ref, int fd)
      : ProcSymlink(
            fs, 0700, ino, ref,
            [fs, ref, fd]() -> Result<std::string> {
              TRY(MayReadPrivate(*fs, TRY(fs->Resolve(ref))));
              auto file = TRY(FileOf(*fs, ref, fd));
              return FileName(*fs, *file);
            },
            [fs, ref, fd]() -> Result<vfs::VirtualDentry> {
              TRY(MayReadPrivate(*fs, TRY(fs->Resolve(ref))));
              return MagicTargetOf(TRY(FileOf(*fs, ref, fd)));
            }),
        fd_(fd) {}

 protected:
  Result<void> CheckAlive() const override {
    TRY(FileOf(fs(), ref(), fd_));
    return {};
  }
  // lr-x------ for a file open for reading, l-wx------ for writing, lrwx------ for both.
  mode_t Perms() const override {
    auto file = FileOf(fs(), ref(), fd_);
    if (!file) return 0700;
    return S_IXUSR | ((*file)->Readable() ? S_IRUSR : 0) | ((*file)->Writable() ? S_IWUSR : 0);
  }

 private:
  const int fd_;
};

// /proc/PID/fdinfo/N.
class FdInfoFile : public GeneratedFile {
 public:
  FdInfoFile(std::shared_ptr<ProcFs> fs, uint64_t ino, TaskRef ref, int fd)
      : GeneratedFile(
            fs, 0444, ino, ref,
            [fs, ref, fd]() -> Result<std::string> {
              Subject s = TRY(fs->Resolve(ref));
              auto fds = s.task ? s.task->fds_ptr() : nullptr;
              if (!fds) return Err(ENOENT);
              auto file = fds->Get(fd);
              auto cloexec = fds->GetCloexec(fd);
              if (!file || !cloexec) return Err(ENOENT);
              return FdInfoText(*fs, **file, *cloexec);
            },
            WritePolicy::kWriteEinval),
        fd_(fd) {}

 protected:
  Result<void> CheckAlive() const override {
    TRY(FileOf(fs(), ref(), fd_));
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

// fd/ and fdinfo/: one entry per open fd, made by `make`. With `private_files`, only readers
// that may look into the task (MayReadPrivate) list or look up its entries.
class FdDir : public ProcDir {
 public:
  using Make = std::function<std::shared_ptr<ProcInode>(int fd)>;
  FdDir(std::shared_ptr<ProcFs> fs, mode_t perms, uint64_t ino, TaskRef ref, std::string key,
        uint8_t entry_type, bool private_files, Make make)
      : ProcDir(std::move(fs), perms, ino, std::move(ref), {}),
        key_(std::move(key)),
        entry_type_(entry_type),
        private_files_(private_files),
        make_(std::move(make)) {}

  Result<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& path,
                                                     int flags) override {
    TRY(CheckReader());
    return ProcDir::Open(path, flags);
  }

 protected:
  Result<std::shared_ptr<ProcInode>> DynamicLookup(std::string_view name) override {
    TRY(CheckReader());
    auto fd = ParseFd(name);
    if (!fd) return Err(ENOENT);
    TRY(FileOf(fs(), ref(), *fd));
    return make_(*fd);
  }
  Result<std::vector<vfs::DirEntry>> DynamicEntries() override {
    auto s = fs().Resolve(ref());
    if (!s) return Err(ENOENT);
    std::vector<vfs::DirEntry> out;
    // An exited task's table is gone: its directory is empty.
    if (!s->task) return out;
    for (int fd : OpenFds(*s->task)) {
      std::string name = absl::StrCat(fd);
      out.push_back({InoFor(absl::StrCat(key_, "/", name)), entry_type_, std::move(name)});
    }
    return out;
  }

 private:
  Result<void> CheckReader() const {
    auto s = fs().Resolve(ref());
    if (!s) return Err(ENOENT);
    if (private_files_) TRY(MayReadPrivate(fs(), *s));
    return {};
  }

  // Linux gives fd/ to root too, but lets the task itself in whatever the owner
  // (proc_fd_permission); the sandbox's permission checks ask only the owner and mode, so fd/
  // keeps the task's IDs: its stat shows them, the access is Linux's (another process still
  // needs MayReadPrivate, which a non-dumpable task refuses).
  bool KeepsTaskOwner() const override { return true; }

  const std::string key_;
  const uint8_t entry_type_;
  const bool private_files_;
  const Make make_;
};

// /proc/PID/task: the threads of PID's thread group.
class ThreadListDir : public ProcDir {
 public:
  ThreadListDir(std::shared_ptr<ProcFs> fs, uint64_t ino, TaskRef ref)
      : ProcDir(std::move(fs), 0555, ino, std::move(ref), {}) {}

 protected:
  Result<std::shared_ptr<ProcInode>> DynamicLookup(std::string_view name) override {
    auto id = ParsePid(name);
    auto s = fs().Resolve(ref());
    if (!id || !s) return Err(ENOENT);
    TaskRef thread = TRY(fs().RefTo(s->tg->tgid(), *id, /*thread=*/true));
    if (thread.tg.lock() != s->tg) return Err(ENOENT);
    return NewTaskDir(fs_ptr(), std::move(thread), /*process_view=*/false);
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
  // The live threads, and a leader that has exited while the process is not reaped.
  std::vector<pid_t> Threads() const {
    auto s = fs().Resolve(ref());
    if (!s) return {};
    std::vector<pid_t> ids;
    pid_t tgid = s->tg->tgid();
    bool leader_live = false;
    for (const auto& t : s->threads) {
      ids.push_back(t->tid());
      leader_live |= t->tid() == tgid;
    }
    if (!leader_live) ids.insert(ids.begin(), tgid);
    return ids;
  }
};

// Resolving exe_path can lead back here (a program executed as /proc/self/exe); one level of
// nesting is refused so that such a path cannot recurse until the sentry's stack overflows.
thread_local int exe_resolution_depth = 0;

// The executable's place in the tree, found again from the path it was executed by.
// TODO: Task should keep the executable's VirtualDentry from exec; this re-resolution sees a
// renamed or deleted executable as gone, and a relative path from today's cwd.
Result<vfs::VirtualDentry> ExeOf(kernel::Task& t) {
  std::string path = t.exe_path();
  if (path.empty()) return Err(ENOENT);
  if (exe_resolution_depth > 0) return Err(ELOOP);
  ++exe_resolution_depth;
  vfs::ResolveContext ctx{t.kernel().mounts(), RootOf(t), vfs::FsCredentials{}};
  auto vd = vfs::Resolve(ctx, CwdOf(t), path, vfs::kFollowFinal);
  --exe_resolution_depth;
  return vd;
}

Result<vfs::VirtualDentry> Present(vfs::VirtualDentry vd) {
  if (!vd.dentry) return Err(ENOENT);
  return vd;
}

// The task a file reads, or `err` once it has exited (Linux: its mm or fs is gone).
Result<kernel::Task*> LiveTask(const Subject& s, int err) {
  if (!s.task) return Err(err);
  return s.task.get();
}

std::vector<ProcDir::Child> TaskChildren(const std::shared_ptr<ProcFs>& fs, const TaskRef& ref,
                                         bool process_view, const std::string& key) {
  std::vector<ProcDir::Child> c;
  auto file = [&](std::string name, mode_t perms, TaskText text, bool seek_end_ok = false,
                  GeneratedFile::OpenCheck may_open = nullptr) {
    uint64_t ino = InoFor(absl::StrCat(key, "/", name));
    auto gen = ForTask(fs, ref, std::move(text));
    c.push_back({std::move(name), DT_REG, [fs, ino, ref, perms, gen, seek_end_ok, may_open] {
                   return std::make_shared<GeneratedFile>(
                       fs, perms, ino, ref, gen, WritePolicy::kWriteEinval, seek_end_ok, may_open);
                 }});
  };
  auto text = [](std::function<std::string(ProcFs&, const Subject&)> f) -> TaskText {
    return [f = std::move(f)](ProcFs& fs, const Subject& s) -> Result<std::string> {
      return f(fs, s);
    };
  };
  using Place = std::function<Result<vfs::VirtualDentry>(kernel::Task&)>;
  // exe, cwd, root: magic links to a place, read as its path from the reader's root. An
  // exited task has none (ENOENT).
  auto link = [&](std::string name, Place place) {
    uint64_t ino = InoFor(absl::StrCat(key, "/", name));
    c.push_back({std::move(name), DT_LNK, [fs, ino, ref, place] {
                   auto target = [fs, ref, place]() -> Result<vfs::VirtualDentry> {
                     Subject s = TRY(fs->Resolve(ref));
                     return place(*TRY(LiveTask(s, ENOENT)));
                   };
                   auto text = [fs, ref, place]() -> Result<std::string> {
                     Subject s = TRY(fs->Resolve(ref));
                     kernel::Task* t = TRY(LiveTask(s, ENOENT));
                     auto vd = place(*t);
                     // An executable that cannot be found again still reads as its path.
                     std::string exe = t->exe_path();
                     if (!vd && !exe.empty() && exe[0] == '/' && vd.error() == Errno(ELOOP)) {
                       return exe;
                     }
                     return fs->kernel().mounts().PathOf(TRY(std::move(vd)), ReaderRoot(*fs));
                   };
                   return std::make_shared<ProcSymlink>(fs, 0777, ino, ref, text, target);
                 }});
  };
  auto dir = [&](std::string name, std::function<std::shared_ptr<ProcInode>(uint64_t)> make) {
    uint64_t ino = InoFor(absl::StrCat(key, "/", name));
    c.push_back({std::move(name), DT_DIR, [make, ino] { return make(ino); }});
  };
  // Files that show the task's namespace: an exited task has none, and Linux fails the open.
  auto needs_live = [fs, ref]() -> Result<void> {
    Subject s = TRY(fs->Resolve(ref));
    TRY(LiveTask(s, EINVAL));
    return {};
  };

  file("cgroup", 0444, text([](ProcFs&, const Subject&) { return std::string("0::/\n"); }));
  file(
      "cmdline", 0444, [](ProcFs&, const Subject& s) { return CmdlineText(s); },
      /*seek_end_ok=*/true);
  // Writable on Linux (it renames the task); the sentry's tasks have no settable name yet.
  file("comm", 0644, text([](ProcFs&, const Subject& s) { return CommOf(s) + "\n"; }));
  link("cwd", [](kernel::Task& t) { return Present(CwdOf(t)); });
  // Another user's environment is private; an exited task's memory is gone (ESRCH at open).
  file(
      "environ", 0400, [](ProcFs&, const Subject& s) { return EnvironText(s); },
      /*seek_end_ok=*/true,
      [fs, ref]() -> Result<void> {
        Subject s = TRY(fs->Resolve(ref));
        TRY(LiveTask(s, ESRCH));
        return MayReadPrivate(*fs, s);
      });
  link("exe", ExeOf);
  std::string fd_key = key + "/fd";
  dir("fd", [fs, ref, fd_key](uint64_t ino) {
    return std::make_shared<FdDir>(
        fs, 0500, ino, ref, fd_key, DT_LNK, /*private_files=*/true, [fs, ref, fd_key](int fd) {
          return std::make_shared<FdLink>(fs, InoFor(absl::StrCat(fd_key, "/", fd)), ref, fd);
        });
  });
  std::string fdinfo_key = key + "/fdinfo";
  dir("fdinfo", [fs, ref, fdinfo_key](uint64_t ino) {
    return std::make_shared<FdDir>(fs, 0555, ino, ref, fdinfo_key, DT_REG, /*private_files=*/false,
                                   [fs, ref, fdinfo_key](int fd) {
                                     return std::make_shared<FdInfoFile>(
                                         fs, InoFor(absl::StrCat(fdinfo_key, "/", fd)), ref, fd);
                                   });
  });
  file("limits", 0444, text([](ProcFs&, const Subject& s) { return LimitsText(s); }));
  file("maps", 0444, [](ProcFs&, const Subject& s) -> Result<std::string> {
    auto mm = s.task ? s.task->mm_ptr() : nullptr;
    return mm ? mm->MapsText() : std::string();
  });
  c.push_back({"mem", DT_REG, [fs, ref, ino = InoFor(absl::StrCat(key, "/mem"))] {
                 return NewMemFile(fs, ino, ref);
               }});
  file("mountinfo", 0444, text([](ProcFs& fs, const Subject&) { return MountInfoText(fs); }), false,
       needs_live);
  file("mounts", 0444, text([](ProcFs& fs, const Subject&) { return MountsText(fs); }), false,
       needs_live);
  link("root", [](kernel::Task& t) { return Present(RootOf(t)); });
  file("stat", 0444, text(StatText));
  file("statm", 0444, text([](ProcFs&, const Subject& s) { return StatmText(s); }));
  file("status", 0444, text(StatusText));
  if (process_view) {
    dir("task", [fs, ref](uint64_t ino) { return std::make_shared<ThreadListDir>(fs, ino, ref); });
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

std::shared_ptr<ProcInode> NewTaskDir(std::shared_ptr<ProcFs> fs, TaskRef ref, bool process_view) {
  std::string key = absl::StrCat(process_view ? "p/" : "t/", ref.id);
  auto children = TaskChildren(fs, ref, process_view, key);
  return std::make_shared<ProcDir>(std::move(fs), 0555, InoFor(key), std::move(ref),
                                   std::move(children));
}

}  // namespace sentry::fsimpl::proc
