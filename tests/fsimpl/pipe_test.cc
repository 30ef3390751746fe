// Pipes driven from several host threads, as tasks on their own sentry threads will drive them:
// blocking and wake-ups, end of file, EPIPE, nonblocking rules, PIPE_BUF atomicity, packet mode,
// capacity, interruption, named FIFOs in tmpfs, and the transfers splice(2) and tee(2) make.
#include "sentry/fsimpl/pipe/pipe.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "tests/fsimpl/vfs_harness.h"

namespace sentry::fsimpl::pipe {
namespace {

using testing::ErrnoOf;
using testing::ReadStr;
using testing::WriteStr;

// Long enough that a thread which should be blocked would have finished if it were not.
constexpr absl::Duration kStillBlocked = absl::Milliseconds(100);

struct Ends {
  std::shared_ptr<PipeFile> r;
  std::shared_ptr<PipeFile> w;
};

Ends NewPipe(int flags = 0) {
  auto [r, w] = PipeFile::NewPipe(flags, 1000, 1000);
  return {std::move(r), std::move(w)};
}

Result<uint64_t> WriteN(Pipe& p, size_t n, bool nonblocking, bool packet = false, char fill = 'x') {
  std::string data(n, fill);
  iovec iov{data.data(), data.size()};
  return p.Write({&iov, 1}, nonblocking, packet);
}

Result<std::string> ReadN(Pipe& p, size_t n, bool nonblocking, Interrupter* intr = nullptr) {
  std::string buf(n, '\0');
  iovec iov{buf.data(), buf.size()};
  uint64_t got = TRY(p.Read({&iov, 1}, nonblocking, intr));
  buf.resize(got);
  return buf;
}

// An Interrupter a test fires by hand, keeping to the contract in pipe.h.
class TestInterrupter : public Interrupter {
 public:
  bool Interrupted() override {
    absl::MutexLock lock(&mu_);
    return interrupted_;
  }
  void Arm(std::function<void()> wake) override {
    absl::MutexLock lock(&mu_);
    wake_ = std::move(wake);
  }
  void Disarm() override {
    absl::MutexLock lock(&mu_);
    wake_ = nullptr;
  }
  // Blocks until a wait has armed this (that is, is about to sleep or sleeping).
  void AwaitArmed() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](std::function<void()>* w) { return static_cast<bool>(*w); }, &wake_));
  }
  void Interrupt() {
    std::function<void()> wake;
    {
      absl::MutexLock lock(&mu_);
      interrupted_ = true;
      wake = wake_;
    }
    if (wake) wake();  // with no lock of ours held
  }

 private:
  absl::Mutex mu_;
  bool interrupted_ = false;
  std::function<void()> wake_;
};

TEST(PipeTest, WriteThenRead) {
  Ends p = NewPipe();
  EXPECT_EQ(WriteStr(*p.w, "hello"), 5u);
  EXPECT_EQ(WriteStr(*p.w, " world"), 6u);
  EXPECT_EQ(p.r->pipe().BytesReadable(), 11u);
  EXPECT_EQ(ReadStr(*p.r, 5), "hello");
  EXPECT_EQ(ReadStr(*p.r, 100), " world");  // takes what is there, does not wait for more
  EXPECT_EQ(p.r->pipe().BytesReadable(), 0u);
}

TEST(PipeTest, ReadvAndWritevSpanIovecs) {
  Ends p = NewPipe();
  std::string a = "abc", b = "defgh";
  iovec src[] = {{a.data(), a.size()}, {nullptr, 0}, {b.data(), b.size()}};
  ASSERT_EQ(p.w->Write(src, std::nullopt), 8u);
  std::string x(2, '.'), y(10, '.');
  iovec dst[] = {{x.data(), x.size()}, {y.data(), y.size()}};
  ASSERT_EQ(p.r->Read(dst, std::nullopt), 8u);
  EXPECT_EQ(x, "ab");
  EXPECT_EQ(y.substr(0, 6), "cdefgh");
}

