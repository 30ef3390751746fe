#include "runsc/oci_spec.h"

#include <fstream>
#include <sstream>

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
