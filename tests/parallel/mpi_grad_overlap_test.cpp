// GradientSync's data-parallel average overlapped with backward (buckets started by the last
// backward's hook) against the blocking path (every bucket after backward) and the previous
// behaviour (scale the whole arena by 1 / micro-batches, average it over dp in fixed chunks, then
// add the tied embedding's other copy): the gradients and, after one AdamW step, the parameters
// are bit-identical, and every dp rank holds the same average. Layouts dp 2 (2 ranks), dp 4,
// tp 2 x dp 2 and dp 2 x pp 2 (4 ranks), each with 1 and 3 micro-batches; the binary is run on 2
// and on 4 ranks, and a case whose layout does not fill the world is skipped.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cstring>
#include <ostream>
#include <string>
#include <vector>

#include "core/cpu/cpu_backend.h"
#include "launch/grad_sync.h"
#include "launch/pipeline_step.h"
#include "optim/clip.h"
#include "tests/model_test_util.h"
#include "tests/test_util.h"

namespace pha::launch {
namespace {

using parallel::CommOp;
using parallel::ReduceOp;

constexpr int64_t kBatch = 2, kSeq = 8;
constexpr int64_t kBucket = 777;  // elements: many buckets, cutting tensors at odd places

struct Case {
  int dp, tp, pp, micro;
};

// How gtest (and so ctest's test names) shows a case.
void PrintTo(const Case& c, std::ostream* out) {
  *out << "dp " << c.dp << " x tp " << c.tp << " x pp " << c.pp << ", " << c.micro
       << " micro-batches";
}

// capped: overlapped with at most one bucket reduction in flight (parallel.grad_buckets_in_flight).
enum class Path { overlapped, capped, blocking, previous };

struct Outcome {
  std::vector<float> grads, params;        // the whole arenas, padding included
  int64_t reductions_during_backward = 0;  // dp all-reduces started before reduce()
};

ModelConfig small_model() {
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
  return c;
}

std::vector<float> host_copy(const Arena& arena) {
  std::vector<float> v(arena.bytes() / sizeof(float));
  std::memcpy(v.data(), arena.base(), arena.bytes());
  return v;
}

// GradientSync::reduce as it was before the overlap.
void previous_reduce(Model& model, Distributed& dist) {
  scale_gradients(model.grads(), 1.0 / static_cast<double>(dist.n_micro));
  const Arena& grads = model.grads();
  if (dist.grid.layout().dp > 1) {
    const int64_t total = static_cast<int64_t>(grads.bytes() / sizeof(float));
    for (int64_t begin = 0; begin < total; begin += kBucket)
      dist.dp.all_reduce(Tensor(static_cast<float*>(grads.base()) + begin, DType::f32, Device::cpu,
                                Shape{std::min(kBucket, total - begin)}),
                         ReduceOp::avg);
  }
  if (!model.config().tie_embeddings || dist.n_stages() == 1) return;
  if (!dist.first_stage() && !dist.last_stage()) return;
  const Tensor grad = grads.get("embedding.weight");
  std::vector<float> other_data(static_cast<size_t>(grad.numel()));
  const Tensor other(other_data.data(), DType::f32, Device::cpu, grad.shape);
  if (dist.first_stage()) {
    dist.pp.send(grad, dist.n_stages() - 1);
    dist.pp.recv(other, dist.n_stages() - 1);
  } else {
    dist.pp.recv(other, 0);
    dist.pp.send(grad, 0);
  }
  model.backend().axpy(1.0, other, grad);
}

// One training step's backward, reduction and AdamW update on this rank's part of the model.
Outcome one_step(Distributed& dist, CpuBackend& be, Path path) {
  const ModelConfig cfg = small_model();
  Model model(be, cfg, kBatch, kSeq, DType::f32, dist.model_part(cfg));
  model.init_parameters(7);
  AdamWConfig adamw;
  adamw.lr = 1e-2;
  AdamW optimizer(be, model.params().table(), adamw);
  GradientSync sync(model, dist, /*zero=*/0, path == Path::overlapped || path == Path::capped,
                    1.0 / static_cast<double>(dist.n_micro), kBucket, path == Path::capped ? 1 : 0);
  // Each dp rank sees its own micro-batches.
  std::vector<std::vector<int32_t>> tokens;
  for (int m = 0; m < dist.n_micro; ++m)
    tokens.push_back(test::random_tokens(Shape{kBatch * kSeq}, static_cast<int32_t>(cfg.vocab),
                                         100 + static_cast<uint64_t>(dist.dp_rank() * 10 + m))
                         .data);
  model.zero_grads();
  dist.reset_comm_stats();
  run_pipeline_step(
      model, dist, [&](int m) { return tokens[static_cast<size_t>(m)].data(); }, {},
      sync.last_backward_hook());
  Outcome o;
  o.reductions_during_backward = dist.grad.stats()[CommOp::all_reduce].calls;
  if (path == Path::previous)
    previous_reduce(model, dist);
  else
    sync.reduce(model);
  o.grads = host_copy(model.grads());
  sync.step(model, optimizer, 1);
  o.params = host_copy(model.params());
  return o;
}

void expect_identical(const std::vector<float>& got, const std::vector<float>& want,
                      const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  size_t differ = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::memcmp(&got[i], &want[i], sizeof(float)) == 0) continue;
    if (differ++ == 0) first = i;
  }
  EXPECT_EQ(differ, 0u) << what << ": " << differ << " of " << got.size()
                        << " elements differ, the first at " << first << " (" << got[first]
                        << " vs " << want[first] << ")";
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  return "dp" + std::to_string(c.dp) + "_tp" + std::to_string(c.tp) + "_pp" + std::to_string(c.pp) +
         "_micro" + std::to_string(c.micro);
}

