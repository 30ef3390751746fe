// File leases (sentry/vfs/lease.h) on tmpfs files opened through the VFS, outside any task:
// the open counts they rest on, conflicts, breaks from other threads, and descriptions that
// take their lease with them. Also the /proc/sys integer parser the lease sysctls use.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "sentry/fsimpl/proc/sysctl_int.h"
#include "sentry/vfs/lease.h"
#include "tests/fsimpl/vfs_harness.h"

namespace sentry::fsimpl {
namespace {

using testing::ErrnoOf;
using testing::VfsHarness;

class LeaseUnitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto f = vfs_.Open("f", O_CREAT | O_RDWR);
    ASSERT_TRUE(f.has_value());
  }

  std::shared_ptr<vfs::FileDescription> OpenOk(int flags) {
    auto f = vfs_.Open("f", flags);
    EXPECT_TRUE(f.has_value()) << "errno " << ErrnoOf(f);
    return f.value_or(nullptr);
  }
  vfs::OpenCounts& Counts(vfs::FileDescription& f) { return f.path().inode().open_counts(); }

  // F_SETLEASE with a sender that counts the signals it is asked to send.
  Result<void> Set(vfs::FileDescription& f, int type) {
    return vfs::LeaseTable::Get().Set(
        f, type, 7,
        [this](const vfs::FileOwner&, int, int fd, int reason) {
          EXPECT_EQ(fd, 7);
          EXPECT_EQ(reason, POLL_MSG);
          signals_.fetch_add(1);
        },
        vfs::FileOwner{.type = F_OWNER_PID, .pid = 1, .uid = 0, .euid = 0});
  }
  int Type(vfs::FileDescription& f) { return vfs::LeaseTable::Get().Type(f); }

  std::unique_ptr<mm::MemoryFile> memory_ = testing::TestMemoryFile();
  std::shared_ptr<tmpfs::Filesystem> fs_ = tmpfs::Filesystem::Create(*memory_, 01777, 0, 0);
  VfsHarness vfs_{fs_->root()};
  std::atomic<int> signals_{0};
};

TEST_F(LeaseUnitTest, DescriptionsCountThemselvesByAccessMode) {
  auto rd = OpenOk(O_RDONLY);
  vfs::OpenCounts& counts = Counts(*rd);
  EXPECT_EQ(counts.readers.load(), 1);
  EXPECT_EQ(counts.writers.load(), 0);
  {
    auto wr = OpenOk(O_WRONLY);
    auto rw = OpenOk(O_RDWR);
    auto path = OpenOk(O_PATH);
    EXPECT_EQ(counts.readers.load(), 1);
    EXPECT_EQ(counts.writers.load(), 2);
  }
  EXPECT_EQ(counts.writers.load(), 0);
  rd.reset();
  EXPECT_EQ(counts.readers.load(), 0);
}

TEST_F(LeaseUnitTest, ConflictsAtSettingTime) {
  auto rd = OpenOk(O_RDONLY);
  EXPECT_EQ(ErrnoOf(Set(*rd, F_UNLCK)), EAGAIN);
  ASSERT_TRUE(Set(*rd, F_WRLCK));
  EXPECT_EQ(Type(*rd), F_WRLCK);
  EXPECT_EQ(rd->status_flags() & O_ASYNC, O_ASYNC);
  EXPECT_EQ(rd->async().owner().pid, 1);
  ASSERT_TRUE(Set(*rd, F_RDLCK));
  auto rd2 = OpenOk(O_RDONLY | O_NONBLOCK);  // a reader does not break a read lease
  ASSERT_TRUE(rd2);
  EXPECT_EQ(ErrnoOf(Set(*rd, F_WRLCK)), EAGAIN);
  ASSERT_TRUE(Set(*rd2, F_RDLCK));
  EXPECT_EQ(Counts(*rd).leases.load(), 2);
  ASSERT_TRUE(Set(*rd, F_UNLCK));
  EXPECT_EQ(rd->status_flags() & O_ASYNC, 0);
  EXPECT_EQ(rd->async().owner().pid, 0);
  // The last reference takes the lease with it.
  vfs::OpenCounts& counts = Counts(*rd);
  rd2.reset();
  EXPECT_EQ(counts.leases.load(), 0);
  EXPECT_EQ(signals_.load(), 0);
}

