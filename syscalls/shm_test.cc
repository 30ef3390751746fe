// System V shared memory: shmget, shmat, shmdt, shmctl.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "syscalls/test_util.h"

namespace {

using conformance::InChild;
using conformance::PageSize;
using conformance::Pipe;

// A segment removed at the end of the test, whatever happens.
class Segment {
 public:
  explicit Segment(int id) : id_(id) {}
  ~Segment() {
    if (id_ >= 0) shmctl(id_, IPC_RMID, nullptr);
  }
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  int id() const { return id_; }

 private:
  int id_;
};

// A key no other test run uses at the same time.
key_t UniqueKey(int n) { return static_cast<key_t>(0x53480000 | ((getpid() & 0xfff) << 4) | n); }

shmid_ds Stat(int id) {
  shmid_ds ds{};
  EXPECT_SYSCALL_OK(shmctl(id, IPC_STAT, &ds));
  return ds;
}

// The exec test's second half: the program exec'd with SHM_TEST_NATTCH=ID exits with that
// segment's attach count (before gtest starts).
const bool kExecChecked = [] {
  if (const char* id = getenv("SHM_TEST_NATTCH")) {
    shmid_ds ds{};
    if (shmctl(atoi(id), IPC_STAT, &ds) != 0) _exit(100);
    _exit(static_cast<int>(ds.shm_nattch));
  }
  return true;
}();

TEST(ShmTest, CreateAndStat) {
  Segment seg(shmget(IPC_PRIVATE, 2 * PageSize() + 1, IPC_CREAT | 0640));
  ASSERT_GE(seg.id(), 0) << strerror(errno);
  shmid_ds ds = Stat(seg.id());
  EXPECT_EQ(ds.shm_segsz, 2 * PageSize() + 1);
  EXPECT_EQ(ds.shm_perm.mode & 0777, 0640u);
  EXPECT_EQ(ds.shm_perm.__key, IPC_PRIVATE);
  EXPECT_EQ(ds.shm_perm.uid, geteuid());
  EXPECT_EQ(ds.shm_perm.cuid, geteuid());
  EXPECT_EQ(ds.shm_perm.gid, getegid());
  EXPECT_EQ(ds.shm_nattch, 0u);
  EXPECT_EQ(ds.shm_cpid, getpid());
  EXPECT_EQ(ds.shm_lpid, 0);
  EXPECT_EQ(ds.shm_atime, 0);
  EXPECT_NE(ds.shm_ctime, 0);
}

TEST(ShmTest, Keys) {
  key_t key = UniqueKey(1);
  Segment seg(shmget(key, PageSize(), IPC_CREAT | IPC_EXCL | 0600));
  ASSERT_GE(seg.id(), 0) << strerror(errno);
  EXPECT_SYSCALL_ERRNO(EEXIST, shmget(key, PageSize(), IPC_CREAT | IPC_EXCL | 0600));
  EXPECT_EQ(shmget(key, 0, 0), seg.id());
  EXPECT_EQ(shmget(key, PageSize(), IPC_CREAT | 0600), seg.id());
  // Asking for more than the segment has.
  EXPECT_SYSCALL_ERRNO(EINVAL, shmget(key, PageSize() + 1, 0));
  EXPECT_EQ(Stat(seg.id()).shm_perm.__key, key);
  EXPECT_SYSCALL_ERRNO(ENOENT, shmget(UniqueKey(2), PageSize(), 0600));
  // Two private segments are two segments.
  Segment a(shmget(IPC_PRIVATE, PageSize(), 0600));
  Segment b(shmget(IPC_PRIVATE, PageSize(), 0600));
  ASSERT_GE(a.id(), 0);
  ASSERT_GE(b.id(), 0);
  EXPECT_NE(a.id(), b.id());
}

TEST(ShmTest, SizeLimits) {
  EXPECT_SYSCALL_ERRNO(EINVAL, shmget(IPC_PRIVATE, 0, 0600));
  shminfo info{};
  ASSERT_SYSCALL_OK(shmctl(0, IPC_INFO, reinterpret_cast<shmid_ds*>(&info)));
  EXPECT_EQ(info.shmmin, 1u);
  EXPECT_GT(info.shmmni, 0u);
  EXPECT_SYSCALL_ERRNO(EINVAL, shmget(IPC_PRIVATE, info.shmmax + 1, 0600));
  // /proc/sys/kernel says the same.
  unsigned long shmmni = 0, shmmax = 0;
  std::ifstream("/proc/sys/kernel/shmmni") >> shmmni;
  std::ifstream("/proc/sys/kernel/shmmax") >> shmmax;
  EXPECT_EQ(shmmni, info.shmmni);
  EXPECT_EQ(shmmax, info.shmmax);
}

TEST(ShmTest, AttachSharesData) {
  Segment seg(shmget(IPC_PRIVATE, PageSize(), 0600));
  ASSERT_GE(seg.id(), 0);
  auto* a = static_cast<char*>(shmat(seg.id(), nullptr, 0));
  ASSERT_NE(a, reinterpret_cast<char*>(-1)) << strerror(errno);
  auto* b = static_cast<char*>(shmat(seg.id(), nullptr, 0));
  ASSERT_NE(b, reinterpret_cast<char*>(-1)) << strerror(errno);
  EXPECT_NE(a, b);
  EXPECT_EQ(a[0], 0);  // new segments are zeroed
  strcpy(a, "hello");
  EXPECT_STREQ(b, "hello");
  shmid_ds ds = Stat(seg.id());
  EXPECT_EQ(ds.shm_nattch, 2u);
  EXPECT_EQ(ds.shm_lpid, getpid());
  EXPECT_NE(ds.shm_atime, 0);
  EXPECT_SYSCALL_OK(shmdt(a));
  EXPECT_EQ(Stat(seg.id()).shm_nattch, 1u);
  // Not an attach address any more, and not one at all.
  EXPECT_SYSCALL_ERRNO(EINVAL, shmdt(a));
  EXPECT_SYSCALL_ERRNO(EINVAL, shmdt(b + 1));
  EXPECT_SYSCALL_OK(shmdt(b));
  EXPECT_EQ(Stat(seg.id()).shm_nattch, 0u);
  EXPECT_NE(Stat(seg.id()).shm_dtime, 0);
}

TEST(ShmTest, AttachAtAddress) {
  Segment seg(shmget(IPC_PRIVATE, 2 * PageSize(), 0600));
  ASSERT_GE(seg.id(), 0);
  // A free place: reserve, then release.
  void* spot = mmap(nullptr, 4 * PageSize(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(spot, MAP_FAILED);
  ASSERT_SYSCALL_OK(munmap(spot, 4 * PageSize()));
  char* want = static_cast<char*>(spot) + PageSize();

  EXPECT_SYSCALL_ERRNO(EINVAL, shmat(seg.id(), want + 1, 0));
  void* at = shmat(seg.id(), want + 1, SHM_RND);
  ASSERT_EQ(at, want) << strerror(errno);
  // Occupied: only SHM_REMAP may replace what is there.
  EXPECT_SYSCALL_ERRNO(EINVAL, shmat(seg.id(), want, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, shmat(seg.id(), nullptr, SHM_REMAP));
  void* again = shmat(seg.id(), want, SHM_REMAP);
  ASSERT_EQ(again, want) << strerror(errno);
  EXPECT_EQ(Stat(seg.id()).shm_nattch, 1u);  // the first attachment was replaced
  EXPECT_SYSCALL_OK(shmdt(want));
}

TEST(ShmTest, ReadOnlyAttach) {
  Segment seg(shmget(IPC_PRIVATE, PageSize(), 0600));
  ASSERT_GE(seg.id(), 0);
  auto* rw = static_cast<char*>(shmat(seg.id(), nullptr, 0));
  ASSERT_NE(rw, reinterpret_cast<char*>(-1));
  auto* ro = static_cast<volatile char*>(shmat(seg.id(), nullptr, SHM_RDONLY));
  ASSERT_NE(ro, reinterpret_cast<volatile char*>(-1));
  rw[0] = 'x';
  EXPECT_EQ(ro[0], 'x');
  EXPECT_SYSCALL_ERRNO(EACCES, mprotect(const_cast<char*>(ro), PageSize(), PROT_READ | PROT_WRITE));
  EXPECT_EQ(InChild([&] {
              ro[0] = 'y';
              return 0;
            }),
            128 + SIGSEGV);
  EXPECT_EQ(rw[0], 'x');
  EXPECT_SYSCALL_OK(shmdt(const_cast<char*>(ro)));
  EXPECT_SYSCALL_OK(shmdt(rw));
}

TEST(ShmTest, ShownInMaps) {
  key_t key = UniqueKey(3);
  Segment seg(shmget(key, PageSize(), IPC_CREAT | IPC_EXCL | 0600));
  ASSERT_GE(seg.id(), 0);
  void* at = shmat(seg.id(), nullptr, 0);
  ASSERT_NE(at, reinterpret_cast<void*>(-1));
  std::ifstream maps("/proc/self/maps");
  std::string line, found;
  char start[32];
  snprintf(start, sizeof(start), "%lx-", reinterpret_cast<unsigned long>(at));
  while (std::getline(maps, line)) {
    if (line.rfind(start, 0) == 0) found = line;
  }
  char name[64];
  snprintf(name, sizeof(name), "/SYSV%08x (deleted)", static_cast<unsigned>(key));
  EXPECT_NE(found.find(name), std::string::npos) << found;
  EXPECT_NE(found.find(" rw-s "), std::string::npos) << found;
  EXPECT_SYSCALL_OK(shmdt(at));
}

TEST(ShmTest, ForkInheritsAttachment) {
  Segment seg(shmget(IPC_PRIVATE, PageSize(), 0600));
  ASSERT_GE(seg.id(), 0);
  auto* p = static_cast<volatile int*>(shmat(seg.id(), nullptr, 0));
  ASSERT_NE(p, reinterpret_cast<volatile int*>(-1));
  int id = seg.id();
  EXPECT_EQ(InChild([&] {
              shmid_ds ds{};
              if (shmctl(id, IPC_STAT, &ds) != 0 || ds.shm_nattch != 2) return 1;
              p[0] = 42;
              return 0;
            }),
            0);
  EXPECT_EQ(p[0], 42);
  // The child's exit detached it.
  EXPECT_EQ(Stat(seg.id()).shm_nattch, 1u);
  EXPECT_SYSCALL_OK(shmdt(const_cast<int*>(p)));
}

TEST(ShmTest, SharedBetweenProcessesThatAttachSeparately) {
  Segment seg(shmget(IPC_PRIVATE, PageSize(), 0600));
  ASSERT_GE(seg.id(), 0);
  int id = seg.id();
  Pipe ready;
  ASSERT_TRUE(ready.ok());
  pid_t pid = fork();
  if (pid == 0) {
    auto* c = static_cast<char*>(shmat(id, nullptr, 0));
    if (c == reinterpret_cast<char*>(-1)) _exit(1);
    strcpy(c, "from child");
    char b = 1;
    _exit(write(ready.w(), &b, 1) == 1 ? 0 : 2);
  }
  ASSERT_GT(pid, 0);
  char b;
  ASSERT_EQ(read(ready.r(), &b, 1), 1);
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(status, 0);
  auto* p = static_cast<char*>(shmat(id, nullptr, SHM_RDONLY));
  ASSERT_NE(p, reinterpret_cast<char*>(-1));
  EXPECT_STREQ(p, "from child");
  EXPECT_EQ(Stat(id).shm_lpid, getpid());
  EXPECT_SYSCALL_OK(shmdt(p));
}

TEST(ShmTest, ExecDetaches) {
  Segment seg(shmget(IPC_PRIVATE, PageSize(), 0600));
  ASSERT_GE(seg.id(), 0);
  int id = seg.id();
  std::string env = "SHM_TEST_NATTCH=" + std::to_string(id);
  EXPECT_EQ(InChild([&] {
              if (shmat(id, nullptr, 0) == reinterpret_cast<void*>(-1)) return 101;
              char* argv[] = {const_cast<char*>("shm_test"), nullptr};
              char* envp[] = {env.data(), nullptr};
              execve("/proc/self/exe", argv, envp);
              return 102;
            }),
            0);
}

TEST(ShmTest, RemoveWhileAttached) {
  key_t key = UniqueKey(4);
  int id = shmget(key, PageSize(), IPC_CREAT | IPC_EXCL | 0600);
  ASSERT_GE(id, 0);
  Segment guard(id);
  auto* p = static_cast<char*>(shmat(id, nullptr, 0));
  ASSERT_NE(p, reinterpret_cast<char*>(-1));
  ASSERT_SYSCALL_OK(shmctl(id, IPC_RMID, nullptr));
  // Still there for its attachments, under no key.
  shmid_ds ds = Stat(id);
  EXPECT_TRUE(ds.shm_perm.mode & SHM_DEST);
  EXPECT_EQ(ds.shm_perm.__key, IPC_PRIVATE);
  EXPECT_EQ(ds.shm_nattch, 1u);
  EXPECT_SYSCALL_ERRNO(ENOENT, shmget(key, 0, 0));
  p[0] = 7;
  // Removing twice is fine while it lingers.
  EXPECT_SYSCALL_OK(shmctl(id, IPC_RMID, nullptr));
  // The key can name a new segment at once.
  Segment other(shmget(key, PageSize(), IPC_CREAT | IPC_EXCL | 0600));
  ASSERT_GE(other.id(), 0);
  EXPECT_NE(other.id(), id);
  EXPECT_SYSCALL_OK(shmdt(p));
  // The last detach destroyed it.
  shmid_ds gone{};
  EXPECT_SYSCALL_ERRNO(EINVAL, shmctl(id, IPC_STAT, &gone));
}

TEST(ShmTest, RemoveWhenUnattachedIsImmediate) {
  int id = shmget(IPC_PRIVATE, PageSize(), 0600);
  ASSERT_GE(id, 0);
  ASSERT_SYSCALL_OK(shmctl(id, IPC_RMID, nullptr));
  shmid_ds ds{};
  EXPECT_SYSCALL_ERRNO(EINVAL, shmctl(id, IPC_STAT, &ds));
  EXPECT_SYSCALL_ERRNO(EINVAL, shmat(id, nullptr, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, shmctl(id, IPC_RMID, nullptr));
}

TEST(ShmTest, SetChangesOwnerAndMode) {
  Segment seg(shmget(IPC_PRIVATE, PageSize(), 0600));
  ASSERT_GE(seg.id(), 0);
  shmid_ds ds = Stat(seg.id());
  ds.shm_perm.mode = 0644;
  ds.shm_perm.uid = 65534;
  ASSERT_SYSCALL_OK(shmctl(seg.id(), IPC_SET, &ds));
  shmid_ds now = Stat(seg.id());
  EXPECT_EQ(now.shm_perm.mode & 0777, 0644u);
  EXPECT_EQ(now.shm_perm.uid, 65534u);
  EXPECT_EQ(now.shm_perm.cuid, geteuid());  // the creator stays
}

TEST(ShmTest, Permissions) {
  Segment seg(shmget(IPC_PRIVATE, PageSize(), 0600));
  ASSERT_GE(seg.id(), 0);
  Segment readable(shmget(IPC_PRIVATE, PageSize(), 0604));
  ASSERT_GE(readable.id(), 0);
  int id = seg.id(), rid = readable.id();
  // Another user without capabilities (setuid drops them).
  EXPECT_EQ(InChild([&] {
              if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) {
                return 1;
              }
              shmid_ds ds{};
              if (shmat(id, nullptr, 0) != reinterpret_cast<void*>(-1) || errno != EACCES) return 2;
              if (shmctl(id, IPC_STAT, &ds) != -1 || errno != EACCES) return 3;
              if (shmctl(id, IPC_RMID, nullptr) != -1 || errno != EPERM) return 4;
              if (shmctl(rid, IPC_STAT, &ds) != 0) return 5;
              if (shmctl(rid, IPC_SET, &ds) != -1 || errno != EPERM) return 6;
              // Read access is enough for a read-only attach, not for a writable one.
              if (shmat(rid, nullptr, 0) != reinterpret_cast<void*>(-1) || errno != EACCES)
                return 7;
              void* p = shmat(rid, nullptr, SHM_RDONLY);
              if (p == reinterpret_cast<void*>(-1)) return 8;
              return shmdt(p) == 0 ? 0 : 9;
            }),
            0);
}

TEST(ShmTest, BadArguments) {
  Segment seg(shmget(IPC_PRIVATE, PageSize(), 0600));
  ASSERT_GE(seg.id(), 0);
  EXPECT_SYSCALL_ERRNO(EINVAL, shmat(-1, nullptr, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, shmat(seg.id() + 1, nullptr, 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, shmctl(-1, IPC_STAT, nullptr));
  EXPECT_SYSCALL_ERRNO(EINVAL, shmctl(seg.id(), 12345, nullptr));
  EXPECT_SYSCALL_ERRNO(EFAULT, shmctl(seg.id(), IPC_STAT, reinterpret_cast<shmid_ds*>(8)));
  EXPECT_SYSCALL_ERRNO(EFAULT, shmctl(seg.id(), IPC_SET, reinterpret_cast<shmid_ds*>(8)));
  EXPECT_SYSCALL_ERRNO(EINVAL, shmdt(reinterpret_cast<void*>(PageSize() * 7)));
}

TEST(ShmTest, StatByIndex) {
  Segment seg(shmget(IPC_PRIVATE, PageSize(), 0600));
  ASSERT_GE(seg.id(), 0);
  shm_info info{};
  int max_index = shmctl(0, SHM_INFO, reinterpret_cast<shmid_ds*>(&info));
  ASSERT_GE(max_index, 0);
  EXPECT_GE(info.used_ids, 1);
  bool found = false;
  for (int i = 0; i <= max_index; ++i) {
    shmid_ds ds{};
    if (shmctl(i, SHM_STAT, &ds) == seg.id()) found = true;
  }
  EXPECT_TRUE(found);
}

}  // namespace
