#include "sentry/loader/elf.h"

#include <elf.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace sentry::loader {
namespace {

// The file's little-endian fields are copied straight into the host's structures.
static_assert(std::endian::native == std::endian::little);
static_assert(sizeof(Elf64_Phdr) == 56 && sizeof(Elf64_Ehdr) == 64);

// Each valid segment needs 56 bytes of file, so this bound makes the table allocation small.
constexpr uint64_t kMaxPhnum = kElfMaxPhdrTableSize / sizeof(Elf64_Phdr);

constexpr uint64_t PageOffset(uint64_t v) { return v & (kElfPageSize - 1); }
constexpr uint64_t PageDown(uint64_t v) { return v & ~(kElfPageSize - 1); }
// Callers guarantee v <= kElfUserAddressLimit, so this cannot wrap.
constexpr uint64_t PageUp(uint64_t v) { return PageDown(v + kElfPageSize - 1); }

std::unexpected<ElfError> Fail(int err, std::string message) {
  return std::unexpected(ElfError{err, std::move(message)});
}

// True if [offset, offset + len) lies inside a file of `file_size` bytes, without overflowing.
bool InFile(uint64_t offset, uint64_t len, uint64_t file_size) {
  return offset <= file_size && len <= file_size - offset;
}

// Reads exactly `len` bytes; the caller has already checked that they lie inside the file, so a
// short read means the file changed under us or the reader is broken, both of which are EIO.
std::expected<void, ElfError> ReadExact(const FileReader& read, void* buf, size_t len,
                                        uint64_t offset, std::string_view what) {
  int64_t n = read(buf, len, offset);
  if (n < 0) {
    // Readers are meant to return -errno; anything else is reported as a plain I/O error (and
    // negating INT64_MIN would be undefined).
    int err = n >= -4095 ? static_cast<int>(-n) : EIO;
    return Fail(err, fmt::format("reading the {}: {}", what, std::strerror(err)));
  }
  if (static_cast<uint64_t>(n) > len) {
    return Fail(EIO, fmt::format("reading the {}: reader returned {} bytes, more than the {} "
                                 "asked for",
                                 what, n, len));
  }
  if (static_cast<uint64_t>(n) != len) {
    return Fail(EIO, fmt::format("short read of the {} ({} of {} bytes at offset {})", what, n, len,
                                 offset));
  }
  return {};
}

std::string MachineName(uint16_t machine) {
  switch (machine) {
    case EM_386:
      return "i386";
    case EM_ARM:
      return "ARM";
    case EM_AARCH64:
      return "AArch64";
    case EM_RISCV:
      return "RISC-V";
    case EM_PPC64:
      return "PowerPC64";
    case EM_S390:
      return "s390";
    default:
      return fmt::format("{}", machine);
  }
}

std::string TypeName(uint16_t type) {
  switch (type) {
    case ET_NONE:
      return "ET_NONE";
    case ET_REL:
      return "ET_REL, a relocatable object";
    case ET_CORE:
      return "ET_CORE, a core dump";
    default:
      return fmt::format("{:#x}", type);
  }
}

// Checks the ELF header alone. `available` is how many bytes of it the file holds.
std::expected<void, ElfError> CheckHeader(const Elf64_Ehdr& eh, uint64_t available) {
  if (available < SELFMAG || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) {
    return Fail(ENOEXEC, "not an ELF file");
  }
  if (available < EI_NIDENT) return Fail(ENOEXEC, "truncated ELF header");
  switch (eh.e_ident[EI_CLASS]) {
    case ELFCLASS64:
      break;
    case ELFCLASS32:
      return Fail(ENOEXEC, "32-bit ELF not supported");
    default:
      return Fail(ENOEXEC, fmt::format("invalid ELF class {}", eh.e_ident[EI_CLASS]));
  }
  switch (eh.e_ident[EI_DATA]) {
    case ELFDATA2LSB:
      break;
    case ELFDATA2MSB:
      return Fail(ENOEXEC, "big-endian ELF not supported");
    default:
      return Fail(ENOEXEC, fmt::format("invalid ELF byte order {}", eh.e_ident[EI_DATA]));
  }
  // Linux looks at neither version field; we insist on the identification one so that a future
  // format is not misread, but ignore e_version as Linux does.
  if (eh.e_ident[EI_VERSION] != EV_CURRENT) {
    return Fail(ENOEXEC, fmt::format("unsupported ELF version {}", eh.e_ident[EI_VERSION]));
  }
  if (available < sizeof(Elf64_Ehdr)) return Fail(ENOEXEC, "truncated ELF header");
  if (eh.e_machine != EM_X86_64) {
    return Fail(ENOEXEC, fmt::format("ELF for machine {}, not x86-64", MachineName(eh.e_machine)));
  }
  if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) {
    return Fail(ENOEXEC, fmt::format("ELF type {} is not executable", TypeName(eh.e_type)));
  }
  if (eh.e_phentsize != sizeof(Elf64_Phdr)) {
    return Fail(ENOEXEC, fmt::format("program header size {}, expected {}", eh.e_phentsize,
                                     sizeof(Elf64_Phdr)));
  }
  if (eh.e_phnum == 0) return Fail(ENOEXEC, "no program headers");
  if (eh.e_phnum > kMaxPhnum) {
    return Fail(ENOEXEC, fmt::format("{} program headers, more than the {} Linux accepts",
                                     eh.e_phnum, kMaxPhnum));
  }
  return {};
}

