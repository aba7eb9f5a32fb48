#include "core/profiling_backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <initializer_list>
#include <type_traits>
#include <utility>
#include <vector>

namespace pha {

namespace {

double bytes_of(std::initializer_list<const Tensor*> tensors) {
  double b = 0;
  for (const Tensor* t : tensors)
    if (!t->empty()) b += static_cast<double>(t->bytes());
  return b;
}

double bytes_of(const Tensor* tensors, int n) {
  double b = 0;
  for (int i = 0; tensors && i < n; ++i)
    if (!tensors[i].empty()) b += static_cast<double>(tensors[i].bytes());
  return b;
}

// 2 M N K per batch of c = op(a) op(b): c [M, N] or [batch, M, N]; K is op(a)'s last dim.
double matmul_flops(const Tensor& a, bool trans_a, const Tensor& c) {
  const int64_t k = trans_a ? a.dim(a.rank() - 2) : a.dim(a.rank() - 1);
  return 2.0 * static_cast<double>(c.numel()) * static_cast<double>(k);
}

}  // namespace

double attention_flops(const Tensor& q, int64_t window, bool backward) {
  const int64_t batch = q.dim(0), seq = q.dim(1), n_q = q.dim(2), d_h = q.dim(3);
  // Score pairs (query, visible key): row t sees min(t + 1, window) keys.
  double pairs = 0;
  if (window <= 0 || window >= seq) {
    pairs = static_cast<double>(seq) * static_cast<double>(seq + 1) / 2.0;
  } else {
    const double w = static_cast<double>(window);
    pairs = w * (w + 1) / 2.0 + static_cast<double>(seq - window) * w;
  }
  const double matmuls = backward ? 5.0 : 2.0;
  return matmuls * 2.0 * pairs * static_cast<double>(batch * n_q * d_h);
}

template <typename Fn>
auto ProfilingBackend::timed(const char* op, double flops, double bytes, Fn&& fn) {
  const auto start = std::chrono::steady_clock::now();
  auto account = [&] {
    if (sync_) inner_.synchronize();
    OpStats& s = stats_[op];
    s.calls += 1;
    s.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    s.flops += flops;
    s.bytes += bytes;
  };
  if constexpr (std::is_void_v<decltype(fn())>) {
    fn();
    account();
  } else {
    auto result = fn();
    account();
    return result;
  }
}

void* ProfilingBackend::allocate(size_t bytes, const std::string& label) {
  return timed("allocate", 0, 0, [&] { return inner_.allocate(bytes, label); });
}
void ProfilingBackend::release(void* ptr) {
  timed("release", 0, 0, [&] { inner_.release(ptr); });
}
void ProfilingBackend::memset_zero(void* ptr, size_t bytes) {
  timed("memset_zero", 0, static_cast<double>(bytes), [&] { inner_.memset_zero(ptr, bytes); });
}
void ProfilingBackend::copy_from_host(const Tensor& dst, const void* src) {
  timed("copy_from_host", 0, 2 * bytes_of({&dst}), [&] { inner_.copy_from_host(dst, src); });
}
void ProfilingBackend::copy_to_host(const Tensor& src, void* dst) {
  timed("copy_to_host", 0, 2 * bytes_of({&src}), [&] { inner_.copy_to_host(src, dst); });
}
void ProfilingBackend::copy(const Tensor& src, const Tensor& dst) {
  timed("copy", 0, bytes_of({&src, &dst}), [&] { inner_.copy(src, dst); });
}
void ProfilingBackend::fill(const Tensor& t, double value) {
  timed("fill", 0, bytes_of({&t}), [&] { inner_.fill(t, value); });
}

void ProfilingBackend::matmul(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b,
                              const Tensor& c, double alpha, double beta) {
  timed("matmul", matmul_flops(a, trans_a, c), bytes_of({&a, &b, &c}),
        [&] { inner_.matmul(a, trans_a, b, trans_b, c, alpha, beta); });
}

void ProfilingBackend::embedding_forward(const Tensor& tokens, const Tensor& table,
                                         const Tensor& out) {
  timed("embedding_forward", 0, bytes_of({&tokens, &out}),
        [&] { inner_.embedding_forward(tokens, table, out); });
}
void ProfilingBackend::embedding_backward(const Tensor& tokens, const Tensor& dout,
                                          const Tensor& dtable) {
  timed("embedding_backward", 0, bytes_of({&tokens, &dout}),
        [&] { inner_.embedding_backward(tokens, dout, dtable); });
}

void ProfilingBackend::rmsnorm_forward(const Tensor& x, const Tensor& g, const Tensor& y,
                                       const Tensor& rstd, double eps) {
  timed("rmsnorm_forward", 0, bytes_of({&x, &g, &y, &rstd}),
        [&] { inner_.rmsnorm_forward(x, g, y, rstd, eps); });
}
void ProfilingBackend::rmsnorm_backward(const Tensor& dy, const Tensor& x, const Tensor& g,
                                        const Tensor& rstd, const Tensor& dx, const Tensor& dg) {
  timed("rmsnorm_backward", 0, bytes_of({&dy, &x, &g, &rstd, &dx, &dg}),
        [&] { inner_.rmsnorm_backward(dy, x, g, rstd, dx, dg); });
}
void ProfilingBackend::layernorm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                         const Tensor& y, const Tensor& mean, const Tensor& rstd,
                                         double eps) {
  timed("layernorm_forward", 0, bytes_of({&x, &gamma, &beta, &y, &mean, &rstd}),
        [&] { inner_.layernorm_forward(x, gamma, beta, y, mean, rstd, eps); });
}
void ProfilingBackend::layernorm_backward(const Tensor& dy, const Tensor& x, const Tensor& gamma,
                                          const Tensor& mean, const Tensor& rstd, const Tensor& dx,
                                          const Tensor& dgamma, const Tensor& dbeta) {
  timed("layernorm_backward", 0, bytes_of({&dy, &x, &gamma, &mean, &rstd, &dx, &dgamma, &dbeta}),
        [&] { inner_.layernorm_backward(dy, x, gamma, mean, rstd, dx, dgamma, dbeta); });
}

