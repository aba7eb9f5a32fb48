#include "launch/evaluator.h"

#include <cmath>
#include <span>

#include "io/batch_sampler.h"
#include "io/synthetic_corpus.h"

namespace pha::launch {

void score_recall(Model& model, const std::vector<int32_t>& tokens, int64_t& answers,
                  int64_t& correct) {
  const int64_t B = model.batch(), T = model.seq_len(), V = model.config().vocab_padded();
  std::vector<float> logits(static_cast<size_t>(model.logits().numel()));
  model.backend().copy_to_host(model.logits(), logits.data());
  io::RecallScore score;
  std::vector<int32_t> predicted(static_cast<size_t>(T));
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < T; ++t) {
      const float* row = &logits[static_cast<size_t>((b * T + t) * V)];
      predicted[static_cast<size_t>(t)] =
          static_cast<int32_t>(std::max_element(row, row + V) - row);
    }
    score.add(std::span<const int32_t>(&tokens[static_cast<size_t>(b * T)], static_cast<size_t>(T)),
              predicted);
  }
  answers += static_cast<int64_t>(score.answers);
  correct += static_cast<int64_t>(score.correct);
}

EvalResult evaluate(Model& model, const io::TokenView& tokens, int64_t max_batches,
                    bool recall) {
  const int64_t B = model.batch(), T = model.seq_len();
  const int64_t windows = static_cast<int64_t>(tokens.size) / T;
  PHA_REQUIRE(windows >= B,
              "the validation data holds {} windows of {} tokens, fewer than one batch of {}: "
              "use more validation data or a smaller batch",
              windows, T, B);
  int64_t batches = windows / B;
  if (max_batches > 0) batches = std::min(batches, max_batches);
  std::vector<int32_t> batch(static_cast<size_t>(B * T));
  EvalResult r;
  int64_t correct = 0;
  double loss_sum = 0;
  for (int64_t i = 0; i < batches; ++i) {
    tokens.copy_to(static_cast<uint64_t>(i * B * T), static_cast<uint64_t>(B * T), batch.data());
    loss_sum += model.forward(batch.data());
    if (recall) score_recall(model, batch, r.recall_answers, correct);
  }
  r.windows = batches * B;
  r.loss = loss_sum / static_cast<double>(batches);
  r.perplexity = std::exp(r.loss);
  r.recall_accuracy =
      r.recall_answers ? static_cast<double>(correct) / static_cast<double>(r.recall_answers) : 0;
  return r;
}

}  // namespace pha::launch
