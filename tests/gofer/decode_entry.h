// The decoder entry point shared by the random-bytes unit test and the libFuzzer target.
#pragma once

#include <cstdint>
#include <span>

namespace gofer::testing {

// Decodes `data` every way the gofer or a client might: as a whole request, as the reply to each
// request type, and as the bare body of every message type. Must never crash, whatever the bytes.
void DecodeEverything(std::span<const uint8_t> data);

}  // namespace gofer::testing
