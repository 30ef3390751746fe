#include "sentry/fsimpl/sys/sys.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/sysmacros.h>
#include <time.h>

#include <atomic>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "sentry/base/user_addr.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/iovec.h"
#include "sentry/vfs/resolve.h"

namespace sentry::fsimpl::sys {
namespace {

// What kernfs reports as an attribute file's size, whatever it holds.
constexpr off_t kAttributeSize = 4096;

// Anonymous device numbers (major 0) for sysfs instances, apart from tmpfs's (from minor 16)
// and procfs's (from 0x8000).
dev_t NextSysDev() {
  static std::atomic<unsigned> next_minor{0x4000};
  return makedev(0, next_minor.fetch_add(1, std::memory_order_relaxed));
}

// What every inode of one instance shares.
struct SysFs {
  const dev_t dev = NextSysDev();
  timespec created{};
  std::atomic<uint64_t> next_ino{1};
};

class SysInode : public vfs::Inode {
 public:
  SysInode(std::shared_ptr<SysFs> fs, mode_t mode)
      : Inode(mode), fs_(std::move(fs)), mode_(mode), ino_(fs_->next_ino.fetch_add(1)) {}

  Result<struct stat> Stat() override {
    struct stat st {};
    st.st_dev = fs_->dev;
    st.st_ino = ino_;
    st.st_mode = mode_;
    st.st_nlink = Links();
    st.st_size = IsDir() ? 0 : kAttributeSize;
    st.st_blksize = kPageSize;
    st.st_atim = st.st_mtim = st.st_ctim = fs_->created;
    return st;
  }

  Result<struct statfs> StatFs() override {
    struct statfs st {};
    st.f_type = SYSFS_MAGIC;
    st.f_bsize = kPageSize;
    st.f_frsize = kPageSize;
    st.f_namelen = vfs::kNameMax;
    return st;
  }

  const void* FilesystemId() const override { return fs_.get(); }
  uint64_t ino() const { return ino_; }

 protected:
  virtual nlink_t Links() const { return 1; }
  const std::shared_ptr<SysFs>& fs() const { return fs_; }

 private:
  const std::shared_ptr<SysFs> fs_;
  const mode_t mode_;
  const uint64_t ino_;
};

// An open attribute: its text, read from the file position or at an offset.
class AttributeFile : public vfs::FileDescription {
 public:
  AttributeFile(int flags, vfs::VirtualDentry path, std::string text)
      : FileDescription(flags, std::move(path)), text_(std::move(text)) {}

  Result<uint64_t> Read(std::span<const iovec> dst, std::optional<int64_t> offset) override {
    if (offset) return CopyAt(dst, *offset);
    std::lock_guard lock(pos_mu_);
    uint64_t n = CopyAt(dst, pos_);
    pos_ += static_cast<int64_t>(n);
    return n;
  }

 private:
  uint64_t CopyAt(std::span<const iovec> dst, int64_t offset) const {
    if (offset < 0 || static_cast<uint64_t>(offset) >= text_.size()) return 0;
    uint64_t n = std::min<uint64_t>(vfs::IovecTotal(dst), text_.size() - offset);
    vfs::IovecCursor(dst).Fill(reinterpret_cast<const uint8_t*>(text_.data()) + offset, n);
    return n;
  }

  const std::string text_;
};

class Attribute : public SysInode {
 public:
  Attribute(std::shared_ptr<SysFs> fs, std::string text)
      : SysInode(std::move(fs), S_IFREG | 0444), text_(std::move(text)) {}

  Result<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& path,
                                                     int flags) override {
    // kernfs refuses writing an attribute that has no write method, even to root.
    int mode = flags & O_ACCMODE;
    if (mode == O_WRONLY || mode == O_RDWR) return Err(EACCES);
    return std::shared_ptr<vfs::FileDescription>(
        std::make_shared<AttributeFile>(flags, path, text_));
  }

 private:
  const std::string text_;
};

class Directory : public SysInode {
 public:
  using Entries = std::vector<std::pair<std::string, std::shared_ptr<SysInode>>>;
  Directory(std::shared_ptr<SysFs> fs, Entries entries)
      : SysInode(std::move(fs), S_IFDIR | 0755), entries_(std::move(entries)) {}

  Result<std::shared_ptr<vfs::Inode>> Lookup(std::string_view name) override {
    for (const auto& [n, inode] : entries_) {
      if (n == name) return std::shared_ptr<vfs::Inode>(inode);
    }
    return Err(ENOENT);
  }

  Result<std::vector<vfs::DirEntry>> ReadDir() override {
    std::vector<vfs::DirEntry> out;
    for (const auto& [n, inode] : entries_) {
      out.push_back({inode->ino(), static_cast<uint8_t>(inode->IsDir() ? DT_DIR : DT_REG), n});
    }
    return out;
  }

  // open(O_CREAT) of a new name: kernfs directories have no create operation.
  Result<std::shared_ptr<vfs::Inode>> Create(std::string_view, mode_t,
                                             const vfs::FsCredentials&) override {
    return Err(EACCES);
  }
  Result<void> Rename(std::string_view, vfs::Inode&, std::string_view, unsigned flags) override {
    return Err(flags != 0 ? EINVAL : EPERM);
  }

  Result<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& path,
                                                     int flags) override {
    return std::shared_ptr<vfs::FileDescription>(std::make_shared<vfs::DirectoryFile>(flags, path));
  }

 protected:
  nlink_t Links() const override {
    nlink_t n = 2;
    for (const auto& e : entries_) n += e.second->IsDir() ? 1 : 0;
    return n;
  }

 private:
  const Entries entries_;
};

}  // namespace

std::string CpuListText(unsigned n) {
  if (n <= 1) return "0\n";
  return absl::StrCat("0-", n - 1, "\n");
}

std::shared_ptr<vfs::Inode> NewSysRoot(SysfsOptions options) {
  auto fs = std::make_shared<SysFs>();
  clock_gettime(CLOCK_REALTIME, &fs->created);
  unsigned cpus = std::max(options.num_cpus, 1u);
  auto dir = [&](Directory::Entries entries = {}) {
    return std::make_shared<Directory>(fs, std::move(entries));
  };
  auto file = [&](std::string text) { return std::make_shared<Attribute>(fs, std::move(text)); };

  std::string list = CpuListText(cpus);
  Directory::Entries cpu = {{"online", file(list)},
                            {"possible", file(list)},
                            {"present", file(list)},
                            {"offline", file("\n")}};
  for (unsigned i = 0; i < cpus; ++i) cpu.emplace_back(absl::StrCat("cpu", i), dir());

  return dir({
      {"block", dir()},
      {"bus", dir()},
      {"class", dir()},
      {"dev", dir({{"block", dir()}, {"char", dir()}})},
      {"devices", dir({{"system", dir({{"cpu", dir(std::move(cpu))}})}})},
      {"firmware", dir()},
      {"fs", dir({{"cgroup", dir()}})},
      {"kernel", dir()},
      {"module", dir()},
      {"power", dir()},
  });
}

}  // namespace sentry::fsimpl::sys
