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

constexpr uint64_t kUcFpXstate = 0x1;
constexpr uint64_t kUcSigcontextSs = 0x2;
constexpr uint64_t kUcStrictRestoreSs = 0x4;
constexpr uint64_t kSaRestorer = 0x04000000;
constexpr int kSsAutoDisarm = static_cast<int>(1U << 31);
// Linux's FIX_EFLAGS: the flags a handler may change through its frame.
constexpr uint64_t kUserEflags = 0x50DD5;
constexpr uint64_t kEflagsTf = 0x100, kEflagsDf = 0x400, kEflagsRf = 0x10000;
constexpr uint64_t kRedZone = 128;

uint64_t RoundDown(uint64_t v, uint64_t a) { return v & ~(a - 1); }

// The XSAVE area in a frame: the fxsave image's software-reserved bytes say how big it is and
// which features it holds (Linux's struct _fpx_sw_bytes), and a second magic word follows it.
constexpr size_t kFxsaveSize = 512;
constexpr size_t kXsaveHeaderSize = 64;
constexpr size_t kSwBytesOffset = 464;
constexpr uint32_t kFpXstateMagic1 = 0x46505853;
constexpr uint32_t kFpXstateMagic2 = 0x46505845;
constexpr size_t kMaxXstateSize = 64 * 1024;
struct FpxSwBytes {
  uint32_t magic1;
  uint32_t extended_size;  // the XSAVE area plus magic2
  uint64_t xfeatures;
  uint32_t xstate_size;
  uint32_t padding[7];
};
static_assert(sizeof(FpxSwBytes) == 48);

// XCR0: the state components the host enabled, which a restored header may name.
uint64_t EnabledXFeatures() {
  uint32_t eax, edx;
  asm volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t{edx} << 32) | eax;
}

// The size of the XSAVE area for the features XCR0 enables (CPUID leaf 0xD): what
// PTRACE_SETREGSET(NT_X86_XSTATE) takes, and so the only size a frame's area may have here.
size_t HostXstateSize() {
  uint32_t eax = 0xd, ebx, ecx = 0, edx;
  asm volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
  return ebx;
}

// Whether an XSAVE area is one the host will take: standard format (XCOMP_BV 0), features it
// enabled, reserved header bytes zero, and no reserved MXCSR bits. Linux refuses the frame
// otherwise.
bool ValidXstate(const std::vector<uint8_t>& x) {
  uint32_t mxcsr;
  std::memcpy(&mxcsr, x.data() + 24, sizeof(mxcsr));
  if (mxcsr & ~0xffffu) return false;
  if (x.size() < kFxsaveSize + kXsaveHeaderSize) return true;
  uint64_t header[8];
  std::memcpy(header, x.data() + kFxsaveSize, sizeof(header));
  if (header[0] & ~EnabledXFeatures()) return false;  // XSTATE_BV
  for (int i = 1; i < 8; ++i) {
    if (header[i] != 0) return false;  // XCOMP_BV and the reserved words
  }
  return true;
}

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
  const std::vector<uint8_t>& x = setup.fpstate;
  if (x.size() < kFxsaveSize || x.size() > kMaxXstateSize) return Err(EFAULT);
  const bool has_xstate = x.size() >= kFxsaveSize + kXsaveHeaderSize;
  // The XSAVE area, then magic2 (no second word for a bare fxsave image).
  uint64_t fp_size = has_xstate ? x.size() + sizeof(uint32_t) : kFxsaveSize;
  uint64_t fp_addr = RoundDown(sp - fp_size, 64);
  uint64_t frame_addr = RoundDown(fp_addr - sizeof(RtSigframe), 16) - 8;
  // A frame that ran off the alternate stack it was meant for is the handler's overflow.
  if (frame_addr > sp) return Err(EFAULT);

  RtSigframe f{};
  f.pretcode = setup.action.restorer;
  f.uc.flags = kUcSigcontextSs | kUcStrictRestoreSs | (has_xstate ? kUcFpXstate : 0);
  f.uc.stack.sp = alt.sp;
  f.uc.stack.size = alt.size;
  f.uc.stack.flags = !alt_usable
                         ? SS_DISABLE
                         : (OnAltStack(alt, r.rsp) ? SS_ONSTACK : 0) | (alt.flags & kSsAutoDisarm);
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
  std::vector<uint8_t> image = x;
  FpxSwBytes sw{};
  if (has_xstate) {
    uint64_t xstate_bv;
    std::memcpy(&xstate_bv, image.data() + kFxsaveSize, sizeof(xstate_bv));
    sw = FpxSwBytes{.magic1 = kFpXstateMagic1,
                    .extended_size = static_cast<uint32_t>(fp_size),
                    .xfeatures = EnabledXFeatures(),
                    .xstate_size = static_cast<uint32_t>(x.size()),
                    .padding = {}};
    uint32_t magic2 = kFpXstateMagic2;
    image.resize(fp_size);
    std::memcpy(image.data() + x.size(), &magic2, sizeof(magic2));
  }
  // ptrace's image keeps XCR0 there; a frame keeps its own description (or nothing).
  std::memcpy(image.data() + kSwBytesOffset, &sw, sizeof(sw));
  TRY(mm.CopyOut(UserAddr(fp_addr), image.data(), image.size()));
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
  RestoredFrame out{
      .mask = f.uc.sigmask & ~kUnblockable, .stack = f.uc.stack, .xstate = {}, .fp = {}};
  if (c.fpstate == 0) return out;
  user_fpregs_struct fp = TRY(mm.CopyInObject<user_fpregs_struct>(UserAddr(c.fpstate)));
  // Reserved MXCSR bits would make the host refuse the whole state; Linux refuses the frame.
  if (fp.mxcsr & ~0xffffu) return Err(EFAULT);
  out.fp = fp;
  // An XSAVE area counts only if the frame says so and both magic words are in place; else the
  // fxsave part alone is restored, as Linux does for a frame a program built itself.
  FpxSwBytes sw;
  std::memcpy(&sw, reinterpret_cast<const uint8_t*>(&fp) + kSwBytesOffset, sizeof(sw));
  if (!(f.uc.flags & kUcFpXstate) || sw.magic1 != kFpXstateMagic1 ||
      sw.xstate_size != HostXstateSize() || sw.xstate_size > kMaxXstateSize ||
      sw.extended_size != sw.xstate_size + sizeof(uint32_t)) {
    return out;
  }
  uint32_t magic2 = TRY(mm.CopyInObject<uint32_t>(UserAddr(c.fpstate + sw.xstate_size)));
  if (magic2 != kFpXstateMagic2) return out;
  std::vector<uint8_t> x(sw.xstate_size);
  TRY(mm.CopyIn(UserAddr(c.fpstate), x.data(), x.size()));
  if (!ValidXstate(x)) return Err(EFAULT);
  out.xstate = std::move(x);
  out.fp.reset();
  return out;
}

}  // namespace sentry::kernel
