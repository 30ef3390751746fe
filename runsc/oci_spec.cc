#include "runsc/oci_spec.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace runsc {
namespace {

absl::Status FieldError(const std::string& field, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("config.json: ", field, ": ", what));
}

absl::StatusOr<std::vector<std::string>> StringArray(const nlohmann::json& j,
                                                     const std::string& field) {
  if (!j.is_array()) return FieldError(field, "must be an array of strings");
  std::vector<std::string> out;
  for (const auto& s : j) {
    if (!s.is_string()) return FieldError(field, "must be an array of strings");
    out.push_back(s.get<std::string>());
  }
  return out;
}

absl::StatusOr<uint32_t> Id(const nlohmann::json& j, const std::string& field) {
  if (!j.is_number_unsigned() || j.get<uint64_t>() > UINT32_MAX) {
    return FieldError(field, "must be an unsigned 32-bit number");
  }
  return j.get<uint32_t>();
}

absl::StatusOr<bool> Bool(const nlohmann::json& j, const std::string& field) {
  if (!j.is_boolean()) return FieldError(field, "must be a boolean");
  return j.get<bool>();
}

constexpr std::pair<std::string_view, int> kRlimitNames[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},           {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},         {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},   {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},     {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

// CAP_* names by number (linux/capability.h, up to CAP_LAST_CAP of Linux 6.1).
constexpr std::string_view kCapabilityNames[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

absl::StatusOr<uint64_t> CapabilitySet(const nlohmann::json& j, const std::string& field) {
  auto names = StringArray(j, field);
  if (!names.ok()) return names.status();
  uint64_t set = 0;
  for (const std::string& name : *names) {
    auto it = std::find(std::begin(kCapabilityNames), std::end(kCapabilityNames), name);
    if (it == std::end(kCapabilityNames)) {
      return FieldError(field, absl::StrCat("unknown capability \"", name, "\""));
    }
    set |= uint64_t{1} << (it - std::begin(kCapabilityNames));
  }
  return set;
}

absl::StatusOr<std::vector<OciRlimit>> Rlimits(const nlohmann::json& j, const std::string& field) {
  if (!j.is_array()) return FieldError(field, "must be an array");
  std::vector<OciRlimit> out;
  for (size_t i = 0; i < j.size(); ++i) {
    const auto& r = j[i];
    std::string where = absl::StrCat(field, "[", i, "]");
    if (!r.is_object() || !r.contains("type") || !r["type"].is_string()) {
      return FieldError(where + ".type", "must be a string");
    }
    std::string type = r["type"].get<std::string>();
    auto it = std::find_if(std::begin(kRlimitNames), std::end(kRlimitNames),
                           [&](const auto& n) { return n.first == type; });
    if (it == std::end(kRlimitNames)) {
      return FieldError(where + ".type", absl::StrCat("unknown resource \"", type, "\""));
    }
    OciRlimit limit{.resource = it->second};
    for (auto [key, slot] : {std::pair{"soft", &limit.soft}, std::pair{"hard", &limit.hard}}) {
      if (!r.contains(key) || !r[key].is_number_unsigned()) {
        return FieldError(absl::StrCat(where, ".", key), "must be an unsigned number");
      }
      *slot = r[key].get<uint64_t>();
    }
    if (limit.soft > limit.hard) {
      return FieldError(where, "soft limit is above the hard limit");
    }
    if (std::any_of(out.begin(), out.end(),
                    [&](const OciRlimit& o) { return o.resource == limit.resource; })) {
      return FieldError(where + ".type", absl::StrCat("duplicate resource \"", type, "\""));
    }
    out.push_back(limit);
  }
  return out;
}

absl::StatusOr<std::string> AbsolutePath(const nlohmann::json& j, const std::string& field) {
  if (!j.is_string() || j.get<std::string>().empty() || j.get<std::string>()[0] != '/') {
    return FieldError(field, "must be an absolute path");
  }
  return j.get<std::string>();
}

absl::StatusOr<std::vector<OciMount>> Mounts(const nlohmann::json& j, const std::string& bundle) {
  if (!j.is_array()) return FieldError("mounts", "must be an array");
  std::vector<OciMount> out;
  for (size_t i = 0; i < j.size(); ++i) {
    const auto& m = j[i];
    std::string where = absl::StrCat("mounts[", i, "]");
    if (!m.is_object()) return FieldError(where, "must be an object");
    OciMount mount;
    if (!m.contains("destination")) return FieldError(where + ".destination", "missing");
    auto dest = AbsolutePath(m["destination"], where + ".destination");
    if (!dest.ok()) return dest.status();
    mount.destination = *dest;
    if (m.contains("options")) {
      auto options = StringArray(m["options"], where + ".options");
      if (!options.ok()) return options.status();
      mount.options = std::move(*options);
    }
    if (m.contains("type")) {
      if (!m["type"].is_string()) return FieldError(where + ".type", "must be a string");
      mount.type = m["type"].get<std::string>();
    }
    if (m.contains("source")) {
      if (!m["source"].is_string()) return FieldError(where + ".source", "must be a string");
      mount.source = m["source"].get<std::string>();
    }
    bool bind = mount.type == "bind" ||
                std::any_of(mount.options.begin(), mount.options.end(),
                            [](const std::string& o) { return o == "bind" || o == "rbind"; });
    if (bind) {
      mount.type = "bind";
      if (mount.source.empty()) return FieldError(where + ".source", "a bind mount needs one");
      if (mount.source[0] != '/') mount.source = absl::StrCat(bundle, "/", mount.source);
      struct stat st;
      if (stat(mount.source.c_str(), &st) != 0) {
        return FieldError(where + ".source", absl::StrCat(mount.source, ": ", strerror(errno)));
      }
    } else if (mount.type.empty()) {
      return FieldError(where + ".type", "missing (and not a bind mount)");
    }
    out.push_back(std::move(mount));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> Paths(const nlohmann::json& j, const std::string& field) {
  auto paths = StringArray(j, field);
  if (!paths.ok()) return paths.status();
  for (const std::string& p : *paths) {
    if (p.empty() || p[0] != '/') {
      return FieldError(field, absl::StrCat("'", p, "' is not an absolute path"));
    }
  }
  return paths;
}

}  // namespace

absl::StatusOr<OciProcess> ParseProcess(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) return FieldError(where, "must be an object");
  OciProcess p;
  if (!j.contains("args")) return FieldError(where + ".args", "missing");
  auto args = StringArray(j["args"], where + ".args");
  if (!args.ok()) return args.status();
  if (args->empty() || (*args)[0].empty()) return FieldError(where + ".args", "must not be empty");
  p.args = std::move(*args);
  if (j.contains("env")) {
    auto env = StringArray(j["env"], where + ".env");
    if (!env.ok()) return env.status();
    for (const auto& e : *env) {
      if (e.find('=') == std::string::npos) {
        return FieldError(where + ".env", absl::StrCat("'", e, "' is not KEY=VALUE"));
      }
    }
    p.env = std::move(*env);
  }
  if (j.contains("cwd")) {
    if (!j["cwd"].is_string() || j["cwd"].get<std::string>().empty() ||
        j["cwd"].get<std::string>()[0] != '/') {
      return FieldError(where + ".cwd", "must be an absolute path");
    }
    p.cwd = j["cwd"].get<std::string>();
  }
  if (j.contains("terminal")) {
    if (!j["terminal"].is_boolean()) return FieldError(where + ".terminal", "must be a boolean");
    p.terminal = j["terminal"].get<bool>();
  }
  if (j.contains("user")) {
    const auto& u = j["user"];
    if (!u.is_object()) return FieldError(where + ".user", "must be an object");
    if (u.contains("uid")) {
      auto v = Id(u["uid"], where + ".user.uid");
      if (!v.ok()) return v.status();
      p.uid = *v;
    }
    if (u.contains("gid")) {
      auto v = Id(u["gid"], where + ".user.gid");
      if (!v.ok()) return v.status();
      p.gid = *v;
    }
    if (u.contains("additionalGids")) {
      if (!u["additionalGids"].is_array()) {
        return FieldError(where + ".user.additionalGids", "must be an array of numbers");
      }
      for (const auto& g : u["additionalGids"]) {
        auto v = Id(g, where + ".user.additionalGids");
        if (!v.ok()) return v.status();
        p.additional_gids.push_back(*v);
      }
    }
    if (u.contains("umask")) {
      auto v = Id(u["umask"], where + ".user.umask");
      if (!v.ok()) return v.status();
      if (*v > 0777) return FieldError(where + ".user.umask", "must be at most 0777");
      p.umask = *v;
    }
  }
  if (j.contains("rlimits")) {
    auto r = Rlimits(j["rlimits"], where + ".rlimits");
    if (!r.ok()) return r.status();
    p.rlimits = std::move(*r);
  }
  if (j.contains("capabilities")) {
    const auto& c = j["capabilities"];
    if (!c.is_object()) return FieldError(where + ".capabilities", "must be an object");
    OciCapabilities caps;
    for (auto [key, slot] :
         {std::pair{"bounding", &caps.bounding}, std::pair{"effective", &caps.effective},
          std::pair{"inheritable", &caps.inheritable}, std::pair{"permitted", &caps.permitted},
          std::pair{"ambient", &caps.ambient}}) {
      if (!c.contains(key)) continue;
      auto set = CapabilitySet(c[key], absl::StrCat(where, ".capabilities.", key));
      if (!set.ok()) return set.status();
      *slot = *set;
    }
    p.capabilities = caps;
  }
  if (j.contains("noNewPrivileges")) {
    auto v = Bool(j["noNewPrivileges"], where + ".noNewPrivileges");
    if (!v.ok()) return v.status();
    p.no_new_privileges = *v;
  }
  return p;
}

absl::StatusOr<OciSpec> LoadSpec(const std::string& bundle) {
  std::string path = absl::StrCat(bundle, "/config.json");
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  auto j = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(path, ": not valid JSON"));
  if (!j.is_object()) return absl::InvalidArgumentError(absl::StrCat(path, ": not a JSON object"));

  OciSpec spec;
  if (!j.contains("ociVersion") || !j["ociVersion"].is_string()) {
    return FieldError("ociVersion", "must be a string");
  }
  spec.oci_version = j["ociVersion"].get<std::string>();
  if (!j.contains("process")) return FieldError("process", "missing");
  auto process = ParseProcess(j["process"], "process");
  if (!process.ok()) return process.status();
  spec.process = std::move(*process);

  if (!j.contains("root") || !j["root"].is_object()) return FieldError("root", "must be an object");
  const auto& root = j["root"];
  if (!root.contains("path") || !root["path"].is_string() ||
      root["path"].get<std::string>().empty()) {
    return FieldError("root.path", "must be a non-empty string");
  }
  std::string rp = root["path"].get<std::string>();
  spec.root_path = rp[0] == '/' ? rp : absl::StrCat(bundle, "/", rp);
  if (root.contains("readonly")) {
    if (!root["readonly"].is_boolean()) return FieldError("root.readonly", "must be a boolean");
    spec.root_read_only = root["readonly"].get<bool>();
  }
  if (j.contains("hostname")) {
    if (!j["hostname"].is_string()) return FieldError("hostname", "must be a string");
    spec.hostname = j["hostname"].get<std::string>();
  }
  if (j.contains("mounts")) {
    auto mounts = Mounts(j["mounts"], bundle);
    if (!mounts.ok()) return mounts.status();
    spec.mounts = std::move(*mounts);
  }
  if (j.contains("linux") && j["linux"].is_object()) {
    const auto& linux_section = j["linux"];
    if (linux_section.contains("maskedPaths")) {
      auto p = Paths(linux_section["maskedPaths"], "linux.maskedPaths");
      if (!p.ok()) return p.status();
      spec.masked_paths = std::move(*p);
    }
    if (linux_section.contains("resources")) {
      auto r = ParseResources(linux_section["resources"]);
      if (!r.ok()) return r.status();
      spec.resources = *r;
    }
    if (linux_section.contains("readonlyPaths")) {
      auto p = Paths(linux_section["readonlyPaths"], "linux.readonlyPaths");
      if (!p.ok()) return p.status();
      spec.readonly_paths = std::move(*p);
    }
  }
  if (j.contains("hooks")) {
    auto hooks = ParseHooks(j["hooks"]);
    if (!hooks.ok()) return hooks.status();
    spec.hooks = std::move(*hooks);
  }
  if (j.contains("annotations")) {
    if (!j["annotations"].is_object()) return FieldError("annotations", "must be an object");
    for (const auto& [k, v] : j["annotations"].items()) {
      if (!v.is_string()) return FieldError("annotations." + k, "must be a string");
      spec.annotations[k] = v.get<std::string>();
    }
  }
  return spec;
}

nlohmann::json DefaultSpec() {
  using nlohmann::json;
  auto caps = json::array({"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"});
  return json{
      {"ociVersion", "1.0.2-dev"},
      {"process",
       {{"terminal", true},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", json::array({"sh"})},
        {"env", json::array({"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                             "TERM=xterm"})},
        {"cwd", "/"},
        {"capabilities",
         {{"bounding", caps}, {"effective", caps}, {"permitted", caps}, {"ambient", caps}}},
        {"rlimits", json::array({{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}})},
        {"noNewPrivileges", true}}},
      {"root", {{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", "runsc"},
      {"mounts",
       json::array(
           {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
            {{"destination", "/dev"},
             {"type", "tmpfs"},
             {"source", "tmpfs"},
             {"options", json::array({"nosuid", "strictatime", "mode=755", "size=65536k"})}},
            {{"destination", "/dev/pts"},
             {"type", "devpts"},
             {"source", "devpts"},
             {"options", json::array({"nosuid", "noexec", "newinstance", "ptmxmode=0666",
                                      "mode=0620", "gid=5"})}},
            {{"destination", "/dev/shm"},
             {"type", "tmpfs"},
             {"source", "shm"},
             {"options", json::array({"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"})}},
            {{"destination", "/dev/mqueue"},
             {"type", "mqueue"},
             {"source", "mqueue"},
             {"options", json::array({"nosuid", "noexec", "nodev"})}},
            {{"destination", "/sys"},
             {"type", "sysfs"},
             {"source", "sysfs"},
             {"options", json::array({"nosuid", "noexec", "nodev", "ro"})}},
            {{"destination", "/sys/fs/cgroup"},
             {"type", "cgroup"},
             {"source", "cgroup"},
             {"options", json::array({"nosuid", "noexec", "nodev", "relatime", "ro"})}}})},
      {"linux",
       {{"resources", {{"devices", json::array({{{"allow", false}, {"access", "rwm"}}})}}},
        {"namespaces", json::array({{{"type", "pid"}},
                                    {{"type", "network"}},
                                    {{"type", "ipc"}},
                                    {{"type", "uts"}},
                                    {{"type", "mount"}},
                                    {{"type", "cgroup"}}})},
        {"maskedPaths", json::array({"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                                     "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                                     "/proc/sched_debug", "/sys/firmware", "/proc/scsi"})},
        {"readonlyPaths", json::array({"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                       "/proc/sysrq-trigger"})}}}};
}

}  // namespace runsc