TEST(PipeTest, BlockingReadIsWokenByWrite) {
  Ends p = NewPipe();
  absl::Notification done;
  Result<std::string> got = Err(0);
  std::thread reader([&] {
    got = ReadStr(*p.r, 100);
    done.Notify();
  });
  EXPECT_FALSE(done.WaitForNotificationWithTimeout(kStillBlocked));
  ASSERT_EQ(WriteStr(*p.w, "ping"), 4u);
  reader.join();
  EXPECT_EQ(got, "ping");
}

TEST(PipeTest, BlockedReadSeesEofWhenLastWriterCloses) {
  Ends p = NewPipe();
  auto second_writer = p.w;  // a dup: the same open file
  absl::Notification done;
  Result<std::string> got = Err(0);
  std::thread reader([&] {
    got = ReadStr(*p.r, 100);
    done.Notify();
  });
  p.w.reset();
  EXPECT_FALSE(done.WaitForNotificationWithTimeout(kStillBlocked));
  second_writer.reset();  // the last reference: the write end closes
  reader.join();
  EXPECT_EQ(got, "");
}

TEST(PipeTest, DataBeforeEofIsStillRead) {
  Ends p = NewPipe();
  ASSERT_EQ(WriteStr(*p.w, "last words"), 10u);
  p.w.reset();
  EXPECT_EQ(ReadStr(*p.r, 4), "last");
  EXPECT_EQ(ReadStr(*p.r, 100), " words");
  EXPECT_EQ(ReadStr(*p.r, 100), "");
  EXPECT_EQ(ReadStr(*p.r, 100), "");
}

TEST(PipeTest, FullPipeBlocksWriterUntilRead) {
  Ends p = NewPipe();
  Pipe& pipe = p.w->pipe();
  ASSERT_EQ(WriteN(pipe, kDefaultPipeSize, false), kDefaultPipeSize);
  absl::Notification done;
  Result<uint64_t> wrote = Err(0);
  std::thread writer([&] {
    wrote = WriteN(pipe, 10, false);
    done.Notify();
  });
  EXPECT_FALSE(done.WaitForNotificationWithTimeout(kStillBlocked));
  // Emptying one slot makes room for the 10 bytes.
  auto got = ReadN(pipe, kPageSize, false);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->size(), kPageSize);
  writer.join();
  EXPECT_EQ(wrote, 10u);
  EXPECT_EQ(pipe.BytesReadable(), kDefaultPipeSize - kPageSize + 10);
}

TEST(PipeTest, LargeBlockingWriteCompletesAsReaderDrains) {
  Ends p = NewPipe();
  constexpr size_t kTotal = 5 * kDefaultPipeSize + 123;
  std::string data(kTotal, '\0');
  for (size_t i = 0; i < kTotal; ++i) data[i] = static_cast<char>('a' + i % 26);
  Result<uint64_t> wrote = Err(0);
  std::thread writer([&] { wrote = WriteStr(*p.w, data); });
  std::string got;
  while (got.size() < kTotal) {
    auto part = ReadStr(*p.r, 3000);
    ASSERT_TRUE(part.has_value());
    ASSERT_FALSE(part->empty());
    got += *part;
  }
  writer.join();
  EXPECT_EQ(wrote, kTotal);
  EXPECT_TRUE(got == data);
}

TEST(PipeTest, WriteWithoutReadersIsEpipe) {
  Ends p = NewPipe();
  p.r.reset();
  EXPECT_EQ(ErrnoOf(WriteStr(*p.w, "x")), EPIPE);
  EXPECT_EQ(WriteStr(*p.w, ""), 0u);  // nothing to write: no EPIPE, as on Linux
}

TEST(PipeTest, BlockedWriterGetsItsPartialCountWhenReadersLeave) {
  Ends p = NewPipe();
  Pipe& pipe = p.w->pipe();
  absl::Notification done;
  Result<uint64_t> wrote = Err(0);
  std::thread writer([&] {
    wrote = WriteN(pipe, kDefaultPipeSize + 5000, false);
    done.Notify();
  });
  EXPECT_FALSE(done.WaitForNotificationWithTimeout(kStillBlocked));
  p.r.reset();
  writer.join();
  EXPECT_EQ(wrote, kDefaultPipeSize);  // what went in before the reader left
  EXPECT_EQ(ErrnoOf(WriteN(pipe, 1, false)), EPIPE);
}

