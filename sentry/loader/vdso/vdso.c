/* The sentry's vDSO: clock_gettime, gettimeofday, time, getcpu and clock_getres served from
 * the parameter page the sentry keeps current ([vvar], just below this image), so that reading
 * a clock costs no trap. Whatever the page cannot answer (CPU clocks, coarse clocks, unknown ids,
 * a stale or untrusted line) is a real syscall, which the sentry serves with Linux's errors.
 *
 * Freestanding: no libc, no relocations (everything is hidden and reached RIP-relatively), no
 * stack protector. Entry points return what the syscall would: 0 or a negative errno. */
#include <stddef.h>
#include <stdint.h>

#include "vdso_params.h"

#define EXPORT __attribute__((visibility("default")))
#define NSEC_PER_SEC 1000000000ull

/* Linux's clock ids (uapi/linux/time.h). */
#define ID_REALTIME 0
#define ID_MONOTONIC 1
#define ID_MONOTONIC_RAW 4
#define ID_BOOTTIME 7
#define ID_TAI 11

#define NR_gettimeofday 96
#define NR_time 201
#define NR_clock_gettime 228
#define NR_clock_getres 229
#define NR_getcpu 309

struct vdso_timespec {
  int64_t tv_sec;
  int64_t tv_nsec;
};
struct vdso_timeval {
  int64_t tv_sec;
  int64_t tv_usec;
};
struct vdso_timezone {
  int tz_minuteswest;
  int tz_dsttime;
};

extern const char __ehdr_start[] __attribute__((visibility("hidden")));

static inline const volatile struct vdso_params* params(void) {
  return (const volatile struct vdso_params*)((uintptr_t)__ehdr_start - VDSO_PARAMS_SIZE);
}

static inline long sys3(long nr, long a, long b, long c) {
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a), "S"(b), "d"(c)
                   : "rcx", "r11", "memory");
  return ret;
}

/* lfence keeps the TSC read after the loads of seq and of the line before it. */
static inline uint64_t read_tsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
  return ((uint64_t)hi << 32) | lo;
}

static inline int clock_index(int id) {
  switch (id) {
    case ID_REALTIME:
      return VDSO_CLOCK_INDEX_REALTIME;
    case ID_MONOTONIC:
      return VDSO_CLOCK_INDEX_MONOTONIC;
    case ID_MONOTONIC_RAW:
      return VDSO_CLOCK_INDEX_MONOTONIC_RAW;
    case ID_BOOTTIME:
      return VDSO_CLOCK_INDEX_BOOTTIME;
    case ID_TAI:
      return VDSO_CLOCK_INDEX_TAI;
    default:
      return -1;
  }
}

/* Reads clock `index` from the page; 0 when the page cannot answer (then the caller traps). */
static inline int read_clock(int index, int64_t* sec_out, uint64_t* nsec_out) {
  const volatile struct vdso_params* p = params();
  int64_t sec;
  uint64_t ns;
  uint32_t seq;
  do {
    seq = __atomic_load_n(&p->seq, __ATOMIC_ACQUIRE);
    if (p->clock_mode != VDSO_CLOCK_TSC) return 0;
    const volatile struct vdso_clock_line* c = &p->slots[seq & 1].clocks[index];
    if (!c->valid) return 0;
    uint64_t base = c->base_cycles, mult = c->mult, max_delta = c->max_delta_cycles;
    uint32_t shift = c->shift;
    sec = c->base_sec;
    ns = c->base_nsec;
    uint64_t delta = read_tsc() - base;
    /* A TSC a little behind the base (another CPU's, or read before the writer's) is the
     * base: the line never runs backwards. */
    if ((int64_t)delta < 0) delta = 0;
    if (delta > max_delta) return 0;
    ns += (uint64_t)(((unsigned __int128)delta * mult) >> shift);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
  } while (__atomic_load_n(&p->seq, __ATOMIC_RELAXED) != seq);
  /* delta is bounded by max_delta (about a second), so this loops a few times at most; the
   * empty asm keeps the compiler from turning it into a division. */
  while (ns >= NSEC_PER_SEC) {
    ns -= NSEC_PER_SEC;
    ++sec;
    __asm__("" : "+r"(ns));
  }
  *sec_out = sec;
  *nsec_out = ns;
  return 1;
}

