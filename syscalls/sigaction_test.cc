// Signal dispositions, the signal mask and the alternate stack: rt_sigaction, rt_sigprocmask,
// sigaltstack. No signal is ever sent: these tests check what the kernel records and returns.
//
// The tests use the kernel's own structures through raw syscall(2), because glibc's wrappers
// translate them (sigset_t is 128 bytes in glibc, 8 in the kernel) and hide signals 32 and 33.
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "syscalls/test_util.h"

namespace {

// The x86-64 kernel's struct sigaction (rt_sigaction's argument).
struct KernelSigaction {
  uintptr_t handler;
  uint64_t flags;
  uintptr_t restorer;
  uint64_t mask;
};

constexpr size_t kSigsetSize = 8;
constexpr int kMaxSignal = 64;
constexpr uint64_t kSaRestorer = 0x04000000;
// Since Linux 5.11: set to probe for flag support, never reported back.
constexpr uint64_t kSaUnsupported = 0x400;

constexpr uint64_t Bit(int sig) { return uint64_t{1} << (sig - 1); }

long RtSigaction(int sig, const KernelSigaction* act, KernelSigaction* oact,
                 size_t size = kSigsetSize) {
  return syscall(SYS_rt_sigaction, sig, act, oact, size);
}

long RtSigprocmask(int how, const uint64_t* set, uint64_t* oldset, size_t size = kSigsetSize) {
  return syscall(SYS_rt_sigprocmask, how, set, oldset, size);
}

void Handler(int) {}
void Restorer() {}

// Puts a signal's disposition back as it was when the test began.
class SavedAction {
 public:
  explicit SavedAction(int sig) : sig_(sig) { ok_ = RtSigaction(sig, nullptr, &saved_) == 0; }
  ~SavedAction() {
    if (ok_) RtSigaction(sig_, &saved_, nullptr);
  }
  SavedAction(const SavedAction&) = delete;
  SavedAction& operator=(const SavedAction&) = delete;

 private:
  int sig_;
  bool ok_;
  KernelSigaction saved_{};
};

// Puts the signal mask back as it was when the test began.
class SavedMask {
 public:
  SavedMask() { RtSigprocmask(SIG_SETMASK, nullptr, &saved_); }
  ~SavedMask() { RtSigprocmask(SIG_SETMASK, &saved_, nullptr); }
  SavedMask(const SavedMask&) = delete;
  SavedMask& operator=(const SavedMask&) = delete;

