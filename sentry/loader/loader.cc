#include "sentry/loader/loader.h"

#include <elf.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "sentry/loader/elf.h"
#include "sentry/mm/mappable.h"

namespace sentry::loader {
namespace {

// Linux's limits on the strings execve copies: one string, and all of them together.
constexpr uint64_t kMaxArgStrlen = 32 * kPageSize;
constexpr uint64_t kInitialStackSize = 128 * 1024;
// ELF_ET_DYN_BASE on amd64: PIE executables are loaded around two thirds of the address space.
constexpr uint64_t kPieBase = 0x555555554000ULL;

uint64_t RandomPages(uint64_t max_pages) {
  uint64_t r = 0;
  if (getrandom(&r, sizeof(r), 0) != sizeof(r)) return 0;
  return (r % max_pages) * kPageSize;
}

LoadError Error(int err, std::string message) { return LoadError{err, std::move(message)}; }

uint8_t SegmentPerms(uint32_t flags) {
  int prot = 0;
  if (flags & PF_R) prot |= PROT_READ;
  if (flags & PF_W) prot |= PROT_WRITE;
  if (flags & PF_X) prot |= PROT_EXEC;
  return static_cast<uint8_t>(prot);
}

// Builds the initial stack top-down into a buffer and copies it out in one go.
class StackBuilder {
 public:
  explicit StackBuilder(uint64_t top) : top_(top) {}
  // Pushes bytes; returns their application address.
  uint64_t Push(const void* data, size_t len) {
    bytes_.insert(bytes_.begin(), static_cast<const uint8_t*>(data),
                  static_cast<const uint8_t*>(data) + len);
    return top_ - bytes_.size();
  }
  uint64_t PushString(const std::string& s) { return Push(s.c_str(), s.size() + 1); }
  void AlignTo(size_t align) {
    size_t pad = (top_ - bytes_.size()) % align;
    bytes_.insert(bytes_.begin(), pad, 0);
  }
  uint64_t sp() const { return top_ - bytes_.size(); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  uint64_t top_;
  std::vector<uint8_t> bytes_;  // bytes_[0] is at sp()
};

}  // namespace

mm::Layout ChooseLayout(uint64_t max_addr, uint64_t stack_limit,
                        const std::vector<platform::SharedRegion>& shared) {
  mm::Layout l;
  l.max_addr = max_addr;
  l.stack_limit = std::min<uint64_t>(stack_limit, max_addr / 6 * 5);
  uint64_t stack_ceiling = max_addr;
  for (const auto& r : shared) {
    stack_ceiling = std::min(stack_ceiling, r.start);
    if (r.name == "[vdso]") l.vdso_base = r.start;
  }
  // Stack randomised over 16 GiB below the top (or the vDSO), as Linux (STACK_RND_MASK) does.
  l.stack_top = PageRoundDown(stack_ceiling - kPageSize - RandomPages(1 << 22));
  // The mmap area starts below the stack's reach plus a guard gap, randomised over 1 TiB.
  uint64_t gap = std::clamp<uint64_t>(l.stack_limit, 128ULL << 20, max_addr / 6 * 5);
  l.mmap_base = PageRoundDown(l.stack_top - gap - RandomPages(1ULL << 28));
  return l;
}

namespace {

FileReader ReaderFor(vfs::FileDescription& file) {
  return [&file](void* buf, size_t len, uint64_t off) -> int64_t {
    size_t done = 0;
    while (done < len) {
      iovec v{static_cast<char*>(buf) + done, len - done};
      auto n = file.Read({&v, 1}, static_cast<int64_t>(off + done));
      if (!n) return -n.error().value;
      if (*n == 0) break;
      done += *n;
    }
    return static_cast<int64_t>(done);
  };
}

std::expected<ElfInfo, LoadError> Parse(vfs::FileDescription& file, const FileReader& read) {
  auto st = file.Stat();
  if (!st) return std::unexpected(Error(st.error().value, "cannot stat the file"));
  if (!S_ISREG(st->st_mode)) return std::unexpected(Error(EACCES, "not a regular file"));
  auto parsed = ParseElf(read, static_cast<uint64_t>(st->st_size));
  if (!parsed) return std::unexpected(Error(parsed.error().err, parsed.error().message));
  return *parsed;
}

// Gives each segment its own protection, once its pages are in place.
std::expected<void, LoadError> ProtectSegments(mm::MemoryManager& mm, const ElfInfo& elf,
                                               uint64_t bias) {
  for (const ElfSegment& seg : elf.loads) {
    uint64_t start = PageRoundDown(seg.vaddr + bias);
    uint64_t end = *PageRoundUp(seg.vaddr + bias + seg.memsz);
    if (end > start) {
      if (auto r = mm.MProtect(UserAddr(start), end - start, SegmentPerms(seg.flags)); !r) {
        return std::unexpected(Error(r.error().value, "cannot protect a segment"));
      }
    }
  }
  return {};
}

// Whether no two segments touch the same page: then each can be a mapping of its own.
bool SegmentsApart(const ElfInfo& elf) {
  for (size_t i = 0; i < elf.loads.size(); ++i) {
    for (size_t j = i + 1; j < elf.loads.size(); ++j) {
      const ElfSegment &a = elf.loads[i], &b = elf.loads[j];
      uint64_t a_end = *PageRoundUp(a.vaddr + a.memsz), b_end = *PageRoundUp(b.vaddr + b.memsz);
      if (PageRoundDown(a.vaddr) < b_end && PageRoundDown(b.vaddr) < a_end) return false;
    }
  }
  return true;
}

// Maps each segment as Linux does: a private mapping of the file's pages (shared with every
// other process running the file until one writes a page), the rest of the last file page
// zeroed when the segment has more memory than file, and anonymous memory for the remainder.
// Writable segments get their copies at once, unlike Linux, where a page of them would still
// show a later change to the file until written: nothing writes a program or library while it
// runs (it would break it on Linux too), and a trap per page written costs ~45 us on ptrace.
std::expected<void, LoadError> MapSegments(mm::MemoryManager& mm,
                                           std::shared_ptr<mm::Mappable> mappable,
                                           const ElfInfo& elf, uint64_t bias,
                                           const std::string& name) {
  static constexpr char kZeros[kPageSize] = {};
  for (const ElfSegment& seg : elf.loads) {
    uint64_t start = PageRoundDown(seg.vaddr + bias);
    uint64_t file_end = *PageRoundUp(seg.vaddr + bias + seg.filesz);
    uint64_t end = *PageRoundUp(seg.vaddr + bias + seg.memsz);
    if (seg.filesz > 0) {
      auto r = mm.MMapFile({.addr = start,
                            .length = file_end - start,
                            .prot = PROT_READ | PROT_WRITE,
                            .flags = MAP_PRIVATE | MAP_FIXED_NOREPLACE,
                            .name = name},
                           mappable, PageRoundDown(seg.offset),
                           platform::kAccessRead | platform::kAccessWrite | platform::kAccessExec);
      if (!r) return std::unexpected(Error(r.error().value, "cannot map a segment"));
      // The dynamic linker's relocations and the program's data write most of a writable
      // segment at once: copying it now costs one host mapping instead of a trap per page.
      if ((seg.flags & PF_W) &&
          !mm.Translate(UserAddr(start), file_end - start, platform::kAccessWrite)) {
        return std::unexpected(Error(ENOMEM, "cannot copy a writable segment"));
      }
      uint64_t data_end = seg.vaddr + bias + seg.filesz;
      if (seg.memsz > seg.filesz && data_end < file_end) {
        if (!mm.CopyOut(UserAddr(data_end), kZeros, file_end - data_end)) {
          return std::unexpected(Error(EFAULT, "cannot clear the end of a segment"));
        }
      }
    } else {
      file_end = start;
    }
    if (end > file_end) {
      auto r = mm.MMap({.addr = file_end,
                        .length = end - file_end,
                        .prot = PROT_READ | PROT_WRITE,
                        .flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                        .name = name});
      if (!r) return std::unexpected(Error(r.error().value, "cannot map a segment"));
    }
  }
  return {};
}

// Maps every segment's pages writable, fills them from the file, then gives each its own
// protection. A file whose pages the MemoryFile holds is mapped instead (MapSegments); anything
// else becomes the process's own copy.
std::expected<void, LoadError> LoadSegments(mm::MemoryManager& mm, vfs::FileDescription& file,
                                            const FileReader& read, const ElfInfo& elf,
                                            uint64_t bias, const std::string& name) {
  if (auto mappable = file.GetMappable(); mappable && SegmentsApart(elf)) {
    if (auto r = MapSegments(mm, std::move(mappable), elf, bias, name); !r) return r;
    return ProtectSegments(mm, elf, bias);
  }
  for (const ElfSegment& seg : elf.loads) {
    uint64_t start = PageRoundDown(seg.vaddr + bias);
    uint64_t end = *PageRoundUp(seg.vaddr + bias + seg.memsz);
    auto map = [&](uint64_t at, uint64_t len) {
      return mm.MMap({.addr = at,
                      .length = len,
                      .prot = PROT_READ | PROT_WRITE,
                      .flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                      .name = name});
    };
    auto whole = end > start ? map(start, end - start) : Result<UserAddr>(UserAddr(start));
    // Segments may share pages with earlier ones; then map only the pages still missing.
    for (uint64_t page = start; !whole && page < end; page += kPageSize) {
      auto r = map(page, kPageSize);
      if (!r && r.error().value != EEXIST) {
        return std::unexpected(Error(r.error().value, "cannot map a segment"));
      }
    }
    if (seg.filesz == 0) continue;
    auto views = mm.Translate(UserAddr(seg.vaddr + bias), seg.filesz, platform::kAccessWrite);
    if (!views) return std::unexpected(Error(EFAULT, "segment memory"));
    uint64_t off = seg.offset;
    for (const iovec& v : *views) {
      int64_t n = read(v.iov_base, v.iov_len, off);
      if (n < 0) return std::unexpected(Error(static_cast<int>(-n), "cannot read a segment"));
      if (static_cast<uint64_t>(n) != v.iov_len) {
        return std::unexpected(Error(EIO, "the file is shorter than its segments"));
      }
      off += v.iov_len;
    }
  }
  return ProtectSegments(mm, elf, bias);
}

}  // namespace

std::expected<Loaded, LoadError> Load(mm::MemoryManager& mm, vfs::FileDescription& exe,
                                      const ExecArgs& args, const FileOpener& open) {
  FileReader read = ReaderFor(exe);
  auto parsed = Parse(exe, read);
  if (!parsed) return std::unexpected(parsed.error());
  const ElfInfo& elf = *parsed;

  const mm::Layout& layout = mm.layout();
  uint64_t bias = 0;
  if (elf.position_independent) {
    bias = PageRoundDown(kPieBase + RandomPages(1ULL << 28)) - elf.min_vaddr;
  }
  if (elf.max_vaddr + bias > layout.max_addr || elf.min_vaddr + bias < kPageSize * 16) {
    return std::unexpected(Error(ENOMEM, "the executable does not fit the address space"));
  }
  if (auto r = LoadSegments(mm, exe, read, elf, bias, args.execfn); !r) {
    return std::unexpected(r.error());
  }
  mm.SetBrkStart(PageRoundDown(elf.max_vaddr + bias + RandomPages(1 << 13)));

  // The dynamic linker, if any, goes wherever the mmap area has room, as Linux puts it.
  uint64_t interp_bias = 0;
  uint64_t entry = elf.entry + bias;
  if (elf.interp) {
    auto file = open(*elf.interp);
    if (!file) {
      return std::unexpected(
          Error(file.error().value, "cannot open the interpreter " + *elf.interp));
    }
    FileReader interp_read = ReaderFor(**file);
    auto interp = Parse(**file, interp_read);
    if (!interp) {
      LoadError e = interp.error();
      if (e.err == ENOEXEC) e.err = ELIBBAD;
      e.message = "interpreter " + *elf.interp + ": " + e.message;
      return std::unexpected(e);
    }
    if (interp->interp) return std::unexpected(Error(ELIBBAD, "the interpreter has one itself"));
    uint64_t span = interp->max_vaddr - interp->min_vaddr;
    if (interp->position_independent) {
      auto at = mm.MMap({.addr = 0,
                         .length = span,
                         .prot = PROT_NONE,
                         .flags = MAP_PRIVATE | MAP_ANONYMOUS,
                         .name = {}});
      if (!at) return std::unexpected(Error(ENOMEM, "no room for the interpreter"));
      (void)mm.MUnmap(*at, span);
      interp_bias = at->value - interp->min_vaddr;
    }
    if (auto r = LoadSegments(mm, **file, interp_read, *interp, interp_bias, *elf.interp); !r) {
      return std::unexpected(r.error());
    }
    entry = interp->entry + interp_bias;
  }

  // The stack: strings first, then the auxiliary vector, envp, argv and argc below them.
  uint64_t strings = 0;
  for (const auto* list : {&args.argv, &args.envp}) {
    for (const std::string& s : *list) {
      if (s.size() + 1 > kMaxArgStrlen) return std::unexpected(Error(E2BIG, "argument too long"));
      strings += s.size() + 1 + sizeof(uint64_t);
    }
  }
  if (strings > layout.stack_limit / 4) {
    return std::unexpected(Error(E2BIG, "arguments and environment exceed a quarter of the stack"));
  }
  uint64_t stack_size =
      std::max<uint64_t>(kInitialStackSize, *PageRoundUp(strings + 4 * kPageSize));
  if (auto r = mm.MMap({.addr = layout.stack_top - stack_size,
                        .length = stack_size,
                        .prot = PROT_READ | PROT_WRITE | (elf.executable_stack ? PROT_EXEC : 0),
                        .flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_GROWSDOWN,
                        .name = "[stack]"});
      !r) {
    return std::unexpected(Error(r.error().value, "cannot map the stack"));
  }

  StackBuilder stack(layout.stack_top - sizeof(uint64_t));
  uint64_t execfn_addr = stack.PushString(args.execfn);
  // The strings go down from here, envp's last first, so argv's and envp's lie in order
  // below AT_EXECFN's: [arg_start, arg_end == env_start) and [env_start, env_end).
  uint64_t env_end = stack.sp();
  std::vector<uint64_t> envp_addrs, argv_addrs;
  for (auto it = args.envp.rbegin(); it != args.envp.rend(); ++it) {
    envp_addrs.insert(envp_addrs.begin(), stack.PushString(*it));
  }
  for (auto it = args.argv.rbegin(); it != args.argv.rend(); ++it) {
    argv_addrs.insert(argv_addrs.begin(), stack.PushString(*it));
  }
  uint64_t arg_start = stack.sp();
  uint64_t env_start = envp_addrs.empty() ? env_end : envp_addrs.front();
  uint64_t platform_addr = stack.PushString("x86_64");
  uint8_t random_bytes[16];
  if (getrandom(random_bytes, sizeof(random_bytes), 0) != sizeof(random_bytes)) {
    return std::unexpected(Error(EIO, "getrandom for AT_RANDOM failed"));
  }
  uint64_t random_addr = stack.Push(random_bytes, sizeof(random_bytes));

  uint32_t eax, ebx, ecx, edx;
  asm volatile("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(1), "c"(0));
  std::vector<uint64_t> words;  // argc, argv..., 0, envp..., 0, auxv pairs, AT_NULL
  words.push_back(args.argv.size());
  words.insert(words.end(), argv_addrs.begin(), argv_addrs.end());
  words.push_back(0);
  words.insert(words.end(), envp_addrs.begin(), envp_addrs.end());
  words.push_back(0);
  auto aux = [&](uint64_t type, uint64_t value) {
    words.push_back(type);
    words.push_back(value);
  };
  if (layout.vdso_base != 0) aux(AT_SYSINFO_EHDR, layout.vdso_base);
  aux(AT_MINSIGSTKSZ, getauxval(AT_MINSIGSTKSZ));
  aux(AT_HWCAP, edx);
  aux(AT_PAGESZ, kPageSize);
  aux(AT_CLKTCK, 100);
  aux(AT_PHDR, elf.phdr_vaddr ? elf.phdr_vaddr + bias : 0);
  aux(AT_PHENT, elf.phentsize);
  aux(AT_PHNUM, elf.phnum);
  aux(AT_BASE, elf.interp ? interp_bias : 0);
  aux(AT_FLAGS, 0);
  aux(AT_ENTRY, elf.entry + bias);
  aux(AT_UID, args.uid);
  aux(AT_EUID, args.euid);
  aux(AT_GID, args.gid);
  aux(AT_EGID, args.egid);
  aux(AT_SECURE, 0);
  aux(AT_RANDOM, random_addr);
  aux(AT_HWCAP2, getauxval(AT_HWCAP2));
  aux(AT_EXECFN, execfn_addr);
  aux(AT_PLATFORM, platform_addr);
  aux(AT_NULL, 0);
  // The ABI wants rsp 16-byte aligned at argc.
  stack.AlignTo(16);
  if ((words.size() * sizeof(uint64_t)) % 16 != 0) words.push_back(0);  // pad above AT_NULL
  stack.Push(words.data(), words.size() * sizeof(uint64_t));
  if (auto r = mm.CopyOut(UserAddr(stack.sp()), stack.bytes().data(), stack.bytes().size()); !r) {
    return std::unexpected(Error(E2BIG, "initial stack does not fit"));
  }

  return Loaded{.state = arch::CpuState::ForEntry(entry, stack.sp()),
                .arg_start = arg_start,
                .arg_end = env_start,
                .env_start = env_start,
                .env_end = env_end};
}

}  // namespace sentry::loader
