#pragma once
// The data of a study, prepared once per tokenizer under STUDY_DIR/data/<tokenizer>/: the BPE
// (trained on the training text), the training shard of the `train` files and the evaluation
// shard of the `eval` files (whole files, no split), each made by `pha data`'s own code.
#include <cstdint>
#include <string>

#include "launch/study_spec.h"

namespace pha::launch {

struct StudyData {
  std::string tokenizer_spec;  // byte | bpe:DIR, for pha data and messages
  std::string train_shard, eval_shard;
  int64_t vocab = 0;
  uint64_t train_tokens = 0, eval_tokens = 0;
  uint64_t train_bytes = 0, eval_bytes = 0;  // text bytes the shards were made from
  double train_bytes_per_token() const { return double(train_bytes) / double(train_tokens); }
  double eval_bytes_per_token() const { return double(eval_bytes) / double(eval_tokens); }
};

// Makes what is missing (prints what it does) and returns the data of `tok`. Refuses data that
// was prepared from other files (their names and sizes are recorded beside the shards).
StudyData prepare_study_data(const StudySpec& spec, const StudyTokenizer& tok);

// Text bytes that the targets of `windows` evaluation windows of `seq_len` tokens stand for:
// tokens 1..T-1 of each window (the positions the loss scores), decoded; an end-of-text token
// counts 0 bytes. Bits per byte = loss x windows x (T - 1) / (ln 2 x these bytes).
uint64_t eval_target_bytes(const StudyData& data, int64_t seq_len, int64_t windows);

}  // namespace pha::launch
