#pragma once
// Validation: mean loss and perplexity over non-overlapping windows of a token stream, and the
// recall accuracy at the recall-answer positions of the built-in corpus.
#include "io/token_shard.h"
#include "layers/model.h"

namespace pha::launch {

struct EvalResult {
  double loss = 0, perplexity = 0;
  int64_t windows = 0;      // sequences evaluated
  int64_t recall_answers = 0;
  double recall_accuracy = 0;  // meaningful when recall_answers > 0
};

// Evaluates windows 0, 1, 2, ... of `tokens` in micro-batches of the model's shape; at most
// `max_batches` batches (0 = every whole batch the stream holds). Score recall when `score_recall`.
EvalResult evaluate(Model& model, const io::TokenView& tokens, int64_t max_batches,
                    bool score_recall);

// Scores the last forward's logits at recall positions into `score` (argmax per position).
void score_recall(Model& model, const std::vector<int32_t>& tokens, int64_t& answers,
                  int64_t& correct);

}  // namespace pha::launch
