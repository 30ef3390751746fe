#include "gofer/proto/messages.h"

#include <utility>

namespace gofer {

Result<Header> DecodeHeader(std::span<const uint8_t> message) {
  if (message.size() < kHeaderSize || message.size() > kMaxMessageSize) return Err(EINVAL);
  Decoder d(message.first(kHeaderSize));
  Header h;
  TRY(Get(d, h));
  if (h.length != message.size()) return Err(EINVAL);
  return h;
}

namespace {

template <size_t... I>
Result<Request> DecodeRequestAt(const Header& header, std::span<const uint8_t> message,
                                std::span<FileDescriptor> fds, std::index_sequence<I...>) {
  Result<Request> result = Err(ENOSYS);
  // Exactly one alternative's kType can match; its decode decides the result.
  (
      [&] {
        using M = std::variant_alternative_t<I, Request>;
        if (header.type != M::kType) return;
        auto m = DecodeBody<M>(message, fds);
        if (m) {
          result = Request(std::in_place_index<I>, std::move(*m));
        } else {
          result = std::unexpected(m.error());
        }
      }(),
      ...);
  return result;
}

}  // namespace

Result<Request> DecodeRequest(const Header& header, std::span<const uint8_t> message,
                              std::span<FileDescriptor> fds) {
  return DecodeRequestAt(header, message, fds,
                         std::make_index_sequence<std::variant_size_v<Request>>());
}

}  // namespace gofer
