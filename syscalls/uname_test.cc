// uname(2): the system's identity, and EFAULT for buffers the kernel cannot write.
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "syscalls/test_util.h"

namespace {

using conformance::PageSize;

// Each field is a NUL-terminated string within its array.
bool Terminated(const char (&field)[sizeof(utsname::sysname)]) {
  return memchr(field, '\0', sizeof(field)) != nullptr;
}

TEST(UnameTest, DescribesLinuxOnX86_64) {
  struct utsname u;
  memset(&u, 0x7f, sizeof(u));
  ASSERT_SYSCALL_OK(syscall(SYS_uname, &u));
  for (const auto* field :
       {&u.sysname, &u.nodename, &u.release, &u.version, &u.machine, &u.domainname}) {
    EXPECT_TRUE(Terminated(*field));
  }
  EXPECT_STREQ(u.sysname, "Linux");
  EXPECT_STREQ(u.machine, "x86_64");
  EXPECT_GT(strlen(u.nodename), 0u);
  EXPECT_GT(strlen(u.version), 0u);
  // The release starts "MAJOR.MINOR", which is what programs parse to detect features.
  const std::string release = u.release;
  const size_t dot = release.find('.');
  ASSERT_NE(dot, std::string::npos) << release;
  ASSERT_GT(dot, 0u) << release;
  ASSERT_LT(dot + 1, release.size()) << release;
  for (size_t i = 0; i < dot; i++) EXPECT_TRUE(isdigit(release[i])) << release;
  EXPECT_TRUE(isdigit(release[dot + 1])) << release;
}

TEST(UnameTest, IsStable) {
  struct utsname a, b;
  ASSERT_SYSCALL_OK(syscall(SYS_uname, &a));
  ASSERT_SYSCALL_OK(syscall(SYS_uname, &b));
  EXPECT_STREQ(a.sysname, b.sysname);
  EXPECT_STREQ(a.nodename, b.nodename);
  EXPECT_STREQ(a.release, b.release);
  EXPECT_STREQ(a.version, b.version);
  EXPECT_STREQ(a.machine, b.machine);
  EXPECT_STREQ(a.domainname, b.domainname);
}

TEST(UnameTest, GlibcWrapperAgrees) {
  struct utsname raw, wrapped;
  ASSERT_SYSCALL_OK(syscall(SYS_uname, &raw));
  ASSERT_SYSCALL_OK(uname(&wrapped));
  EXPECT_STREQ(raw.release, wrapped.release);
  EXPECT_STREQ(raw.nodename, wrapped.nodename);
}

TEST(UnameTest, NullBufferIsEFAULT) { EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_uname, nullptr)); }

TEST(UnameTest, UnwritableBufferIsEFAULT) {
  void* p = mmap(nullptr, PageSize(), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_uname, p));
  ASSERT_SYSCALL_OK(mprotect(p, PageSize(), PROT_NONE));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_uname, p));
  ASSERT_SYSCALL_OK(munmap(p, PageSize()));
}

TEST(UnameTest, BufferRunningIntoAnUnmappedPageIsEFAULT) {
  char* p = static_cast<char*>(
      mmap(nullptr, 2 * PageSize(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  ASSERT_SYSCALL_OK(munmap(p + PageSize(), PageSize()));
  // The struct starts on a good page and ends on the unmapped one.
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_uname, p + PageSize() - 100));
  ASSERT_SYSCALL_OK(munmap(p, PageSize()));
}

}  // namespace
