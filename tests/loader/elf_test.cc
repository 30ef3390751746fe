#include "sentry/loader/elf.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sentry/base/file_descriptor.h"

namespace sentry::loader {
namespace {

constexpr uint64_t kLimit = kElfUserAddressLimit;
constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr char kInterpPath[] = "/lib64/ld-linux-x86-64.so.2";

// Where the synthetic images keep their PT_INTERP path: after the headers, inside the first page.
constexpr uint64_t kInterpOffset = 0x300;

Elf64_Phdr Phdr(uint32_t type, uint32_t flags, uint64_t offset, uint64_t vaddr, uint64_t filesz,
                uint64_t memsz, uint64_t align = 0x1000) {
  return Elf64_Phdr{
      .p_type = type,
      .p_flags = flags,
      .p_offset = offset,
      .p_vaddr = vaddr,
      .p_paddr = vaddr,
      .p_filesz = filesz,
      .p_memsz = memsz,
      .p_align = align,
  };
}

// An ELF image described field by field, so that a test can break exactly one thing and then
// serialize it. Anything that does not fit in `size` bytes is silently clipped, which lets tests
// point headers past the end of the file.
struct FakeElf {
  Elf64_Ehdr eh{};
  std::vector<Elf64_Phdr> phdrs;
  std::vector<std::pair<uint64_t, std::string>> blobs;  // raw bytes at file offsets
  uint64_t size = 0x2800;

  std::vector<uint8_t> Build() const {
    std::vector<uint8_t> out(size);
    Put(out, 0, &eh, sizeof(eh));
    Put(out, eh.e_phoff, phdrs.data(), phdrs.size() * sizeof(Elf64_Phdr));
    for (const auto& [offset, bytes] : blobs) Put(out, offset, bytes.data(), bytes.size());
    return out;
  }

