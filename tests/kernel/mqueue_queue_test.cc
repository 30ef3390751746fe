// fsimpl/mqueue's Queue: ordering, readiness, notification, and the RLIMIT_MSGQUEUE charge.
#include <poll.h>

#include <cstring>

#include <gtest/gtest.h>

#include "sentry/fsimpl/mqueue/mqueue.h"

namespace sentry::fsimpl::mqueue {
namespace {

std::vector<uint8_t> Bytes(const char* s) { return std::vector<uint8_t>(s, s + strlen(s)); }

TEST(MqueueQueueTest, HighestPriorityFirstThenFifo) {
  Queue q(4, 8);
  ASSERT_TRUE(q.TrySend(Bytes("a"), 1, 1, 0).has_value());
  ASSERT_TRUE(q.TrySend(Bytes("b"), 2, 1, 0).has_value());
  ASSERT_TRUE(q.TrySend(Bytes("c"), 1, 1, 0).has_value());
  ASSERT_TRUE(q.TrySend(Bytes("d"), 2, 1, 0).has_value());
  EXPECT_EQ(q.TrySend(Bytes("e"), 0, 1, 0).error(), Errno(EAGAIN));
  EXPECT_EQ(q.Readiness(POLLIN | POLLOUT), static_cast<uint32_t>(POLLIN));
  for (const char* want : {"b", "d", "a", "c"}) {
    auto m = q.TryReceive();
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->data, Bytes(want));
  }
  EXPECT_EQ(q.TryReceive().error(), Errno(EAGAIN));
  EXPECT_EQ(q.Readiness(POLLIN | POLLOUT), static_cast<uint32_t>(POLLOUT));
}

TEST(MqueueQueueTest, NotificationFiresOnceIntoAnEmptyQueue) {
  Queue q(4, 8);
  int fired = 0;
  Notification n;
  n.notify = SIGEV_SIGNAL;
  n.signo = SIGUSR1;
  n.owner = 7;
  n.deliver = [&](const siginfo_t& info) {
    EXPECT_EQ(info.si_code, SI_MESGQ);
    EXPECT_EQ(info.si_pid, 9);
    ++fired;
  };
  ASSERT_TRUE(q.SetNotification(n).has_value());
  EXPECT_EQ(q.SetNotification(n).error(), Errno(EBUSY));
  EXPECT_NE(q.StatusText().find("NOTIFY_PID:7"), std::string::npos);
  ASSERT_TRUE(q.TrySend(Bytes("x"), 0, 9, 0).has_value());
  EXPECT_EQ(fired, 1);
  ASSERT_TRUE(q.SetNotification(n).has_value());
  ASSERT_TRUE(q.TrySend(Bytes("y"), 0, 9, 0).has_value());  // not empty: no notification
  EXPECT_EQ(fired, 1);
  q.ClearNotification(8);  // not the owner's
  EXPECT_EQ(q.SetNotification(n).error(), Errno(EBUSY));
  q.ClearNotification(7);
  // A sleeping receiver takes the message instead.
  ASSERT_TRUE(q.TryReceive().has_value());
  ASSERT_TRUE(q.TryReceive().has_value());
  ASSERT_TRUE(q.SetNotification(n).has_value());
  q.ReceiverWaiting(1);
  ASSERT_TRUE(q.TrySend(Bytes("z"), 0, 9, 0).has_value());
  EXPECT_EQ(fired, 1);
}

TEST(MqueueQueueTest, QueuesAreChargedToTheirOwner) {
  auto root = std::make_shared<RootInode>();
  vfs::FsCredentials user;
  user.uid = 1000;
  mq_attr attr{};
  attr.mq_maxmsg = 2;
  attr.mq_msgsize = 8;
  // 2 * (8 + 48) + 2 * 48 bytes each.
  ASSERT_TRUE(root->CreateQueue("a", 0600, user, &attr, false, 300).has_value());
  EXPECT_EQ(root->CreateQueue("b", 0600, user, &attr, false, 300).error(), Errno(EMFILE));
  ASSERT_TRUE(root->Unlink("a").has_value());  // nothing else holds it: uncharged
  EXPECT_TRUE(root->CreateQueue("b", 0600, user, &attr, false, 300).has_value());
  EXPECT_EQ(root->CreateQueue("b", 0600, user, &attr, false, 300).error(), Errno(EEXIST));
  attr.mq_maxmsg = 11;
  EXPECT_EQ(root->CreateQueue("c", 0600, user, &attr, false, 1 << 30).error(), Errno(EINVAL));
  EXPECT_TRUE(root->CreateQueue("c", 0600, user, &attr, true, 1 << 30).has_value());
  EXPECT_EQ(root->CreateQueue("a/b", 0600, user, nullptr, false, 1 << 30).error(), Errno(EACCES));
}

}  // namespace
}  // namespace sentry::fsimpl::mqueue
