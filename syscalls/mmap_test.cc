// Anonymous memory: mmap, munmap, mprotect, mremap, madvise, for good and bad arguments.
//
// Tests that need an address nobody else uses first reserve a PROT_NONE region and then work
// inside it with MAP_FIXED, so that no other mapping of the process (gtest's heap, the stack) can
// move into the range between two steps of a test.
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "syscalls/test_util.h"

namespace {

using conformance::PageSize;

// Addresses beyond any x86-64 user address space, with 4- or 5-level page tables.
constexpr uintptr_t kBeyondUserSpace = uintptr_t{1} << 60;

char* MapAnon(size_t len, int prot = PROT_READ | PROT_WRITE, int flags = 0, void* addr = nullptr) {
  void* p = mmap(addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
  return p == MAP_FAILED ? nullptr : static_cast<char*>(p);
}

// A reserved PROT_NONE region of `pages` pages, unmapped at the end of the test.
class Region {
 public:
  explicit Region(size_t pages) : len_(pages * PageSize()), base_(MapAnon(len_, PROT_NONE)) {}
  ~Region() {
    if (base_ != nullptr) munmap(base_, len_);
  }
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;

  char* page(size_t i) const { return base_ + i * PageSize(); }
  bool ok() const { return base_ != nullptr; }

 private:
  size_t len_;
  char* base_;
};

// Whether every page of [addr, addr+len) is mapped: mprotect fails with ENOMEM on a range with a
// hole, and PROT_READ|PROT_WRITE is what every mapping in these tests has anyway.
bool IsMapped(void* addr, size_t len) { return mprotect(addr, len, PROT_READ | PROT_WRITE) == 0; }

// Whether no page of [addr, addr+len) is mapped.
bool IsUnmapped(void* addr, size_t len) {
  for (size_t off = 0; off < len; off += PageSize()) {
    errno = 0;
    if (mprotect(static_cast<char*>(addr) + off, PageSize(), PROT_READ | PROT_WRITE) == 0 ||
        errno != ENOMEM) {
      return false;
    }
  }
  return true;
}

bool AllBytesAre(const char* p, size_t len, char value) {
  for (size_t i = 0; i < len; i++) {
    if (p[i] != value) return false;
  }
  return true;
}

// Fills page i of [p, p + pages*PageSize()) with byte i+1, so a moved page can be recognised.
void FillPages(char* p, size_t pages) {
  for (size_t i = 0; i < pages; i++)
    memset(p + i * PageSize(), static_cast<int>(i + 1), PageSize());
}

bool PagesHaveFill(const char* p, size_t pages) {
  for (size_t i = 0; i < pages; i++) {
    if (!AllBytesAre(p + i * PageSize(), PageSize(), static_cast<char>(i + 1))) return false;
  }
  return true;
}

long RawMmap(uintptr_t addr, size_t len, int prot, int flags, int fd = -1, off_t off = 0) {
  return syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

// --- mmap ---------------------------------------------------------------------------------------

TEST(MmapTest, AnonymousMemoryIsZeroFilledAndWritable) {
  const size_t len = 16 * PageSize();
  char* p = MapAnon(len);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % PageSize(), 0u);
  EXPECT_TRUE(AllBytesAre(p, len, 0));
  memset(p, 0x5a, len);
  EXPECT_TRUE(AllBytesAre(p, len, 0x5a));
  ASSERT_SYSCALL_OK(munmap(p, len));
}

TEST(MmapTest, LengthIsRoundedUpToAPage) {
  char* p = MapAnon(1);
  ASSERT_NE(p, nullptr);
  // The whole page is there, not just the one byte asked for.
  p[PageSize() - 1] = 1;
  EXPECT_TRUE(IsMapped(p, PageSize()));
  ASSERT_SYSCALL_OK(munmap(p, 1));
}

TEST(MmapTest, FreeHintIsUsed) {
  Region r(4);
  ASSERT_TRUE(r.ok());
  ASSERT_SYSCALL_OK(munmap(r.page(1), PageSize()));
  // Without MAP_FIXED the address is a hint, and Linux takes it when the range is free.
  EXPECT_EQ(MapAnon(PageSize(), PROT_READ | PROT_WRITE, 0, r.page(1)), r.page(1));
}

TEST(MmapTest, UnalignedHintWithoutFixedIsRoundedToAPage) {
  char* p = MapAnon(PageSize(), PROT_READ | PROT_WRITE, 0, reinterpret_cast<void*>(0x10000001));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % PageSize(), 0u);
  ASSERT_SYSCALL_OK(munmap(p, PageSize()));
}

TEST(MmapTest, FixedReplacesExistingMapping) {
  char* p = MapAnon(3 * PageSize());
  ASSERT_NE(p, nullptr);
  memset(p, 0xaa, 3 * PageSize());
  char* mid = p + PageSize();
  EXPECT_EQ(MapAnon(PageSize(), PROT_READ | PROT_WRITE, MAP_FIXED, mid), mid);
  EXPECT_TRUE(AllBytesAre(mid, PageSize(), 0));
  EXPECT_TRUE(AllBytesAre(p, PageSize(), static_cast<char>(0xaa)));
  EXPECT_TRUE(AllBytesAre(p + 2 * PageSize(), PageSize(), static_cast<char>(0xaa)));
  ASSERT_SYSCALL_OK(munmap(p, 3 * PageSize()));
}

TEST(MmapTest, FixedNoReplaceOnMappedRangeFailsWithEEXIST) {
  Region r(4);
  ASSERT_TRUE(r.ok());
  char* p = MapAnon(2 * PageSize(), PROT_READ | PROT_WRITE, MAP_FIXED, r.page(1));
  ASSERT_EQ(p, r.page(1));
  memset(p, 0x11, 2 * PageSize());
  ASSERT_SYSCALL_OK(munmap(r.page(0), PageSize()));
  const int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE;
  const uintptr_t page0 = reinterpret_cast<uintptr_t>(r.page(0));
  const uintptr_t page1 = reinterpret_cast<uintptr_t>(r.page(1));
  // Entirely inside the existing mapping.
  EXPECT_SYSCALL_ERRNO(EEXIST, RawMmap(page1, PageSize(), PROT_READ, flags));
  // Starting in a free page and running into the mapping.
  EXPECT_SYSCALL_ERRNO(EEXIST, RawMmap(page0, 2 * PageSize(), PROT_READ, flags));
  // The failed calls left the mapping and its contents alone, and did not map the free page.
  EXPECT_TRUE(AllBytesAre(p, 2 * PageSize(), 0x11));
  EXPECT_TRUE(IsUnmapped(r.page(0), PageSize()));
}

TEST(MmapTest, FixedNoReplaceOnFreeRangeMapsExactlyThere) {
  Region r(3);
  ASSERT_TRUE(r.ok());
  ASSERT_SYSCALL_OK(munmap(r.page(1), PageSize()));
  EXPECT_EQ(MapAnon(PageSize(), PROT_READ | PROT_WRITE, MAP_FIXED_NOREPLACE, r.page(1)), r.page(1));
  EXPECT_TRUE(AllBytesAre(r.page(1), PageSize(), 0));
}

TEST(MmapTest, ZeroLengthIsEINVAL) {
  EXPECT_SYSCALL_ERRNO(EINVAL, RawMmap(0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS));
  Region r(1);
  ASSERT_TRUE(r.ok());
  EXPECT_SYSCALL_ERRNO(EINVAL, RawMmap(reinterpret_cast<uintptr_t>(r.page(0)), 0, PROT_READ,
                                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED));
}

TEST(MmapTest, UnalignedFixedAddressIsEINVAL) {
  Region r(2);
  ASSERT_TRUE(r.ok());
  const uintptr_t unaligned = reinterpret_cast<uintptr_t>(r.page(0)) + 1;
  EXPECT_SYSCALL_ERRNO(
      EINVAL, RawMmap(unaligned, PageSize(), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED));
  EXPECT_SYSCALL_ERRNO(EINVAL, RawMmap(unaligned, PageSize(), PROT_READ,
                                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE));
}

TEST(MmapTest, UnalignedOffsetIsEINVAL) {
  EXPECT_SYSCALL_ERRNO(EINVAL,
                       RawMmap(0, PageSize(), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 1));
}

TEST(MmapTest, UnknownProtBitsAreIgnored) {
  // mmap, unlike mprotect, does not validate prot: Linux maps the memory with the known bits.
  const long p =
      RawMmap(0, PageSize(), PROT_READ | PROT_WRITE | 0x100, MAP_PRIVATE | MAP_ANONYMOUS);
  ASSERT_NE(p, -1) << conformance::ErrnoName(errno);
  char* c = reinterpret_cast<char*>(p);
  c[0] = 7;
  EXPECT_EQ(c[0], 7);
  ASSERT_SYSCALL_OK(munmap(c, PageSize()));
}

TEST(MmapTest, NeitherOrBothOfPrivateAndSharedIsEINVAL) {
  EXPECT_SYSCALL_ERRNO(EINVAL, RawMmap(0, PageSize(), PROT_READ, MAP_ANONYMOUS));
  // MAP_SHARED|MAP_PRIVATE is MAP_SHARED_VALIDATE, which anonymous mappings do not accept.
  EXPECT_SYSCALL_ERRNO(EINVAL,
                       RawMmap(0, PageSize(), PROT_READ, MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS));
}

TEST(MmapTest, HugeLengthIsENOMEM) {
  const int flags = MAP_PRIVATE | MAP_ANONYMOUS;
  // Larger than any user address space.
  EXPECT_SYSCALL_ERRNO(ENOMEM, RawMmap(0, size_t{1} << 57, PROT_READ, flags));
  // Rounding SIZE_MAX up to a page overflows to 0, which is still ENOMEM, not EINVAL.
  EXPECT_SYSCALL_ERRNO(ENOMEM, RawMmap(0, SIZE_MAX, PROT_READ, flags));
  EXPECT_SYSCALL_ERRNO(ENOMEM, RawMmap(0, SIZE_MAX - PageSize(), PROT_READ, flags));
}

TEST(MmapTest, FixedBeyondUserSpaceIsENOMEM) {
  EXPECT_SYSCALL_ERRNO(ENOMEM, RawMmap(kBeyondUserSpace, PageSize(), PROT_READ,
                                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED));
}

// --- munmap -------------------------------------------------------------------------------------

TEST(MunmapTest, UnalignedAddressIsEINVAL) {
  char* p = MapAnon(2 * PageSize());
  ASSERT_NE(p, nullptr);
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_munmap, p + 1, PageSize()));
  EXPECT_TRUE(IsMapped(p, 2 * PageSize()));
  ASSERT_SYSCALL_OK(munmap(p, 2 * PageSize()));
}