 private:
  static void Put(std::vector<uint8_t>& out, uint64_t offset, const void* data, size_t len) {
    if (offset >= out.size()) return;
    std::memcpy(out.data() + offset, data, std::min<uint64_t>(len, out.size() - offset));
  }
};

Elf64_Ehdr Header(uint16_t type, uint64_t entry, uint16_t phnum) {
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_ident[EI_OSABI] = ELFOSABI_SYSV;
  eh.e_type = type;
  eh.e_machine = EM_X86_64;
  eh.e_version = EV_CURRENT;
  eh.e_entry = entry;
  eh.e_phoff = sizeof(Elf64_Ehdr);
  eh.e_ehsize = sizeof(Elf64_Ehdr);
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = phnum;
  eh.e_shentsize = sizeof(Elf64_Shdr);
  return eh;
}

void SyncPhnum(FakeElf& f) { f.eh.e_phnum = static_cast<uint16_t>(f.phdrs.size()); }

// The classic static layout at `base`: headers + rodata (R), text (R+X), data + bss (RW).
FakeElf MakeLayout(uint16_t type, uint64_t base) {
  FakeElf f;
  f.phdrs = {
      Phdr(PT_LOAD, PF_R, 0, base, 0x1000, 0x1000),
      Phdr(PT_LOAD, PF_R | PF_X, 0x1000, base + 0x1000, 0x1000, 0x1000),
      Phdr(PT_LOAD, PF_R | PF_W, 0x2000, base + 0x2000, 0x800, 0x1800),
      Phdr(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 16),
  };
  f.eh = Header(type, base + 0x1000, 0);
  SyncPhnum(f);
  return f;
}

// A minimal static ET_EXEC loaded at 0x400000.
FakeElf MakeStaticExec() { return MakeLayout(ET_EXEC, 0x400000); }

// A static-pie ET_DYN linked at 0, with a PT_PHDR like many linkers emit.
FakeElf MakeStaticPie() {
  FakeElf f = MakeLayout(ET_DYN, 0);
  f.phdrs.insert(f.phdrs.begin(), Phdr(PT_PHDR, PF_R, 64, 64, 0, 0, 8));
  SyncPhnum(f);
  f.phdrs[0].p_filesz = f.phdrs[0].p_memsz = f.phdrs.size() * sizeof(Elf64_Phdr);
  return f;
}

// A dynamically linked PIE: the static-pie plus a PT_INTERP.
FakeElf MakeDynamicPie() {
  FakeElf f = MakeStaticPie();
  f.phdrs.insert(f.phdrs.begin() + 1, Phdr(PT_INTERP, PF_R, kInterpOffset, kInterpOffset,
                                           sizeof(kInterpPath), sizeof(kInterpPath), 1));
  SyncPhnum(f);
  f.phdrs[0].p_filesz = f.phdrs[0].p_memsz = f.phdrs.size() * sizeof(Elf64_Phdr);
  f.blobs.emplace_back(kInterpOffset, std::string(kInterpPath, sizeof(kInterpPath)));
  return f;
}

// A reader over an in-memory file that also fails the test if the parser ever asks for bytes
// outside [0, file_size).
FileReader MemoryReader(const std::vector<uint8_t>& data, uint64_t file_size) {
  return [&data, file_size](void* buf, size_t len, uint64_t offset) -> int64_t {
    EXPECT_TRUE(offset <= file_size && len <= file_size - offset)
        << "read of " << len << " bytes at " << offset << " outside a " << file_size
        << "-byte file";
    if (offset >= data.size()) return 0;
    size_t n = std::min<uint64_t>(len, data.size() - offset);
    std::memcpy(buf, data.data() + offset, n);
    return static_cast<int64_t>(n);
  };
}

std::expected<ElfInfo, ElfError> ParseBytes(const std::vector<uint8_t>& data) {
  return ParseElf(MemoryReader(data, data.size()), data.size());
}

std::expected<ElfInfo, ElfError> Parse(const FakeElf& f) {
  std::vector<uint8_t> data = f.Build();
  return ParseBytes(data);
}

std::expected<ElfInfo, ElfError> ParseString(const std::string& s) {
  return ParseBytes(std::vector<uint8_t>(s.begin(), s.end()));
}

// Asserts that parsing failed with `err` and a message containing `fragment`.
void ExpectError(const std::expected<ElfInfo, ElfError>& r, int err, const std::string& fragment) {
  ASSERT_FALSE(r.has_value()) << "expected errno " << err << " (" << fragment << ")";
  EXPECT_EQ(r.error().err, err) << r.error().message;
  EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
}

// The guarantees ElfInfo documents, checked on any successful parse.
void ExpectInvariants(const ElfInfo& info, uint64_t file_size) {
  ASSERT_FALSE(info.loads.empty());
  EXPECT_EQ(info.phentsize, sizeof(Elf64_Phdr));
  EXPECT_GE(info.phnum, info.loads.size());
  EXPECT_LT(info.min_vaddr, info.max_vaddr);
  EXPECT_LE(info.max_vaddr, kLimit);
  EXPECT_EQ(info.min_vaddr % kElfPageSize, 0u);
  EXPECT_EQ(info.max_vaddr % kElfPageSize, 0u);
  for (const ElfSegment& s : info.loads) {
    EXPECT_LE(s.filesz, s.memsz);
    EXPECT_LE(s.offset, file_size);
    EXPECT_LE(s.filesz, file_size - s.offset);
    EXPECT_LT(s.vaddr, kLimit);
    EXPECT_LE(s.memsz, kLimit - s.vaddr);
    EXPECT_EQ(s.vaddr % kElfPageSize, s.offset % kElfPageSize);
    EXPECT_EQ(s.flags & ~static_cast<uint32_t>(PF_R | PF_W | PF_X), 0u);
    EXPECT_LE(info.min_vaddr, s.vaddr);
    EXPECT_LE(s.vaddr + s.memsz, info.max_vaddr);
  }
  if (info.interp) {
    EXPECT_LT(info.interp->size(), kElfMaxInterpSize);
    EXPECT_EQ(info.interp->find('\0'), std::string::npos);
  } else {
    EXPECT_LT(info.entry, kLimit);
  }
}

// ---- Valid images ----

TEST(ElfTest, StaticExec) {
  FakeElf f = MakeStaticExec();
  auto r = Parse(f);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  const ElfInfo& info = *r;
  ExpectInvariants(info, f.size);
  EXPECT_FALSE(info.position_independent);
  EXPECT_EQ(info.entry, 0x401000u);
  EXPECT_EQ(info.phdr_vaddr, 0x400040u);
  EXPECT_EQ(info.phnum, 4);
  EXPECT_EQ(info.phentsize, 56);
  EXPECT_FALSE(info.interp.has_value());
  EXPECT_FALSE(info.executable_stack);
  EXPECT_EQ(info.min_vaddr, 0x400000u);
  EXPECT_EQ(info.max_vaddr, 0x404000u);  // the bss ends at 0x403800
  ASSERT_EQ(info.loads.size(), 3u);
  EXPECT_EQ(info.loads[1].offset, 0x1000u);
  EXPECT_EQ(info.loads[1].vaddr, 0x401000u);
  EXPECT_EQ(info.loads[1].flags, static_cast<uint32_t>(PF_R | PF_X));
  EXPECT_EQ(info.loads[2].filesz, 0x800u);
  EXPECT_EQ(info.loads[2].memsz, 0x1800u);
  EXPECT_EQ(info.loads[2].align, 0x1000u);
  EXPECT_EQ(info.loads[2].flags, static_cast<uint32_t>(PF_R | PF_W));
}

TEST(ElfTest, StaticPie) {
  FakeElf f = MakeStaticPie();
  auto r = Parse(f);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ExpectInvariants(*r, f.size);
  EXPECT_TRUE(r->position_independent);
  EXPECT_EQ(r->entry, 0x1000u);
  EXPECT_EQ(r->phdr_vaddr, 64u);
  EXPECT_EQ(r->phnum, 5);
  EXPECT_FALSE(r->interp.has_value());
  EXPECT_EQ(r->min_vaddr, 0u);
  EXPECT_EQ(r->max_vaddr, 0x4000u);
  EXPECT_EQ(r->loads.size(), 3u);
}

TEST(ElfTest, DynamicPie) {
  FakeElf f = MakeDynamicPie();
  auto r = Parse(f);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ExpectInvariants(*r, f.size);
  EXPECT_TRUE(r->position_independent);
  ASSERT_TRUE(r->interp.has_value());
  EXPECT_EQ(*r->interp, kInterpPath);
}

TEST(ElfTest, ExecutableStackFromGnuStack) {
  FakeElf f = MakeStaticExec();
  f.phdrs[3].p_flags = PF_R | PF_W | PF_X;
  auto r = Parse(f);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_TRUE(r->executable_stack);
}

TEST(ElfTest, NoGnuStackMeansNonExecutableStack) {
  FakeElf f = MakeStaticExec();
  f.phdrs[3].p_type = PT_NULL;
  auto r = Parse(f);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_FALSE(r->executable_stack);
}

TEST(ElfTest, LastGnuStackWins) {
  FakeElf f = MakeStaticExec();
  f.phdrs[3].p_flags = PF_R | PF_W | PF_X;
  f.phdrs.push_back(Phdr(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 16));
  SyncPhnum(f);
  auto r = Parse(f);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_FALSE(r->executable_stack);
}

TEST(ElfTest, SegmentFlagsAreMasked) {
  FakeElf f = MakeStaticExec();
  f.phdrs[1].p_flags = PF_R | PF_X | PF_MASKOS | PF_MASKPROC;
  auto r = Parse(f);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->loads[1].flags, static_cast<uint32_t>(PF_R | PF_X));
}

TEST(ElfTest, PhdrVaddrFromPtPhdrWhenNoLoadHoldsTheTable) {
  FakeElf f = MakeStaticExec();
  // The first segment no longer starts at file offset 0, so it does not hold e_phoff.
  f.phdrs[0] = Phdr(PT_LOAD, PF_R, 0x200, 0x400200, 0xe00, 0xe00);
  f.phdrs.push_back(Phdr(PT_PHDR, PF_R, 0x40, 0x400240, 0x118, 0x118, 8));
  SyncPhnum(f);
  auto r = Parse(f);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->phdr_vaddr, 0x400240u);

