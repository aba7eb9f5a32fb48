// The optimiser's GPU kernels (core/cuda/cuda_optim.h, which optim/cuda_kernels.h forwards to)
// against the CPU's math on the same tensors: the fused AdamW update over element ranges
// (adamw_update of core/math/adamw.h in a host loop, as optim/cpu_kernels.cpp runs it), the
// gradient sum of squares, the scaling and the non-finite check. AdamW is element-wise in the
// tensor's type on both sides: f32 1e-6, f64 1e-14 (only the compilers' contraction of a * b + c
// into FMAs differs).
#include "core/cuda/cuda_optim.h"

#include <cmath>
#include <limits>

#include "tests/gpu/cuda_test_util.h"

namespace pha::test {
namespace {

using cuda_optim = CudaVsCpu;

template <typename T>
void adamw_host(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v, int64_t begin,
                int64_t end, const AdamWScalars<double>& d) {
  const AdamWScalars<T> s{static_cast<T>(d.lr),
                          static_cast<T>(d.beta1),
                          static_cast<T>(d.beta2),
                          static_cast<T>(d.eps),
                          static_cast<T>(d.weight_decay),
                          static_cast<T>(d.bias_correction1),
                          static_cast<T>(d.bias_correction2)};
  for (int64_t i = begin; i < end; ++i)
    adamw_update(p.as<T>()[i], g.as<T>()[i], m.as<T>()[i], v.as<T>()[i], s);
}

TEST_F(cuda_optim, AdamW) {
  uint64_t seed = 900;
  for (const DType dt : {DType::f32, DType::f64}) {
    const double tol = dt == DType::f64 ? 1e-14 : 1e-6;
    const Shape shape{301, 7};
    const Twin p = randn_twin(shape, dt, ++seed), g = randn_twin(shape, dt, ++seed, 0.1);
    const Twin m = randn_twin(shape, dt, ++seed, 0.01);
    // The second moment is a mean of squares: never negative (a negative one makes sqrt NaN on
    // both sides, which the first GPU run showed).
    std::vector<double> second = randn(shape.numel(), ++seed, 0.001, 0.002);
    for (double& e : second) e = std::fabs(e);
    const Twin v = make(second, shape, dt);
    const AdamWScalars<double> s{
        3e-4, 0.9, 0.95, 1e-8, 0.1, 1 - std::pow(0.9, 7), 1 - std::pow(0.95, 7)};
    // Two ranges: a shard in the middle, then the whole tensor.
    for (const auto& [begin, end] : {std::pair<int64_t, int64_t>{100, 1500}, {0, 2107}}) {
      if (dt == DType::f32)
        adamw_host<float>(p.cpu, g.cpu, m.cpu, v.cpu, begin, end, s);
      else
        adamw_host<double>(p.cpu, g.cpu, m.cpu, v.cpu, begin, end, s);
      cuda::adamw_step(p.gpu, g.gpu, m.gpu, v.gpu, begin, end, s);
    }
    compare("adamw param " + name(dt), p, tol);
    compare("adamw exp_avg " + name(dt), m, tol);
    compare("adamw exp_avg_sq " + name(dt), v, tol);
  }
}

TEST_F(cuda_optim, NormScaleAndFiniteness) {
  uint64_t seed = 950;
  for (const DType dt : {DType::f32, DType::f64}) {
    const Twin g = randn_twin({1000, 33}, dt, ++seed);
    const std::vector<double> x = values(g.cpu);
    for (const auto& [begin, end] : {std::pair<int64_t, int64_t>{0, 33000}, {17, 20017}, {5, 5}}) {
      double want = 0;
      for (int64_t i = begin; i < end; ++i)
        want += x[static_cast<size_t>(i)] * x[static_cast<size_t>(i)];
      const double got = cuda::sum_squares_range(g.gpu, begin, end);
      report("sum of squares " + name(dt) + " [" + std::to_string(begin) + ", " +
                 std::to_string(end) + ")",
             std::abs(got - want) / std::max(want, 1.0), 1e-12);
    }
    cuda::scale_in_place(g.gpu, 0.25);  // exact: a power of two
    std::vector<double> quarter = x;
    for (double& e : quarter) e *= 0.25;
    EXPECT_EQ(values(g.gpu), quarter) << name(dt);
    EXPECT_TRUE(cuda::all_finite(g.gpu));
    std::vector<double> bad = x;
    bad[12345] = std::numeric_limits<double>::quiet_NaN();
    EXPECT_FALSE(cuda::all_finite(make(bad, {1000, 33}, dt).gpu));
    bad[12345] = -std::numeric_limits<double>::infinity();
    EXPECT_FALSE(cuda::all_finite(make(bad, {1000, 33}, dt).gpu));
  }
}

TEST_F(cuda_optim, RefusesRangesOutsideTheTensor) {
  const Twin g = zeros({10}, DType::f32);
  expect_error([&] { cuda::sum_squares_range(g.gpu, 5, 11); }, "outside");
}

}  // namespace
}  // namespace pha::test
