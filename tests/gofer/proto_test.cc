// The gofer protocol codec and Channel: round trips of every message, hostile input, and the
// transport's handling of fds and broken peers.
#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>

#include "gofer/proto/channel.h"
#include "gofer/proto/messages.h"
#include "gtest/gtest.h"
#include "tests/gofer/decode_entry.h"
#include "tests/gofer/sample_messages.h"

// Counts what is allocated while decoding hostile bytes: it must follow the input's size. The
// tests link the ASan libraries, whose allocator reports every allocation to a hook.
#ifdef __SANITIZE_ADDRESS__
// From <sanitizer/allocator_interface.h>, which Debian ships only with clang.
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*,
                                                                             size_t),
                                                         void (*free_hook)(const volatile void*));
#endif

namespace {
std::atomic<bool> g_tracking{false};
std::atomic<size_t> g_allocated{0};

#ifdef __SANITIZE_ADDRESS__
void OnMalloc(const volatile void*, size_t size) {
  if (g_tracking.load(std::memory_order_relaxed)) g_allocated += size;
}
void OnFree(const volatile void*) {}
const bool g_hooked = __sanitizer_install_malloc_and_free_hooks(OnMalloc, OnFree) != 0;
#else
const bool g_hooked = false;
#endif
size_t Allocated() { return g_hooked ? g_allocated.load() : 0; }
}  // namespace