TEST(MunmapTest, ZeroLengthIsEINVAL) {
  char* p = MapAnon(PageSize());
  ASSERT_NE(p, nullptr);
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_munmap, p, 0));
  ASSERT_SYSCALL_OK(munmap(p, PageSize()));
}

TEST(MunmapTest, RangeBeyondUserSpaceIsEINVAL) {
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_munmap, kBeyondUserSpace, PageSize()));
}

TEST(MunmapTest, UnmappedRangeSucceeds) {
  Region r(2);
  ASSERT_TRUE(r.ok());
  ASSERT_SYSCALL_OK(munmap(r.page(0), 2 * PageSize()));
  EXPECT_SYSCALL_OK(syscall(SYS_munmap, r.page(0), 2 * PageSize()));
}

TEST(MunmapTest, MiddlePageLeavesNeighboursIntact) {
  char* p = MapAnon(3 * PageSize());
  ASSERT_NE(p, nullptr);
  FillPages(p, 3);
  ASSERT_SYSCALL_OK(munmap(p + PageSize(), PageSize()));
  EXPECT_TRUE(IsUnmapped(p + PageSize(), PageSize()));
  EXPECT_TRUE(AllBytesAre(p, PageSize(), 1));
  EXPECT_TRUE(AllBytesAre(p + 2 * PageSize(), PageSize(), 3));
  ASSERT_SYSCALL_OK(munmap(p, 3 * PageSize()));
}

