// The open ends of a pty: the master (what opening ptmx gives) and the replica (/dev/pts/N,
// /dev/tty, TIOCGPTPEER). Closing the last reference to a description closes that end.
#pragma once

#include <memory>

#include "sentry/fsimpl/devpts/terminal.h"
#include "sentry/vfs/file_description.h"

namespace sentry::fsimpl::devpts {

class MasterFile : public vfs::FileDescription {
 public:
  MasterFile(int flags, vfs::VirtualDentry path, std::shared_ptr<Terminal> terminal);
  ~MasterFile() override;

  Result<uint64_t> Read(std::span<const iovec> dst, std::optional<int64_t> offset) override;
  Result<uint64_t> Write(std::span<const iovec> src, std::optional<int64_t> offset) override;
  Result<int64_t> Seek(int64_t, int) override { return Err(ESPIPE); }
  Result<struct stat> Stat() override;
  Result<uint64_t> Ioctl(mm::MemoryManager& mm, uint64_t cmd, uint64_t arg) override;
  uint32_t Readiness(uint32_t mask) override { return terminal_->MasterReadiness(mask); }
  bool Pollable() const override { return true; }
  bool Positional() const override { return false; }
  void EventRegister(vfs::WaitEntry* e) override { terminal_->master_queue().Add(e); }
  void EventUnregister(vfs::WaitEntry* e) override { terminal_->master_queue().Remove(e); }
  std::shared_ptr<vfs::WaitQueue> AsyncQueue() override {
    return std::shared_ptr<vfs::WaitQueue>(terminal_, &terminal_->master_queue());
  }

  Terminal& terminal() { return *terminal_; }

 private:
  // TIOCGPTPEER: the replica opened through this master's devpts, as a new fd.
  Result<uint64_t> OpenPeer(uint64_t flags);

  const std::shared_ptr<Terminal> terminal_;
};

class ReplicaFile : public vfs::FileDescription {
 public:
  // The caller has counted the open (Terminal::ReplicaOpening).
  ReplicaFile(int flags, vfs::VirtualDentry path, std::shared_ptr<Terminal> terminal);
  ~ReplicaFile() override;

  Result<uint64_t> Read(std::span<const iovec> dst, std::optional<int64_t> offset) override;
  Result<uint64_t> Write(std::span<const iovec> src, std::optional<int64_t> offset) override;
  Result<int64_t> Seek(int64_t, int) override { return Err(ESPIPE); }
  Result<struct stat> Stat() override;
  Result<uint64_t> Ioctl(mm::MemoryManager& mm, uint64_t cmd, uint64_t arg) override;
  uint32_t Readiness(uint32_t mask) override { return terminal_->ReplicaReadiness(mask); }
  bool Pollable() const override { return true; }
  bool Positional() const override { return false; }
  void EventRegister(vfs::WaitEntry* e) override { terminal_->replica_queue().Add(e); }
  void EventUnregister(vfs::WaitEntry* e) override { terminal_->replica_queue().Remove(e); }
  std::shared_ptr<vfs::WaitQueue> AsyncQueue() override {
    return std::shared_ptr<vfs::WaitQueue>(terminal_, &terminal_->replica_queue());
  }

  Terminal& terminal() { return *terminal_; }

 private:
  const std::shared_ptr<Terminal> terminal_;
};

}  // namespace sentry::fsimpl::devpts
