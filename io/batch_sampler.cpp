#include "io/batch_sampler.h"

#include "core/error.h"
#include "core/philox.h"

namespace pha::io {
namespace {

constexpr int kFeistelRounds = 6;

}  // namespace

SampleRange dp_slice(uint64_t first_sample, uint64_t global_batch, int dp_rank, int dp_size) {
  PHA_REQUIRE(dp_size >= 1 && dp_rank >= 0 && dp_rank < dp_size,
              "data-parallel rank {} is outside 0..{}", dp_rank, dp_size - 1);
  PHA_REQUIRE(global_batch > 0 && global_batch % dp_size == 0,
              "the global batch of {} sequences does not split evenly over {} data-parallel ranks",
              global_batch, dp_size);
  const uint64_t local = global_batch / dp_size;
  return {first_sample + dp_rank * local, local};
}

BatchSampler::BatchSampler(TokenView tokens, uint64_t seq_len, uint64_t seed)
    : tokens_(tokens), seq_len_(seq_len), seed_(seed) {
  PHA_REQUIRE(seq_len > 0, "the sequence length must be positive");
  windows_ = tokens.size / seq_len;
  PHA_REQUIRE(windows_ > 0, "the data holds {} tokens, fewer than one sequence of {}", tokens.size,
              seq_len);
  int bits = 1;
  while ((uint64_t{1} << bits) < windows_) ++bits;
  half_bits_ = (bits + 1) / 2;
}

// A bijection of [0, 4^half_bits) (balanced Feistel network whose round function is Philox keyed
// by the seed, stream = epoch), cycle-walked until it lands in [0, windows): still a bijection of
// [0, windows), and each step of the walk is taken with probability below 3/4.
uint64_t BatchSampler::permute(uint64_t epoch, uint64_t slot) const {
  const uint64_t mask = (uint64_t{1} << half_bits_) - 1;
  const uint64_t stream = stream_of("batch-order") + epoch;
  uint64_t x = slot;
  do {
    uint64_t left = x >> half_bits_, right = x & mask;
    for (int round = 0; round < kFeistelRounds; ++round) {
      const uint64_t f = philox_block(seed_, stream, (uint64_t(round) << 58) | right).v[0];
      const uint64_t next_right = left ^ (f & mask);
      left = right;
      right = next_right;
    }
    x = (left << half_bits_) | right;
  } while (x >= windows_);
  return x;
}

uint64_t BatchSampler::window_of(uint64_t sample) const {
  return permute(sample / windows_, sample % windows_);
}

void BatchSampler::copy_window(uint64_t window, int32_t* out) const {
  PHA_REQUIRE(window < windows_, "window {} requested of {}", window, windows_);
  tokens_.copy_to(window * seq_len_, seq_len_, out);
}

void BatchSampler::fill_local_batch(uint64_t first_sample, uint64_t global_batch, int dp_rank,
                                    int dp_size, int32_t* out) const {
  const SampleRange mine = dp_slice(first_sample, global_batch, dp_rank, dp_size);
  for (uint64_t i = 0; i < mine.count; ++i) copy_sample(mine.first + i, out + i * seq_len_);
}

}  // namespace pha::io
