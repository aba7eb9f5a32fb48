// RMSNorm, LayerNorm, row softmax and RoPE on the GPU against the CPU backend (cuda_test_util.h),
// in f32, f64 and bf16 (activations bf16 with f32 or bf16 parameters; statistics in f32).
#include <cmath>

#include "tests/gpu/cuda_test_util.h"

namespace pha::test {
namespace {

using cuda_norms = CudaVsCpu;

// Odd sizes: rows not a multiple of any chunk, channels not a multiple of a warp; 700 rows make
// several column-reduction chunks.
const Shape kX{7, 100, 203};
constexpr int64_t kRows = 700, kC = 203;

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

TEST_F(cuda_norms, RmsNorm) {
  uint64_t seed = 10;
  for (const Types t : kTypes) {
    const DType stat = t.act == DType::f64 ? DType::f64 : DType::f32;
    const Twin x = randn_twin(kX, t.act, ++seed, 2.0), g = randn_twin({kC}, t.param, ++seed);
    const Twin y = zeros(kX, t.act), rstd = zeros({kRows}, stat);
    cpu().rmsnorm_forward(x.cpu, g.cpu, y.cpu, rstd.cpu, 1e-5);
    gpu().rmsnorm_forward(x.gpu, g.gpu, y.gpu, rstd.gpu, 1e-5);
    compare(label("rmsnorm_forward y", t), y, tolerance(t.act));
    compare(label("rmsnorm_forward rstd", t), rstd, tolerance(stat));

    // Backward from the CPU's rstd on both sides; dx and dg start non-zero (they accumulate).
    const Twin r = make(values(rstd.cpu), {kRows}, stat);
    const Twin dy = randn_twin(kX, t.act, ++seed), dx = randn_twin(kX, t.act, ++seed);
    const Twin dg = randn_twin({kC}, t.param, ++seed);
    cpu().rmsnorm_backward(dy.cpu, x.cpu, g.cpu, r.cpu, dx.cpu, dg.cpu);
    gpu().rmsnorm_backward(dy.gpu, x.gpu, g.gpu, r.gpu, dx.gpu, dg.gpu);
    compare(label("rmsnorm_backward dx", t), dx, tolerance(t.act));
    compare(label("rmsnorm_backward dg", t), dg, tolerance(t.param));
  }
}

TEST_F(cuda_norms, LayerNorm) {
  uint64_t seed = 30;
  for (const Types t : kTypes) {
    const DType stat = t.act == DType::f64 ? DType::f64 : DType::f32;
    const Twin x = make(randn(kX.numel(), ++seed, 1.5, 3.0), kX, t.act);  // offset mean
    const Twin gamma = randn_twin({kC}, t.param, ++seed), beta = randn_twin({kC}, t.param, ++seed);
    const Twin y = zeros(kX, t.act), mean = zeros({kRows}, stat), rstd = zeros({kRows}, stat);
    cpu().layernorm_forward(x.cpu, gamma.cpu, beta.cpu, y.cpu, mean.cpu, rstd.cpu, 1e-5);
    gpu().layernorm_forward(x.gpu, gamma.gpu, beta.gpu, y.gpu, mean.gpu, rstd.gpu, 1e-5);
    compare(label("layernorm_forward y", t), y, tolerance(t.act));
    compare(label("layernorm_forward mean", t), mean, tolerance(stat));
    compare(label("layernorm_forward rstd", t), rstd, tolerance(stat));

    const Twin m = make(values(mean.cpu), {kRows}, stat), r = make(values(rstd.cpu), {kRows}, stat);
    const Twin dy = randn_twin(kX, t.act, ++seed), dx = randn_twin(kX, t.act, ++seed);
    const Twin dgamma = randn_twin({kC}, t.param, ++seed),
               dbeta = randn_twin({kC}, t.param, ++seed);
    cpu().layernorm_backward(dy.cpu, x.cpu, gamma.cpu, m.cpu, r.cpu, dx.cpu, dgamma.cpu, dbeta.cpu);
    gpu().layernorm_backward(dy.gpu, x.gpu, gamma.gpu, m.gpu, r.gpu, dx.gpu, dgamma.gpu, dbeta.gpu);
    compare(label("layernorm_backward dx", t), dx, tolerance(t.act));
    compare(label("layernorm_backward dgamma", t), dgamma, tolerance(t.param));
    compare(label("layernorm_backward dbeta", t), dbeta, tolerance(t.param));
  }
}

// The parameter-gradient reductions are bit-reproducible: the same call twice gives the same bits.
TEST_F(cuda_norms, GainGradientIsDeterministic) {
  const Twin x = randn_twin({4096, 256}, DType::f32, 1), g = randn_twin({256}, DType::f32, 2);
  const Twin r = make(std::vector<double>(4096, 0.7), {4096}, DType::f32);
  const Twin dy = randn_twin({4096, 256}, DType::f32, 3);
  std::vector<double> first;
  for (int run = 0; run < 2; ++run) {
    const Twin dx = zeros({4096, 256}, DType::f32), dg = zeros({256}, DType::f32);
    gpu().rmsnorm_backward(dy.gpu, x.gpu, g.gpu, r.gpu, dx.gpu, dg.gpu);
    if (run == 0)
      first = values(dg.gpu);
    else
      EXPECT_EQ(values(dg.gpu), first);
  }
}

TEST_F(cuda_norms, Softmax) {
  uint64_t seed = 50;
  for (const DType dt : {DType::f32, DType::f64, DType::bf16}) {
    for (const Shape shape : {Shape{37, 5}, Shape{3, 11, 1000}, Shape{2, 4099}}) {
      const std::string what = "softmax " + name(dt) + " " + shape.str();
      const Twin x = randn_twin(shape, dt, ++seed, 3.0), y = zeros(shape, dt);
      cpu().softmax_forward(x.cpu, y.cpu);
      gpu().softmax_forward(x.gpu, y.gpu);
      compare(what + " forward", y, tolerance(dt));
      gpu().softmax_forward(x.gpu, x.gpu);  // y aliases x
      report(what + " forward in place", rel_error(values(x.gpu), values(y.cpu)), tolerance(dt));

      const Twin yy = make(values(y.cpu), shape, dt);
      const Twin dy = randn_twin(shape, dt, ++seed), dx = randn_twin(shape, dt, ++seed);
      cpu().softmax_backward(yy.cpu, dy.cpu, dx.cpu);
      gpu().softmax_backward(yy.gpu, dy.gpu, dx.gpu);
      compare(what + " backward", dx, tolerance(dt));
    }
  }
}

// table [t_max, d_h/2, 2] = (cos, sin) of p theta_i, theta_i = 10000^(-2i/d_h), as rope_table.h.
std::vector<double> rope_table(int64_t t_max, int64_t d_h) {
  std::vector<double> t(static_cast<size_t>(t_max * d_h));
  for (int64_t p = 0; p < t_max; ++p)
    for (int64_t i = 0; i < d_h / 2; ++i) {
      const double angle = static_cast<double>(p) * std::pow(10000.0, -2.0 * i / d_h);
      t[static_cast<size_t>((p * d_h / 2 + i) * 2)] = std::cos(angle);
      t[static_cast<size_t>((p * d_h / 2 + i) * 2 + 1)] = std::sin(angle);
    }
  return t;
}

TEST_F(cuda_norms, Rope) {
  uint64_t seed = 70;
  const int64_t t_max = 40, d_h = 22;
  const Shape shape{3, 33, 5, d_h}, table_shape{t_max, d_h / 2, 2};
  for (const DType dt : {DType::f32, DType::f64, DType::bf16}) {
    // The CPU reads a table of its own dtype; the GPU's bf16 activations read an f32 table.
    const DType table_dtype = dt == DType::bf16 ? DType::f32 : dt;
    const Twin table = make(rope_table(t_max, d_h), table_shape, table_dtype);
    const Twin x = randn_twin(shape, dt, ++seed), y = zeros(shape, dt);
    cpu().rope_forward(x.cpu, table.cpu, y.cpu);
    gpu().rope_forward(x.gpu, table.gpu, y.gpu);
    compare("rope_forward " + name(dt), y, tolerance(dt));
    gpu().rope_forward(x.gpu, table.gpu, x.gpu);
    report("rope_forward in place " + name(dt), rel_error(values(x.gpu), values(y.cpu)),
           tolerance(dt));

    const Twin dy = randn_twin(shape, dt, ++seed), dx = randn_twin(shape, dt, ++seed);
    cpu().rope_backward(dy.cpu, table.cpu, dx.cpu);
    gpu().rope_backward(dy.gpu, table.gpu, dx.gpu);
    compare("rope_backward " + name(dt), dx, tolerance(dt));
  }
}

TEST_F(cuda_norms, RefusesMismatches) {
  const Twin x = zeros({4, 8}, DType::bf16), g16 = zeros({8}, DType::bf16);
  const Twin r16 = zeros({4}, DType::bf16), y = zeros({4, 8}, DType::bf16);
  expect_error([&] { gpu().rmsnorm_forward(x.gpu, g16.gpu, y.gpu, r16.gpu, 1e-5); },
               "row statistics");
  const Twin g64 = zeros({8}, DType::f64), r32 = zeros({4}, DType::f32);
  expect_error([&] { gpu().rmsnorm_forward(x.gpu, g64.gpu, y.gpu, r32.gpu, 1e-5); },
               "a parameter has their dtype");
  const Twin q = zeros({1, 4, 2, 8}, DType::f32), table = zeros({3, 4, 2}, DType::f32);
  expect_error([&] { gpu().rope_forward(q.gpu, table.gpu, q.gpu); }, "T_max >= T");
}

}  // namespace
}  // namespace pha::test