  // A PT_PHDR pointing at memory no PT_LOAD maps is ignored.
  f.phdrs.back().p_vaddr = 0x10000000;
  r = Parse(f);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->phdr_vaddr, 0u);
}

TEST(ElfTest, PhdrVaddrPrefersTheLoadOverPtPhdr) {
  // Linux computes AT_PHDR from the PT_LOAD containing e_phoff and ignores PT_PHDR.
  FakeElf f = MakeStaticPie();
  f.phdrs[0].p_vaddr = 0x2100;
  auto r = Parse(f);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->phdr_vaddr, 64u);
}

TEST(ElfTest, UnsortedOverlappingAndEmptyLoadsAreReportedAsIs) {
  FakeElf f = MakeStaticExec();
  std::swap(f.phdrs[0], f.phdrs[2]);
  f.phdrs.push_back(Phdr(PT_LOAD, PF_R, 0x1800, 0x401800, 0x100, 0x100));  // shares a page
  f.phdrs.push_back(Phdr(PT_LOAD, PF_R, 0x2800, 0x500800, 0, 0));          // memsz 0, at EOF
  SyncPhnum(f);
  auto r = Parse(f);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ExpectInvariants(*r, f.size);
  ASSERT_EQ(r->loads.size(), 5u);
  EXPECT_EQ(r->loads[0].vaddr, 0x402000u);
  EXPECT_EQ(r->loads[3].vaddr, 0x401800u);
  EXPECT_EQ(r->min_vaddr, 0x400000u);
  EXPECT_EQ(r->max_vaddr, 0x501000u);
}

