// fsnotify's dispatch and the inotify instance on it, without a sandbox: marks on plain test
// inodes, events reported through a dentry tree, inode removal and unmount, and the instance's
// queue rules (merging, overflow, oneshot, IN_IGNORED).
#include "sentry/vfs/fsnotify.h"

#include <sys/inotify.h>

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sentry/fsimpl/inotify/inotify.h"
#include "sentry/vfs/dentry.h"

namespace sentry::vfs {
namespace {

int fs_tag;

class TestInode : public Inode {
 public:
  explicit TestInode(mode_t type) : Inode(type) {}
  Result<struct stat> Stat() override {
    struct stat st {};
    st.st_mode = type() | 0644;
    st.st_nlink = nlink;
    st.st_ino = reinterpret_cast<uintptr_t>(this);
    return st;
  }
  Result<std::shared_ptr<FileDescription>> Open(const VirtualDentry&, int) override {
    return Err(EINVAL);
  }
  const void* FilesystemId() const override { return &fs_tag; }
  nlink_t nlink = 1;
};

struct Seen {
  uint32_t mask;
  std::string name;
  bool unlinked;
};

class RecordingMark : public fsnotify::Mark {
 public:
  explicit RecordingMark(uint32_t mask) : Mark(mask) {}
  void Handle(uint32_t mask, std::string_view name, uint32_t, bool unlinked) override {
    seen.push_back({mask, std::string(name), unlinked});
  }
  void Detached() override { detached = true; }
  std::vector<Seen> seen;
  bool detached = false;
};

TEST(Fsnotify, ActiveOnlyWhileMarked) {
  auto inode = std::make_shared<TestInode>(S_IFREG);
  EXPECT_FALSE(fsnotify::Active());
  auto mark = std::make_shared<RecordingMark>(fsnotify::kModify);
  fsnotify::AddMark(inode, mark);
  EXPECT_TRUE(fsnotify::Active());
  EXPECT_TRUE(fsnotify::RemoveMark(*inode, *mark));
  EXPECT_FALSE(fsnotify::RemoveMark(*inode, *mark));
  EXPECT_FALSE(fsnotify::Active());
}

TEST(Fsnotify, ChildEventsReachTheParentWithTheName) {
  auto dir_inode = std::make_shared<TestInode>(S_IFDIR);
  auto root = Dentry::NewRoot(dir_inode);
  auto file_inode = std::make_shared<TestInode>(S_IFREG);
  root->AddChild("f", file_inode);
  auto child = *root->Child("f");
  auto dir_mark = std::make_shared<RecordingMark>(fsnotify::kModify | fsnotify::kCreate);
  auto file_mark = std::make_shared<RecordingMark>(fsnotify::kModify | fsnotify::kAttrib);
  fsnotify::AddMark(dir_inode, dir_mark);
  fsnotify::AddMark(file_inode, file_mark);
  fsnotify::NotifyDentry(*child, fsnotify::kModify);
  fsnotify::NotifyDentry(*child, fsnotify::kAccess);  // nobody asked
  fsnotify::NotifyChild(*dir_inode, fsnotify::kCreate, "g", true);
  fsnotify::NotifyInode(*file_inode, fsnotify::kAttrib);
  ASSERT_EQ(dir_mark->seen.size(), 2u);
  EXPECT_EQ(dir_mark->seen[0].mask, fsnotify::kModify);
  EXPECT_EQ(dir_mark->seen[0].name, "f");
  EXPECT_EQ(dir_mark->seen[1].mask, fsnotify::kCreate | fsnotify::kIsDir);
  EXPECT_EQ(dir_mark->seen[1].name, "g");
  ASSERT_EQ(file_mark->seen.size(), 2u);
  EXPECT_EQ(file_mark->seen[0].name, "");
  EXPECT_EQ(file_mark->seen[1].mask, fsnotify::kAttrib);
  // A mask change takes effect at once.
  fsnotify::SetMask(*file_inode, *file_mark, fsnotify::kAccess);
  fsnotify::NotifyDentry(*child, fsnotify::kAccess);
  EXPECT_EQ(file_mark->seen.size(), 3u);
  root->DropChild("f");
  fsnotify::NotifyDentry(*child, fsnotify::kModify);
  ASSERT_EQ(dir_mark->seen.size(), 3u);
  EXPECT_TRUE(dir_mark->seen[2].unlinked);
  fsnotify::RemoveMark(*dir_inode, *dir_mark);
  fsnotify::RemoveMark(*file_inode, *file_mark);
  EXPECT_FALSE(fsnotify::Active());
}

TEST(Fsnotify, DeletionAndUnmountDetach) {
  auto a = std::make_shared<TestInode>(S_IFREG);
  auto b = std::make_shared<TestInode>(S_IFREG);
  auto ma = std::make_shared<RecordingMark>(fsnotify::kDeleteSelf);
  auto mb = std::make_shared<RecordingMark>(fsnotify::kUnmount);
  fsnotify::AddMark(a, ma);
  fsnotify::AddMark(b, mb);
  a->nlink = 2;
  EXPECT_FALSE(fsnotify::MarkedLastLink(*a));
  a->nlink = 1;
  EXPECT_TRUE(fsnotify::MarkedLastLink(*a));
  EXPECT_TRUE(ma->seen.empty());
  fsnotify::Deleted(*a);
  ASSERT_EQ(ma->seen.size(), 1u);
  EXPECT_EQ(ma->seen[0].mask, fsnotify::kDeleteSelf);
  EXPECT_TRUE(ma->detached);
  fsnotify::Unmounted(&fs_tag);
  ASSERT_EQ(mb->seen.size(), 1u);
  EXPECT_EQ(mb->seen[0].mask, fsnotify::kUnmount);
  EXPECT_TRUE(mb->detached);
  EXPECT_FALSE(fsnotify::Active());
}

// The events an instance hands out, decoded.
std::vector<std::pair<int, uint32_t>> TakeAll(fsimpl::inotify::Instance& in) {
  std::vector<std::pair<int, uint32_t>> out;
  auto bytes = in.Take(1 << 24);
  if (!bytes) return out;
  for (size_t at = 0; at < bytes->size();) {
    inotify_event ev;
    std::memcpy(&ev, bytes->data() + at, sizeof(ev));
    out.emplace_back(ev.wd, ev.mask);
    at += sizeof(ev) + ev.len;
  }
  return out;
}

TEST(Inotify, QueueRules) {
  auto inode = std::make_shared<TestInode>(S_IFREG);
  auto in = std::make_shared<fsimpl::inotify::Instance>(12345);
  int wd = *in->AddWatch(inode, IN_MODIFY | IN_ACCESS);
  EXPECT_EQ(in->Take(1 << 20).error().value, EAGAIN);
  fsnotify::NotifyInode(*inode, fsnotify::kModify);
  fsnotify::NotifyInode(*inode, fsnotify::kModify);
  fsnotify::NotifyInode(*inode, fsnotify::kAccess);
  EXPECT_EQ(in->QueuedBytes(), 2 * sizeof(inotify_event));
  EXPECT_EQ(in->Take(sizeof(inotify_event) - 1).error().value, EINVAL);
  auto got = TakeAll(*in);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], std::make_pair(wd, uint32_t{IN_MODIFY}));
  EXPECT_EQ(got[1], std::make_pair(wd, uint32_t{IN_ACCESS}));
  // Full: one overflow event, queued once however much more is lost.
  for (int i = 0; i < fsimpl::inotify::kMaxQueuedEvents + 10; ++i) {
    fsnotify::NotifyInode(*inode, i % 2 ? fsnotify::kModify : fsnotify::kAccess);
  }
  got = TakeAll(*in);
  ASSERT_EQ(got.size(), static_cast<size_t>(fsimpl::inotify::kMaxQueuedEvents) + 1);
  EXPECT_EQ(got.back(), std::make_pair(-1, uint32_t{IN_Q_OVERFLOW}));
  // Oneshot: the event, then IN_IGNORED, then nothing.
  EXPECT_EQ(*in->AddWatch(inode, IN_MODIFY | IN_ONESHOT), wd);
  fsnotify::NotifyInode(*inode, fsnotify::kModify);
  fsnotify::NotifyInode(*inode, fsnotify::kModify);
  got = TakeAll(*in);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1], std::make_pair(wd, uint32_t{IN_IGNORED}));
  EXPECT_EQ(in->RemoveWatch(wd).error().value, EINVAL);
  EXPECT_FALSE(fsnotify::Active());
  // Closing an instance with watches leaves no marks behind.
  EXPECT_GT(*in->AddWatch(inode, IN_MODIFY), wd);
  in.reset();
  EXPECT_FALSE(fsnotify::Active());
}

}  // namespace
}  // namespace sentry::vfs