void ProfilingBackend::gelu_forward(const Tensor& x, const Tensor& y) {
  timed("gelu_forward", 0, bytes_of({&x, &y}), [&] { inner_.gelu_forward(x, y); });
}
void ProfilingBackend::gelu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) {
  timed("gelu_backward", 0, bytes_of({&x, &dy, &dx}), [&] { inner_.gelu_backward(x, dy, dx); });
}
void ProfilingBackend::softmax_forward(const Tensor& x, const Tensor& y) {
  timed("softmax_forward", 0, bytes_of({&x, &y}), [&] { inner_.softmax_forward(x, y); });
}
void ProfilingBackend::softmax_backward(const Tensor& y, const Tensor& dy, const Tensor& dx) {
  timed("softmax_backward", 0, bytes_of({&y, &dy, &dx}),
        [&] { inner_.softmax_backward(y, dy, dx); });
}

void ProfilingBackend::rope_forward(const Tensor& x, const Tensor& table, const Tensor& y) {
  timed("rope_forward", 0, bytes_of({&x, &y}), [&] { inner_.rope_forward(x, table, y); });
}
void ProfilingBackend::rope_backward(const Tensor& dy, const Tensor& table, const Tensor& dx) {
  timed("rope_backward", 0, bytes_of({&dy, &dx}), [&] { inner_.rope_backward(dy, table, dx); });
}

void ProfilingBackend::attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                         const Tensor& out, const Tensor& lse, int64_t window) {
  timed("attention_forward", attention_flops(q, window, false), bytes_of({&q, &k, &v, &out, &lse}),
        [&] { inner_.attention_forward(q, k, v, out, lse, window); });
}
void ProfilingBackend::attention_backward(const Tensor& dout, const Tensor& q, const Tensor& k,
                                          const Tensor& v, const Tensor& out, const Tensor& lse,
                                          const Tensor& dq, const Tensor& dk, const Tensor& dv,
                                          int64_t window) {
  timed("attention_backward", attention_flops(q, window, true),
        bytes_of({&dout, &q, &k, &v, &out, &lse, &dq, &dk, &dv}),
        [&] { inner_.attention_backward(dout, q, k, v, out, lse, dq, dk, dv, window); });
}

// Block attention is timed without a FLOP count (its visible pairs depend on the positions).
void ProfilingBackend::attention_block_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                               const Tensor& out, const Tensor& lse, int64_t window,
                                               int64_t q_pos, int64_t k_pos, bool merge) {
  timed("attention_block_forward", 0, bytes_of({&q, &k, &v, &out, &lse}),
        [&] { inner_.attention_block_forward(q, k, v, out, lse, window, q_pos, k_pos, merge); });
}
void ProfilingBackend::attention_block_backward(const Tensor& dout, const Tensor& q,
                                                const Tensor& k, const Tensor& v, const Tensor& out,
                                                const Tensor& lse, const Tensor& dq,
                                                const Tensor& dk, const Tensor& dv, int64_t window,
                                                int64_t q_pos, int64_t k_pos) {
  timed(
      "attention_block_backward", 0, bytes_of({&dout, &q, &k, &v, &out, &lse, &dq, &dk, &dv}), [&] {
        inner_.attention_block_backward(dout, q, k, v, out, lse, dq, dk, dv, window, q_pos, k_pos);
      });
}

