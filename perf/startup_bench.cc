// Start-up cost of a sandbox: how long `RUNTIME PROGRAM` takes from spawn to exit, for a
// program that does nothing (/bin/true by default), natively and under each runtime given with
// --runtime NAME=COMMAND (the command split on spaces). It runs on the host, not in a sandbox.
//
//   startup_bench --runtime "ours=build/runsc/runsc do --platform=ptrace"
//       --runtime "gvisor-ptrace=runsc --platform=ptrace --network=none do"
//
// Each runtime is one benchmark, BM_start/NAME; the native run is BM_start/native. The report
// goes to stdout in Google Benchmark's console format unless --benchmark_format says otherwise.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "benchmark/benchmark.h"

extern char** environ;

namespace {

// Runs argv to completion; false if it could not be spawned or did not exit 0.
bool RunToCompletion(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // The programs' output is not what is measured.
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return false;
  int status = 0;
  return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::vector<std::string> SplitWords(std::string_view command) {
  std::vector<std::string> words;
  std::istringstream in{std::string(command)};
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

void RegisterStart(const std::string& name, std::vector<std::string> argv) {
  benchmark::RegisterBenchmark(("BM_start/" + name).c_str(),
                               [argv](benchmark::State& state) {
                                 for (auto _ : state) {
                                   if (!RunToCompletion(argv)) {
                                     state.SkipWithError("the command failed");
                                     break;
                                   }
                                 }
                               })
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
  std::string program = "/bin/true";
  std::vector<std::pair<std::string, std::string>> runtimes;
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if ((arg == "--runtime" || arg == "--program") && i + 1 < argc) {
      std::string_view value = argv[++i];
      if (arg == "--program") {
        program = value;
        continue;
      }
      auto eq = value.find('=');
      if (eq == std::string_view::npos) {
        std::cerr << "--runtime wants NAME=COMMAND, got " << value << "\n";
        return 2;
      }
      runtimes.emplace_back(value.substr(0, eq), value.substr(eq + 1));
    } else {
      rest.push_back(argv[i]);
    }
  }
  RegisterStart("native", {program});
  for (const auto& [name, command] : runtimes) {
    auto words = SplitWords(command);
    words.push_back(program);
    RegisterStart(name, words);
  }
  int rest_count = static_cast<int>(rest.size());
  rest.push_back(nullptr);
  benchmark::Initialize(&rest_count, rest.data());
  if (benchmark::ReportUnrecognizedArguments(rest_count, rest.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