TEST(PipeTest, BlockedWriterGetsEpipeIfNothingWentIn) {
  Ends p = NewPipe();
  Pipe& pipe = p.w->pipe();
  ASSERT_EQ(WriteN(pipe, kDefaultPipeSize, false), kDefaultPipeSize);
  Result<uint64_t> wrote = Err(0);
  std::thread writer([&] { wrote = WriteN(pipe, 100, false); });
  absl::SleepFor(absl::Milliseconds(20));
  p.r.reset();
  writer.join();
  EXPECT_EQ(ErrnoOf(wrote), EPIPE);
}

TEST(PipeTest, NonblockingReadAndWrite) {
  Ends p = NewPipe(O_NONBLOCK);
  EXPECT_EQ(p.r->status_flags(), O_RDONLY | O_NONBLOCK);
  EXPECT_EQ(p.w->status_flags(), O_WRONLY | O_NONBLOCK);
  EXPECT_EQ(ErrnoOf(ReadStr(*p.r, 10)), EAGAIN);
  Pipe& pipe = p.w->pipe();
  ASSERT_EQ(WriteN(pipe, kDefaultPipeSize - 100, true), kDefaultPipeSize - 100);
  // n <= PIPE_BUF: all or nothing. 100 bytes still fit in the last slot, 101 do not.
  EXPECT_EQ(ErrnoOf(WriteN(pipe, 101, true)), EAGAIN);
  EXPECT_EQ(WriteN(pipe, 100, true), 100u);
  EXPECT_EQ(ErrnoOf(WriteN(pipe, 1, true)), EAGAIN);
  // n > PIPE_BUF: a partial write when some room exists.
  ASSERT_EQ(ReadN(pipe, 2 * kPageSize, true)->size(), 2 * kPageSize);
  EXPECT_EQ(WriteN(pipe, 3 * kPageSize, true), 2 * kPageSize);
  EXPECT_EQ(ErrnoOf(WriteN(pipe, 3 * kPageSize, true)), EAGAIN);
  p.w.reset();
  EXPECT_EQ(pipe.BytesReadable(), kDefaultPipeSize);
}

// The slot model's corners, as Linux (checked on 6.x): these are what the conformance test
// checks natively too.
TEST(PipeTest, CapacityIsCountedInPageSlots) {
  {
    Ends p = NewPipe();
    Pipe& pipe = p.w->pipe();
    ASSERT_EQ(WriteN(pipe, 1, true), 1u);
    EXPECT_EQ(WriteN(pipe, kDefaultPipeSize, true), kDefaultPipeSize - kPageSize);
  }
  {
    Ends p = NewPipe();
    Pipe& pipe = p.w->pipe();
    uint64_t total = 0;
    while (auto n = WriteN(pipe, 100, true)) total += *n;
    EXPECT_EQ(total, 64000u);  // 40 writes of 100 bytes per page, 16 pages
  }
}

TEST(PipeTest, PacketModeKeepsWriteBoundaries) {
  Ends p = NewPipe(O_DIRECT);
  EXPECT_EQ(p.r->status_flags(), O_RDONLY);  // the write end carries O_DIRECT
  EXPECT_EQ(p.w->status_flags(), O_WRONLY | O_DIRECT);
  ASSERT_EQ(WriteStr(*p.w, "one"), 3u);
  ASSERT_EQ(WriteStr(*p.w, "two"), 3u);
  ASSERT_EQ(WriteStr(*p.w, "three"), 5u);
  EXPECT_EQ(ReadStr(*p.r, 100), "one");
  EXPECT_EQ(ReadStr(*p.r, 2), "tw");  // the rest of the packet is dropped
  EXPECT_EQ(ReadStr(*p.r, 100), "three");
  // Writes longer than PIPE_BUF become several packets.
  Pipe& pipe = p.w->pipe();
  ASSERT_EQ(WriteN(pipe, kPageSize + 10, false, true), kPageSize + 10);
  EXPECT_EQ(ReadN(pipe, 100000, true)->size(), kPageSize);
  EXPECT_EQ(ReadN(pipe, 100000, true)->size(), 10u);
  // One packet per slot.
  uint64_t total = 0;
  while (auto n = WriteN(pipe, 100, true, true)) total += *n;
  EXPECT_EQ(total, 1600u);
  EXPECT_EQ(pipe.BytesReadable(), 1600u);
}