TEST(ElfTest, SegmentMayEndExactlyAtTheUserLimit) {
  FakeElf f = MakeStaticExec();
  f.phdrs[2] = Phdr(PT_LOAD, PF_R | PF_W, 0x2000, kLimit - 0x1000, 0x800, 0x1000);
  auto r = Parse(f);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->max_vaddr, kLimit);
}

TEST(ElfTest, MaximumPhnumIsAccepted) {
  FakeElf f = MakeStaticExec();
  constexpr size_t kMax = kElfMaxPhdrTableSize / sizeof(Elf64_Phdr);  // 1170, as in Linux
  f.phdrs.resize(kMax, Phdr(PT_NULL, 0, 0, 0, 0, 0));
  SyncPhnum(f);
  f.eh.e_phoff = 0x3000;
  f.size = 0x3000 + kMax * sizeof(Elf64_Phdr);
  auto r = Parse(f);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->phnum, kMax);
  EXPECT_EQ(r->phdr_vaddr, 0u);  // the table is in no PT_LOAD
}

TEST(ElfTest, InterpCutAtFirstNul) {
  FakeElf f = MakeDynamicPie();
  f.blobs.back().second = std::string("/lib/ld.so\0junk", 16);
  f.phdrs[1].p_filesz = 16;
  auto r = Parse(f);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(*r->interp, "/lib/ld.so");
}

TEST(ElfTest, InterpOfMaximumSize) {
  FakeElf f = MakeDynamicPie();
  std::string path(kElfMaxInterpSize - 1, 'a');
  path[0] = '/';
  path.push_back('\0');
  f.blobs.back() = {0x1000, path};
  f.phdrs[1].p_offset = 0x1000;
  f.phdrs[1].p_filesz = path.size();
  auto r = Parse(f);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->interp->size(), kElfMaxInterpSize - 1);
}

TEST(ElfTest, EntryBeyondUserSpaceIsOnlyCheckedWithoutInterp) {
  FakeElf f = MakeStaticExec();
  f.eh.e_entry = kLimit;
  ExpectError(Parse(f), EINVAL, "entry point");

  FakeElf d = MakeDynamicPie();
  d.eh.e_entry = kU64Max;
  auto r = Parse(d);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->entry, kU64Max);
}

// ---- Files that are not (our kind of) ELF ----

TEST(ElfTest, EmptyFile) { ExpectError(ParseString(""), ENOEXEC, "not an ELF file"); }

TEST(ElfTest, ThreeBytes) {
  ExpectError(ParseString("\x7f"
                          "EL"),
              ENOEXEC, "not an ELF file");
}

TEST(ElfTest, MagicOnly) {
  ExpectError(ParseString("\x7f"
                          "ELF"),
              ENOEXEC, "truncated");
}

TEST(ElfTest, WrongMagic) {
  FakeElf f = MakeStaticExec();
  f.eh.e_ident[EI_MAG3] = 'G';
  ExpectError(Parse(f), ENOEXEC, "not an ELF file");
}

TEST(ElfTest, ShellScript) {
  ExpectError(ParseString("#!/bin/sh\necho hello\n"), ENOEXEC, "not an ELF file");
}

TEST(ElfTest, TruncatedHeader) {
  std::vector<uint8_t> data = MakeStaticExec().Build();
  data.resize(40);
  ExpectError(ParseBytes(data), ENOEXEC, "truncated ELF header");
}

TEST(ElfTest, Class32) {
  FakeElf f = MakeStaticExec();
  f.eh.e_ident[EI_CLASS] = ELFCLASS32;
  ExpectError(Parse(f), ENOEXEC, "32-bit ELF not supported");
  // A real 32-bit header is only 52 bytes; the class must be recognised before the size.
  std::vector<uint8_t> data = f.Build();
  data.resize(sizeof(Elf32_Ehdr));
  ExpectError(ParseBytes(data), ENOEXEC, "32-bit ELF not supported");
}

