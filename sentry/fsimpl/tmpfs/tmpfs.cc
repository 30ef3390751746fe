#include "sentry/fsimpl/tmpfs/tmpfs.h"

#include <cerrno>
#include <cstdlib>
#include <string>

namespace sentry::fsimpl::tmpfs {
namespace {

// kstrtoull: the whole text is a number in `base` (0: C's prefixes), nothing after it.
std::optional<uint64_t> ParseNumber(const std::string& text, int base) {
  if (text.empty() || text[0] == '-' || text[0] == ' ') return std::nullopt;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = strtoull(text.c_str(), &end, base);
  if (errno != 0 || end == text.c_str() || *end != '\0') return std::nullopt;
  return v;
}

// memparse: a number (C's prefixes) with an optional K/M/G/T/P/E suffix; `rest` is what follows.
std::optional<uint64_t> MemParse(const std::string& text, std::string_view* rest) {
  if (text.empty() || text[0] == '-' || text[0] == ' ') return std::nullopt;
  char* end = nullptr;
  unsigned long long v = strtoull(text.c_str(), &end, 0);
  if (end == text.c_str()) return std::nullopt;
  int shift = 0;
  switch (*end) {
    case 'E': case 'e': shift += 10; [[fallthrough]];
    case 'P': case 'p': shift += 10; [[fallthrough]];
    case 'T': case 't': shift += 10; [[fallthrough]];
    case 'G': case 'g': shift += 10; [[fallthrough]];
    case 'M': case 'm': shift += 10; [[fallthrough]];
    case 'K': case 'k': shift += 10; ++end; break;
    default: break;
  }
  *rest = std::string_view(end);
  return shift >= 64 ? 0 : uint64_t{v} << shift;
}

}  // namespace

Result<MountOptions> ParseMountOptions(const std::vector<vfs::MountOption>& options,
                                       uint64_t total_ram) {
  MountOptions out;
  for (const vfs::MountOption& o : options) {
    const bool flag = o.key == "inode32" || o.key == "inode64" || o.key == "noswap";
    if (flag) {
      if (o.has_value) return Err(EINVAL);
      continue;
    }
    if (!o.has_value || o.value.empty()) return Err(EINVAL);
    std::string_view rest;
    if (o.key == "size") {
      auto v = MemParse(o.value, &rest);
      if (!v) return Err(EINVAL);
      uint64_t bytes = *v;
      if (!rest.empty() && rest[0] == '%') {
        bytes = static_cast<uint64_t>(static_cast<unsigned __int128>(bytes) * total_ram / 100);
        rest.remove_prefix(1);
      }
      if (!rest.empty()) return Err(EINVAL);
      out.size_limit = (bytes + kPageSize - 1) / kPageSize * kPageSize;
    } else if (o.key == "nr_blocks") {
      auto v = MemParse(o.value, &rest);
      if (!v || !rest.empty()) return Err(EINVAL);
      out.size_limit = *v * kPageSize;
    } else if (o.key == "nr_inodes") {
      auto v = MemParse(o.value, &rest);
      if (!v || !rest.empty()) return Err(EINVAL);
      out.max_inodes = *v;
    } else if (o.key == "mode") {
      auto v = ParseNumber(o.value, 8);
      if (!v || *v > 0xffffffff) return Err(EINVAL);
      out.mode = static_cast<mode_t>(*v & 07777);
    } else if (o.key == "uid" || o.key == "gid") {
      auto v = ParseNumber(o.value, 0);
      if (!v || *v >= 0xffffffff) return Err(EINVAL);  // (uid_t)-1 is no ID
      (o.key == "uid" ? out.uid : out.gid) = static_cast<uint32_t>(*v);
    } else if (o.key == "huge") {
      if (o.value != "never" && o.value != "always" && o.value != "within_size" &&
          o.value != "advise") {
        return Err(EINVAL);
      }
    } else if (o.key == "mpol") {
      // A NUMA policy: the sandbox has one node; accepted and ignored.
    } else {
      return Err(EINVAL);
    }
  }
  return out;
}

Result<void> Remount(vfs::Inode& root, const MountOptions& options) {
  auto* inode = dynamic_cast<TmpfsInode*>(&root);
  if (inode == nullptr) return Err(EINVAL);
  return inode->sb().SetLimits(options.size_limit, options.max_inodes);
}

std::shared_ptr<Filesystem> Filesystem::Create(mm::MemoryFile& memory, mode_t root_mode,
                                               uint32_t uid, uint32_t gid,
                                               FilesystemOptions options) {
  auto sb = std::make_shared<Superblock>(memory, options.size_limit, options.max_inodes);
  auto root =
      std::make_shared<Directory>(sb, root_mode & 07777, uid, gid, std::weak_ptr<Directory>());
  return std::make_shared<Filesystem>(std::move(sb), std::move(root));
}

Filesystem::Filesystem(std::shared_ptr<Superblock> sb, std::shared_ptr<Directory> root)
    : sb_(std::move(sb)), root_(std::move(root)) {}

Result<struct statfs> StatFsOf(const vfs::Inode& inode) {
  const auto* tmpfs_inode = dynamic_cast<const TmpfsInode*>(&inode);
  if (tmpfs_inode == nullptr) return Err(ENOSYS);
  return tmpfs_inode->StatFs();
}

}  // namespace sentry::fsimpl::tmpfs
