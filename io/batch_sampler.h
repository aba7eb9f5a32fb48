#pragma once
// The global order of training sequences. The token stream is cut into non-overlapping windows of
// seq_len tokens (window w = tokens [w * seq_len, (w + 1) * seq_len); a tail shorter than a window
// is unused). Epoch e visits every window once, in the order of a seeded permutation of the
// windows (a Feistel network keyed by Philox(seed, epoch), cycle-walked onto [0, windows)).
// Global sample s is window perm_{s / W}(s % W), W = windows per epoch. A global batch is the
// samples [first, first + global_batch); data-parallel rank r of d takes the contiguous slice
// [first + r * global_batch / d, first + (r + 1) * global_batch / d). The position that
// checkpoints store is the next global sample index, so any layout resumes on the same samples.
#include <cstdint>

#include "io/token_shard.h"

namespace pha::io {

// The samples of one data-parallel rank in a global batch.
struct SampleRange {
  uint64_t first, count;
};

// Rank `dp_rank` of `dp_size`'s slice of the global batch that starts at `first_sample`. Refuses a
// global batch that dp_size does not divide.
SampleRange dp_slice(uint64_t first_sample, uint64_t global_batch, int dp_rank, int dp_size);

class BatchSampler {
 public:
  // `tokens` must outlive the sampler. Refuses a stream shorter than one window.
  BatchSampler(TokenView tokens, uint64_t seq_len, uint64_t seed);

  uint64_t seq_len() const { return seq_len_; }
  uint64_t windows_per_epoch() const { return windows_; }
  uint64_t epoch_of(uint64_t sample) const { return sample / windows_; }
  // The window that global sample `sample` reads.
  uint64_t window_of(uint64_t sample) const;

  // The seq_len tokens of a window (unshuffled: validation walks windows 0, 1, 2, ...).
  void copy_window(uint64_t window, int32_t* out) const;
  // The seq_len tokens of global sample `sample`.
  void copy_sample(uint64_t sample, int32_t* out) const { copy_window(window_of(sample), out); }
  // This rank's [count, seq_len] slice of the global batch starting at `first_sample`, row-major.
  void fill_local_batch(uint64_t first_sample, uint64_t global_batch, int dp_rank, int dp_size,
                        int32_t* out) const;

 private:
  uint64_t permute(uint64_t epoch, uint64_t slot) const;
  TokenView tokens_;
  uint64_t seq_len_, seed_, windows_;
  int half_bits_;  // the Feistel network permutes 2 * half_bits_ bits
};

}  // namespace pha::io