TEST(ElfTest, ClassNone) {
  FakeElf f = MakeStaticExec();
  f.eh.e_ident[EI_CLASS] = ELFCLASSNONE;
  ExpectError(Parse(f), ENOEXEC, "invalid ELF class 0");
}

TEST(ElfTest, BigEndian) {
  FakeElf f = MakeStaticExec();
  f.eh.e_ident[EI_DATA] = ELFDATA2MSB;
  ExpectError(Parse(f), ENOEXEC, "big-endian");
}

TEST(ElfTest, BadDataEncoding) {
  FakeElf f = MakeStaticExec();
  f.eh.e_ident[EI_DATA] = 7;
  ExpectError(Parse(f), ENOEXEC, "byte order 7");
}

TEST(ElfTest, BadIdentVersion) {
  FakeElf f = MakeStaticExec();
  f.eh.e_ident[EI_VERSION] = 2;
  ExpectError(Parse(f), ENOEXEC, "version 2");
}

TEST(ElfTest, WrongMachine) {
  FakeElf f = MakeStaticExec();
  f.eh.e_machine = EM_AARCH64;
  ExpectError(Parse(f), ENOEXEC, "AArch64, not x86-64");
  f.eh.e_machine = 4242;
  ExpectError(Parse(f), ENOEXEC, "machine 4242, not x86-64");
}

TEST(ElfTest, RelocatableObject) {
  FakeElf f = MakeStaticExec();
  f.eh.e_type = ET_REL;
  ExpectError(Parse(f), ENOEXEC, "ET_REL");
}

TEST(ElfTest, CoreDump) {
  FakeElf f = MakeStaticExec();
  f.eh.e_type = ET_CORE;
  ExpectError(Parse(f), ENOEXEC, "ET_CORE");
}

TEST(ElfTest, UnknownType) {
  FakeElf f = MakeStaticExec();
  f.eh.e_type = 0xfe00;
  ExpectError(Parse(f), ENOEXEC, "not executable");
}

// ---- Program header table ----

TEST(ElfTest, PhentsizeWrong) {
  FakeElf f = MakeStaticExec();
  f.eh.e_phentsize = sizeof(Elf32_Phdr);
  ExpectError(Parse(f), ENOEXEC, "program header size 32");
  f.eh.e_phentsize = 0;
  ExpectError(Parse(f), ENOEXEC, "program header size 0");
}

TEST(ElfTest, PhnumZero) {
  FakeElf f = MakeStaticExec();
  f.eh.e_phnum = 0;
  ExpectError(Parse(f), ENOEXEC, "no program headers");
}

TEST(ElfTest, PhnumTooLarge) {
  FakeElf f = MakeStaticExec();
  f.eh.e_phnum = 65535;  // PN_XNUM: extended numbering, which Linux does not support either
  ExpectError(Parse(f), ENOEXEC, "program headers");
  f.eh.e_phnum = kElfMaxPhdrTableSize / sizeof(Elf64_Phdr) + 1;
  ExpectError(Parse(f), ENOEXEC, "program headers");
}

TEST(ElfTest, PhoffBeyondEof) {
  FakeElf f = MakeStaticExec();
  f.eh.e_phoff = f.size + 0x1000;
  ExpectError(Parse(f), ENOEXEC, "program header table");
}

TEST(ElfTest, PhdrTablePartlyBeyondEof) {
  FakeElf f = MakeStaticExec();
  f.eh.e_phoff = f.size - sizeof(Elf64_Phdr);
  ExpectError(Parse(f), ENOEXEC, "program header table");
}

TEST(ElfTest, PhoffOverflow) {
  FakeElf f = MakeStaticExec();
  f.eh.e_phoff = kU64Max - 10;
  ExpectError(Parse(f), ENOEXEC, "program header table");
}

// ---- PT_LOAD ----

TEST(ElfTest, NoLoad) {
  FakeElf f = MakeStaticExec();
  for (int i = 0; i < 3; ++i) f.phdrs[i].p_type = PT_NOTE;
  ExpectError(Parse(f), ENOEXEC, "no PT_LOAD");
}

TEST(ElfTest, AllLoadsEmpty) {
  FakeElf f = MakeStaticExec();
  f.phdrs.resize(1);
  SyncPhnum(f);
  f.phdrs[0].p_filesz = f.phdrs[0].p_memsz = 0;
  ExpectError(Parse(f), EINVAL, "empty");
}

