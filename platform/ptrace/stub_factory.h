// Where new stub processes come from. Forking the sentry costs a copy of its page tables and
// then an munmap of everything it has (hundreds of microseconds, more as the sentry grows), for
// every address space (each fork and execve). So the sentry forks one stub, the template, once;
// every later stub is a fork of the template, which has nothing mapped but the stub page.
//
// A ptrace tracer is a thread, and the template must outlive the task threads that ask for new
// stubs: one factory thread traces it and forks from it on their behalf. The new stub's only
// thread starts parked (untraced, in pause(2)); the asking thread seizes it.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/status/statusor.h"

namespace platform::ptrace {

class StubProcess;

class StubFactory {
 public:
  StubFactory() = default;  // use Get()
  // The sentry's one factory (never destroyed: task threads may ask until the process ends).
  static StubFactory& Get();

  // A new stub process whose one thread is parked, forked from the template for `memory_fd`
  // (made on first use, and again should it die).
  absl::StatusOr<pid_t> ForkParked(int memory_fd);

 private:
  struct Request {
    int memory_fd;
    absl::StatusOr<pid_t> result = absl::UnknownError("not served");
    bool done = false;
  };

  void Serve();  // the factory thread's loop
  absl::StatusOr<pid_t> ForkOnFactoryThread(int memory_fd);

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Request*> queue_;  // guarded by mu_
  bool started_ = false;        // guarded by mu_
  // Used only on the factory thread. The template serves one MemoryFile (an fd number may be
  // reused for another file) under one stub filter: it is made again when either changes.
  std::unique_ptr<StubProcess> template_;
  ino_t template_memory_ino_ = 0;
  const void* template_filter_ = nullptr;
};

}  // namespace platform::ptrace
