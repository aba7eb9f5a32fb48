#pragma once
// Philox-4x32-10 (Salmon et al., SC'11), counter-based: a value depends only on
// (seed, stream, index), so every backend and every parallel layout draws the same numbers.
#include <cmath>
#include <cstdint>

#include "core/hd.h"

namespace pha {

struct Philox4 {
  uint32_t v[4];
};

PHA_HD void philox_mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t product = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(product >> 32);
  lo = static_cast<uint32_t>(product);
}

// One block: 10 rounds over counter `ctr` with key `key`.
PHA_HD Philox4 philox4x32_10(Philox4 ctr, uint32_t key0, uint32_t key1) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    philox_mulhilo(kMul0, ctr.v[0], hi0, lo0);
    philox_mulhilo(kMul1, ctr.v[2], hi1, lo1);
    ctr = Philox4{{hi1 ^ ctr.v[1] ^ key0, lo1, hi0 ^ ctr.v[3] ^ key1, lo0}};
    key0 += kWeyl0;
    key1 += kWeyl1;
  }
  return ctr;
}

// The block for element `index` of stream `stream` under `seed`.
PHA_HD Philox4 philox_block(uint64_t seed, uint64_t stream, uint64_t index) {
  return philox4x32_10(
      Philox4{{static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32),
               static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)}},
      static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// Uniform in (0, 1): 32 random bits, offset by half a step so 0 never occurs (log is safe).
PHA_HD double philox_u32_to_unit(uint32_t bits) {
  return (bits + 0.5) * (1.0 / 4294967296.0);
}

PHA_HD double philox_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
  return philox_u32_to_unit(philox_block(seed, stream, index).v[0]);
}

// Standard normal by Box-Muller from the first two words of the element's block.
PHA_HD double philox_normal(uint64_t seed, uint64_t stream, uint64_t index) {
  const Philox4 r = philox_block(seed, stream, index);
  const double u1 = philox_u32_to_unit(r.v[0]);
  const double u2 = philox_u32_to_unit(r.v[1]);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

// A stream id from a name (FNV-1a, 64 bit): parameters draw from stream_of(their name).
inline uint64_t stream_of(const char* name) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const char* p = name; *p; ++p) {
    h ^= static_cast<unsigned char>(*p);
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace pha
