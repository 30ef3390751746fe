/* The parameter page ([vvar]) that the sentry keeps current and the vDSO reads. Shared by the
 * sentry (C++) and the vDSO image (C, freestanding), so it holds plain fixed-size fields only.
 *
 * The page sits just below the vDSO's ELF header; the vDSO finds it RIP-relatively. Each clock
 * is a line over the TSC: ns = base_nsec + ((tsc - base_cycles) * mult >> shift), added to
 * base_sec. The sentry writes a new line into the slot readers are not using (seq + 1) & 1 and
 * then bumps seq, so readers never wait for a writer: they retry when seq moved under them. */
#ifndef SENTRY_LOADER_VDSO_VDSO_PARAMS_H_
#define SENTRY_LOADER_VDSO_VDSO_PARAMS_H_

#include <stdint.h>

#define VDSO_PARAMS_SIZE 4096u

/* How the vDSO reads clocks: from the TSC lines below, or by a real syscall. */
#define VDSO_CLOCK_SYSCALL 0u
#define VDSO_CLOCK_TSC 1u

/* How getcpu finds the CPU: syscall, or the host's TSC_AUX (cpu | node << 12) via RDPID or
 * RDTSCP. */
#define VDSO_GETCPU_SYSCALL 0u
#define VDSO_GETCPU_RDPID 1u
#define VDSO_GETCPU_RDTSCP 2u

/* The clocks the vDSO serves, in slot order. */
#define VDSO_CLOCK_INDEX_REALTIME 0
#define VDSO_CLOCK_INDEX_MONOTONIC 1
#define VDSO_CLOCK_INDEX_MONOTONIC_RAW 2
#define VDSO_CLOCK_INDEX_BOOTTIME 3
#define VDSO_CLOCK_INDEX_TAI 4
#define VDSO_NUM_CLOCKS 5

struct vdso_clock_line {
  uint64_t base_cycles;
  int64_t base_sec;
  uint64_t base_nsec; /* < 1e9 */
  uint64_t mult;      /* nanoseconds per cycle, << shift */
  uint32_t shift;
  /* 0: this clock is read by syscall (its line is not trustworthy now). */
  uint32_t valid;
  /* Readings further than this past base_cycles go to the syscall: the line has not been
   * refreshed for too long to be trusted within the lead the sentry promises. */
  uint64_t max_delta_cycles;
};

struct vdso_clock_slot {
  struct vdso_clock_line clocks[VDSO_NUM_CLOCKS];
};

struct vdso_params {
  uint32_t seq; /* slot (seq & 1) is current */
  uint32_t clock_mode;
  uint32_t getcpu_mode;
  uint32_t num_cpus; /* getcpu folds the host CPU into the sandbox's CPUs, as the syscall */
  int64_t res_nsec[VDSO_NUM_CLOCKS]; /* clock_getres of each clock */
  struct vdso_clock_slot slots[2];
};

#ifdef __cplusplus
static_assert(sizeof(struct vdso_params) <= VDSO_PARAMS_SIZE, "the parameters fit one page");
#endif

#endif /* SENTRY_LOADER_VDSO_VDSO_PARAMS_H_ */
