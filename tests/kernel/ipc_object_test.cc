// kernel/ipc's object table and permission rules, without tasks.
#include "sentry/kernel/ipc/ipc_object.h"

#include <linux/capability.h>

#include <gtest/gtest.h>

namespace sentry::kernel::ipc {
namespace {

struct Obj {
  Perm perm;
};

Caller User(uint32_t uid, uint32_t gid, uint64_t caps = 0) {
  Caller c;
  c.euid = uid;
  c.egid = gid;
  c.caps = caps;
  return c;
}

auto NoCheck = [](Obj&) -> Result<void> { return {}; };
auto Make = []() -> Result<std::shared_ptr<Obj>> { return std::make_shared<Obj>(); };

TEST(IpcObjectTableTest, IdsCombineSequenceAndIndex) {
  ObjectTable<Obj> table(4);
  Caller root = User(0, 0);
  int a = *GetObject(table, IPC_PRIVATE, 0600, root, NoCheck, Make);
  int b = *GetObject(table, IPC_PRIVATE, 0600, root, NoCheck, Make);
  EXPECT_EQ(a % kSeqMultiplier, 0);
  EXPECT_EQ(b % kSeqMultiplier, 1);
  EXPECT_NE(a / kSeqMultiplier, b / kSeqMultiplier);
  std::shared_ptr<Obj> first = *table.Find(a);
  table.Remove(*first);
  // The index is reused with a new sequence number: the old id names nothing.
  int c = *GetObject(table, IPC_PRIVATE, 0600, root, NoCheck, Make);
  EXPECT_EQ(c % kSeqMultiplier, 0);
  EXPECT_NE(c, a);
  EXPECT_EQ(table.Find(a).error(), Errno(EINVAL));
  EXPECT_EQ(table.Find(-1).error(), Errno(EINVAL));
  EXPECT_EQ(table.MaxIndex(), 1);
}

TEST(IpcObjectTableTest, KeysAndLimits) {
  ObjectTable<Obj> table(2);
  Caller root = User(0, 0);
  EXPECT_EQ(GetObject(table, 7, 0600, root, NoCheck, Make).error(), Errno(ENOENT));
  int id = *GetObject(table, 7, IPC_CREAT | 0600, root, NoCheck, Make);
  EXPECT_EQ(*GetObject(table, 7, 0, root, NoCheck, Make), id);
  EXPECT_EQ(GetObject(table, 7, IPC_CREAT | IPC_EXCL, root, NoCheck, Make).error(), Errno(EEXIST));
  ASSERT_TRUE(GetObject(table, 8, IPC_CREAT | 0600, root, NoCheck, Make).has_value());
  EXPECT_EQ(GetObject(table, 9, IPC_CREAT | 0600, root, NoCheck, Make).error(), Errno(ENOSPC));
  // A forgotten key is free while the object lives on.
  table.ForgetKey(**table.Find(id));
  EXPECT_EQ(GetObject(table, 7, 0, root, NoCheck, Make).error(), Errno(ENOENT));
  EXPECT_TRUE(table.Find(id).has_value());
}

TEST(IpcPermTest, OwnerGroupOtherAndCapabilities) {
  Perm p;
  p.uid = p.cuid = 1000;
  p.gid = p.cgid = 100;
  p.mode = 0640;
  EXPECT_TRUE(MayAccess(p, User(1000, 1), 0600));
  EXPECT_TRUE(MayAccess(p, User(2000, 100), 0400));
  EXPECT_FALSE(MayAccess(p, User(2000, 100), 0200));
  EXPECT_FALSE(MayAccess(p, User(2000, 200), 0400));
  EXPECT_TRUE(MayAccess(p, User(2000, 200, uint64_t{1} << CAP_IPC_OWNER), 0600));
  // The creator keeps owner rights after the owner changes.
  p.uid = 3000;
  EXPECT_TRUE(MayAccess(p, User(1000, 1), 0600));
  EXPECT_TRUE(MayChange(p, User(1000, 1)));
  EXPECT_TRUE(MayChange(p, User(3000, 1)));
  EXPECT_FALSE(MayChange(p, User(2000, 100)));
  EXPECT_TRUE(MayChange(p, User(2000, 100, uint64_t{1} << CAP_SYS_ADMIN)));
}

}  // namespace
}  // namespace sentry::kernel::ipc
