// The pty line discipline as pure state: what the master's bytes become for the replica's reads
// and as echo, and what the replica's writes become for the master.
#include "sentry/fsimpl/devpts/line_discipline.h"

#include <signal.h>

#include <gtest/gtest.h>

namespace sentry::fsimpl::devpts {
namespace {

class LineDisciplineTest : public ::testing::Test {
 protected:
  // Feeds `in` as the master would; returns how much was taken.
  uint64_t Type(std::string_view in) { return ld_.ReceiveInput(in, &signals_); }
  std::string Read(uint64_t max = 4096) {
    bool eof = false;
    return ld_.ReadInput(max, &eof);
  }
  std::string Echoed() { return ld_.ReadOutput(1 << 20); }

  LineDiscipline ld_;
  std::vector<int> signals_;
};

TEST_F(LineDisciplineTest, CanonicalLinesAndEcho) {
  EXPECT_EQ(Type("ab"), 2u);
  EXPECT_FALSE(ld_.ReplicaReadable());
  EXPECT_EQ(ld_.InputReadable(), 0u);
  EXPECT_EQ(Type("\x7f"
                 "c\r"),
            3u);
  EXPECT_TRUE(ld_.ReplicaReadable());
  EXPECT_EQ(ld_.InputReadable(), 3u);
  EXPECT_EQ(Read(), "ac\n");
  EXPECT_EQ(Echoed(), "ab\b \bc\r\n");
  // VEOF on an empty line: a zero-length read, marked as end of file.
  Type("\x04");
  bool eof = false;
  EXPECT_EQ(ld_.ReadInput(10, &eof), "");
  EXPECT_TRUE(eof);
  EXPECT_EQ(Echoed(), "");
}

TEST_F(LineDisciplineTest, SignalCharactersFlushAndEcho) {
  Type("partial");
  Echoed();
  Type("\x03");
  ASSERT_EQ(signals_, std::vector<int>{SIGINT});
  EXPECT_EQ(Echoed(), "^C");
  Type("\n");
  EXPECT_EQ(Read(), "\n");  // the partial line went with the interrupt
  Type("\x1c\x1a");
  EXPECT_EQ(signals_, (std::vector<int>{SIGINT, SIGQUIT, SIGTSTP}));
}

TEST_F(LineDisciplineTest, OutputProcessing) {
  EXPECT_EQ(ld_.WriteOutput("a\nb\tc"), 5u);
  EXPECT_EQ(ld_.ReadOutput(100), "a\r\nb\tc");
  KernelTermios t = ld_.termios();
  t.c_oflag |= XTABS;
  ld_.SetTermios(t);
  ld_.WriteOutput("\nab\t|");  // columns count from the start of the line
  EXPECT_EQ(ld_.ReadOutput(100), "\r\nab      |");
}

TEST_F(LineDisciplineTest, InputIsBounded) {
  KernelTermios t = ld_.termios();
  t.c_lflag &= ~(ICANON | ECHO);
  ld_.SetTermios(t);
  std::string big(kInputCapacity + 100, 'x');
  EXPECT_EQ(Type(big), kInputCapacity);
  EXPECT_FALSE(ld_.InputRoom());
  EXPECT_EQ(Read(10), std::string(10, 'x'));
  EXPECT_TRUE(ld_.InputRoom());
  // A canonical line stops growing short of the limit but still ends.
  LineDiscipline canon;
  std::vector<int> sigs;
  std::string line(kInputCapacity + 10, 'y');
  EXPECT_EQ(canon.ReceiveInput(line, &sigs), line.size());
  EXPECT_EQ(canon.ReceiveInput("\n", &sigs), 1u);
  bool eof = false;
  std::string got = canon.ReadInput(1 << 20, &eof);
  EXPECT_EQ(got.size(), kInputCapacity);
  EXPECT_EQ(got.back(), '\n');
}

TEST_F(LineDisciplineTest, OutputStopsAtCapacityAndOnVstop) {
  std::string big(kOutputCapacity + 10, 'z');
  EXPECT_EQ(ld_.WriteOutput(big), kOutputCapacity);
  EXPECT_FALSE(ld_.OutputRoom());
  ld_.ReadOutput(kOutputCapacity);
  Type("\x13");  // VSTOP with IXON
  EXPECT_FALSE(ld_.OutputRoom());
  Type("\x11");  // VSTART
  EXPECT_TRUE(ld_.OutputRoom());
}

}  // namespace
}  // namespace sentry::fsimpl::devpts
