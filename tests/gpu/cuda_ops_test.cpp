// The CUDA backend's foundation ops against references computed here with plain loops in f64
// (independent of the CPU backend). Each test prints its measured norm-wise relative error.
//
// Tolerances (norm-wise relative error):
// - f32 storage and compute: 1e-5 (cuBLAS runs pure fp32, no TF32).
// - f64: 1e-12.
// - bf16 storage: 4e-3 = 2^-8, twice bf16's rounding error of 2^-9 (8 significant bits). Inputs
//   are rounded to bf16 before the reference sees them, so only output rounding and f32 compute
//   count. bf16 x bf16 -> f32 matmuls: 1e-5 (the products are exact in fp32, sums are fp32).
//
// Without a GPU every cuda_ops test skips with the reason; the cuda_device tests check how the
// backend refuses, and so run on machines without a GPU too. The suites are named in lower case
// so that `ctest -R cuda` (case-sensitive) selects them.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "core/cuda/cuda_device.h"
#include "core/cuda/gemm_plan.h"
#include "core/cuda/make_cuda_backend.h"
#include "tests/test_util.h"

namespace pha {
namespace {

using test::expect_error;
using test::rel_error;

constexpr double kF32Tol = 1e-5;
constexpr double kF64Tol = 1e-12;
constexpr double kBf16Tol = 4e-3;

double tolerance(DType dtype) {
  return dtype == DType::f64 ? kF64Tol : dtype == DType::bf16 ? kBf16Tol : kF32Tol;
}

// bf16 on the host: the top half of an f32's bits, rounded to nearest even (as the GPU rounds).
uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float from_bf16(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// The value a tensor of `dtype` stores for v.
double stored(double v, DType dtype) {
  switch (dtype) {
    case DType::f32:
      return static_cast<float>(v);
    case DType::bf16:
      return from_bf16(to_bf16(static_cast<float>(v)));
    default:
      return v;
  }
}

std::vector<double> stored(std::vector<double> v, DType dtype) {
  for (double& x : v) x = stored(x, dtype);
  return v;
}

// normal(mean, stddev) values from Philox (seed, stream 7, index).
std::vector<double> randn(size_t n, uint64_t seed, double stddev = 1.0, double mean = 0.0) {
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = mean + stddev * philox_normal(seed, 7, i);
  return v;
}

// GELU, tanh form, and its derivative, written out here in f64 as the reference.
double ref_gelu(double x) {
  const double k = std::sqrt(2.0 / M_PI), inner = k * (x + 0.044715 * x * x * x);
  return 0.5 * x * (1.0 + std::tanh(inner));
}

double ref_gelu_grad(double x) {
  const double k = std::sqrt(2.0 / M_PI), inner = k * (x + 0.044715 * x * x * x);
  const double th = std::tanh(inner);
  return 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * k * (1.0 + 3.0 * 0.044715 * x * x);
}

void report(const char* what, double err, double tol) {
  std::printf("  %-44s rel error %.3e  (tol %.1e)\n", what, err, tol);
  EXPECT_LE(err, tol) << what;
}

// gtest discourages '_' in names only where suite_test pairs could collide; none do here.
class cuda_ops : public ::testing::Test {
 public:
  void SetUp() override {
    if (cuda_device_count() == 0) GTEST_SKIP() << cuda_unavailable_reason();
    backend_ = make_cuda_backend(0);
  }

  void TearDown() override {
    for (void* p : buffers_) backend_->release(p);
  }

  Backend& gpu() { return *backend_; }

  // A GPU tensor of `dtype` holding `values` (rounded to the dtype).
  Tensor upload(const std::vector<double>& values, Shape shape, DType dtype) {
    Tensor t = empty(shape, dtype);
    EXPECT_EQ(static_cast<size_t>(shape.numel()), values.size());
    std::vector<char> host(t.bytes());
    for (size_t i = 0; i < values.size(); ++i) {
      switch (dtype) {
        case DType::f32:
          reinterpret_cast<float*>(host.data())[i] = static_cast<float>(values[i]);
          break;
        case DType::f64:
          reinterpret_cast<double*>(host.data())[i] = values[i];
          break;
        case DType::bf16:
          reinterpret_cast<uint16_t*>(host.data())[i] = to_bf16(static_cast<float>(values[i]));
          break;
        case DType::i32:
          reinterpret_cast<int32_t*>(host.data())[i] = static_cast<int32_t>(values[i]);
          break;
      }
    }
    gpu().copy_from_host(t, host.data());
    return t;
  }

  Tensor empty(Shape shape, DType dtype) {
    Tensor t(nullptr, dtype, Device::cuda, shape);
    t.data = gpu().allocate(t.bytes(), "test");
    buffers_.push_back(t.data);
    return t;
  }

  std::vector<double> download(const Tensor& t) {
    std::vector<char> host(t.bytes());
    gpu().copy_to_host(t, host.data());
    std::vector<double> out(static_cast<size_t>(t.numel()));
    for (size_t i = 0; i < out.size(); ++i) {
      switch (t.dtype) {
        case DType::f32:
          out[i] = reinterpret_cast<const float*>(host.data())[i];
          break;
        case DType::f64:
          out[i] = reinterpret_cast<const double*>(host.data())[i];
          break;
        case DType::bf16:
          out[i] = from_bf16(reinterpret_cast<const uint16_t*>(host.data())[i]);
          break;
        case DType::i32:
          out[i] = reinterpret_cast<const int32_t*>(host.data())[i];
          break;
      }
    }
    return out;
  }

  std::unique_ptr<Backend> backend_;
  std::vector<void*> buffers_;
};

// ---- matmul ----

struct MatmulCase {
  bool trans_a, trans_b;
  bool a3, b3;  // a / b carries the batch dim (else shared by every batch)
  int64_t batch, M, N, K;
  double alpha, beta;
};

// c = alpha op(a) op(b) + beta c, row-major, in f64.
std::vector<double> ref_matmul(const MatmulCase& mc, const std::vector<double>& a,
                               const std::vector<double>& b, std::vector<double> c) {
  const int64_t M = mc.M, N = mc.N, K = mc.K;
  for (int64_t bi = 0; bi < mc.batch; ++bi)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) {
          const double av = a[static_cast<size_t>((mc.a3 ? bi * M * K : 0) +
                                                  (mc.trans_a ? k * M + m : m * K + k))];
          const double bv = b[static_cast<size_t>((mc.b3 ? bi * K * N : 0) +
                                                  (mc.trans_b ? n * K + k : k * N + n))];
          s += av * bv;
        }
        double& out = c[static_cast<size_t>(bi * M * N + m * N + n)];
        out = mc.alpha * s + mc.beta * out;
      }
  return c;
}

void run_matmul(cuda_ops& f, Backend& gpu, const MatmulCase& mc, DType ab_dtype, DType c_dtype,
                double tol, uint64_t seed) {
  const bool batched = mc.a3 || mc.b3;
  const Shape a2 = mc.trans_a ? Shape{mc.K, mc.M} : Shape{mc.M, mc.K};
  const Shape b2 = mc.trans_b ? Shape{mc.N, mc.K} : Shape{mc.K, mc.N};
  const Shape a_shape = mc.a3 ? Shape{mc.batch, a2[0], a2[1]} : a2;
  const Shape b_shape = mc.b3 ? Shape{mc.batch, b2[0], b2[1]} : b2;
  const Shape c_shape = batched ? Shape{mc.batch, mc.M, mc.N} : Shape{mc.M, mc.N};

  const auto a = stored(randn(static_cast<size_t>(a_shape.numel()), seed), ab_dtype);
  const auto b = stored(randn(static_cast<size_t>(b_shape.numel()), seed + 1), ab_dtype);
  const auto c0 = stored(randn(static_cast<size_t>(c_shape.numel()), seed + 2), c_dtype);
  const Tensor ta = f.upload(a, a_shape, ab_dtype);
  const Tensor tb = f.upload(b, b_shape, ab_dtype);
  const Tensor tc = f.upload(c0, c_shape, c_dtype);
  gpu.matmul(ta, mc.trans_a, tb, mc.trans_b, tc, mc.alpha, mc.beta);
  const auto want = ref_matmul(mc, a, b, c0);

  char what[160];
  std::snprintf(what, sizeof what, "matmul %s%s x %s%s -> %s%s a%s b%s beta %.1f",
                a_shape.str().c_str(), mc.trans_a ? "T" : "", b_shape.str().c_str(),
                mc.trans_b ? "T" : "", std::string(dtype_name(c_dtype)).c_str(),
                c_shape.str().c_str(), std::string(dtype_name(ab_dtype)).c_str(),
                std::string(dtype_name(ab_dtype)).c_str(), mc.beta);
  report(what, rel_error(f.download(tc), want), tol);
}

std::vector<MatmulCase> matmul_cases() {
  std::vector<MatmulCase> cases;
  // Odd sizes, so no dimension is a multiple of a tile.
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      cases.push_back({ta, tb, false, false, 1, 37, 29, 53, 1.0, 0.0});  // 2-D
      cases.push_back({ta, tb, true, true, 3, 19, 23, 31, 1.5, 0.5});    // batched, beta
      cases.push_back({ta, tb, true, false, 3, 19, 23, 31, 1.0, 1.0});   // shared b
      cases.push_back({ta, tb, false, true, 3, 19, 23, 31, -0.5, 0.0});  // shared a
    }
  return cases;
}

