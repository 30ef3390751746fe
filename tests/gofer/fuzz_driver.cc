// A randomized driver for the gofer protocol decoder that any compiler builds (the libFuzzer
// target, proto_fuzz.cc, needs a clang that compiles the project's C++). Under
// AddressSanitizer it checks on every `make test` that no input crashes DecodeEverything:
//
//   gofer_proto_fuzz_driver [--seed=N] [--iterations=N] [--seconds=S] [FILE...]
//
// Without FILEs it runs a fixed-seed pass (the same inputs on every run), then a pass with a
// fresh seed, printed so that a failure can be replayed with --seed, each pass until its share
// of --iterations or of --seconds is spent. With FILEs it decodes each file once (a crash input
// or a corpus from the libFuzzer target) and exits.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tests/gofer/decode_entry.h"
#include "tests/gofer/sample_messages.h"

namespace gofer::testing {
namespace {

constexpr uint64_t kFixedSeed = 20261129;
constexpr size_t kMaxInput = 4096;

using Bytes = std::vector<uint8_t>;

// Makes inputs the way a coverage-blind fuzzer can still reach deep into the decoder: mostly
// by mutating valid messages, whose headers and lengths already pass.
class InputMaker {
 public:
  explicit InputMaker(uint64_t seed) : rng_(seed), samples_(SampleMessages()) {}

  Bytes Next() {
    switch (Below(8)) {
      case 0:
        return Noise();
      case 1:
        return NoiseBehindHeader();
      default: {
        Bytes b = samples_[Below(samples_.size())];
        for (size_t n = 1 + Below(4); n > 0; --n) Mutate(b);
        // Most mutants keep a length field that matches, so the body decoders see them.
        if (b.size() >= kHeaderSize && Below(3) != 0) PatchLength(b);
        return b;
      }
    }
  }

 private:
  size_t Below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng_() % n); }
  uint8_t Byte() { return static_cast<uint8_t>(rng_()); }

  Bytes Noise() {
    Bytes b(Below(300));
    for (auto& c : b) c = Byte();
    return b;
  }

  Bytes NoiseBehindHeader() {
    Bytes b = samples_[Below(samples_.size())];
    b.resize(kHeaderSize + Below(200));
    for (size_t i = kHeaderSize; i < b.size(); ++i) b[i] = Byte();
    PatchLength(b);
    return b;
  }

  // Values that sit on the boundaries of counts, lengths and signed fields.
  uint32_t Interesting32() {
    static constexpr uint32_t kValues[] = {
        0,       1,          2,          0x7f,       0x80,       0xff,      0x100, 0xffff,
        0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, kMaxInput, 4097};
    return kValues[Below(std::size(kValues))];
  }

  void Mutate(Bytes& b) {
    if (b.empty()) {
      b.push_back(Byte());
      return;
    }
    switch (Below(9)) {
      case 0:  // flip a bit
        b[Below(b.size())] ^= static_cast<uint8_t>(1u << Below(8));
        break;
      case 1:  // a random byte
        b[Below(b.size())] = Byte();
        break;
      case 2: {  // a boundary value over a 32-bit field (counts and string lengths are u32)
        if (b.size() < 4) break;
        uint32_t v = Interesting32();
        std::memcpy(b.data() + Below(b.size() - 3), &v, sizeof(v));
        break;
      }
      case 3: {  // insert a few bytes
        size_t at = Below(b.size() + 1), n = 1 + Below(8);
        Bytes add(n);
        for (auto& c : add) c = Byte();
        b.insert(b.begin() + static_cast<ptrdiff_t>(at), add.begin(), add.end());
        break;
      }
      case 4: {  // erase a range
        size_t at = Below(b.size()), n = 1 + Below(std::min<size_t>(16, b.size() - at));
        b.erase(b.begin() + static_cast<ptrdiff_t>(at), b.begin() + static_cast<ptrdiff_t>(at + n));
        break;
      }
      case 5: {  // repeat a chunk (a list entry twice)
        size_t at = Below(b.size()), n = 1 + Below(std::min<size_t>(64, b.size() - at));
        Bytes chunk(b.begin() + static_cast<ptrdiff_t>(at),
                    b.begin() + static_cast<ptrdiff_t>(at + n));
        b.insert(b.begin() + static_cast<ptrdiff_t>(at), chunk.begin(), chunk.end());
        break;
      }
      case 6: {  // splice: this message's head on another's tail
        const Bytes& other = samples_[Below(samples_.size())];
        size_t cut = Below(b.size() + 1), from = Below(other.size() + 1);
        b.resize(cut);
        b.insert(b.end(), other.begin() + static_cast<ptrdiff_t>(from), other.end());
        break;
      }
      case 7:  // cut short
        b.resize(Below(b.size()));
        break;
      default:  // grow with garbage
        for (size_t n = 1 + Below(32); n > 0; --n) b.push_back(Byte());
        break;
    }
    if (b.size() > kMaxInput) b.resize(kMaxInput);
  }