void ProfilingBackend::cross_entropy_forward(const Tensor& logits, const Tensor& targets,
                                             const Tensor& losses, const Tensor& lse) {
  timed("cross_entropy_forward", 0, bytes_of({&logits, &targets, &losses, &lse}),
        [&] { inner_.cross_entropy_forward(logits, targets, losses, lse); });
}
void ProfilingBackend::cross_entropy_backward(const Tensor& logits, const Tensor& lse,
                                              const Tensor& targets, double scale,
                                              const Tensor& dlogits) {
  timed("cross_entropy_backward", 0, bytes_of({&logits, &lse, &targets, &dlogits}),
        [&] { inner_.cross_entropy_backward(logits, lse, targets, scale, dlogits); });
}

void ProfilingBackend::vocab_parallel_max(const Tensor& logits, const Tensor& row_max) {
  timed("vocab_parallel_max", 0, bytes_of({&logits, &row_max}),
        [&] { inner_.vocab_parallel_max(logits, row_max); });
}
void ProfilingBackend::vocab_parallel_sums(const Tensor& logits, const Tensor& targets,
                                           int64_t vocab_offset, const Tensor& row_max,
                                           const Tensor& stats) {
  timed("vocab_parallel_sums", 0, bytes_of({&logits, &targets, &row_max, &stats}),
        [&] { inner_.vocab_parallel_sums(logits, targets, vocab_offset, row_max, stats); });
}
void ProfilingBackend::vocab_parallel_loss(const Tensor& row_max, const Tensor& stats,
                                           const Tensor& targets, const Tensor& losses,
                                           const Tensor& lse) {
  timed("vocab_parallel_loss", 0, bytes_of({&row_max, &stats, &targets, &losses, &lse}),
        [&] { inner_.vocab_parallel_loss(row_max, stats, targets, losses, lse); });
}
void ProfilingBackend::vocab_parallel_backward(const Tensor& logits, const Tensor& lse,
                                               const Tensor& targets, int64_t vocab_offset,
                                               double scale, const Tensor& dlogits) {
  timed("vocab_parallel_backward", 0, bytes_of({&logits, &lse, &targets, &dlogits}), [&] {
    inner_.vocab_parallel_backward(logits, lse, targets, vocab_offset, scale, dlogits);
  });
}

void ProfilingBackend::add(const Tensor& a, const Tensor& b, const Tensor& out) {
  timed("add", 0, bytes_of({&a, &b, &out}), [&] { inner_.add(a, b, out); });
}
void ProfilingBackend::mul(const Tensor& a, const Tensor& b, const Tensor& out) {
  timed("mul", 0, bytes_of({&a, &b, &out}), [&] { inner_.mul(a, b, out); });
}
void ProfilingBackend::mul_backward(const Tensor& dy, const Tensor& a, const Tensor& b,
                                    const Tensor& da, const Tensor& db) {
  timed("mul_backward", 0, bytes_of({&dy, &a, &b, &da, &db}),
        [&] { inner_.mul_backward(dy, a, b, da, db); });
}
void ProfilingBackend::scale(const Tensor& x, double s, const Tensor& out) {
  timed("scale", 0, bytes_of({&x, &out}), [&] { inner_.scale(x, s, out); });
}
void ProfilingBackend::axpy(double s, const Tensor& x, const Tensor& y) {
  timed("axpy", 0, bytes_of({&x, &y}), [&] { inner_.axpy(s, x, y); });
}
void ProfilingBackend::channel_fma_forward(const Tensor& x, const Tensor& d, const Tensor& c,
                                           const Tensor& y) {
  timed("channel_fma_forward", 0, bytes_of({&x, &c, &y}),
        [&] { inner_.channel_fma_forward(x, d, c, y); });
}
void ProfilingBackend::channel_fma_backward(const Tensor& dy, const Tensor& x, const Tensor& d,
                                            const Tensor& dx, const Tensor& dd, const Tensor& dc) {
  timed("channel_fma_backward", 0, bytes_of({&dy, &x, &dx, &dc}),
        [&] { inner_.channel_fma_backward(dy, x, d, dx, dd, dc); });
}

