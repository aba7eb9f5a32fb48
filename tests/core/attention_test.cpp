// Causal GQA attention on the CPU backend: forward (out and lse) against a naive reference that
// materialises the full masked score matrix in f64, backward against central finite differences
// in f64 (accumulating into pre-filled gradients), f32 vs f64, determinism, bad shapes.
#include <fmt/format.h>
#include <omp.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/cpu/cpu_backend.h"
#include "tests/test_util.h"

namespace pha::test {
namespace {

struct AttnCase {
  int64_t batch, seq, n_q, n_kv, d_h, window;
  double q_std = 1.0;  // larger: peaked softmax rows, most probabilities underflow
  Shape q_shape() const { return Shape{batch, seq, n_q, d_h}; }
  Shape kv_shape() const { return Shape{batch, seq, n_kv, d_h}; }
  Shape lse_shape() const { return Shape{batch, n_q, seq}; }
  std::string name() const {
    return fmt::format("B{} T{} nq{} nkv{} dh{} w{}{}", batch, seq, n_q, n_kv, d_h, window,
                       q_std == 1.0 ? "" : fmt::format(" q_std{}", q_std));
  }
};

// The definition, with the full [T, T] score matrix: scores q_t . k_s / sqrt(d_h) for visible
// keys (s <= t and, with a window, s > t - window), -inf elsewhere; row softmax; times v.
void naive_attention(const AttnCase& c, const std::vector<double>& q, const std::vector<double>& k,
                     const std::vector<double>& v, std::vector<double>& out,
                     std::vector<double>& lse) {
  const int64_t T = c.seq, dh = c.d_h, group = c.n_q / c.n_kv;
  out.assign(static_cast<size_t>(c.q_shape().numel()), 0.0);
  lse.assign(static_cast<size_t>(c.lse_shape().numel()), 0.0);
  std::vector<double> scores(static_cast<size_t>(T * T));
  auto qi = [&](int64_t b, int64_t t, int64_t j) { return ((b * T + t) * c.n_q + j) * dh; };
  auto ki = [&](int64_t b, int64_t s, int64_t g) { return ((b * T + s) * c.n_kv + g) * dh; };
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t j = 0; j < c.n_q; ++j) {
      const int64_t g = j / group;
      for (int64_t t = 0; t < T; ++t)
        for (int64_t s = 0; s < T; ++s) {
          const bool visible = s <= t && (c.window == 0 || s > t - c.window);
          double dot = 0;
          for (int64_t i = 0; i < dh; ++i) dot += q[qi(b, t, j) + i] * k[ki(b, s, g) + i];
          scores[t * T + s] =
              visible ? dot / std::sqrt(double(dh)) : -std::numeric_limits<double>::infinity();
        }
      for (int64_t t = 0; t < T; ++t) {
        double m = -std::numeric_limits<double>::infinity(), z = 0;
        for (int64_t s = 0; s < T; ++s) m = std::max(m, scores[t * T + s]);
        for (int64_t s = 0; s < T; ++s) z += std::exp(scores[t * T + s] - m);
        lse[(b * c.n_q + j) * T + t] = m + std::log(z);
        for (int64_t s = 0; s < T; ++s) {
          const double p = std::exp(scores[t * T + s] - m) / z;
          for (int64_t i = 0; i < dh; ++i) out[qi(b, t, j) + i] += p * v[ki(b, s, g) + i];
        }
      }
    }
}

// The gradients by the definition, from the full probability matrix of each (b, head):
// p = softmax(scores), dp_s = dout_t . v_s, ds = p (dp - sum_s p dp), dq_t = scale sum_s ds k_s,
// dk_s = scale sum_t ds q_t, dv_s = sum_t p dout_t. Accumulates into dq, dk, dv.
void naive_attention_backward(const AttnCase& c, const std::vector<double>& q,
                              const std::vector<double>& k, const std::vector<double>& v,
                              const std::vector<double>& dout, std::vector<double>& dq,
                              std::vector<double>& dk, std::vector<double>& dv) {
  const int64_t T = c.seq, dh = c.d_h, group = c.n_q / c.n_kv;
  const double scale = 1 / std::sqrt(double(dh));
  auto qi = [&](int64_t b, int64_t t, int64_t j) { return ((b * T + t) * c.n_q + j) * dh; };
  auto ki = [&](int64_t b, int64_t s, int64_t g) { return ((b * T + s) * c.n_kv + g) * dh; };
  std::vector<double> p(static_cast<size_t>(T)), dp(static_cast<size_t>(T));
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t j = 0; j < c.n_q; ++j) {
      const int64_t g = j / group;
      for (int64_t t = 0; t < T; ++t) {
        double m = -std::numeric_limits<double>::infinity(), z = 0, big_d = 0;
        for (int64_t s = 0; s < T; ++s) {
          double dot = 0, dot_v = 0;
          for (int64_t i = 0; i < dh; ++i) {
            dot += q[qi(b, t, j) + i] * k[ki(b, s, g) + i];
            dot_v += dout[qi(b, t, j) + i] * v[ki(b, s, g) + i];
          }
          const bool visible = s <= t && (c.window == 0 || s > t - c.window);
          p[s] = visible ? dot * scale : -std::numeric_limits<double>::infinity();
          dp[s] = dot_v;
          m = std::max(m, p[s]);
        }
        for (int64_t s = 0; s < T; ++s) z += std::exp(p[s] - m);
        for (int64_t s = 0; s < T; ++s) {
          p[s] = std::exp(p[s] - m) / z;
          big_d += p[s] * dp[s];
        }
        for (int64_t s = 0; s < T; ++s) {
          const double ds = p[s] * (dp[s] - big_d);
          for (int64_t i = 0; i < dh; ++i) {
            dq[qi(b, t, j) + i] += scale * ds * k[ki(b, s, g) + i];
            dk[ki(b, s, g) + i] += scale * ds * q[qi(b, t, j) + i];
            dv[ki(b, s, g) + i] += p[s] * dout[qi(b, t, j) + i];
          }
        }
      }
    }
}

