// The memory syscalls: brk and the mmap family.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "sentry/kernel/kernel.h"
#include "sentry/mm/mappable.h"
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

// What /proc/PID/maps shows for a file mapping: its path, " (deleted)" once it has no name
// (a memfd shows as "/memfd:NAME (deleted)", as on Linux).
std::string MappingName(const vfs::FileDescription& file) {
  std::string name = file.path().dentry->PathInFilesystem();
  if (file.path().dentry->unlinked()) name += " (deleted)";
  return name;
}

// A file mapping. A file with pages in the MemoryFile (tmpfs, memfd, the overlay's upper files,
// /dev/shm, and host files through the gofer's page cache) is mapped page by page, on demand:
// MAP_SHARED maps those pages themselves, so the mapping and read(2)/write(2) see one another at
// once; MAP_PRIVATE shows them until the application writes one, which then gets a copy of its
// own. Any other file gets a private copy of its pages made now: right for MAP_PRIVATE, and for
// read-only MAP_SHARED of files with no pages. Writable shared mappings of those: ENODEV.
Result<uint64_t> MapFile(kernel::Task& t, uint64_t addr, uint64_t length, int prot, int flags,
                         int fd, uint64_t offset) {
  auto file = TRY(t.fds().Get(fd));
  if (file->IsPath()) return Err(EBADF);
  if (!file->path().dentry || file->path().inode().IsDir()) return Err(ENODEV);
  if (!file->Readable()) return Err(EACCES);
  bool shared = (flags & MAP_TYPE) != MAP_PRIVATE;
  if (static_cast<int64_t>(offset) < 0) return Err(EOVERFLOW);
  // What mprotect may grant later. A private mapping's written pages are copies, so it may
  // always become writable; a shared one not when the file is read-only or write-sealed
  // (Linux's VM_MAYWRITE).
  uint8_t max_perms = platform::kAccessRead | platform::kAccessWrite | platform::kAccessExec;
  if (shared) {
    auto seals = file->GetSeals();
    bool write_sealed = seals && (*seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE));
    if (prot & PROT_WRITE) {
      if (!file->Writable()) return Err(EACCES);
      if (write_sealed) return Err(EPERM);
    }
    if (!file->Writable() || write_sealed) max_perms &= ~platform::kAccessWrite;
  }
  if (auto mappable = file->GetMappable()) {
    UserAddr at = TRY(t.mm().MMapFile({.addr = addr,
                                       .length = length,
                                       .prot = prot,
                                       .flags = flags,
                                       .name = MappingName(*file),
                                       .address_space_limit = AddressSpaceLimit(t)},
                                      std::move(mappable), offset, max_perms));
    return at.value;
  }
  if (shared && (prot & PROT_WRITE)) {
    t.kernel().ReportUnsupported(SYS_mmap);
    return Err(ENODEV);
  }
  struct stat st = TRY(file->Stat());
  int anon_flags = (flags & ~MAP_TYPE) | MAP_PRIVATE | MAP_ANONYMOUS;
  UserAddr at = TRY(t.mm().MMap({.addr = addr,
                                 .length = length,
                                 .prot = PROT_READ | PROT_WRITE,
                                 .flags = anon_flags,
                                 .name = MappingName(*file),
                                 .address_space_limit = AddressSpaceLimit(t)}));
  uint64_t size = static_cast<uint64_t>(st.st_size);
  uint64_t in_file = offset < size ? std::min(length, size - offset) : 0;
  if (in_file > 0) {
    auto views = t.mm().Translate(at, in_file, platform::kAccessWrite);
    auto n = views ? file->Read(*views, static_cast<int64_t>(offset)) : Err(EFAULT);
    if (!n) {
      (void)t.mm().MUnmap(at, length);
      return std::unexpected(n.error());
    }
  }
  if (prot != (PROT_READ | PROT_WRITE)) TRY(t.mm().MProtect(at, length, prot));
  return at.value;
}

Result<uint64_t> Sys_mmap(kernel::Task& t, const Args& a) {
  int prot = ArgInt(a[2]);
  int flags = ArgInt(a[3]);
  int fd = ArgInt(a[4]);
  uint64_t offset = a[5];
  if (!IsPageAligned(offset)) return Err(EINVAL);
  if (a[1] == 0) return Err(EINVAL);  // before any check of the file, as Linux
  if ((flags & MAP_TYPE) == MAP_SHARED_VALIDATE && (flags & ~kKnownMapFlags)) {
    return Err(EOPNOTSUPP);
  }
  if (!(flags & MAP_ANONYMOUS)) return MapFile(t, a[0], a[1], prot, flags, fd, offset);
  UserAddr addr = TRY(t.mm().MMap({.addr = a[0],
                                   .length = a[1],
                                   .prot = prot,
                                   .flags = flags,
                                   .name = {},
                                   .address_space_limit = AddressSpaceLimit(t)}));
  return addr.value;
}

Result<uint64_t> Sys_munmap(kernel::Task& t, const Args& a) {
  // ru_maxrss is a peak: a large unmap may end it, so the size before counts. Small ones
  // change it little and are not worth a walk of the mappings.
  constexpr uint64_t kRssSampleMin = 1 << 20;
  if (a[1] >= kRssSampleMin) t.thread_group().NoteRss(t.mm().AccessibleBytes());
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

Result<uint64_t> Sys_msync(kernel::Task& t, const Args& a) {
  TRY(t.mm().MSync(UserAddr(a[0]), a[1], ArgInt(a[2])));
  return 0;
}

Result<uint64_t> Sys_mincore(kernel::Task& t, const Args& a) {
  std::vector<uint8_t> vec = TRY(t.mm().MinCore(UserAddr(a[0]), a[1]));
  TRY(t.mm().CopyOut(UserAddr(a[2]), vec.data(), vec.size()));
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
  t.handlers[SYS_msync] = Sys_msync;
  t.handlers[SYS_mincore] = Sys_mincore;
}

}  // namespace sentry::syscalls
