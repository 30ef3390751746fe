// Scheduling attributes, nice values, personality, getcpu, membarrier, and the CPU-time and
// system figures of getrusage (times, peak resident set, faults, context switches), times and
// sysinfo.
#include <fcntl.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "syscalls/test_util.h"

namespace {

void* const kBadPtr = reinterpret_cast<void*>(8);
constexpr pid_t kNoSuchPid = 0x3ffffff0;

using conformance::InChild;

// Burns about `ms` of CPU time in this thread.
void Spin(int ms) {
  timespec start{}, now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
  volatile uint64_t x = 0;
  do {
    for (int i = 0; i < 100000; ++i) x = x + i;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  } while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < ms);
}

long Ms(const timeval& tv) { return tv.tv_sec * 1000 + tv.tv_usec / 1000; }

TEST(Priority, RawSyscallReturnsTwentyMinusNice) {
  EXPECT_EQ(InChild([] {
              if (setpriority(PRIO_PROCESS, 0, 5) != 0) return 1;
              if (syscall(SYS_getpriority, PRIO_PROCESS, 0) != 15) return 2;
              errno = 0;
              if (getpriority(PRIO_PROCESS, 0) != 5 || errno != 0) return 3;
              if (setpriority(PRIO_PROCESS, 0, 100) != 0) return 4;  // clamped to 19
              if (getpriority(PRIO_PROCESS, getpid()) != 19) return 5;
              if (setpriority(PRIO_PROCESS, 0, -100) != 0) return 6;  // root may raise: -20
              if (syscall(SYS_getpriority, PRIO_PROCESS, 0) != 40) return 7;
              if (setpgid(0, 0) != 0)
                return 10;  // a group of our own: the test runner keeps its nice
              if (setpriority(PRIO_PGRP, 0, 3) != 0) return 8;
              if (getpriority(PRIO_PGRP, 0) > 3) return 9;
              return 0;
            }),
            0);
}

TEST(Priority, Errors) {
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_getpriority, 99, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, setpriority(static_cast<__priority_which_t>(99), 0, 0));
  EXPECT_SYSCALL_ERRNO(ESRCH, syscall(SYS_getpriority, PRIO_PROCESS, kNoSuchPid));
  EXPECT_SYSCALL_ERRNO(ESRCH, setpriority(PRIO_PROCESS, kNoSuchPid, 0));
  EXPECT_SYSCALL_ERRNO(ESRCH, syscall(SYS_getpriority, PRIO_USER, 54321));
}

TEST(Priority, UnprivilegedMayOnlyLowerPriority) {
  pid_t root_pid = getpid();
  EXPECT_EQ(InChild([root_pid] {
              if (setresuid(1000, 1000, 1000) != 0) return 1;
              if (setpriority(PRIO_PROCESS, 0, 10) != 0) return 2;
              if (setpriority(PRIO_PROCESS, 0, 5) != -1 || errno != EACCES) return 3;
              if (setpriority(PRIO_PROCESS, 0, 12) != 0) return 4;
              // Someone else's process.
              if (setpriority(PRIO_PROCESS, root_pid, 15) != -1 || errno != EPERM) return 5;
              return 0;
            }),
            0);
}

TEST(Personality, QuerySetAndReturnOld) {
  EXPECT_EQ(InChild([] {
              constexpr int kNoRandomize = PER_LINUX | static_cast<int>(ADDR_NO_RANDOMIZE);
              int old = personality(0xffffffff);
              if (old < 0) return 1;
              if (personality(kNoRandomize) != old) return 2;
              if (personality(0xffffffff) != kNoRandomize) return 3;
              if (personality(old) != kNoRandomize) return 4;
              return personality(0xffffffff) == old ? 0 : 5;
            }),
            0);
}

