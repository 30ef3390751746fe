// config.json parsing (every malformed field is an error naming it) and the state directory.
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "gtest/gtest.h"
#include "runsc/container_state.h"
#include "runsc/oci_spec.h"

namespace runsc {
namespace {

class OciSpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/runsc_oci_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const nlohmann::json& j) { std::ofstream(dir_ + "/config.json") << j.dump(); }
  // The error LoadSpec gives once `edit` has changed the default spec.
  std::string ErrorAfter(const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = DefaultSpec();
    edit(j);
    Write(j);
    auto spec = LoadSpec(dir_);
    return spec.ok() ? "" : std::string(spec.status().message());
  }
  std::string dir_;
};

TEST_F(OciSpecTest, DefaultSpecIsRuncLike) {
  Write(DefaultSpec());
  auto spec = LoadSpec(dir_);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->process.args, std::vector<std::string>{"sh"});
  EXPECT_TRUE(spec->process.terminal);
  EXPECT_EQ(spec->root_path, dir_ + "/rootfs");  // relative to the bundle
  EXPECT_TRUE(spec->root_read_only);
  EXPECT_EQ(spec->process.cwd, "/");
}

TEST_F(OciSpecTest, ReadsProcessAndRoot) {
  nlohmann::json j = DefaultSpec();
  j["process"]["args"] = {"sleep", "1"};
  j["process"]["user"] = {{"uid", 1000}, {"gid", 100}};
  j["process"]["cwd"] = "/tmp";
  j["root"] = {{"path", "/abs/root"}, {"readonly", false}};
  j["hostname"] = "box";
  j["annotations"] = {{"a", "b"}};
  j["somethingNew"] = 1;  // unknown fields are ignored
  Write(j);
  auto spec = LoadSpec(dir_);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->process.args, (std::vector<std::string>{"sleep", "1"}));
  EXPECT_EQ(spec->process.uid, 1000u);
  EXPECT_EQ(spec->process.gid, 100u);
  EXPECT_EQ(spec->process.cwd, "/tmp");
  EXPECT_EQ(spec->root_path, "/abs/root");
  EXPECT_FALSE(spec->root_read_only);
  EXPECT_EQ(spec->hostname, "box");
  EXPECT_EQ(spec->annotations.at("a"), "b");
}

TEST_F(OciSpecTest, MalformedFieldsAreNamed) {
  EXPECT_NE(ErrorAfter([](auto& j) { j["process"]["args"] = "sh"; }).find("process.args"),
            std::string::npos);
  EXPECT_NE(ErrorAfter([](auto& j) {
              j["process"]["args"] = nlohmann::json::array();
            }).find("process.args"),
            std::string::npos);
  EXPECT_NE(ErrorAfter([](auto& j) { j["process"]["env"] = {"NOEQUALS"}; }).find("process.env"),
            std::string::npos);
  EXPECT_NE(ErrorAfter([](auto& j) { j["process"]["cwd"] = "relative"; }).find("process.cwd"),
            std::string::npos);
  EXPECT_NE(ErrorAfter([](auto& j) { j["process"]["user"]["uid"] = -1; }).find("process.user.uid"),
            std::string::npos);
  EXPECT_NE(ErrorAfter([](auto& j) { j.erase("root"); }).find("root"), std::string::npos);
  EXPECT_NE(ErrorAfter([](auto& j) { j["root"]["readonly"] = "yes"; }).find("root.readonly"),
            std::string::npos);
  EXPECT_NE(ErrorAfter([](auto& j) { j["hostname"] = 3; }).find("hostname"), std::string::npos);
  EXPECT_NE(ErrorAfter([](auto& j) { j.erase("ociVersion"); }).find("ociVersion"),
            std::string::npos);
}

