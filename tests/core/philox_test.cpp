// Philox-4x32-10 against the published known-answer vectors (Random123's kat_vectors), and the
// properties the rest of pha relies on: determinism by (seed, stream, index), sane distributions.
#include "core/philox.h"

#include <gtest/gtest.h>

#include <cmath>

namespace pha {
namespace {

struct Kat {
  Philox4 ctr;
  uint32_t key0, key1;
  Philox4 expected;
};

TEST(Philox, KnownAnswerVectors) {
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}}},
      {{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}},
       0xffffffffu,
       0xffffffffu,
       {{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}}},
      {{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}},
       0xa4093822u,
       0x299f31d0u,
       {{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}}},
  };
  for (const auto& k : kats) {
    const Philox4 got = philox4x32_10(k.ctr, k.key0, k.key1);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(got.v[i], k.expected.v[i]) << "word " << i;
  }
}

TEST(Philox, DependsOnlyOnSeedStreamIndex) {
  EXPECT_EQ(philox_normal(42, 7, 1000), philox_normal(42, 7, 1000));
  EXPECT_NE(philox_normal(42, 7, 1000), philox_normal(42, 7, 1001));
  EXPECT_NE(philox_normal(42, 7, 1000), philox_normal(42, 8, 1000));
  EXPECT_NE(philox_normal(42, 7, 1000), philox_normal(43, 7, 1000));
  EXPECT_NE(stream_of("layers.0.attn.wq"), stream_of("layers.0.attn.wk"));
}

TEST(Philox, UniformAndNormalMoments) {
  const int n = 200000;
  double su = 0, sn = 0, sn2 = 0, umin = 1, umax = 0;
  for (int i = 0; i < n; ++i) {
    const double u = philox_uniform(5, 3, static_cast<uint64_t>(i));
    const double z = philox_normal(5, 3, static_cast<uint64_t>(i));
    su += u;
    sn += z;
    sn2 += z * z;
    umin = std::min(umin, u);
    umax = std::max(umax, u);
  }
  EXPECT_GT(umin, 0.0);
  EXPECT_LT(umax, 1.0);
  EXPECT_NEAR(su / n, 0.5, 0.005);
  EXPECT_NEAR(sn / n, 0.0, 0.01);
  EXPECT_NEAR(sn2 / n, 1.0, 0.01);
}

}  // namespace
}  // namespace pha
