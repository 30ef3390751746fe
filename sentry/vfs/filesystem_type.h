// File system types by name, for mount(2): each type makes the root of an instance from the
// source and options mount(2) was given. runsc registers the types the sandbox has at boot,
// before any task runs; the registry is read-only afterwards.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sentry/base/errno.h"
#include "sentry/vfs/inode.h"

namespace sentry::vfs {

// One option of mount(2)'s data text: "size=1m" is {"size", "1m", true}, "inode64" is
// {"inode64", "", false}.
struct MountOption {
  std::string key;
  std::string value;
  bool has_value = false;
};

// The options of mount(2)'s data text ("a,b=c"), empty ones skipped, in order.
std::vector<MountOption> SplitMountOptions(std::string_view data);

struct MountArgs {
  std::string source;                // mount(2)'s source ("none" when it had none)
  std::vector<MountOption> options;  // the file system's own (not ro, rw, sync...)
  FsCredentials creds;               // the caller's
};

struct FilesystemType {
  std::string name;
  // The root of a new instance, or of the one instance a type shares (sysfs); EINVAL for an
  // option the type does not take.
  std::function<Result<std::shared_ptr<Inode>>(const MountArgs&)> mount;
  // MS_REMOUNT: applies `options` to the instance `root` belongs to. Null: the type takes no
  // options (any is EINVAL).
  std::function<Result<void>(Inode& root, const std::vector<MountOption>& options)> remount;
};

class FilesystemRegistry {
 public:
  void Register(FilesystemType type) {
    std::string name = type.name;
    types_.insert_or_assign(std::move(name), std::move(type));
  }
  // Null for a name nobody registered (mount(2): ENODEV).
  const FilesystemType* Find(std::string_view name) const {
    auto it = types_.find(name);
    return it == types_.end() ? nullptr : &it->second;
  }

 private:
  std::map<std::string, FilesystemType, std::less<>> types_;
};

}  // namespace sentry::vfs
