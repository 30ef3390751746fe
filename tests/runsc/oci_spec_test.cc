// config.json parsing (every malformed field is an error naming it) and the state directory.
#include <stdlib.h>
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
