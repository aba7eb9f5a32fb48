#pragma once
// Multiple-choice scoring: each choice's log-likelihood given its context under a model,
// log p(choice | context) = sum over the choice's tokens c_j of log softmax(logits)[c_j] at the
// position before c_j (all V_pad columns in the softmax, as in the loss). The prediction is the
// argmax of the sum and of the sum per token (length-normalised); ties go to the lower index.
// Context and choice are tokenized separately and concatenated; a sequence longer than the
// model's max_seq_len loses context tokens from the left.
#include <cstdint>
#include <vector>

#include "io/task_file.h"
#include "io/tokenizer.h"
#include "layers/model.h"

namespace pha::launch {

// One context + choice as token ids: tokens[first..] are the choice's.
struct ScoredSequence {
  std::vector<int32_t> tokens;
  size_t first = 0;
  bool truncated = false;
};

struct ItemScores {
  std::vector<double> logprob;  // per choice: the sum over its tokens
  std::vector<int64_t> tokens;  // per choice: its token count
  int64_t pick_sum = 0, pick_per_token = 0;
  bool truncated = false;
};

struct TaskResult {
  std::vector<ItemScores> items;
  int64_t correct_sum = 0, correct_per_token = 0, truncated = 0;
  double accuracy_sum() const { return static_cast<double>(correct_sum) / items.size(); }
  double accuracy_per_token() const {
    return static_cast<double>(correct_per_token) / items.size();
  }
};

// The token sequences of `item` (one per choice), cut to `max_seq_len`. Refuses an empty
// context or choice, a choice longer than max_seq_len - 1 tokens, and ids the model lacks.
std::vector<ScoredSequence> tokenize_item(const io::TaskItem& item, const io::Tokenizer& tokenizer,
                                          int64_t max_seq_len, int64_t vocab,
                                          const std::string& source);

// Log-likelihoods of the choices of up to model.batch() sequences (each at most model.seq_len()
// tokens) in one forward. Needs a whole model on one rank (tp = pp = 1).
std::vector<double> choice_logprobs(Model& model, const std::vector<ScoredSequence>& sequences);

// Scores every item; `model` must have batch >= the most choices of an item and seq_len >= the
// longest sequence (see task_shape).
TaskResult score_task(Model& model, const std::vector<io::TaskItem>& items,
                      const std::vector<std::vector<ScoredSequence>>& sequences);

// The (batch, seq_len) a model needs for `sequences`: the most choices, the longest sequence.
std::pair<int64_t, int64_t> task_shape(const std::vector<std::vector<ScoredSequence>>& sequences);

}  // namespace pha::launch
