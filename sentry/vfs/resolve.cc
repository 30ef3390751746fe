#include "sentry/vfs/resolve.h"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <vector>

namespace sentry::vfs {
namespace {

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) parts.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

VirtualDentry CrossMountsDown(const MountNamespace& mounts, VirtualDentry vd) {
  while (auto m = mounts.MountedAt(vd)) vd = {m, m->root()};
  return vd;
}

Result<void> CheckSearch(const ResolveContext& ctx, const VirtualDentry& dir) {
  if (!dir.inode().IsDir()) return Err(ENOTDIR);
  if (ctx.creds.dac_override) {
    return {};  // root may search any directory
  }
  struct stat st = TRY(dir.inode().Stat());
  if (!MayAccess(st, ctx.creds, X_OK)) return Err(EACCES);
  return {};
}

// Walks `parts` from `cur`; the last part is followed if it is a symlink only with kFollowFinal.
Result<VirtualDentry> Walk(ResolveContext& ctx, VirtualDentry cur,
                           const std::vector<std::string_view>& parts, unsigned flags,
                           const VirtualDentry& start) {
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string_view comp = parts[i];
    bool last = i + 1 == parts.size();
    TRY(CheckSearch(ctx, cur));
    if (comp == ".") continue;
    if (comp == "..") {
      if ((flags & kBeneath) && cur == start) return Err(EXDEV);
      VirtualDentry up = ParentOf(ctx, cur);
      if ((flags & kNoXdev) && up.mount != cur.mount) return Err(EXDEV);
      cur = up;
      continue;
    }
    if (comp.size() > kNameMax) return Err(ENAMETOOLONG);
    std::shared_ptr<Dentry> child = TRY(cur.dentry->Child(comp));
    VirtualDentry next = CrossMountsDown(ctx.mounts, {cur.mount, child});
    if ((flags & kNoXdev) && next.mount != cur.mount) return Err(EXDEV);
    if (next.inode().IsSymlink() && (!last || (flags & kFollowFinal))) {
      if (flags & kNoSymlinks) return Err(ELOOP);
      if (next.mount->flags() & MS_NOSYMFOLLOW) return Err(ELOOP);
      if (++ctx.symlinks > kMaxSymlinks) return Err(ELOOP);
      if (auto magic = TRY(next.inode().MagicLinkTarget())) {
        // A jump, not a lookup (Linux's nd_jump_link): refused under RESOLVE_NO_MAGICLINKS,
        // under NO_XDEV when it changes mounts, and under BENEATH and IN_ROOT, whose tree a
        // jump could leave.
        if (flags & kNoMagicLinks) return Err(ELOOP);
        if ((flags & kNoXdev) && magic->mount != cur.mount) return Err(EXDEV);
        if (flags & (kBeneath | kInRoot)) return Err(EXDEV);
        cur = std::move(*magic);
        continue;
      }
      std::string target = TRY(next.inode().ReadLink());
      if (target.empty()) return Err(ENOENT);
      if (target[0] == '/' && (flags & kBeneath)) return Err(EXDEV);
      VirtualDentry base = target[0] == '/' ? ctx.root : cur;
      cur = TRY(Walk(ctx, base, Split(target), flags | kFollowFinal, start));
      continue;
    }
    cur = next;
  }
  return cur;
}

}  // namespace

VirtualDentry ParentOf(const ResolveContext& ctx, const VirtualDentry& vd) {
  VirtualDentry cur = vd;
  if (cur == ctx.root) return cur;
  while (cur.dentry == cur.mount->root()) {
    VirtualDentry below = cur.mount->place();
    if (!below.mount) return cur;  // the top of the mount tree (or of a detached one)
    cur = std::move(below);
    if (cur == ctx.root) return cur;
  }
  auto up = cur.dentry->parent();
  if (up) cur.dentry = up;
  return CrossMountsDown(ctx.mounts, cur);
}

Result<VirtualDentry> Resolve(ResolveContext& ctx, const VirtualDentry& start,
                              std::string_view path, unsigned flags) {
  if (path.empty()) return Err(ENOENT);
  if (path.size() >= PATH_MAX) return Err(ENAMETOOLONG);
  if (flags & kInRoot) ctx.root = start;
  if (path[0] == '/' && (flags & kBeneath)) return Err(EXDEV);
  VirtualDentry base = path[0] == '/' ? ctx.root : start;
  bool trailing_slash = path.back() == '/';
  unsigned walk_flags = flags | (trailing_slash ? unsigned{kFollowFinal} : 0u);
  VirtualDentry vd = TRY(Walk(ctx, base, Split(path), walk_flags, start));
  if ((trailing_slash || (flags & kMustBeDir)) && !vd.inode().IsDir()) return Err(ENOTDIR);
  return vd;
}

Result<ParentAndName> ResolveParent(ResolveContext& ctx, const VirtualDentry& start,
                                    std::string_view path, unsigned flags) {
  if (path.empty()) return Err(ENOENT);
  if (path.size() >= PATH_MAX) return Err(ENAMETOOLONG);
  if (flags & kInRoot) ctx.root = start;
  if (path[0] == '/' && (flags & kBeneath)) return Err(EXDEV);
  std::vector<std::string_view> parts = Split(path);
  VirtualDentry base = path[0] == '/' ? ctx.root : start;
  if (parts.empty()) return ParentAndName{base, "", true};  // "/" or "///"
  std::string name(parts.back());
  if (name.size() > kNameMax) return Err(ENAMETOOLONG);
  parts.pop_back();
  VirtualDentry parent = TRY(Walk(ctx, base, parts, flags | kFollowFinal, start));
  TRY(CheckSearch(ctx, parent));
  return ParentAndName{parent, std::move(name), path.back() == '/'};
}

Result<std::optional<VirtualDentry>> Inode::MagicLinkTarget() {
  return std::optional<VirtualDentry>();
}

bool MayAccess(const struct stat& st, const FsCredentials& creds, int want) {
  if (creds.dac_override) {
    // Root reads and writes anything; it executes a file only if someone may.
    if (!(want & X_OK) || S_ISDIR(st.st_mode)) return true;
    return st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH);
  }
  unsigned bits;
  if (st.st_uid == creds.uid) {
    bits = (st.st_mode >> 6) & 7;
  } else if (st.st_gid == creds.gid ||
             std::find(creds.groups.begin(), creds.groups.end(), st.st_gid) !=
                 creds.groups.end()) {
    bits = (st.st_mode >> 3) & 7;
  } else {
    bits = st.st_mode & 7;
  }
  return (bits & static_cast<unsigned>(want)) == static_cast<unsigned>(want);
}

}  // namespace sentry::vfs