TEST(PipeTest, SetCapacity) {
  Ends p = NewPipe();
  Pipe& pipe = p.w->pipe();
  EXPECT_EQ(pipe.Capacity(), kDefaultPipeSize);
  EXPECT_EQ(pipe.SetCapacity(0, false), kPageSize);
  EXPECT_EQ(pipe.SetCapacity(1, false), kPageSize);
  EXPECT_EQ(pipe.SetCapacity(4097, false), 2 * kPageSize);
  EXPECT_EQ(pipe.SetCapacity(65537, false), 131072u);
  EXPECT_EQ(pipe.SetCapacity(kPipeMaxSize, false), kPipeMaxSize);
  EXPECT_EQ(pipe.Capacity(), kPipeMaxSize);
  EXPECT_EQ(ErrnoOf(pipe.SetCapacity(kPipeMaxSize + 1, false)), EPERM);
  EXPECT_EQ(pipe.SetCapacity(kPipeMaxSize + 1, true), 2 * kPipeMaxSize);
  EXPECT_EQ(ErrnoOf(pipe.SetCapacity((1U << 31) + 1, true)), EINVAL);
  EXPECT_EQ(ErrnoOf(pipe.SetCapacity(UINT32_MAX, true)), EINVAL);
  // Shrinking below what the content occupies (in slots) is EBUSY; to what it fits is fine.
  ASSERT_EQ(WriteN(pipe, 3 * kPageSize, true), 3 * kPageSize);
  EXPECT_EQ(ErrnoOf(pipe.SetCapacity(2 * kPageSize, false)), EBUSY);
  EXPECT_EQ(pipe.SetCapacity(3 * kPageSize, false), 4 * kPageSize);
  EXPECT_EQ(WriteN(pipe, kPageSize, true), kPageSize);
  EXPECT_EQ(ErrnoOf(WriteN(pipe, 1, true)), EAGAIN);
}

TEST(PipeTest, GrowingWakesABlockedWriter) {
  Ends p = NewPipe();
  Pipe& pipe = p.w->pipe();
  ASSERT_EQ(WriteN(pipe, kDefaultPipeSize, false), kDefaultPipeSize);
  absl::Notification done;
  Result<uint64_t> wrote = Err(0);
  std::thread writer([&] {
    wrote = WriteN(pipe, kPageSize, false);
    done.Notify();
  });
  EXPECT_FALSE(done.WaitForNotificationWithTimeout(kStillBlocked));
  ASSERT_EQ(pipe.SetCapacity(2 * kDefaultPipeSize, false), 2 * kDefaultPipeSize);
  writer.join();
  EXPECT_EQ(wrote, kPageSize);
}

// Writers racing on one pipe: no write of at most PIPE_BUF bytes may be split or interleaved.
// Records of 4096 bytes each fill a slot; 1000-byte ones exercise topping up the last slot.
class AtomicWritesTest : public ::testing::TestWithParam<size_t> {};

TEST_P(AtomicWritesTest, WritesOfAtMostPipeBufAreNotInterleaved) {
  const size_t record = GetParam();
  constexpr int kWriters = 4;
  constexpr int kRecordsEach = 400;
  Ends p = NewPipe();
  // A small pipe makes writers block and wake often.
  ASSERT_EQ(p.w->pipe().SetCapacity(2 * kPageSize, false), 2 * kPageSize);
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int id = 0; id < kWriters; ++id) {
    writers.emplace_back([&, id, w = p.w] {
      std::string data(record, static_cast<char>('A' + id));
      for (int i = 0; i < kRecordsEach; ++i) {
        if (WriteStr(*w, data) != record) ++failures;
      }
    });
  }
  p.w.reset();  // the writer threads hold the write end now; EOF once they are done
  std::string got;
  for (;;) {
    auto part = ReadStr(*p.r, 7000);  // reads straddle records on purpose
    ASSERT_TRUE(part.has_value());
    if (part->empty()) break;
    got += *part;
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(failures, 0);
  ASSERT_EQ(got.size(), record * kWriters * kRecordsEach);
  std::vector<int> per_writer(kWriters);
  for (size_t at = 0; at < got.size(); at += record) {
    char c = got[at];
    ASSERT_EQ(std::string_view(got).substr(at, record).find_first_not_of(c), std::string::npos)
        << "record at " << at << " is torn";
    ++per_writer[c - 'A'];
  }
  for (int n : per_writer) EXPECT_EQ(n, kRecordsEach);
}