TEST(MunmapTest, LengthIsRoundedUpToAPage) {
  char* p = MapAnon(2 * PageSize());
  ASSERT_NE(p, nullptr);
  ASSERT_SYSCALL_OK(munmap(p, 1));
  EXPECT_TRUE(IsUnmapped(p, PageSize()));
  EXPECT_TRUE(IsMapped(p + PageSize(), PageSize()));
  ASSERT_SYSCALL_OK(munmap(p, 2 * PageSize()));
}

// --- mprotect -----------------------------------------------------------------------------------

TEST(MprotectTest, UnmappedRangeIsENOMEM) {
  Region r(3);
  ASSERT_TRUE(r.ok());
  ASSERT_SYSCALL_OK(munmap(r.page(1), PageSize()));
  // A wholly unmapped page, and a range of mapped pages with a hole in the middle.
  EXPECT_SYSCALL_ERRNO(ENOMEM, mprotect(r.page(1), PageSize(), PROT_READ));
  EXPECT_SYSCALL_ERRNO(ENOMEM, mprotect(r.page(0), 3 * PageSize(), PROT_READ));
}

TEST(MprotectTest, UnalignedAddressIsEINVAL) {
  char* p = MapAnon(PageSize());
  ASSERT_NE(p, nullptr);
  EXPECT_SYSCALL_ERRNO(EINVAL, mprotect(p + 1, PageSize(), PROT_READ));
  ASSERT_SYSCALL_OK(munmap(p, PageSize()));
}

