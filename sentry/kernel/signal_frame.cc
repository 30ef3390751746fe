#include "sentry/kernel/signal_frame.h"

#include <cstddef>
#include <cstring>

namespace sentry::kernel {
namespace {

// struct sigcontext (amd64): the general registers as the handler sees them.
struct SigContext {
  uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
  uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
  uint16_t cs, gs, fs, ss;
  uint64_t err, trapno, oldmask, cr2;
  uint64_t fpstate;  // address of the fxsave area
  uint64_t reserved1[8];
};
static_assert(sizeof(SigContext) == 256);

// The kernel's struct ucontext: its sigset is 8 bytes, unlike glibc's ucontext_t, whose longer
// tail overlays the siginfo that follows (glibc reads only the first 8 bytes of it).
struct UContext {
  uint64_t flags;
  uint64_t link;
  KernelStack stack;
  SigContext mcontext;
  uint64_t sigmask;
};
static_assert(sizeof(UContext) == 304);

struct RtSigframe {
  uint64_t pretcode;  // the restorer the handler returns into
  UContext uc;
  siginfo_t info;
};
static_assert(sizeof(RtSigframe) == 440);

constexpr uint64_t kUcSigcontextSs = 0x2;
constexpr uint64_t kUcStrictRestoreSs = 0x4;
constexpr uint64_t kSaRestorer = 0x04000000;
constexpr int kSsAutoDisarm = static_cast<int>(1U << 31);
// Linux's FIX_EFLAGS: the flags a handler may change through its frame.
constexpr uint64_t kUserEflags = 0x50DD5;
constexpr uint64_t kEflagsTf = 0x100, kEflagsDf = 0x400, kEflagsRf = 0x10000;
constexpr uint64_t kRedZone = 128;

uint64_t RoundDown(uint64_t v, uint64_t a) { return v & ~(a - 1); }

}  // namespace

bool OnAltStack(const KernelStack& s, uint64_t sp) {
  return s.flags != SS_DISABLE && s.size != 0 && sp > s.sp && sp - s.sp <= s.size;
}

Result<void> PushSignalFrame(mm::MemoryManager& mm, arch::CpuState& state,
                             const SignalFrameSetup& setup) {
  const user_regs_struct& r = state.regs;
  if (!(setup.action.flags & kSaRestorer)) return Err(EFAULT);  // amd64 has no default restorer
  uint64_t sp = r.rsp - kRedZone;
  const KernelStack& alt = setup.alt_stack;
  bool alt_usable = alt.flags != SS_DISABLE && alt.size != 0;
  if ((setup.action.flags & SA_ONSTACK) && alt_usable && !OnAltStack(alt, r.rsp)) {
    sp = alt.sp + alt.size;
  }
  uint64_t fp_addr = RoundDown(sp - sizeof(user_fpregs_struct), 64);
  uint64_t frame_addr = RoundDown(fp_addr - sizeof(RtSigframe), 16) - 8;
  // A frame that ran off the alternate stack it was meant for is the handler's overflow.
  if (frame_addr > sp) return Err(EFAULT);

  RtSigframe f{};
  f.pretcode = setup.action.restorer;
  f.uc.flags = kUcSigcontextSs | kUcStrictRestoreSs;
  f.uc.stack.sp = alt.sp;
  f.uc.stack.size = alt.size;
  f.uc.stack.flags = !alt_usable ? SS_DISABLE : (OnAltStack(alt, r.rsp) ? SS_ONSTACK : 0) |
                                                    (alt.flags & kSsAutoDisarm);
  SigContext& c = f.uc.mcontext;
  c.r8 = r.r8, c.r9 = r.r9, c.r10 = r.r10, c.r11 = r.r11;
  c.r12 = r.r12, c.r13 = r.r13, c.r14 = r.r14, c.r15 = r.r15;
  c.rdi = r.rdi, c.rsi = r.rsi, c.rbp = r.rbp, c.rbx = r.rbx;
  c.rdx = r.rdx, c.rax = r.rax, c.rcx = r.rcx, c.rsp = r.rsp;
  c.rip = r.rip, c.eflags = r.eflags;
  c.cs = static_cast<uint16_t>(r.cs);
  c.ss = static_cast<uint16_t>(r.ss);
  c.oldmask = setup.saved_mask;
  c.fpstate = fp_addr;
  if (setup.info.si_signo == SIGSEGV || setup.info.si_signo == SIGBUS) {
    c.cr2 = reinterpret_cast<uint64_t>(setup.info.si_addr);
  }
  f.uc.sigmask = setup.saved_mask;
  f.info = setup.info;
  TRY(mm.CopyOutObject(UserAddr(fp_addr), setup.fp));
  TRY(mm.CopyOutObject(UserAddr(frame_addr), f));

  user_regs_struct& w = state.regs;
  w.rsp = frame_addr;
  w.rip = setup.action.handler;
  w.rdi = static_cast<uint64_t>(setup.info.si_signo);
  w.rsi = frame_addr + offsetof(RtSigframe, info);
  w.rdx = frame_addr + offsetof(RtSigframe, uc);
  w.rax = 0;
  w.eflags &= ~(kEflagsTf | kEflagsDf | kEflagsRf);
  w.cs = arch::CpuState::kUserCs;
  w.ss = arch::CpuState::kUserDs;
  w.orig_rax = ~0ULL;  // not in a syscall any more: nothing to restart
  return {};
}

Result<RestoredFrame> PopSignalFrame(mm::MemoryManager& mm, arch::CpuState& state) {
  uint64_t frame_addr = state.regs.rsp - 8;
  RtSigframe f = TRY(mm.CopyInObject<RtSigframe>(UserAddr(frame_addr)));
  const SigContext& c = f.uc.mcontext;
  user_regs_struct& w = state.regs;
  w.r8 = c.r8, w.r9 = c.r9, w.r10 = c.r10, w.r11 = c.r11;
  w.r12 = c.r12, w.r13 = c.r13, w.r14 = c.r14, w.r15 = c.r15;
  w.rdi = c.rdi, w.rsi = c.rsi, w.rbp = c.rbp, w.rbx = c.rbx;
  w.rdx = c.rdx, w.rax = c.rax, w.rcx = c.rcx, w.rsp = c.rsp;
  w.rip = c.rip;
  w.eflags = (w.eflags & ~kUserEflags) | (c.eflags & kUserEflags);
  w.cs = arch::CpuState::kUserCs;
  w.ss = arch::CpuState::kUserDs;
  w.orig_rax = ~0ULL;
  RestoredFrame out{.mask = f.uc.sigmask & ~kUnblockable, .stack = f.uc.stack, .fp = {}};
  if (c.fpstate != 0) {
    user_fpregs_struct fp = TRY(mm.CopyInObject<user_fpregs_struct>(UserAddr(c.fpstate)));
    // Reserved MXCSR bits would make the host refuse the whole state; Linux refuses the frame.
    if (fp.mxcsr & ~0xffffu) return Err(EFAULT);
    out.fp = fp;
  }
  return out;
}

}  // namespace sentry::kernel
