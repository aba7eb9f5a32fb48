#pragma once
// The tokenizer of a trained run: the one its training shard names (or the synthetic corpus's),
// or one given by spec that must be the same vocabulary. Used by eval --task and sample.
#include <memory>
#include <string>

#include "io/tokenizer.h"
#include "launch/train_config.h"

namespace pha::launch {

// The tokenizer spec of the run's training data ("synthetic", "byte"); refuses a BPE shard
// (its identity is a hash, not a path) or a missing shard: then --tokenizer must be given.
std::string run_tokenizer_spec(const TrainConfig& cfg);

struct RunTokenizer {
  std::string spec;
  std::unique_ptr<io::Tokenizer> tokenizer;
};

// `spec` (empty: the run's own, from run_tokenizer_spec). Refuses a tokenizer whose identity is
// not the one the run trained with, when the run's shard (or the synthetic corpus) says which.
RunTokenizer run_tokenizer(const TrainConfig& cfg, const std::string& spec);

}  // namespace pha::launch