TEST_F(LeaseUnitTest, NonBlockingBreakSignalsOnceAndFails) {
  auto rd = OpenOk(O_RDONLY);
  ASSERT_TRUE(Set(*rd, F_RDLCK));
  auto wr = vfs_.Open("f", O_WRONLY);
  ASSERT_TRUE(wr.has_value());
  vfs::Inode& inode = rd->path().inode();
  EXPECT_EQ(ErrnoOf(vfs::BreakLease(inode, true, true)), EWOULDBLOCK);
  EXPECT_EQ(ErrnoOf(vfs::BreakLease(inode, true, true)), EWOULDBLOCK);
  EXPECT_EQ(signals_.load(), 1);
  EXPECT_EQ(Type(*rd), F_UNLCK);
  // Readers are no conflict for a read lease.
  EXPECT_TRUE(vfs::BreakLease(inode, false, true));
}

TEST_F(LeaseUnitTest, BlockedBreakEndsWhenTheHolderDowngrades) {
  auto rd = OpenOk(O_RDONLY);
  ASSERT_TRUE(Set(*rd, F_WRLCK));
  vfs::Inode& inode = rd->path().inode();
  std::atomic<bool> done{false};
  std::thread opener([&] {
    EXPECT_TRUE(vfs::BreakLease(inode, false, false));
    done = true;
  });
  while (signals_.load() == 0) std::this_thread::yield();
  EXPECT_EQ(Type(*rd), F_RDLCK);
  ASSERT_TRUE(Set(*rd, F_RDLCK));
  opener.join();
  EXPECT_TRUE(done);
  EXPECT_EQ(Type(*rd), F_RDLCK);
}

TEST_F(LeaseUnitTest, BreakTimesOut) {
  int old = vfs::LeaseBreakTime();
  vfs::SetLeaseBreakTime(1);
  auto rd = OpenOk(O_RDONLY);
  ASSERT_TRUE(Set(*rd, F_RDLCK));
  EXPECT_TRUE(vfs::BreakLease(rd->path().inode(), true, false));
  EXPECT_EQ(Type(*rd), F_UNLCK);
  EXPECT_EQ(Counts(*rd).leases.load(), 0);
  vfs::SetLeaseBreakTime(old);
}

TEST_F(LeaseUnitTest, LeasesEnableStopsNewLeasesOnly) {
  auto rd = OpenOk(O_RDONLY);
  ASSERT_TRUE(Set(*rd, F_RDLCK));
  vfs::SetLeasesEnable(0);
  auto rd2 = OpenOk(O_RDONLY);
  EXPECT_EQ(ErrnoOf(Set(*rd2, F_RDLCK)), EINVAL);
  EXPECT_TRUE(Set(*rd, F_RDLCK));
  vfs::SetLeasesEnable(1);
}

TEST(SysctlIntTest, ParsesAsProcDointvec) {
  auto parse = [](std::string_view s) -> std::pair<int, int> {
    auto r = proc::ParseSysctlInt(s);
    if (!r) return {-999, -r.error().value};
    return {r->value, static_cast<int>(r->consumed)};
  };
  EXPECT_EQ(parse("45\n"), std::make_pair(45, 3));
  EXPECT_EQ(parse("  -3\t"), std::make_pair(-3, 5));
  EXPECT_EQ(parse("0x1f"), std::make_pair(31, 4));
  EXPECT_EQ(parse("010"), std::make_pair(8, 3));
  EXPECT_EQ(parse("1 2"), std::make_pair(1, 2));
  EXPECT_EQ(parse("2147483647"), std::make_pair(2147483647, 10));
  EXPECT_EQ(parse("-2147483648"), std::make_pair(INT_MIN, 11));
  for (std::string_view bad : {"", " \n", "-", "abc", "5x", "09", "0x", "2147483648", "-2147483649",
                               "99999999999999999999999", "+1"}) {
    EXPECT_EQ(parse(bad).second, -EINVAL) << bad;
  }
}

}  // namespace
}  // namespace sentry::fsimpl