TEST_F(cuda_ops, MatmulF32) {
  uint64_t seed = 100;
  for (const auto& mc : matmul_cases())
    run_matmul(*this, gpu(), mc, DType::f32, DType::f32, kF32Tol, seed += 3);
}

TEST_F(cuda_ops, MatmulF64) {
  uint64_t seed = 200;
  for (const auto& mc : matmul_cases())
    run_matmul(*this, gpu(), mc, DType::f64, DType::f64, kF64Tol, seed += 3);
}

TEST_F(cuda_ops, MatmulBf16) {
  uint64_t seed = 300;
  for (const auto& mc : matmul_cases()) {
    run_matmul(*this, gpu(), mc, DType::bf16, DType::bf16, kBf16Tol, seed += 3);
    run_matmul(*this, gpu(), mc, DType::bf16, DType::f32, kF32Tol, seed += 3);
  }
}

// The linear layer's wrappers route through matmul: y = x w^T; dx += dy w; dw += dy^T x.
TEST_F(cuda_ops, LinearForwardBackwardF32) {
  const int64_t B = 2, T = 5, in = 12, out = 7;
  const auto x = stored(randn(static_cast<size_t>(B * T * in), 1), DType::f32);
  const auto w = stored(randn(static_cast<size_t>(out * in), 2), DType::f32);
  const auto dy = stored(randn(static_cast<size_t>(B * T * out), 3), DType::f32);
  const auto dx0 = stored(randn(static_cast<size_t>(B * T * in), 4), DType::f32);
  const auto dw0 = stored(randn(static_cast<size_t>(out * in), 5), DType::f32);
  const Tensor tx = upload(x, {B, T, in}, DType::f32), tw = upload(w, {out, in}, DType::f32);
  const Tensor ty = empty({B, T, out}, DType::f32), tdy = upload(dy, {B, T, out}, DType::f32);
  const Tensor tdx = upload(dx0, {B, T, in}, DType::f32), tdw = upload(dw0, {out, in}, DType::f32);
  gpu().linear_forward(tx, tw, ty);
  gpu().linear_backward(tdy, tx, tw, tdx, tdw);

  std::vector<double> y(static_cast<size_t>(B * T * out)), dx = dx0, dw = dw0;
  for (int64_t r = 0; r < B * T; ++r)
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i) {
        const size_t xi = static_cast<size_t>(r * in + i), wi = static_cast<size_t>(o * in + i);
        const size_t yi = static_cast<size_t>(r * out + o);
        y[yi] += x[xi] * w[wi];
        dx[xi] += dy[yi] * w[wi];
        dw[wi] += dy[yi] * x[xi];
      }
  report("linear_forward y", rel_error(download(ty), y), kF32Tol);
  report("linear_backward dx (accumulated)", rel_error(download(tdx), dx), kF32Tol);
  report("linear_backward dw (accumulated)", rel_error(download(tdw), dw), kF32Tol);
}

