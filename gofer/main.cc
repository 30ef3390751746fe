// runsc-gofer: the gofer as a program of its own, serving a root on an inherited socket fd.
// (`runsc gofer` will call RunGofer the same way.)
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "gofer/gofer_server.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

int main(int argc, char** argv) {
  CLI::App app{"runsc-gofer: serves a directory tree to the sandbox over the gofer protocol",
               "runsc-gofer"};
  gofer::GoferConfig config;
  std::vector<std::string> mounts;
  app.add_option("--root", config.root, "the directory to serve")->required();
  app.add_option("--fd", config.socket_fd, "the SOCK_SEQPACKET socket to serve on")->required();
  app.add_flag("--ro", config.read_only, "serve the root read-only");
  app.add_option("--mount", mounts,
                 "an extra attach point, HOST_PATH[:ro]; attach index 1, 2, ...");
  CLI11_PARSE(app, argc, argv);
  for (const auto& m : mounts) {
    gofer::GoferMount mount{m, false};
    if (m.size() > 3 && m.ends_with(":ro")) mount = {m.substr(0, m.size() - 3), true};
    config.mounts.push_back(std::move(mount));
  }
  spdlog::set_default_logger(spdlog::stderr_color_st("gofer"));
  return gofer::RunGofer(config);
}
