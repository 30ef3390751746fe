// strace-style rendering of one application syscall, for `runsc do --strace` and debug logs.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace sentry::syscalls {

// Reads application memory for the decoder: up to `max` bytes at `addr`; stops at the first NUL
// when `cstring` is true (the NUL is not included). Returns std::nullopt if addr is unreadable
// (decoder then prints the address in hex, like strace does for bad pointers). The decoder never
// asks for more than a few KiB at once, whatever lengths the application passed.
using MemoryReader =
    std::function<std::optional<std::string>(uint64_t addr, size_t max, bool cstring)>;

// Formats "name(arg, arg, ...) = result" in strace's style (without strace's column padding).
// `result` is the raw value put in rax: -1..-4095 is an error, printed "= -1 EFAULT (Bad address)"
// (or "= ? ERESTARTSYS (...)" for the kernel-internal restart codes); std::nullopt means the call
// did not return (exit, exit_group, execve success) and prints "= ?". Output arguments (read's
// buffer, stat's struct, ...) are decoded only for successful results, so call this after the
// syscall has run; the exception is execve, whose arguments point into the image that a
// successful call replaces: format it before running it, with std::nullopt. Unknown numbers print
// as "syscall_0x1c8(0x1, ...)" with six hex arguments. Keeps no state, so any thread may call it;
// an empty `read` makes every pointer print as an address.
std::string FormatSyscall(uint64_t nr, const std::array<uint64_t, 6>& args,
                          std::optional<uint64_t> result, const MemoryReader& read);

}  // namespace sentry::syscalls
