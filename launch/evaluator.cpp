#include "launch/evaluator.h"

#include <cmath>
#include <span>

#include "io/synthetic_corpus.h"

namespace pha::launch {

using parallel::ReduceOp;

void score_recall(Model& model, int slot, const int32_t* tokens, int64_t& answers,
                  int64_t& correct) {
  const int64_t B = model.batch(), T = model.seq_len(), V = model.logits(slot).dim(1);
  const std::vector<float> logits = model.backend().to_host_f32(model.logits(slot));
  io::RecallScore score;
  std::vector<int32_t> predicted(static_cast<size_t>(T));
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < T; ++t) {
      const float* row = &logits[static_cast<size_t>((b * T + t) * V)];
      predicted[static_cast<size_t>(t)] =
          static_cast<int32_t>(std::max_element(row, row + V) - row);
    }
    score.add(std::span<const int32_t>(tokens + b * T, static_cast<size_t>(T)), predicted);
  }
  answers += static_cast<int64_t>(score.answers);
  correct += static_cast<int64_t>(score.correct);
}

EvalResult evaluate(Model& model, Distributed& dist, const io::TokenView& tokens,
                    int64_t max_batches, bool recall) {
  const int64_t B = model.batch(), T = model.seq_len();
  const int dp = dist.grid.layout().dp;
  const int64_t windows = static_cast<int64_t>(tokens.size) / T;
  PHA_REQUIRE(windows >= B * dp,
              "the validation data holds {} windows of {} tokens, fewer than one batch of {} per "
              "data-parallel rank: use more validation data or a smaller batch",
              windows, T, B * dp);
  int64_t batches = windows / (B * dp);
  if (max_batches > 0) batches = std::min(batches, max_batches);
  // Recall reads whole rows of logits in sequence order: one tp rank and one cp rank.
  recall = recall && dist.last_stage() && dist.grid.layout().tp == 1 && dist.grid.layout().cp == 1;
  std::vector<int32_t> batch(static_cast<size_t>(B * T));
  double loss_sum = 0;
  int64_t answers = 0, correct = 0;
  for (int64_t i = 0; i < batches; ++i) {
    const int64_t first_window = (i * dp + dist.dp_rank()) * B;
    tokens.copy_to(static_cast<uint64_t>(first_window * T), static_cast<uint64_t>(B * T),
                   batch.data());
    if (!dist.first_stage()) dist.pp.recv(model.stage_input(0), dist.stage() - 1);
    const double loss = model.stage_forward(0, batch.data());
    if (!dist.last_stage()) dist.pp.send(model.stage_output(0), dist.stage() + 1);
    if (dist.last_stage()) loss_sum += loss;
    if (recall) score_recall(model, 0, batch.data(), answers, correct);
  }
  // The last stage's tp (and cp) rank 0 of every dp rank holds a share; one world sum spreads
  // the total (every cp rank returns the same loss).
  const bool reporter = dist.last_stage() && dist.tp_rank() == 0 && dist.cp_rank() == 0;
  EvalResult r;
  r.windows = batches * B * dp;
  r.loss = dist.world.all_reduce_scalar(reporter ? loss_sum : 0.0, ReduceOp::sum) /
           static_cast<double>(batches * dp);
  r.perplexity = std::exp(r.loss);
  r.recall_answers = dist.world.all_reduce_scalar(reporter ? answers : int64_t{0}, ReduceOp::sum);
  const int64_t all_correct =
      dist.world.all_reduce_scalar(reporter ? correct : int64_t{0}, ReduceOp::sum);
  r.recall_accuracy = r.recall_answers
                          ? static_cast<double>(all_correct) / static_cast<double>(r.recall_answers)
                          : 0;
  return r;
}

}  // namespace pha::launch
