// What the file-system conformance tests share: a scratch directory under /tmp removed with its
// contents, raw-syscall wrappers for opening, reading and writing files, and scoped umask/cwd.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <linux/limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "syscalls/test_util.h"

namespace conformance {

// Removes `path` and everything below it; the scratch directory's clean-up.
void RemoveTree(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    if (DIR* dir = opendir(path.c_str())) {
      while (const dirent* entry = readdir(dir)) {
        const std::string name = entry->d_name;
        if (name != "." && name != "..") RemoveTree(path + "/" + name);
      }
      closedir(dir);
    }
    rmdir(path.c_str());
  } else {
    unlink(path.c_str());
  }
}

// A fresh directory under /tmp, removed with its contents at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    char tmpl[] = "/tmp/conformance_XXXXXX";
    if (mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~ScratchDir() {
    if (!path_.empty()) RemoveTree(path_);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  // The absolute path of `name` inside the directory.
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

#define ASSERT_SCRATCH(dir) ASSERT_TRUE((dir).ok()) << "mkdtemp under /tmp: " << strerror(errno)

[[maybe_unused]] long Open(const std::string& path, long flags, long mode = 0) {
  return syscall(SYS_open, path.c_str(), flags, mode);
}
[[maybe_unused]] long Openat(int dirfd, const std::string& path, long flags, long mode = 0) {
  return syscall(SYS_openat, dirfd, path.c_str(), flags, mode);
}
[[maybe_unused]] long Close(long fd) { return syscall(SYS_close, fd); }

// Creates (or replaces) a regular file holding `content`.
[[maybe_unused]] bool WriteFile(const std::string& path, const std::string& content) {
  const long fd = Open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return false;
  const long n = syscall(SYS_write, fd, content.data(), content.size());
  Close(fd);
  return n == static_cast<long>(content.size());
}

// The whole content of a file, or "<error>" if it cannot be opened.
[[maybe_unused]] std::string ReadFile(const std::string& path) {
  const long fd = Open(path, O_RDONLY);
  if (fd < 0) return "<error>";
  std::string out;
  char buf[256];
  long n;
  while ((n = syscall(SYS_read, fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  Close(fd);
  return out;
}

[[maybe_unused]] bool Exists(const std::string& path) {
  struct stat st;
  return syscall(SYS_lstat, path.c_str(), &st) == 0;
}

[[maybe_unused]] struct stat Lstat(const std::string& path) {
  struct stat st {};
  EXPECT_SYSCALL_OK(syscall(SYS_lstat, path.c_str(), &st)) << path;
  return st;
}

[[maybe_unused]] struct stat Fstat(long fd) {
  struct stat st {};
  EXPECT_SYSCALL_OK(syscall(SYS_fstat, fd, &st));
  return st;
}

// Sets the umask for the scope and restores the previous one.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(umask(mask)) {}
  ~ScopedUmask() { umask(old_); }

 private:
  mode_t old_;
};

// Restores the working directory at the end of the scope.
class ScopedCwd {
 public:
  ScopedCwd() {
    char buf[PATH_MAX];
    if (getcwd(buf, sizeof(buf)) != nullptr) old_ = buf;
  }
  ~ScopedCwd() {
    if (!old_.empty()) {
      EXPECT_EQ(chdir(old_.c_str()), 0);
    }
  }

 private:
  std::string old_;
};

}  // namespace conformance
