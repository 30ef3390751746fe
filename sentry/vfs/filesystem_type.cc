#include "sentry/vfs/filesystem_type.h"

namespace sentry::vfs {

std::vector<MountOption> SplitMountOptions(std::string_view data) {
  std::vector<MountOption> out;
  while (!data.empty()) {
    size_t comma = data.find(',');
    std::string_view item = data.substr(0, comma);
    data = comma == std::string_view::npos ? std::string_view() : data.substr(comma + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      out.push_back({std::string(item), "", false});
    } else {
      out.push_back({std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)), true});
    }
  }
  return out;
}

}  // namespace sentry::vfs