EXPORT int __vdso_clock_gettime(int id, struct vdso_timespec* ts) {
  int index = clock_index(id);
  int64_t sec;
  uint64_t ns;
  if (index >= 0 && read_clock(index, &sec, &ns)) {
    ts->tv_sec = sec;
    ts->tv_nsec = (int64_t)ns;
    return 0;
  }
  return (int)sys3(NR_clock_gettime, id, (long)ts, 0);
}

EXPORT int __vdso_gettimeofday(struct vdso_timeval* tv, struct vdso_timezone* tz) {
  int64_t sec;
  uint64_t ns;
  if (tv != NULL) {
    if (!read_clock(VDSO_CLOCK_INDEX_REALTIME, &sec, &ns)) {
      return (int)sys3(NR_gettimeofday, (long)tv, (long)tz, 0);
    }
    tv->tv_sec = sec;
    tv->tv_usec = (int64_t)(ns / 1000);
  }
  if (tz != NULL) {
    /* The sandbox runs in UTC, as the syscall reports. */
    tz->tz_minuteswest = 0;
    tz->tz_dsttime = 0;
  }
  return 0;
}

EXPORT long __vdso_time(long* t) {
  int64_t sec;
  uint64_t ns;
  if (!read_clock(VDSO_CLOCK_INDEX_REALTIME, &sec, &ns)) return sys3(NR_time, (long)t, 0, 0);
  if (t != NULL) *t = sec;
  return sec;
}

EXPORT int __vdso_getcpu(unsigned* cpu, unsigned* node, void* unused) {
  const volatile struct vdso_params* p = params();
  uint32_t mode = p->getcpu_mode, ncpus = p->num_cpus;
  uint64_t aux;
  if (mode == VDSO_GETCPU_RDPID && ncpus != 0) {
    __asm__ volatile("rdpid %0" : "=r"(aux));
  } else if (mode == VDSO_GETCPU_RDTSCP && ncpus != 0) {
    uint32_t lo, hi, c;
    __asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(c));
    aux = c;
  } else {
    return (int)sys3(NR_getcpu, (long)cpu, (long)node, (long)unused);
  }
  /* Linux keeps cpu | node << 12 in TSC_AUX; the sandbox reports one node and folds the host
   * CPU into its own CPUs, as its getcpu syscall does. */
  if (cpu != NULL) *cpu = (unsigned)((aux & 0xfff) % ncpus);
  if (node != NULL) *node = 0;
  return 0;
}

EXPORT int __vdso_clock_getres(int id, struct vdso_timespec* res) {
  int index = clock_index(id);
  const volatile struct vdso_params* p = params();
  if (index < 0 || p->clock_mode != VDSO_CLOCK_TSC) {
    return (int)sys3(NR_clock_getres, id, (long)res, 0);
  }
  if (res != NULL) {
    res->tv_sec = 0;
    res->tv_nsec = p->res_nsec[index];
  }
  return 0;
}

/* The unversioned names Linux's x86-64 vDSO also exports. */
EXPORT int clock_gettime(int, struct vdso_timespec*)
    __attribute__((weak, alias("__vdso_clock_gettime")));
EXPORT int gettimeofday(struct vdso_timeval*, struct vdso_timezone*)
    __attribute__((weak, alias("__vdso_gettimeofday")));
EXPORT long time(long*) __attribute__((weak, alias("__vdso_time")));
EXPORT int getcpu(unsigned*, unsigned*, void*) __attribute__((weak, alias("__vdso_getcpu")));
EXPORT int clock_getres(int, struct vdso_timespec*)
    __attribute__((weak, alias("__vdso_clock_getres")));
