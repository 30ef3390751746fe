#include "tests/gofer/decode_entry.h"

#include <utility>
#include <variant>

#include "gofer/proto/messages.h"

namespace gofer::testing {

namespace {

template <class M>
void DecodeBare(std::span<const uint8_t> data) {
  Decoder d(data);
  M m;
  if (Get(d, m)) (void)d.Finish();
}

template <size_t... I>
void DecodeAll(std::span<const uint8_t> data, uint64_t tag, std::index_sequence<I...>) {
  (
      [&] {
        using Req = std::variant_alternative_t<I, Request>;
        std::vector<FileDescriptor> fds;
        (void)DecodeReply<typename Req::Response>(data, fds, tag);
        DecodeBare<Req>(data);
        DecodeBare<typename Req::Response>(data);
      }(),
      ...);
}

}  // namespace

void DecodeEverything(std::span<const uint8_t> data) {
  uint64_t tag = 0;
  if (auto header = DecodeHeader(data)) {
    tag = header->tag;
    std::vector<FileDescriptor> fds;
    (void)DecodeRequest(*header, data, fds);
  }
  DecodeBare<ErrorResponse>(data);
  DecodeAll(data, tag, std::make_index_sequence<std::variant_size_v<Request>>());
}

}  // namespace gofer::testing
