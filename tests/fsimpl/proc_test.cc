// procfs driven through sentry/vfs the way the syscalls drive it, from inside a real Task:
// the task runs on a fake platform whose Switch() calls the test body, so Task::Current() is
// the task, as it is for a system call.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/user.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "sentry/fsimpl/proc/inodes.h"
#include "sentry/fsimpl/proc/proc.h"
#include "sentry/fsimpl/tmpfs/tmpfs.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/mm/memory_file.h"
#include "sentry/mm/memory_manager.h"
#include "sentry/vfs/resolve.h"

namespace sentry::fsimpl::proc {
namespace {

// ---- A platform that runs no application ---------------------------------------------------

class FakeAddressSpace : public platform::AddressSpace {
 public:
  Result<void> MapFile(uint64_t, uint64_t, uint64_t, uint8_t) override { return {}; }
  void Unmap(uint64_t, uint64_t) override {}
  Result<void> AddThread() override { return {}; }
};

// Each Switch runs the test's body on the task's thread, then reports a system call, which
// the dispatcher below answers by ending the task.
class FakeContext : public platform::Context {
 public:
  Result<platform::SwitchResult> Switch(platform::AddressSpace&, arch::CpuState&) override {
    if (body) std::exchange(body, nullptr)();
    return platform::SwitchResult{.kind = platform::SwitchKind::kSyscall};
  }
  void Interrupt() override {}
  Result<user_fpregs_struct> ReadFpState(platform::AddressSpace&) override {
    return user_fpregs_struct{};
  }
  Result<std::vector<uint8_t>> ReadXState(platform::AddressSpace&) override {
    return std::vector<uint8_t>{};
  }
  void Leave(platform::AddressSpace&) override {}
  uint64_t AppCpuTimeNs() const override { return 2'500'000'000; }  // 250 ticks

  std::function<void()> body;
};

uint64_t ExitDispatcher(kernel::Task& t, uint64_t, const std::array<uint64_t, 6>&) {
  t.RequestExit(0);
  return 0;
}

// A file with no place in the tree, like a pipe end.
class FakePipe : public vfs::FileDescription {
 public:
  FakePipe() : FileDescription(O_RDONLY) {}
  Result<struct stat> Stat() override {
    struct stat st {};
    st.st_mode = S_IFIFO | 0600;
    st.st_ino = 4242;
    return st;
  }
};

// PID 1's thread group, with no parent. ThreadGroup's constructor is changing from a parent
// PID to a parent pointer; the template accepts either until that settles.
template <class TG = kernel::ThreadGroup>
std::shared_ptr<TG> NewInitThreadGroup() {
  if constexpr (std::is_constructible_v<TG, pid_t, std::shared_ptr<TG>>) {
    return std::make_shared<TG>(1, std::shared_ptr<TG>());
  } else {
    return std::make_shared<TG>(1, 0);
  }
}

template <class T>
int ErrnoOf(const Result<T>& r) {
  return r ? 0 : r.error().value;
}

constexpr uint64_t kGiB = uint64_t{1} << 30;

mm::MMapRequest Anon(uint64_t length, int prot, std::string name = "") {
  mm::MMapRequest r;
  r.length = length;
  r.prot = prot;
  r.flags = MAP_PRIVATE | MAP_ANONYMOUS;
  r.name = std::move(name);
  return r;
}

// ---- The fixture: a kernel, a tmpfs root with /proc mounted, and PID 1 -------------------------

class ProcTest : public ::testing::Test {
 protected:
  ProcTest() {
    auto memory = mm::MemoryFile::Create(kGiB);
    EXPECT_TRUE(memory.ok());
    kernel_ = std::make_unique<kernel::Kernel>(
        kernel::KernelOptions{.hostname = "sandbox-host", .dispatcher = ExitDispatcher},
        std::move(*memory), nullptr);
    tmpfs_ = tmpfs::Filesystem::Create(kernel_->memory_file(), 0755, 0, 0);
    auto root_mount =
        std::make_shared<vfs::Mount>(vfs::Dentry::NewRoot(tmpfs_->root()), "tmpfs", "none", 0);
    mounts_ = std::make_shared<vfs::MountNamespace>(root_mount);
    kernel_->SetMounts(mounts_);
    for (const char* dir : {"proc", "tmp", "bin"}) {
      auto inode = tmpfs_->root()->Mkdir(dir, 0755, root_creds_);
      EXPECT_TRUE(inode);
      root_mount->root()->AddChild(dir, *inode);
    }
    auto exe = tmpfs_->root_dir()->Lookup("bin");
    auto prog = (*exe)->Create("prog", 0755, root_creds_);
    EXPECT_TRUE(prog);

    HostProcSnapshot host{.cpuinfo = "processor\t: 0\nmodel name\t: Test CPU\n\n",
                          .mem_total_bytes = 4 * kGiB,
                          .num_cpus = 2};
    proc_root_ = NewProcRoot(*kernel_, host);
    auto proc_at = Resolve("/proc");
    EXPECT_TRUE(proc_at);
    EXPECT_TRUE(mounts_->AddMount(
        *proc_at, std::make_shared<vfs::Mount>(vfs::Dentry::NewRoot(proc_root_), "proc", "proc",
                                               MS_NOSUID | MS_NODEV | MS_NOEXEC)));

    mm::Layout layout{.max_addr = 0x7fff'ffff'f000,
                      .mmap_base = 0x7f00'0000'0000,
                      .stack_top = 0x7ffd'0000'0000,
                      .stack_limit = 8 << 20};
    mm_ = std::make_shared<mm::MemoryManager>(kernel_->memory_file(),
                                              std::make_unique<FakeAddressSpace>(), layout);
    fds_ = std::make_shared<vfs::FdTable>();
    auto fsctx = std::make_shared<kernel::FsContext>();
    fsctx->root = mounts_->Root();
    fsctx->cwd = Resolve("/tmp").value();
    auto context = std::make_unique<FakeContext>();
    context_ = context.get();
    task_ = std::make_shared<kernel::Task>(*kernel_, NewInitThreadGroup(), 1, mm_, fds_, fsctx,
                                           std::move(context));
    task_->set_exe_path("/bin/prog");
    task_->set_argv({"prog", "--flag", "x y"});
    // The strings exec would have put on the stack, where cmdline and environ read them.
    auto strings = mm_->MMap(Anon(kPageSize, PROT_READ | PROT_WRITE, "[stack]"));
    EXPECT_TRUE(strings);
    const std::string args("prog\0--flag\0x y\0", 16), env("HOME=/\0LANG=C\0", 14);
    EXPECT_TRUE(mm_->CopyOut(*strings, (args + env).data(), args.size() + env.size()));
    task_->set_exec_strings({.arg_start = strings->value,
                             .arg_end = strings->value + args.size(),
                             .env_start = strings->value + args.size(),
                             .env_end = strings->value + args.size() + env.size()});
    kernel_->RegisterTask(task_);
  }
  ~ProcTest() override { Exit(); }