TEST(MprotectTest, UnknownProtBitsAreEINVAL) {
  char* p = MapAnon(PageSize());
  ASSERT_NE(p, nullptr);
  EXPECT_SYSCALL_ERRNO(EINVAL, mprotect(p, PageSize(), PROT_READ | 0x100));
  EXPECT_SYSCALL_ERRNO(EINVAL, mprotect(p, PageSize(), PROT_READ | 0x10));
  // Growing both up and down at once.
  EXPECT_SYSCALL_ERRNO(EINVAL, mprotect(p, PageSize(), PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP));
  ASSERT_SYSCALL_OK(munmap(p, PageSize()));
}

TEST(MprotectTest, ZeroLengthSucceeds) {
  char* p = MapAnon(PageSize());
  ASSERT_NE(p, nullptr);
  EXPECT_SYSCALL_OK(mprotect(p, 0, PROT_READ));
  ASSERT_SYSCALL_OK(munmap(p, PageSize()));
}

// Without signal delivery a test cannot touch a protected page itself; the kernel reports the
// same protection as EFAULT when a system call writes there on the program's behalf.
TEST(MprotectTest, ProtNoneBufferIsEFAULTForSyscalls) {
  char* p = MapAnon(PageSize());
  ASSERT_NE(p, nullptr);
  memset(p, 0x33, PageSize());
  ASSERT_SYSCALL_OK(mprotect(p, PageSize(), PROT_NONE));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_getrandom, p, 16, 0));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_uname, p));
  // Protection changes keep the contents.
  ASSERT_SYSCALL_OK(mprotect(p, PageSize(), PROT_READ | PROT_WRITE));
  EXPECT_TRUE(AllBytesAre(p, PageSize(), 0x33));
  ASSERT_SYSCALL_OK(munmap(p, PageSize()));
}

TEST(MprotectTest, ReadOnlyBufferIsReadableButEFAULTForSyscallWrites) {
  char* p = MapAnon(PageSize());
  ASSERT_NE(p, nullptr);
  memset(p, 0x44, PageSize());
  ASSERT_SYSCALL_OK(mprotect(p, PageSize(), PROT_READ));
  EXPECT_TRUE(AllBytesAre(p, PageSize(), 0x44));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_getrandom, p, 16, 0));
  EXPECT_SYSCALL_ERRNO(EFAULT, syscall(SYS_uname, p));
  EXPECT_TRUE(AllBytesAre(p, PageSize(), 0x44));
  ASSERT_SYSCALL_OK(munmap(p, PageSize()));
}