TEST(Getcpu, CpuIsOneOfOurs) {
  unsigned cpu = ~0u, node = ~0u;
  ASSERT_SYSCALL_OK(syscall(SYS_getcpu, &cpu, &node, nullptr));
  EXPECT_LT(cpu, static_cast<unsigned>(sysconf(_SC_NPROCESSORS_CONF)));
  EXPECT_NE(node, ~0u);
  EXPECT_SYSCALL_OK(syscall(SYS_getcpu, nullptr, nullptr, nullptr));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_getcpu, kBadPtr, nullptr, nullptr));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_getcpu, &cpu, kBadPtr, nullptr));
}

long Membarrier(int cmd, unsigned flags) { return syscall(SYS_membarrier, cmd, flags, 0); }

TEST(Membarrier, PrivateExpeditedNeedsRegistration) {
  long mask = Membarrier(MEMBARRIER_CMD_QUERY, 0);
  ASSERT_GE(mask, 0);
  EXPECT_TRUE(mask & MEMBARRIER_CMD_PRIVATE_EXPEDITED);
  EXPECT_TRUE(mask & MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED);
  EXPECT_EQ(InChild([] {
              if (Membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) != -1 || errno != EPERM) {
                return 1;
              }
              if (Membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) != 0) return 2;
              if (Membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) != 0) return 3;
              return 0;
            }),
            0);
  EXPECT_SYSCALL_OK(Membarrier(MEMBARRIER_CMD_GLOBAL, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, Membarrier(MEMBARRIER_CMD_QUERY, 1));
  EXPECT_SYSCALL_ERRNO(EINVAL, Membarrier(1 << 20, 0));
}

TEST(Sched, PolicyQueries) {
  EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER);
  sched_param p{.sched_priority = 7};
  ASSERT_SYSCALL_OK(sched_getparam(0, &p));
  EXPECT_EQ(p.sched_priority, 0);
  EXPECT_EQ(sched_get_priority_max(SCHED_FIFO), 99);
  EXPECT_EQ(sched_get_priority_min(SCHED_FIFO), 1);
  EXPECT_EQ(sched_get_priority_max(SCHED_RR), 99);
  EXPECT_EQ(sched_get_priority_max(SCHED_OTHER), 0);
  EXPECT_EQ(sched_get_priority_min(SCHED_BATCH), 0);
  EXPECT_SYSCALL_ERRNO(EINVAL, sched_get_priority_max(42));
  EXPECT_SYSCALL_ERRNO(EINVAL, sched_get_priority_min(-1));
  EXPECT_SYSCALL_ERRNO(EINVAL, sched_getscheduler(-1));
  EXPECT_SYSCALL_ERRNO(ESRCH, sched_getscheduler(kNoSuchPid));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_sched_getparam, 0, nullptr));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_sched_getparam, 0, kBadPtr));
  EXPECT_SYSCALL_ERRNO(ESRCH, sched_getparam(kNoSuchPid, &p));
}

TEST(Sched, SetschedulerChecksPolicyAndPriority) {
  sched_param p{.sched_priority = 1};
  EXPECT_SYSCALL_ERRNO(EINVAL, sched_setscheduler(0, SCHED_OTHER, &p));
  p.sched_priority = 0;
  EXPECT_SYSCALL_ERRNO(EINVAL, sched_setscheduler(0, SCHED_FIFO, &p));
  p.sched_priority = 100;
  EXPECT_SYSCALL_ERRNO(EINVAL, sched_setscheduler(0, SCHED_RR, &p));
  p.sched_priority = 0;
  EXPECT_SYSCALL_ERRNO(EINVAL, sched_setscheduler(0, 42, &p));
  EXPECT_SYSCALL_ERRNO(EINVAL, sched_setscheduler(0, -1, &p));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, nullptr));
  EXPECT_SYSCALL_ERRNO(EINVAL, sched_setscheduler(-1, SCHED_OTHER, &p));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, kBadPtr));
  EXPECT_SYSCALL_ERRNO(ESRCH, sched_setscheduler(kNoSuchPid, SCHED_OTHER, &p));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_sched_setparam, 0, nullptr));
  p.sched_priority = 5;
  EXPECT_SYSCALL_ERRNO(EINVAL, sched_setparam(0, &p));  // SCHED_OTHER takes priority 0 only
}

