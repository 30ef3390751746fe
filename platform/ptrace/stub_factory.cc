#include "platform/ptrace/stub_factory.h"

#include <sched.h>
#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "platform/ptrace/stub.h"
#include "platform/ptrace/stub_seccomp.h"
#include "spdlog/spdlog.h"

namespace platform::ptrace {

StubFactory& StubFactory::Get() {
  // Leaked on purpose: a static destructor at exit must not pull the template from under a
  // task thread that still asks for a stub.
  static StubFactory* const factory = std::make_unique<StubFactory>().release();
  return *factory;
}

absl::StatusOr<pid_t> StubFactory::ForkParked(int memory_fd) {
  Request request{.memory_fd = memory_fd};
  std::unique_lock lock(mu_);
  if (!started_) {
    // Detached: it serves until the sentry exits, like the template it traces.
    std::thread([this] { Serve(); }).detach();
    started_ = true;
  }
  queue_.push_back(&request);
  cv_.notify_all();
  cv_.wait(lock, [&] { return request.done; });
  return request.result;
}

void StubFactory::Serve() {
  // Threads inherit the CPU their creator was bound to (a task's context pins its thread);
  // the template, and so every stub, should start free to run anywhere the sentry may.
  cpu_set_t all;
  CPU_ZERO(&all);
  for (int i = 0; i < CPU_SETSIZE; ++i) CPU_SET(i, &all);
  sched_setaffinity(0, sizeof(all), &all);
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return !queue_.empty(); });
    Request* request = queue_.front();
    queue_.pop_front();
    lock.unlock();
    auto result = ForkOnFactoryThread(request->memory_fd);
    lock.lock();
    request->result = std::move(result);
    request->done = true;
    cv_.notify_all();
  }
}

absl::StatusOr<pid_t> StubFactory::ForkOnFactoryThread(int memory_fd) {
  struct stat st;
  if (fstat(memory_fd, &st) != 0) {
    return absl::ErrnoToStatus(errno, "stub factory: fstat of the memory file");
  }
  const void* filter = StubFilterFor(memory_fd);
  if (template_ != nullptr && (template_->dead() || template_->memory_fd() != memory_fd ||
                               template_memory_ino_ != st.st_ino || template_filter_ != filter)) {
    template_.reset();
  }
  if (template_ == nullptr) {
    auto made = StubProcess::CreateTemplate(memory_fd);
    if (!made.ok()) return made.status();
    template_ = std::move(*made);
    template_memory_ino_ = st.st_ino;
    template_filter_ = filter;
  }
  auto pid = template_->ForkParked();
  if (!pid) {
    spdlog::warn("ptrace: the stub template could not fork: {}", strerror(pid.error().value));
    template_.reset();
    return absl::UnavailableError(
        absl::StrCat("fork from the stub template: errno ", pid.error().value));
  }
  return *pid;
}

}  // namespace platform::ptrace
