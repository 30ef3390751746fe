#include "runsc/host_mounts.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_format.h"

namespace runsc {
namespace {

// Whether `prefix` is `path` or a directory above it.
bool CoversPath(std::string_view prefix, std::string_view path) {
  if (prefix == "/") return true;
  if (!path.starts_with(prefix)) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

std::string JoinPath(std::string_view dir, std::string_view rest) {
  // `rest` is empty or starts with '/'.
  if (rest.empty()) return std::string(dir);
  if (dir == "/") return std::string(rest);
  return absl::StrFormat("%s%s", dir, rest);
}

std::vector<std::string_view> SplitSkippingEmpty(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    size_t at = s.find(sep);
    std::string_view part = s.substr(0, at);
    if (!part.empty()) out.push_back(part);
    if (at == std::string_view::npos) break;
    s.remove_prefix(at + 1);
  }
  return out;
}

}  // namespace

std::string EscapeMountField(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\\') {
      absl::StrAppendFormat(&out, "\\%03o", static_cast<unsigned char>(c));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string UnescapeMountField(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      std::string_view digits = s.substr(i + 1, 3);
      bool octal = true;
      for (char d : digits) octal = octal && d >= '0' && d <= '7';
      if (octal) {
        out.push_back(
            static_cast<char>((digits[0] - '0') * 64 + (digits[1] - '0') * 8 + (digits[2] - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::optional<HostMount> FindHostMount(std::string_view mountinfo, std::string_view path) {
  std::optional<HostMount> best;
  size_t best_len = 0;
  for (std::string_view line : SplitSkippingEmpty(mountinfo, '\n')) {
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPEROPTIONS
    std::vector<std::string_view> f = SplitSkippingEmpty(line, ' ');
    size_t dash = 0;
    for (size_t i = 6; i < f.size(); ++i) {
      if (f[i] == "-") {
        dash = i;
        break;
      }
    }
    if (f.size() < 7 || dash == 0 || dash + 2 >= f.size()) continue;
    std::string mount_point = UnescapeMountField(f[4]);
    if (!CoversPath(mount_point, path)) continue;
    // Equal lengths: a later mount on the same point hides the earlier one.
    if (best && mount_point.size() < best_len) continue;
    std::string_view rest = mount_point == "/" ? path : path.substr(mount_point.size());
    if (rest == "/") rest = {};
    best = HostMount{.fs_type = UnescapeMountField(f[dash + 1]),
                     .source = UnescapeMountField(f[dash + 2]),
                     .root = JoinPath(UnescapeMountField(f[3]), rest)};
    best_len = mount_point.size();
  }
  return best;
}

std::optional<HostMount> FindHostMount(std::string_view path) {
  std::ifstream in("/proc/self/mountinfo");
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return FindHostMount(text.str(), path);
}

}  // namespace runsc