void ProfilingBackend::mixer_weights_forward(const Tensor& alpha, const Tensor& w, bool normalize) {
  timed("mixer_weights_forward", 0, bytes_of({&alpha, &w}),
        [&] { inner_.mixer_weights_forward(alpha, w, normalize); });
}
void ProfilingBackend::mixer_weights_backward(const Tensor& w, const Tensor& dw,
                                              const Tensor& dalpha, bool normalize,
                                              bool dw_weighted) {
  timed("mixer_weights_backward", 0, bytes_of({&w, &dw, &dalpha}),
        [&] { inner_.mixer_weights_backward(w, dw, dalpha, normalize, dw_weighted); });
}
void ProfilingBackend::mixer_forward(const Tensor* branches, int n, const Tensor& w,
                                     const Tensor& out) {
  timed("mixer_forward", 0, bytes_of(branches, n) + 2 * bytes_of({&out}),
        [&] { inner_.mixer_forward(branches, n, w, out); });
}
void ProfilingBackend::mixer_backward(const Tensor& dout, const Tensor* branches, int n,
                                      const Tensor& w, const Tensor* dbranches, const Tensor& dw) {
  timed("mixer_backward", 0, bytes_of({&dout}) + bytes_of(branches, n) + 2 * bytes_of(dbranches, n),
        [&] { inner_.mixer_backward(dout, branches, n, w, dbranches, dw); });
}
void ProfilingBackend::dot_accumulate(const Tensor& a, const Tensor& b, const Tensor& out) {
  timed("dot_accumulate", 0, bytes_of({&a, &b}), [&] { inner_.dot_accumulate(a, b, out); });
}

double ProfilingBackend::sum(const Tensor& x) {
  return timed("sum", 0, bytes_of({&x}), [&] { return inner_.sum(x); });
}
double ProfilingBackend::sum_squares(const Tensor& x) {
  return timed("sum_squares", 0, bytes_of({&x}), [&] { return inner_.sum_squares(x); });
}
void ProfilingBackend::sum_rows(const Tensor& x, const Tensor& out) {
  timed("sum_rows", 0, bytes_of({&x, &out}), [&] { inner_.sum_rows(x, out); });
}

void ProfilingBackend::dss_kernel_forward(const Tensor& lambda_re, const Tensor& lambda_im,
                                          const Tensor& c_re, const Tensor& c_im,
                                          const Tensor& kernel) {
  timed("dss_kernel_forward", 0, bytes_of({&kernel}),
        [&] { inner_.dss_kernel_forward(lambda_re, lambda_im, c_re, c_im, kernel); });
}
void ProfilingBackend::dss_kernel_backward(const Tensor& dkernel, const Tensor& lambda_re,
                                           const Tensor& lambda_im, const Tensor& c_re,
                                           const Tensor& c_im, const Tensor& dlambda_re,
                                           const Tensor& dlambda_im, const Tensor& dc_re,
                                           const Tensor& dc_im) {
  timed("dss_kernel_backward", 0, bytes_of({&dkernel}), [&] {
    inner_.dss_kernel_backward(dkernel, lambda_re, lambda_im, c_re, c_im, dlambda_re, dlambda_im,
                               dc_re, dc_im);
  });
}
void ProfilingBackend::causal_conv_forward(const Tensor& u, const Tensor& kernel, const Tensor& y,
                                           ConvAlgo algo) {
  timed("causal_conv_forward", 0, bytes_of({&u, &kernel, &y}),
        [&] { inner_.causal_conv_forward(u, kernel, y, algo); });
}
void ProfilingBackend::causal_conv_backward(const Tensor& dy, const Tensor& u, const Tensor& kernel,
                                            const Tensor& du, const Tensor& dkernel,
                                            ConvAlgo algo) {
  timed("causal_conv_backward", 0, bytes_of({&dy, &u, &kernel, &du, &dkernel}),
        [&] { inner_.causal_conv_backward(dy, u, kernel, du, dkernel, algo); });
}

std::string profile_table(const std::map<std::string, ProfilingBackend::OpStats>& stats,
                          int64_t steps, double seconds_per_step) {
  std::vector<std::pair<std::string, ProfilingBackend::OpStats>> rows(stats.begin(), stats.end());
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
  const double n = static_cast<double>(std::max<int64_t>(steps, 1));
  std::string out =
      "| op | calls/step | ms/step | % of step | GFLOP/s | GB/s |\n|---|---|---|---|---|---|\n";
  double op_seconds = 0;
  for (const auto& [name, s] : rows) {
    op_seconds += s.seconds / n;
    const double ms = 1e3 * s.seconds / n;
    const std::string gflops = s.flops > 0 ? fmt::format("{:.1f}", s.flops / s.seconds / 1e9) : "";
    const std::string gbs =
        s.flops == 0 && s.bytes > 0 ? fmt::format("{:.1f}", s.bytes / s.seconds / 1e9) : "";
    out += fmt::format("| {} | {:.0f} | {:.2f} | {:.1f}% | {} | {} |\n", name,
                       static_cast<double>(s.calls) / n, ms,
                       100.0 * s.seconds / n / seconds_per_step, gflops, gbs);
  }
  const double outside = seconds_per_step - op_seconds;
  out += fmt::format("| outside ops | | {:.2f} | {:.1f}% | | |\n", 1e3 * outside,
                     100.0 * outside / seconds_per_step);
  return out;
}

}  // namespace pha
