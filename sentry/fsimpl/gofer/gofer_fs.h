// The client side of the gofer protocol: a file system whose files the gofer process serves.
// Inodes hold a gofer fid and cache their attributes; open files hold a host fd the gofer
// donated, so reads and writes cost one host syscall and no round trip.
#pragma once

#include <memory>

#include "gofer/proto/channel.h"
#include "sentry/vfs/inode.h"

namespace sentry::mm {
class MemoryFile;
}

namespace sentry::fsimpl::gofer {

// How much of an attach point's tree the sentry may cache.
enum class CachePolicy {
  // Names and attributes are cached until the sandbox itself changes them: for trees nobody
  // else changes while the sandbox runs (the host's root, read-only under the overlay). Lookups
  // and stats of cached paths cost no round trip.
  kExclusive,
  // Others may change the tree (a volume, a bind mount, a writable container root): every path
  // walk checks its cached names against the host in one round trip (a Walk of all the cached
  // components without fids), drops those gone or replaced, and refreshes the attributes of
  // the rest; a stat not preceded by such a walk asks the gofer.
  kRevalidate,
};

class Filesystem : public std::enable_shared_from_this<Filesystem> {
 public:
  // With `memory`, MAP_SHARED mappings of regular files map a page cache kept there
  // (page_cache.h); without, they are copies made at mmap time and only read-only ones work.
  explicit Filesystem(std::shared_ptr<::gofer::Channel> channel, mm::MemoryFile* memory = nullptr)
      : channel_(std::move(channel)), memory_(memory) {}
  // The root of attach point `mount` (0: the served root); its files follow `policy`.
  Result<std::shared_ptr<vfs::Inode>> Attach(uint32_t mount, CachePolicy policy);
  ::gofer::Channel& channel() { return *channel_; }
  // Closes a fid when its inode goes away (best effort: the gofer drops all at exit anyway).
  void ReleaseFid(::gofer::Fid fid);
  mm::MemoryFile* memory() const { return memory_; }

 private:
  std::shared_ptr<::gofer::Channel> channel_;
  mm::MemoryFile* memory_;
};

}  // namespace sentry::fsimpl::gofer
