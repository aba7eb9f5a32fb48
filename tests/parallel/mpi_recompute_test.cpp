// One training step computed two ways under tensor, pipeline, data and context parallelism, on
// every rank:
// - activation recomputation: losses and gradients (every rank's whole gradient arena) with
//   train.recompute = selective and full are bit-identical to none's, on tp 2 (the serial block's
//   full recomputation all-reduces again), on pp 2 with 3 micro-batches under 1F1B (each
//   micro-batch's blocks recomputed inside its backward, the recompute buffer shared by the slots
//   in flight), and on cp 2 and cp 2 x pp 2 (the recomputed forward runs ring attention's and the
//   split convolution's exchanges again; full causal and a window that skips chunk pairs), for
//   PHA and serial blocks;
// - the head in chunks (ModelPart::head_chunk_rows = 5: several chunks per micro-batch, the last
//   partial; under tp each chunk's row max and sums are all-reduced): the loss and gradients equal
//   the whole-logits head's within f32 rounding (the head weight's gradient is summed chunk by
//   chunk, so not bit for bit).
// The binary is built for 2 and for 4 ranks (PHA_TEST_RANKS) and runs the layouts of its world
// size.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstring>
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
  c.tie_embeddings = cs.block != "serial";  // the serial layouts run an untied head.weight
  return c;
}

struct Outcome {
  double loss_sum = 0;
  std::vector<char> grads;
};

Outcome one_step(Distributed& dist, CpuBackend& be, const ModelConfig& cfg, int64_t seq,
                 Recompute mode, int64_t head_chunk_rows = 0) {
  ModelPart part = dist.model_part(cfg);
  part.recompute = mode;
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
  o.grads.resize(model.grads().bytes());
  std::memcpy(o.grads.data(), model.grads().base(), o.grads.size());
  return o;
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  std::string block = c.block;
  for (char& ch : block)
    if (ch == '+') ch = '_';
  return block + "_dp" + std::to_string(c.dp) + "_tp" + std::to_string(c.tp) + "_pp" +
         std::to_string(c.pp) + "_cp" + std::to_string(c.cp) + "_micro" + std::to_string(c.micro) +
         (c.window ? "_window" + std::to_string(c.window) : "");
}

class RecomputeParallel : public ::testing::TestWithParam<Case> {};

TEST_P(RecomputeParallel, BitIdenticalToNoneOnEveryRank) {
  const Case c = GetParam();
  int world = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  ASSERT_EQ(world, c.ranks()) << "run this binary on " << c.ranks() << " ranks";
  CpuBackend be;
  const ModelConfig cfg = model_for(c);
  Distributed dist(parallel::Layout{c.dp, c.tp, c.pp, c.cp}, cfg, c.micro, 60, &be);
  const Outcome none = one_step(dist, be, cfg, c.seq(), Recompute::none);
  for (Recompute mode : {Recompute::selective, Recompute::full}) {
    const Outcome got = one_step(dist, be, cfg, c.seq(), mode);
    const char* name = recompute_name(mode);
    EXPECT_EQ(std::memcmp(&got.loss_sum, &none.loss_sum, sizeof(double)), 0)
        << name << ": loss " << got.loss_sum << " vs " << none.loss_sum;
    ASSERT_EQ(got.grads.size(), none.grads.size());
    const float* a = reinterpret_cast<const float*>(got.grads.data());
    const float* b = reinterpret_cast<const float*>(none.grads.data());
    size_t differ = 0, first = 0;
    for (size_t i = 0; i < got.grads.size() / sizeof(float); ++i)
      if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0 && differ++ == 0) first = i;
    EXPECT_EQ(differ, 0u) << name << ": " << differ << " gradient elements differ from none's, "
                          << "the first at " << first << " (" << a[first] << " vs " << b[first]
                          << ")";
  }
}

TEST_P(RecomputeParallel, HeadInChunksMatchesWholeOnEveryRank) {
  const Case c = GetParam();
  CpuBackend be;
  const ModelConfig cfg = model_for(c);
  Distributed dist(parallel::Layout{c.dp, c.tp, c.pp, c.cp}, cfg, c.micro, 60, &be);
  const Outcome whole = one_step(dist, be, cfg, c.seq(), Recompute::none);
  const Outcome got = one_step(dist, be, cfg, c.seq(), Recompute::none, 5);
  EXPECT_NEAR(got.loss_sum, whole.loss_sum, 1e-6 * std::max(1.0, std::abs(whole.loss_sum)));
  ASSERT_EQ(got.grads.size(), whole.grads.size());
  const float* a = reinterpret_cast<const float*>(got.grads.data());
  const float* b = reinterpret_cast<const float*>(whole.grads.data());
  float largest = 0, worst = 0;
  for (size_t i = 0; i < got.grads.size() / sizeof(float); ++i) {
    largest = std::max(largest, std::abs(b[i]));
    worst = std::max(worst, std::abs(a[i] - b[i]));
  }
  ASSERT_GT(largest, 0.0f);
  EXPECT_LE(worst, 1e-5f * largest)
      << "gradients differ by " << worst << " (largest " << largest << ")";
}

#if PHA_TEST_RANKS == 2
INSTANTIATE_TEST_SUITE_P(
    Layouts, RecomputeParallel,
    ::testing::Values(Case{1, 2, 1, 1, "pha"}, Case{1, 2, 1, 1, "serial"}, Case{1, 1, 2, 3, "pha"},
                      Case{1, 1, 2, 3, "serial"}, Case{1, 1, 2, 3, "gss+ffn"},
                      Case{2, 1, 1, 2, "attention+gss"}, Case{1, 1, 1, 2, "pha", 2},
                      Case{1, 1, 1, 1, "serial", 2}, Case{1, 1, 1, 2, "pha", 2, 4}),
    case_name);
#elif PHA_TEST_RANKS == 4
// cp 2 x pp 2 under 1F1B; cp 2 x tp 2 with a window of one chunk.
INSTANTIATE_TEST_SUITE_P(Layouts, RecomputeParallel,
                         ::testing::Values(Case{1, 1, 2, 3, "pha", 2},
                                           Case{1, 2, 1, 1, "pha", 2, 3}),
                         case_name);
#endif

}  // namespace
}  // namespace pha::launch
