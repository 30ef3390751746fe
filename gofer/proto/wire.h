// The byte-level codec of the gofer protocol: an Encoder that appends little-endian fields to a
// byte vector and a Decoder that reads them back from untrusted bytes. Messages describe their
// layout once (GOFER_FIELDS) and the generic Put/Get below walk it, so encoding and decoding
// cannot drift apart field by field.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "sentry/base/errno.h"
#include "sentry/base/file_descriptor.h"

static_assert(std::endian::native == std::endian::little,
              "the gofer wire format is little endian and copies integers as they are in memory");

namespace gofer {

using sentry::Err;
using sentry::Errno;
using sentry::FileDescriptor;
using sentry::Result;

// Largest message in either direction, header included. It stays well under the default unix
// socket send buffer, so a SOCK_SEQPACKET send of a whole message never fails with EMSGSIZE.
inline constexpr size_t kMaxMessageSize = 64 * 1024;

// Most fds one message may carry. Replies carry at most one today; the margin lets a receiver
// take (and close) a few unexpected ones instead of having the kernel truncate the control data.
inline constexpr size_t kMaxMessageFds = 8;

class Encoder {
 public:
  template <class T>
  requires std::is_integral_v<T>
  void Int(T v) {
    size_t at = bytes_.size();
    bytes_.resize(at + sizeof(T));
    std::memcpy(bytes_.data() + at, &v, sizeof(T));
  }
  void String(std::string_view s);
  // An fd travels out of band (SCM_RIGHTS); the body records only whether one is present, so
  // the receiver can tell a missing fd from one that was never sent. The fd stays owned by the
  // message being encoded; Fds() borrows it until the message is sent.
  void Fd(const FileDescriptor& fd);

  std::vector<uint8_t>& bytes() { return bytes_; }
  const std::vector<int>& fds() const { return fds_; }

 private:
  std::vector<uint8_t> bytes_;
  std::vector<int> fds_;
};

// Reads untrusted bytes. Every accessor checks bounds and fails with EINVAL instead of reading
// past the end; nothing here allocates more than the bytes actually present could describe.
class Decoder {
 public:
  explicit Decoder(std::span<const uint8_t> data, std::span<FileDescriptor> fds = {})
      : data_(data), fds_(fds) {}

  template <class T>
  requires std::is_integral_v<T> Result<T> Int() {
    if (remaining() < sizeof(T)) return Err(EINVAL);
    T v;
    std::memcpy(&v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  Result<std::string> String();
  Result<FileDescriptor> Fd();
  // A count of elements that are each at least `min_size` bytes: larger than what is left of
  // the message means a lie, refused before anyone reserves memory for it.
  Result<uint32_t> Count(size_t min_size);
  // The whole body must have been consumed: trailing garbage is a malformed message.
  Result<void> Finish() const;

  size_t remaining() const { return data_.size() - pos_; }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
  std::span<FileDescriptor> fds_;
  size_t next_fd_ = 0;
};

// GOFER_FIELDS(a, b, c) inside a struct lists its wire layout, in order.
#define GOFER_FIELDS(...)                         \
  auto Fields() { return std::tie(__VA_ARGS__); } \
  auto Fields() const { return std::tie(__VA_ARGS__); }

namespace wire_detail {

template <class T>
struct IsVector : std::false_type {};
template <class T>
struct IsVector<std::vector<T>> : std::true_type {};

template <class T>
constexpr size_t MinWireSize();

template <class Tuple>
struct TupleMinSize;
template <class... E>
struct TupleMinSize<std::tuple<E...>> {
  static constexpr size_t value = (size_t{0} + ... + MinWireSize<std::remove_cvref_t<E>>());
};

// The fewest bytes a T can occupy on the wire; bounds element counts before decoding them.
template <class T>
constexpr size_t MinWireSize() {
  if constexpr (std::is_integral_v<T>) {
    return sizeof(T);
  } else if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, FileDescriptor> ||
                       IsVector<T>::value) {
    return sizeof(uint32_t);
  } else {
    return TupleMinSize<decltype(std::declval<const T&>().Fields())>::value;
  }
}

}  // namespace wire_detail

template <class T>
void Put(Encoder& e, const T& v) {
  if constexpr (std::is_integral_v<T>) {
    e.Int(v);
  } else if constexpr (std::is_same_v<T, std::string>) {
    e.String(v);
  } else if constexpr (std::is_same_v<T, FileDescriptor>) {
    e.Fd(v);
  } else if constexpr (wire_detail::IsVector<T>::value) {
    e.Int(static_cast<uint32_t>(v.size()));
    for (const auto& x : v) Put(e, x);
  } else {
    std::apply([&](const auto&... f) { (Put(e, f), ...); }, v.Fields());
  }
}

template <class T>
Result<void> Get(Decoder& d, T& v) {
  if constexpr (std::is_integral_v<T>) {
    v = TRY(d.Int<T>());
  } else if constexpr (std::is_same_v<T, std::string>) {
    v = TRY(d.String());
  } else if constexpr (std::is_same_v<T, FileDescriptor>) {
    v = TRY(d.Fd());
  } else if constexpr (wire_detail::IsVector<T>::value) {
    using E = typename T::value_type;
    constexpr size_t kMin = std::max<size_t>(1, wire_detail::MinWireSize<E>());
    uint32_t n = TRY(d.Count(kMin));
    v.clear();
    // No reserve(n): elements are appended as they decode, so memory follows real bytes.
    for (uint32_t i = 0; i < n; ++i) {
      E x{};
      TRY(Get(d, x));
      v.push_back(std::move(x));
    }
  } else {
    Result<void> r;
    std::apply([&](auto&... f) { ((r.has_value() ? void(r = Get(d, f)) : void()), ...); },
               v.Fields());
    return r;
  }
  return {};
}

}  // namespace gofer
