#include "sentry/fsimpl/devpts/devpts.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/sysmacros.h>
#include <time.h>

#include <atomic>
#include <charconv>
#include <string>

#include "sentry/fsimpl/devpts/files.h"
#include "sentry/fsimpl/devpts/terminal.h"
#include "sentry/kernel/task.h"
#include "sentry/vfs/resolve.h"

namespace sentry::fsimpl::devpts {
namespace {

// Anonymous device numbers for devpts instances, apart from tmpfs's, procfs's and sysfs's.
dev_t NextDevptsDev() {
  static std::atomic<unsigned> next_minor{0x6000};
  return makedev(0, next_minor.fetch_add(1, std::memory_order_relaxed));
}

// Linux's inode numbers: the root 1, ptmx 2, replica N at N + 3.
constexpr ino_t kRootIno = 1;
constexpr ino_t kPtmxIno = 2;
ino_t ReplicaIno(uint32_t index) { return index + 3; }

std::optional<uint32_t> ParseNumber(std::string_view s, int base) {
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

class DevptsInode : public vfs::Inode {
 public:
  DevptsInode(std::shared_ptr<Devpts> fs, mode_t type) : Inode(type), fs_(std::move(fs)) {}
  Result<struct statfs> StatFs() override {
    struct statfs st {};
    st.f_type = DEVPTS_SUPER_MAGIC;
    st.f_bsize = 4096;
    st.f_namelen = vfs::kNameMax;
    return st;
  }
  const void* FilesystemId() const override { return fs_.get(); }

 protected:
  struct stat BaseStat(ino_t ino) const {
    struct stat st {};
    st.st_dev = fs_->dev();
    st.st_ino = ino;
    st.st_nlink = 1;
    st.st_blksize = 1024;
    st.st_atim = st.st_mtim = st.st_ctim = fs_->created();
    return st;
  }
  const std::shared_ptr<Devpts> fs_;
};

// /dev/pts/N: the replica of terminal N, found afresh at every open (a cached name may outlive
// its terminal, and the index be taken by a new one).
class ReplicaInode : public DevptsInode {
 public:
  ReplicaInode(std::shared_ptr<Devpts> fs, uint32_t index)
      : DevptsInode(std::move(fs), S_IFCHR), index_(index) {}

  Result<struct stat> Stat() override {
    auto terminal = fs_->Find(index_);
    if (!terminal) return Err(ENOENT);
    Terminal::Attributes a = terminal->attributes();
    struct stat st = BaseStat(ReplicaIno(index_));
    st.st_mode = S_IFCHR | (a.mode & 07777);
    st.st_uid = a.uid;
    st.st_gid = a.gid;
    st.st_rdev = makedev(kPtyReplicaMajor, index_);
    return st;
  }

  Result<void> SetStat(const vfs::SetStatRequest& req) override {
    auto terminal = fs_->Find(index_);
    if (!terminal) return Err(ENOENT);
    if (req.size) return Err(EINVAL);
    Terminal::Attributes a = terminal->attributes();
    if (req.mode) a.mode = *req.mode & 07777;
    if (req.uid) a.uid = *req.uid;
    if (req.gid) a.gid = *req.gid;
    terminal->SetAttributes(a);
    return {};
  }

  Result<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& path,
                                                     int flags) override {
    if (flags & O_DIRECTORY) return Err(ENOTDIR);
    if (flags & O_PATH) return std::make_shared<vfs::PathFile>(flags, path);
    auto terminal = fs_->Find(index_);
    if (!terminal) return Err(ENOENT);
    TRY(terminal->ReplicaOpening());
    auto file =
        std::make_shared<ReplicaFile>(flags & ~(O_CREAT | O_EXCL | O_TRUNC), path, terminal);
    if (!(flags & O_NOCTTY)) {
      if (kernel::Task* task = kernel::Task::Current()) terminal->MaybeAcquire(*task);
    }
    return file;
  }

 private:
  const uint32_t index_;
};

// /dev/pts/ptmx: each open is a new terminal's master.
class PtmxInode : public DevptsInode {
 public:
  explicit PtmxInode(std::shared_ptr<Devpts> fs) : DevptsInode(std::move(fs), S_IFCHR) {}

  Result<struct stat> Stat() override {
    struct stat st = BaseStat(kPtmxIno);
    st.st_mode = S_IFCHR | fs_->ptmx_mode();
    st.st_rdev = makedev(kTtyAuxMajor, 2);
    return st;
  }

