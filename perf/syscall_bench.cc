// Micro-benchmarks of single system calls, for comparing the sandbox with native execution and
// with other runtimes (see perf/compare and docs/benchmarks.md).
//
// The binary is linked statically and needs no file system: it runs inside the sandbox with
// only fds 0-2. fd 1 is the sink that BM_write_small writes to (perf/compare points it at
// /dev/null), so every report goes to stderr. The default report format is JSON;
// --benchmark_format=console picks the human-readable table, still on stderr.
//
// Iteration counts follow wall-clock time (UseRealTime): under a trap-per-syscall sandbox most
// of a system call's cost is spent outside the calling thread, which its CPU-time clock does not
// see. The default --benchmark_min_time is 0.2 s so that the whole suite stays well under 20 s
// even at tens of microseconds per system call. Each benchmark first runs untimed for 0.5 s
// (--benchmark_min_warmup_time), so that the steady state is measured, not a runtime's start-up:
// gVisor's vDSO, for one, serves clock_gettime by a trapped system call (~16 us instead of
// ~25 ns) for roughly the first half second of a sandbox's life. The same flags given on the
// command line override these defaults.

#include <linux/futex.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "benchmark/benchmark.h"

namespace {

void BM_getpid(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(syscall(SYS_getpid));
  }
}
BENCHMARK(BM_getpid)->UseRealTime();

void BM_clock_gettime(benchmark::State& state) {
  struct timespec ts;
  for (auto _ : state) {
    benchmark::DoNotOptimize(clock_gettime(CLOCK_MONOTONIC, &ts));
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_clock_gettime)->UseRealTime();

void BM_write_small(benchmark::State& state) {
  constexpr size_t kSize = 64;
  char buf[kSize];
  memset(buf, 'x', sizeof(buf));
  for (auto _ : state) {
    ssize_t n = write(STDOUT_FILENO, buf, sizeof(buf));
    if (n != static_cast<ssize_t>(sizeof(buf))) {
      int err = errno;
      state.SkipWithError(n < 0 ? (std::string("write(1) failed: ") + strerror(err)).c_str()
                                : "write(1) was short");
      break;
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kSize);
}
BENCHMARK(BM_write_small)->UseRealTime();

void BM_mmap_munmap(benchmark::State& state) {
  constexpr size_t kSize = 64 * 1024;
  for (auto _ : state) {
    void* p = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      state.SkipWithError((std::string("mmap failed: ") + strerror(errno)).c_str());
      break;
    }
    benchmark::DoNotOptimize(p);
    if (munmap(p, kSize) != 0) {
      state.SkipWithError((std::string("munmap failed: ") + strerror(errno)).c_str());
      break;
    }
  }
}
BENCHMARK(BM_mmap_munmap)->UseRealTime();

// A process's life: fork, the child's _exit, the parent's waitpid.
void BM_fork_wait(benchmark::State& state) {
  for (auto _ : state) {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
      state.SkipWithError("fork/waitpid failed");
      break;
    }
  }
}
BENCHMARK(BM_fork_wait)->UseRealTime();

// The same with 64 MiB of private memory touched in the parent: what fork costs for the memory
// it has to share (or, without copy-on-write, copy).
void BM_fork_wait_64MiB(benchmark::State& state) {
  constexpr size_t kLen = 64 << 20;
  void* mem = mmap(nullptr, kLen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    state.SkipWithError("mmap failed");
    return;
  }
  for (size_t off = 0; off < kLen; off += 4096) static_cast<volatile char*>(mem)[off] = 1;
  for (auto _ : state) {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
      state.SkipWithError("fork/waitpid failed");
      break;
    }
  }
  munmap(mem, kLen);
}
BENCHMARK(BM_fork_wait_64MiB)->UseRealTime();

// The argument that makes this program exit at once: what BM_fork_exec_wait's child runs.
constexpr std::string_view kExitAtOnce = "--exit-at-once";

// fork, then exec of a static program (this one, which exits at once), then waitpid: the
// shell's way to run a command. The child's copy of the parent is dropped at exec unused.
void BM_fork_exec_wait(benchmark::State& state) {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) {
    state.SkipWithError("readlink /proc/self/exe failed");
    return;
  }
  self[n] = '\0';
  std::string arg(kExitAtOnce);
  char* child_argv[] = {self, arg.data(), nullptr};
  for (auto _ : state) {
    pid_t pid = fork();
    if (pid == 0) {
      execv(self, child_argv);
      _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
      state.SkipWithError("fork/exec/waitpid failed");
      break;
    }
  }
}
BENCHMARK(BM_fork_exec_wait)->UseRealTime();