TEST(ElfTest, FileszGreaterThanMemsz) {
  FakeElf f = MakeStaticExec();
  f.phdrs[2].p_filesz = 0x1900;
  ExpectError(Parse(f), EINVAL, "exceeds memsz");
}

TEST(ElfTest, LoadBeyondEof) {
  FakeElf f = MakeStaticExec();
  f.phdrs[2].p_filesz = 0x1000;  // the file ends 0x800 bytes into this segment
  ExpectError(Parse(f), ENOEXEC, "outside");
  f = MakeStaticExec();
  f.phdrs[2].p_offset = 0x10000;
  f.phdrs[2].p_filesz = 0;
  ExpectError(Parse(f), ENOEXEC, "outside");
}

TEST(ElfTest, LoadOffsetPlusFileszOverflow) {
  FakeElf f = MakeStaticExec();
  f.phdrs[2].p_offset = kU64Max - 0xfff;
  f.phdrs[2].p_filesz = 0x1000;
  f.phdrs[2].p_memsz = 0x1000;
  ExpectError(Parse(f), ENOEXEC, "outside");
  f.phdrs[2].p_offset = 0x2000;
  f.phdrs[2].p_filesz = kU64Max - 0x1000;
  f.phdrs[2].p_memsz = kU64Max;
  ExpectError(Parse(f), ENOEXEC, "outside");
}

TEST(ElfTest, LoadVaddrPlusMemszOverflow) {
  FakeElf f = MakeStaticExec();
  f.phdrs[2].p_memsz = kU64Max - 0x1000;
  ExpectError(Parse(f), EINVAL, "beyond user address space");
  f = MakeStaticExec();
  f.phdrs[2].p_vaddr = kU64Max - 0xfff;  // congruent with offset 0x2000
  ExpectError(Parse(f), EINVAL, "beyond user address space");
}

TEST(ElfTest, LoadAboveUserLimit) {
  FakeElf f = MakeStaticExec();
  f.phdrs[2].p_vaddr = kLimit;
  ExpectError(Parse(f), EINVAL, "beyond user address space");
  f.phdrs[2].p_vaddr = 0xffffffff80000000;  // a kernel address
  ExpectError(Parse(f), EINVAL, "beyond user address space");
  f.phdrs[2].p_vaddr = kLimit - 0x1000;  // straddles the limit
  ExpectError(Parse(f), EINVAL, "beyond user address space");
}

TEST(ElfTest, LoadVaddrOffsetNotCongruent) {
  FakeElf f = MakeStaticExec();
  f.phdrs[1].p_vaddr += 0x10;
  ExpectError(Parse(f), EINVAL, "differ modulo the page size");
  f = MakeStaticExec();
  f.phdrs[1].p_offset += 0x8;
  ExpectError(Parse(f), EINVAL, "differ modulo the page size");
}

TEST(ElfTest, LoadMisalignedButCongruentIsFine) {
  FakeElf f = MakeStaticExec();
  f.phdrs[2] = Phdr(PT_LOAD, PF_R | PF_W, 0x1f48, 0x402f48, 0x800, 0x1000);
  auto r = Parse(f);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->max_vaddr, 0x404000u);
}

// ---- PT_INTERP ----

TEST(ElfTest, InterpWithoutNul) {
  FakeElf f = MakeDynamicPie();
  f.phdrs[1].p_filesz -= 1;  // drop the terminating NUL
  ExpectError(Parse(f), ENOEXEC, "NUL");
}

TEST(ElfTest, InterpTooLong) {
  FakeElf f = MakeDynamicPie();
  f.phdrs[1].p_filesz = kElfMaxInterpSize + 1;
  ExpectError(Parse(f), ENOEXEC, "PT_INTERP size");
  f.phdrs[1].p_filesz = kU64Max;
  ExpectError(Parse(f), ENOEXEC, "PT_INTERP size");
}

TEST(ElfTest, InterpTooShort) {
  FakeElf f = MakeDynamicPie();
  f.phdrs[1].p_filesz = 1;
  ExpectError(Parse(f), ENOEXEC, "PT_INTERP size");
  f.phdrs[1].p_filesz = 0;
  ExpectError(Parse(f), ENOEXEC, "PT_INTERP size");
}