// --- mremap -------------------------------------------------------------------------------------

TEST(MremapTest, GrowsInPlaceWhenTheNextPagesAreFree) {
  Region r(4);
  ASSERT_TRUE(r.ok());
  char* p = MapAnon(PageSize(), PROT_READ | PROT_WRITE, MAP_FIXED, r.page(0));
  ASSERT_EQ(p, r.page(0));
  FillPages(p, 1);
  ASSERT_SYSCALL_OK(munmap(r.page(1), 3 * PageSize()));
  EXPECT_EQ(mremap(p, PageSize(), 4 * PageSize(), 0), p);
  EXPECT_TRUE(PagesHaveFill(p, 1));
  EXPECT_TRUE(AllBytesAre(p + PageSize(), 3 * PageSize(), 0));
}

TEST(MremapTest, GrowWithoutMayMoveIntoAMappingIsENOMEM) {
  Region r(2);
  ASSERT_TRUE(r.ok());
  char* p = MapAnon(PageSize(), PROT_READ | PROT_WRITE, MAP_FIXED, r.page(0));
  ASSERT_EQ(p, r.page(0));
  FillPages(p, 1);
  // Page 1 is still the reservation, so p cannot grow in place.
  EXPECT_SYSCALL_ERRNO(ENOMEM, mremap(p, PageSize(), 2 * PageSize(), 0));
  EXPECT_TRUE(PagesHaveFill(p, 1));
}

TEST(MremapTest, GrowWithMayMoveMovesAndKeepsTheData) {
  Region r(8);
  ASSERT_TRUE(r.ok());
  char* p = MapAnon(4 * PageSize(), PROT_READ | PROT_WRITE, MAP_FIXED, r.page(0));
  ASSERT_EQ(p, r.page(0));
  FillPages(p, 4);
  // Pages 4..7 stay reserved: growing to 16 pages must move.
  void* q = mremap(p, 4 * PageSize(), 16 * PageSize(), MREMAP_MAYMOVE);
  ASSERT_NE(q, MAP_FAILED) << conformance::ErrnoName(errno);
  char* n = static_cast<char*>(q);
  EXPECT_NE(n, p);
  EXPECT_TRUE(PagesHaveFill(n, 4));
  EXPECT_TRUE(AllBytesAre(n + 4 * PageSize(), 12 * PageSize(), 0));
  EXPECT_TRUE(IsUnmapped(p, 4 * PageSize()));
  ASSERT_SYSCALL_OK(munmap(n, 16 * PageSize()));
}

TEST(MremapTest, ShrinkKeepsTheAddressAndUnmapsTheTail) {
  char* p = MapAnon(4 * PageSize());
  ASSERT_NE(p, nullptr);
  FillPages(p, 4);
  EXPECT_EQ(mremap(p, 4 * PageSize(), 2 * PageSize(), 0), p);
  EXPECT_TRUE(PagesHaveFill(p, 2));
  EXPECT_TRUE(IsUnmapped(p + 2 * PageSize(), 2 * PageSize()));
  ASSERT_SYSCALL_OK(munmap(p, 2 * PageSize()));
}

TEST(MremapTest, SameSizeIsANoOp) {
  char* p = MapAnon(2 * PageSize());
  ASSERT_NE(p, nullptr);
  FillPages(p, 2);
  EXPECT_EQ(mremap(p, 2 * PageSize(), 2 * PageSize(), 0), p);
  EXPECT_TRUE(PagesHaveFill(p, 2));
  ASSERT_SYSCALL_OK(munmap(p, 2 * PageSize()));
}