INSTANTIATE_TEST_SUITE_P(RecordSizes, AtomicWritesTest, ::testing::Values(4096, 1000, 1));

TEST(PipeTest, StatSeekAndOffsets) {
  Ends a = NewPipe();
  Ends b = NewPipe();
  auto st = a.r->Stat();
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->st_mode, S_IFIFO | 0600);
  EXPECT_EQ(st->st_blksize, 4096);
  EXPECT_EQ(st->st_nlink, 1u);
  EXPECT_EQ(st->st_uid, 1000u);
  EXPECT_EQ(st->st_size, 0);
  EXPECT_EQ(a.w->Stat()->st_ino, st->st_ino);  // both ends are one inode
  EXPECT_NE(b.r->Stat()->st_ino, st->st_ino);  // and each pipe its own
  EXPECT_EQ(ErrnoOf(a.r->Seek(0, SEEK_CUR)), ESPIPE);
  EXPECT_EQ(ErrnoOf(a.w->Seek(0, SEEK_SET)), ESPIPE);
  EXPECT_EQ(ErrnoOf(WriteStr(*a.w, "x", 0)), ESPIPE);
  EXPECT_EQ(ErrnoOf(ReadStr(*a.r, 1, 0)), ESPIPE);
  EXPECT_TRUE(a.r->anonymous());
}

TEST(PipeTest, InterruptedReadFailsWithEintr) {
  auto pipe = std::make_shared<Pipe>(0, 0);
  pipe->Acquire(true, true);
  TestInterrupter intr;
  Result<std::string> got = Err(0);
  std::thread reader([&] { got = ReadN(*pipe, 10, false, &intr); });
  intr.AwaitArmed();
  intr.Interrupt();
  reader.join();
  EXPECT_EQ(ErrnoOf(got), EINTR);
  // An interrupter that already fired stops the next wait before it sleeps.
  EXPECT_EQ(ErrnoOf(ReadN(*pipe, 10, false, &intr)), EINTR);
  pipe->Release(true, true);
}

TEST(PipeTest, InterruptedWriteReturnsWhatItWrote) {
  auto pipe = std::make_shared<Pipe>(0, 0);
  pipe->Acquire(true, true);
  TestInterrupter intr;
  Result<uint64_t> wrote = Err(0);
  std::thread writer([&] {
    std::string data(kDefaultPipeSize + 10, 'z');
    iovec iov{data.data(), data.size()};
    wrote = pipe->Write({&iov, 1}, false, false, &intr);
  });
  intr.AwaitArmed();
  intr.Interrupt();
  writer.join();
  EXPECT_EQ(wrote, kDefaultPipeSize);
  pipe->Release(true, true);
}

// FIFO opens straight on a Pipe: who waits for whom.
TEST(PipeTest, FifoOpenRules) {
  auto pipe = std::make_shared<Pipe>(0, 0);
  EXPECT_EQ(ErrnoOf(pipe->OpenFifoEnd(false, true, true)), ENXIO);  // O_WRONLY|O_NONBLOCK
  ASSERT_TRUE(pipe->OpenFifoEnd(true, false, true));                // O_RDONLY|O_NONBLOCK
  EXPECT_EQ(ReadN(*pipe, 10, false), "");                           // no writer: EOF
  ASSERT_TRUE(pipe->OpenFifoEnd(false, true, true));                // now a reader exists
  ASSERT_EQ(WriteN(*pipe, 3, false), 3u);
  pipe->Release(true, false);
  pipe->Release(false, true);
  ASSERT_TRUE(pipe->OpenFifoEnd(true, true, false));  // O_RDWR never waits
  pipe->Release(true, true);
}

