#include "sentry/fsimpl/overlay/overlay.h"

#include <dirent.h>
#include <fcntl.h>

#include <map>
#include <set>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "sentry/vfs/file_description.h"

namespace sentry::fsimpl::overlay {
namespace {

constexpr size_t kCopyChunk = 1 << 16;

struct Shared {
  std::shared_ptr<tmpfs::Filesystem> upper_fs;
  // Serialises copy-ups, so two tasks never copy the same file up twice. Taken before any
  // inode's mu_.
  absl::Mutex copy_mu;
};

class OverlayInode : public vfs::Inode {
 public:
  OverlayInode(std::shared_ptr<Shared> shared, std::shared_ptr<OverlayInode> parent,
               std::string name, std::shared_ptr<vfs::Inode> upper,
               std::shared_ptr<vfs::Inode> lower, bool opaque)
      : Inode(upper ? upper->type() : lower->type()),
        shared_(std::move(shared)),
        parent_(std::move(parent)),
        name_(std::move(name)),
        upper_(std::move(upper)),
        lower_(std::move(lower)),
        opaque_(opaque) {}

  Result<struct stat> Stat() override { return Current()->Stat(); }

  Result<void> SetStat(const vfs::SetStatRequest& req) override {
    TRY(CopyUp());
    return Upper()->SetStat(req);
  }

  // Attributes are the current layer's; changing them copies the file up first, as Linux's
  // overlayfs does. The lower layer (the gofer's host files) shows none.
  Result<std::string> GetXattr(std::string_view name) override { return Current()->GetXattr(name); }
  Result<void> SetXattr(std::string_view name, std::string_view value, int flags) override {
    TRY(CopyUp());
    return Upper()->SetXattr(name, value, flags);
  }
  Result<void> RemoveXattr(std::string_view name) override {
    // Nothing to remove below: no copy-up for it.
    if (!Upper()) return Err(ENODATA);
    return Upper()->RemoveXattr(name);
  }
  Result<std::vector<std::string>> ListXattr() override { return Current()->ListXattr(); }

  Result<std::shared_ptr<vfs::Inode>> Lookup(std::string_view name) override {
    if (!IsDir()) return Err(ENOTDIR);
    auto [upper, lower, opaque] = Layers();
    std::shared_ptr<vfs::Inode> child_upper, child_lower;
    if (upper) {
      auto u = upper->Lookup(name);
      if (u) {
        child_upper = *u;
      } else if (u.error().value != ENOENT) {
        return std::unexpected(u.error());
      }
    }
    bool hidden = opaque || IsWhiteout(name);
    // A lower directory merges under an upper one of the same name; any other upper file
    // hides what is below it.
    if (lower && !hidden && (!child_upper || child_upper->IsDir())) {
      auto l = lower->Lookup(name);
      if (l) {
        if (!child_upper || (*l)->IsDir()) child_lower = *l;
      } else if (l.error().value != ENOENT) {
        return std::unexpected(l.error());
      }
    }
    if (!child_upper && !child_lower) return Err(ENOENT);
    return Child(name, child_upper, child_lower, false);
  }

  Result<std::vector<vfs::DirEntry>> ReadDir() override {
    if (!IsDir()) return Err(ENOTDIR);
    auto [upper, lower, opaque] = Layers();
    std::vector<vfs::DirEntry> out;
    std::set<std::string, std::less<>> seen;
    if (upper) {
      for (auto& e : TRY(upper->ReadDir())) {
        seen.insert(e.name);
        out.push_back(std::move(e));
      }
    }
    if (lower && !opaque) {
      for (auto& e : TRY(lower->ReadDir())) {
        if (seen.contains(e.name) || IsWhiteout(e.name)) continue;
        out.push_back(std::move(e));
      }
    }
    return out;
  }

  Result<std::shared_ptr<vfs::Inode>> Create(std::string_view name, mode_t mode,
                                             const vfs::FsCredentials& c) override {
    TRY(CopyUp());
    auto inode = TRY(Upper()->Create(name, mode, c));
    return Added(name, inode);
  }

  Result<std::shared_ptr<vfs::Inode>> Mkdir(std::string_view name, mode_t mode,
                                            const vfs::FsCredentials& c) override {
    TRY(CopyUp());
    auto inode = TRY(Upper()->Mkdir(name, mode, c));
    return Added(name, inode);
  }

