// runsc's reading of the host's mountinfo, which names a --volume's file system in the
// sandbox's /proc/mounts.
#include "runsc/host_mounts.h"

#include <gtest/gtest.h>

namespace runsc {
namespace {

constexpr char kMountinfo[] =
    "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
    "23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
    "30 22 0:26 / /tmp rw,nosuid,nodev shared:5 - tmpfs tmpfs rw,size=1024k\n"
    "31 22 254:2 /exports/home /home rw,relatime shared:7 - xfs /dev/vdb rw\n"
    "32 22 254:3 / /mnt/my\\040disk rw,relatime - ext4 /dev/vdc rw\n"
    "33 30 0:27 / /tmp rw - tmpfs second rw\n"
    "garbage line\n";

TEST(HostMountsTest, LongestMountPointPrefixWins) {
  auto m = FindHostMount(kMountinfo, "/home/u/data");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->fs_type, "xfs");
  EXPECT_EQ(m->source, "/dev/vdb");
  EXPECT_EQ(m->root, "/exports/home/u/data");  // the mount's own root, then the rest

  m = FindHostMount(kMountinfo, "/srv/x");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->fs_type, "ext4");
  EXPECT_EQ(m->source, "/dev/vda1");
  EXPECT_EQ(m->root, "/srv/x");
}

TEST(HostMountsTest, WholeComponentsOnly) {
  // /homework is not under /home.
  auto m = FindHostMount(kMountinfo, "/homework");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->source, "/dev/vda1");
  // The mount point itself.
  m = FindHostMount(kMountinfo, "/home");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->root, "/exports/home");
}

TEST(HostMountsTest, TheLastMountOnAPointIsTheVisibleOne) {
  auto m = FindHostMount(kMountinfo, "/tmp/v");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->source, "second");
  EXPECT_EQ(m->root, "/v");
}

TEST(HostMountsTest, EscapedFieldsAreDecoded) {
  auto m = FindHostMount(kMountinfo, "/mnt/my disk/a");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->source, "/dev/vdc");
  EXPECT_EQ(m->root, "/a");
  EXPECT_EQ(EscapeMountField("a b\\c\td\n"), "a\\040b\\134c\\011d\\012");
  EXPECT_EQ(UnescapeMountField(EscapeMountField("a b\\c\td\n")), "a b\\c\td\n");
  EXPECT_EQ(UnescapeMountField("\\9x\\04"), "\\9x\\04");  // not octal escapes: kept
}

TEST(HostMountsTest, NothingCovers) {
  EXPECT_FALSE(FindHostMount("", "/a"));
  EXPECT_FALSE(FindHostMount("1 2 3:4 / /only rw - ext4 /dev/x rw\n", "/a"));
  EXPECT_FALSE(FindHostMount("1 2 3:4 / / rw ext4 /dev/x rw\n", "/a"));  // no "-"
}

TEST(HostMountsTest, OwnMountinfoCoversTheRoot) {
  auto m = FindHostMount("/");
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->fs_type.empty());
}

}  // namespace
}  // namespace runsc
