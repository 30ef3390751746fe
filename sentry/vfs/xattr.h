// Extended attributes kept in memory, as Linux's simple_xattrs keep them for tmpfs: full names
// ("user.mime_type") mapped to values. The owner of a map guards it; the syscall layer has
// checked names, sizes and permissions before a map sees them.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sentry/base/errno.h"

namespace sentry::vfs {

inline constexpr size_t kXattrNameMax = 255;    // XATTR_NAME_MAX
inline constexpr size_t kXattrSizeMax = 65536;  // XATTR_SIZE_MAX
inline constexpr size_t kXattrListMax = 65536;  // XATTR_LIST_MAX

enum class XattrNamespace { kUser, kTrusted, kSecurity, kSystem, kOther };
XattrNamespace XattrNamespaceOf(std::string_view name);

class XattrMap {
 public:
  // ENODATA when absent.
  Result<std::string> Get(std::string_view name) const;
  // flags: XATTR_CREATE (EEXIST if present), XATTR_REPLACE (ENODATA if absent), or 0.
  Result<void> Set(std::string_view name, std::string_view value, int flags);
  // ENODATA when absent.
  Result<void> Remove(std::string_view name);
  // In name order, as Linux's red-black tree of simple_xattrs lists them.
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, std::string, std::less<>> attrs_;
};

}  // namespace sentry::vfs