TEST(MremapTest, FixedMovesToTheNewAddressReplacingWhatWasThere) {
  Region r(12);
  ASSERT_TRUE(r.ok());
  char* src = MapAnon(4 * PageSize(), PROT_READ | PROT_WRITE, MAP_FIXED, r.page(0));
  ASSERT_EQ(src, r.page(0));
  FillPages(src, 4);
  char* dst = MapAnon(6 * PageSize(), PROT_READ | PROT_WRITE, MAP_FIXED, r.page(6));
  ASSERT_EQ(dst, r.page(6));
  memset(dst, 0x77, 6 * PageSize());
  void* q = mremap(src, 4 * PageSize(), 4 * PageSize(), MREMAP_MAYMOVE | MREMAP_FIXED, dst);
  EXPECT_EQ(q, dst) << conformance::ErrnoName(errno);
  EXPECT_TRUE(PagesHaveFill(dst, 4));
  // The rest of what was at the destination is untouched.
  EXPECT_TRUE(AllBytesAre(dst + 4 * PageSize(), 2 * PageSize(), 0x77));
  EXPECT_TRUE(IsUnmapped(src, 4 * PageSize()));
}

TEST(MremapTest, DataSurvivesAMoveOfManyPages) {
  const size_t pages = 64;
  char* p = MapAnon(pages * PageSize());
  ASSERT_NE(p, nullptr);
  FillPages(p, pages);
  // Block growth in place so the mapping has to move.
  char* blocker = MapAnon(PageSize(), PROT_NONE, MAP_FIXED_NOREPLACE, p + pages * PageSize());
  void* q = mremap(p, pages * PageSize(), 2 * pages * PageSize(), MREMAP_MAYMOVE);
  ASSERT_NE(q, MAP_FAILED) << conformance::ErrnoName(errno);
  if (blocker != nullptr) {
    EXPECT_NE(q, p);
  }
  EXPECT_TRUE(PagesHaveFill(static_cast<char*>(q), pages));
  ASSERT_SYSCALL_OK(munmap(q, 2 * pages * PageSize()));
  if (blocker != nullptr) {
    ASSERT_SYSCALL_OK(munmap(blocker, PageSize()));
  }
}

TEST(MremapTest, FixedWithoutMayMoveIsEINVAL) {
  Region r(4);
  ASSERT_TRUE(r.ok());
  EXPECT_SYSCALL_ERRNO(
      EINVAL, syscall(SYS_mremap, r.page(0), PageSize(), PageSize(), MREMAP_FIXED, r.page(2)));
}

TEST(MremapTest, FixedOntoAnOverlappingRangeIsEINVAL) {
  Region r(4);
  ASSERT_TRUE(r.ok());
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_mremap, r.page(0), 2 * PageSize(), 2 * PageSize(),
                                       MREMAP_MAYMOVE | MREMAP_FIXED, r.page(1)));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_mremap, r.page(0), PageSize(), PageSize(),
                                       MREMAP_MAYMOVE | MREMAP_FIXED, r.page(0)));
}

TEST(MremapTest, UnalignedAddressesAreEINVAL) {
  Region r(4);
  ASSERT_TRUE(r.ok());
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_mremap, r.page(0) + 1, PageSize(), PageSize(), 0));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_mremap, r.page(0), PageSize(), PageSize(),
                                       MREMAP_MAYMOVE | MREMAP_FIXED, r.page(2) + 1));
}

TEST(MremapTest, UnknownFlagsAreEINVAL) {
  Region r(1);
  ASSERT_TRUE(r.ok());
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_mremap, r.page(0), PageSize(), PageSize(), 0x80));
}

TEST(MremapTest, DontUnmapWithoutMayMoveIsEINVAL) {
  Region r(1);
  ASSERT_TRUE(r.ok());
  EXPECT_SYSCALL_ERRNO(EINVAL,
                       syscall(SYS_mremap, r.page(0), PageSize(), PageSize(), MREMAP_DONTUNMAP));
}

TEST(MremapTest, ZeroNewSizeIsEINVAL) {
  Region r(1);
  ASSERT_TRUE(r.ok());
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_mremap, r.page(0), PageSize(), 0, MREMAP_MAYMOVE));
}

TEST(MremapTest, ZeroOldSizeOfAPrivateMappingIsEINVAL) {
  // old_size 0 duplicates a shared mapping; since Linux 4.14 a private one is refused.
  Region r(1);
  ASSERT_TRUE(r.ok());
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_mremap, r.page(0), 0, PageSize(), MREMAP_MAYMOVE));
}

