// Embedding gather / scatter-add and the fused cross-entropy on the GPU against the CPU backend
// (cuda_test_util.h). The embedding backward adds in the CPU's order (ascending position), so in
// f32 and f64 it matches the CPU bit for bit.
#include <cmath>

#include "tests/gpu/cuda_test_util.h"

namespace pha::test {
namespace {

using cuda_loss = CudaVsCpu;

// Token ids with many repeats (a small vocabulary) and one row that never appears.
std::vector<double> token_values(int64_t n, int64_t vocab, uint64_t seed) {
  const Owned<int32_t> t = random_tokens({n}, static_cast<int32_t>(vocab - 1), seed);
  return std::vector<double>(t.data.begin(), t.data.end());
}

struct Types {
  DType act, param;
};
const Types kTypes[] = {{DType::f32, DType::f32},
                        {DType::f64, DType::f64},
                        {DType::bf16, DType::f32},
                        {DType::bf16, DType::bf16}};

TEST_F(cuda_loss, Embedding) {
  const int64_t vocab = 67, d = 300, b = 3, t = 419;  // d: more columns than a block's threads
  uint64_t seed = 100;
  for (const Types ty : kTypes) {
    const std::string what = name(ty.act) + "/" + name(ty.param);
    const Twin tokens = make(token_values(b * t, vocab, ++seed), {b, t}, DType::i32);
    const Twin table = randn_twin({vocab, d}, ty.param, ++seed);
    const Twin out = zeros({b, t, d}, ty.act);
    cpu().embedding_forward(tokens.cpu, table.cpu, out.cpu);
    gpu().embedding_forward(tokens.gpu, table.gpu, out.gpu);
    compare("embedding_forward " + what, out, tolerance(ty.act));

    const Twin dout = randn_twin({b, t, d}, ty.act, ++seed);
    const Twin dtable = randn_twin({vocab, d}, ty.param, ++seed);
    cpu().embedding_backward(tokens.cpu, dout.cpu, dtable.cpu);
    gpu().embedding_backward(tokens.gpu, dout.gpu, dtable.gpu);
    if (ty.param == DType::bf16)
      compare("embedding_backward " + what, dtable, 2e-2);  // bf16 sums: a rounding per add
    else if (ty.act == DType::bf16)
      compare("embedding_backward " + what, dtable, kF32Tol);
    else
      EXPECT_EQ(values(dtable.gpu), values(dtable.cpu)) << "embedding_backward " << what;
  }
}

TEST_F(cuda_loss, EmbeddingOutOfRangeTokenGivesNaN) {
  const Twin tokens = make({0, 5, -1, 2}, {4}, DType::i32);
  const Twin table = randn_twin({5, 3}, DType::f32, 1), out = zeros({4, 3}, DType::f32);
  gpu().embedding_forward(tokens.gpu, table.gpu, out.gpu);
  const std::vector<double> v = values(out.gpu);
  for (int64_t i = 0; i < 12; ++i)
    EXPECT_EQ(std::isnan(v[static_cast<size_t>(i)]), i >= 3 && i < 9) << i;
}

// Ignored rows (negative targets) and a wide vocabulary (more than a block's elements).
std::vector<double> target_values(int64_t rows, int64_t vocab, uint64_t seed) {
  std::vector<double> v = token_values(rows, vocab + 1, seed);
  for (int64_t r = 0; r < rows; r += 7) v[static_cast<size_t>(r)] = -1;
  return v;
}

TEST_F(cuda_loss, CrossEntropy) {
  uint64_t seed = 200;
  for (const DType dt : {DType::f32, DType::f64, DType::bf16}) {
    const DType stat = dt == DType::f64 ? DType::f64 : DType::f32;
    for (const int64_t vocab : {int64_t{10}, int64_t{5000}}) {
      const int64_t rows = 45;
      const std::string what = name(dt) + " V " + std::to_string(vocab);
      const Twin logits = randn_twin({rows, vocab}, dt, ++seed, 4.0);
      const Twin targets = make(target_values(rows, vocab, ++seed), {rows}, DType::i32);
      const Twin losses = zeros({rows}, stat), lse = zeros({rows}, stat);
      cpu().cross_entropy_forward(logits.cpu, targets.cpu, losses.cpu, lse.cpu);
      gpu().cross_entropy_forward(logits.gpu, targets.gpu, losses.gpu, lse.gpu);
      compare("cross_entropy_forward losses " + what, losses, tolerance(stat));
      compare("cross_entropy_forward lse " + what, lse, tolerance(stat));

      const Twin l = make(values(lse.cpu), {rows}, stat);
      const Twin dlogits = zeros({rows, vocab}, dt);
      cpu().cross_entropy_backward(logits.cpu, l.cpu, targets.cpu, 0.37, dlogits.cpu);
      gpu().cross_entropy_backward(logits.gpu, l.gpu, targets.gpu, 0.37, dlogits.gpu);
      compare("cross_entropy_backward " + what, dlogits, tolerance(dt));
      // In place over the logits (the trainer's layout).
      gpu().cross_entropy_backward(logits.gpu, l.gpu, targets.gpu, 0.37, logits.gpu);
      report("cross_entropy_backward in place " + what,
             rel_error(values(logits.gpu), values(dlogits.cpu)), tolerance(dt));
    }
  }
}

TEST_F(cuda_loss, RefusesMismatches) {
  const Twin logits = zeros({4, 9}, DType::bf16), targets = make({0, 1, 2, 3}, {4}, DType::i32);
  const Twin l16 = zeros({4}, DType::bf16);
  expect_error([&] { gpu().cross_entropy_forward(logits.gpu, targets.gpu, l16.gpu, l16.gpu); },
               "compute type");
  const Twin t3 = make({0, 1, 2}, {3}, DType::i32), l32 = zeros({4}, DType::f32);
  expect_error([&] { gpu().cross_entropy_forward(logits.gpu, t3.gpu, l32.gpu, l32.gpu); },
               "one value per row");
  const Twin table = zeros({5, 3}, DType::f64), out = zeros({4, 3}, DType::f32);
  expect_error([&] { gpu().embedding_forward(targets.gpu, table.gpu, out.gpu); },
               "a parameter has their dtype");
}

}  // namespace
}  // namespace pha::test
