// The fixture of the gofer server tests: a served tree next to an "outside" directory that no
// request may reach, and a gofer child serving it, run once pivoted into the root and once from
// an O_PATH fd of it (the fallback when the gofer may not pivot).
#pragma once

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/gofer/gofer_test_util.h"

namespace gofer::testing {

class GoferServerTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    served_ = tmp_ / "served";
    outside_ = tmp_ / "outside";
    ASSERT_EQ(::mkdir(served_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir(outside_.c_str(), 0755), 0);
    WriteHostFile(outside_ + "/secret", "secret\n");
    ASSERT_EQ(::mkdir((served_ + "/a").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((served_ + "/a/b").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((served_ + "/a/b/d").c_str(), 0755), 0);
    WriteHostFile(served_ + "/a/b/c", "hello\n");
    ASSERT_EQ(::symlink("/", (served_ + "/link_root").c_str()), 0);
    ASSERT_EQ(::symlink("../../", (served_ + "/link_up").c_str()), 0);
    ASSERT_EQ(::symlink((outside_ + "/secret").c_str(), (served_ + "/link_out").c_str()), 0);
    ASSERT_EQ(::symlink("chain2", (served_ + "/chain1").c_str()), 0);
    ASSERT_EQ(::symlink("../outside", (served_ + "/chain2").c_str()), 0);
    ASSERT_EQ(::mkfifo((served_ + "/fifo").c_str(), 0644), 0);
    if (::geteuid() == 0) {
      ASSERT_EQ(::mknod((served_ + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
    }
    Start(false);
  }

  void TearDown() override { Stop(); }

  void Start(bool read_only, std::vector<GoferMount> mounts = {}) {
    GoferConfig config;
    config.root = served_;
    config.read_only = read_only;
    config.mounts = std::move(mounts);
    config.pivot = GetParam();
    gofer_ = std::make_unique<GoferChild>(config);
    auto attached = ch().Call(AttachRequest{0});
    ASSERT_TRUE(attached.has_value()) << attached.error().value;
    root_ = attached->fid;
    ASSERT_TRUE(S_ISDIR(attached->stat.mode));
  }

  // Stops the gofer; it must exit 0 when the channel closes (a seccomp kill would show here).
  void Stop() {
    if (gofer_ == nullptr) return;
    int status = gofer_->Stop();
    gofer_.reset();
    EXPECT_TRUE(WIFEXITED(status)) << "wait status " << status;
    if (WIFEXITED(status)) {
      EXPECT_EQ(WEXITSTATUS(status), 0);
    }
  }

  Channel& ch() { return gofer_->channel(); }

  // A fid for a path that must exist (kNoFid and a failure otherwise).
  Fid MustWalk(std::vector<std::string> names, Fid from = kNoFid) {
    size_t n = names.size();
    auto r = Walk(ch(), from == kNoFid ? root_ : from, std::move(names));
    if (!r) {
      ADD_FAILURE() << "walk: errno " << r.error().value;
      return kNoFid;
    }
    if (r->status != kWalkComplete || r->entries.size() != std::max<size_t>(n, 1)) {
      ADD_FAILURE() << "walk stopped with status " << r->status;
      return kNoFid;
    }
    return r->entries.back().fid;
  }

  TempDir tmp_;
  std::string served_, outside_;
  std::unique_ptr<GoferChild> gofer_;
  Fid root_ = kNoFid;
};

inline std::string ConfinementName(const ::testing::TestParamInfo<bool>& info) {
  return info.param ? "Pivot" : "RootFd";
}

}  // namespace gofer::testing