  // The task's thread ends as Kernel::RunTask ends it: the process becomes a zombie.
  void Exit() {
    if (task_ && !exited_) kernel_->TaskExited(*task_, 0);
    exited_ = true;
  }

  // Runs `body` as the task (once per test: the task exits afterwards).
  void InTask(std::function<void()> body) {
    context_->body = std::move(body);
    task_->Run();
  }

  Result<vfs::VirtualDentry> Resolve(std::string_view path, unsigned flags = vfs::kFollowFinal) {
    vfs::ResolveContext ctx{*mounts_, mounts_->Root(), creds_};
    return vfs::Resolve(ctx, mounts_->Root(), path, flags);
  }

  // open(2) as sys_open does it: refuse symlinks and writing directories, check the mode bits
  // against the caller's credentials, then ask the inode.
  Result<std::shared_ptr<vfs::FileDescription>> Open(std::string_view path, int flags = O_RDONLY) {
    unsigned rflags = (flags & O_NOFOLLOW) ? 0u : unsigned{vfs::kFollowFinal};
    vfs::VirtualDentry vd = TRY(Resolve(path, rflags));
    if (vd.inode().IsSymlink()) return Err(ELOOP);
    int mode = flags & O_ACCMODE;
    int want = (mode != O_WRONLY ? R_OK : 0) | (mode != O_RDONLY ? W_OK : 0);
    if (vd.inode().IsDir() && (want & W_OK)) return Err(EISDIR);
    struct stat st = TRY(vd.inode().Stat());
    if (!vfs::MayAccess(st, creds_, want)) return Err(EACCES);
    return vd.inode().Open(vd, flags);
  }

  static Result<std::string> ReadAll(vfs::FileDescription& f) {
    std::string out;
    char buf[100];  // small, so that long files take several reads
    while (true) {
      iovec iov{buf, sizeof(buf)};
      uint64_t n = TRY(f.Read({&iov, 1}, std::nullopt));
      if (n == 0) return out;
      out.append(buf, n);
    }
  }
  static Result<std::string> PreadAll(vfs::FileDescription& f) {
    std::string out(1 << 16, '\0');
    iovec iov{out.data(), out.size()};
    uint64_t n = TRY(f.Read({&iov, 1}, 0));
    out.resize(n);
    return out;
  }

  std::string Contents(std::string_view path) {
    auto f = Open(path);
    if (!f) return "<errno " + std::to_string(ErrnoOf(f)) + ">";
    auto text = ReadAll(**f);
    if (!text) return "<read errno " + std::to_string(ErrnoOf(text)) + ">";
    return *text;
  }

  std::string Link(std::string_view path) {
    auto vd = Resolve(path, 0);
    if (!vd) return "<errno " + std::to_string(ErrnoOf(vd)) + ">";
    auto text = vd->inode().ReadLink();
    if (!text) return "<errno " + std::to_string(ErrnoOf(text)) + ">";
    return *text;
  }

  std::vector<std::string> Names(std::string_view path) {
    auto f = Open(path);
    if (!f) return {"<errno " + std::to_string(ErrnoOf(f)) + ">"};
    std::vector<std::string> names;
    auto r = (*f)->ReadDir([&](const vfs::DirEntry& e, int64_t) {
      names.push_back(e.name);
      return true;
    });
    if (!r) return {"<errno " + std::to_string(ErrnoOf(r)) + ">"};
    return names;
  }

  static bool Has(const std::vector<std::string>& v, std::string_view s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  }

  // A tmpfs file /tmp/NAME holding `data`, opened with `flags`.
  std::shared_ptr<vfs::FileDescription> TmpFile(std::string_view name, std::string_view data,
                                                int flags = O_RDWR) {
    auto tmp = Resolve("/tmp").value();
    auto inode = tmp.inode().Create(name, 0644, root_creds_);
    EXPECT_TRUE(inode);
    tmp.dentry->AddChild(name, *inode);
    auto vd = Resolve(TmpPath(name)).value();
    auto f = vd.inode().Open(vd, O_RDWR).value();
    iovec iov{const_cast<char*>(data.data()), data.size()};
    EXPECT_EQ(f->Write({&iov, 1}, 0).value_or(0), data.size());
    return vd.inode().Open(vd, flags).value();
  }
  static std::string TmpPath(std::string_view name) { return "/tmp/" + std::string(name); }

  // The inode behind a path, as the procfs type it is. Held, since the dentry cache does not
  // keep /proc's entries for processes and fds.
  std::shared_ptr<ProcSymlink> SymlinkAt(std::string_view path) {
    auto vd = Resolve(path, 0);
    if (!vd) return nullptr;
    return std::dynamic_pointer_cast<ProcSymlink>(vd->dentry->inode_ptr());
  }