TEST_F(cuda_ops, MatmulRefusesMixedTypes) {
  const Tensor a = empty({4, 5}, DType::f32), b = empty({5, 3}, DType::f32);
  const Tensor c16 = empty({4, 3}, DType::bf16);
  expect_error([&] { gpu().matmul(a, false, b, false, c16); }, "bf16 x bf16");
}

// ---- GELU ----

constexpr int64_t kN = 10007;  // odd, many blocks, not a multiple of the block size

TEST_F(cuda_ops, GeluForward) {
  for (DType dt : {DType::f32, DType::f64, DType::bf16}) {
    const auto x = stored(randn(kN, 11, 3.0), dt);  // wide, so both tails are exercised
    const Tensor tx = upload(x, {kN}, dt), ty = empty({kN}, dt);
    gpu().gelu_forward(tx, ty);
    std::vector<double> want(x.size());
    for (size_t i = 0; i < x.size(); ++i) want[i] = ref_gelu(x[i]);
    const std::string what = "gelu_forward " + std::string(dtype_name(dt));
    report(what.c_str(), rel_error(download(ty), want), tolerance(dt));

    gpu().gelu_forward(tx, tx);  // y aliases x
    report((what + " in place").c_str(), rel_error(download(tx), want), tolerance(dt));
  }
}