  std::mt19937_64 rng_;
  const std::vector<Bytes> samples_;
};

struct Options {
  uint64_t seed = 0;  // 0: a fresh one
  uint64_t iterations = 400000;
  double seconds = 10;
  std::vector<std::string> files;
};

bool ParseOptions(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::string_view flag) -> const char* {
      return a.starts_with(flag) ? argv[i] + flag.size() : nullptr;
    };
    if (const char* v = value("--seed=")) {
      o.seed = std::strtoull(v, nullptr, 0);
    } else if (const char* v = value("--iterations=")) {
      o.iterations = std::strtoull(v, nullptr, 0);
    } else if (const char* v = value("--seconds=")) {
      o.seconds = std::strtod(v, nullptr);
    } else if (a.starts_with("--")) {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return false;
    } else {
      o.files.emplace_back(a);
    }
  }
  return true;
}

// Runs inputs from `seed` until `iterations` or `deadline`; returns how many ran.
uint64_t RunPass(uint64_t seed, uint64_t iterations,
                 std::chrono::steady_clock::time_point deadline) {
  InputMaker maker(seed);
  uint64_t i = 0;
  for (; i < iterations; ++i) {
    // The clock is read once in a while: it costs more than a small decode.
    if (i % 1024 == 0 && std::chrono::steady_clock::now() >= deadline) break;
    Bytes input = maker.Next();
    DecodeEverything(input);
  }
  return i;
}

int Main(int argc, char** argv) {
  Options o;
  if (!ParseOptions(argc, argv, o)) return 2;
  if (!o.files.empty()) {
    for (const std::string& path : o.files) {
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "cannot read %s\n", path.c_str());
        return 2;
      }
      Bytes input((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      DecodeEverything(input);
    }
    std::printf("decoded %zu files\n", o.files.size());
    return 0;
  }
  uint64_t seed = o.seed;
  if (seed == 0) seed = (uint64_t{std::random_device{}()} << 32) | std::random_device{}();
  auto start = std::chrono::steady_clock::now();
  auto half = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(o.seconds / 2));
  uint64_t fixed = RunPass(kFixedSeed, o.iterations / 2, start + half);
  std::printf("fixed seed %llu: %llu inputs\n", static_cast<unsigned long long>(kFixedSeed),
              static_cast<unsigned long long>(fixed));
  // Printed before the pass, so that a crash can be replayed with --seed.
  std::printf("random seed %llu (replay with --seed=%llu)\n", static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  uint64_t random = RunPass(seed, o.iterations - o.iterations / 2, start + 2 * half);
  std::printf("random seed: %llu inputs; no decoder crashed\n",
              static_cast<unsigned long long>(random));
  return 0;
}

}  // namespace
}  // namespace gofer::testing

int main(int argc, char** argv) { return gofer::testing::Main(argc, argv); }