  vfs::FsCredentials root_creds_;
  vfs::FsCredentials creds_;  // of the caller: root unless a test changes it
  std::unique_ptr<kernel::Kernel> kernel_;
  std::shared_ptr<tmpfs::Filesystem> tmpfs_;
  std::shared_ptr<vfs::MountNamespace> mounts_;
  std::shared_ptr<vfs::Inode> proc_root_;
  std::shared_ptr<mm::MemoryManager> mm_;
  std::shared_ptr<vfs::FdTable> fds_;
  FakeContext* context_ = nullptr;
  std::shared_ptr<kernel::Task> task_;
  bool exited_ = false;
};

// ---- /proc itself ----------------------------------------------------------------------------

TEST_F(ProcTest, RootListsSelfThePidAndTheGlobalFiles) {
  InTask([&] {
    auto names = Names("/proc");
    for (const char* n : {".", "..", "self", "thread-self", "1", "cpuinfo", "meminfo", "stat",
                          "uptime", "loadavg", "version", "filesystems", "mounts", "sys"}) {
      EXPECT_TRUE(Has(names, n)) << n;
    }
    // PIDs come last, after self and thread-self, as on Linux.
    EXPECT_EQ(names.back(), "1");
    auto st = Resolve("/proc")->inode().Stat();
    ASSERT_TRUE(st);
    EXPECT_EQ(st->st_mode, S_IFDIR | 0555);
    EXPECT_EQ(st->st_ino, 1u);
    EXPECT_EQ(st->st_nlink, 4u);  // ".", "..", sys and 1
  });
}

TEST_F(ProcTest, SelfAndThreadSelfResolveToTheCallingTask) {
  InTask([&] {
    EXPECT_EQ(Link("/proc/self"), "1");
    EXPECT_EQ(Link("/proc/thread-self"), "1/task/1");
    auto self = Resolve("/proc/self");
    auto pid = Resolve("/proc/1");
    ASSERT_TRUE(self && pid);
    EXPECT_EQ(self->inode().Stat()->st_ino, pid->inode().Stat()->st_ino);
    EXPECT_TRUE(self->inode().IsDir());
    EXPECT_EQ(Contents("/proc/thread-self/comm"), "prog\n");
    struct stat lst = Resolve("/proc/self", 0)->inode().Stat().value();
    EXPECT_EQ(lst.st_mode, S_IFLNK | 0777);
  });
}

TEST_F(ProcTest, OutsideAnyTaskThereIsNoSelfButEveryPid) {
  EXPECT_EQ(Link("/proc/self"), "<errno 2>");
  // The processes come from the kernel's pid index, whoever reads.
  EXPECT_EQ(ErrnoOf(Resolve("/proc/1")), 0);
  EXPECT_EQ(Contents("/proc/1/comm"), "prog\n");
  EXPECT_EQ(ErrnoOf(Resolve("/proc/2")), ENOENT);
  auto names = Names("/proc");
  EXPECT_TRUE(Has(names, "1"));
  EXPECT_FALSE(Has(names, "2"));
  EXPECT_TRUE(Has(names, "cpuinfo"));
}

TEST_F(ProcTest, PidNamesAreStrictDecimal) {
  InTask([&] {
    EXPECT_TRUE(Resolve("/proc/1"));
    for (const char* bad :
         {"/proc/01", "/proc/+1", "/proc/1x", "/proc/2", "/proc/0", "/proc/99999999999"}) {
      EXPECT_EQ(ErrnoOf(Resolve(bad)), ENOENT) << bad;
    }
  });
}

// ---- /proc/PID files ----------------------------------------------------------------------

TEST_F(ProcTest, StatusShowsTheTask) {
  ASSERT_TRUE(mm_->MMap(Anon(1 << 20, PROT_READ | PROT_WRITE)));
  task_->set_signal_mask(kernel::SigBit(SIGUSR1));
  task_->thread_group().action(SIGTERM).handler = 0x1234;
  task_->thread_group().action(SIGPIPE).handler = 1;  // SIG_IGN
  InTask([&] {
    std::string s = Contents("/proc/self/status");
    for (const char* line :
         {"Name:\tprog\n", "Umask:\t0022\n", "State:\tR (running)\n", "Tgid:\t1\n", "Pid:\t1\n",
          "PPid:\t0\n", "Uid:\t0\t0\t0\t0\n", "Gid:\t0\t0\t0\t0\n", "FDSize:\t64\n",
          // The fixture's page of exec strings is the other 4 kB.
          "VmSize:\t    1028 kB\n", "VmData:\t    1024 kB\n", "Threads:\t1\n",
          "SigBlk:\t0000000000000200\n", "SigIgn:\t0000000000001000\n",
          "SigCgt:\t0000000000004000\n", "CapEff:\t000001ffffffffff\n", "Seccomp:\t0\n",
          "Cpus_allowed:\t3\n", "Cpus_allowed_list:\t0-1\n"}) {
      EXPECT_NE(s.find(line), std::string::npos) << line << "in:\n" << s;
    }
    EXPECT_EQ(Contents("/proc/1/task/1/status"), s);
  });
}

TEST_F(ProcTest, StatHasLinuxsFields) {
  InTask([&] {
    std::string s = Contents("/proc/self/stat");
    EXPECT_EQ(s.rfind("1 (prog) R 0 1 1 0 -1 ", 0), 0u) << s;
    ASSERT_EQ(s.back(), '\n');
    size_t fields = std::count(s.begin(), s.end(), ' ') + 1;
    EXPECT_EQ(fields, 52u) << s;
    // utime: the application's 2.5 s of CPU time in ticks (field 14).
    std::vector<std::string> f;
    for (size_t i = 0, j; i < s.size(); i = j + 1) {
      j = s.find_first_of(" \n", i);
      f.push_back(s.substr(i, j - i));
    }
    EXPECT_EQ(f[13], "250");
    EXPECT_EQ(f[19], "1");  // num_threads
  });
}

TEST_F(ProcTest, CmdlineCommMapsAndEnviron) {
  ASSERT_TRUE(mm_->MMap(Anon(8192, PROT_READ, "[test]")));
  InTask([&] {
    EXPECT_EQ(Contents("/proc/self/cmdline"), std::string("prog\0--flag\0x y\0", 16));
    EXPECT_EQ(Contents("/proc/self/comm"), "prog\n");
    std::string maps = Contents("/proc/self/maps");
    EXPECT_EQ(maps, mm_->MapsText());
    EXPECT_NE(maps.find("[test]"), std::string::npos);
    EXPECT_EQ(Contents("/proc/self/environ"), std::string("HOME=/\0LANG=C\0", 14));
    EXPECT_EQ(Resolve("/proc/self/environ")->inode().Stat()->st_mode, S_IFREG | 0400);
    EXPECT_NE(Contents("/proc/self/limits").find("Max open files"), std::string::npos);
    EXPECT_EQ(Contents("/proc/self/statm").substr(0, 2), "3 ");  // with the strings' page
  });
}

TEST_F(ProcTest, FilesAreEmptyInStatAndOwnedByTheTask) {
  InTask([&] {
    for (const char* p : {"/proc/self/status", "/proc/self/maps", "/proc/cpuinfo"}) {
      auto st = Resolve(p)->inode().Stat();
      ASSERT_TRUE(st) << p;
      EXPECT_EQ(st->st_size, 0) << p;
      EXPECT_EQ(st->st_mode, S_IFREG | 0444) << p;
      EXPECT_EQ(st->st_nlink, 1u) << p;
    }
    EXPECT_EQ(Resolve("/proc/self/comm")->inode().Stat()->st_mode, S_IFREG | 0644);
    EXPECT_EQ(Resolve("/proc/self/fd")->inode().Stat()->st_mode, S_IFDIR | 0500);
    // Inode numbers agree between readdir and stat.
    auto dir = Resolve("/proc/self")->inode().ReadDir();
    ASSERT_TRUE(dir);
    for (const auto& e : *dir) {
      auto child = Resolve("/proc/self/" + e.name, 0);
      ASSERT_TRUE(child) << e.name;
      EXPECT_EQ(child->inode().Stat()->st_ino, e.ino) << e.name;
    }
  });
}

TEST_F(ProcTest, ReadingFromOffsetZeroAgainSeesTheStateNow) {
  ASSERT_TRUE(mm_->MMap(Anon(4096, PROT_READ, "[first]")));
  InTask([&] {
    auto f = Open("/proc/self/maps");
    ASSERT_TRUE(f);
    std::string before = ReadAll(**f).value();
    ASSERT_TRUE(mm_->MMap(Anon(4096, PROT_READ, "[later]")));
    // Reading on from the end still sees the snapshot; a read from 0 sees the new mapping.
    EXPECT_EQ(ReadAll(**f).value(), "");
    EXPECT_EQ(before.find("[later]"), std::string::npos);
    EXPECT_NE(PreadAll(**f).value().find("[later]"), std::string::npos);
    ASSERT_EQ((*f)->Seek(0, SEEK_SET).value(), 0);
    EXPECT_NE(ReadAll(**f).value().find("[later]"), std::string::npos);
  });
}

TEST_F(ProcTest, SeekFollowsLinux) {
  InTask([&] {
    auto status = Open("/proc/self/status").value();
    EXPECT_EQ(status->Seek(5, SEEK_SET).value_or(-1), 5);
    EXPECT_EQ(status->Seek(5, SEEK_CUR).value_or(-1), 10);
    EXPECT_EQ(ErrnoOf(status->Seek(0, SEEK_END)), EINVAL);
    EXPECT_EQ(ErrnoOf(status->Seek(-1, SEEK_SET)), EINVAL);
    auto cmdline = Open("/proc/self/cmdline").value();
    EXPECT_EQ(cmdline->Seek(5, SEEK_END).value_or(-1), 5);
    EXPECT_EQ(ReadAll(*cmdline).value(), std::string("--flag\0x y\0", 11));
  });
}

// ---- fd/ and fdinfo/ ------------------------------------------------------------------------

TEST_F(ProcTest, FdListsOpenFilesAsLinks) {
  auto file = TmpFile("data", "hello", O_RDONLY);
  ASSERT_TRUE(fds_->InstallAt(3, file, false));
  ASSERT_TRUE(fds_->InstallAt(4, std::make_shared<FakePipe>(), true));
  ASSERT_TRUE(fds_->InstallAt(7, TmpFile("rw", "", O_RDWR), false));
  ASSERT_TRUE(fds_->InstallAt(0, TmpFile("zero", "", O_WRONLY), false));
  InTask([&] {
    EXPECT_EQ(Names("/proc/self/fd"), (std::vector<std::string>{".", "..", "0", "3", "4", "7"}));
    EXPECT_EQ(Names("/proc/self/fdinfo"),
              (std::vector<std::string>{".", "..", "0", "3", "4", "7"}));
    EXPECT_EQ(Link("/proc/self/fd/0"), "/tmp/zero");
    EXPECT_EQ(Resolve("/proc/self/fd/0", 0)->inode().Stat()->st_mode, S_IFLNK | 0300);
    EXPECT_NE(Contents("/proc/self/fdinfo/0").find("flags:\t0100001\n"), std::string::npos);
    EXPECT_EQ(Link("/proc/self/fd/3"), "/tmp/data");
    EXPECT_EQ(Link("/proc/self/fd/4"), "pipe:[4242]");
    EXPECT_EQ(Resolve("/proc/self/fd/3", 0)->inode().Stat()->st_mode, S_IFLNK | 0500);
    EXPECT_EQ(Resolve("/proc/self/fd/7", 0)->inode().Stat()->st_mode, S_IFLNK | 0700);
    EXPECT_EQ(ErrnoOf(Resolve("/proc/self/fd/5", 0)), ENOENT);
    EXPECT_EQ(ErrnoOf(Resolve("/proc/self/fd/03", 0)), ENOENT);

    std::string info = Contents("/proc/self/fdinfo/3");
    EXPECT_EQ(info.rfind("pos:\t0\nflags:\t0100000\nmnt_id:\t", 0), 0u) << info;
    EXPECT_NE(info.find("\nino:\t" + std::to_string(file->Stat()->st_ino) + "\n"),
              std::string::npos);
    EXPECT_NE(Contents("/proc/self/fdinfo/4").find("flags:\t02100000\n"), std::string::npos);
    EXPECT_NE(Contents("/proc/self/status").find("FDSize:\t64\n"), std::string::npos);

    // Once closed, the cached names are gone too.
    ASSERT_TRUE(fds_->Close(3));
    EXPECT_EQ(Link("/proc/self/fd/3"), "<errno 2>");
    EXPECT_EQ(Contents("/proc/self/fdinfo/3"), "<errno 2>");
    EXPECT_EQ(Names("/proc/self/fd"), (std::vector<std::string>{".", "..", "0", "4", "7"}));
  });
}

TEST_F(ProcTest, FdinfoShowsThePosition) {
  auto file = TmpFile("pos", "0123456789", O_RDONLY);
  ASSERT_TRUE(file->Seek(6, SEEK_SET));
  ASSERT_TRUE(fds_->InstallAt(3, file, false));
  InTask([&] {
    EXPECT_EQ(Contents("/proc/self/fdinfo/3").rfind("pos:\t6\n", 0), 0u);
    // A file that describes itself: fd 3 becomes the fdinfo file for fd 3. Rereading it
    // from 0 asks its own position, which must not deadlock.
    auto self_info = Open("/proc/self/fdinfo/3").value();
    ASSERT_TRUE(fds_->InstallAt(3, self_info, false));
    ASSERT_TRUE(ReadAll(*self_info));
    std::string again = PreadAll(*self_info).value();
    EXPECT_EQ(again.rfind("pos:\t", 0), 0u) << again;
  });
}

TEST_F(ProcTest, MagicLinksLeadToTheOpenFile) {
  auto file = TmpFile("gone", "still here", O_RDONLY);
  ASSERT_TRUE(fds_->InstallAt(3, file, false));
  auto pipe = std::make_shared<FakePipe>();
  ASSERT_TRUE(fds_->InstallAt(4, pipe, false));
  InTask([&] {
    // Unlinked, the file keeps its place: readlink says so, and the link still opens it.
    auto tmp = Resolve("/tmp").value();
    ASSERT_TRUE(tmp.inode().Unlink("gone"));
    tmp.dentry->DropChild("gone");
    EXPECT_EQ(Link("/proc/self/fd/3"), "/tmp/gone (deleted)");
    std::shared_ptr<ProcSymlink> link = SymlinkAt("/proc/self/fd/3");
    ASSERT_NE(link, nullptr);
    EXPECT_TRUE(link->IsMagicLink());
    auto target = link->MagicLinkTarget();
    ASSERT_TRUE(target && *target);
    EXPECT_EQ(**target, file->path());
    auto reopened = (*target)->inode().Open(**target, O_RDONLY);
    ASSERT_TRUE(reopened);
    EXPECT_EQ(PreadAll(**reopened).value(), "still here");

    // A file with no place opens to itself, for what it was opened for only.
    std::shared_ptr<ProcSymlink> pipe_link = SymlinkAt("/proc/self/fd/4");
    ASSERT_NE(pipe_link, nullptr);
    auto pipe_target = pipe_link->MagicLinkTarget();
    ASSERT_TRUE(pipe_target && *pipe_target);
    EXPECT_EQ((*pipe_target)->inode().Stat()->st_mode & S_IFMT, S_IFIFO);
    EXPECT_EQ((*pipe_target)->inode().Open(**pipe_target, O_RDONLY).value(), pipe);
    EXPECT_EQ(ErrnoOf((*pipe_target)->inode().Open(**pipe_target, O_WRONLY)), EACCES);

    // cwd and root lead to the task's; exe to the program; plain symlinks are not magic.
    EXPECT_EQ(Link("/proc/self/cwd"), "/tmp");
    EXPECT_EQ(Link("/proc/self/root"), "/");
    EXPECT_EQ(Link("/proc/self/exe"), "/bin/prog");
    EXPECT_EQ(**SymlinkAt("/proc/self/cwd")->MagicLinkTarget(), tmp);
    EXPECT_EQ(**SymlinkAt("/proc/self/root")->MagicLinkTarget(), mounts_->Root());
    EXPECT_EQ(**SymlinkAt("/proc/self/exe")->MagicLinkTarget(), Resolve("/bin/prog").value());
    EXPECT_FALSE(SymlinkAt("/proc/self")->IsMagicLink());
    EXPECT_FALSE(SymlinkAt("/proc/self")->MagicLinkTarget().value().has_value());
  });
}

// Once vfs::Inode has MagicLinkTarget and vfs::Resolve follows it (the patch that came with
// procfs), path resolution itself must go through magic links. Templates keep this compiling
// before the patch: the checks only exist when the hook does.
template <class I = vfs::Inode, class Flags = vfs::ResolveFlags>
void ExpectResolutionFollowsMagicLinks(
    ProcTest* t,
    const std::function<Result<vfs::VirtualDentry>(std::string_view, unsigned)>& resolve,
    const std::shared_ptr<vfs::FileDescription>& file) {
  if constexpr (requires(I & i, Flags f) {
                  i.MagicLinkTarget();
                  Flags::kNoMagicLinks;
                }) {
    auto vd = resolve("/proc/self/fd/3", vfs::kFollowFinal);
    ASSERT_TRUE(vd);
    EXPECT_EQ(*vd, file->path());  // the unlinked file itself, not a lookup of its old name
    EXPECT_EQ(ErrnoOf(resolve("/proc/self/fd/3", vfs::kFollowFinal | Flags::kNoMagicLinks)), ELOOP);
    EXPECT_EQ(ErrnoOf(resolve("/proc/self/fd/3", vfs::kFollowFinal | Flags::kNoSymlinks)), ELOOP);
    // Plain symlinks are still followed under RESOLVE_NO_MAGICLINKS.
    EXPECT_TRUE(resolve("/proc/self/status", vfs::kFollowFinal | Flags::kNoMagicLinks));
    // ".." from a magic link's target walks up from there.
    auto up = resolve("/proc/self/cwd/..", vfs::kFollowFinal);
    ASSERT_TRUE(up);
    EXPECT_EQ(*up, resolve("/", vfs::kFollowFinal).value());
  } else {
    (void)t;
    (void)resolve;
    (void)file;
    GTEST_SKIP() << "vfs has no magic-link hook yet";
  }
}

TEST_F(ProcTest, ResolutionFollowsMagicLinks) {
  auto file = TmpFile("unlinked", "x", O_RDONLY);
  ASSERT_TRUE(fds_->InstallAt(3, file, false));
  InTask([&] {
    auto tmp = Resolve("/tmp").value();
    ASSERT_TRUE(tmp.inode().Unlink("unlinked"));
    tmp.dentry->DropChild("unlinked");
    ExpectResolutionFollowsMagicLinks(
        this, [&](std::string_view p, unsigned f) { return Resolve(p, f); }, file);
  });
}

TEST_F(ProcTest, ExeThatLeadsBackToProcDoesNotRecurse) {
  task_->set_exe_path("/proc/self/exe");
  InTask([&] {
    // The executable cannot be found again this way; the link still reads as its path.
    EXPECT_EQ(Link("/proc/self/exe"), "/proc/self/exe");
    EXPECT_EQ(ErrnoOf(SymlinkAt("/proc/self/exe")->MagicLinkTarget()), ELOOP);
  });
}

// ---- task/ ----------------------------------------------------------------------------------

TEST_F(ProcTest, TaskDirectoryListsTheThreads) {
  InTask([&] {
    EXPECT_EQ(Names("/proc/self/task"), (std::vector<std::string>{".", "..", "1"}));
    EXPECT_EQ(Contents("/proc/self/task/1/comm"), "prog\n");
    // The only thread's stat is the process's, but for its CPU times (fields 14-17), which move
    // between the two reads.
    auto without_times = [](const std::string& stat) {
      std::vector<std::string> fields = absl::StrSplit(stat, ' ');
      for (size_t i = 13; i < 17 && i < fields.size(); ++i) fields[i] = "-";
      return absl::StrJoin(fields, " ");
    };
    EXPECT_EQ(without_times(Contents("/proc/self/task/1/stat")),
              without_times(Contents("/proc/self/stat")));
    EXPECT_EQ(ErrnoOf(Resolve("/proc/self/task/2")), ENOENT);
    EXPECT_EQ(ErrnoOf(Resolve("/proc/self/task/1/task")), ENOENT);  // threads have no task/
  });
}

TEST_F(ProcTest, FilesOfAGoneTaskFail) {
  std::shared_ptr<vfs::Inode> status;
  std::shared_ptr<vfs::FileDescription> open_stat;
  InTask([&] {
    status = Resolve("/proc/1/status")->dentry->inode_ptr();
    open_stat = Open("/proc/1/stat").value();
  });
  ASSERT_TRUE(status);
  // The task has exited but is not reaped: a zombie, with what Linux shows of one.
  Exit();
  std::string zombie = Contents("/proc/1/status");
  EXPECT_NE(zombie.find("State:\tZ (zombie)\n"), std::string::npos) << zombie;
  EXPECT_EQ(zombie.find("Umask:"), std::string::npos) << zombie;
  EXPECT_EQ(zombie.find("VmSize:"), std::string::npos) << zombie;
  EXPECT_EQ(Contents("/proc/1/stat").rfind("1 (prog) Z 0 ", 0), 0u);
  EXPECT_EQ(Contents("/proc/1/cmdline"), "");
  EXPECT_EQ(ErrnoOf(Open("/proc/1/environ")), ESRCH);
  EXPECT_EQ(ErrnoOf(Open("/proc/1/mounts")), EINVAL);
  EXPECT_EQ(ErrnoOf(Resolve("/proc/1/exe")), ENOENT);
  EXPECT_EQ(ErrnoOf(Resolve("/proc/1/cwd")), ENOENT);
  EXPECT_EQ(Names("/proc/1/fd"), (std::vector<std::string>{".", ".."}));
  EXPECT_EQ(Names("/proc/1/task"), (std::vector<std::string>{".", "..", "1"}));
  EXPECT_NE(Contents("/proc/1/task/1/status").find("State:\tZ (zombie)\n"), std::string::npos);
  // Gone altogether (reaped, here by its last reference going): the kept inode and the open
  // file answer ENOENT and ESRCH rather than showing stale state.
  task_.reset();
  EXPECT_EQ(ErrnoOf(status->Stat()), ENOENT);
  EXPECT_EQ(ErrnoOf(status->Open({}, O_RDONLY)), ENOENT);
  char buf[16];
  iovec iov{buf, sizeof(buf)};
  EXPECT_EQ(ErrnoOf(open_stat->Read({&iov, 1}, 0)), ESRCH);
  EXPECT_EQ(ErrnoOf(Resolve("/proc/1")), ENOENT);
  EXPECT_FALSE(Has(Names("/proc"), "1"));
}

// The dentry cache keeps /proc's fixed names but not those of processes, threads and fds: a
// long-lived sandbox would otherwise keep an entry for every process it ever ran. An entry
// lives as long as someone uses it (an open file, a working directory).
TEST_F(ProcTest, ProcessEntriesAreNotCached) {
  InTask([&] {
    std::weak_ptr<vfs::Dentry> pid, thread, self, status;
    std::shared_ptr<vfs::FileDescription> open_status;
    {
      auto proc = Resolve("/proc");
      ASSERT_TRUE(proc);
      auto child = proc->dentry->Child("1");
      ASSERT_TRUE(child);
      pid = *child;
      auto again = proc->dentry->Child("1");
      ASSERT_TRUE(again);
      EXPECT_NE(again->get(), child->get());
      self = proc->dentry->Child("self").value();
      thread = Resolve("/proc/1/task/1")->dentry;
      open_status = Open("/proc/1/status").value();
      status = open_status->path().dentry;
    }
    EXPECT_TRUE(pid.expired());
    EXPECT_TRUE(thread.expired());
    EXPECT_FALSE(self.expired());
    // The open file holds its entry, and the process directory above it.
    ASSERT_FALSE(status.expired());
    EXPECT_EQ(status.lock()->parent()->name(), "1");
    open_status.reset();
    EXPECT_TRUE(status.expired());
  });
}

// ---- Mounts ---------------------------------------------------------------------------------

TEST_F(ProcTest, AMountOnAProcessEntryIsFoundUntilUndone) {
  InTask([&] {
    std::weak_ptr<vfs::Dentry> mountpoint, pid;
    {
      auto at = Resolve("/proc/1/fdinfo");
      ASSERT_TRUE(at);
      mountpoint = at->dentry;
      pid = at->dentry->parent();
      auto fs = tmpfs::Filesystem::Create(kernel_->memory_file(), 0755, 0, 0);
      auto m = std::make_shared<vfs::Mount>(vfs::Dentry::NewRoot(fs->root()), "tmpfs", "none", 0);
      ASSERT_TRUE(mounts_->AddMount(*at, m));
      // Found again through new lookups, /proc/self included.
      for (const char* path : {"/proc/1/fdinfo", "/proc/self/fdinfo"}) {
        auto again = Resolve(path);
        ASSERT_TRUE(again) << path;
        EXPECT_EQ(again->mount, m) << path;
      }
      EXPECT_EQ(Resolve("/proc/1")->dentry, pid.lock());
      ASSERT_TRUE(mounts_->Unmount(m, false, 1));
    }
    // Undone, the mount leaves nothing of the process behind.
    EXPECT_TRUE(mountpoint.expired());
    EXPECT_TRUE(pid.expired());
    EXPECT_NE(Resolve("/proc/1/fdinfo")->mount->fs_type(), "tmpfs");
  });
}

TEST_F(ProcTest, MountsAndMountinfo) {
  InTask([&] {
    std::string mounts = Contents("/proc/self/mounts");
    EXPECT_EQ(mounts,
              "none / tmpfs rw,relatime 0 0\n"
              "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n");
    EXPECT_EQ(Link("/proc/mounts"), "self/mounts");
    EXPECT_EQ(Contents("/proc/mounts"), mounts);
    std::string info = Contents("/proc/self/mountinfo");
    dev_t tmpfs_dev = tmpfs_->dev();
    dev_t proc_dev = proc_root_->Stat()->st_dev;
    EXPECT_EQ(info, "1 1 " + std::to_string(major(tmpfs_dev)) + ":" +
                        std::to_string(minor(tmpfs_dev)) +
                        " / / rw,relatime - tmpfs none rw\n"
                        "2 1 " +
                        std::to_string(major(proc_dev)) + ":" + std::to_string(minor(proc_dev)) +
                        " / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n");
    // fdinfo's mnt_id is the same numbering.
    auto f = Open("/proc/self/status").value();
    ASSERT_TRUE(fds_->InstallAt(5, f, false));
    EXPECT_NE(Contents("/proc/self/fdinfo/5").find("mnt_id:\t2\n"), std::string::npos);
  });
}

// ---- Global files ---------------------------------------------------------------------------

TEST_F(ProcTest, GlobalFiles) {
  InTask([&] {
    EXPECT_EQ(Contents("/proc/cpuinfo"), "processor\t: 0\nmodel name\t: Test CPU\n\n");
    std::string meminfo = Contents("/proc/meminfo");
    EXPECT_EQ(meminfo.rfind("MemTotal:        4194304 kB\nMemFree:", 0), 0u) << meminfo;
    EXPECT_NE(meminfo.find("\nHugepagesize:       2048 kB\n"), std::string::npos) << meminfo;
    EXPECT_EQ(Contents("/proc/version").rfind("Linux version 6.1.0 ", 0), 0u);
    EXPECT_NE(Contents("/proc/filesystems").find("nodev\tproc\n"), std::string::npos);
    std::string stat = Contents("/proc/stat");
    EXPECT_EQ(stat.rfind("cpu  250 0 ", 0), 0u) << stat;
    EXPECT_NE(stat.find("\ncpu1 "), std::string::npos);
    EXPECT_NE(stat.find("\nbtime "), std::string::npos);
    EXPECT_NE(stat.find("\nprocs_running 1\n"), std::string::npos);
    std::string loadavg = Contents("/proc/loadavg");
    EXPECT_EQ(loadavg, "0.00 0.00 0.00 1/1 1\n");
    double up = 0, idle = 0;
    ASSERT_EQ(sscanf(Contents("/proc/uptime").c_str(), "%lf %lf", &up, &idle), 2);
    EXPECT_GE(up, 0);
    EXPECT_LT(up, 60);
  });
}

TEST_F(ProcTest, Sysctls) {
  InTask([&] {
    EXPECT_EQ(Contents("/proc/sys/kernel/hostname"), "sandbox-host\n");
    EXPECT_EQ(Contents("/proc/sys/kernel/ostype"), "Linux\n");
    EXPECT_EQ(Contents("/proc/sys/kernel/osrelease"), "6.1.0\n");
    EXPECT_EQ(Contents("/proc/sys/kernel/pid_max"), "4194304\n");
    EXPECT_EQ(Contents("/proc/sys/vm/overcommit_memory"), "0\n");
    EXPECT_EQ(Contents("/proc/sys/fs/nr_open"), "1048576\n");
    EXPECT_EQ(Names("/proc/sys"), (std::vector<std::string>{".", "..", "fs", "kernel", "vm"}));
  });
}

// ---- What procfs refuses --------------------------------------------------------------------

TEST_F(ProcTest, ChangesAreRefusedWithLinuxsErrnos) {
  InTask([&] {
    vfs::VirtualDentry proc = Resolve("/proc").value();
    vfs::VirtualDentry self = Resolve("/proc/self").value();
    vfs::VirtualDentry kernel_sys = Resolve("/proc/sys/kernel").value();
    // New names: procfs never finds them, so creating one is ENOENT; an existing one EEXIST.
    EXPECT_EQ(ErrnoOf(proc.inode().Mkdir("x", 0755, creds_)), ENOENT);
    EXPECT_EQ(ErrnoOf(self.inode().Mkdir("x", 0755, creds_)), ENOENT);
    EXPECT_EQ(ErrnoOf(proc.inode().Create("newfile", 0644, creds_)), ENOENT);
    EXPECT_EQ(ErrnoOf(proc.inode().Symlink("x", "/", creds_)), ENOENT);
    EXPECT_EQ(ErrnoOf(kernel_sys.inode().Mknod("x", S_IFIFO | 0644, 0, creds_)), ENOENT);
    EXPECT_EQ(ErrnoOf(proc.inode().Mkdir("version", 0755, creds_)), EEXIST);
    EXPECT_EQ(ErrnoOf(proc.inode().Link("x", proc.inode())), ENOENT);
    // Removing: EPERM, or EACCES under /proc/sys; ENOENT for names that are not there.
    EXPECT_EQ(ErrnoOf(proc.inode().Unlink("version")), EPERM);
    EXPECT_EQ(ErrnoOf(proc.inode().Unlink("self")), EPERM);
    EXPECT_EQ(ErrnoOf(self.inode().Unlink("status")), EPERM);
    EXPECT_EQ(ErrnoOf(proc.inode().Rmdir("1")), EPERM);
    EXPECT_EQ(ErrnoOf(self.inode().Rmdir("fd")), EPERM);
    EXPECT_EQ(ErrnoOf(proc.inode().Unlink("nothing")), ENOENT);
    EXPECT_EQ(ErrnoOf(kernel_sys.inode().Unlink("ostype")), EACCES);
    EXPECT_EQ(ErrnoOf(self.inode().Rename("status", self.inode(), "stat", 0)), EPERM);
    EXPECT_EQ(ErrnoOf(self.inode().Rename("status", self.inode(), "s2", 0)), ENOENT);
    // chmod is EPERM; truncate, chown and utimes are accepted and change nothing.
    vfs::SetStatRequest chmod;
    chmod.mode = 0777;
    EXPECT_EQ(ErrnoOf(Resolve("/proc/self/status")->inode().SetStat(chmod)), EPERM);
    vfs::SetStatRequest truncate;
    truncate.size = 0;
    EXPECT_TRUE(Resolve("/proc/version")->inode().SetStat(truncate));
    EXPECT_EQ(Resolve("/proc/version")->inode().Stat()->st_mode, S_IFREG | 0444);

    // Writing: a directory is EISDIR; root may open a file for writing, as on Linux, and the
    // write fails (EINVAL for a task's files, EIO for the global ones); sysctls refuse the
    // open itself.
    EXPECT_EQ(ErrnoOf(Open("/proc/self", O_WRONLY)), EISDIR);
    auto status = Open("/proc/self/status", O_WRONLY);
    ASSERT_TRUE(status);
    iovec iov{const_cast<char*>("x"), 1};
    EXPECT_EQ(ErrnoOf((*status)->Write({&iov, 1}, std::nullopt)), EINVAL);
    auto version = Open("/proc/version", O_RDWR);
    ASSERT_TRUE(version);
    EXPECT_EQ(ErrnoOf((*version)->Write({&iov, 1}, std::nullopt)), EIO);
    EXPECT_EQ(ErrnoOf(Open("/proc/sys/kernel/ostype", O_WRONLY)), EACCES);
    EXPECT_EQ(ErrnoOf(Open("/proc/sys/kernel/hostname", O_WRONLY)), EACCES);
    // Anyone else is stopped by the mode bits.
    creds_ = vfs::FsCredentials{.uid = 1000, .gid = 1000, .groups = {}, .dac_override = false};
    EXPECT_EQ(ErrnoOf(Open("/proc/self/status", O_WRONLY)), EACCES);
    EXPECT_EQ(ErrnoOf(Open("/proc/cpuinfo", O_WRONLY)), EACCES);
    EXPECT_EQ(ErrnoOf(Open("/proc/self/environ", O_RDONLY)), EACCES);  // 0400, owned by root
    EXPECT_TRUE(Open("/proc/self/status", O_RDONLY));
  });
}

}  // namespace
}  // namespace sentry::fsimpl::proc
