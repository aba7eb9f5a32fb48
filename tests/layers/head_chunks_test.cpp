// The head in chunks (ModelPart::head_chunk_rows; layers/head.h): a forward that takes the loss's
// gradient chunk by chunk gives the loss and every gradient of the whole-logits head (f64, chunks
// of 5, 7 and more rows than the batch has, the last chunk partial; tied and untied, two
// micro-batches in flight as 1F1B runs them), the same predictions, keeps no [B*T, V] logits, and
// refuses what it cannot do: a backward after a forward that did not take the gradient, logits().
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/cpu/cpu_backend.h"
#include "layers/model.h"
#include "tests/model_test_util.h"
#include "tests/test_util.h"

namespace pha {
namespace {

constexpr int64_t kBatch = 2, kSeq = 13;  // 26 rows: chunks of 5 and 7 leave partial ones

ModelConfig odd_config(bool tied) {
  ModelConfig c;
  c.d = 20;
  c.n_q = 4;
  c.n_kv = 2;
  c.d_h = 6;
  c.d_ff = 26;
  c.gss_f = 14;
  c.gss_h = 7;
  c.dss_n = 5;
  c.n_layers = 2;
  c.vocab = 37;
  c.max_seq_len = kSeq;
  c.tie_embeddings = tied;
  return c;
}

struct Outcome {
  double loss[2] = {0, 0};
  std::vector<double> grads;
  std::vector<int32_t> predictions[2];
  size_t activation_bytes = 0;
};

Outcome run(const ModelConfig& cfg, int64_t chunk_rows) {
  CpuBackend be;
  ModelPart part;
  part.slots = 2;
  part.head_chunk_rows = chunk_rows;
  Model model(be, cfg, kBatch, kSeq, DType::f64, part);
  model.init_parameters(11);
  test::randomize_parameters<double>(be, model, 3);
  const auto t0 = test::random_tokens({kBatch * kSeq}, static_cast<int32_t>(cfg.vocab), 21);
  const auto t1 = test::random_tokens({kBatch * kSeq}, static_cast<int32_t>(cfg.vocab), 22);
  const ForwardOptions train{.head_gradient = true, .predict = true};
  model.zero_grads();
  Outcome o;
  o.loss[0] = model.stage_forward(0, t0.data.data(), train);
  o.loss[1] = model.stage_forward(1, t1.data.data(), train);
  o.predictions[0] = model.predictions(0);
  o.predictions[1] = model.predictions(1);
  model.stage_backward(1);
  model.stage_backward(0);
  const Arena& g = model.grads();
  o.grads.resize(g.bytes() / sizeof(double));
  be.copy_to_host(
      Tensor(g.base(), DType::f64, Device::cpu, Shape{static_cast<int64_t>(o.grads.size())}),
      o.grads.data());
  o.activation_bytes = model.memory().activation_bytes;
  return o;
}

void expect_same_as_whole(bool tied) {
  const ModelConfig cfg = odd_config(tied);
  const Outcome whole = run(cfg, 0);
  double largest = 0;
  for (double g : whole.grads) largest = std::max(largest, std::abs(g));
  ASSERT_GT(largest, 0.0);
  for (int64_t chunk : {5, 7, 1000}) {
    const Outcome got = run(cfg, chunk);
    for (int m = 0; m < 2; ++m) {
      EXPECT_NEAR(got.loss[m], whole.loss[m], 1e-13 * std::abs(whole.loss[m]))
          << "chunks of " << chunk << ", micro-batch " << m;
      EXPECT_EQ(got.predictions[m], whole.predictions[m]) << "chunks of " << chunk;
      EXPECT_EQ(got.predictions[m].size(), static_cast<size_t>(kBatch * kSeq));
    }
    ASSERT_EQ(got.grads.size(), whole.grads.size());
    double worst = 0;
    for (size_t i = 0; i < got.grads.size(); ++i)
      worst = std::max(worst, std::abs(got.grads[i] - whole.grads[i]));
    EXPECT_LE(worst, 1e-13 * largest) << "chunks of " << chunk << ": gradients differ by " << worst
                                      << " (largest gradient " << largest << ")";
    // Two slots of [26, 40] f64 logits are no longer kept; d_y [26, 20] per slot is.
    EXPECT_LT(got.activation_bytes, whole.activation_bytes) << "chunks of " << chunk;
  }
}

TEST(HeadChunks, SameLossGradientsAndPredictionsAsWholeTied) {
  expect_same_as_whole(true);
}
TEST(HeadChunks, SameLossGradientsAndPredictionsAsWholeUntied) {
  expect_same_as_whole(false);
}

TEST(HeadChunks, RefusesBackwardWithoutTheForwardsGradientAndLogits) {
  CpuBackend be;
  ModelPart part;
  part.head_chunk_rows = 5;
  const ModelConfig cfg = odd_config(true);
  Model model(be, cfg, kBatch, kSeq, DType::f32, part);
  model.init_parameters(1);
  const auto tokens = test::random_tokens({kBatch * kSeq}, static_cast<int32_t>(cfg.vocab), 2);
  model.zero_grads();
  const double loss = model.forward(tokens.data.data());  // evaluation: no gradient
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_THROW(model.backward(), Error);
  EXPECT_THROW(model.logits(), Error);
  // The same loss with the gradient taken, and then a backward is fine (once).
  EXPECT_EQ(model.forward(tokens.data.data(), {.head_gradient = true}), loss);
  EXPECT_NO_THROW(model.backward());
  EXPECT_THROW(model.backward(), Error);
}

}  // namespace
}  // namespace pha
