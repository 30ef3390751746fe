#include "runsc/cgroup.h"

#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace runsc {
namespace {

constexpr char kCgroupRoot[] = "/sys/fs/cgroup";

absl::Status FieldError(const std::string& field, const std::string& what) {
  return absl::InvalidArgumentError(
      absl::StrCat("config.json: linux.resources.", field, ": ", what));
}

absl::Status WriteFile(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  out << value;
  out.flush();
  if (!out) return absl::ErrnoToStatus(errno, absl::StrCat("writing ", value, " to ", path));
  return absl::OkStatus();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return std::string(absl::StripTrailingAsciiWhitespace(text.str()));
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// runsc's own cgroup in the hierarchy holding `controller` (v1), or the unified one ("").
std::string OwnPath(const std::string& controller) {
  std::ifstream in("/proc/self/cgroup");
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (f.size() != 3) continue;
    if (controller.empty()
            ? f[1].empty()
            : absl::StrContains(absl::StrCat(",", f[1], ","), absl::StrCat(",", controller, ","))) {
      return f[2] == "/" ? "" : f[2];
    }
  }
  return "";
}

template <class T>
absl::StatusOr<std::optional<T>> Number(const nlohmann::json& parent, const char* key,
                                        const std::string& field) {
  if (!parent.contains(key) || parent[key].is_null()) return std::optional<T>();
  const auto& v = parent[key];
  if (!v.is_number_integer()) return FieldError(field, "must be an integer");
  if constexpr (std::is_unsigned_v<T>) {
    if (!v.is_number_unsigned()) return FieldError(field, "must not be negative");
  }
  return std::optional<T>(v.get<T>());
}

std::string LimitText(int64_t v) { return v < 0 ? "max" : absl::StrCat(v); }

}  // namespace

absl::StatusOr<CgroupResources> ParseResources(const nlohmann::json& j) {
  CgroupResources r;
  if (!j.is_object()) return FieldError("", "must be an object");
  if (j.contains("memory")) {
    auto m = Number<int64_t>(j["memory"], "limit", "memory.limit");
    if (!m.ok()) return m.status();
    r.memory_limit = *m;
  }
  if (j.contains("cpu")) {
    const auto& c = j["cpu"];
    auto shares = Number<uint64_t>(c, "shares", "cpu.shares");
    if (!shares.ok()) return shares.status();
    r.cpu_shares = *shares;
    auto quota = Number<int64_t>(c, "quota", "cpu.quota");
    if (!quota.ok()) return quota.status();
    r.cpu_quota = *quota;
    auto period = Number<uint64_t>(c, "period", "cpu.period");
    if (!period.ok()) return period.status();
    r.cpu_period = *period;
    if (r.cpu_shares && (*r.cpu_shares < 2 || *r.cpu_shares > 262144) && *r.cpu_shares != 0) {
      return FieldError("cpu.shares", "must be within 2..262144");
    }
    if (r.cpu_period && *r.cpu_period != 0 && (*r.cpu_period < 1000 || *r.cpu_period > 1000000)) {
      return FieldError("cpu.period", "must be within 1000..1000000 µs");
    }
    if (r.cpu_quota && *r.cpu_quota > 0 && *r.cpu_quota < 1000) {
      return FieldError("cpu.quota", "must be at least 1000 µs (or -1)");
    }
  }
  if (j.contains("pids")) {
    auto p = Number<int64_t>(j["pids"], "limit", "pids.limit");
    if (!p.ok()) return p.status();
    r.pids_limit = *p;
  }
  if (r.memory_limit && *r.memory_limit == 0) r.memory_limit.reset();  // 0: not set
  if (r.pids_limit && *r.pids_limit == 0) r.pids_limit.reset();
  return r;
}

