#include "runsc/container_state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace runsc {
namespace {

// Field 3 (state) and 22 (starttime) of /proc/PID/stat; the command name (field 2) may hold
// spaces and parentheses, so fields are counted from its last ')'.
bool ReadStat(pid_t pid, char* state, uint64_t* start_time) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!in || !std::getline(in, line)) return false;
  size_t paren = line.rfind(')');
  if (paren == std::string::npos) return false;
  std::vector<std::string> fields = absl::StrSplit(line.substr(paren + 2), ' ');
  if (fields.size() < 20 || fields[0].empty()) return false;
  *state = fields[0][0];
  *start_time = std::stoull(fields[19]);
  return true;
}

}  // namespace

HostProcess HostProcess::Of(pid_t pid) {
  HostProcess p{pid, 0};
  char state;
  ReadStat(pid, &state, &p.start_time);
  return p;
}

bool HostProcess::Alive() const {
  if (pid <= 0) return false;
  char state;
  uint64_t start;
  if (!ReadStat(pid, &state, &start)) return false;
  return start == start_time && state != 'Z' && state != 'X';
}

std::string ContainerState::Status() const {
  if (!sentry.Alive()) return "stopped";
  if (paused) return "paused";
  return started ? "running" : "created";
}

nlohmann::json ContainerState::OciState() const {
  std::string status = Status();
  return {{"ociVersion", "1.0.2"},     {"id", id},
          {"status", status},          {"pid", status == "stopped" ? 0 : sentry.pid},
          {"bundle", bundle},          {"rootfs", rootfs},
          {"created", created},        {"owner", owner},
          {"annotations", annotations}};
}

absl::Status ValidateId(const std::string& id) {
  if (id.empty() || id == "." || id == ".." ||
      id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.+-") !=
          std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("invalid container id '", id, "'"));
  }
  return absl::OkStatus();
}

std::string StateDir(const std::string& root, const std::string& id) {
  return absl::StrCat(root, "/", id);
}

absl::StatusOr<ContainerState> LoadState(const std::string& root, const std::string& id) {
  if (auto s = ValidateId(id); !s.ok()) return s;
  std::ifstream in(StateDir(root, id) + "/state.json");
  if (!in) return absl::NotFoundError(absl::StrCat("container ", id, " does not exist"));
  std::stringstream text;
  text << in.rdbuf();
  auto j = nlohmann::json::parse(text.str(), nullptr, false);
  if (!j.is_object())
    return absl::DataLossError(absl::StrCat("container ", id, ": bad state.json"));
  ContainerState s;
  try {
    s.id = j.at("id").get<std::string>();
    s.bundle = j.at("bundle").get<std::string>();
    s.rootfs = j.at("rootfs").get<std::string>();
    s.created = j.at("created").get<std::string>();
    s.owner = j.value("owner", std::string());
    s.annotations = j.value("annotations", std::map<std::string, std::string>{});
    s.sentry = {j.at("sentry_pid").get<pid_t>(), j.at("sentry_start").get<uint64_t>()};
    s.gofer = {j.at("gofer_pid").get<pid_t>(), j.at("gofer_start").get<uint64_t>()};
    s.started = j.at("started").get<bool>();
    s.env = j.value("env", std::vector<std::string>{});
    s.cwd = j.value("cwd", std::string("/"));
    s.identity = j.value("identity", nlohmann::json());
    s.hooks = j.value("hooks", nlohmann::json());
    s.paused = j.value("paused", false);
    s.cgroup = j.value("cgroup", nlohmann::json());
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat("container ", id, ": bad state.json: ", e.what()));
  }
  return s;
}

absl::Status SaveState(const std::string& root, const ContainerState& s) {
  nlohmann::json j = {{"id", s.id},
                      {"bundle", s.bundle},
                      {"rootfs", s.rootfs},
                      {"created", s.created},
                      {"owner", s.owner},
                      {"annotations", s.annotations},
                      {"sentry_pid", s.sentry.pid},
                      {"sentry_start", s.sentry.start_time},
                      {"gofer_pid", s.gofer.pid},
                      {"gofer_start", s.gofer.start_time},
                      {"started", s.started},
                      {"env", s.env},
                      {"cwd", s.cwd},
                      {"identity", s.identity},
                      {"hooks", s.hooks},
                      {"paused", s.paused},
                      {"cgroup", s.cgroup}};
  std::string dir = StateDir(root, s.id);
  std::string tmp = dir + "/state.json.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump() << "\n";
    if (!out) return absl::InternalError(absl::StrCat("writing ", tmp));
  }
  if (rename(tmp.c_str(), (dir + "/state.json").c_str()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("renaming ", tmp));
  }
  return absl::OkStatus();
}

std::vector<std::string> ListIds(const std::string& root) {
  std::vector<std::string> ids;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(root, ec)) {
    if (e.is_directory(ec) && std::filesystem::exists(e.path() / "state.json", ec)) {
      ids.push_back(e.path().filename());
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

absl::StatusOr<sentry::FileDescriptor> LockContainer(const std::string& root,
                                                     const std::string& id) {
  if (auto s = ValidateId(id); !s.ok()) return s;
  std::string path = StateDir(root, id) + "/lock";
  sentry::FileDescriptor fd(open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT)
      return absl::NotFoundError(absl::StrCat("container ", id, " does not exist"));
    return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  }
  while (flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return absl::ErrnoToStatus(errno, absl::StrCat("flock ", path));
  }
  return fd;
}

std::string NowRfc3339() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t;
  gmtime_r(&ts.tv_sec, &t);
  char buf[64];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &t);
  char out[96];
  snprintf(out, sizeof(out), "%s.%09ldZ", buf, ts.tv_nsec);
  return out;
}

}  // namespace runsc