  Result<std::shared_ptr<vfs::Inode>> Mknod(std::string_view name, mode_t mode, dev_t dev,
                                            const vfs::FsCredentials& c) override {
    TRY(CopyUp());
    auto inode = TRY(Upper()->Mknod(name, mode, dev, c));
    return Added(name, inode);
  }

  Result<std::shared_ptr<vfs::Inode>> Symlink(std::string_view name, std::string_view target,
                                              const vfs::FsCredentials& c) override {
    TRY(CopyUp());
    auto inode = TRY(Upper()->Symlink(name, target, c));
    return Added(name, inode);
  }

  // O_TMPFILE: a nameless file of the upper layer (Linux's overlayfs does the same since 6.6).
  Result<std::shared_ptr<vfs::Inode>> TmpFile(mode_t mode, const vfs::FsCredentials& c,
                                              bool linkable) override {
    if (!IsDir()) return Err(ENOTDIR);
    TRY(CopyUp());
    auto upper = TRY(Upper()->TmpFile(mode, c, linkable));
    // Its upper file exists from the start, so it never copies up: the parent and name that a
    // copy-up would use are never needed. linkat(2) gives it a name through Link below.
    return std::make_shared<OverlayInode>(
        shared_, std::static_pointer_cast<OverlayInode>(shared_from_this()), "", std::move(upper),
        nullptr, false);
  }

  Result<void> Link(std::string_view name, vfs::Inode& target) override {
    auto* t = dynamic_cast<OverlayInode*>(&target);
    if (t == nullptr || t->shared_ != shared_) return Err(EXDEV);
    TRY(t->CopyUp());
    TRY(CopyUp());
    TRY(Upper()->Link(name, *t->Upper()));
    absl::MutexLock lock(&mu_);
    whiteouts_.erase(std::string(name));
    // The new name is the same file: later lookups find this inode (its flocks, its copy-up
    // state), not a second one over the same upper file.
    children_[std::string(name)] = std::static_pointer_cast<OverlayInode>(t->shared_from_this());
    return {};
  }

  Result<void> Unlink(std::string_view name) override { return Remove(name, false); }
  Result<void> Rmdir(std::string_view name) override { return Remove(name, true); }

  Result<void> Rename(std::string_view old_name, vfs::Inode& new_dir, std::string_view new_name,
                      unsigned flags) override {
    auto* nd = dynamic_cast<OverlayInode*>(&new_dir);
    if (nd == nullptr || nd->shared_ != shared_) return Err(EXDEV);
    auto moved = std::static_pointer_cast<OverlayInode>(TRY(Lookup(old_name)));
    // Moving a directory that has lower contents would need them all copied up first; Linux's
    // overlay refuses with EXDEV (and mv falls back to copying), and so does this one.
    if (moved->IsDir() && moved->HasLower()) return Err(EXDEV);
    auto replaced = nd->Lookup(new_name);
    if (flags & RENAME_EXCHANGE) {
      if (!replaced) return std::unexpected(replaced.error());
      auto other = std::static_pointer_cast<OverlayInode>(*replaced);
      if (moved->HasLower() || other->HasLower()) return Err(EXDEV);
    }
    TRY(moved->CopyUp());
    TRY(nd->CopyUp());
    if (replaced && !(flags & RENAME_EXCHANGE)) {
      auto target = std::static_pointer_cast<OverlayInode>(*replaced);
      if (target->IsDir() && target->HasLower()) {
        if (!TRY(target->IsEmpty())) return Err(ENOTEMPTY);
      }
    }
    if (replaced && (flags & RENAME_NOREPLACE)) return Err(EEXIST);
    TRY(Upper()->Rename(old_name, *nd->Upper(), new_name, flags & ~RENAME_NOREPLACE));
    bool had_lower = moved->lower_ != nullptr || LowerHas(old_name);
    {
      absl::MutexLock lock(&mu_);
      if (had_lower) whiteouts_.insert(std::string(old_name));
      children_.erase(std::string(old_name));
    }
    {
      absl::MutexLock lock(&nd->mu_);
      nd->whiteouts_.erase(std::string(new_name));
      nd->children_[std::string(new_name)] = moved;
    }
    absl::MutexLock lock(&moved->mu_);
    moved->parent_ = std::static_pointer_cast<OverlayInode>(nd->shared_from_this());
    moved->name_ = std::string(new_name);
    return {};
  }