TEST(PipeTest, InterruptedFifoOpenGivesItsEndBack) {
  auto pipe = std::make_shared<Pipe>(0, 0);
  TestInterrupter intr;
  Result<void> opened;
  std::thread opener([&] { opened = pipe->OpenFifoEnd(true, false, false, &intr); });
  intr.AwaitArmed();
  intr.Interrupt();
  opener.join();
  EXPECT_EQ(ErrnoOf(opened), EINTR);
  // The reader it had counted is gone again.
  EXPECT_EQ(ErrnoOf(pipe->OpenFifoEnd(false, true, true)), ENXIO);
}

// A partner that opens and closes again still releases a waiting open (it waits for an open,
// not for the partner to stay), as Linux's wait_for_partner does.
TEST(PipeTest, WaitingFifoWriterIsLetThroughByAReaderThatComesAndGoes) {
  auto pipe = std::make_shared<Pipe>(0, 0);
  TestInterrupter armed;  // never fired: only says when the open sleeps
  Result<void> opened = Err(0);
  std::thread writer([&] { opened = pipe->OpenFifoEnd(false, true, false, &armed); });
  armed.AwaitArmed();
  ASSERT_TRUE(pipe->OpenFifoEnd(true, false, true));
  pipe->Release(true, false);
  writer.join();
  ASSERT_TRUE(opened.has_value()) << ErrnoOf(opened);
  EXPECT_EQ(ErrnoOf(WriteN(*pipe, 1, false)), EPIPE);
  pipe->Release(false, true);
}

// Named FIFOs in tmpfs, opened through the VFS.
class FifoTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(vfs_.Mknod("/fifo", S_IFIFO | 0644)); }

  std::unique_ptr<mm::MemoryFile> memory_ = testing::TestMemoryFile();
  std::shared_ptr<tmpfs::Filesystem> fs_ = tmpfs::Filesystem::Create(*memory_, 0755, 0, 0);
  testing::VfsHarness vfs_{fs_->root()};
};

TEST_F(FifoTest, ReadWriteOpenSharesOnePipe) {
  auto rw = vfs_.Open("/fifo", O_RDWR);
  ASSERT_TRUE(rw.has_value()) << ErrnoOf(rw);
  auto w = vfs_.Open("/fifo", O_WRONLY | O_NONBLOCK);  // rw is a reader
  ASSERT_TRUE(w.has_value()) << ErrnoOf(w);
  ASSERT_EQ(WriteStr(**w, "via w"), 5u);
  EXPECT_EQ(ReadStr(**rw, 100), "via w");
  ASSERT_EQ(WriteStr(**rw, "to self"), 7u);
  EXPECT_EQ(ReadStr(**rw, 100), "to self");
  // fstat is the inode's, and lseek is ESPIPE even though the file has a path.
  auto fst = (*rw)->Stat();
  ASSERT_TRUE(fst.has_value());
  EXPECT_TRUE(S_ISFIFO(fst->st_mode));
  EXPECT_EQ(fst->st_ino, vfs_.Stat("/fifo")->st_ino);
  EXPECT_EQ(ErrnoOf((*rw)->Seek(0, SEEK_SET)), ESPIPE);
  auto* pf = dynamic_cast<PipeFile*>(rw->get());
  ASSERT_NE(pf, nullptr);
  EXPECT_FALSE(pf->anonymous());
}

TEST_F(FifoTest, NonblockingOpens) {
  EXPECT_EQ(ErrnoOf(vfs_.Open("/fifo", O_WRONLY | O_NONBLOCK)), ENXIO);
  auto r = vfs_.Open("/fifo", O_RDONLY | O_NONBLOCK);
  ASSERT_TRUE(r.has_value()) << ErrnoOf(r);
  EXPECT_EQ(ReadStr(**r, 10), "");  // no writer yet: end of file
  auto w = vfs_.Open("/fifo", O_WRONLY | O_NONBLOCK);
  ASSERT_TRUE(w.has_value()) << ErrnoOf(w);
  ASSERT_EQ(WriteStr(**w, "data"), 4u);
  EXPECT_EQ(ReadStr(**r, 10), "data");
  EXPECT_EQ(ErrnoOf(vfs_.Open("/fifo", O_ACCMODE | O_NONBLOCK)), EINVAL);
}

