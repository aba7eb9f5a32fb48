#include "io/train_val_split.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace pha::io {

TrainValSplitter::TrainValSplitter(TokenShardWriter& train, TokenShardWriter* val,
                                   double val_fraction)
    : train_(train), val_(val), val_fraction_(val_fraction) {
  PHA_REQUIRE(val_fraction >= 0 && val_fraction < 1, "the validation fraction {} is not in [0, 1)",
              val_fraction);
  PHA_REQUIRE(val_fraction == 0 || val, "a validation fraction of {} needs a validation shard",
              val_fraction);
  buffer_.reserve(kPeriod);
}

void TrainValSplitter::add(std::span<const uint32_t> tokens) {
  while (!tokens.empty()) {
    const size_t take = std::min<size_t>(tokens.size(), kPeriod - buffer_.size());
    buffer_.insert(buffer_.end(), tokens.begin(), tokens.begin() + take);
    tokens = tokens.subspan(take);
    if (buffer_.size() == kPeriod) split_buffer();
  }
}

void TrainValSplitter::split_buffer() {
  if (buffer_.empty()) return;
  uint64_t n_val = static_cast<uint64_t>(std::llround(val_fraction_ * buffer_.size()));
  if (val_ && val_fraction_ > 0 && val_->token_count() + n_val == 0 && buffer_.size() < kPeriod)
    n_val = 1;  // the last chance for validation to get a token
  n_val = std::min<uint64_t>(n_val, buffer_.size() - 1);  // training keeps at least one token
  const std::span<const uint32_t> all(buffer_);
  train_.append(all.first(buffer_.size() - n_val));
  if (n_val) val_->append(all.last(n_val));
  buffer_.clear();
}

void TrainValSplitter::finish() {
  split_buffer();
}

}  // namespace pha::io