// Checks one PT_LOAD. The errnos are those Linux gives (EINVAL from its own range checks and from
// mmap's alignment check) except for data outside the file, which Linux would only notice as
// SIGBUS at run time.
std::expected<ElfSegment, ElfError> CheckLoad(const Elf64_Phdr& ph, size_t index,
                                              uint64_t file_size) {
  if (ph.p_filesz > ph.p_memsz) {
    return Fail(EINVAL, fmt::format("PT_LOAD #{}: filesz {:#x} exceeds memsz {:#x}", index,
                                    ph.p_filesz, ph.p_memsz));
  }
  if (!InFile(ph.p_offset, ph.p_filesz, file_size)) {
    return Fail(ENOEXEC, fmt::format("PT_LOAD #{}: file range [{:#x}, +{:#x}) is outside the "
                                     "{}-byte file",
                                     index, ph.p_offset, ph.p_filesz, file_size));
  }
  if (ph.p_vaddr >= kElfUserAddressLimit || ph.p_memsz > kElfUserAddressLimit - ph.p_vaddr) {
    return Fail(EINVAL, fmt::format("PT_LOAD #{}: [{:#x}, +{:#x}) is beyond user address space",
                                    index, ph.p_vaddr, ph.p_memsz));
  }
  // The file is mapped page by page, so a byte's page offset must be the same in file and memory.
  if (PageOffset(ph.p_vaddr) != PageOffset(ph.p_offset)) {
    return Fail(EINVAL, fmt::format("PT_LOAD #{}: vaddr {:#x} and offset {:#x} differ modulo the "
                                    "page size",
                                    index, ph.p_vaddr, ph.p_offset));
  }
  return ElfSegment{
      .offset = ph.p_offset,
      .vaddr = ph.p_vaddr,
      .filesz = ph.p_filesz,
      .memsz = ph.p_memsz,
      .align = ph.p_align,
      .flags = ph.p_flags & (PF_R | PF_W | PF_X),
  };
}

std::expected<std::string, ElfError> ReadInterp(const FileReader& read, const Elf64_Phdr& ph,
                                                uint64_t file_size) {
  if (ph.p_filesz < 2 || ph.p_filesz > kElfMaxInterpSize) {
    return Fail(ENOEXEC, fmt::format("PT_INTERP size {} is not between 2 and {}", ph.p_filesz,
                                     kElfMaxInterpSize));
  }
  // Linux reports EIO here: its read of the path simply comes up short.
  if (!InFile(ph.p_offset, ph.p_filesz, file_size)) {
    return Fail(EIO, fmt::format("PT_INTERP [{:#x}, +{}) extends past the end of the file",
                                 ph.p_offset, ph.p_filesz));
  }
  std::string path(ph.p_filesz, '\0');
  if (auto r = ReadExact(read, path.data(), path.size(), ph.p_offset, "PT_INTERP path"); !r) {
    return std::unexpected(r.error());
  }
  if (path.back() != '\0') return Fail(ENOEXEC, "PT_INTERP path is not NUL-terminated");
  // Linux opens the path as a C string, so anything after an embedded NUL is ignored.
  path.resize(path.find('\0'));
  return path;
}

}  // namespace