TEST_F(FifoTest, ReaderOpenWaitsForAWriter) {
  absl::Notification done;
  Result<std::shared_ptr<vfs::FileDescription>> r = Err(0);
  std::thread reader([&] {
    r = vfs_.Open("/fifo", O_RDONLY);
    done.Notify();
  });
  EXPECT_FALSE(done.WaitForNotificationWithTimeout(kStillBlocked));
  auto w = vfs_.Open("/fifo", O_WRONLY);  // a reader waits: does not block
  ASSERT_TRUE(w.has_value()) << ErrnoOf(w);
  reader.join();
  ASSERT_TRUE(r.has_value()) << ErrnoOf(r);
  ASSERT_EQ(WriteStr(**w, "hi"), 2u);
  EXPECT_EQ(ReadStr(**r, 10), "hi");
}

TEST_F(FifoTest, WriterOpenWaitsForAReader) {
  absl::Notification done;
  Result<std::shared_ptr<vfs::FileDescription>> w = Err(0);
  std::thread writer([&] {
    w = vfs_.Open("/fifo", O_WRONLY);
    done.Notify();
  });
  EXPECT_FALSE(done.WaitForNotificationWithTimeout(kStillBlocked));
  auto r = vfs_.Open("/fifo", O_RDONLY);
  ASSERT_TRUE(r.has_value()) << ErrnoOf(r);
  writer.join();
  ASSERT_TRUE(w.has_value()) << ErrnoOf(w);
}

TEST_F(FifoTest, DataDiesWithTheLastOpenEnd) {
  {
    auto rw = vfs_.Open("/fifo", O_RDWR);
    ASSERT_TRUE(rw.has_value());
    ASSERT_EQ(WriteStr(**rw, "lost"), 4u);
  }
  auto rw = vfs_.Open("/fifo", O_RDWR | O_NONBLOCK);
  ASSERT_TRUE(rw.has_value());
  EXPECT_EQ(ErrnoOf(ReadStr(**rw, 10)), EAGAIN);
}

// ---- splice and tee ----

// A sink or source over a string, as a file at the other end of a splice would be.
auto Into(std::string& out, uint64_t limit = UINT64_MAX) {
  return [&out, limit](std::span<const iovec> views) -> Result<uint64_t> {
    uint64_t n = 0;
    for (const iovec& v : views) {
      uint64_t take = std::min<uint64_t>(v.iov_len, limit - n);
      out.append(static_cast<const char*>(v.iov_base), take);
      n += take;
      if (n == limit) break;
    }
    return n;
  };
}

TEST(PipeSpliceTest, ReadToRemovesOnlyWhatTheSinkTook) {
  Ends p = NewPipe();
  ASSERT_EQ(WriteStr(*p.w, "hello"), 5u);
  ASSERT_EQ(WriteStr(*p.w, std::string(5000, 'x')), 5000u);
  std::string got;
  auto sink = Into(got, 3);
  EXPECT_EQ(p.r->pipe().ReadTo(100, false, sink), 3u);
  EXPECT_EQ(got, "hel");
  // A failing sink takes nothing.
  auto failing = [](std::span<const iovec>) -> Result<uint64_t> { return Err(ENOSPC); };
  EXPECT_EQ(ErrnoOf(p.r->pipe().ReadTo(100, false, failing)), ENOSPC);
  got.clear();
  auto all = Into(got);
  EXPECT_EQ(p.r->pipe().ReadTo(10000, false, all), 5002u);  // across slots, in order
  EXPECT_EQ(got, "lo" + std::string(5000, 'x'));
  EXPECT_EQ(ErrnoOf(p.r->pipe().ReadTo(1, true, all)), EAGAIN);
  p.w.reset();
  EXPECT_EQ(p.r->pipe().ReadTo(1, false, all), 0u);
}

