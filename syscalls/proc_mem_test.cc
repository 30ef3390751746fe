// /proc/PID/mem: a process's memory as a file whose offsets are addresses. Reads and writes of
// one's own memory, forced writes into a read-only mapping, EIO where nothing is mapped, seeking
// to addresses above 2^63 (which read(2) takes and pread(2) refuses), another process's memory
// (a forked child), end of file once that process has exec'd or exited, and who may open it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "syscalls/test_util.h"

namespace {

using conformance::Fd;
using conformance::Pipe;

constexpr char kExecFlag[] = "--proc-mem-test-child";

// Exec'd as its own child with kExecFlag, the program writes one byte and waits for stdin to
// reach EOF, before gtest's main runs.
__attribute__((constructor)) void ExecChildMode(int argc, char** argv, char**) {
  if (argc != 2 || strcmp(argv[1], kExecFlag) != 0) return;
  char c = 'r';
  if (write(STDOUT_FILENO, &c, 1) != 1) _exit(2);
  while (read(STDIN_FILENO, &c, 1) > 0) {
  }
  _exit(0);
}

off_t At(const void* p) { return static_cast<off_t>(reinterpret_cast<uintptr_t>(p)); }

std::string MemPath(pid_t pid) { return "/proc/" + std::to_string(pid) + "/mem"; }

TEST(ProcMem, ReadsAndWritesOwnMemory) {
  char buf[] = "hello, mem";
  Fd fd(open("/proc/self/mem", O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(fd.ok()) << strerror(errno);
  char out[sizeof(buf)] = {};
  ASSERT_EQ(pread(fd.get(), out, sizeof(buf), At(buf)), static_cast<ssize_t>(sizeof(buf)));
  EXPECT_STREQ(out, buf);

  ASSERT_EQ(pwrite(fd.get(), "J", 1, At(buf)), 1);
  EXPECT_EQ(buf[0], 'J');

  // The file position is an address too.
  ASSERT_EQ(lseek(fd.get(), At(buf + 7), SEEK_SET), At(buf + 7));
  char three[3] = {};
  ASSERT_EQ(read(fd.get(), three, 3), 3);
  EXPECT_EQ(std::string(three, 3), "mem");
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_CUR), At(buf + 10));
  EXPECT_SYSCALL_ERRNO(EINVAL, lseek(fd.get(), 0, SEEK_END));
}

TEST(ProcMem, WritesReachReadOnlyPrivateMemory) {
  size_t page = conformance::PageSize();
  void* p = mmap(nullptr, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  Fd fd(open("/proc/self/mem", O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(fd.ok()) << strerror(errno);
  ASSERT_EQ(pwrite(fd.get(), "forced", 6, At(p)), 6);
  EXPECT_EQ(memcmp(p, "forced", 6), 0);
  // Memory the process may not even read is read all the same.
  ASSERT_SYSCALL_OK(mprotect(p, page, PROT_NONE));
  char out[6] = {};
  ASSERT_EQ(pread(fd.get(), out, 6, At(p)), 6);
  EXPECT_EQ(memcmp(out, "forced", 6), 0);
  munmap(p, page);
}

// A debugger's breakpoint: the write lands in the process's copy of a read-only private file
// mapping, never in the file.
TEST(ProcMem, WritesIntoAPrivateFileMappingLeaveTheFileAlone) {
  size_t page = conformance::PageSize();
  Fd file(memfd_create("proc_mem_test", 0));
  ASSERT_TRUE(file.ok());
  ASSERT_EQ(pwrite(file.get(), "original", 8, 0), 8);
  void* p = mmap(nullptr, page, PROT_READ | PROT_EXEC, MAP_PRIVATE, file.get(), 0);
  ASSERT_NE(p, MAP_FAILED);
  Fd fd(open("/proc/self/mem", O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(fd.ok()) << strerror(errno);
  ASSERT_EQ(pwrite(fd.get(), "patched", 7, At(p)), 7);
  EXPECT_EQ(memcmp(p, "patchedl", 8), 0);
  char in_file[8] = {};
  ASSERT_EQ(pread(file.get(), in_file, 8, 0), 8);
  EXPECT_EQ(memcmp(in_file, "original", 8), 0);
  munmap(p, page);
}

TEST(ProcMem, UnmappedAddressesAreEio) {
  size_t page = conformance::PageSize();
  char* p = static_cast<char*>(
      mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  ASSERT_SYSCALL_OK(munmap(p + page, page));
  Fd fd(open("/proc/self/mem", O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(fd.ok()) << strerror(errno);
  std::string buf(2 * page, '\0');
  EXPECT_SYSCALL_ERRNO(EIO, pread(fd.get(), buf.data(), page, At(p + page)));
  EXPECT_SYSCALL_ERRNO(EIO, pwrite(fd.get(), buf.data(), page, At(p + page)));
  // A transfer that runs into the hole stops there.
  EXPECT_EQ(pread(fd.get(), buf.data(), 2 * page, At(p)), static_cast<ssize_t>(page));
  EXPECT_EQ(pwrite(fd.get(), buf.data(), 2 * page, At(p)), static_cast<ssize_t>(page));
  munmap(p, page);

  // Positions above 2^63 are addresses like any other (the kernel's half: nothing there).
  constexpr uint64_t kHigh = uint64_t{1} << 63;
  EXPECT_EQ(static_cast<uint64_t>(lseek(fd.get(), static_cast<off_t>(kHigh), SEEK_SET)), kHigh);
  EXPECT_SYSCALL_ERRNO(EIO, read(fd.get(), buf.data(), 8));
  // pread's offset is signed whatever the file (Linux checks it before the file sees it).
  EXPECT_SYSCALL_ERRNO(EINVAL, pread(fd.get(), buf.data(), 8, static_cast<off_t>(kHigh)));
}

TEST(ProcMem, ParentReadsAndWritesChild) {
  static char shared_name[32] = "child's original";
  Pipe ready, gate;
  ASSERT_TRUE(ready.ok() && gate.ok());
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ready.CloseRead();
    gate.CloseWrite();
    char c = 'r';
    if (write(ready.w(), &c, 1) != 1) _exit(1);
    while (read(gate.r(), &c, 1) > 0) {
    }
    _exit(strcmp(shared_name, "parent wrote it") == 0 ? 0 : 3);
  }
  ready.CloseWrite();
  gate.CloseRead();
  char c;
  ASSERT_EQ(read(ready.r(), &c, 1), 1);
  // The parent's copy changes first: the child's must not follow.
  strcpy(shared_name, "parent's own");

  Fd fd(open(MemPath(pid).c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(fd.ok()) << strerror(errno);
  char out[32] = {};
  ASSERT_EQ(pread(fd.get(), out, sizeof(out), At(shared_name)), static_cast<ssize_t>(sizeof(out)));
  EXPECT_STREQ(out, "child's original");
  const char kNew[] = "parent wrote it";
  ASSERT_EQ(pwrite(fd.get(), kNew, sizeof(kNew), At(shared_name)),
            static_cast<ssize_t>(sizeof(kNew)));
  EXPECT_STREQ(shared_name, "parent's own");

  gate.CloseWrite();
  siginfo_t info{};
  ASSERT_SYSCALL_OK(waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT));
  EXPECT_EQ(info.si_status, 0);
  // Its memory is gone with it: end of file, before and after the reap.
  EXPECT_EQ(pread(fd.get(), out, sizeof(out), At(shared_name)), 0);
  ASSERT_EQ(waitpid(pid, nullptr, 0), pid);
  EXPECT_EQ(pread(fd.get(), out, sizeof(out), At(shared_name)), 0);
}

TEST(ProcMem, FileStaysWithTheMemoryItWasOpenedOn) {
  static char marker[] = "before exec";
  // Close-on-exec, so that the new program holds only the ends it was given.
  Pipe to_child(O_CLOEXEC), from_child(O_CLOEXEC), go(O_CLOEXEC);
  ASSERT_TRUE(to_child.ok() && from_child.ok() && go.ok());
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    go.CloseWrite();
    char c;
    if (read(go.r(), &c, 1) != 1) _exit(1);
    dup2(to_child.r(), STDIN_FILENO);
    dup2(from_child.w(), STDOUT_FILENO);
    char self[64];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) _exit(4);
    self[n] = '\0';
    char flag[sizeof(kExecFlag)];
    memcpy(flag, kExecFlag, sizeof(kExecFlag));
    char* argv[] = {self, flag, nullptr};
    execv(self, argv);
    _exit(5);
  }
  to_child.CloseRead();
  from_child.CloseWrite();
  go.CloseRead();
  Fd fd(open(MemPath(pid).c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd.ok()) << strerror(errno);
  char out[sizeof(marker)] = {};
  ASSERT_EQ(pread(fd.get(), out, sizeof(out), At(marker)), static_cast<ssize_t>(sizeof(out)));
  EXPECT_STREQ(out, marker);

  ASSERT_EQ(write(go.w(), "g", 1), 1);
  char c;
  ASSERT_EQ(read(from_child.r(), &c, 1), 1);  // the new program runs
  // The old address space is gone: end of file, though the new program has one.
  EXPECT_EQ(pread(fd.get(), out, sizeof(out), At(marker)), 0);
  Fd fresh(open(MemPath(pid).c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_TRUE(fresh.ok()) << strerror(errno);

  to_child.CloseWrite();
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(ProcMem, AnotherUserMayNotOpenIt) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to change user";
  pid_t parent = getpid();
  int code = conformance::InChild([&] {
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) return 10;
    errno = 0;
    if (open(MemPath(parent).c_str(), O_RDONLY) >= 0 || errno != EACCES) return 11;
    // Its own is open to it, once it is dumpable again (changing IDs made it not dumpable,
    // which hands its /proc files to root).
    if (prctl(PR_SET_DUMPABLE, 1) != 0) return 13;
    int fd = open("/proc/self/mem", O_RDONLY);
    if (fd < 0) return 12;
    close(fd);
    return 0;
  });
  EXPECT_EQ(code, 0);
}

// Linux hands a process that is not dumpable its /proc files to root (task_dump_owner): all
// but the world-readable directories. Changing IDs clears dumpable, so the process may no
// longer open its own mem until PR_SET_DUMPABLE puts the files back in its hands.
TEST(ProcMem, ANonDumpableProcessFilesBelongToRoot) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to change user";
  int code = conformance::InChild([&] {
    struct stat st {};
    if (stat("/proc/self/status", &st) != 0 || st.st_uid != 0) return 10;
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) return 11;
    if (prctl(PR_GET_DUMPABLE) != 0) return 12;
    if (stat("/proc/self/status", &st) != 0 || st.st_uid != 0 || st.st_gid != 0) return 13;
    if (stat("/proc/self/mem", &st) != 0 || st.st_uid != 0 || st.st_gid != 0) return 14;
    if (lstat("/proc/self/exe", &st) != 0 || st.st_uid != 0) return 15;
    if (stat("/proc/self", &st) != 0 || st.st_uid != 65534 || st.st_gid != 65534) return 16;
    if (stat("/proc/self/task", &st) != 0 || st.st_uid != 65534) return 17;
    errno = 0;
    if (open("/proc/self/mem", O_RDONLY) >= 0 || errno != EACCES) return 18;
    // Its own fds stay open to it (Linux lets a task into its own fd/ whoever owns it).
    Fd fds(open("/proc/self/fd", O_RDONLY | O_DIRECTORY));
    char target[64];
    if (!fds.ok() || readlink(("/proc/self/fd/" + std::to_string(fds.get())).c_str(), target,
                              sizeof(target)) <= 0) {
      return 19;
    }
    if (access("/proc/self/status", R_OK) != 0) return 20;  // world-readable anyway
    if (prctl(PR_SET_DUMPABLE, 1) != 0) return 21;
    if (stat("/proc/self/status", &st) != 0 || st.st_uid != 65534 || st.st_gid != 65534) return 22;
    Fd mem(open("/proc/self/mem", O_RDONLY));
    return mem.ok() ? 0 : 23;
  });
  EXPECT_EQ(code, 0);
}

// An exited process has no memory left: Linux gives its files to root too, dumpable or not.
TEST(ProcMem, AZombiesFilesBelongToRoot) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to change user";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(1);
    _exit(prctl(PR_SET_DUMPABLE, 1) == 0 ? 0 : 2);
  }
  siginfo_t info{};
  ASSERT_EQ(waitid(P_PID, pid, &info, WEXITED | WNOWAIT), 0);  // a zombie until reaped
  const std::string dir = "/proc/" + std::to_string(pid);
  struct stat st {};
  ASSERT_EQ(stat((dir + "/status").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_gid, 0u);
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);  // world-readable directories stay the task's
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