TEST_F(cuda_ops, GeluBackwardAccumulates) {
  for (DType dt : {DType::f32, DType::f64, DType::bf16}) {
    const auto x = stored(randn(kN, 21, 3.0), dt);
    const auto dy = stored(randn(kN, 22), dt);
    const auto dx0 = stored(randn(kN, 23), dt);
    const Tensor tx = upload(x, {kN}, dt), tdy = upload(dy, {kN}, dt), tdx = upload(dx0, {kN}, dt);
    gpu().gelu_backward(tx, tdy, tdx);
    std::vector<double> want(x.size());
    for (size_t i = 0; i < x.size(); ++i) want[i] = dx0[i] + ref_gelu_grad(x[i]) * dy[i];
    const std::string what = "gelu_backward " + std::string(dtype_name(dt));
    report(what.c_str(), rel_error(download(tdx), want), tolerance(dt));
  }
}

// ---- element-wise ----

TEST_F(cuda_ops, Elementwise) {
  const Shape shape{7, 11, 131};  // 10087 elements
  const size_t n = static_cast<size_t>(shape.numel());
  for (DType dt : {DType::f32, DType::f64, DType::bf16}) {
    const double tol = tolerance(dt);
    const std::string name(dtype_name(dt));
    const auto a = stored(randn(n, 31), dt), b = stored(randn(n, 32), dt);
    const Tensor ta = upload(a, shape, dt), tb = upload(b, shape, dt), out = empty(shape, dt);
    std::vector<double> want(n);

    gpu().add(ta, tb, out);
    for (size_t i = 0; i < n; ++i) want[i] = a[i] + b[i];
    report(("add " + name).c_str(), rel_error(download(out), want), tol);

    gpu().mul(ta, tb, out);
    for (size_t i = 0; i < n; ++i) want[i] = a[i] * b[i];
    report(("mul " + name).c_str(), rel_error(download(out), want), tol);

    gpu().scale(ta, -0.75, out);
    for (size_t i = 0; i < n; ++i) want[i] = -0.75 * a[i];
    report(("scale " + name).c_str(), rel_error(download(out), want), tol);

    const auto y0 = stored(randn(n, 33), dt);
    const Tensor ty = upload(y0, shape, dt);
    gpu().axpy(0.3, ta, ty);
    for (size_t i = 0; i < n; ++i) want[i] = y0[i] + 0.3 * a[i];
    report(("axpy " + name).c_str(), rel_error(download(ty), want), tol);

    const auto dy = stored(randn(n, 34), dt);
    const auto da0 = stored(randn(n, 35), dt), db0 = stored(randn(n, 36), dt);
    const Tensor tdy = upload(dy, shape, dt);
    const Tensor tda = upload(da0, shape, dt), tdb = upload(db0, shape, dt);
    std::vector<double> want_db(n);
    gpu().mul_backward(tdy, ta, tb, tda, tdb);
    for (size_t i = 0; i < n; ++i) {
      want[i] = da0[i] + dy[i] * b[i];
      want_db[i] = db0[i] + dy[i] * a[i];
    }
    report(("mul_backward da " + name).c_str(), rel_error(download(tda), want), tol);
    report(("mul_backward db " + name).c_str(), rel_error(download(tdb), want_db), tol);
    // Only db wanted: da is untouched.
    const Tensor tdb2 = upload(db0, shape, dt);
    gpu().mul_backward(tdy, ta, tb, Tensor(), tdb2);
    report(("mul_backward db only " + name).c_str(), rel_error(download(tdb2), want_db), tol);
  }
}

