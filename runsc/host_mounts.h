// What the host's mount table says about a path: which file system a --volume's directory is
// on, so that the sandbox's /proc/mounts and mountinfo show the volume as Linux shows a bind
// mount (the file system's type and source device, and the bound directory's path inside it).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace runsc {

struct HostMount {
  std::string fs_type;  // "ext4"
  std::string source;   // "/dev/vda1"
  std::string root;     // the path within that file system: mountinfo's field 4
};

// The mount `path` (absolute, with symlinks resolved) lies on, per `mountinfo` (the text of a
// /proc/PID/mountinfo): the last-listed mount whose mount point is the longest prefix of `path`,
// by whole components, with `path`'s remainder appended to that mount's root. Nullopt when no
// line parses or none covers `path`.
std::optional<HostMount> FindHostMount(std::string_view mountinfo, std::string_view path);

// The same, from the calling process's own /proc/self/mountinfo.
std::optional<HostMount> FindHostMount(std::string_view path);

// A field as the kernel escapes it in mount tables ("\040" for a space), and back. Used to
// pass fields through argv without ambiguity.
std::string EscapeMountField(std::string_view s);
std::string UnescapeMountField(std::string_view s);

}  // namespace runsc
