// The checkpoint checksum (io/checkpoint_checksum.h): the sum of the partial checksums of the
// blocks of any layout equals the whole dataset's, computed here again from the documented
// definition; it moves with a changed value and with values in the wrong place; the older
// fnv1a64 attributes still verify.
#include "io/checkpoint_checksum.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

namespace pha::ckpt {
namespace {

// docs/checkpoint-format.md, element by element over the global row-major order.
uint64_t documented(const std::vector<float>& values) {
  uint64_t sum = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &values[i], 4);
    uint64_t x = (static_cast<uint64_t>(i) << 32) | bits;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    sum += x;
  }
  return sum;
}

std::vector<float> random_values(size_t n) {
  std::mt19937 rng(7);
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// Block [.., offset:offset+len along dim, ..] of a row-major [d0, d1, d2] tensor.
std::vector<float> block_of(const std::vector<float>& g, const Shape& s, int dim, int64_t offset,
                            int64_t len) {
  std::vector<float> out;
  for (int64_t a = 0; a < s[0]; ++a)
    for (int64_t b = 0; b < s[1]; ++b)
      for (int64_t c = 0; c < s[2]; ++c) {
        const int64_t at[3] = {a, b, c};
        if (at[dim] >= offset && at[dim] < offset + len)
          out.push_back(g[static_cast<size_t>((a * s[1] + b) * s[2] + c)]);
      }
  return out;
}

TEST(CheckpointChecksum, BlocksOfAnyLayoutSumToTheWholeDataset) {
  const Shape global{7, 10, 3};
  const auto values = random_values(static_cast<size_t>(global.numel()));
  const uint64_t whole = documented(values);
  EXPECT_EQ(partial_checksum(values.data(), global, global, -1, 0), whole);
  EXPECT_EQ(checksum_text(whole), fmt::format("idxsum64:{:016x}", whole));
  for (int dim = 0; dim < 3; ++dim)
    for (int64_t parts : {2, 3}) {
      uint64_t sum = 0;
      for (int64_t offset = 0; offset < global[dim];) {
        const int64_t len =
            std::min<int64_t>((global[dim] + parts - 1) / parts, global[dim] - offset);
        Shape block = global;
        block.dims[static_cast<size_t>(dim)] = len;
        const auto b = block_of(values, global, dim, offset, len);
        sum += partial_checksum(b.data(), block, global, dim, offset);
        offset += len;
      }
      EXPECT_EQ(sum, whole) << "dim " << dim << ", " << parts << " parts";
    }
}

TEST(CheckpointChecksum, SeesAChangedValueAndValuesInTheWrongPlace) {
  const auto values = random_values(1001);
  const std::string attribute = checksum_text(documented(values));
  EXPECT_EQ(checksum_problem(attribute, values), "");
  auto changed = values;
  changed[500] = std::nextafter(changed[500], 1e9f);  // one ulp
  EXPECT_NE(checksum_problem(attribute, changed).find("checksum mismatch"), std::string::npos);
  auto swapped = values;
  std::swap(swapped[3], swapped[900]);
  EXPECT_NE(checksum_problem(attribute, swapped).find("checksum mismatch"), std::string::npos);
  EXPECT_NE(checksum_problem("md5:0", values).find("unknown checksum"), std::string::npos);
}

TEST(CheckpointChecksum, OlderFnv1a64AttributesStillVerify) {
  const std::vector<float> values{1.5f, -2.25f, 3.0f};
  uint64_t h = 0xcbf29ce484222325ull;
  const auto* bytes = reinterpret_cast<const unsigned char*>(values.data());
  for (size_t i = 0; i < values.size() * 4; ++i) h = (h ^ bytes[i]) * 0x100000001b3ull;
  const std::string attribute = fmt::format("fnv1a64:{:016x}", h);
  EXPECT_EQ(checksum_problem(attribute, values), "");
  EXPECT_NE(checksum_problem(attribute, {1.5f, -2.25f, 3.5f}), "");
}

}  // namespace
}  // namespace pha::ckpt