namespace gofer {
namespace {

using testing::ForEachSample;
using testing::OpenDevNull;
using testing::PatchLength;
using testing::SampleMessages;
using testing::SampleStat;

template <class M>
constexpr bool kIsRequest = requires {
  typename M::Response;
};

std::vector<FileDescriptor> DupAll(const std::vector<int>& fds) {
  std::vector<FileDescriptor> out;
  for (int fd : fds) out.emplace_back(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  return out;
}

TEST(GoferProtoTest, EveryMessageRoundTrips) {
  int count = 0;
  ForEachSample([&]<class M>(const M& m) {
    SCOPED_TRACE(::testing::Message() << "type " << M::kType);
    ++count;
    OutMessage out = EncodeMessage(m, 42);
    auto header = DecodeHeader(out.bytes);
    ASSERT_TRUE(header.has_value());
    EXPECT_EQ(header->type, M::kType);
    EXPECT_EQ(header->length, out.bytes.size());
    EXPECT_EQ(header->tag, 42u);
    std::vector<FileDescriptor> fds = DupAll(out.fds);
    if constexpr (kIsRequest<M>) {
      auto request = DecodeRequest(*header, out.bytes, fds);
      ASSERT_TRUE(request.has_value());
      ASSERT_TRUE(std::holds_alternative<M>(*request));
      EXPECT_EQ(EncodeMessage(std::get<M>(*request), 42).bytes, out.bytes);
    } else if constexpr (std::is_same_v<M, ErrorResponse>) {
      auto reply = DecodeReply<StatResponse>(out.bytes, fds, 42);
      ASSERT_FALSE(reply.has_value());
      EXPECT_EQ(reply.error(), Errno(static_cast<int>(m.error)));
    } else {
      auto reply = DecodeReply<M>(out.bytes, fds, 42);
      ASSERT_TRUE(reply.has_value()) << reply.error().value;
      OutMessage again = EncodeMessage(*reply, 42);
      EXPECT_EQ(again.bytes, out.bytes);
      EXPECT_EQ(again.fds.size(), out.fds.size());
    }
  });
  EXPECT_EQ(count, 39);
}

TEST(GoferProtoTest, FieldsSurviveExactly) {
  WalkResponse walk{kWalkSymlink, {{1, SampleStat(1)}, {2, SampleStat(2)}}};
  OutMessage out = EncodeMessage(walk, 7);
  std::vector<FileDescriptor> none;
  auto back = DecodeReply<WalkResponse>(out.bytes, none, 7);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->status, kWalkSymlink);
  ASSERT_EQ(back->entries.size(), 2u);
  EXPECT_EQ(back->entries[1].fid, 2u);
  EXPECT_EQ(back->entries[1].stat, SampleStat(2));

  GetdentsResponse dents{{{1, 2, DT_LNK, "x"}}};
  out = EncodeMessage(dents, 8);
  auto d = DecodeReply<GetdentsResponse>(out.bytes, none, 8);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->entries, dents.entries);
}

TEST(GoferProtoTest, DonatedFdTravelsBesideTheBytes) {
  OpenResponse open{OpenDevNull()};
  OutMessage out = EncodeMessage(open, 1);
  ASSERT_EQ(out.fds.size(), 1u);
  EXPECT_EQ(out.fds[0], open.fd.get());

  std::vector<FileDescriptor> fds = DupAll(out.fds);
  auto back = DecodeReply<OpenResponse>(out.bytes, fds, 1);
  ASSERT_TRUE(back.has_value());
  struct stat a, b;
  ASSERT_EQ(::fstat(back->fd.get(), &a), 0);
  ASSERT_EQ(::fstat(open.fd.get(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);

  // The body says an fd is present, but none arrived: the peer broke the protocol.
  std::vector<FileDescriptor> none;
  EXPECT_EQ(DecodeReply<OpenResponse>(out.bytes, none, 1).error(), Errno(EIO));
  // A presence flag other than 0 or 1 is malformed.
  std::vector<uint8_t> bad = out.bytes;
  bad[kHeaderSize] = 2;
  fds = DupAll(out.fds);
  EXPECT_EQ(DecodeReply<OpenResponse>(bad, fds, 1).error(), Errno(EIO));
}

TEST(GoferProtoTest, EveryTruncationFails) {
  for (const auto& full : SampleMessages()) {
    for (size_t cut = 0; cut < full.size(); ++cut) {
      std::vector<uint8_t> part(full.begin(), full.begin() + cut);
      EXPECT_FALSE(DecodeHeader(part).has_value());
      if (cut < kHeaderSize) continue;
      // Even with a header that agrees with the short size, the body cannot decode.
      PatchLength(part);
      auto header = DecodeHeader(part);
      ASSERT_TRUE(header.has_value());
      std::vector<FileDescriptor> fds;
      if (header->type & kReplyBit) {
        // A bare reply body decoder: every reply type, none may accept it.
        if (header->type == kErrorType) {
          EXPECT_FALSE(DecodeBody<ErrorResponse>(part, fds).has_value());
        }
      } else {
        EXPECT_EQ(DecodeRequest(*header, part, fds).error(), Errno(EINVAL)) << cut;
      }
    }
  }
}

TEST(GoferProtoTest, TrailingGarbageFails) {
  for (auto bytes : SampleMessages()) {
    bytes.push_back(0);
    PatchLength(bytes);
    auto header = DecodeHeader(bytes);
    ASSERT_TRUE(header.has_value());
    std::vector<FileDescriptor> fds;
    if ((header->type & kReplyBit) == 0) {
      EXPECT_EQ(DecodeRequest(*header, bytes, fds).error(), Errno(EINVAL));
    }
  }
  auto reply = EncodeMessage(StatResponse{SampleStat(1)}, 3).bytes;
  reply.push_back(0);
  PatchLength(reply);
  std::vector<FileDescriptor> fds;
  EXPECT_EQ(DecodeReply<StatResponse>(reply, fds, 3).error(), Errno(EIO));
}

TEST(GoferProtoTest, OversizeLengthsAndCountsFailWithoutAllocating) {
  auto bytes = EncodeMessage(WalkRequest{1, 0, {"a"}}, 1).bytes;
  // Layout: header(16) fid(4) flags(4) count(4) len(4) "a".
  const size_t count_at = kHeaderSize + 8, len_at = count_at + 4;
  std::vector<FileDescriptor> fds;
  for (uint32_t bad : {0xffffffffu, 0x7fffffffu, 2u}) {
    auto copy = bytes;
    std::memcpy(copy.data() + len_at, &bad, 4);
    g_allocated = 0;
    g_tracking = true;
    auto r = DecodeRequest(*DecodeHeader(copy), copy, fds);
    g_tracking = false;
    EXPECT_EQ(r.error(), Errno(EINVAL));
    EXPECT_LT(Allocated(), 1024u);

    copy = bytes;
    std::memcpy(copy.data() + count_at, &bad, 4);
    g_allocated = 0;
    g_tracking = true;
    r = DecodeRequest(*DecodeHeader(copy), copy, fds);
    g_tracking = false;
    EXPECT_EQ(r.error(), Errno(EINVAL));
    EXPECT_LT(Allocated(), 1024u);
  }
}

TEST(GoferProtoTest, HeaderChecks) {
  auto bytes = EncodeMessage(StatRequest{1}, 9).bytes;
  std::vector<FileDescriptor> fds;
  // Length field disagreeing with the size in either direction.
  for (uint32_t len : {0u, 15u, 19u, 21u, 0xffffffffu}) {
    auto copy = bytes;
    std::memcpy(copy.data() + 4, &len, 4);
    EXPECT_FALSE(DecodeHeader(copy).has_value());
  }
  // Larger than any message may be.
  std::vector<uint8_t> huge(kMaxMessageSize + 1);
  std::memcpy(huge.data(), bytes.data(), kHeaderSize);
  PatchLength(huge);
  EXPECT_FALSE(DecodeHeader(huge).has_value());
  // A type nobody knows is ENOSYS; a reply type sent as a request too.
  for (uint32_t type : {0u, 99u, ReplyType(MessageType::kStat), kErrorType}) {
    auto copy = bytes;
    std::memcpy(copy.data(), &type, 4);
    EXPECT_EQ(DecodeRequest(*DecodeHeader(copy), copy, fds).error(), Errno(ENOSYS));
  }
}

TEST(GoferProtoTest, RepliesThatBreakTheProtocolAreEio) {
  std::vector<FileDescriptor> fds;
  auto stat = EncodeMessage(StatResponse{SampleStat(1)}, 5).bytes;
  EXPECT_EQ(DecodeReply<StatResponse>(stat, fds, 6).error(), Errno(EIO));  // wrong tag
  EXPECT_EQ(DecodeReply<WalkResponse>(stat, fds, 5).error(), Errno(EIO));  // wrong type
  for (uint32_t e : {0u, 4096u, 0xffffffffu}) {
    auto err = EncodeMessage(ErrorResponse{e}, 5).bytes;
    EXPECT_EQ(DecodeReply<StatResponse>(err, fds, 5).error(), Errno(EIO));
  }
  auto err = EncodeMessage(ErrorResponse{EROFS}, 5).bytes;
  EXPECT_EQ(DecodeReply<StatResponse>(err, fds, 5).error(), Errno(EROFS));
}

// Random and mutated bytes through every decoder: no crash (ASan watches), and allocation
// bounded by the input's size.
TEST(GoferProtoTest, RandomBytesNeverCrash) {
  EXPECT_TRUE(g_hooked) << "not an ASan build: allocations go uncounted";
  size_t most = 0;
  std::mt19937_64 rng(20240601);
  auto samples = SampleMessages();
  const std::vector<uint32_t> types = {1,          2,
                                       3,          4,
                                       5,          6,
                                       7,          8,
                                       9,          10,
                                       11,         12,
                                       13,         14,
                                       15,         16,
                                       17,         ReplyType(MessageType::kWalk),
                                       kErrorType, ReplyType(MessageType::kGetdents)};
  for (int i = 0; i < 100000; ++i) {
    std::vector<uint8_t> bytes;
    switch (i % 3) {
      case 0: {  // noise
        bytes.resize(rng() % 300);
        for (auto& b : bytes) b = static_cast<uint8_t>(rng());
        break;
      }
      case 1: {  // noise behind a header that passes
        bytes.resize(kHeaderSize + rng() % 200);
        for (auto& b : bytes) b = static_cast<uint8_t>(rng());
        uint32_t type = types[rng() % types.size()];
        std::memcpy(bytes.data(), &type, 4);
        PatchLength(bytes);
        break;
      }
      default: {  // a real message with a few bytes changed, maybe cut or grown
        bytes = samples[rng() % samples.size()];
        for (int k = 1 + rng() % 4; k > 0; --k) bytes[rng() % bytes.size()] = rng();
        if (rng() % 4 == 0) bytes.resize(rng() % (bytes.size() + 8), static_cast<uint8_t>(rng()));
        if (bytes.size() >= 8 && rng() % 2 == 0) PatchLength(bytes);
        break;
      }
    }
    g_allocated = 0;
    g_tracking = true;
    testing::DecodeEverything(bytes);
    g_tracking = false;
    ASSERT_LE(Allocated(), 64 * bytes.size() + 4096) << "iteration " << i;
    most = std::max(most, Allocated());
  }
  EXPECT_TRUE(!g_hooked || most > 0) << "the hook counted nothing";
}

// --- Channel ---

class ChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    channel_ = std::make_unique<Channel>(FileDescriptor(sv[0]));
    peer_ = FileDescriptor(sv[1]);
  }
  // The fake gofer: receives one request and returns its tag.
  uint64_t ReceiveRequest() {
    std::vector<uint8_t> buf(kMaxMessageSize);
    std::vector<FileDescriptor> fds;
    auto r = ReceiveMessage(peer_.get(), buf, fds);
    EXPECT_TRUE(r.has_value());
    auto header = DecodeHeader(std::span(buf).first(r->size));
    EXPECT_TRUE(header.has_value());
    return header ? header->tag : 0;
  }
  void SendRaw(const std::vector<uint8_t>& bytes, const std::vector<int>& fds) {
    ASSERT_TRUE(SendMessage(peer_.get(), OutMessage{bytes, fds}).has_value());
  }

  std::unique_ptr<Channel> channel_;
  FileDescriptor peer_;
};

TEST_F(ChannelTest, CallReturnsReplyAndFd) {
  std::thread server([&] {
    uint64_t tag = ReceiveRequest();
    OpenResponse reply{OpenDevNull()};
    ASSERT_TRUE(SendMessage(peer_.get(), EncodeMessage(reply, tag)).has_value());
  });
  auto r = channel_->Call(OpenRequest{1, O_RDONLY});
  server.join();
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->fd.valid());
  EXPECT_NE(::fcntl(r->fd.get(), F_GETFD) & FD_CLOEXEC, 0);
}