template <typename T>
struct Inputs {
  Owned<T> q, k, v;
  explicit Inputs(const AttnCase& c)
      : q(random_tensor<T>(c.q_shape(), 1, c.q_std)),
        k(random_tensor<T>(c.kv_shape(), 2)),
        v(random_tensor<T>(c.kv_shape(), 3)) {}
};

TEST(Attention, ForwardMatchesNaiveReference) {
  CpuBackend cpu;
  std::vector<AttnCase> cases;
  for (auto [n_q, n_kv] : {std::pair{4, 4}, {4, 2}, {6, 2}, {3, 1}})
    for (int64_t d_h : {2, 8, 16})
      for (int64_t seq : {1, 7, 33})
        for (int64_t window : {0, 1, 3}) cases.push_back({2, seq, n_q, n_kv, d_h, window});
  cases.push_back({2, 33, 4, 2, 8, 40});    // a window wider than T is full attention
  cases.push_back({2, 200, 4, 2, 16, 0});   // large enough for the multi-threaded path
  cases.push_back({2, 200, 6, 2, 16, 50});  // and with a window
  double worst = 0;
  for (const AttnCase& c : cases) {
    Inputs<double> in(c);
    Owned<double> out(c.q_shape()), lse(c.lse_shape());
    cpu.attention_forward(in.q, in.k, in.v, out, lse, c.window);
    std::vector<double> want_out, want_lse;
    naive_attention(c, in.q.data, in.k.data, in.v.data, want_out, want_lse);
    const double e_out = rel_error(out.data, want_out), e_lse = rel_error(lse.data, want_lse);
    worst = std::max({worst, e_out, e_lse});
    EXPECT_LT(e_out, 1e-13) << c.name();
    EXPECT_LT(e_lse, 1e-13) << c.name();
    if (c.window == 1) {
      EXPECT_LT(e_out, 1e-15) << "window 1 copies v: " << c.name();
    }
  }
  std::printf("  %zu cases, worst rel error vs naive %.3e\n", cases.size(), worst);
}

