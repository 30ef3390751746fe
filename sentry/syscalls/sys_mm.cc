// The memory syscalls: brk and the mmap family (anonymous memory for now).
#include <sys/mman.h>
#include <sys/syscall.h>

#include "sentry/syscalls/table.h"

namespace sentry::syscalls {
namespace {

constexpr int kKnownMapFlags = MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_32BIT |
                               MAP_GROWSDOWN | MAP_DENYWRITE | MAP_EXECUTABLE | MAP_LOCKED |
                               MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK | MAP_STACK |
                               MAP_HUGETLB | MAP_SYNC | MAP_FIXED_NOREPLACE |
                               (0x3f << MAP_HUGE_SHIFT) | 0x4000000 /* MAP_UNINITIALIZED */;

uint64_t AddressSpaceLimit(kernel::Task& t) {
  std::lock_guard lock(t.thread_group().mu());
  return t.thread_group().limits().Get(RLIMIT_AS).cur;
}

Result<uint64_t> Sys_brk(kernel::Task& t, const Args& a) {
  return t.mm().Brk(UserAddr(a[0])).value;
}

Result<uint64_t> Sys_mmap(kernel::Task& t, const Args& a) {
  int prot = ArgInt(a[2]);
  int flags = ArgInt(a[3]);
  int fd = ArgInt(a[4]);
  uint64_t offset = a[5];
  if (!IsPageAligned(offset)) return Err(EINVAL);
  if ((flags & MAP_TYPE) == MAP_SHARED_VALIDATE && (flags & ~kKnownMapFlags)) {
    return Err(EOPNOTSUPP);
  }
  if (!(flags & MAP_ANONYMOUS)) {
    // File mappings come with the VFS; none of today's files (the standard streams) can be
    // mapped, which Linux reports as ENODEV.
    TRY(t.fds().Get(fd));
    return Err(ENODEV);
  }
  UserAddr addr = TRY(t.mm().MMap({.addr = a[0],
                                   .length = a[1],
                                   .prot = prot,
                                   .flags = flags,
                                   .name = {},
                                   .address_space_limit = AddressSpaceLimit(t)}));
  return addr.value;
}

Result<uint64_t> Sys_munmap(kernel::Task& t, const Args& a) {
  TRY(t.mm().MUnmap(UserAddr(a[0]), a[1]));
  return 0;
}

Result<uint64_t> Sys_mprotect(kernel::Task& t, const Args& a) {
  TRY(t.mm().MProtect(UserAddr(a[0]), a[1], ArgInt(a[2])));
  return 0;
}

Result<uint64_t> Sys_mremap(kernel::Task& t, const Args& a) {
  UserAddr addr = TRY(t.mm().MRemap(UserAddr(a[0]), a[1], a[2], ArgInt(a[3]), UserAddr(a[4]),
                                    AddressSpaceLimit(t)));
  return addr.value;
}

Result<uint64_t> Sys_madvise(kernel::Task& t, const Args& a) {
  TRY(t.mm().MAdvise(UserAddr(a[0]), a[1], ArgInt(a[2])));
  return 0;
}

}  // namespace

void RegisterMemorySyscalls(SyscallTable& t) {
  t.handlers[SYS_brk] = Sys_brk;
  t.handlers[SYS_mmap] = Sys_mmap;
  t.handlers[SYS_munmap] = Sys_munmap;
  t.handlers[SYS_mprotect] = Sys_mprotect;
  t.handlers[SYS_mremap] = Sys_mremap;
  t.handlers[SYS_madvise] = Sys_madvise;
}

}  // namespace sentry::syscalls