TEST_F(cuda_ops, ElementwiseRefusesMismatches) {
  const Tensor a = empty({4, 5}, DType::f32), b = empty({5, 4}, DType::f32);
  const Tensor h = empty({4, 5}, DType::bf16);
  expect_error([&] { gpu().add(a, b, a); }, "must match");
  expect_error([&] { gpu().mul(a, h, a); }, "share one dtype");
  std::vector<float> host(20);
  const Tensor on_cpu(host.data(), DType::f32, Device::cpu, {4, 5});
  expect_error([&] { gpu().scale(on_cpu, 2.0, a); }, "works on GPU tensors");
}

// ---- memory, fill, copy ----

TEST_F(cuda_ops, FillCopyAndConvert) {
  const int64_t n = 5003;
  const auto x = randn(static_cast<size_t>(n), 41, 10.0);
  const Tensor f32 = upload(x, {n}, DType::f32);

  // f32 -> bf16 rounds to nearest even, exactly as the host does; bf16 -> f32 is exact.
  const Tensor h = empty({n}, DType::bf16), back = empty({n}, DType::f32);
  gpu().copy(f32, h);
  gpu().copy(h, back);
  EXPECT_EQ(download(h), stored(x, DType::bf16));
  EXPECT_EQ(download(back), stored(x, DType::bf16));

  const Tensor f64 = empty({n}, DType::f64), f32b = empty({n}, DType::f32);
  gpu().copy(f32, f64);
  gpu().copy(f64, f32b);
  EXPECT_EQ(download(f32b), stored(x, DType::f32));
  const Tensor same = empty({n}, DType::f32);
  gpu().copy(f32, same);
  EXPECT_EQ(download(same), stored(x, DType::f32));

  for (DType dt : {DType::f32, DType::f64, DType::bf16, DType::i32}) {
    const Tensor t = empty({n}, dt);
    gpu().fill(t, 3.0);
    EXPECT_EQ(download(t), std::vector<double>(static_cast<size_t>(n), 3.0)) << dtype_name(dt);
    gpu().memset_zero(t.data, t.bytes());
    EXPECT_EQ(download(t), std::vector<double>(static_cast<size_t>(n), 0.0)) << dtype_name(dt);
  }
  gpu().synchronize();
}

// ---- the cuBLAS arguments of matmul (checked on the host: these run without a GPU) ----

// cublasGemmStridedBatchedEx as cuBLAS documents it (column-major), after checking the argument
// rules it enforces; vector::at catches any read outside the operands.
void cublas_gemm_on_host(const cuda::GemmPlan& p, double alpha, const std::vector<double>& first,
                         const std::vector<double>& second, double beta, std::vector<double>& c) {
  const auto at_least = [](int64_t v) { return std::max<int64_t>(1, v); };
  EXPECT_GE(p.ld_first, at_least(p.trans_first ? p.k : p.m));
  EXPECT_GE(p.ld_second, at_least(p.trans_second ? p.n : p.k));
  EXPECT_GE(p.ld_c, at_least(p.m));
  for (int64_t bi = 0; bi < p.batch_count; ++bi)
    for (int64_t j = 0; j < p.n; ++j)
      for (int64_t i = 0; i < p.m; ++i) {
        double s = 0;
        for (int64_t l = 0; l < p.k; ++l) {
          const int64_t x =
              bi * p.stride_first + (p.trans_first ? l + i * p.ld_first : i + l * p.ld_first);
          const int64_t y =
              bi * p.stride_second + (p.trans_second ? j + l * p.ld_second : l + j * p.ld_second);
          s += first.at(static_cast<size_t>(x)) * second.at(static_cast<size_t>(y));
        }
        double& out = c.at(static_cast<size_t>(bi * p.stride_c + i + j * p.ld_c));
        out = alpha * s + beta * out;
      }
}

