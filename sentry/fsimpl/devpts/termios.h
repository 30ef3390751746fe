// The kernel's termios as the TCGETS family moves it (struct termios in asm-generic/termbits.h,
// not glibc's larger one), termios2 for TCGETS2, and the defaults a new terminal starts with
// (Linux's tty_std_termios).
#pragma once

#include <asm/termbits.h>

#include <array>
#include <cstdint>

namespace sentry::fsimpl::devpts {

// TCGETS/TCSETS: 36 bytes.
struct KernelTermios {
  uint32_t c_iflag = 0;
  uint32_t c_oflag = 0;
  uint32_t c_cflag = 0;
  uint32_t c_lflag = 0;
  uint8_t c_line = 0;
  std::array<uint8_t, 19> c_cc{};
};
static_assert(sizeof(KernelTermios) == 36);

// TCGETS2/TCSETS2: the same followed by the speeds.
struct KernelTermios2 {
  KernelTermios t;
  uint32_t c_ispeed = 0;
  uint32_t c_ospeed = 0;
};
static_assert(sizeof(KernelTermios2) == 44);

// A pty replica's termios when it is first opened (Linux's pty driver): ICRNL|IXON, OPOST|ONLCR,
// B38400|CS8|CREAD, ISIG|ICANON|ECHO|ECHOE|ECHOK|ECHOCTL|ECHOKE|IEXTEN, and ^C ^\ DEL ^U ^D 0 1
// 0 ^Q ^S ^Z 0 ^R ^O ^W ^V 0 as the control characters.
inline KernelTermios DefaultTermios() {
  KernelTermios t;
  t.c_iflag = ICRNL | IXON;
  t.c_oflag = OPOST | ONLCR;
  t.c_cflag = B38400 | CS8 | CREAD;
  t.c_lflag = ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN;
  t.c_cc = {003, 034, 0177, 025, 004, 0, 1, 0, 021, 023, 032, 0, 022, 017, 027, 026, 0, 0, 0};
  return t;
}

inline constexpr uint32_t kDefaultSpeed = 38400;

}  // namespace sentry::fsimpl::devpts