class GradOverlap : public ::testing::TestWithParam<Case> {};

TEST_P(GradOverlap, BitIdenticalToBlockingAndPreviousOnEveryDpRank) {
  const Case c = GetParam();
  int world = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  if (world != c.dp * c.tp * c.pp)
    GTEST_SKIP() << "the layout needs " << c.dp * c.tp * c.pp << " ranks, the world has " << world;
  CpuBackend be;
  Distributed dist(parallel::Layout{c.dp, c.tp, c.pp}, small_model(), c.micro, 60, &be);
  const Outcome overlapped = one_step(dist, be, Path::overlapped);
  const Outcome blocking = one_step(dist, be, Path::blocking);
  const Outcome previous = one_step(dist, be, Path::previous);
  const Outcome capped = one_step(dist, be, Path::capped);
  expect_identical(capped.grads, blocking.grads, "gradients, one bucket in flight vs blocking");
  expect_identical(capped.params, blocking.params, "parameters, one bucket in flight vs blocking");
  EXPECT_GT(capped.reductions_during_backward, 0);

  expect_identical(overlapped.grads, blocking.grads, "gradients, overlapped vs blocking");
  expect_identical(overlapped.grads, previous.grads, "gradients, overlapped vs previous");
  expect_identical(overlapped.params, blocking.params, "parameters, overlapped vs blocking");
  expect_identical(overlapped.params, previous.params, "parameters, overlapped vs previous");
  // The overlap happened: reductions started inside backward, none on the blocking path.
  EXPECT_GT(overlapped.reductions_during_backward, 0);
  EXPECT_EQ(blocking.reductions_during_backward, 0);

  // The average is the same on every dp rank: compare with dp rank 0's.
  std::vector<float> first = overlapped.grads;
  MPI_Bcast(first.data(), static_cast<int>(first.size()), MPI_FLOAT, 0,
            dist.grid.comm(parallel::GroupKind::dp));
  expect_identical(overlapped.grads, first, "gradients, this dp rank vs dp rank 0");
}

INSTANTIATE_TEST_SUITE_P(Layouts, GradOverlap,
                         ::testing::Values(Case{2, 1, 1, 1}, Case{2, 1, 1, 3}, Case{4, 1, 1, 1},
                                           Case{4, 1, 1, 3}, Case{2, 2, 1, 1}, Case{2, 2, 1, 3},
                                           Case{2, 1, 2, 1}, Case{2, 1, 2, 3}),
                         case_name);

}  // namespace
}  // namespace pha::launch
