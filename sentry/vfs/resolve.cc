#include "sentry/vfs/resolve.h"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <span>
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

bool IsPlainName(std::string_view comp) {
  return comp != "." && comp != ".." && comp.size() <= kNameMax;
}

// Checks the cached dentries that the plain names from parts[i] on will walk through, when
// `dir` is on a file system that others change (Inode::RevalidatesNames): one round trip for
// the whole run of names. Returns the index up to which parts need no further check.
Result<size_t> RevalidateRun(const VirtualDentry& dir, std::span<const std::string_view> parts,
                             size_t i) {
  if (!dir.inode().RevalidatesNames()) return i;
  size_t end = i;
  while (end < parts.size() && IsPlainName(parts[end])) ++end;
  size_t covered = TRY(dir.dentry->Revalidate(parts.subspan(i, end - i)));
  return i + std::max<size_t>(covered, 1);
}

// Walks parts[0, count) from `cur`; the last walked part is followed if it is a symlink only
// with kFollowFinal. Parts past `count` (ResolveParent's final name) are not walked, but a
// revalidation checks them along with the rest, so that the caller's lookup of them is fresh.
Result<VirtualDentry> Walk(ResolveContext& ctx, VirtualDentry cur,
                           std::span<const std::string_view> parts, size_t count, unsigned flags,
                           const VirtualDentry& start) {
  // parts before this index were checked from cur's cached chain; any step other than into a
  // child on the same mount (a "..", a symlink, a mount crossing) forgets that.
  size_t checked = 0;
  for (size_t i = 0; i < count; ++i) {
    std::string_view comp = parts[i];
    bool last = i + 1 == count;
    TRY(CheckSearch(ctx, cur));
    if (comp == ".") continue;
    if (comp == "..") {
      if ((flags & kBeneath) && cur == start) return Err(EXDEV);
      VirtualDentry up = ParentOf(ctx, cur);
      if ((flags & kNoXdev) && up.mount != cur.mount) return Err(EXDEV);
      cur = up;
      checked = 0;
      continue;
    }
    if (comp.size() > kNameMax) return Err(ENAMETOOLONG);
    if (i >= checked) checked = TRY(RevalidateRun(cur, parts, i));
    std::shared_ptr<Dentry> child = TRY(cur.dentry->Child(comp));
    VirtualDentry next = CrossMountsDown(ctx.mounts, {cur.mount, child});
    if ((flags & kNoXdev) && next.mount != cur.mount) return Err(EXDEV);
    if (next.mount != cur.mount) checked = 0;
    if (next.inode().IsSymlink() && (!last || (flags & kFollowFinal))) {
      checked = 0;
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
      std::vector<std::string_view> target_parts = Split(target);
      cur = TRY(Walk(ctx, base, target_parts, target_parts.size(), flags | kFollowFinal, start));
      continue;
    }
    cur = next;
  }
  // ResolveParent's final name, when nothing before it revalidated it.
  if (count < parts.size() && count >= checked && IsPlainName(parts[count])) {
    TRY(RevalidateRun(cur, parts, count));
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
  std::vector<std::string_view> parts = Split(path);
  VirtualDentry vd = TRY(Walk(ctx, base, parts, parts.size(), walk_flags, start));
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
  VirtualDentry parent = TRY(Walk(ctx, base, parts, parts.size() - 1, flags | kFollowFinal, start));
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
