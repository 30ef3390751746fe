#include "sentry/loader/vdso.h"

#include <cpuid.h>
#include <sched.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "sentry/mm/mappable.h"
#include "spdlog/spdlog.h"

namespace sentry::loader {

// The image, built from vdso/vdso.c and embedded by the build (vdso_image.cc, generated).
extern const unsigned char kVdsoImage[];
extern const size_t kVdsoImageSize;

namespace {

// Host clock ids in the page's slot order (VDSO_CLOCK_INDEX_*).
constexpr std::array<clockid_t, VDSO_NUM_CLOCKS> kClockIds = {
    CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_BOOTTIME, CLOCK_TAI};
// Refreshes come at least this often, and no more often than the minimum.
constexpr int64_t kMaxRefreshNs = 50'000'000;
constexpr int64_t kMinRefreshNs = 1'000'000;

uint64_t ReadTscAux(uint32_t mode) {
  uint64_t aux = 0;
  if (mode == VDSO_GETCPU_RDPID) {
    asm volatile("rdpid %0" : "=r"(aux));
  } else {
    uint32_t lo, hi, c;
    asm volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(c));
    aux = c;
  }
  return aux;
}

// RDPID (or RDTSCP) reads TSC_AUX, where Linux keeps cpu | node << 12; believe it only when it
// names the CPU the host says we are on.
uint32_t DetectGetcpuMode() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  uint32_t mode = VDSO_GETCPU_SYSCALL;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (c & (1u << 22))) {
    mode = VDSO_GETCPU_RDPID;
  } else if (__get_cpuid(0x80000001, &a, &b, &c, &d) && (d & (1u << 27))) {
    mode = VDSO_GETCPU_RDTSCP;
  } else {
    return VDSO_GETCPU_SYSCALL;
  }
  for (int attempt = 0; attempt < 10; ++attempt) {
    uint64_t before = ReadTscAux(mode);
    int cpu = sched_getcpu();
    uint64_t after = ReadTscAux(mode);
    if (before != after) continue;  // migrated in between
    return cpu >= 0 && (before & 0xfff) == static_cast<uint64_t>(cpu) ? mode : VDSO_GETCPU_SYSCALL;
  }
  return VDSO_GETCPU_SYSCALL;
}

bool TscIsInvariant() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid(0x80000007, &a, &b, &c, &d) && (d & (1u << 8));
}

}  // namespace

bool HostClocksRunOnTsc() {
  std::ifstream f("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string source;
  f >> source;
  bool invariant = TscIsInvariant();
  if (source != "tsc" || !invariant) {
    spdlog::info("vdso: clocks by syscall (host clocksource '{}', {}invariant TSC)", source,
                 invariant ? "" : "no ");
    return false;
  }
  return true;
}

absl::StatusOr<std::unique_ptr<Vdso>> Vdso::Create(mm::MemoryFile& file,
                                                   const VdsoOptions& options) {
  if (kVdsoImageSize < 64 || std::memcmp(kVdsoImage,
                                         "\x7f"
                                         "ELF",
                                         4) != 0) {
    return absl::InternalError("the embedded vDSO image is not an ELF file");
  }
  uint64_t image_size = *PageRoundUp(kVdsoImageSize);
  auto offset = file.Allocate(VDSO_PARAMS_SIZE + image_size);
  if (!offset) return absl::ResourceExhaustedError("no memory for the vDSO");
  std::memcpy(file.Access(*offset + VDSO_PARAMS_SIZE), kVdsoImage, kVdsoImageSize);
  auto* params = reinterpret_cast<vdso_params*>(file.Access(*offset));
  params->clock_mode = options.tsc_clocks ? VDSO_CLOCK_TSC : VDSO_CLOCK_SYSCALL;
  params->getcpu_mode = DetectGetcpuMode();
  params->num_cpus = std::max(1u, options.num_cpus);
  for (size_t i = 0; i < kClockIds.size(); ++i) {
    timespec res{};
    clock_getres(kClockIds[i], &res);
    params->res_nsec[i] = res.tv_nsec;
  }
  // Lines start invalid (every slot zeroed): reads trap until the first refresh has a slope.
  auto vdso = std::unique_ptr<Vdso>(new Vdso(file, *offset, image_size, options.tsc_clocks));
  if (options.tsc_clocks) vdso->Refresh();  // a first sample, the start of the baseline
  return vdso;
}

class Vdso::ImagePages final : public mm::Mappable {
 public:
  // Holds a reference on the pages of its own: mappings that refault them may outlive the Vdso.
  ImagePages(mm::MemoryFile& file, uint64_t offset, uint64_t pages)
      : file_(file), offset_(offset), pages_(pages) {
    file_.IncRef(offset_, pages_ * kPageSize);
  }
  ~ImagePages() override { file_.DecRef(offset_, pages_ * kPageSize); }
  ImagePages(const ImagePages&) = delete;
  ImagePages& operator=(const ImagePages&) = delete;

  Result<uint64_t> PageFor(uint64_t index) override {
    if (index >= pages_) return Err(ENXIO);
    return offset_ + index * kPageSize;
  }
  void ForEachPresentPage(uint64_t first, uint64_t count,
                          const std::function<void(uint64_t, uint64_t)>& fn) override {
    for (uint64_t i = first; i < pages_ && i - first < count; ++i) fn(i, offset_ + i * kPageSize);
  }
  bool PagesArePermanent() const override { return true; }

 private:
  mm::MemoryFile& file_;
  const uint64_t offset_;
  const uint64_t pages_;
};

Vdso::Vdso(mm::MemoryFile& file, uint64_t offset, uint64_t image_size, bool tsc_clocks)
    : file_(file),
      offset_(offset),
      image_size_(image_size),
      tsc_clocks_(tsc_clocks),
      params_(reinterpret_cast<vdso_params*>(file.Access(offset))),
      image_pages_(
          std::make_shared<ImagePages>(file, offset + VDSO_PARAMS_SIZE, image_size / kPageSize)),
      followers_{ClockFollower(true), ClockFollower(false), ClockFollower(false),
                 ClockFollower(false), ClockFollower(true)} {}

Vdso::~Vdso() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (refresher_.joinable()) refresher_.join();
  // Address spaces still mapping the pages hold references of their own.
  file_.DecRef(offset_, span());
}

