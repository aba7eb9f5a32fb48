#pragma once
// Validation: mean loss and perplexity over non-overlapping windows of a token stream, and the
// recall accuracy at the recall-answer positions of the built-in corpus. Runs on any layout:
// windows are dealt to dp ranks, activations flow through the pipeline stages forward only, and
// every rank returns the same global result.
#include "io/token_shard.h"
#include "launch/distributed.h"

namespace pha::launch {

struct EvalResult {
  double loss = 0, perplexity = 0;
  int64_t windows = 0;  // sequences evaluated (all dp ranks)
  int64_t recall_answers = 0;
  double recall_accuracy = 0;  // meaningful when recall_answers > 0
};

// Evaluates windows 0, 1, 2, ... of `tokens` in micro-batches of the model's shape, at most
// `max_batches` global batches of dp micro-batches (0 = every whole global batch the stream holds).
EvalResult evaluate(Model& model, Distributed& dist, const io::TokenView& tokens,
                    int64_t max_batches, bool score_recall);

// Adds the recall answers predicted by the last forward of `slot` (run with
// ForwardOptions::predict: the argmax of its logits over the whole vocabulary) to the counts:
// those at this rank's positions (under cp, the answers whose preceding position it holds). Only
// tp rank 0 counts, so a sum over all ranks counts each answer once. `tokens`: the whole
// micro-batch [B, T].
void score_recall(Model& model, Distributed& dist, int slot, const int32_t* tokens,
                  int64_t& answers, int64_t& correct);

}  // namespace pha::launch