 private:
  uint64_t saved_ = 0;
};

// --- rt_sigaction -------------------------------------------------------------------------------

TEST(RtSigactionTest, SetThenGetRoundTrips) {
  SavedAction saved(SIGUSR1);
  const KernelSigaction act{
      .handler = reinterpret_cast<uintptr_t>(&Handler),
      .flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK | SA_NODEFER | kSaRestorer,
      .restorer = reinterpret_cast<uintptr_t>(&Restorer),
      .mask = Bit(SIGUSR2) | Bit(SIGINT) | Bit(kMaxSignal),
  };
  ASSERT_SYSCALL_OK(RtSigaction(SIGUSR1, &act, nullptr));
  KernelSigaction got{};
  ASSERT_SYSCALL_OK(RtSigaction(SIGUSR1, nullptr, &got));
  EXPECT_EQ(got.handler, act.handler);
  EXPECT_EQ(got.flags, act.flags);
  EXPECT_EQ(got.restorer, act.restorer);
  EXPECT_EQ(got.mask, act.mask);
}

TEST(RtSigactionTest, SettingReturnsThePreviousAction) {
  SavedAction saved(SIGUSR2);
  const KernelSigaction first{.handler = reinterpret_cast<uintptr_t>(SIG_IGN),
                              .flags = kSaRestorer,
                              .restorer = reinterpret_cast<uintptr_t>(&Restorer),
                              .mask = Bit(SIGHUP)};
  ASSERT_SYSCALL_OK(RtSigaction(SIGUSR2, &first, nullptr));
  const KernelSigaction second{
      .handler = reinterpret_cast<uintptr_t>(SIG_DFL), .flags = 0, .restorer = 0, .mask = 0};
  KernelSigaction old{};
  ASSERT_SYSCALL_OK(RtSigaction(SIGUSR2, &second, &old));
  EXPECT_EQ(old.handler, reinterpret_cast<uintptr_t>(SIG_IGN));
  EXPECT_EQ(old.flags, kSaRestorer);
  EXPECT_EQ(old.restorer, reinterpret_cast<uintptr_t>(&Restorer));
  EXPECT_EQ(old.mask, Bit(SIGHUP));
  KernelSigaction got{};
  ASSERT_SYSCALL_OK(RtSigaction(SIGUSR2, nullptr, &got));
  EXPECT_EQ(got.handler, reinterpret_cast<uintptr_t>(SIG_DFL));
  EXPECT_EQ(got.flags, 0u);
  EXPECT_EQ(got.mask, 0u);
}

TEST(RtSigactionTest, EverySignalButKillAndStopCanBeSet) {
  for (int sig = 1; sig <= kMaxSignal; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    SavedAction saved(sig);
    const KernelSigaction act{.handler = reinterpret_cast<uintptr_t>(&Handler),
                              .flags = kSaRestorer,
                              .restorer = reinterpret_cast<uintptr_t>(&Restorer),
                              .mask = 0};
    EXPECT_SYSCALL_OK(RtSigaction(sig, &act, nullptr)) << "signal " << sig;
    KernelSigaction got{};
    EXPECT_SYSCALL_OK(RtSigaction(sig, nullptr, &got)) << "signal " << sig;
    EXPECT_EQ(got.handler, act.handler) << "signal " << sig;
  }
}

TEST(RtSigactionTest, KillAndStopCannotBeChanged) {
  for (int sig : {SIGKILL, SIGSTOP}) {
    for (uintptr_t handler :
         {reinterpret_cast<uintptr_t>(&Handler), reinterpret_cast<uintptr_t>(SIG_IGN),
          reinterpret_cast<uintptr_t>(SIG_DFL)}) {
      const KernelSigaction act{.handler = handler, .flags = 0, .restorer = 0, .mask = 0};
      EXPECT_SYSCALL_ERRNO(EINVAL, RtSigaction(sig, &act, nullptr)) << "signal " << sig;
    }
    // Reading their (default) action is allowed.
    KernelSigaction got{.handler = 1, .flags = 1, .restorer = 1, .mask = 1};
    EXPECT_SYSCALL_OK(RtSigaction(sig, nullptr, &got)) << "signal " << sig;
    EXPECT_EQ(got.handler, reinterpret_cast<uintptr_t>(SIG_DFL)) << "signal " << sig;
  }
}

TEST(RtSigactionTest, KillAndStopAreDroppedFromTheHandlerMask) {
  SavedAction saved(SIGUSR1);
  const KernelSigaction act{.handler = reinterpret_cast<uintptr_t>(&Handler),
                            .flags = kSaRestorer,
                            .restorer = reinterpret_cast<uintptr_t>(&Restorer),
                            .mask = ~uint64_t{0}};
  ASSERT_SYSCALL_OK(RtSigaction(SIGUSR1, &act, nullptr));
  KernelSigaction got{};
  ASSERT_SYSCALL_OK(RtSigaction(SIGUSR1, nullptr, &got));
  EXPECT_EQ(got.mask, ~(Bit(SIGKILL) | Bit(SIGSTOP)));
}

TEST(RtSigactionTest, UnknownFlagsAreNotReportedBack) {
  SavedAction saved(SIGUSR1);
  // The probe that sigaction(2) describes: unsupported bits read back clear.
  const KernelSigaction act{.handler = reinterpret_cast<uintptr_t>(&Handler),
                            .flags = SA_SIGINFO | kSaRestorer | kSaUnsupported,
                            .restorer = reinterpret_cast<uintptr_t>(&Restorer),
                            .mask = 0};
  ASSERT_SYSCALL_OK(RtSigaction(SIGUSR1, &act, nullptr));
  KernelSigaction got{};
  ASSERT_SYSCALL_OK(RtSigaction(SIGUSR1, nullptr, &got));
  EXPECT_EQ(got.flags, SA_SIGINFO | kSaRestorer);
}

TEST(RtSigactionTest, BadSignalNumberIsEINVAL) {
  const KernelSigaction act{
      .handler = reinterpret_cast<uintptr_t>(SIG_DFL), .flags = 0, .restorer = 0, .mask = 0};
  for (int sig : {0, kMaxSignal + 1, 100, -1}) {
    KernelSigaction got{};
    EXPECT_SYSCALL_ERRNO(EINVAL, RtSigaction(sig, &act, nullptr)) << "signal " << sig;
    EXPECT_SYSCALL_ERRNO(EINVAL, RtSigaction(sig, nullptr, &got)) << "signal " << sig;
    EXPECT_SYSCALL_ERRNO(EINVAL, RtSigaction(sig, nullptr, nullptr)) << "signal " << sig;
  }
}

TEST(RtSigactionTest, WrongSigsetSizeIsEINVAL) {
  KernelSigaction got{};
  for (size_t size : {size_t{0}, size_t{4}, size_t{16}, size_t{128}}) {
    EXPECT_SYSCALL_ERRNO(EINVAL, RtSigaction(SIGUSR1, nullptr, &got, size)) << "size " << size;
  }
}

TEST(RtSigactionTest, BadPointerIsEFAULT) {
  EXPECT_SYSCALL_ERRNO(EFAULT,
                       RtSigaction(SIGUSR1, reinterpret_cast<const KernelSigaction*>(1), nullptr));
  EXPECT_SYSCALL_ERRNO(EFAULT,
                       RtSigaction(SIGUSR1, nullptr, reinterpret_cast<KernelSigaction*>(1)));
}

TEST(RtSigactionTest, NeitherPointerIsFine) {
  EXPECT_SYSCALL_OK(RtSigaction(SIGUSR1, nullptr, nullptr));
}

// --- rt_sigprocmask -----------------------------------------------------------------------------

TEST(RtSigprocmaskTest, BlockUnblockAndSetmaskRoundTrip) {
  SavedMask saved;
  const uint64_t none = 0;
  ASSERT_SYSCALL_OK(RtSigprocmask(SIG_SETMASK, &none, nullptr));

  const uint64_t usr1 = Bit(SIGUSR1);
  uint64_t old = ~uint64_t{0};
  ASSERT_SYSCALL_OK(RtSigprocmask(SIG_BLOCK, &usr1, &old));
  EXPECT_EQ(old, 0u);

  const uint64_t usr2_rt = Bit(SIGUSR2) | Bit(kMaxSignal);
  ASSERT_SYSCALL_OK(RtSigprocmask(SIG_BLOCK, &usr2_rt, &old));
  EXPECT_EQ(old, usr1);

  ASSERT_SYSCALL_OK(RtSigprocmask(SIG_UNBLOCK, &usr1, &old));
  EXPECT_EQ(old, usr1 | usr2_rt);

  uint64_t now = 0;
  ASSERT_SYSCALL_OK(RtSigprocmask(SIG_SETMASK, nullptr, &now));
  EXPECT_EQ(now, usr2_rt);

  const uint64_t hup = Bit(SIGHUP);
  ASSERT_SYSCALL_OK(RtSigprocmask(SIG_SETMASK, &hup, &old));
  EXPECT_EQ(old, usr2_rt);
  ASSERT_SYSCALL_OK(RtSigprocmask(SIG_BLOCK, nullptr, &now));
  EXPECT_EQ(now, hup);
}

TEST(RtSigprocmaskTest, KillAndStopCannotBeBlocked) {
  SavedMask saved;
  const uint64_t all = ~uint64_t{0};
  ASSERT_SYSCALL_OK(RtSigprocmask(SIG_SETMASK, &all, nullptr));
  uint64_t now = 0;
  ASSERT_SYSCALL_OK(RtSigprocmask(SIG_SETMASK, nullptr, &now));
  EXPECT_EQ(now, ~(Bit(SIGKILL) | Bit(SIGSTOP)));

  const uint64_t none = 0;
  ASSERT_SYSCALL_OK(RtSigprocmask(SIG_SETMASK, &none, nullptr));
  const uint64_t kill_stop = Bit(SIGKILL) | Bit(SIGSTOP);
  ASSERT_SYSCALL_OK(RtSigprocmask(SIG_BLOCK, &kill_stop, nullptr));
  ASSERT_SYSCALL_OK(RtSigprocmask(SIG_SETMASK, nullptr, &now));
  EXPECT_EQ(now, 0u);
}

TEST(RtSigprocmaskTest, InvalidHowIsEINVAL) {
  SavedMask saved;
  const uint64_t usr1 = Bit(SIGUSR1);
  for (int how : {3, -1, 100}) {
    EXPECT_SYSCALL_ERRNO(EINVAL, RtSigprocmask(how, &usr1, nullptr)) << "how " << how;
  }
}

TEST(RtSigprocmaskTest, HowIsIgnoredWithoutANewSet) {
  uint64_t now = 0;
  EXPECT_SYSCALL_OK(RtSigprocmask(100, nullptr, &now));
  EXPECT_SYSCALL_OK(RtSigprocmask(-1, nullptr, nullptr));
}

TEST(RtSigprocmaskTest, WrongSigsetSizeIsEINVAL) {
  uint64_t now = 0;
  for (size_t size : {size_t{0}, size_t{4}, size_t{16}, size_t{128}}) {
    EXPECT_SYSCALL_ERRNO(EINVAL, RtSigprocmask(SIG_BLOCK, nullptr, &now, size)) << "size " << size;
  }
}

TEST(RtSigprocmaskTest, BadPointerIsEFAULT) {
  SavedMask saved;
  EXPECT_SYSCALL_ERRNO(EFAULT,
                       RtSigprocmask(SIG_BLOCK, reinterpret_cast<const uint64_t*>(1), nullptr));
  EXPECT_SYSCALL_ERRNO(EFAULT, RtSigprocmask(SIG_BLOCK, nullptr, reinterpret_cast<uint64_t*>(1)));
}

// --- sigaltstack --------------------------------------------------------------------------------

// Puts the alternate stack back as it was when the test began.
class SavedAltStack {
 public:
  SavedAltStack() { syscall(SYS_sigaltstack, nullptr, &saved_); }
  ~SavedAltStack() { syscall(SYS_sigaltstack, &saved_, nullptr); }
  SavedAltStack(const SavedAltStack&) = delete;
  SavedAltStack& operator=(const SavedAltStack&) = delete;

