// Parsing and validation of ELF executable headers (the part of Linux's binfmt_elf that decides
// whether a file can be executed, and what must be mapped where).
//
// The parser reads only the ELF header, the program header table and the PT_INTERP path; it never
// maps anything. Every value in the returned ElfInfo has been checked, so the loader may do
// arithmetic on it without overflow checks of its own (apart from adding its load bias).
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace sentry::loader {

// Linux's TASK_SIZE_MAX on amd64 with 4-level paging: the first address above user space.
// Segments must end at or below it even before a PIE's load bias is added.
inline constexpr uint64_t kElfUserAddressLimit = 0x7ffffffff000;
// The page size that ELF segment congruence and the span below are computed with.
inline constexpr uint64_t kElfPageSize = 4096;
// Linux (load_elf_phdrs) refuses program header tables larger than this.
inline constexpr uint64_t kElfMaxPhdrTableSize = 64 * 1024;
// Linux refuses PT_INTERP segments larger than PATH_MAX (the NUL included).
inline constexpr uint64_t kElfMaxInterpSize = 4096;

// One PT_LOAD program header.
struct ElfSegment {
  uint64_t offset;  // p_offset; offset <= the file size and offset % page == vaddr % page, always
  uint64_t vaddr;   // p_vaddr (unbiased)
  uint64_t filesz;  // p_filesz; always <= memsz, and offset + filesz <= the file size
  uint64_t memsz;   // p_memsz; vaddr + memsz <= kElfUserAddressLimit
  uint64_t align;   // p_align as written in the file (not validated: Linux ignores odd values)
  uint32_t flags;   // p_flags masked to PF_R | PF_W | PF_X
};

struct ElfInfo {
  bool position_independent;  // ET_DYN (PIE, static-pie, or the dynamic linker); false: ET_EXEC
  // e_entry (unbiased). Below kElfUserAddressLimit when there is no PT_INTERP, because only then
  // does Linux jump to it (and check it); with PT_INTERP it is merely passed on as AT_ENTRY.
  uint64_t entry;
  // Where the program header table is in memory (unbiased), i.e. AT_PHDR minus the load bias.
  // Like Linux, taken from the PT_LOAD whose file range contains e_phoff; if none does, from
  // PT_PHDR; 0 if neither exists.
  uint64_t phdr_vaddr;
  uint16_t phnum;      // AT_PHNUM
  uint16_t phentsize;  // AT_PHENT; always sizeof(Elf64_Phdr)
  // PT_LOADs in file order; at least one, and at least one with memsz > 0. They may be unsorted
  // and may share pages or overlap: the loader must cope.
  std::vector<ElfSegment> loads;
  // PT_INTERP path, without its terminating NUL (cut at the first NUL, as Linux's open_exec sees
  // it; may therefore be empty, which a path lookup turns into ENOENT).
  std::optional<std::string> interp;
  // Whether the initial stack is executable: PT_GNU_STACK with PF_X. Without PT_GNU_STACK a
  // 64-bit x86 process gets a non-executable stack (Linux >= 5.8: elf_read_implies_exec is only
  // true for 32-bit processes), so absence means false.
  bool executable_stack;
  // Page-rounded span of all PT_LOADs: [PageDown(min vaddr), PageUp(max vaddr + memsz)).
  // Never empty; max_vaddr <= kElfUserAddressLimit. Zero-sized PT_LOADs count too.
  uint64_t min_vaddr;
  uint64_t max_vaddr;
};

struct ElfError {
  int err;  // a positive Linux errno: ENOEXEC, EINVAL or EIO (or whatever the reader reported)
  std::string message;
};

// Reads `len` bytes at `offset` of the file into `buf`; returns the number of bytes read (fewer
// only at end of file) or -errno.
using FileReader = std::function<int64_t(void* buf, size_t len, uint64_t offset)>;

// Parses and validates the ELF executable read through `read`, whose size is `file_size`.
// Reads at most 64 + 64 KiB + 4 KiB bytes, never outside [0, file_size), and allocates no more.
// Errors, following Linux where it has a rule:
//   ENOEXEC: not an ELF file, a foreign ELF (class, byte order, version, machine, type), a bad
//            program header table, a bad PT_INTERP, or segments lying outside the file;
//   EINVAL:  PT_LOAD with filesz > memsz, an address range beyond user space, file offset and
//            vaddr not congruent modulo the page size, an entry point beyond user space (only
//            checked without PT_INTERP), or PT_LOADs that all have memsz == 0;
//   EIO:     a read failed or came up short, or PT_INTERP extends past the end of the file;
//   another errno if the reader returned it.
std::expected<ElfInfo, ElfError> ParseElf(const FileReader& read, uint64_t file_size);

}  // namespace sentry::loader
