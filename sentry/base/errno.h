// Errors on the syscall path flow as values: a Linux errno wrapped in std::expected.
#pragma once

#include <cerrno>
#include <expected>
#include <utility>

namespace sentry {

// A positive Linux errno number (EFAULT, EINVAL, ...).
struct Errno {
  int value;
  constexpr explicit Errno(int v) : value(v) {}
  friend constexpr bool operator==(Errno, Errno) = default;
};

template <class T>
using Result = std::expected<T, Errno>;

constexpr std::unexpected<Errno> Err(int e) { return std::unexpected(Errno(e)); }

namespace detail {
template <class T>
T Take(std::expected<T, Errno>&& r) {
  return std::move(*r);
}
inline void Take(std::expected<void, Errno>&&) {}
}  // namespace detail

}  // namespace sentry

// TRY(expr): evaluates a Result; on error returns that error from the enclosing function,
// otherwise yields the value. Keeps a handler a straight line of checks.
#define TRY(expr)                                                  \
  ({                                                               \
    auto try_result_ = (expr);                                     \
    if (!try_result_.has_value()) return std::unexpected(try_result_.error()); \
    ::sentry::detail::Take(std::move(try_result_));                \
  })
