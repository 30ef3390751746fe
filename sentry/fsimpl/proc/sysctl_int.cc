#include "sentry/fsimpl/proc/sysctl_int.h"

#include <fcntl.h>

#include <climits>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "sentry/base/user_addr.h"
#include "sentry/vfs/iovec.h"

namespace sentry::fsimpl::proc {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// Where a number may end: proc_dointvec's separators.
bool IsSeparator(char c) { return c == ' ' || c == '\t' || c == '\n'; }

// The value of `c` as a digit, or a number no base reaches.
unsigned DigitValue(char c) {
  if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0');
  if (c >= 'a' && c <= 'z') return static_cast<unsigned>(c - 'a' + 10);
  if (c >= 'A' && c <= 'Z') return static_cast<unsigned>(c - 'A' + 10);
  return 99;
}

// Linux reads at most this many characters of one number (its TMPBUFLEN less the NUL); a number
// that fills them is refused, since what follows is unknown.
constexpr size_t kMaxNumberChars = 21;

// An open sysctl: reads from the snapshot, writes set the value.
class IntSysctlFile : public SnapshotFile {
 public:
  IntSysctlFile(int flags, vfs::VirtualDentry path, GeneratedFile::Generator generate,
                std::string text, std::function<void(int)> set)
      : SnapshotFile(flags, std::move(path), std::move(generate), std::move(text), EINVAL,
                     /*seek_end_ok=*/true),
        set_(std::move(set)) {}

  Result<uint64_t> Write(std::span<const iovec> src, std::optional<int64_t> offset) override {
    uint64_t count = vfs::IovecTotal(src);
    if (count == 0) return 0;
    std::lock_guard lock(pos_mu_);
    int64_t at = offset.value_or(pos_);
    if (at < 0) return Err(EINVAL);
    uint64_t written = count;
    // kernel.sysctl_writes_strict (1, the default): a write after the start changes nothing and
    // takes everything.
    if (at == 0) {
      std::string text(std::min<uint64_t>(count, kPageSize - 1), '\0');
      vfs::IovecCursor(src).Drain(reinterpret_cast<uint8_t*>(text.data()), text.size());
      SysctlInt parsed = TRY(ParseSysctlInt(text));
      set_(parsed.value);
      written = count - (text.size() - parsed.consumed);
    }
    if (!offset) pos_ += static_cast<int64_t>(written);
    return written;
  }

 private:
  const std::function<void(int)> set_;
};

}  // namespace

Result<SysctlInt> ParseSysctlInt(std::string_view text) {
  size_t p = 0;
  while (p < text.size() && IsSpace(text[p])) ++p;
  if (p == text.size()) return Err(EINVAL);
  std::string_view number = text.substr(p, kMaxNumberChars);
  size_t q = 0;
  bool negative = number[0] == '-' && text.size() - p > 1;
  if (negative) ++q;
  if (q >= number.size() || number[q] < '0' || number[q] > '9') return Err(EINVAL);
  unsigned base = 10;
  if (number[q] == '0') {
    base = 8;
    if (q + 2 < number.size() && (number[q + 1] == 'x' || number[q + 1] == 'X') &&
        DigitValue(number[q + 2]) < 16) {
      base = 16;
      q += 2;
    }
  }
  uint64_t magnitude = 0;
  for (; q < number.size() && DigitValue(number[q]) < base; ++q) {
    uint64_t digit = DigitValue(number[q]);
    if (magnitude > (UINT64_MAX - digit) / base) return Err(EINVAL);  // out of unsigned long
    magnitude = magnitude * base + digit;
  }
  if (q == kMaxNumberChars) return Err(EINVAL);
  if (p + q < text.size() && !IsSeparator(text[p + q])) return Err(EINVAL);
  int value;
  if (negative) {
    if (magnitude > uint64_t{INT_MAX} + 1) return Err(EINVAL);
    value = static_cast<int>(-static_cast<int64_t>(magnitude));
  } else {
    if (magnitude > uint64_t{INT_MAX}) return Err(EINVAL);
    value = static_cast<int>(magnitude);
  }
  p += q;
  while (p < text.size() && IsSpace(text[p])) ++p;
  return SysctlInt{value, p};
}

IntSysctl::IntSysctl(std::shared_ptr<ProcFs> fs, mode_t perms, uint64_t ino,
                     std::function<int()> get, std::function<void(int)> set)
    : ProcInode(std::move(fs), S_IFREG | perms, ino, TaskRef{}),
      get_(std::move(get)),
      set_(std::move(set)) {}

Result<std::shared_ptr<vfs::FileDescription>> IntSysctl::Open(const vfs::VirtualDentry& path,
                                                              int flags) {
  GeneratedFile::Generator generate = [get = get_]() -> Result<std::string> {
    return absl::StrCat(get(), "\n");
  };
  std::string text = TRY(generate());
  return std::shared_ptr<vfs::FileDescription>(
      std::make_shared<IntSysctlFile>(flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC),
                                      path, std::move(generate), std::move(text), set_));
}

}  // namespace sentry::fsimpl::proc
