#include "runsc/container_mounts.h"

#include <sys/mount.h>

#include <cstring>
#include <map>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "sentry/vfs/filesystem_type.h"
#include "sentry/vfs/resolve.h"
#include "spdlog/spdlog.h"

namespace runsc {
namespace {

namespace vfs = sentry::vfs;

// mount(8)'s flag words: the ones that set a per-mount flag, and those that set nothing here
// (propagation, atime policy, bind itself). Everything else goes to the file system.
const std::map<std::string_view, int, std::less<>> kFlagWords = {
    {"ro", MS_RDONLY},         {"nosuid", MS_NOSUID},          {"nodev", MS_NODEV},
    {"noexec", MS_NOEXEC},     {"noatime", MS_NOATIME},        {"nodiratime", MS_NODIRATIME},
    {"relatime", MS_RELATIME}, {"strictatime", MS_STRICTATIME}};
constexpr std::string_view kIgnoredWords[] = {
    "rw",         "suid",       "dev",         "exec",     "atime",  "diratime", "norelatime",
    "bind",       "rbind",      "private",     "rprivate", "shared", "rshared",  "slave",
    "rslave",     "unbindable", "runbindable", "sync",     "async",  "dirsync",  "lazytime",
    "nolazytime", "mand",       "nomand",      "defaults", "loud",   "silent",   "tmpcopyup"};

struct SplitOptions {
  int flags = 0;
  std::vector<vfs::MountOption> data;
};

SplitOptions Split(const std::vector<std::string>& options) {
  SplitOptions out;
  for (const std::string& o : options) {
    if (auto it = kFlagWords.find(o); it != kFlagWords.end()) {
      out.flags |= it->second;
    } else if (std::find(std::begin(kIgnoredWords), std::end(kIgnoredWords), o) ==
               std::end(kIgnoredWords)) {
      for (auto& d : vfs::SplitMountOptions(o)) out.data.push_back(std::move(d));
    }
  }
  return out;
}

absl::Status MountError(const ContainerMount& m, const std::string& what, int err) {
  return absl::InvalidArgumentError(absl::StrCat("config.json: mount of ", m.type, " on ",
                                                 m.destination, ": ", what,
                                                 err ? absl::StrCat(": ", strerror(err)) : ""));
}

// A directory or file resolved in the container's tree, or nothing when it is not there.
std::optional<vfs::VirtualDentry> Lookup(vfs::MountNamespace& mounts, const std::string& path) {
  vfs::ResolveContext ctx{mounts, mounts.Root(), vfs::FsCredentials{}};
  auto vd = vfs::Resolve(ctx, mounts.Root(), path, vfs::kFollowFinal);
  if (!vd) return std::nullopt;
  return *vd;
}

absl::Status ApplyMount(vfs::MountNamespace& mounts, sentry::kernel::Kernel& kernel,
                        sentry::fsimpl::gofer::Filesystem& gofer, const ContainerMount& m) {
  SplitOptions options = Split(m.options);
  if (m.type == "bind") {
    // A bind mount shares a host directory with whoever else uses it: revalidated.
    auto root = gofer.Attach(static_cast<uint32_t>(m.attach),
                             sentry::fsimpl::gofer::CachePolicy::kRevalidate);
    if (!root) return MountError(m, "attaching to the gofer", root.error().value);
    auto at = MakeMountPoint(mounts, m.destination, (*root)->IsDir());
    if (!at) return MountError(m, "making the mount point", at.error().value);
    bool known = !m.host_fs_type.empty();
    auto mount = std::make_shared<vfs::Mount>(
        vfs::Dentry::NewRoot(std::move(*root)), known ? m.host_fs_type : "gofer",
        known ? m.host_fs_source : "none", options.flags, known ? m.host_fs_root : "");
    if (auto r = mounts.AddMount(*at, std::move(mount)); !r) {
      return MountError(m, "mounting", r.error().value);
    }
    return absl::OkStatus();
  }
  if (m.type == "cgroup" || m.type == "cgroup2") {
    spdlog::info("{} on {}: the sandbox has no cgroup file system; left out", m.type,
                 m.destination);
    return absl::OkStatus();
  }
  // The sandbox's own /dev, /proc and /sys are there already: a config that mounts the same
  // type there (as every runc config does) gets them, with its flags.
  if (auto existing = Lookup(mounts, m.destination);
      existing && existing->dentry == existing->mount->root() &&
      (existing->mount->fs_type() == m.type || (m.destination == "/dev" && m.type == "tmpfs"))) {
    if (auto r = mounts.SetFlags(*existing->mount, existing->mount->flags() | options.flags); !r) {
      return MountError(m, "setting its flags", r.error().value);
    }
    return absl::OkStatus();
  }
  const vfs::FilesystemType* type = kernel.filesystems().Find(m.type);
  if (type == nullptr) return MountError(m, "the sandbox has no such file system type", 0);
  vfs::MountArgs args;
  args.source = m.source.empty() ? "none" : m.source;
  args.options = options.data;
  auto root = type->mount(args);
  if (!root) return MountError(m, "bad options", root.error().value);
  auto at = MakeMountPoint(mounts, m.destination, (*root)->IsDir());
  if (!at) return MountError(m, "making the mount point", at.error().value);
  auto mount = std::make_shared<vfs::Mount>(vfs::Dentry::NewRoot(std::move(*root)), m.type,
                                            args.source, options.flags);
  if (auto r = mounts.AddMount(*at, std::move(mount)); !r) {
    return MountError(m, "mounting", r.error().value);
  }
  return absl::OkStatus();
}

// As runc: a masked directory gets an empty read-only tmpfs on it, a masked file /dev/null;
// a path that does not exist is left alone.
absl::Status Mask(vfs::MountNamespace& mounts, sentry::kernel::Kernel& kernel,
                  const std::string& path) {
  auto at = Lookup(mounts, path);
  if (!at) return absl::OkStatus();
  std::shared_ptr<vfs::Mount> cover;
  if (at->inode().IsDir()) {
    vfs::MountArgs args;
    args.source = "tmpfs";
    auto root = kernel.filesystems().Find("tmpfs")->mount(args);
    if (!root) return absl::InternalError(absl::StrCat("masking ", path, ": tmpfs"));
    cover = std::make_shared<vfs::Mount>(vfs::Dentry::NewRoot(std::move(*root)), "tmpfs", "tmpfs",
                                         MS_RDONLY);
  } else {
    auto null = Lookup(mounts, "/dev/null");
    if (!null) return absl::InternalError(absl::StrCat("masking ", path, ": no /dev/null"));
    cover = mounts.CloneTree(*null, /*recursive=*/false);
  }
  if (auto r = mounts.AddMount(*at, std::move(cover)); !r) {
    return absl::InternalError(absl::StrCat("masking ", path, ": ", strerror(r.error().value)));
  }
  return absl::OkStatus();
}

// A read-only path is bound onto itself, read-only, with what is mounted below it.
absl::Status MakeReadOnly(vfs::MountNamespace& mounts, const std::string& path) {
  auto at = Lookup(mounts, path);
  if (!at) return absl::OkStatus();
  std::shared_ptr<vfs::Mount> bound = mounts.CloneTree(*at, /*recursive=*/true);
  vfs::Mount& m = *bound;
  auto fail = [&](int err) {
    return absl::InternalError(absl::StrCat("read-only ", path, ": ", strerror(err)));
  };
  if (auto r = mounts.AddMount(*at, std::move(bound)); !r) return fail(r.error().value);
  if (auto r = mounts.SetFlags(m, m.flags() | MS_RDONLY); !r) return fail(r.error().value);
  return absl::OkStatus();
}

}  // namespace

sentry::Result<vfs::VirtualDentry> MakeMountPoint(vfs::MountNamespace& mounts,
                                                  const std::string& path, bool dir) {
  vfs::ResolveContext ctx{mounts, mounts.Root(), vfs::FsCredentials{}};
  vfs::VirtualDentry cur = mounts.Root();
  std::vector<std::string> parts = absl::StrSplit(path, '/', absl::SkipEmpty());
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& name = parts[i];
    auto next = vfs::Resolve(ctx, cur, name, vfs::kFollowFinal);
    if (!next && next.error().value == ENOENT && name != "." && name != "..") {
      if (cur.mount->read_only()) return sentry::Err(EROFS);
      bool last = i + 1 == parts.size();
      auto inode = last && !dir ? TRY(cur.inode().Create(name, 0644, ctx.creds))
                                : TRY(cur.inode().Mkdir(name, 0755, ctx.creds));
      cur.dentry->AddChild(name, std::move(inode));
      next = vfs::Resolve(ctx, cur, name, 0);
    }
    cur = TRY(std::move(next));
  }
  return cur;
}

absl::Status ApplyContainerMounts(vfs::MountNamespace& mounts, sentry::kernel::Kernel& kernel,
                                  sentry::fsimpl::gofer::Filesystem& gofer,
                                  const ContainerSetup& setup) {
  for (const ContainerMount& m : setup.mounts) {
    if (auto s = ApplyMount(mounts, kernel, gofer, m); !s.ok()) return s;
  }
  for (const std::string& path : setup.masked_paths) {
    if (auto s = Mask(mounts, kernel, path); !s.ok()) return s;
  }
  for (const std::string& path : setup.readonly_paths) {
    if (auto s = MakeReadOnly(mounts, path); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace runsc