absl::StatusOr<Cgroup> Cgroup::Create(const std::string& id, const CgroupResources& res) {
  Cgroup cg;
  std::string name = absl::StrCat("runsc-", id);
  auto make = [&](const std::string& dir) -> absl::Status {
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::ErrnoToStatus(errno, absl::StrCat("making cgroup ", dir));
    }
    cg.dirs_.push_back(dir);
    return absl::OkStatus();
  };
  std::vector<std::pair<std::string, std::string>> writes;  // file, value; in order
  if (Exists(absl::StrCat(kCgroupRoot, "/cgroup.controllers"))) {
    cg.v2_ = true;
    std::string parent = absl::StrCat(kCgroupRoot, OwnPath(""));
    // Best effort: a parent that holds processes cannot hand out controllers (v2's rule), and
    // then only the limits it already has apply.
    (void)WriteFile(parent + "/cgroup.subtree_control", "+memory +cpu +pids");
    std::string dir = absl::StrCat(parent, "/", name);
    if (auto s = make(dir); !s.ok()) return s;
    cg.freezer_ = dir;
    if (res.memory_limit) writes.push_back({dir + "/memory.max", LimitText(*res.memory_limit)});
    if (res.cpu_shares && *res.cpu_shares != 0) {
      uint64_t weight = 1 + ((*res.cpu_shares - 2) * 9999) / 262142;  // runc's conversion
      writes.push_back({dir + "/cpu.weight", absl::StrCat(weight)});
    }
    if (res.cpu_quota || res.cpu_period) {
      uint64_t period = res.cpu_period.value_or(0) ? *res.cpu_period : 100000;
      writes.push_back(
          {dir + "/cpu.max", absl::StrCat(LimitText(res.cpu_quota.value_or(-1)), " ", period)});
    }
    if (res.pids_limit) writes.push_back({dir + "/pids.max", LimitText(*res.pids_limit)});
  } else {
    auto controller_dir = [&](const std::string& c) {
      return absl::StrCat(kCgroupRoot, "/", c, OwnPath(c), "/", name);
    };
    for (const char* c : {"freezer", "memory", "pids"}) {
      if (auto s = make(controller_dir(c)); !s.ok()) return s;
    }
    cg.freezer_ = controller_dir("freezer");
    std::string memory = controller_dir("memory"), pids = controller_dir("pids");
    if (res.memory_limit) {
      writes.push_back({memory + "/memory.limit_in_bytes", absl::StrCat(*res.memory_limit)});
    }
    if (res.pids_limit) writes.push_back({pids + "/pids.max", LimitText(*res.pids_limit)});
    if (res.cpu_shares.value_or(0) || res.cpu_quota || res.cpu_period) {
      std::string cpu = controller_dir("cpu");
      if (auto s = make(cpu); !s.ok()) return s;
      if (res.cpu_shares.value_or(0)) {
        writes.push_back({cpu + "/cpu.shares", absl::StrCat(*res.cpu_shares)});
      }
      if (res.cpu_period.value_or(0)) {
        writes.push_back({cpu + "/cpu.cfs_period_us", absl::StrCat(*res.cpu_period)});
      }
      if (res.cpu_quota)
        writes.push_back({cpu + "/cpu.cfs_quota_us", absl::StrCat(*res.cpu_quota)});
    }
  }
  for (const auto& [file, value] : writes) {
    if (auto s = WriteFile(file, value); !s.ok()) {
      cg.Destroy();
      return s;
    }
  }
  return cg;
}

Cgroup Cgroup::FromJson(const nlohmann::json& j) {
  Cgroup cg;
  if (!j.is_object()) return cg;
  cg.v2_ = j.value("v2", false);
  cg.dirs_ = j.value("dirs", std::vector<std::string>{});
  cg.freezer_ = j.value("freezer", std::string());
  return cg;
}

nlohmann::json Cgroup::ToJson() const {
  return {{"v2", v2_}, {"dirs", dirs_}, {"freezer", freezer_}};
}

absl::Status Cgroup::Join(pid_t pid) const {
  for (const std::string& dir : dirs_) {
    if (auto s = WriteFile(dir + "/cgroup.procs", absl::StrCat(pid)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Cgroup::Freeze() const {
  if (freezer_.empty()) return absl::FailedPreconditionError("the container has no cgroup");
  if (v2_) return WriteFile(freezer_ + "/cgroup.freeze", "1");
  if (auto s = WriteFile(freezer_ + "/freezer.state", "FROZEN"); !s.ok()) return s;
  // v1 passes through FREEZING; the command returns once every task is frozen.
  for (int i = 0; i < 500; ++i) {
    if (ReadFile(freezer_ + "/freezer.state") == "FROZEN") return absl::OkStatus();
    poll(nullptr, 0, 10);
  }
  (void)Thaw();
  return absl::DeadlineExceededError("the container's processes did not freeze");
}

absl::Status Cgroup::Thaw() const {
  if (freezer_.empty()) return absl::FailedPreconditionError("the container has no cgroup");
  if (v2_) return WriteFile(freezer_ + "/cgroup.freeze", "0");
  return WriteFile(freezer_ + "/freezer.state", "THAWED");
}

void Cgroup::Destroy() const {
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    // Emptied a moment ago: the kernel may still be tearing the last task down.
    for (int i = 0; i < 100 && rmdir(it->c_str()) != 0 && errno == EBUSY; ++i) {
      poll(nullptr, 0, 10);
    }
  }
}

nlohmann::json Cgroup::Stats() const {
  auto number = [](const std::string& path) -> uint64_t {
    uint64_t v = 0;
    (void)absl::SimpleAtoi(ReadFile(path), &v);
    return v;
  };
  nlohmann::json stats = nlohmann::json::object();
  for (const std::string& dir : dirs_) {
    if (v2_) {
      stats["memory"]["usage"]["usage"] = number(dir + "/memory.current");
      stats["pids"]["current"] = number(dir + "/pids.current");
      std::ifstream in(dir + "/cpu.stat");
      for (std::string key, value; in >> key >> value;) {
        uint64_t v = 0;
        if (key == "usage_usec" && absl::SimpleAtoi(value, &v)) {
          stats["cpu"]["usage"]["total"] = v * 1000;  // ns, as runc reports
        }
      }
    } else if (Exists(dir + "/memory.usage_in_bytes")) {
      stats["memory"]["usage"]["usage"] = number(dir + "/memory.usage_in_bytes");
      stats["memory"]["usage"]["limit"] = number(dir + "/memory.limit_in_bytes");
    } else if (Exists(dir + "/pids.current")) {
      stats["pids"]["current"] = number(dir + "/pids.current");
    }
  }
  return stats;
}

}  // namespace runsc