  Result<std::string> ReadLink() override { return Current()->ReadLink(); }
  Result<struct statfs> StatFs() override { return shared_->upper_fs->StatFs(); }

  Result<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& path,
                                                     int flags) override {
    if (IsDir()) {
      return std::shared_ptr<vfs::FileDescription>(
          std::make_shared<vfs::DirectoryFile>(flags, path));
    }
    int mode = flags & O_ACCMODE;
    bool writes = mode == O_WRONLY || mode == O_RDWR || (flags & O_TRUNC);
    if (writes && !(flags & O_PATH)) TRY(CopyUp());
    return Current()->Open(path, flags);
  }

  const void* FilesystemId() const override { return shared_.get(); }

  // Gives this file (and its ancestors) an upper copy, once.
  Result<void> CopyUp() {
    {
      absl::MutexLock lock(&mu_);
      if (upper_) return {};
    }
    std::shared_ptr<OverlayInode> parent;
    std::string name;
    {
      absl::MutexLock lock(&mu_);
      parent = parent_;
      name = name_;
    }
    if (!parent) return Err(EIO);  // the root always has its upper layer
    TRY(parent->CopyUp());
    absl::MutexLock copy_lock(&shared_->copy_mu);
    {
      absl::MutexLock lock(&mu_);
      if (upper_) return {};
    }
    std::shared_ptr<vfs::Inode> upper = TRY(CopyLower(*parent->Upper(), name));
    absl::MutexLock lock(&mu_);
    upper_ = std::move(upper);
    return {};
  }

 private:
  struct LayerSnapshot {
    std::shared_ptr<vfs::Inode> upper, lower;
    bool opaque;
  };
  LayerSnapshot Layers() {
    absl::MutexLock lock(&mu_);
    return {upper_, lower_, opaque_};
  }
  std::shared_ptr<vfs::Inode> Upper() {
    absl::MutexLock lock(&mu_);
    return upper_;
  }
  std::shared_ptr<vfs::Inode> Current() {
    absl::MutexLock lock(&mu_);
    return upper_ ? upper_ : lower_;
  }
  bool HasLower() {
    absl::MutexLock lock(&mu_);
    return lower_ != nullptr;
  }
  bool IsWhiteout(std::string_view name) {
    absl::MutexLock lock(&mu_);
    return whiteouts_.contains(name);
  }
  bool LowerHas(std::string_view name) {
    auto [upper, lower, opaque] = Layers();
    return lower && !opaque && lower->Lookup(name).has_value();
  }
  Result<bool> IsEmpty() { return TRY(ReadDir()).empty(); }

  std::shared_ptr<vfs::Inode> Child(std::string_view name, std::shared_ptr<vfs::Inode> upper,
                                    std::shared_ptr<vfs::Inode> lower, bool opaque) {
    auto self = std::static_pointer_cast<OverlayInode>(shared_from_this());
    absl::MutexLock lock(&mu_);
    auto it = children_.find(name);
    if (it != children_.end()) {
      if (auto existing = it->second.lock()) return existing;
    }
    auto child = std::make_shared<OverlayInode>(shared_, self, std::string(name), std::move(upper),
                                                std::move(lower), opaque);
    children_[std::string(name)] = child;
    return child;
  }

  // A name just created in the upper layer. Over a whiteout it hides the lower file for good,
  // and a directory there starts opaque.
  std::shared_ptr<vfs::Inode> Added(std::string_view name, std::shared_ptr<vfs::Inode> upper) {
    bool over_whiteout;
    {
      absl::MutexLock lock(&mu_);
      over_whiteout = whiteouts_.erase(std::string(name)) > 0;
      children_.erase(std::string(name));
    }
    bool opaque = over_whiteout || (upper->IsDir() && LowerHas(name));
    return Child(name, std::move(upper), nullptr, opaque);
  }