  Result<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& path,
                                                     int flags) override {
    if (flags & O_DIRECTORY) return Err(ENOTDIR);
    if (flags & O_PATH) return std::make_shared<vfs::PathFile>(flags, path);
    vfs::FsCredentials creds;
    if (kernel::Task* task = kernel::Task::Current()) {
      creds.uid = task->creds().euid;
      creds.gid = task->creds().egid;
    }
    auto terminal = TRY(fs_->NewTerminal(creds));
    return std::make_shared<MasterFile>(flags & ~(O_CREAT | O_EXCL | O_TRUNC), path,
                                        std::move(terminal));
  }
};

class RootInode : public DevptsInode {
 public:
  explicit RootInode(std::shared_ptr<Devpts> fs) : DevptsInode(std::move(fs), S_IFDIR) {}

  Result<struct stat> Stat() override {
    struct stat st = BaseStat(kRootIno);
    st.st_mode = S_IFDIR | 0755;
    st.st_nlink = 2;
    return st;
  }

  Result<std::shared_ptr<vfs::Inode>> Lookup(std::string_view name) override {
    if (name == "ptmx") return std::make_shared<PtmxInode>(fs_);
    // Only canonical numbers: "01" names nothing.
    if (name.size() > 1 && name[0] == '0') return Err(ENOENT);
    auto index = ParseNumber(name, 10);
    if (!index || !fs_->Find(*index)) return Err(ENOENT);
    return std::make_shared<ReplicaInode>(fs_, *index);
  }

  Result<std::vector<vfs::DirEntry>> ReadDir() override {
    std::vector<vfs::DirEntry> out;
    out.push_back({kPtmxIno, DT_CHR, "ptmx"});
    for (uint32_t i : fs_->Indexes()) out.push_back({ReplicaIno(i), DT_CHR, std::to_string(i)});
    return out;
  }

  Result<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& path,
                                                     int flags) override {
    if (flags & O_PATH) return std::make_shared<vfs::PathFile>(flags, path);
    return std::make_shared<vfs::DirectoryFile>(flags, path);
  }
};

}  // namespace

Result<DevptsOptions> ParseDevptsOptions(const std::vector<vfs::MountOption>& options) {
  DevptsOptions out;
  for (const vfs::MountOption& o : options) {
    if (o.key == "newinstance" && !o.has_value) continue;
    if (!o.has_value) return Err(EINVAL);
    bool octal = o.key == "mode" || o.key == "ptmxmode";
    auto v = ParseNumber(o.value, octal ? 8 : 10);
    if (!v) return Err(EINVAL);
    if (o.key == "uid") {
      out.uid = *v;
    } else if (o.key == "gid") {
      out.gid = *v;
    } else if (o.key == "mode") {
      out.mode = *v & 0777;
    } else if (o.key == "ptmxmode") {
      out.ptmx_mode = *v & 0777;
    } else if (o.key == "max") {
      out.max = *v;
    } else {
      return Err(EINVAL);
    }
  }
  return out;
}

Devpts::Devpts(Key, kernel::Kernel& kernel, DevptsOptions options)
    : kernel_(kernel), options_(options), dev_(NextDevptsDev()) {
  clock_gettime(CLOCK_REALTIME, &created_);
}

std::shared_ptr<vfs::Inode> Devpts::NewRoot(kernel::Kernel& kernel, DevptsOptions options) {
  return std::make_shared<RootInode>(std::make_shared<Devpts>(Key{}, kernel, options));
}

Result<std::shared_ptr<Terminal>> Devpts::NewTerminal(const vfs::FsCredentials& creds) {
  Terminal::Attributes attr{.mode = options_.mode,
                            .uid = options_.uid.value_or(creds.uid),
                            .gid = options_.gid.value_or(creds.gid)};
  absl::MutexLock lock(&mu_);
  uint32_t index = 0;
  for (auto& [i, weak] : terminals_) {
    if (i != index) break;
    ++index;
  }
  if (index >= options_.max) return Err(ENOSPC);
  auto terminal = std::make_shared<Terminal>(kernel_, shared_from_this(), index, attr);
  terminals_[index] = terminal;
  return terminal;
}

std::shared_ptr<Terminal> Devpts::Find(uint32_t index) {
  std::shared_ptr<Terminal> t;
  {
    absl::MutexLock lock(&mu_);
    auto it = terminals_.find(index);
    if (it != terminals_.end()) t = it->second.lock();
  }
  if (t && t->master_closed()) return nullptr;
  return t;
}

std::vector<uint32_t> Devpts::Indexes() {
  std::vector<uint32_t> out;
  std::vector<std::shared_ptr<Terminal>> live;  // released outside the lock
  {
    absl::MutexLock lock(&mu_);
    for (auto& [i, weak] : terminals_) {
      if (auto t = weak.lock()) live.push_back(std::move(t));
    }
  }
  for (auto& t : live) {
    if (!t->master_closed()) out.push_back(t->index());
  }
  return out;
}

void Devpts::Release(uint32_t index) {
  absl::MutexLock lock(&mu_);
  auto it = terminals_.find(index);
  if (it != terminals_.end() && it->second.expired()) terminals_.erase(it);
}

}  // namespace sentry::fsimpl::devpts