Result<void> Vdso::MapInto(mm::MemoryManager& mm, uint64_t vdso_base) {
  if (vdso_base < VDSO_PARAMS_SIZE) return Err(EINVAL);
  // The [vvar] is Linux's VM_PFNMAP: no source, so MADV_DONTNEED is EINVAL there.
  TRY(mm.MapSpecial(vdso_base - VDSO_PARAMS_SIZE, {.offset = offset_,
                                                   .length = VDSO_PARAMS_SIZE,
                                                   .perms = platform::kAccessRead,
                                                   .max_perms = platform::kAccessRead,
                                                   .name = "[vvar]",
                                                   .source = nullptr}));
  // Linux lets mprotect make the vDSO writable (a debugger's breakpoint); never the [vvar].
  constexpr uint8_t kAll = platform::kAccessRead | platform::kAccessWrite | platform::kAccessExec;
  if (auto r = mm.MapSpecial(vdso_base, {.offset = offset_ + VDSO_PARAMS_SIZE,
                                         .length = image_size_,
                                         .perms = platform::kAccessRead | platform::kAccessExec,
                                         .max_perms = kAll,
                                         .name = "[vdso]",
                                         .source = image_pages_});
      !r) {
    (void)mm.MUnmap(UserAddr(vdso_base - VDSO_PARAMS_SIZE), VDSO_PARAMS_SIZE);
    return r;
  }
  if (tsc_clocks_) std::call_once(start_, [this] { refresher_ = std::thread([this] { Run(); }); });
  return {};
}

int64_t Vdso::Refresh() {
  std::array<ClockSample, VDSO_NUM_CLOCKS> samples;
  for (size_t i = 0; i < kClockIds.size(); ++i) samples[i] = SampleHostClock(kClockIds[i]);
  // Written into the slot readers are not using, then made current by bumping seq.
  std::atomic_ref<uint32_t> seq(params_->seq);
  uint32_t next = seq.load(std::memory_order_relaxed) + 1;
  vdso_clock_slot slot{};
  int64_t due = kMaxRefreshNs;
  uint64_t now = ReadTscOrdered();
  for (size_t i = 0; i < kClockIds.size(); ++i) {
    auto line = followers_[i].Update(samples[i], now);
    if (!line) {
      due = kMinRefreshNs;
      continue;
    }
    slot.clocks[i] = {.base_cycles = line->base_cycles,
                      .base_sec = line->base_ns / 1'000'000'000,
                      .base_nsec = static_cast<uint64_t>(line->base_ns % 1'000'000'000),
                      .mult = line->mult,
                      .shift = ClockLine::kShift,
                      .valid = 1,
                      .max_delta_cycles = line->max_delta_cycles};
    if (slot.clocks[i].base_nsec >= 1'000'000'000) {  // a time before 1970: % was negative
      slot.clocks[i].base_sec -= 1;
      slot.clocks[i].base_nsec += 1'000'000'000;
    }
    // Refresh well before the line runs out (its horizon, in ns at ~mult).
    int64_t horizon_ns = static_cast<int64_t>(
        (static_cast<unsigned __int128>(line->max_delta_cycles) * line->mult) >> ClockLine::kShift);
    due = std::min(due, horizon_ns / 2);
  }
  std::memcpy(&params_->slots[next & 1], &slot, sizeof(slot));
  seq.store(next, std::memory_order_release);
  return std::clamp(due, kMinRefreshNs, kMaxRefreshNs);
}

void Vdso::Run() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    int64_t due = Refresh();
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Nanoseconds(due));
  }
}

}  // namespace sentry::loader
