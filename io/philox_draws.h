#pragma once
// Sequential random draws from one Philox stream: draw k of (seed, stream) is word k % 4 of block
// k / 4, so a sequence of choices depends only on (seed, stream) and the order of the draws.
#include <cstdint>

#include "core/philox.h"

namespace pha::io {

class PhiloxDraws {
 public:
  PhiloxDraws(uint64_t seed, uint64_t stream) : seed_(seed), stream_(stream) {}

  uint32_t next_u32() {
    if (draw_ % 4 == 0) block_ = philox_block(seed_, stream_, draw_ / 4);
    return block_.v[draw_++ % 4];
  }
  // Uniform in [0, n) by multiply-shift (bias below n / 2^32, far below what the corpus can show).
  uint32_t below(uint32_t n) { return static_cast<uint32_t>((uint64_t{next_u32()} * n) >> 32); }
  // Uniform in [lo, hi].
  uint32_t between(uint32_t lo, uint32_t hi) { return lo + below(hi - lo + 1); }
  bool chance(double p) { return philox_u32_to_unit(next_u32()) < p; }

 private:
  uint64_t seed_, stream_, draw_ = 0;
  Philox4 block_{};
};

}  // namespace pha::io
