// The GSS causal convolution (cuFFT and direct) and the DSS kernel on the GPU against the CPU
// backend (cuda_test_util.h).
//
// Tolerances (norm-wise relative): conv and DSS f32 2e-5: the CPU tests hold each f32 path within
// 1e-5 of f64 (tests/core/conv_test.cpp, dss_test.cpp), and here two such paths (FFTW vs cuFFT,
// OpenBLAS vs cuBLAS, each with its own order) meet; f64 1e-11 (FFTs of length up to 2048, about
// log2(n) roundings per value); bf16 conv 4e-3 (computed in f32, one output rounding).
#include "tests/gpu/cuda_test_util.h"

namespace pha::test {
namespace {

using cuda_conv_dss = CudaVsCpu;

double conv_tol(DType dt) {
  return dt == DType::f64 ? 1e-11 : dt == DType::bf16 ? kBf16Tol : 2e-5;
}

TEST_F(cuda_conv_dss, CausalConv) {
  uint64_t seed = 700;
  for (const DType dt : {DType::f32, DType::f64, DType::bf16}) {
    for (const ConvAlgo algo : {ConvAlgo::fft, ConvAlgo::direct}) {
      for (const Shape shape : {Shape{2, 37, 5}, Shape{3, 300, 33}, Shape{1, 1, 4}}) {
        const std::string what =
            name(dt) + (algo == ConvAlgo::fft ? " fft " : " direct ") + shape.str();
        const Shape ks{shape[1], shape[2]};
        const Twin u = randn_twin(shape, dt, ++seed), k = randn_twin(ks, dt, ++seed, 0.3);
        const Twin y = zeros(shape, dt);
        cpu().causal_conv_forward(u.cpu, k.cpu, y.cpu, algo);
        gpu().causal_conv_forward(u.gpu, k.gpu, y.gpu, algo);
        compare("causal_conv_forward " + what, y, conv_tol(dt));

        const Twin dy = randn_twin(shape, dt, ++seed), du = randn_twin(shape, dt, ++seed);
        const Twin dk = randn_twin(ks, dt, ++seed);
        cpu().causal_conv_backward(dy.cpu, u.cpu, k.cpu, du.cpu, dk.cpu, algo);
        gpu().causal_conv_backward(dy.gpu, u.gpu, k.gpu, du.gpu, dk.gpu, algo);
        compare("causal_conv_backward du " + what, du, conv_tol(dt));
        compare("causal_conv_backward dkernel " + what, dk, conv_tol(dt));
      }
    }
  }
}

// The direct algorithm on the GPU: changing u at position s leaves y before s bit for bit.
TEST_F(cuda_conv_dss, DirectIsExactlyCausal) {
  const Shape shape{2, 64, 8};
  const std::vector<double> u0 = randn(shape.numel(), 1);
  const Twin k = randn_twin({64, 8}, DType::f32, 2);
  const Twin a = make(u0, shape, DType::f32), ya = zeros(shape, DType::f32);
  std::vector<double> u1 = u0;
  const int64_t s = 40;
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t j = 0; j < 8; ++j) u1[static_cast<size_t>((b * 64 + s) * 8 + j)] += 1.0;
  const Twin bb = make(u1, shape, DType::f32), yb = zeros(shape, DType::f32);
  gpu().causal_conv_forward(a.gpu, k.gpu, ya.gpu, ConvAlgo::direct);
  gpu().causal_conv_forward(bb.gpu, k.gpu, yb.gpu, ConvAlgo::direct);
  const std::vector<double> va = values(ya.gpu), vb = values(yb.gpu);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t t = 0; t < s; ++t)
      for (int64_t j = 0; j < 8; ++j) {
        const size_t i = static_cast<size_t>((b * 64 + t) * 8 + j);
        EXPECT_EQ(va[i], vb[i]) << "b " << b << " t " << t << " j " << j;
      }
}

TEST_F(cuda_conv_dss, DssKernel) {
  uint64_t seed = 800;
  for (const DType dt : {DType::f32, DType::f64}) {
    const double tol = dt == DType::f64 ? 1e-11 : 2e-5;
    for (const int64_t t : {int64_t{1}, int64_t{100}, int64_t{1000}}) {
      const int64_t h = 24, n = 40;
      const std::string what = name(dt) + " T " + std::to_string(t);
      const Twin lr = randn_twin({n}, dt, ++seed), li = randn_twin({n}, dt, ++seed);
      const Twin cr = randn_twin({h, n}, dt, ++seed), ci = randn_twin({h, n}, dt, ++seed);
      const Twin kernel = zeros({t, h}, dt);
      cpu().dss_kernel_forward(lr.cpu, li.cpu, cr.cpu, ci.cpu, kernel.cpu);
      gpu().dss_kernel_forward(lr.gpu, li.gpu, cr.gpu, ci.gpu, kernel.gpu);
      compare("dss_kernel_forward " + what, kernel, tol);

      const Twin dk = randn_twin({t, h}, dt, ++seed);
      const Twin dlr = randn_twin({n}, dt, ++seed), dli = randn_twin({n}, dt, ++seed);
      const Twin dcr = randn_twin({h, n}, dt, ++seed), dci = randn_twin({h, n}, dt, ++seed);
      cpu().dss_kernel_backward(dk.cpu, lr.cpu, li.cpu, cr.cpu, ci.cpu, dlr.cpu, dli.cpu, dcr.cpu,
                                dci.cpu);
      gpu().dss_kernel_backward(dk.gpu, lr.gpu, li.gpu, cr.gpu, ci.gpu, dlr.gpu, dli.gpu, dcr.gpu,
                                dci.gpu);
      compare("dss_kernel_backward dlambda_re " + what, dlr, tol);
      compare("dss_kernel_backward dlambda_im " + what, dli, tol);
      compare("dss_kernel_backward dc_re " + what, dcr, tol);
      compare("dss_kernel_backward dc_im " + what, dci, tol);
    }
  }
}

TEST_F(cuda_conv_dss, RefusesMismatches) {
  const Twin u = zeros({2, 8, 3}, DType::f32), k = zeros({7, 3}, DType::f32);
  expect_error([&] { gpu().causal_conv_forward(u.gpu, k.gpu, u.gpu, ConvAlgo::fft); },
               "needs [T, H] = [8, 3]");
  const Twin l = zeros({4}, DType::bf16), c = zeros({2, 4}, DType::bf16);
  const Twin kk = zeros({5, 2}, DType::bf16);
  expect_error([&] { gpu().dss_kernel_forward(l.gpu, l.gpu, c.gpu, c.gpu, kk.gpu); },
               "computed in f32 or f64");
}

}  // namespace
}  // namespace pha::test
