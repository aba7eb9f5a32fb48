// The head in chunks (ModelPart::head_chunk_rows) under tensor, pipeline, data and context
// parallelism: one training step's loss and every rank's gradients equal the whole-logits head's
// (chunks of 5 rows: several per micro-batch, the last partial; under tp each chunk's row max and
// sums are all-reduced, and the gradient window's ZeRO-2 layout is not involved). Not bit for bit:
// the head weight's gradient is summed chunk by chunk.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include "core/cpu/cpu_backend.h"
#include "launch/pipeline_step.h"
#include "tests/model_test_util.h"
#include "tests/test_util.h"

namespace pha::launch {
namespace {

constexpr int64_t kBatch = 2;

struct Case {
  int dp, tp, pp, micro;
  std::string block;
  int cp = 1;
  int64_t window = 0;  // model.attn_window
  // Odd chunks: 9 positions, or 2 cp chunks of 3 under context parallelism.
  int64_t seq() const { return cp > 1 ? 6 * cp : 9; }
  int ranks() const { return dp * tp * pp * cp; }
};

void PrintTo(const Case& c, std::ostream* out) {
  *out << c.block << " on dp " << c.dp << " x tp " << c.tp << " x pp " << c.pp << " x cp " << c.cp
       << ", " << c.micro << " micro-batches, window " << c.window;
}

ModelConfig model_for(const Case& cs) {
  ModelConfig c = test::sized_model({.d = 32,
                                     .n_q = 4,
                                     .n_kv = 2,
                                     .d_ff = 48,
                                     .gss_f = 24,
                                     .gss_h = 10,
                                     .dss_n = 6,
                                     .n_layers = 4,
                                     .vocab = 90});
  c.max_seq_len = cs.seq();
  c.block = BlockKind::parse(cs.block);
  c.attn_window = cs.window;
  c.tie_embeddings = cs.block != "serial";  // an untied head.weight on one of the layouts
  return c;
}

struct Outcome {
  double loss_sum = 0;
  std::vector<float> grads;
};

Outcome one_step(Distributed& dist, CpuBackend& be, const ModelConfig& cfg, int64_t seq,
                 int64_t head_chunk_rows) {
  ModelPart part = dist.model_part(cfg);
  part.head_chunk_rows = head_chunk_rows;
  Model model(be, cfg, kBatch, seq, DType::f32, part);
  model.init_parameters(5);
  std::vector<std::vector<int32_t>> tokens;
  for (int m = 0; m < dist.n_micro; ++m)
    tokens.push_back(test::random_tokens(Shape{kBatch * seq}, static_cast<int32_t>(cfg.vocab),
                                         40 + static_cast<uint64_t>(dist.dp_rank() * 10 + m))
                         .data);
  model.zero_grads();
  const PipelineResult r = run_pipeline_step(
      model, dist, [&](int m) { return tokens[static_cast<size_t>(m)].data(); }, {});
  Outcome o;
  o.loss_sum = r.loss_sum;
  o.grads.resize(model.grads().bytes() / sizeof(float));
  std::copy_n(static_cast<const float*>(model.grads().base()), o.grads.size(), o.grads.begin());
  return o;
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  std::string block = c.block;
  for (char& ch : block)
    if (ch == '+') ch = '_';
  return block + "_dp" + std::to_string(c.dp) + "_tp" + std::to_string(c.tp) + "_pp" +
         std::to_string(c.pp) + "_cp" + std::to_string(c.cp) + "_micro" + std::to_string(c.micro);
}

class HeadChunksParallel : public ::testing::TestWithParam<Case> {};

TEST_P(HeadChunksParallel, SameLossAndGradientsAsWholeOnEveryRank) {
  const Case c = GetParam();
  int world = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  ASSERT_EQ(world, c.ranks()) << "run this binary on " << c.ranks() << " ranks";
  CpuBackend be;
  const ModelConfig cfg = model_for(c);
  Distributed dist(parallel::Layout{c.dp, c.tp, c.pp, c.cp}, cfg, c.micro, 60, &be);
  const Outcome whole = one_step(dist, be, cfg, c.seq(), 0);
  const Outcome got = one_step(dist, be, cfg, c.seq(), 5);
  EXPECT_NEAR(got.loss_sum, whole.loss_sum, 1e-6 * std::max(1.0, std::abs(whole.loss_sum)));
  ASSERT_EQ(got.grads.size(), whole.grads.size());
  float largest = 0, worst = 0;
  for (size_t i = 0; i < got.grads.size(); ++i) {
    largest = std::max(largest, std::abs(whole.grads[i]));
    worst = std::max(worst, std::abs(got.grads[i] - whole.grads[i]));
  }
  ASSERT_GT(largest, 0.0f);
  EXPECT_LE(worst, 1e-5f * largest)
      << "gradients differ by " << worst << " (largest " << largest << ")";
}

INSTANTIATE_TEST_SUITE_P(Layouts, HeadChunksParallel,
                         ::testing::Values(Case{1, 2, 1, 1, "pha"}, Case{1, 2, 1, 1, "serial"},
                                           Case{1, 1, 2, 3, "pha"}, Case{2, 1, 1, 2, "pha"},
                                           Case{1, 1, 1, 2, "pha", 2}),
                         case_name);

}  // namespace
}  // namespace pha::launch