TEST(ElfTest, InterpBeyondEof) {
  FakeElf f = MakeDynamicPie();
  f.phdrs[1].p_offset = f.size - 4;
  ExpectError(Parse(f), EIO, "PT_INTERP");
  f.phdrs[1].p_offset = kU64Max - 4;
  ExpectError(Parse(f), EIO, "PT_INTERP");
}

TEST(ElfTest, TwoInterps) {
  FakeElf f = MakeDynamicPie();
  f.phdrs.push_back(f.phdrs[1]);
  SyncPhnum(f);
  ExpectError(Parse(f), ENOEXEC, "more than one PT_INTERP");
}

// ---- Readers that fail ----

TEST(ElfTest, ReaderErrorOnHeader) {
  std::vector<uint8_t> data = MakeStaticExec().Build();
  FileReader failing = [](void*, size_t, uint64_t) -> int64_t { return -EIO; };
  ExpectError(ParseElf(failing, data.size()), EIO, "ELF header");
  FileReader denied = [](void*, size_t, uint64_t) -> int64_t { return -EACCES; };
  ExpectError(ParseElf(denied, data.size()), EACCES, "ELF header");
}

TEST(ElfTest, ReaderReturnsNonsense) {
  std::vector<uint8_t> data = MakeStaticExec().Build();
  for (int64_t bad : {std::numeric_limits<int64_t>::min(), int64_t{-100000}}) {
    FileReader reader = [bad](void*, size_t, uint64_t) -> int64_t { return bad; };
    ExpectError(ParseElf(reader, data.size()), EIO, "ELF header");
  }
  // More bytes than asked for is as wrong as fewer.
  FileReader too_many = [](void*, size_t len, uint64_t) -> int64_t {
    return static_cast<int64_t>(len) + 1;
  };
  ExpectError(ParseElf(too_many, data.size()), EIO, "more than");
}

// Fails every read at a nonzero offset: the header reads fine, then later reads break.
FileReader FailAfterHeader(const std::vector<uint8_t>& data, int64_t result) {
  FileReader inner = MemoryReader(data, data.size());
  return [inner, result](void* buf, size_t len, uint64_t offset) -> int64_t {
    if (offset != 0) return result;
    return inner(buf, len, offset);
  };
}

TEST(ElfTest, ReaderErrorOnPhdrs) {
  std::vector<uint8_t> data = MakeStaticExec().Build();
  ExpectError(ParseElf(FailAfterHeader(data, -EIO), data.size()), EIO, "program header table");
  ExpectError(ParseElf(FailAfterHeader(data, 3), data.size()), EIO, "short read");
}

TEST(ElfTest, ReaderErrorOnInterp) {
  FakeElf f = MakeDynamicPie();
  std::vector<uint8_t> data = f.Build();
  FileReader inner = MemoryReader(data, data.size());
  FileReader reader = [&](void* buf, size_t len, uint64_t offset) -> int64_t {
    if (offset == kInterpOffset) return -EIO;
    return inner(buf, len, offset);
  };
  ExpectError(ParseElf(reader, data.size()), EIO, "PT_INTERP");
}

TEST(ElfTest, FileShorterThanClaimed) {
  // The file shrank after its size was taken: every read past the real end comes up short.
  std::vector<uint8_t> data = MakeDynamicPie().Build();
  for (uint64_t real : {uint64_t{10}, uint64_t{100}, kInterpOffset + 4}) {
    std::vector<uint8_t> truncated(data.begin(), data.begin() + real);
    ExpectError(ParseElf(MemoryReader(truncated, data.size()), data.size()), EIO, "short read");
  }
}

// ---- Random mutation ----