TEST(Sched, SetschedulerRecordsPolicy) {
  EXPECT_EQ(InChild([] {
              sched_param p{.sched_priority = 0};
              if (sched_setscheduler(0, SCHED_BATCH | SCHED_RESET_ON_FORK, &p) != 0) return 1;
              if (sched_getscheduler(0) != (SCHED_BATCH | SCHED_RESET_ON_FORK)) return 2;
              // A non-real-time policy is inherited, but not the flag.
              if (InChild([] { return sched_getscheduler(0) == SCHED_BATCH ? 0 : 1; }) != 0) {
                return 3;
              }
              // A real-time one goes back to SCHED_OTHER in the child.
              p.sched_priority = 10;
              if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &p) != 0) return 6;
              if (sched_getscheduler(0) != (SCHED_FIFO | SCHED_RESET_ON_FORK)) return 7;
              sched_param got{};
              if (sched_getparam(0, &got) != 0 || got.sched_priority != 10) return 8;
              if (InChild([] { return sched_getscheduler(0) == SCHED_OTHER ? 0 : 1; }) != 0) {
                return 9;
              }
              p.sched_priority = 0;
              // Without CAP_SYS_NICE the flag could not be dropped; root may.

              if (sched_setscheduler(0, SCHED_IDLE, &p) != 0) return 4;
              return sched_getscheduler(0) == SCHED_IDLE ? 0 : 5;
            }),
            0);
}

TEST(Sched, UnprivilegedCannotGoRealTime) {
  EXPECT_EQ(InChild([] {
              if (setresuid(1000, 1000, 1000) != 0) return 1;
              sched_param p{.sched_priority = 10};
              if (sched_setscheduler(0, SCHED_FIFO, &p) != -1 || errno != EPERM) return 2;
              p.sched_priority = 0;
              return sched_setscheduler(0, SCHED_BATCH, &p) == 0 ? 0 : 3;
            }),
            0);
}

TEST(Rusage, SelfThreadAndChildren) {
  Spin(150);
  rusage self{}, thread{};
  ASSERT_SYSCALL_OK(getrusage(RUSAGE_SELF, &self));
  ASSERT_SYSCALL_OK(getrusage(RUSAGE_THREAD, &thread));
  EXPECT_GE(Ms(self.ru_utime) + Ms(self.ru_stime), 100);
  EXPECT_GE(Ms(thread.ru_utime) + Ms(thread.ru_stime), 100);
  rusage before{};
  ASSERT_SYSCALL_OK(getrusage(RUSAGE_CHILDREN, &before));
  ASSERT_EQ(InChild([] {
              Spin(150);
              return 0;
            }),
            0);
  rusage after{};
  ASSERT_SYSCALL_OK(getrusage(RUSAGE_CHILDREN, &after));
  long grown = Ms(after.ru_utime) + Ms(after.ru_stime) - Ms(before.ru_utime) - Ms(before.ru_stime);
  EXPECT_GE(grown, 100);
  EXPECT_SYSCALL_ERRNO(EINVAL, getrusage(static_cast<__rusage_who_t>(5), &self));
  EXPECT_SYSCALL_ERRNO(EFAULT, getrusage(RUSAGE_SELF, static_cast<rusage*>(kBadPtr)));
}

constexpr size_t kTouched = 64 << 20;