std::vector<double> minus(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> d(a.size());
  for (size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  return d;
}

TEST(Attention, BackwardMatchesFiniteDifferences) {
  CpuBackend cpu;
  // Together these cover n_q/n_kv 4/4, 4/2, 6/2, 3/1; d_h 2, 8, 16; T 1, 7, 33; windows 0, 1, 3.
  const AttnCase cases[] = {
      {2, 7, 4, 4, 8, 0},    {2, 7, 4, 2, 2, 3},     {1, 33, 6, 2, 16, 0}, {2, 33, 3, 1, 8, 3},
      {2, 1, 4, 2, 16, 0},   {1, 7, 3, 1, 2, 1},     {1, 33, 4, 4, 2, 1},  {2, 7, 6, 2, 8, 3},
      {1, 160, 4, 2, 64, 0}, {2, 160, 6, 2, 16, 20},  // multi-threaded path
  };
  for (const AttnCase& c : cases) {
    Inputs<double> in(c);
    const auto probe = random_tensor<double>(c.q_shape(), 4);
    Owned<double> out(c.q_shape()), lse(c.lse_shape());
    cpu.attention_forward(in.q, in.k, in.v, out, lse, c.window);
    const auto dq0 = random_tensor<double>(c.q_shape(), 5);
    const auto dk0 = random_tensor<double>(c.kv_shape(), 6);
    const auto dv0 = random_tensor<double>(c.kv_shape(), 7);
    auto dq = dq0, dk = dk0, dv = dv0;
    cpu.attention_backward(probe, in.q, in.k, in.v, out, lse, dq, dk, dv, c.window);
    auto loss = [&] {
      Owned<double> o(c.q_shape()), l(c.lse_shape());
      cpu.attention_forward(in.q, in.k, in.v, o, l, c.window);
      return probe_loss(o.data, probe.data);
    };
    // Long rows: fewer points (each costs two forwards), and a larger step, as the loss sums
    // more terms and its rounding error divided by the step would dominate.
    const size_t points = c.seq > 100 ? 40 : 400;
    const double step = c.seq > 100 ? 1e-5 : 1e-6;
    if (c.seq == 1 || c.window == 1) {
      // Every row sees one key with probability 1: q and k do not matter, their gradients are 0
      // (up to rounding; a relative error against exact zeros means nothing).
      for (const auto& g : {minus(dq.data, dq0.data), minus(dk.data, dk0.data)})
        for (double x : g) EXPECT_LT(std::abs(x), 1e-14) << c.name();
    } else {
      check_gradient(("attention dq " + c.name()).c_str(), in.q.data, minus(dq.data, dq0.data),
                     loss, 1e-6, step, points);
      check_gradient(("attention dk " + c.name()).c_str(), in.k.data, minus(dk.data, dk0.data),
                     loss, 1e-6, step, points);
    }
    check_gradient(("attention dv " + c.name()).c_str(), in.v.data, minus(dv.data, dv0.data), loss,
                   1e-6, step, points);
  }
}

// The tiled kernel's edge cases against the definitions, forward and backward, in f64: head
// dims that fill whole groups of registers, single registers and a scalar tail (75, 20, 5; an
// AVX-512 f64 register holds 8, an f32 one 16), T not a multiple of the tile (~64 rows) or of the
// key block (64): 1, 97, 130; GQA ratios 1, 2, 4; full causal, a window of 1, and windows that
// end inside a key block (70) or cover several (150 > T).
TEST(Attention, TiledKernelMatchesDefinitionOnEdgeCases) {
  CpuBackend cpu;
  std::vector<AttnCase> cases;
  for (auto [n_q, n_kv] : {std::pair{2, 2}, {4, 2}, {8, 2}})
    for (int64_t d_h : {75, 20, 5})
      for (int64_t seq : {1, 97})
        for (int64_t window : {0, 1, 70}) cases.push_back({2, seq, n_q, n_kv, d_h, window});
  cases.push_back({1, 130, 8, 2, 20, 0});
  cases.push_back({1, 130, 4, 1, 75, 150});
  cases.push_back({1, 130, 4, 4, 5, 70, 12.0});  // peaked rows: most probabilities underflow
  double worst = 0;
  for (const AttnCase& c : cases) {
    Inputs<double> in(c);
    const auto dout = random_tensor<double>(c.q_shape(), 4);
    Owned<double> out(c.q_shape()), lse(c.lse_shape());
    cpu.attention_forward(in.q, in.k, in.v, out, lse, c.window);
    auto dq = random_tensor<double>(c.q_shape(), 5), dk = random_tensor<double>(c.kv_shape(), 6),
         dv = random_tensor<double>(c.kv_shape(), 7);
    auto want_dq = dq.data, want_dk = dk.data, want_dv = dv.data;
    cpu.attention_backward(dout, in.q, in.k, in.v, out, lse, dq, dk, dv, c.window);
    std::vector<double> want_out, want_lse;
    naive_attention(c, in.q.data, in.k.data, in.v.data, want_out, want_lse);
    naive_attention_backward(c, in.q.data, in.k.data, in.v.data, dout.data, want_dq, want_dk,
                             want_dv);
    const double errors[] = {rel_error(out.data, want_out), rel_error(lse.data, want_lse),
                             rel_error(dq.data, want_dq), rel_error(dk.data, want_dk),
                             rel_error(dv.data, want_dv)};
    const char* names[] = {"out", "lse", "dq", "dk", "dv"};
    for (int i = 0; i < 5; ++i) {
      worst = std::max(worst, errors[i]);
      EXPECT_LT(errors[i], 1e-12) << names[i] << " " << c.name();
    }
  }
  std::printf("  %zu cases, worst rel error vs the definitions %.3e\n", cases.size(), worst);
}

// Copies positions [t0, t1) of x [B, T, n, d] (dim 1).
Owned<double> positions(const Owned<double>& x, int64_t t0, int64_t t1) {
  const Shape& s = x.t.shape;
  Owned<double> part(Shape{s[0], t1 - t0, s[2], s[3]});
  const int64_t row = s[2] * s[3];
  for (int64_t b = 0; b < s[0]; ++b)
    for (int64_t t = t0; t < t1; ++t)
      for (int64_t i = 0; i < row; ++i)
        part[static_cast<size_t>((b * (t1 - t0) + t - t0) * row + i)] =
            x.data[static_cast<size_t>((b * s[1] + t) * row + i)];
  return part;
}

// The block ops of ring attention: queries split at position 41 and keys at 60 (not at tile or
// block boundaries), each query part run against each key part at its global positions (merging
// into the first), give the whole-sequence attention; the block backwards sum to its gradients.
TEST(Attention, BlocksMergeToTheWholeSequence) {
  CpuBackend cpu;
  for (const AttnCase& c : {AttnCase{2, 97, 8, 2, 20, 0}, AttnCase{1, 97, 4, 2, 75, 30}}) {
    Inputs<double> in(c);
    const auto dout = random_tensor<double>(c.q_shape(), 4);
    Owned<double> out(c.q_shape()), lse(c.lse_shape()), dq(c.q_shape()), dk(c.kv_shape()),
        dv(c.kv_shape());
    for (const Owned<double>* g : {&dq, &dk, &dv}) cpu.fill(*g, 0.0);
    cpu.attention_forward(in.q, in.k, in.v, out, lse, c.window);
    cpu.attention_backward(dout, in.q, in.k, in.v, out, lse, dq, dk, dv, c.window);
    const int64_t q_split[] = {0, 41, c.seq}, k_split[] = {0, 60, c.seq};
    std::vector<Owned<double>> part_dk, part_dv;  // per key part, summed over the query parts
    for (int kb = 0; kb < 2; ++kb) {
      part_dk.emplace_back(Shape{c.batch, k_split[kb + 1] - k_split[kb], c.n_kv, c.d_h});
      part_dv.emplace_back(part_dk.back().t.shape);
      cpu.fill(part_dk.back(), 0.0);
      cpu.fill(part_dv.back(), 0.0);
    }
    for (int qa = 0; qa < 2; ++qa) {
      const int64_t t0 = q_split[qa], t1 = q_split[qa + 1];
      const auto q = positions(in.q, t0, t1), g = positions(dout, t0, t1);
      Owned<double> o(q.t.shape), l(Shape{c.batch, c.n_q, t1 - t0}), part_dq(q.t.shape);
      cpu.fill(part_dq, 0.0);
      for (int kb = 0; kb < 2; ++kb) {
        const int64_t s0 = k_split[kb], s1 = k_split[kb + 1];
        cpu.attention_block_forward(q, positions(in.k, s0, s1), positions(in.v, s0, s1), o, l,
                                    c.window, t0, s0, kb > 0);
      }
      EXPECT_LT(rel_error(o.data, positions(out, t0, t1).data), 1e-13) << c.name();
      for (int kb = 0; kb < 2; ++kb) {
        const int64_t s0 = k_split[kb], s1 = k_split[kb + 1];
        cpu.attention_block_backward(g, q, positions(in.k, s0, s1), positions(in.v, s0, s1), o, l,
                                     part_dq, part_dk[kb], part_dv[kb], c.window, t0, s0);
      }
      EXPECT_LT(rel_error(part_dq.data, positions(dq, t0, t1).data), 1e-12) << c.name();
    }
    for (int kb = 0; kb < 2; ++kb) {
      const int64_t s0 = k_split[kb], s1 = k_split[kb + 1];
      EXPECT_LT(rel_error(part_dk[kb].data, positions(dk, s0, s1).data), 1e-12) << c.name();
      EXPECT_LT(rel_error(part_dv[kb].data, positions(dv, s0, s1).data), 1e-12) << c.name();
    }
  }
}

// Forward and backward outputs (out, lse, dq, dk, dv) in T; gradients start at zero.
template <typename T>
std::vector<std::vector<double>> run_attention(const AttnCase& c) {
  CpuBackend cpu;
  Inputs<T> in(c);
  const auto dout = random_tensor<T>(c.q_shape(), 8);
  Owned<T> out(c.q_shape()), lse(c.lse_shape()), dq(c.q_shape()), dk(c.kv_shape()),
      dv(c.kv_shape());
  for (const Owned<T>* g : {&dq, &dk, &dv}) cpu.fill(*g, 0.0);
  cpu.attention_forward(in.q, in.k, in.v, out, lse, c.window);
  cpu.attention_backward(dout, in.q, in.k, in.v, out, lse, dq, dk, dv, c.window);
  std::vector<std::vector<double>> all;
  for (const Owned<T>* o : {&out, &lse, &dq, &dk, &dv})
    all.emplace_back(o->data.begin(), o->data.end());
  return all;
}

TEST(Attention, Float32MatchesFloat64AndIsDeterministic) {
  const char* names[] = {"out", "lse", "dq", "dk", "dv"};
  for (const AttnCase& c : {AttnCase{2, 257, 6, 2, 64, 0}, AttnCase{2, 257, 4, 1, 16, 31},
                            AttnCase{2, 150, 4, 2, 12, 0, 12.0}, AttnCase{1, 130, 8, 2, 75, 70},
                            AttnCase{1, 97, 8, 2, 40, 0}}) {
    const auto f = run_attention<float>(c), d = run_attention<double>(c);
    for (size_t i = 0; i < f.size(); ++i) {
      const double err = rel_error(f[i], d[i]);
      std::printf("  f32 vs f64 %-3s %-26s rel error %.3e\n", names[i], c.name().c_str(), err);
      EXPECT_LT(err, 1e-5) << names[i] << " " << c.name();
    }
    // Same bits on one thread: no sum depends on the thread count or on scheduling.
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    EXPECT_TRUE(run_attention<float>(c) == f) << c.name();
    omp_set_num_threads(threads);
  }
}

TEST(Attention, BadShapesAreRefused) {
  CpuBackend cpu;
  const AttnCase c{1, 5, 6, 2, 8, 0};
  Inputs<double> in(c);
  Owned<double> out(c.q_shape()), lse(c.lse_shape()), k4({1, 5, 4, 8}), k_short({1, 4, 2, 8});
  Owned<double> lse_bad({1, 5, 6}), k_dh({1, 5, 2, 4}), dk_bad({1, 5, 3, 8});
  Owned<float> out32(c.q_shape());
  expect_error([&] { cpu.attention_forward(in.q, k4, k4, out, lse, 0); },
               "n_q = 6 query heads is not a multiple of n_kv = 4 key/value heads");
  expect_error([&] { cpu.attention_forward(in.q, k_short, k_short, out, lse, 0); },
               "they must agree in B, T and d_h");
  expect_error([&] { cpu.attention_forward(in.q, k_dh, k_dh, out, lse, 0); },
               "they must agree in B, T and d_h");
  expect_error([&] { cpu.attention_forward(in.q, in.k, k4, out, lse, 0); },
               "v has shape [1, 5, 4, 8] but k has shape [1, 5, 2, 8]");
  expect_error([&] { cpu.attention_forward(in.q, in.k, in.v, out, lse_bad, 0); },
               "lse has shape [1, 5, 6], expected [1, 6, 5]");
  expect_error([&] { cpu.attention_forward(in.q, in.k, in.v, out, lse, -1); },
               "window must be >= 0");
  expect_error([&] { cpu.attention_forward(in.q, in.k, in.v, out32, lse, 0); },
               "mixed element types");
  expect_error(
      [&] { cpu.attention_backward(out, in.q, in.k, in.v, out, lse, out, dk_bad, in.v, 0); },
      "dk has shape [1, 5, 3, 8] but k has shape [1, 5, 2, 8]");
}

}  // namespace
}  // namespace pha::test