TEST_F(OciSpecTest, ReadsTheProcessIdentity) {
  nlohmann::json j = DefaultSpec();
  j["process"]["user"] = {{"uid", 5}, {"gid", 6}, {"additionalGids", {7, 8}}, {"umask", 18}};
  j["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 10}, {"hard", 20}},
                             {{"type", "RLIMIT_NPROC"}, {"soft", 1}, {"hard", 1}}};
  j["process"]["capabilities"] = {{"bounding", {"CAP_CHOWN", "CAP_KILL"}},
                                  {"effective", {"CAP_KILL"}}};
  j["process"]["noNewPrivileges"] = true;
  Write(j);
  auto spec = LoadSpec(dir_);
  ASSERT_TRUE(spec.ok()) << spec.status();
  const OciProcess& p = spec->process;
  EXPECT_EQ(p.additional_gids, (std::vector<uint32_t>{7, 8}));
  EXPECT_EQ(p.umask, 18u);
  ASSERT_EQ(p.rlimits.size(), 2u);
  EXPECT_EQ(p.rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(p.rlimits[0].soft, 10u);
  EXPECT_EQ(p.rlimits[0].hard, 20u);
  ASSERT_TRUE(p.capabilities.has_value());
  EXPECT_EQ(p.capabilities->bounding, (1u << 0) | (1u << 5));  // CAP_CHOWN, CAP_KILL
  EXPECT_EQ(p.capabilities->effective, 1u << 5);
  EXPECT_EQ(p.capabilities->permitted, 0u);
  EXPECT_TRUE(p.no_new_privileges);
}

TEST_F(OciSpecTest, ReadsMountsPathsHooksAndResources) {
  nlohmann::json j = DefaultSpec();
  j["mounts"].push_back({{"destination", "/data"},
                         {"type", "none"},
                         {"source", "."},  // relative to the bundle
                         {"options", {"rbind", "ro"}}});
  j["hooks"] = {{"poststop", {{{"path", "/bin/true"}, {"timeout", 3}}}}};
  j["linux"]["resources"] = {{"memory", {{"limit", 1048576}}}, {"pids", {{"limit", 9}}}};
  Write(j);
  auto spec = LoadSpec(dir_);
  ASSERT_TRUE(spec.ok()) << spec.status();
  const OciMount& bind = spec->mounts.back();
  EXPECT_EQ(bind.type, "bind");
  EXPECT_EQ(bind.source, dir_ + "/.");
  EXPECT_EQ(spec->mounts.front().type, "proc");
  EXPECT_FALSE(spec->masked_paths.empty());
  EXPECT_FALSE(spec->readonly_paths.empty());
  ASSERT_EQ(spec->hooks["poststop"].size(), 1u);
  EXPECT_EQ(spec->hooks["poststop"][0].timeout_seconds, 3);
  EXPECT_EQ(spec->resources.memory_limit, 1048576);
  EXPECT_EQ(spec->resources.pids_limit, 9);
}

TEST_F(OciSpecTest, MalformedLinuxFieldsAreNamed) {
  auto has = [&](const std::function<void(nlohmann::json&)>& edit, const std::string& field) {
    std::string error = ErrorAfter(edit);
    EXPECT_NE(error.find(field), std::string::npos) << "error: '" << error << "'";
  };
  has(
      [](auto& j) {
        j["process"]["rlimits"] = {{{"type", "RLIMIT_X"}, {"soft", 1}, {"hard", 1}}};
      },
      "process.rlimits[0].type");
  has(
      [](auto& j) {
        j["process"]["rlimits"] = {{{"type", "RLIMIT_AS"}, {"soft", 2}, {"hard", 1}}};
      },
      "process.rlimits[0]");
  has(
      [](auto& j) {
        j["process"]["capabilities"] = {{"bounding", {"CAP_NOPE"}}};
      },
      "process.capabilities.bounding");
  has(
      [](auto& j) {
        j["process"]["user"] = {{"uid", 0}, {"gid", 0}, {"umask", 01000}};
      },
      "process.user.umask");
  has(
      [](auto& j) {
        j["mounts"].push_back({{"destination", "rel"}, {"type", "tmpfs"}});
      },
      "destination");
  has([](auto& j) { j["mounts"].push_back({{"destination", "/x"}}); }, ".type");
  has(
      [](auto& j) {
        j["mounts"].push_back(
            {{"destination", "/x"}, {"type", "bind"}, {"source", "/nonexistent/source"}});
      },
      ".source");
  has([](auto& j) { j["linux"]["maskedPaths"] = {"relative"}; }, "linux.maskedPaths");
  has(
      [](auto& j) {
        j["hooks"] = {{"poststart", {{{"path", "relative"}}}}};
      },
      "hooks.poststart[0].path");
  has(
      [](auto& j) {
        j["hooks"] = {{"poststart", {{{"path", "/bin/true"}, {"timeout", 0}}}}};
      },
      "hooks.poststart[0].timeout");
  has(
      [](auto& j) {
        j["linux"]["resources"] = {{"cpu", {{"shares", 1}}}};
      },
      "linux.resources.cpu.shares");
  has(
      [](auto& j) {
        j["linux"]["resources"] = {{"pids", {{"limit", "many"}}}};
      },
      "linux.resources.pids.limit");
}

TEST_F(OciSpecTest, NotJson) {
  std::ofstream(dir_ + "/config.json") << "{not json";
  auto spec = LoadSpec(dir_);
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("not valid JSON"), std::string::npos);
}

TEST(ContainerStateTest, IdsNeverNameAnotherPath) {
  EXPECT_TRUE(ValidateId("abc-1.2_x+y").ok());
  for (const char* bad : {"", ".", "..", "a/b", "../x", "a b"}) {
    EXPECT_FALSE(ValidateId(bad).ok()) << bad;
  }
}

TEST(ContainerStateTest, HostProcessNoticesPidReuse) {
  HostProcess self = HostProcess::Of(getpid());
  EXPECT_TRUE(self.Alive());
  HostProcess recycled = self;
  recycled.start_time += 1;  // same pid, another process
  EXPECT_FALSE(recycled.Alive());
  EXPECT_FALSE(HostProcess{}.Alive());
}

TEST(ContainerStateTest, SaveAndLoad) {
  char tmpl[] = "/tmp/runsc_state_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string root = tmpl;
  std::filesystem::create_directory(root + "/c1");
  ContainerState s;
  s.id = "c1";
  s.bundle = "/b";
  s.rootfs = "/b/rootfs";
  s.created = NowRfc3339();
  s.sentry = HostProcess::Of(getpid());
  s.started = true;
  s.env = {"A=1"};
  ASSERT_TRUE(SaveState(root, s).ok());
  auto loaded = LoadState(root, "c1");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->Status(), "running");
  nlohmann::json oci = loaded->OciState();
  EXPECT_EQ(oci["id"], "c1");
  EXPECT_EQ(oci["bundle"], "/b");
  EXPECT_EQ(oci["pid"], getpid());
  EXPECT_EQ(ListIds(root), std::vector<std::string>{"c1"});
  EXPECT_FALSE(LoadState(root, "nope").ok());
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace runsc