// A thread's life: pthread_create and pthread_join (clone, futex wake on exit).
void BM_thread_create_join(benchmark::State& state) {
  for (auto _ : state) {
    pthread_t t;
    if (pthread_create(
            &t, nullptr, [](void*) -> void* { return nullptr; }, nullptr) != 0) {
      state.SkipWithError("pthread_create failed");
      break;
    }
    pthread_join(t, nullptr);
  }
}
BENCHMARK(BM_thread_create_join)->UseRealTime();

// One byte there and back between two threads over two pipes: two blocking reads and two
// writes per round trip.
void BM_pipe_pingpong(benchmark::State& state) {
  int there[2], back[2];
  if (pipe(there) != 0 || pipe(back) != 0) {
    state.SkipWithError("pipe failed");
    return;
  }
  pthread_t echo;
  int fds[2] = {there[0], back[1]};
  pthread_create(
      &echo, nullptr,
      [](void* p) -> void* {
        int* f = static_cast<int*>(p);
        char c;
        while (read(f[0], &c, 1) == 1 && c != 'q') (void)!write(f[1], &c, 1);
        return nullptr;
      },
      fds);
  char c = 'x';
  for (auto _ : state) {
    (void)!write(there[1], &c, 1);
    (void)!read(back[0], &c, 1);
  }
  c = 'q';
  (void)!write(there[1], &c, 1);
  pthread_join(echo, nullptr);
  for (int fd : {there[0], there[1], back[0], back[1]}) close(fd);
}
BENCHMARK(BM_pipe_pingpong)->UseRealTime();

// A futex handed back and forth between two threads: each round trip is two wakes and two
// waits.
std::atomic<int> g_turn{0};
void FutexWait(int expected) {
  while (g_turn.load() == expected) {
    syscall(SYS_futex, &g_turn, FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
  }
}
void FutexSet(int v) {
  g_turn.store(v);
  syscall(SYS_futex, &g_turn, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

void BM_futex_pingpong(benchmark::State& state) {
  g_turn = 0;
  pthread_t other;
  pthread_create(
      &other, nullptr,
      [](void*) -> void* {
        while (true) {
          FutexWait(0);  // wait for the main thread's move (1), or the end (-1)
          if (g_turn.load() == -1) return nullptr;
          FutexSet(0);
        }
      },
      nullptr);
  for (auto _ : state) {
    FutexSet(1);
    FutexWait(1);
  }
  FutexSet(-1);
  pthread_join(other, nullptr);
}
BENCHMARK(BM_futex_pingpong)->UseRealTime();

// Returns the value of the last "--benchmark_format=" argument, or "json".
std::string_view RequestedFormat(int argc, char** argv) {
  constexpr std::string_view kFlag = "--benchmark_format=";
  std::string_view format = "json";
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.starts_with(kFlag)) format = arg.substr(kFlag.size());
  }
  return format;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && argv[1] == kExitAtOnce) return 0;
  // Put the defaults first, so that the same flags given on the command line win.
  std::vector<char*> args;
  args.push_back(argv[0]);
  std::string default_min_time = "--benchmark_min_time=0.2";
  std::string default_warmup = "--benchmark_min_warmup_time=0.5";
  args.push_back(default_min_time.data());
  args.push_back(default_warmup.data());
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  int args_count = static_cast<int>(args.size());
  args.push_back(nullptr);

  // Read before Initialize, which removes the flags it knows from the arguments.
  std::string_view format = RequestedFormat(args_count, args.data());
  benchmark::Initialize(&args_count, args.data());
  if (benchmark::ReportUnrecognizedArguments(args_count, args.data())) return 1;

  std::unique_ptr<benchmark::BenchmarkReporter> reporter;
  if (format == "json") {
    reporter = std::make_unique<benchmark::JSONReporter>();
  } else if (format == "console") {
    reporter = std::make_unique<benchmark::ConsoleReporter>(benchmark::ConsoleReporter::OO_None);
  } else {
    std::cerr << "unknown --benchmark_format: " << format << " (json or console)\n";
    return 1;
  }
  // stdout belongs to BM_write_small; every report goes to stderr.
  reporter->SetOutputStream(&std::cerr);
  reporter->SetErrorStream(&std::cerr);

  benchmark::RunSpecifiedBenchmarks(reporter.get());
  benchmark::Shutdown();
  std::cerr.flush();
  return 0;
}