  Result<void> Remove(std::string_view name, bool dir) {
    auto child = std::static_pointer_cast<OverlayInode>(TRY(Lookup(name)));
    if (dir) {
      if (!child->IsDir()) return Err(ENOTDIR);
      if (!TRY(child->IsEmpty())) return Err(ENOTEMPTY);
    } else if (child->IsDir()) {
      return Err(EISDIR);
    }
    if (child->Upper()) {
      TRY(CopyUp());
      if (dir) {
        TRY(Upper()->Rmdir(name));
      } else {
        TRY(Upper()->Unlink(name));
      }
    }
    bool lower_too = child->HasLower() || LowerHas(name);
    absl::MutexLock lock(&mu_);
    if (lower_too) whiteouts_.insert(std::string(name));
    children_.erase(std::string(name));
    return {};
  }

  // Makes `name` in upper_dir a copy of this file's lower layer: data, mode, owner, times.
  Result<std::shared_ptr<vfs::Inode>> CopyLower(vfs::Inode& upper_dir, const std::string& name) {
    std::shared_ptr<vfs::Inode> lower;
    {
      absl::MutexLock lock(&mu_);
      lower = lower_;
    }
    struct stat st = TRY(lower->Stat());
    vfs::FsCredentials creds{
        .uid = st.st_uid, .gid = st.st_gid, .groups = {}, .dac_override = true};
    std::shared_ptr<vfs::Inode> upper;
    if (S_ISDIR(st.st_mode)) {
      upper = TRY(upper_dir.Mkdir(name, st.st_mode & 07777, creds));
    } else if (S_ISLNK(st.st_mode)) {
      upper = TRY(upper_dir.Symlink(name, TRY(lower->ReadLink()), creds));
    } else if (S_ISREG(st.st_mode)) {
      upper = TRY(upper_dir.Create(name, st.st_mode & 07777, creds));
      auto in = TRY(lower->Open(vfs::VirtualDentry{}, O_RDONLY));
      auto out = TRY(upper->Open(vfs::VirtualDentry{}, O_WRONLY));
      std::vector<uint8_t> buf(kCopyChunk);
      int64_t off = 0;
      while (true) {
        iovec v{buf.data(), buf.size()};
        uint64_t n = TRY(in->Read({&v, 1}, off));
        if (n == 0) break;
        iovec w{buf.data(), n};
        uint64_t m = TRY(out->Write({&w, 1}, off));
        if (m != n) return Err(ENOSPC);
        off += static_cast<int64_t>(n);
      }
    } else {
      upper = TRY(upper_dir.Mknod(name, st.st_mode, st.st_rdev, creds));
    }
    vfs::SetStatRequest attrs;
    attrs.uid = st.st_uid;
    attrs.gid = st.st_gid;
    if (!S_ISLNK(st.st_mode)) {
      attrs.mode = st.st_mode & 07777;
      attrs.atime = st.st_atim;
      attrs.mtime = st.st_mtim;
    }
    TRY(upper->SetStat(attrs));
    return upper;
  }

  std::shared_ptr<Shared> shared_;
  absl::Mutex mu_;
  std::shared_ptr<OverlayInode> parent_ ABSL_GUARDED_BY(mu_);
  std::string name_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<vfs::Inode> upper_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<vfs::Inode> lower_;  // fixed at creation
  bool opaque_;                        // lower contents hidden (a directory re-created here)
  // Names deleted from the lower layer, kept in memory: the whole upper layer is in memory too.
  std::set<std::string, std::less<>> whiteouts_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::weak_ptr<OverlayInode>, std::less<>> children_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::shared_ptr<vfs::Inode> NewOverlayRoot(mm::MemoryFile& memory,
                                           std::shared_ptr<vfs::Inode> lower) {
  auto shared = std::make_shared<Shared>();
  mode_t mode = 0755;
  uint32_t uid = 0, gid = 0;
  if (auto st = lower->Stat()) {
    mode = st->st_mode & 07777;
    uid = st->st_uid;
    gid = st->st_gid;
  }
  shared->upper_fs = tmpfs::Filesystem::Create(memory, mode, uid, gid);
  auto upper = shared->upper_fs->root();
  return std::make_shared<OverlayInode>(std::move(shared), nullptr, "/", std::move(upper),
                                        std::move(lower), false);
}

}  // namespace sentry::fsimpl::overlay
