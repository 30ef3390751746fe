#include "gofer/confine.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>

namespace gofer {

namespace {

constexpr int kSysFchmodat2 = 452;  // Linux 6.6; newer than libseccomp 2.5.4's table

constexpr uint64_t Bit(int cap) { return uint64_t{1} << cap; }
constexpr uint64_t kKeptCapabilities = Bit(CAP_CHOWN) | Bit(CAP_DAC_OVERRIDE) |
                                       Bit(CAP_DAC_READ_SEARCH) | Bit(CAP_FOWNER) | Bit(CAP_FSETID);

}  // namespace

Result<void> EnterMountNamespace() {
  if (::unshare(CLONE_NEWNS) < 0) return Err(errno);
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) return Err(errno);
  return {};
}

Result<FileDescriptor> CloneMountTree(const std::string& path, bool read_only) {
  int fd = ::open_tree(AT_FDCWD, path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  if (fd < 0) return Err(errno);
  FileDescriptor tree(fd);
  if (read_only) {
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0) {
      return Err(errno);
    }
  }
  return tree;
}

Result<void> PivotRoot(const std::string& root, bool read_only) {
  // pivot_root needs the new root to be a mount point, and the cwd on that mount. A clone of the
  // served tree moved on top of `root` is both, held by an fd: even when `root` is "/" (whose
  // lookup never reaches a mount stacked on it), fchdir lands on the clone. Read-only is set on
  // the clone, so it never touches the host's mounts.
  auto tree = CloneMountTree(root, read_only);
  if (tree) {
    if (::move_mount(tree->get(), "", AT_FDCWD, root.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0) {
      return Err(errno);
    }
    if (::fchdir(tree->get()) < 0) return Err(errno);
  } else if (tree.error() == Errno(ENOSYS)) {
    // Before Linux 5.2: a recursive bind onto itself, entered by name (not for "/").
    if (::mount(root.c_str(), root.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0) {
      return Err(errno);
    }
    if (read_only &&
        ::mount(nullptr, root.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) < 0) {
      return Err(errno);
    }
    if (::chdir(root.c_str()) < 0) return Err(errno);
  } else {
    return std::unexpected(tree.error());
  }
  // pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves only
  // the served tree in the namespace, with nothing above it to climb to.
  if (::syscall(SYS_pivot_root, ".", ".") == 0) {
    if (::umount2(".", MNT_DETACH) < 0) return Err(errno);
  } else if (errno == EINVAL || errno == EBUSY) {
    // The current root is not a mount point (an initramfs: EINVAL), or the fallback above could
    // not step onto the bind of "/" (EBUSY): chroot is what is left.
    if (::chroot(".") < 0) return Err(errno);
  } else {
    return Err(errno);
  }
  if (::chdir("/") < 0) return Err(errno);
  return {};
}

Result<void> DropCapabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) < 0) return Err(errno);
  uint64_t permitted = (uint64_t{data[1].permitted} << 32) | data[0].permitted;

  // The bounding set first: dropping from it needs CAP_SETPCAP, which goes next.
  if ((permitted & Bit(CAP_SETPCAP)) != 0) {
    for (int cap = 0; ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; ++cap) {
      if ((kKeptCapabilities & Bit(cap)) != 0) continue;
      if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) return Err(errno);
    }
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
    return Err(errno);
  }
  uint64_t kept = permitted & kKeptCapabilities;
  for (int i = 0; i < 2; ++i) {
    data[i].permitted = static_cast<uint32_t>(kept >> (32 * i));
    data[i].effective = data[i].permitted;
    data[i].inheritable = 0;
  }
  if (::syscall(SYS_capset, &header, data) < 0) return Err(errno);
  return {};
}

Result<void> InstallSeccompFilter() {
  std::unique_ptr<void, decltype(&seccomp_release)> ctx(seccomp_init(SCMP_ACT_KILL_PROCESS),
                                                        &seccomp_release);
  if (ctx == nullptr) return Err(ENOMEM);

  // What serving needs: the socket, the file operations of session.cc and node.cc, memory for
  // the allocator, and exiting. Logging writes to stderr.
  static constexpr int kAllowed[] = {
      SCMP_SYS(recvmsg),
      SCMP_SYS(sendmsg),
      SCMP_SYS(openat2),
      SCMP_SYS(close),
      SCMP_SYS(fstat),
      SCMP_SYS(newfstatat),
      SCMP_SYS(fstatfs),
      SCMP_SYS(lseek),
      SCMP_SYS(getdents64),
      SCMP_SYS(mkdirat),
      SCMP_SYS(mknodat),
      SCMP_SYS(symlinkat),
      SCMP_SYS(linkat),
      SCMP_SYS(unlinkat),
      SCMP_SYS(renameat2),
      SCMP_SYS(readlinkat),
      SCMP_SYS(fchownat),
      SCMP_SYS(fchmod),
      kSysFchmodat2,
      SCMP_SYS(utimensat),
      SCMP_SYS(ftruncate),
      SCMP_SYS(fsync),
      SCMP_SYS(fdatasync),
      SCMP_SYS(write),
      SCMP_SYS(writev),
      SCMP_SYS(brk),
      SCMP_SYS(munmap),
      SCMP_SYS(mremap),
      SCMP_SYS(madvise),
      SCMP_SYS(futex),
      SCMP_SYS(getpid),
      SCMP_SYS(gettid),
      SCMP_SYS(clock_gettime),
      SCMP_SYS(rt_sigreturn),
      SCMP_SYS(rt_sigprocmask),
      SCMP_SYS(restart_syscall),
      SCMP_SYS(exit),
      SCMP_SYS(exit_group),
  };
  for (int nr : kAllowed) {
    if (int r = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 0); r < 0) return Err(-r);
  }
  // openat only without following a trailing symlink (openat2 is how the gofer opens; the
  // fallback always adds O_NOFOLLOW, and nothing else in the process should open anything).
  if (int r = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
                               SCMP_A2(SCMP_CMP_MASKED_EQ, O_NOFOLLOW, O_NOFOLLOW));
      r < 0) {
    return Err(-r);
  }
  // The C library asks whether a stream is a terminal (TCGETS) when it first writes a log line.
  if (int r = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                               SCMP_A1(SCMP_CMP_EQ, TCGETS));
      r < 0) {
    return Err(-r);
  }
  // Memory, but never executable memory: the gofer runs no code it did not start with.
  for (int nr : {SCMP_SYS(mmap), SCMP_SYS(mprotect)}) {
    if (int r = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 1,
                                 SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
        r < 0) {
      return Err(-r);
    }
  }
  if (int r = seccomp_load(ctx.get()); r < 0) return Err(-r);
  return {};
}

}  // namespace gofer
