// Flash attention on the GPU against the CPU backend (cuda_test_util.h): causal and sliding
// window, GQA groups, head widths on both register tiles (<= 64, <= 128) and odd ones, sequence
// lengths that are not multiples of any tile, in f32, f64 and bf16.
//
// Tolerances (norm-wise relative): forward f32 1e-5; backward f32 2e-5 (dq, dk, dv sum products
// of recomputed probabilities over up to T keys or T queries, each side in its own order, so
// their rounding errors of about sqrt(T) 2^-24 add up); f64 1e-12; bf16 4e-3 (one output
// rounding; the backward reads the GPU's own bf16 forward output on both sides).
#include "tests/gpu/cuda_test_util.h"

namespace pha::test {
namespace {

using cuda_attention = CudaVsCpu;

struct Case {
  int64_t b, t, n_q, n_kv, d_h, window;
};

const Case kCases[] = {
    {2, 77, 4, 2, 64, 0},    // GQA groups of 2, d_h on the 64-wide tile
    {1, 130, 3, 1, 128, 0},  // one kv head for all, the 128-wide tile
    {2, 100, 2, 2, 48, 17},  // sliding window, d_h not a power of 2
    {1, 200, 4, 1, 30, 64},  // window = a key tile
    {3, 1, 2, 1, 8, 0},      // a single position
};

std::string label(const Case& c, DType dt) {
  char s[128];
  std::snprintf(s, sizeof s, "%s B %ld T %ld n_q %ld n_kv %ld d_h %ld W %ld", name(dt).c_str(), c.b,
                c.t, c.n_q, c.n_kv, c.d_h, c.window);
  return s;
}

void run_case(CudaVsCpu& f, const Case& c, DType dt, uint64_t seed) {
  const DType stat = dt == DType::f64 ? DType::f64 : DType::f32;
  const Shape qs{c.b, c.t, c.n_q, c.d_h}, ks{c.b, c.t, c.n_kv, c.d_h}, ls{c.b, c.n_q, c.t};
  const Twin q = f.randn_twin(qs, dt, seed), k = f.randn_twin(ks, dt, seed + 1);
  const Twin v = f.randn_twin(ks, dt, seed + 2);
  const Twin out = f.zeros(qs, dt), lse = f.zeros(ls, stat);
  f.cpu().attention_forward(q.cpu, k.cpu, v.cpu, out.cpu, lse.cpu, c.window);
  f.gpu().attention_forward(q.gpu, k.gpu, v.gpu, out.gpu, lse.gpu, c.window);
  const std::string what = label(c, dt);
  const double fwd_tol = tolerance(dt), bwd_tol = dt == DType::f32 ? 2e-5 : tolerance(dt);
  f.compare("attention_forward out " + what, out, fwd_tol);
  f.compare("attention_forward lse " + what, lse, tolerance(stat));

  // Backward from the GPU's forward results on both sides; gradients start non-zero (+=).
  const Twin o = f.make(f.values(out.gpu), qs, dt), l = f.make(f.values(lse.gpu), ls, stat);
  const Twin dout = f.randn_twin(qs, dt, seed + 3), dq = f.randn_twin(qs, dt, seed + 4);
  const Twin dk = f.randn_twin(ks, dt, seed + 5), dv = f.randn_twin(ks, dt, seed + 6);
  f.cpu().attention_backward(dout.cpu, q.cpu, k.cpu, v.cpu, o.cpu, l.cpu, dq.cpu, dk.cpu, dv.cpu,
                             c.window);
  f.gpu().attention_backward(dout.gpu, q.gpu, k.gpu, v.gpu, o.gpu, l.gpu, dq.gpu, dk.gpu, dv.gpu,
                             c.window);
  f.compare("attention_backward dq " + what, dq, bwd_tol);
  f.compare("attention_backward dk " + what, dk, bwd_tol);
  f.compare("attention_backward dv " + what, dv, bwd_tol);
}

TEST_F(cuda_attention, F32) {
  uint64_t seed = 1000;
  for (const Case& c : kCases) run_case(*this, c, DType::f32, seed += 10);
}

TEST_F(cuda_attention, F64) {
  uint64_t seed = 2000;
  for (const Case& c : kCases) run_case(*this, c, DType::f64, seed += 10);
}

TEST_F(cuda_attention, Bf16) {
  uint64_t seed = 3000;
  for (const Case& c : kCases) run_case(*this, c, DType::bf16, seed += 10);
}

// No atomics: the same backward twice gives the same bits.
TEST_F(cuda_attention, BackwardIsDeterministic) {
  const Shape qs{2, 300, 4, 64}, ks{2, 300, 2, 64};
  const Twin q = randn_twin(qs, DType::f32, 1), k = randn_twin(ks, DType::f32, 2);
  const Twin v = randn_twin(ks, DType::f32, 3), dout = randn_twin(qs, DType::f32, 4);
  const Twin out = zeros(qs, DType::f32), lse = zeros({2, 4, 300}, DType::f32);
  gpu().attention_forward(q.gpu, k.gpu, v.gpu, out.gpu, lse.gpu, 0);
  std::vector<double> first[3];
  for (int run = 0; run < 2; ++run) {
    const Twin dq = zeros(qs, DType::f32), dk = zeros(ks, DType::f32), dv = zeros(ks, DType::f32);
    gpu().attention_backward(dout.gpu, q.gpu, k.gpu, v.gpu, out.gpu, lse.gpu, dq.gpu, dk.gpu,
                             dv.gpu, 0);
    const std::vector<double> got[3] = {values(dq.gpu), values(dk.gpu), values(dv.gpu)};
    for (int i = 0; i < 3; ++i) {
      if (run == 0)
        first[i] = got[i];
      else
        EXPECT_EQ(got[i], first[i]) << "gradient " << i;
    }
  }
}

TEST_F(cuda_attention, RefusesMismatches) {
  const Twin q = zeros({1, 4, 3, 8}, DType::f32), k = zeros({1, 4, 2, 8}, DType::f32);
  const Twin lse = zeros({1, 3, 4}, DType::f32);
  expect_error([&] { gpu().attention_forward(q.gpu, k.gpu, k.gpu, q.gpu, lse.gpu, 0); },
               "not a multiple");
  const Twin wide = zeros({1, 4, 1, 130}, DType::f32), wl = zeros({1, 1, 4}, DType::f32);
  expect_error([&] { gpu().attention_forward(wide.gpu, wide.gpu, wide.gpu, wide.gpu, wl.gpu, 0); },
               "outside the CUDA kernel's 1..128");
  const Twin h = zeros({1, 4, 1, 8}, DType::bf16), hl = zeros({1, 1, 4}, DType::bf16);
  expect_error([&] { gpu().attention_forward(h.gpu, h.gpu, h.gpu, h.gpu, hl.gpu, 0); },
               "compute type");
}

}  // namespace
}  // namespace pha::test
