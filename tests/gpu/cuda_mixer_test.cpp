// The channel FMA, the branch mixer and the reductions on the GPU against the CPU backend
// (cuda_test_util.h), and the reproducibility of the deterministic sums.
#include "tests/gpu/cuda_test_util.h"

namespace pha::test {
namespace {

using cuda_mixer = CudaVsCpu;

const Shape kX{5, 131, 77};  // 655 rows of 77 channels
constexpr int64_t kRows = 655, kC = 77;

struct Types {
  DType act, param;
};
const Types kTypes[] = {{DType::f32, DType::f32},
                        {DType::f64, DType::f64},
                        {DType::bf16, DType::f32},
                        {DType::bf16, DType::bf16}};

std::string label(const char* op, Types t) {
  return std::string(op) + " " + name(t.act) + "/" + name(t.param);
}

TEST_F(cuda_mixer, ChannelFma) {
  uint64_t seed = 300;
  for (const Types t : kTypes) {
    const Twin x = randn_twin(kX, t.act, ++seed), c = randn_twin(kX, t.act, ++seed);
    const Twin d = randn_twin({kC}, t.param, ++seed), y = zeros(kX, t.act);
    cpu().channel_fma_forward(x.cpu, d.cpu, c.cpu, y.cpu);
    gpu().channel_fma_forward(x.gpu, d.gpu, c.gpu, y.gpu);
    compare(label("channel_fma_forward", t), y, tolerance(t.act));

    const Twin dy = randn_twin(kX, t.act, ++seed), dx = randn_twin(kX, t.act, ++seed);
    const Twin dc = randn_twin(kX, t.act, ++seed), dd = randn_twin({kC}, t.param, ++seed);
    cpu().channel_fma_backward(dy.cpu, x.cpu, d.cpu, dx.cpu, dd.cpu, dc.cpu);
    gpu().channel_fma_backward(dy.gpu, x.gpu, d.gpu, dx.gpu, dd.gpu, dc.gpu);
    compare(label("channel_fma_backward dx", t), dx, tolerance(t.act));
    compare(label("channel_fma_backward dd", t), dd, tolerance(t.param));
    compare(label("channel_fma_backward dc", t), dc, tolerance(t.act));
  }
}

TEST_F(cuda_mixer, Weights) {
  uint64_t seed = 400;
  for (const DType dt : {DType::f32, DType::f64, DType::bf16}) {
    for (const int64_t cols : {int64_t{1}, kC}) {
      for (const bool normalize : {true, false}) {
        const std::string what =
            name(dt) + " C " + std::to_string(cols) + (normalize ? " softmax" : " scalar");
        const Twin alpha = randn_twin({3, cols}, dt, ++seed), w = zeros({3, cols}, dt);
        cpu().mixer_weights_forward(alpha.cpu, w.cpu, normalize);
        gpu().mixer_weights_forward(alpha.gpu, w.gpu, normalize);
        compare("mixer_weights_forward " + what, w, tolerance(dt));
        const Twin ww = make(values(w.cpu), {3, cols}, dt);
        const Twin dw = randn_twin({3, cols}, dt, ++seed), da = randn_twin({3, cols}, dt, ++seed);
        cpu().mixer_weights_backward(ww.cpu, dw.cpu, da.cpu, normalize, false);
        gpu().mixer_weights_backward(ww.gpu, dw.gpu, da.gpu, normalize, false);
        compare("mixer_weights_backward " + what, da, tolerance(dt));
        if (!normalize) continue;
        cpu().mixer_weights_backward(ww.cpu, dw.cpu, da.cpu, true, true);
        gpu().mixer_weights_backward(ww.gpu, dw.gpu, da.gpu, true, true);
        compare("mixer_weights_backward weighted " + what, da, tolerance(dt));
      }
    }
  }
}

TEST_F(cuda_mixer, Mix) {
  uint64_t seed = 500;
  for (const Types t : kTypes) {
    for (const int64_t cols : {int64_t{1}, kC}) {
      const std::string what = label("mixer", t) + " C " + std::to_string(cols);
      const Twin b0 = randn_twin(kX, t.act, ++seed), b1 = randn_twin(kX, t.act, ++seed);
      const Twin b2 = randn_twin(kX, t.act, ++seed), w = randn_twin({3, cols}, t.param, ++seed);
      const Twin out = randn_twin(kX, t.act, ++seed);
      const Tensor cpu_b[] = {b0.cpu, b1.cpu, b2.cpu}, gpu_b[] = {b0.gpu, b1.gpu, b2.gpu};
      cpu().mixer_forward(cpu_b, 3, w.cpu, out.cpu);
      gpu().mixer_forward(gpu_b, 3, w.gpu, out.gpu);
      compare(what + " forward (+=)", out, tolerance(t.act));

      const Twin dout = randn_twin(kX, t.act, ++seed), dw = randn_twin({3, cols}, t.param, ++seed);
      const Twin d0 = randn_twin(kX, t.act, ++seed), d2 = randn_twin(kX, t.act, ++seed);
      // Branch 1's gradient is not wanted.
      const Tensor cpu_d[] = {d0.cpu, Tensor(), d2.cpu}, gpu_d[] = {d0.gpu, Tensor(), d2.gpu};
      cpu().mixer_backward(dout.cpu, cpu_b, 3, w.cpu, cpu_d, dw.cpu);
      gpu().mixer_backward(dout.gpu, gpu_b, 3, w.gpu, gpu_d, dw.gpu);
      compare(what + " backward dbranch 0", d0, tolerance(t.act));
      compare(what + " backward dbranch 2", d2, tolerance(t.act));
      compare(what + " backward dw", dw, tolerance(t.param));
    }
  }
}

TEST_F(cuda_mixer, DotAccumulate) {
  uint64_t seed = 550;
  for (const Types t : kTypes) {
    const Twin a = randn_twin(kX, t.act, ++seed), b = randn_twin(kX, t.act, ++seed);
    const Twin out = randn_twin({1, 1}, t.param, ++seed);
    cpu().dot_accumulate(a.cpu, b.cpu, out.cpu);
    gpu().dot_accumulate(a.gpu, b.gpu, out.gpu);
    compare(label("dot_accumulate", t), out, tolerance(t.param));
  }
}

TEST_F(cuda_mixer, Reductions) {
  uint64_t seed = 600;
  for (const DType dt : {DType::f32, DType::f64, DType::bf16}) {
    // Sizes around the partition boundaries: empty, one block, several, the block cap.
    for (const int64_t n :
         {int64_t{0}, int64_t{1}, int64_t{1000}, int64_t{12345}, int64_t{5000000}}) {
      const Twin x = make(randn(n, ++seed, 1.0, 0.3), {n}, dt);
      const double s = gpu().sum(x.gpu), want = cpu().sum(x.cpu);
      const double s2 = gpu().sum_squares(x.gpu), want2 = cpu().sum_squares(x.cpu);
      const std::string what = name(dt) + " n " + std::to_string(n);
      // Both sum in double: agreement to double rounding over n terms.
      report("sum " + what, std::abs(s - want) / std::max(std::abs(want), 1.0), 1e-12);
      report("sum_squares " + what, std::abs(s2 - want2) / std::max(want2, 1.0), 1e-12);
      EXPECT_EQ(gpu().sum(x.gpu), s) << "sum is reproducible, " << what;
    }
    const Twin x = randn_twin(kX, dt, ++seed), out = randn_twin({kC}, dt, ++seed);
    cpu().sum_rows(x.cpu, out.cpu);
    gpu().sum_rows(x.gpu, out.gpu);
    compare("sum_rows " + name(dt), out, tolerance(dt));
  }
}

TEST_F(cuda_mixer, RefusesMismatches) {
  const Twin b = zeros({4, 6}, DType::f32), w = zeros({2, 5}, DType::f32);
  const Tensor branches[] = {b.gpu, b.gpu};
  expect_error([&] { gpu().mixer_forward(branches, 2, w.gpu, b.gpu); },
               "expected [2, 1] or [2, 6]");
  const Twin d = zeros({5}, DType::f32);
  expect_error([&] { gpu().channel_fma_forward(b.gpu, d.gpu, b.gpu, b.gpu); }, "d has shape");
}

}  // namespace
}  // namespace pha::test
