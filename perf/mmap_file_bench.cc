// Shared mappings of a host file (in our sandbox: a volume, served by the gofer and mapped
// through the sentry's page cache), for perf/compare and docs/benchmarks.md.
//
// usage: mmap_file_bench [--benchmark_...] FILE
// FILE must exist, hold at least 1 MiB and be readable; the write benchmark also needs it
// writable and changes its first MiB. Reports go to stderr (JSON unless
// --benchmark_format=console), as perf/compare wants.
//
// - BM_shared_first_touch: mmap(MAP_SHARED, PROT_READ) 1 MiB, read a byte of each page, munmap.
//   Every page is new to the mapping: faults (in our sandbox the page cache keeps the pages
//   after the munmap, so only the first iteration reads them from the host).
// - BM_shared_retouch: a byte of each page of a mapping made (and touched) beforehand.
// - BM_shared_store_msync: store a byte in each page of a writable shared mapping, then
//   msync(MS_SYNC): the write-back of 256 dirty pages, and the write faults that follow it.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr size_t kLength = 1 << 20;
constexpr size_t kPage = 4096;
std::string g_file;

int OpenFile(int flags, benchmark::State& state) {
  int fd = open(g_file.c_str(), flags);
  if (fd < 0) state.SkipWithError("cannot open the file");
  return fd;
}

char* Map(int fd, int prot, benchmark::State& state) {
  void* p = mmap(nullptr, kLength, prot, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    state.SkipWithError("mmap failed");
    return nullptr;
  }
  return static_cast<char*>(p);
}

int TouchAll(const volatile char* p) {
  int sum = 0;
  for (size_t off = 0; off < kLength; off += kPage) sum += p[off];
  return sum;
}

void BM_shared_first_touch(benchmark::State& state) {
  int fd = OpenFile(O_RDONLY, state);
  if (fd < 0) return;
  for (auto _ : state) {
    char* p = Map(fd, PROT_READ, state);
    if (p == nullptr) break;
    benchmark::DoNotOptimize(TouchAll(p));
    munmap(p, kLength);
  }
  close(fd);
}
BENCHMARK(BM_shared_first_touch)->UseRealTime();

void BM_shared_retouch(benchmark::State& state) {
  int fd = OpenFile(O_RDONLY, state);
  if (fd < 0) return;
  char* p = Map(fd, PROT_READ, state);
  if (p != nullptr) {
    TouchAll(p);
    for (auto _ : state) benchmark::DoNotOptimize(TouchAll(p));
    munmap(p, kLength);
  }
  close(fd);
}
BENCHMARK(BM_shared_retouch)->UseRealTime();

void BM_shared_store_msync(benchmark::State& state) {
  int fd = OpenFile(O_RDWR, state);
  if (fd < 0) return;
  char* p = Map(fd, PROT_READ | PROT_WRITE, state);
  if (p != nullptr) {
    char v = 0;
    for (auto _ : state) {
      ++v;
      for (size_t off = 0; off < kLength; off += kPage) p[off] = v;
      if (msync(p, kLength, MS_SYNC) != 0) {
        state.SkipWithError("msync failed");
        break;
      }
    }
    munmap(p, kLength);
  }
  close(fd);
}
BENCHMARK(BM_shared_store_msync)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args;
  args.push_back(argv[0]);
  std::string default_min_time = "--benchmark_min_time=0.2";
  args.push_back(default_min_time.data());
  std::string format = "json";
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.starts_with("--benchmark_format=")) format = arg.substr(19);
    args.push_back(argv[i]);
  }
  int args_count = static_cast<int>(args.size());
  args.push_back(nullptr);
  benchmark::Initialize(&args_count, args.data());
  if (args_count != 2) {
    std::cerr << "usage: mmap_file_bench [--benchmark_...] FILE\n";
    return 1;
  }
  g_file = args[1];
  std::unique_ptr<benchmark::BenchmarkReporter> reporter;
  if (format == "console") {
    reporter = std::make_unique<benchmark::ConsoleReporter>(benchmark::ConsoleReporter::OO_None);
  } else {
    reporter = std::make_unique<benchmark::JSONReporter>();
  }
  reporter->SetOutputStream(&std::cerr);
  reporter->SetErrorStream(&std::cerr);
  benchmark::RunSpecifiedBenchmarks(reporter.get());
  benchmark::Shutdown();
  std::cerr.flush();
  return 0;
}