TEST_F(ChannelTest, ErrorReplyIsTheErrno) {
  std::thread server([&] {
    uint64_t tag = ReceiveRequest();
    SendRaw(EncodeMessage(ErrorResponse{EACCES}, tag).bytes, {});
  });
  auto r = channel_->Call(StatRequest{1});
  server.join();
  EXPECT_EQ(r.error(), Errno(EACCES));
}

// A reply with fds it should not have: the call succeeds and the fds are closed, not leaked.
TEST_F(ChannelTest, UnexpectedFdsAreClosed) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
  FileDescriptor read_end(p[0]), write_end(p[1]);
  std::thread server([&] {
    uint64_t tag = ReceiveRequest();
    SendRaw(EncodeMessage(StatResponse{SampleStat(1)}, tag).bytes,
            {write_end.get(), write_end.get(), write_end.get()});
    write_end.Reset();
  });
  auto r = channel_->Call(StatRequest{1});
  server.join();
  ASSERT_TRUE(r.has_value());
  char c;
  EXPECT_EQ(::read(read_end.get(), &c, 1), 0) << "a copy of the write end is still open";
}

TEST_F(ChannelTest, TruncatedReplyIsEio) {
  std::thread server([&] {
    uint64_t tag = ReceiveRequest();
    auto bytes = EncodeMessage(StatResponse{}, tag).bytes;
    bytes.resize(kMaxMessageSize + 100);
    PatchLength(bytes);
    ASSERT_EQ(::send(peer_.get(), bytes.data(), bytes.size(), 0),
              static_cast<ssize_t>(bytes.size()));
  });
  EXPECT_EQ(channel_->Call(StatRequest{1}).error(), Errno(EIO));
  server.join();
}