std::expected<ElfInfo, ElfError> ParseElf(const FileReader& read, uint64_t file_size) {
  Elf64_Ehdr eh{};
  uint64_t available = std::min<uint64_t>(file_size, sizeof(eh));
  if (available > 0) {
    if (auto r = ReadExact(read, &eh, available, 0, "ELF header"); !r) {
      return std::unexpected(r.error());
    }
  }
  if (auto r = CheckHeader(eh, available); !r) return std::unexpected(r.error());

  uint64_t table_size = uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr);
  if (!InFile(eh.e_phoff, table_size, file_size)) {
    return Fail(ENOEXEC,
                fmt::format("program header table [{:#x}, +{}) is outside the {}-byte file",
                            eh.e_phoff, table_size, file_size));
  }
  // Bounded by kMaxPhnum entries, checked above.
  std::vector<Elf64_Phdr> phdrs(eh.e_phnum);
  if (auto r = ReadExact(read, phdrs.data(), table_size, eh.e_phoff, "program header table"); !r) {
    return std::unexpected(r.error());
  }

  ElfInfo info{
      .position_independent = eh.e_type == ET_DYN,
      .entry = eh.e_entry,
      .phdr_vaddr = 0,
      .phnum = eh.e_phnum,
      .phentsize = eh.e_phentsize,
      .loads = {},
      .interp = std::nullopt,
      .executable_stack = false,
      .min_vaddr = 0,
      .max_vaddr = 0,
  };
  const Elf64_Phdr* pt_phdr = nullptr;
  for (const Elf64_Phdr& ph : phdrs) {
    switch (ph.p_type) {
      case PT_LOAD: {
        auto seg = CheckLoad(ph, info.loads.size(), file_size);
        if (!seg) return std::unexpected(seg.error());
        info.loads.push_back(*seg);
        break;
      }
      case PT_INTERP: {
        // Linux silently uses the first; a second one is more likely an attack than a feature.
        if (info.interp) return Fail(ENOEXEC, "more than one PT_INTERP");
        auto path = ReadInterp(read, ph, file_size);
        if (!path) return std::unexpected(path.error());
        info.interp = std::move(*path);
        break;
      }
      case PT_GNU_STACK:
        // As in Linux, the last one wins.
        info.executable_stack = (ph.p_flags & PF_X) != 0;
        break;
      case PT_PHDR:
        if (pt_phdr == nullptr) pt_phdr = &ph;
        break;
      default:
        break;
    }
  }

  if (info.loads.empty()) return Fail(ENOEXEC, "no PT_LOAD segment");
  if (std::ranges::none_of(info.loads, [](const ElfSegment& s) { return s.memsz > 0; })) {
    return Fail(EINVAL, "all PT_LOAD segments are empty");
  }
  info.min_vaddr = kElfUserAddressLimit;
  for (const ElfSegment& s : info.loads) {
    info.min_vaddr = std::min(info.min_vaddr, PageDown(s.vaddr));
    info.max_vaddr = std::max(info.max_vaddr, PageUp(s.vaddr + s.memsz));
  }

  // AT_PHDR as Linux computes it: from the PT_LOAD whose file data holds the table's first byte
  // (the last such segment, as Linux does not stop at the first). No overflow: the result is below
  // that segment's vaddr + memsz.
  bool phdr_found = false;
  for (const ElfSegment& s : info.loads) {
    if (s.offset <= eh.e_phoff && eh.e_phoff - s.offset < s.filesz) {
      info.phdr_vaddr = eh.e_phoff - s.offset + s.vaddr;
      phdr_found = true;
    }
  }
  // Linux would pass the bare load bias here; PT_PHDR is a better guess, provided it points at
  // memory some PT_LOAD actually maps.
  if (!phdr_found && pt_phdr != nullptr) {
    for (const ElfSegment& s : info.loads) {
      if (pt_phdr->p_vaddr >= s.vaddr && pt_phdr->p_vaddr - s.vaddr < s.memsz) {
        info.phdr_vaddr = pt_phdr->p_vaddr;
        break;
      }
    }
  }

  // Without an interpreter this is where the process starts, and Linux refuses a start outside
  // user space (biasing only moves it up, so the unbiased check is necessary, not sufficient).
  if (!info.interp && info.entry >= kElfUserAddressLimit) {
    return Fail(EINVAL, fmt::format("entry point {:#x} is beyond user address space", info.entry));
  }
  return info;
}

}  // namespace sentry::loader
