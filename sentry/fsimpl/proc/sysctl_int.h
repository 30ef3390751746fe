// /proc/sys integers that the sandbox's root may change (Linux's proc_dointvec tables), such as
// fs/lease-break-time. Reads show the value and a newline; a write parses one integer.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "sentry/fsimpl/proc/inodes.h"

namespace sentry::fsimpl::proc {

class IntSysctl : public ProcInode {
 public:
  IntSysctl(std::shared_ptr<ProcFs> fs, mode_t perms, uint64_t ino, std::function<int()> get,
            std::function<void(int)> set);
  Result<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& path,
                                                     int flags) override;

 private:
  const std::function<int()> get_;
  const std::function<void(int)> set_;
};

// What a write to such a file holds, as proc_dointvec reads it: white space, an int in C's
// notation (decimal, 0-octal or 0x-hex, maybe negative) ending at white space or the end, then
// white space. `consumed` counts the bytes used; the rest is what the write did not take.
// EINVAL for no number, a malformed one or one out of int's range.
struct SysctlInt {
  int value;
  size_t consumed;
};
Result<SysctlInt> ParseSysctlInt(std::string_view text);

}  // namespace sentry::fsimpl::proc