// Writes to every page of a fresh 64 MiB mapping, then unmaps it: the peak stays.
int TouchAndRelease() {
  void* p = mmap(nullptr, kTouched, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 1;
  // Small pages, so that each takes its own fault whatever the host's THP setting.
  if (madvise(p, kTouched, MADV_NOHUGEPAGE) != 0) return 3;
  for (size_t i = 0; i < kTouched; i += 4096) static_cast<volatile char*>(p)[i] = 1;
  return munmap(p, kTouched) == 0 ? 0 : 2;
}

// ru_maxrss is the peak resident set in KiB: wait4 reports the child's, RUSAGE_CHILDREN the
// largest of the reaped children's, and a process's own survives an unmap.
TEST(Rusage, MaxRssOfChildren) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) _exit(TouchAndRelease());
  int status = 0;
  rusage child{};
  ASSERT_EQ(wait4(pid, &status, 0, &child), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_GE(child.ru_maxrss, static_cast<long>(kTouched / 1024));
  EXPECT_LT(child.ru_maxrss, static_cast<long>(4 * kTouched / 1024));  // not the address space
  rusage kids{};
  ASSERT_SYSCALL_OK(getrusage(RUSAGE_CHILDREN, &kids));
  EXPECT_GE(kids.ru_maxrss, static_cast<long>(kTouched / 1024));
  // A process's own peak, in a child so that the test's own figure stays small.
  EXPECT_EQ(InChild([] {
              if (TouchAndRelease() != 0) return 1;
              rusage self{};
              if (getrusage(RUSAGE_SELF, &self) != 0) return 2;
              return self.ru_maxrss >= static_cast<long>(kTouched / 1024) ? 0 : 3;
            }),
            0);
}

// Sleeping is a voluntary context switch; touching fresh memory takes minor faults.
TEST(Rusage, SwitchesAndFaults) {
  rusage before{}, after{};
  ASSERT_SYSCALL_OK(getrusage(RUSAGE_SELF, &before));
  for (int i = 0; i < 5; ++i) usleep(1000);
  ASSERT_SYSCALL_OK(getrusage(RUSAGE_SELF, &after));
  EXPECT_GE(after.ru_nvcsw - before.ru_nvcsw, 5);
  rusage thread{};
  ASSERT_SYSCALL_OK(getrusage(RUSAGE_THREAD, &thread));
  EXPECT_GE(thread.ru_nvcsw, 5);

  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) _exit(TouchAndRelease());
  int status = 0;
  rusage child{};
  ASSERT_EQ(wait4(pid, &status, 0, &child), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_GE(child.ru_minflt, static_cast<long>(kTouched / 4096 / 2));
}

TEST(Times, CountsTicks) {
  tms before{};
  clock_t t0 = times(&before);
  ASSERT_NE(t0, static_cast<clock_t>(-1));
  Spin(150);
  tms after{};
  clock_t t1 = times(&after);
  EXPECT_GE(t1, t0);
  EXPECT_GE((after.tms_utime + after.tms_stime) - (before.tms_utime + before.tms_stime), 10);
  EXPECT_NE(times(nullptr), static_cast<clock_t>(-1));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_times, kBadPtr));
}

std::string ReadFile(const char* path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return "";
  char buf[8192];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  return n > 0 ? std::string(buf, n) : "";
}

TEST(Sysinfo, AgreesWithProc) {
  struct sysinfo si {};
  ASSERT_SYSCALL_OK(sysinfo(&si));
  EXPECT_GE(si.mem_unit, 1u);
  EXPECT_GT(si.totalram, 0u);
  EXPECT_LE(si.freeram, si.totalram);
  EXPECT_GE(si.procs, 1);
  double up = strtod(ReadFile("/proc/uptime").c_str(), nullptr);
  EXPECT_NEAR(static_cast<double>(si.uptime), up, 2.0);
  std::string meminfo = ReadFile("/proc/meminfo");
  unsigned long total_kb = strtoul(meminfo.c_str() + meminfo.find(':') + 1, nullptr, 10);
  EXPECT_EQ(si.totalram * si.mem_unit / 1024, total_kb);
  EXPECT_SYSCALL_ERRNO(EFAULT, sysinfo(static_cast<struct sysinfo*>(kBadPtr)));
}

}  // namespace
