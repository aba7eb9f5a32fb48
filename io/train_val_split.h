#pragma once
// Splits a token stream into a training and a validation shard, evenly along the stream: of every
// period of 2^20 tokens, the last round(fraction * period) go to validation and the rest to
// training; a final shorter period is split the same way (validation gets at least one token when
// the fraction is positive). Deterministic, and the validation text is spread over the whole
// corpus.
#include <cstdint>
#include <span>
#include <vector>

#include "io/token_shard.h"

namespace pha::io {

class TrainValSplitter {
 public:
  static constexpr uint64_t kPeriod = uint64_t{1} << 20;
  // `val` may be null when `val_fraction` is 0.
  TrainValSplitter(TokenShardWriter& train, TokenShardWriter* val, double val_fraction);
  void add(std::span<const uint32_t> tokens);
  // Writes what is buffered; the writers are then closed by the caller.
  void finish();

 private:
  void split_buffer();
  TokenShardWriter& train_;
  TokenShardWriter* val_;
  double val_fraction_;
  std::vector<uint32_t> buffer_;
};

}  // namespace pha::io
