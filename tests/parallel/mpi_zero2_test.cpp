// ZeRO-2's gradient shard (launch/grad_window_reduce.h) against plain data parallelism on 4 ranks:
// after one step's backward (every micro-batch reduce-scattered group by group out of the gradient
// window), each dp rank's shard equals its chunk of the plain dp average (within float rounding:
// the micro-batches are averaged before they are summed); the global norm is the same; after one
// AdamW step and the all-gather the parameters match; a NaN planted in one rank's shard is named
// there and makes the norm NaN on every rank. Layouts dp 4 and dp 2 x tp 2 and dp 2 x pp 2 (tied
// embedding: kept whole on the pipeline's ends), with 1 to 3 micro-batches, tied and untied.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "core/cpu/cpu_backend.h"
#include "launch/grad_sync.h"
#include "launch/pipeline_step.h"
#include "tests/model_test_util.h"
#include "tests/test_util.h"

namespace pha::launch {
namespace {

constexpr int64_t kBatch = 2, kSeq = 8;

struct Case {
  int dp, tp, pp, micro;
  bool tied;
};

void PrintTo(const Case& c, std::ostream* out) {
  *out << "dp " << c.dp << " x tp " << c.tp << " x pp " << c.pp << ", " << c.micro
       << " micro-batches" << (c.tied ? ", tied" : ", untied");
}

ModelConfig small_model(bool tied) {
  ModelConfig c = test::sized_model({.d = 64,
                                     .n_q = 4,
                                     .n_kv = 2,
                                     .d_ff = 96,
                                     .gss_f = 48,
                                     .gss_h = 16,
                                     .dss_n = 8,
                                     .n_layers = 2,
                                     .vocab = 100});
  c.max_seq_len = kSeq;
  c.tie_embeddings = tied;
  return c;
}

std::vector<float> host_copy(const void* data, size_t bytes) {
  std::vector<float> v(bytes / sizeof(float));
  std::memcpy(v.data(), data, bytes);
  return v;
}

struct Outcome {
  std::vector<float> grads;  // ZeRO-0: the whole averaged arena; ZeRO-2: the shard
  double sum_squares = 0;
  std::vector<float> params;  // after one step
};

// What one step holds, built in place.
struct Step {
  Step(CpuBackend& be, const ModelConfig& cfg, const ModelPart& part, Distributed& dist, int zero,
       int micro, const AdamWConfig& adamw)
      : model(be, cfg, kBatch, kSeq, DType::f32, part),
        optimizer(be, model.params().table(), adamw, GradientSync::owned_ranges(model, dist, zero)),
        sync(model, dist, zero, true, 1.0 / micro) {}
  Model model;
  AdamW optimizer;
  GradientSync sync;
};

// One step's backward and reduction with ZeRO stage `zero`; `after_reduce` may inspect or plant.
Outcome one_step(Distributed& dist, CpuBackend& be, const Case& c, int zero,
                 const std::function<void(Step&)>& after_reduce = {}) {
  const ModelConfig cfg = small_model(c.tied);
  const ModelPart part = GradientSync::with_grad_window(dist.model_part(cfg), zero, c.dp);
  AdamWConfig adamw;
  adamw.lr = 1e-2;
  Step s(be, cfg, part, dist, zero, c.micro, adamw);
  s.model.init_parameters(7);
  std::vector<std::vector<int32_t>> tokens;
  for (int m = 0; m < c.micro; ++m)
    tokens.push_back(test::random_tokens(Shape{kBatch * kSeq}, static_cast<int32_t>(cfg.vocab),
                                         100 + static_cast<uint64_t>(dist.dp_rank() * 10 + m))
                         .data);
  s.model.zero_grads();
  run_pipeline_step(
      s.model, dist, [&](int m) { return tokens[static_cast<size_t>(m)].data(); }, {},
      s.sync.last_backward_hook(), s.sync.every_backward_hook());
  s.sync.reduce(s.model);
  Outcome o;
  const Arena& grads = zero == 2 ? s.sync.gradient_shard() : s.model.grads();
  o.grads = host_copy(grads.base(), grads.bytes());
  if (after_reduce) after_reduce(s);
  o.sum_squares = s.sync.global_sum_squares(s.model);
  if (std::isfinite(o.sum_squares)) {
    s.sync.step(s.model, s.optimizer, 1);
    o.params = host_copy(s.model.params().base(), s.model.params().bytes());
  }
  return o;
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  return "dp" + std::to_string(c.dp) + "_tp" + std::to_string(c.tp) + "_pp" + std::to_string(c.pp) +
         "_micro" + std::to_string(c.micro) + (c.tied ? "_tied" : "_untied");
}

class Zero2 : public ::testing::TestWithParam<Case> {};

TEST_P(Zero2, ShardEqualsItsChunkOfThePlainAverage) {
  const Case c = GetParam();
  CpuBackend be;
  Distributed dist(parallel::Layout{c.dp, c.tp, c.pp}, small_model(c.tied), c.micro, 60, &be);
  const Outcome plain = one_step(dist, be, c, 0);
  const Outcome zero2 = one_step(dist, be, c, 2);
  // This rank's chunk of the plain arena [S elements]: the shard's layout.
  const size_t S = zero2.grads.size();
  ASSERT_GE(plain.grads.size(), S * static_cast<size_t>(c.dp));
  ASSERT_LE(plain.grads.size() - S * static_cast<size_t>(c.dp), 64u / sizeof(float));
  double scale = 0;
  for (float g : plain.grads) scale = std::max(scale, std::abs(static_cast<double>(g)));
  ASSERT_GT(scale, 0);
  size_t differ = 0;
  const size_t begin = S * static_cast<size_t>(dist.dp_rank());
  for (size_t i = 0; i < S && begin + i < plain.grads.size(); ++i)
    if (std::abs(zero2.grads[i] - plain.grads[begin + i]) > 1e-6 * scale) ++differ;
  EXPECT_EQ(differ, 0u) << "of the " << S << " elements of dp rank " << dist.dp_rank()
                        << "'s shard";
  EXPECT_NEAR(zero2.sum_squares, plain.sum_squares, 1e-6 * plain.sum_squares);
  ASSERT_EQ(zero2.params.size(), plain.params.size());
  double worst = 0;
  for (size_t i = 0; i < plain.params.size(); ++i)
    worst = std::max(worst, std::abs(static_cast<double>(zero2.params[i] - plain.params[i])));
  EXPECT_LT(worst, 1e-5) << "parameters after one AdamW step";
}

TEST_P(Zero2, NanInOneShardIsNamedThereAndPoisonsTheNorm) {
  const Case c = GetParam();
  CpuBackend be;
  Distributed dist(parallel::Layout{c.dp, c.tp, c.pp}, small_model(c.tied), c.micro, 60, &be);
  std::string named;
  const Outcome o = one_step(dist, be, c, 2, [&](Step& s) {
    EXPECT_FALSE(s.sync.first_nonfinite_gradient(s.model).has_value());
    if (dist.dp_rank() != c.dp - 1) return;
    // The last parameter this rank owns a part of: a NaN in its middle.
    const std::vector<ElementRange>& owned = s.optimizer.owned();
    size_t i = owned.size();
    while (i-- > 0 && owned[i].size() == 0) {
    }
    ASSERT_LT(i, owned.size());
    const Tensor& g = s.sync.owned_gradients()[i];
    g.as<float>()[g.numel() / 2] = std::numeric_limits<float>::quiet_NaN();
    named = s.sync.first_nonfinite_gradient(s.model).value_or("");
    EXPECT_EQ(named, s.model.param_specs()[i].name);
  });
  EXPECT_TRUE(std::isnan(o.sum_squares)) << "every rank's global norm";
}

INSTANTIATE_TEST_SUITE_P(Layouts, Zero2,
                         ::testing::Values(Case{4, 1, 1, 1, true}, Case{4, 1, 1, 2, false},
                                           Case{2, 2, 1, 2, true}, Case{2, 1, 2, 3, true},
                                           Case{2, 1, 2, 1, false}),
                         case_name);

// The planner's bound on the window places reducing at once (GradWindowReduce::
// max_in_flight_bytes): four equal groups in a ring of two places keep both places in flight
// (each group's place is waited for only when the group two later reuses it); without overlap
// one; a kept group is not in the ring.
TEST(GradWindowInFlight, BothRingPlacesWithOverlapOneWithout) {
  SizeTable t;
  for (int i = 0; i < 5; ++i) t.add(fmt::format("p{}", i), {160});  // 640 bytes each
  const GradWindow w =
      plan_grad_window(t, {{4, 5}, {3, 4}, {2, 3}, {1, 2}}, {0, 0, 0, 0}, {{0, 1}});
  EXPECT_EQ(GradWindowReduce::max_in_flight_bytes(w), 2 * 640u);
  EXPECT_EQ(GradWindowReduce::max_in_flight_bytes(w, /*overlap=*/false), 640u);
  // Unequal groups: a large one and the smaller ones that fit beside it in the ring.
  SizeTable u;
  for (int64_t n : {16, 480, 16, 16, 160}) u.add(fmt::format("q{}", u.size()), {n});
  const GradWindow v =
      plan_grad_window(u, {{4, 5}, {3, 4}, {2, 3}, {1, 2}, {0, 1}}, {0, 0, 0, 0, 0}, {});
  const size_t most = GradWindowReduce::max_in_flight_bytes(v);
  EXPECT_LE(most, v.bytes);
  EXPECT_GE(most, 1920u + 640u);  // the largest group's place and the one before it
}

}  // namespace
}  // namespace pha::launch