TEST_F(ChannelTest, TooManyFdsIsEioAndLeaksNothing) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
  FileDescriptor read_end(p[0]), write_end(p[1]);
  std::thread server([&] {
    uint64_t tag = ReceiveRequest();
    auto bytes = EncodeMessage(StatResponse{}, tag).bytes;
    std::vector<int> fds(kMaxMessageFds + 4, write_end.get());
    // SendMessage refuses this many; build the control message by hand.
    iovec iov{bytes.data(), bytes.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * (kMaxMessageFds + 4))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    ASSERT_GT(::sendmsg(peer_.get(), &msg, 0), 0);
    write_end.Reset();
  });
  EXPECT_EQ(channel_->Call(StatRequest{1}).error(), Errno(EIO));
  server.join();
  char c;
  EXPECT_EQ(::read(read_end.get(), &c, 1), 0) << "a copy of the write end is still open";
}

TEST_F(ChannelTest, PeerGoneIsEio) {
  peer_.Reset();
  EXPECT_EQ(channel_->Call(StatRequest{1}).error(), Errno(EIO));
}

TEST_F(ChannelTest, ConcurrentCallsAreSerialized) {
  constexpr int kThreads = 4, kCalls = 200;
  std::thread server([&] {
    // Echo the fid back as the inode, so each caller can check it got its own reply.
    std::vector<uint8_t> buf(kMaxMessageSize);
    for (int i = 0; i < kThreads * kCalls; ++i) {
      std::vector<FileDescriptor> fds;
      auto r = ReceiveMessage(peer_.get(), buf, fds);
      ASSERT_TRUE(r.has_value());
      auto msg = std::span<const uint8_t>(buf).first(r->size);
      auto header = DecodeHeader(msg);
      ASSERT_TRUE(header.has_value());
      auto req = DecodeBody<StatRequest>(msg, fds);
      ASSERT_TRUE(req.has_value());
      StatResponse reply;
      reply.stat.ino = req->fid;
      SendRaw(EncodeMessage(reply, header->tag).bytes, {});
    }
  });
  std::vector<std::thread> callers;
  std::atomic<int> good{0};
  for (int t = 0; t < kThreads; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        Fid fid = static_cast<Fid>(t * 1000 + i);
        auto r = channel_->Call(StatRequest{fid});
        if (r && r->stat.ino == fid) ++good;
      }
    });
  }
  for (auto& c : callers) c.join();
  server.join();
  EXPECT_EQ(good.load(), kThreads * kCalls);
}

}  // namespace
}  // namespace gofer