TEST(cuda_gemm_plan, MatchesTheRowMajorContract) {
  auto cases = matmul_cases();
  for (bool ta : {false, true}) cases.push_back({ta, false, true, false, 2, 3, 4, 0, 1.0, 0.5});
  uint64_t seed = 500;
  for (const auto& mc : cases) {
    const Shape a2 = mc.trans_a ? Shape{mc.K, mc.M} : Shape{mc.M, mc.K};
    const Shape b2 = mc.trans_b ? Shape{mc.N, mc.K} : Shape{mc.K, mc.N};
    const Shape a_shape = mc.a3 ? Shape{mc.batch, a2[0], a2[1]} : a2;
    const Shape b_shape = mc.b3 ? Shape{mc.batch, b2[0], b2[1]} : b2;
    const Shape c_shape = mc.a3 || mc.b3 ? Shape{mc.batch, mc.M, mc.N} : Shape{mc.M, mc.N};
    const auto a = randn(static_cast<size_t>(a_shape.numel()), seed += 3);
    const auto b = randn(static_cast<size_t>(b_shape.numel()), seed + 1);
    const auto c0 = randn(static_cast<size_t>(c_shape.numel()), seed + 2);
    const Tensor ta(nullptr, DType::f32, Device::cpu, a_shape);
    const Tensor tb(nullptr, DType::f32, Device::cpu, b_shape);
    const Tensor tc(nullptr, DType::f32, Device::cpu, c_shape);
    const cuda::GemmPlan plan = cuda::plan_gemm(ta, mc.trans_a, tb, mc.trans_b, tc);
    auto c = c0;
    cublas_gemm_on_host(plan, mc.alpha, b, a, mc.beta, c);
    EXPECT_LE(rel_error(c, ref_matmul(mc, a, b, c0)), 1e-14)
        << "a " << a_shape.str() << (mc.trans_a ? "^T" : "") << " b " << b_shape.str()
        << (mc.trans_b ? "^T" : "");
  }
}

TEST(cuda_gemm_plan, RefusesShapesThatDoNotFit) {
  const auto t = [](Shape s) { return Tensor(nullptr, DType::f32, Device::cpu, s); };
  expect_error(
      [&] {
        cuda::plan_gemm(t({4, 5}), false, t({6, 3}), false, t({4, 3}));
      },
      "shapes do not fit");
  expect_error(
      [&] {
        cuda::plan_gemm(t({4, 5}), true, t({5, 3}), false, t({4, 3}));
      },
      "shapes do not fit");
  expect_error(
      [&] {
        cuda::plan_gemm(t({2, 4, 5}), false, t({3, 5, 3}), false, t({2, 4, 3}));
      },
      "shapes do not fit");
  expect_error(
      [&] {
        cuda::plan_gemm(t({2, 4, 5}), false, t({5, 3}), false, t({4, 3}));
      },
      "c must be 3-D");
  expect_error(
      [&] {
        cuda::plan_gemm(t({5}), false, t({5, 3}), false, t({1, 3}));
      },
      "must be 2-D or 3-D");
}

// ---- device discovery and the factory (these run without a GPU too) ----

TEST(cuda_device, CountIsStableAndExplained) {
  const int count = cuda_device_count();
  std::printf("  visible GPUs: %d%s%s\n", count, count ? "" : "; ",
              count ? "" : cuda_unavailable_reason().c_str());
  EXPECT_EQ(cuda_device_count(), count);
  EXPECT_EQ(cuda_unavailable_reason().empty(), count > 0);
  // With a GPU the probe leaves no error for later checks to trip on. (Without a driver the
  // runtime never initialises and every call, cudaGetLastError too, returns that error.)
  if (count > 0) {
    EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  }
}

TEST(cuda_device, FactoryExplainsItsRefusal) {
  const int count = cuda_device_count();
  if (count == 0) {
    expect_error([] { make_cuda_backend(0); }, "no usable CUDA GPU");
    expect_error([] { make_cuda_backend(0); }, "run with --device cpu");
  } else {
    expect_error([&] { make_cuda_backend(count); }, "GPU(s) are visible");
  }
}

}  // namespace
}  // namespace pha