 private:
  stack_t saved_{};
};

TEST(SigaltstackTest, SetThenGetRoundTrips) {
  SavedAltStack saved;
  std::vector<char> stack(64 * 1024);
  const stack_t ss{.ss_sp = stack.data(), .ss_flags = 0, .ss_size = stack.size()};
  ASSERT_SYSCALL_OK(syscall(SYS_sigaltstack, &ss, nullptr));
  stack_t got{};
  ASSERT_SYSCALL_OK(syscall(SYS_sigaltstack, nullptr, &got));
  EXPECT_EQ(got.ss_sp, stack.data());
  EXPECT_EQ(got.ss_size, stack.size());
  // Not running on it, so SS_ONSTACK is clear.
  EXPECT_EQ(got.ss_flags, 0);
}

TEST(SigaltstackTest, DisablingForgetsTheStack) {
  SavedAltStack saved;
  std::vector<char> stack(64 * 1024);
  const stack_t ss{.ss_sp = stack.data(), .ss_flags = 0, .ss_size = stack.size()};
  ASSERT_SYSCALL_OK(syscall(SYS_sigaltstack, &ss, nullptr));
  const stack_t off{.ss_sp = nullptr, .ss_flags = SS_DISABLE, .ss_size = 0};
  stack_t old{};
  ASSERT_SYSCALL_OK(syscall(SYS_sigaltstack, &off, &old));
  EXPECT_EQ(old.ss_sp, stack.data());
  stack_t got{};
  ASSERT_SYSCALL_OK(syscall(SYS_sigaltstack, nullptr, &got));
  EXPECT_EQ(got.ss_flags, SS_DISABLE);
  EXPECT_EQ(got.ss_sp, nullptr);
  EXPECT_EQ(got.ss_size, 0u);
}

TEST(SigaltstackTest, TooSmallIsENOMEM) {
  SavedAltStack saved;
  std::vector<char> stack(1024);
  // Below MINSIGSTKSZ (2048).
  const stack_t ss{.ss_sp = stack.data(), .ss_flags = 0, .ss_size = stack.size()};
  EXPECT_SYSCALL_ERRNO(ENOMEM, syscall(SYS_sigaltstack, &ss, nullptr));
}

TEST(SigaltstackTest, InvalidFlagsAreEINVAL) {
  SavedAltStack saved;
  std::vector<char> stack(64 * 1024);
  const stack_t ss{.ss_sp = stack.data(), .ss_flags = 0x10, .ss_size = stack.size()};
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_sigaltstack, &ss, nullptr));
}

TEST(SigaltstackTest, BadPointerIsEFAULT) {
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_sigaltstack, 1, nullptr));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_sigaltstack, nullptr, 1));
}

}  // namespace
