#include "permutation.h"

#include <array>
#include <cstddef>
#include <utility>

namespace differnet {

namespace {

// MT19937 as numpy's mt19937_seed / mt19937_next32 (the reference algorithm of Matsumoto & Nishimura).
class Mt19937 {
 public:
  explicit Mt19937(uint32_t seed) {
    state_[0] = seed;
    for (int i = 1; i < kN; ++i)
      state_[i] = 1812433253u * (state_[i - 1] ^ (state_[i - 1] >> 30)) + static_cast<uint32_t>(i);
    pos_ = kN;
  }
  uint32_t next32() {
    if (pos_ >= kN) generate();
    uint32_t y = state_[pos_++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
  }
  uint64_t next64() {  // numpy: high word first
    uint64_t hi = next32();
    return (hi << 32) | next32();
  }

 private:
  static constexpr int kN = 624, kM = 397;
  void generate() {
    for (int i = 0; i < kN; ++i) {
      uint32_t y = (state_[i] & 0x80000000u) | (state_[(i + 1) % kN] & 0x7fffffffu);
      state_[i] = state_[(i + kM) % kN] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
    pos_ = 0;
  }
  std::array<uint32_t, kN> state_{};
  int pos_;
};

// numpy's legacy random_interval: rejection sampling on a bit mask.
uint64_t random_interval(Mt19937& rng, uint64_t max) {
  if (max == 0) return 0;
  uint64_t mask = max;
  for (int shift = 1; shift <= 32; shift <<= 1) mask |= mask >> shift;
  uint64_t value;
  if (max <= 0xffffffffull) {
    while ((value = (rng.next32() & mask)) > max) {
    }
  } else {
    while ((value = (rng.next64() & mask)) > max) {
    }
  }
  return value;
}

}  // namespace

std::vector<int64_t> numpy_legacy_permutation(uint32_t seed, int64_t n) {
  std::vector<int64_t> perm(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) perm[i] = i;
  Mt19937 rng(seed);
  for (int64_t i = n - 1; i >= 1; --i) std::swap(perm[i], perm[random_interval(rng, static_cast<uint64_t>(i))]);
  return perm;
}

}  // namespace differnet