TEST(ElfTest, RandomMutationsNeverCrash) {
  const std::vector<std::vector<uint8_t>> seeds = {
      MakeStaticExec().Build(), MakeStaticPie().Build(), MakeDynamicPie().Build()};
  // Values that sit on the boundaries the parser checks.
  const uint64_t interesting[] = {0,          1,       55,           56,         64,
                                  0xfff,      0x1000,  0x2800,       kLimit - 1, kLimit,
                                  kLimit + 1, kU64Max, kU64Max - 10, 1ull << 63};
  std::mt19937_64 rng(0x5eed);
  int accepted = 0;
  for (int iter = 0; iter < 10000; ++iter) {
    std::vector<uint8_t> data = seeds[rng() % seeds.size()];
    // Concentrate on the headers and the interpreter path, where all the parsing happens.
    const size_t hot = kInterpOffset + sizeof(kInterpPath);
    int mutations = 1 + static_cast<int>(rng() % 8);
    for (int m = 0; m < mutations; ++m) {
      switch (rng() % 4) {
        case 0:
        case 1:
          data[rng() % hot] = static_cast<uint8_t>(rng());
          break;
        case 2: {
          // An aligned 8-byte field set to a boundary value.
          uint64_t v = interesting[rng() % std::size(interesting)];
          std::memcpy(&data[(rng() % (hot / 8)) * 8], &v, sizeof(v));
          break;
        }
        case 3:
          data[rng() % data.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
          break;
      }
    }
    if (rng() % 16 == 0) data.resize(rng() % (data.size() + 1));

    auto r = ParseBytes(data);
    if (r.has_value()) {
      ++accepted;
      ExpectInvariants(*r, data.size());
    } else {
      EXPECT_TRUE(r.error().err == ENOEXEC || r.error().err == EINVAL || r.error().err == EIO)
          << r.error().err << ": " << r.error().message;
      EXPECT_FALSE(r.error().message.empty());
    }
    if (HasFailure()) {
      FAIL() << "iteration " << iter;
    }
  }
  // Some mutations hit bytes the parser ignores, so both outcomes must occur.
  EXPECT_GT(accepted, 0);
  EXPECT_LT(accepted, 10000);
}

// ---- Real binaries ----

std::expected<ElfInfo, ElfError> ParseHostFile(const char* path, uint64_t* size = nullptr) {
  FileDescriptor fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::unexpected(ElfError{errno, std::string("open ") + path});
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return std::unexpected(ElfError{errno, "fstat"});
  FileReader reader = [&fd](void* buf, size_t len, uint64_t offset) -> int64_t {
    ssize_t n = ::pread(fd.get(), buf, len, static_cast<off_t>(offset));
    return n < 0 ? -errno : n;
  };
  if (size != nullptr) *size = static_cast<uint64_t>(st.st_size);
  return ParseElf(reader, static_cast<uint64_t>(st.st_size));
}

TEST(ElfTest, ParsesItself) {
  uint64_t size = 0;
  auto r = ParseHostFile("/proc/self/exe", &size);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  const ElfInfo& info = *r;
  ExpectInvariants(info, size);
  ASSERT_TRUE(info.interp.has_value());
  EXPECT_EQ(info.interp->front(), '/');
  EXPECT_FALSE(info.executable_stack);

  // The kernel loaded this very file: our view must agree with the auxv it built.
  uint64_t bias = getauxval(AT_PHDR) - info.phdr_vaddr;
  EXPECT_NE(info.phdr_vaddr, 0u);
  EXPECT_EQ(getauxval(AT_ENTRY), bias + info.entry);
  EXPECT_EQ(getauxval(AT_PHNUM), info.phnum);
  EXPECT_EQ(getauxval(AT_PHENT), info.phentsize);
  if (info.position_independent) {
    EXPECT_EQ(bias % kElfPageSize, 0u);
    EXPECT_NE(bias, 0u);
  } else {
    EXPECT_EQ(bias, 0u);
  }
  bool entry_in_text = std::ranges::any_of(info.loads, [&](const ElfSegment& s) {
    return (s.flags & PF_X) && info.entry >= s.vaddr && info.entry - s.vaddr < s.filesz;
  });
  EXPECT_TRUE(entry_in_text);

  // Its interpreter is an ET_DYN without an interpreter of its own.
  auto interp = ParseHostFile(info.interp->c_str());
  ASSERT_TRUE(interp.has_value()) << interp.error().message;
  EXPECT_TRUE(interp->position_independent);
  EXPECT_FALSE(interp->interp.has_value());
  EXPECT_EQ(interp->min_vaddr, 0u);
}

TEST(ElfTest, ParsesHostStaticPie) {
  // Debian's ldconfig is a static-pie; other hosts may not have one.
  constexpr char kPath[] = "/sbin/ldconfig";
  if (::access(kPath, R_OK) != 0) GTEST_SKIP() << kPath << " not readable";
  auto r = ParseHostFile(kPath);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  if (r->interp.has_value()) GTEST_SKIP() << kPath << " is dynamically linked here";
  EXPECT_TRUE(r->position_independent);
  EXPECT_EQ(r->phdr_vaddr, r->min_vaddr + sizeof(Elf64_Ehdr));
  EXPECT_FALSE(r->executable_stack);
}

}  // namespace
}  // namespace sentry::loader
