// The vocab-parallel cross-entropy ops on the GPU against the CPU backend (cuda_test_util.h), and
// the head's sequence over 2 and 3 vocabulary shards (max, all-reduce MAX, sums, all-reduce SUM,
// loss, backward; the all-reduces done on the host) against the fused cross-entropy of the
// unsplit logits on the GPU.
//
// Each op gets the CPU's result of the previous op as input on both backends, so an error is
// the op's own. Tolerances: row_max and the target's logit are exact; stats, lse and losses are in
// the compute type (f32 for bf16 logits: 1e-5); dlogits in the logits' dtype (bf16: 4e-3).
#include <fmt/format.h>

#include <cmath>

#include "tests/gpu/cuda_test_util.h"

namespace pha::test {
namespace {

using cuda_vocab_parallel = CudaVsCpu;

DType stat_dtype(DType logits) {
  return logits == DType::f64 ? DType::f64 : DType::f32;
}

// Global target ids in [0, vocab_total) with every 7th row ignored (-1).
std::vector<double> target_values(int64_t rows, int64_t vocab_total, uint64_t seed) {
  const Owned<int32_t> t = random_tokens({rows}, static_cast<int32_t>(vocab_total), seed);
  std::vector<double> v(t.data.begin(), t.data.end());
  for (int64_t r = 0; r < rows; r += 7) v[static_cast<size_t>(r)] = -1;
  return v;
}

// Columns [c0, c1) of the row-major [rows, cols] values.
std::vector<double> columns(const std::vector<double>& m, int64_t cols, int64_t c0, int64_t c1) {
  std::vector<double> out;
  const int64_t rows = static_cast<int64_t>(m.size()) / cols;
  for (int64_t r = 0; r < rows; ++r)
    out.insert(out.end(), m.begin() + r * cols + c0, m.begin() + r * cols + c1);
  return out;
}

struct Case {
  int64_t rows, vocab_local, vocab_offset, vocab_total;
};
// Odd sizes: one column, fewer columns than a warp, more than a block's elements; a shard at
// offset 0, in the middle and at the end of the vocabulary, so targets fall before, in and after
// it.
const Case kCases[] = {
    {5, 1, 3, 7}, {45, 10, 0, 23}, {37, 5001, 3000, 9001}, {3, 2049, 1000, 3049}};

TEST_F(cuda_vocab_parallel, OpsMatchCpu) {
  uint64_t seed = 300;
  for (const DType dt : {DType::f32, DType::f64, DType::bf16}) {
    const DType st = stat_dtype(dt);
    for (const Case& c : kCases) {
      const std::string what = fmt::format("{} rows {} V_local {} offset {}", name(dt), c.rows,
                                           c.vocab_local, c.vocab_offset);
      const Twin logits = randn_twin({c.rows, c.vocab_local}, dt, ++seed, 4.0);
      const Twin targets = make(target_values(c.rows, c.vocab_total, ++seed), {c.rows}, DType::i32);

      const Twin row_max = zeros({c.rows}, st);
      cpu().vocab_parallel_max(logits.cpu, row_max.cpu);
      gpu().vocab_parallel_max(logits.gpu, row_max.gpu);
      EXPECT_EQ(values(row_max.gpu), values(row_max.cpu)) << "vocab_parallel_max " << what;

      // A row maximum above the local one, as after the all-reduce: sums of exps below 1 here.
      std::vector<double> global_max = values(row_max.cpu);
      for (double& m : global_max) m += 0.75;
      const Twin m = make(global_max, {c.rows}, st), stats = zeros({2, c.rows}, st);
      cpu().vocab_parallel_sums(logits.cpu, targets.cpu, c.vocab_offset, m.cpu, stats.cpu);
      gpu().vocab_parallel_sums(logits.gpu, targets.gpu, c.vocab_offset, m.gpu, stats.gpu);
      const std::vector<double> s_gpu = values(stats.gpu), s_cpu = values(stats.cpu);
      const auto half = s_gpu.begin() + c.rows;
      report("vocab_parallel_sums sum of exps " + what,
             rel_error(std::vector<double>(s_gpu.begin(), half),
                       std::vector<double>(s_cpu.begin(), s_cpu.begin() + c.rows)),
             tolerance(st));
      EXPECT_EQ(std::vector<double>(half, s_gpu.end()),
                std::vector<double>(s_cpu.begin() + c.rows, s_cpu.end()))
          << "vocab_parallel_sums target logits " << what;

      // Sums of exps of at least 1 (as the all-reduced ones are) for the loss.
      std::vector<double> all_stats = s_cpu;
      for (int64_t r = 0; r < c.rows; ++r) all_stats[static_cast<size_t>(r)] += 1.0;
      const Twin total = make(all_stats, {2, c.rows}, st);
      const Twin losses = zeros({c.rows}, st), lse = zeros({c.rows}, st);
      cpu().vocab_parallel_loss(m.cpu, total.cpu, targets.cpu, losses.cpu, lse.cpu);
      gpu().vocab_parallel_loss(m.gpu, total.gpu, targets.gpu, losses.gpu, lse.gpu);
      compare("vocab_parallel_loss losses " + what, losses, tolerance(st));
      compare("vocab_parallel_loss lse " + what, lse, tolerance(st));

      // An lse 0.1 above that of the local columns alone (m + log(sum of exps), m = row_max +
      // 0.75), as when other shards hold part of the vocabulary.
      std::vector<double> local_lse = values(row_max.cpu);
      for (int64_t r = 0; r < c.rows; ++r)
        local_lse[static_cast<size_t>(r)] += 0.75 + std::log(s_cpu[static_cast<size_t>(r)]) + 0.1;
      const Twin l = make(local_lse, {c.rows}, st), dlogits = zeros({c.rows, c.vocab_local}, dt);
      cpu().vocab_parallel_backward(logits.cpu, l.cpu, targets.cpu, c.vocab_offset, 0.37,
                                    dlogits.cpu);
      gpu().vocab_parallel_backward(logits.gpu, l.gpu, targets.gpu, c.vocab_offset, 0.37,
                                    dlogits.gpu);
      compare("vocab_parallel_backward " + what, dlogits, tolerance(dt));
      gpu().vocab_parallel_backward(logits.gpu, l.gpu, targets.gpu, c.vocab_offset, 0.37,
                                    logits.gpu);  // in place, as the head calls it
      report("vocab_parallel_backward in place " + what,
             rel_error(values(logits.gpu), values(dlogits.cpu)), tolerance(dt));
    }
  }
}

// The head's sequence on `bounds.size() - 1` shards of full logits [rows, V] (shard i holds
// columns [bounds[i], bounds[i+1])) equals cross_entropy_forward/backward on the whole logits.
void check_sharded(CudaVsCpu& t, DType dt, const std::vector<int64_t>& bounds, uint64_t seed) {
  const DType st = stat_dtype(dt);
  const int64_t rows = 29, vocab = bounds.back(), shards = static_cast<int64_t>(bounds.size()) - 1;
  const std::string what = fmt::format("{} V {} over {} shards", name(dt), vocab, shards);
  std::vector<double> full = randn(rows * vocab, seed, 3.0);
  for (double& v : full) v = stored(v, dt);
  const Twin targets = t.make(target_values(rows, vocab, seed + 1), {rows}, DType::i32);
  std::vector<Twin> logits;
  for (int64_t i = 0; i < shards; ++i)
    logits.push_back(t.make(columns(full, vocab, bounds[i], bounds[i + 1]),
                            {rows, bounds[i + 1] - bounds[i]}, dt));

  // all_reduce(row_max, MAX) and all_reduce(stats, SUM) over the shards, on the host; the SUM adds
  // shard after shard in the compute type, as a ring all-reduce of that dtype would.
  std::vector<double> row_max(static_cast<size_t>(rows), -INFINITY);
  for (const Twin& x : logits) {
    const Twin m = t.zeros({rows}, st);
    t.gpu().vocab_parallel_max(x.gpu, m.gpu);
    const std::vector<double> v = t.values(m.gpu);
    for (size_t r = 0; r < v.size(); ++r) row_max[r] = std::max(row_max[r], v[r]);
  }
  const Twin m = t.make(row_max, {rows}, st);
  std::vector<double> stats(static_cast<size_t>(2 * rows), 0.0);
  for (int64_t i = 0; i < shards; ++i) {
    const Twin s = t.zeros({2, rows}, st);
    t.gpu().vocab_parallel_sums(logits[static_cast<size_t>(i)].gpu, targets.gpu, bounds[i], m.gpu,
                                s.gpu);
    const std::vector<double> v = t.values(s.gpu);
    for (size_t k = 0; k < v.size(); ++k) stats[k] = stored(stats[k] + v[k], st);
  }
  const Twin total = t.make(stats, {2, rows}, st);
  const Twin losses = t.zeros({rows}, st), lse = t.zeros({rows}, st);
  t.gpu().vocab_parallel_loss(m.gpu, total.gpu, targets.gpu, losses.gpu, lse.gpu);

  const Twin whole = t.make(full, {rows, vocab}, dt);
  const Twin ref_losses = t.zeros({rows}, st), ref_lse = t.zeros({rows}, st);
  t.gpu().cross_entropy_forward(whole.gpu, targets.gpu, ref_losses.gpu, ref_lse.gpu);
  report("sharded losses " + what, rel_error(t.values(losses.gpu), t.values(ref_losses.gpu)),
         tolerance(st));
  report("sharded lse " + what, rel_error(t.values(lse.gpu), t.values(ref_lse.gpu)), tolerance(st));

  // Each shard's dlogits in place over its logits (as the head), gathered into [rows, V].
  std::vector<double> grad(full.size());
  for (int64_t i = 0; i < shards; ++i) {
    const Twin& x = logits[static_cast<size_t>(i)];
    t.gpu().vocab_parallel_backward(x.gpu, lse.gpu, targets.gpu, bounds[i], 0.5, x.gpu);
    const std::vector<double> g = t.values(x.gpu);
    const int64_t w = bounds[i + 1] - bounds[i];
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < w; ++c)
        grad[static_cast<size_t>(r * vocab + bounds[i] + c)] = g[static_cast<size_t>(r * w + c)];
  }
  t.gpu().cross_entropy_backward(whole.gpu, ref_lse.gpu, targets.gpu, 0.5, whole.gpu);
  report("sharded dlogits " + what, rel_error(grad, t.values(whole.gpu)), tolerance(dt));
}

TEST_F(cuda_vocab_parallel, ShardsCombineToUnsplitCrossEntropy) {
  uint64_t seed = 400;
  for (const DType dt : {DType::f32, DType::f64, DType::bf16}) {
    check_sharded(*this, dt, {0, 2500, 5001}, seed += 10);
    check_sharded(*this, dt, {0, 333, 1000, 1003}, seed += 10);
  }
}

// Skipped all-reduces leave a sum of exps below 1: NaN for that row only (the CPU refuses).
TEST_F(cuda_vocab_parallel, SumOfExpsBelowOneGivesNaN) {
  const Twin m = make({0.5, 1.0, 2.0}, {3}, DType::f32);
  const Twin stats = make({1.5, 0.25, 1.0, 0.1, 0.2, 0.3}, {2, 3}, DType::f32);
  const Twin targets = make({1, 2, -1}, {3}, DType::i32);
  const Twin losses = zeros({3}, DType::f32), lse = zeros({3}, DType::f32);
  gpu().vocab_parallel_loss(m.gpu, stats.gpu, targets.gpu, losses.gpu, lse.gpu);
  const std::vector<double> l = values(losses.gpu), s = values(lse.gpu);
  EXPECT_NEAR(s[0], 0.5 + std::log(1.5), 1e-6);
  EXPECT_NEAR(l[0], s[0] - 0.1, 1e-6);
  EXPECT_TRUE(std::isnan(l[1]) && std::isnan(s[1]));
  EXPECT_EQ(l[2], 0.0);  // ignored row
  EXPECT_EQ(s[2], 2.0);
}

TEST_F(cuda_vocab_parallel, RefusesMismatches) {
  const Twin logits = zeros({4, 9}, DType::bf16), targets = make({0, 1, 2, 3}, {4}, DType::i32);
  const Twin m16 = zeros({4}, DType::bf16), m32 = zeros({4}, DType::f32);
  expect_error([&] { gpu().vocab_parallel_max(logits.gpu, m16.gpu); }, "compute type");
  const Twin s32 = zeros({2, 4}, DType::f32), s64 = zeros({2, 4}, DType::f64);
  const Twin s_short = zeros({2, 3}, DType::f32);
  expect_error([&] { gpu().vocab_parallel_sums(logits.gpu, targets.gpu, 0, m32.gpu, s64.gpu); },
               "compute type");
  expect_error([&] { gpu().vocab_parallel_sums(logits.gpu, targets.gpu, 0, m32.gpu, s_short.gpu); },
               "stats");
  expect_error([&] { gpu().vocab_parallel_sums(logits.gpu, targets.gpu, -1, m32.gpu, s32.gpu); },
               "must not be negative");
  expect_error([&] { gpu().vocab_parallel_loss(m16.gpu, s32.gpu, targets.gpu, m32.gpu, m32.gpu); },
               "f32 or f64");
  const Twin t3 = make({0, 1, 2}, {3}, DType::i32);
  expect_error([&] { gpu().vocab_parallel_loss(m32.gpu, s_short.gpu, t3.gpu, m32.gpu, m32.gpu); },
               "one value per row");
  const Twin d32 = zeros({4, 9}, DType::f32);
  expect_error(
      [&] { gpu().vocab_parallel_backward(logits.gpu, m32.gpu, targets.gpu, 0, 1.0, d32.gpu); },
      "share one dtype");
}

}  // namespace
}  // namespace pha::test
