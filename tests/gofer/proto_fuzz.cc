// libFuzzer target for the gofer protocol decoder (built only with clang):
//   gofer_proto_fuzz -max_len=70000 corpus/
#include <cstddef>
#include <cstdint>

#include "tests/gofer/decode_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gofer::testing::DecodeEverything({data, size});
  return 0;
}
