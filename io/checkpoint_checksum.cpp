#include "io/checkpoint_checksum.h"

#include <fmt/format.h>

#include <cstring>

#include "core/error.h"

namespace pha::ckpt {

namespace {

constexpr const char* kAlgorithm = "idxsum64:";
constexpr const char* kLegacyAlgorithm = "fnv1a64:";

inline uint64_t fmix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

// Terms of n consecutive elements whose first global index is `first`. A plain loop so the
// compiler vectorises it (64-bit lanes).
uint64_t run_sum(const float* values, int64_t n, uint64_t first) {
  uint64_t sum = 0;
  for (int64_t j = 0; j < n; ++j) {
    uint32_t bits;
    std::memcpy(&bits, values + j, sizeof bits);
    sum += fmix64(((first + static_cast<uint64_t>(j)) << 32) | bits);
  }
  return sum;
}

std::string fnv1a64_text(const std::vector<float>& values) {
  uint64_t h = 0xcbf29ce484222325ull;
  const auto* bytes = reinterpret_cast<const unsigned char*>(values.data());
  for (size_t i = 0; i < values.size() * sizeof(float); ++i) {
    h ^= bytes[i];
    h *= 0x100000001b3ull;
  }
  return fmt::format("{}{:016x}", kLegacyAlgorithm, h);
}

}  // namespace

uint64_t partial_checksum(const float* block_values, const Shape& block, const Shape& global,
                          int dim, int64_t offset) {
  PHA_REQUIRE(global.numel() <= (int64_t{1} << 32),
              "a checkpoint dataset of shape {} has more than 2^32 elements, which the checksum "
              "does not cover: split the tensor",
              global.str());
  if (dim < 0) return run_sum(block_values, block.numel(), 0);
  // The block is `outer` runs of `run` contiguous elements; run r starts in the global order at
  // r * global[dim] * inner + offset * inner.
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < dim; ++i) outer *= block[i];
  for (int i = dim + 1; i < block.rank; ++i) inner *= block[i];
  const int64_t run = block[dim] * inner;
  uint64_t sum = 0;
  for (int64_t r = 0; r < outer; ++r)
    sum += run_sum(block_values + r * run, run,
                   static_cast<uint64_t>(r * global[dim] * inner + offset * inner));
  return sum;
}

std::string checksum_text(uint64_t sum) {
  return fmt::format("{}{:016x}", kAlgorithm, sum);
}

std::string checksum_problem(const std::string& attribute, const std::vector<float>& values) {
  std::string expected;
  if (attribute.rfind(kAlgorithm, 0) == 0) {
    const Shape whole{static_cast<int64_t>(values.size())};
    expected = checksum_text(partial_checksum(values.data(), whole, whole, -1, 0));
  } else if (attribute.rfind(kLegacyAlgorithm, 0) == 0) {
    expected = fnv1a64_text(values);
  } else {
    return fmt::format("unknown checksum '{}' (this pha knows idxsum64 and fnv1a64)", attribute);
  }
  if (attribute != expected) return "checksum mismatch: the data changed after it was written";
  return "";
}

}  // namespace pha::ckpt