TEST(MremapTest, UnmappedOldRangeIsEFAULT) {
  Region r(3);
  ASSERT_TRUE(r.ok());
  ASSERT_SYSCALL_OK(munmap(r.page(1), PageSize()));
  EXPECT_SYSCALL_ERRNO(EFAULT,
                       syscall(SYS_mremap, r.page(1), PageSize(), 2 * PageSize(), MREMAP_MAYMOVE));
  // A range that starts mapped but runs over the hole.
  EXPECT_SYSCALL_ERRNO(
      EFAULT, syscall(SYS_mremap, r.page(0), 3 * PageSize(), 4 * PageSize(), MREMAP_MAYMOVE));
}

// --- madvise ------------------------------------------------------------------------------------

TEST(MadviseTest, DontNeedZeroesPrivateAnonymousPages) {
  char* p = MapAnon(3 * PageSize());
  ASSERT_NE(p, nullptr);
  FillPages(p, 3);
  ASSERT_SYSCALL_OK(madvise(p + PageSize(), PageSize(), MADV_DONTNEED));
  EXPECT_TRUE(AllBytesAre(p, PageSize(), 1));
  EXPECT_TRUE(AllBytesAre(p + PageSize(), PageSize(), 0));
  EXPECT_TRUE(AllBytesAre(p + 2 * PageSize(), PageSize(), 3));
  // The page is still mapped and writable.
  p[PageSize()] = 9;
  EXPECT_EQ(p[PageSize()], 9);
  ASSERT_SYSCALL_OK(munmap(p, 3 * PageSize()));
}

TEST(MadviseTest, HarmlessAdviceSucceeds) {
  char* p = MapAnon(2 * PageSize());
  ASSERT_NE(p, nullptr);
  FillPages(p, 2);
  for (int advice : {MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED}) {
    EXPECT_SYSCALL_OK(madvise(p, 2 * PageSize(), advice)) << "advice " << advice;
  }
  EXPECT_TRUE(PagesHaveFill(p, 2));
  ASSERT_SYSCALL_OK(munmap(p, 2 * PageSize()));
}

TEST(MadviseTest, UnknownAdviceIsEINVAL) {
  char* p = MapAnon(PageSize());
  ASSERT_NE(p, nullptr);
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_madvise, p, PageSize(), 999));
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_madvise, p, PageSize(), -1));
  ASSERT_SYSCALL_OK(munmap(p, PageSize()));
}

TEST(MadviseTest, UnalignedAddressIsEINVAL) {
  char* p = MapAnon(PageSize());
  ASSERT_NE(p, nullptr);
  EXPECT_SYSCALL_ERRNO(EINVAL, syscall(SYS_madvise, p + 1, PageSize(), MADV_DONTNEED));
  ASSERT_SYSCALL_OK(munmap(p, PageSize()));
}

TEST(MadviseTest, ZeroLengthSucceeds) {
  char* p = MapAnon(PageSize());
  ASSERT_NE(p, nullptr);
  EXPECT_SYSCALL_OK(syscall(SYS_madvise, p, 0, MADV_DONTNEED));
  ASSERT_SYSCALL_OK(munmap(p, PageSize()));
}

TEST(MadviseTest, UnmappedRangeIsENOMEM) {
  Region r(3);
  ASSERT_TRUE(r.ok());
  ASSERT_SYSCALL_OK(munmap(r.page(1), PageSize()));
  EXPECT_SYSCALL_ERRNO(ENOMEM, syscall(SYS_madvise, r.page(1), PageSize(), MADV_DONTNEED));
  EXPECT_SYSCALL_ERRNO(ENOMEM, syscall(SYS_madvise, r.page(0), 3 * PageSize(), MADV_DONTNEED));
  EXPECT_SYSCALL_ERRNO(ENOMEM, syscall(SYS_madvise, r.page(0), 3 * PageSize(), MADV_NORMAL));
}

}  // namespace
