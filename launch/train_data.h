#pragma once
// The token streams a run trains and evaluates on: mapped shards, or the built-in synthetic corpus
// generated in memory from the run's seed.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/batch_sampler.h"
#include "io/synthetic_corpus.h"
#include "io/token_shard.h"
#include "launch/train_config.h"

namespace pha::launch {

// The built-in corpus's options from the [data] keys.
io::SyntheticOptions synthetic_options(const DataSettings& data);

class TokenStream {
 public:
  // `source` is a shard path or "synthetic" (then `split` and `synthetic_tokens` choose the part).
  // Refuses a shard whose vocabulary exceeds `model_vocab`, naming the file and both sizes.
  TokenStream(const std::string& source, const std::string& split, uint64_t seed,
              int64_t synthetic_tokens, int64_t model_vocab, io::SyntheticOptions options = {});
  io::TokenView view() const;
  const std::string& description() const { return description_; }
  // True for the built-in corpus: its recall answers can be scored.
  bool synthetic() const { return !shard_; }

 private:
  std::optional<io::TokenShard> shard_;
  std::vector<uint32_t> generated_;
  uint32_t vocab_ = 0;
  std::string description_;
};

}  // namespace pha::launch
