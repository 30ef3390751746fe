#include "runsc/container_setup.h"

#include "nlohmann/json.hpp"
#include "sentry/control/protocol.h"

namespace runsc {

using nlohmann::json;

sentry::kernel::ProcessIdentity IdentityOf(const OciProcess& p) {
  sentry::kernel::ProcessIdentity id;
  id.uid = p.uid;
  id.gid = p.gid;
  id.groups = p.additional_gids;
  id.no_new_privs = p.no_new_privileges;
  id.umask = p.umask;
  for (const OciRlimit& r : p.rlimits) id.rlimits.push_back({r.resource, {r.soft, r.hard}});
  if (const auto& c = p.capabilities) {
    id.caps = sentry::kernel::ProcessIdentity::CapabilitySets{.bounding = c->bounding,
                                                              .effective = c->effective,
                                                              .permitted = c->permitted,
                                                              .inheritable = c->inheritable,
                                                              .ambient = c->ambient};
  }
  return id;
}

std::string EncodeContainerSetup(const ContainerSetup& setup) {
  json mounts = json::array();
  for (const auto& m : setup.mounts) {
    mounts.push_back({{"destination", m.destination},
                      {"type", m.type},
                      {"source", m.source},
                      {"options", m.options},
                      {"attach", m.attach},
                      {"host_fs", {m.host_fs_type, m.host_fs_source, m.host_fs_root}}});
  }
  json j = {{"mounts", mounts}, {"masked", setup.masked_paths}, {"readonly", setup.readonly_paths}};
  if (setup.identity) j["identity"] = sentry::control::EncodeIdentity(*setup.identity);
  return j.dump();
}

absl::StatusOr<ContainerSetup> DecodeContainerSetup(const std::string& text) {
  auto j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("--container: not a JSON object");
  }
  // runsc wrote it a moment ago: a type error here is a bug, reported rather than thrown.
  try {
    ContainerSetup setup;
    for (const auto& m : j.value("mounts", json::array())) {
      const auto& host_fs = m.at("host_fs");
      setup.mounts.push_back({.destination = m.at("destination").get<std::string>(),
                              .type = m.at("type").get<std::string>(),
                              .source = m.at("source").get<std::string>(),
                              .options = m.at("options").get<std::vector<std::string>>(),
                              .attach = m.at("attach").get<int>(),
                              .host_fs_type = host_fs.at(0).get<std::string>(),
                              .host_fs_source = host_fs.at(1).get<std::string>(),
                              .host_fs_root = host_fs.at(2).get<std::string>()});
    }
    setup.masked_paths = j.value("masked", std::vector<std::string>{});
    setup.readonly_paths = j.value("readonly", std::vector<std::string>{});
    if (j.contains("identity")) {
      auto id = sentry::control::DecodeIdentity(j["identity"]);
      if (!id.ok()) return id.status();
      setup.identity = std::move(*id);
    }
    return setup;
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(std::string("--container: ") + e.what());
  }
}

}  // namespace runsc
