#include "sentry/vfs/xattr.h"

#include <sys/xattr.h>

namespace sentry::vfs {

XattrNamespace XattrNamespaceOf(std::string_view name) {
  if (name.starts_with("user.")) return XattrNamespace::kUser;
  if (name.starts_with("trusted.")) return XattrNamespace::kTrusted;
  if (name.starts_with("security.")) return XattrNamespace::kSecurity;
  if (name.starts_with("system.")) return XattrNamespace::kSystem;
  return XattrNamespace::kOther;
}

Result<std::string> XattrMap::Get(std::string_view name) const {
  auto it = attrs_.find(name);
  if (it == attrs_.end()) return Err(ENODATA);
  return it->second;
}

Result<void> XattrMap::Set(std::string_view name, std::string_view value, int flags) {
  auto it = attrs_.find(name);
  if (it != attrs_.end()) {
    if (flags & XATTR_CREATE) return Err(EEXIST);
    it->second.assign(value);
    return {};
  }
  if (flags & XATTR_REPLACE) return Err(ENODATA);
  attrs_.emplace(std::string(name), std::string(value));
  return {};
}

Result<void> XattrMap::Remove(std::string_view name) {
  auto it = attrs_.find(name);
  if (it == attrs_.end()) return Err(ENODATA);
  attrs_.erase(it);
  return {};
}

std::vector<std::string> XattrMap::Names() const {
  std::vector<std::string> names;
  names.reserve(attrs_.size());
  for (const auto& [name, value] : attrs_) names.push_back(name);
  return names;
}

}  // namespace sentry::vfs
