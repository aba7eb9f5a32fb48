#include "launch/evaluator.h"

#include <cmath>
#include <span>

#include "io/synthetic_corpus.h"

namespace pha::launch {

using parallel::ReduceOp;

void score_recall(Model& model, Distributed& dist, int slot, const int32_t* tokens,
                  int64_t& answers, int64_t& correct) {
  const int64_t B = model.batch(), T = model.seq_len();
  const std::vector<int32_t>& predicted = model.predictions(slot);
  if (dist.tp_rank() != 0) return;
  // The whole sequences' predictions, -2 at the positions other cp ranks hold: the answer at
  // position t is scored by the rank holding position t - 1 (the prediction of token t).
  constexpr int32_t elsewhere = -2;
  std::vector<int32_t> sequence_predicted(static_cast<size_t>(B * T), elsewhere);
  const parallel::ContextSplit& cp = model.part().cp;
  for (int64_t r = 0; r < static_cast<int64_t>(predicted.size()); ++r) {
    const auto [b, p] = cp.row_position(r, B, T);
    sequence_predicted[static_cast<size_t>(b * T + p)] = predicted[static_cast<size_t>(r)];
  }
  for (int64_t b = 0; b < B; ++b) {
    const std::vector<uint8_t> mask =
        io::recall_answer_mask(std::span<const int32_t>(tokens + b * T, static_cast<size_t>(T)));
    for (int64_t t = 1; t < T; ++t) {
      const int32_t guess = sequence_predicted[static_cast<size_t>(b * T + t - 1)];
      if (!mask[static_cast<size_t>(t)] || guess == elsewhere) continue;
      ++answers;
      correct += guess == tokens[b * T + t];
    }
  }
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
  recall = recall && dist.last_stage();
  std::vector<int32_t> batch(static_cast<size_t>(B * T));
  double loss_sum = 0;
  int64_t answers = 0, correct = 0;
  for (int64_t i = 0; i < batches; ++i) {
    const int64_t first_window = (i * dp + dist.dp_rank()) * B;
    tokens.copy_to(static_cast<uint64_t>(first_window * T), static_cast<uint64_t>(B * T),
                   batch.data());
    if (!dist.first_stage()) dist.pp.recv(model.stage_input(0), dist.stage() - 1);
    const double loss = model.stage_forward(0, batch.data(), ForwardOptions{.predict = recall});
    if (!dist.last_stage()) dist.pp.send(model.stage_output(0), dist.stage() + 1);
    if (dist.last_stage()) loss_sum += loss;
    if (recall) score_recall(model, dist, 0, batch.data(), answers, correct);
  }
  // The last stage's tp (and cp) rank 0 of every dp rank holds a share of the loss; one world
  // sum spreads the total (every cp rank returns the same loss). Recall counts are each rank's
  // own (score_recall counts on tp rank 0 only, each cp rank its positions).
  const bool reporter = dist.last_stage() && dist.tp_rank() == 0 && dist.cp_rank() == 0;
  EvalResult r;
  r.windows = batches * B * dp;
  r.loss = dist.world.all_reduce_scalar(reporter ? loss_sum : 0.0, ReduceOp::sum) /
           static_cast<double>(batches * dp);
  r.perplexity = std::exp(r.loss);
  r.recall_answers = dist.world.all_reduce_scalar(answers, ReduceOp::sum);
  const int64_t all_correct = dist.world.all_reduce_scalar(correct, ReduceOp::sum);
  r.recall_accuracy = r.recall_answers
                          ? static_cast<double>(all_correct) / static_cast<double>(r.recall_answers)
                          : 0;
  return r;
}

}  // namespace pha::launch