TEST(PipeSpliceTest, WriteFromFillsFreeSlotsOnly) {
  Ends p = NewPipe();
  ASSERT_TRUE(p.r->pipe().SetCapacity(2 * kPageSize, true));
  ASSERT_EQ(WriteStr(*p.w, "a"), 1u);
  uint64_t offered = 0;
  auto source = [&](std::span<const iovec> views) -> Result<uint64_t> {
    for (const iovec& v : views) {
      std::memset(v.iov_base, 'b', v.iov_len);
      offered += v.iov_len;
    }
    return offered;
  };
  EXPECT_EQ(p.w->pipe().WriteFrom(3 * kPageSize, false, source), kPageSize);  // one free slot
  EXPECT_EQ(offered, kPageSize);
  EXPECT_EQ(ErrnoOf(p.w->pipe().WriteFrom(1, true, source)), EAGAIN);
  EXPECT_EQ(ReadStr(*p.r, 3 * kPageSize), "a" + std::string(kPageSize, 'b'));
  // A failing source adds nothing.
  auto failing = [](std::span<const iovec>) -> Result<uint64_t> { return Err(EIO); };
  EXPECT_EQ(ErrnoOf(p.w->pipe().WriteFrom(10, false, failing)), EIO);
  EXPECT_EQ(p.r->pipe().BytesReadable(), 0u);
  p.r.reset();
  EXPECT_EQ(ErrnoOf(p.w->pipe().WriteFrom(10, false, source)), EPIPE);
}

TEST(PipeSpliceTest, BlockedSpliceIsWokenByAWrite) {
  Ends a = NewPipe(), b = NewPipe();
  std::atomic<int64_t> moved{-1};
  std::thread t([&] { moved = Pipe::Splice(a.r->pipe(), b.w->pipe(), 100, false).value_or(-1); });
  absl::SleepFor(kStillBlocked);
  EXPECT_EQ(moved, -1);
  ASSERT_EQ(WriteStr(*a.w, "wake"), 4u);
  t.join();
  EXPECT_EQ(moved, 4);
  EXPECT_EQ(ReadStr(*b.r, 10), "wake");
}

TEST(PipeSpliceTest, BlockedSpliceIsWokenByRoom) {
  Ends a = NewPipe(), b = NewPipe();
  ASSERT_TRUE(b.w->pipe().SetCapacity(kPageSize, true));
  ASSERT_EQ(WriteStr(*b.w, std::string(kPageSize, 'f')), kPageSize);
  ASSERT_EQ(WriteStr(*a.w, "next"), 4u);
  std::atomic<int64_t> moved{-1};
  std::thread t([&] { moved = Pipe::Splice(a.r->pipe(), b.w->pipe(), 100, false).value_or(-1); });
  absl::SleepFor(kStillBlocked);
  EXPECT_EQ(moved, -1);
  EXPECT_EQ(ReadStr(*b.r, kPageSize), std::string(kPageSize, 'f'));
  t.join();
  EXPECT_EQ(moved, 4);
  EXPECT_EQ(ReadStr(*b.r, 10), "next");
}

TEST(PipeSpliceTest, BlockedTeeIsWokenByAWrite) {
  Ends a = NewPipe(), b = NewPipe();
  std::atomic<int64_t> copied{-1};
  std::thread t([&] { copied = Pipe::Tee(a.r->pipe(), b.w->pipe(), 100, false).value_or(-1); });
  absl::SleepFor(kStillBlocked);
  EXPECT_EQ(copied, -1);
  ASSERT_EQ(WriteStr(*a.w, "tee"), 3u);
  t.join();
  EXPECT_EQ(copied, 3);
  EXPECT_EQ(ReadStr(*b.r, 10), "tee");
  EXPECT_EQ(ReadStr(*a.r, 10), "tee");
}

TEST(PipeSpliceTest, OppositeSplicesDoNotDeadlock) {
  // a -> b and b -> a at once lock the same two pipes in opposite roles.
  Ends a = NewPipe(), b = NewPipe();
  ASSERT_EQ(WriteStr(*a.w, std::string(3000, 'a')), 3000u);
  ASSERT_EQ(WriteStr(*b.w, std::string(3000, 'b')), 3000u);
  auto shuttle = [](Pipe& from, Pipe& to) {
    for (int i = 0; i < 5000; ++i) (void)Pipe::Splice(from, to, 1 + i % 700, true);
  };
  std::thread t1([&] { shuttle(a.r->pipe(), b.w->pipe()); });
  std::thread t2([&] { shuttle(b.r->pipe(), a.w->pipe()); });
  t1.join();
  t2.join();
  EXPECT_EQ(a.r->pipe().BytesReadable() + b.r->pipe().BytesReadable(), 6000u);  // none lost
}

}  // namespace
}  // namespace sentry::fsimpl::pipe
