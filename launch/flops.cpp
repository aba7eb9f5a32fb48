#include "launch/flops.h"

#include <chrono>
#include <cmath>

#include "core/arena.h"

namespace pha::launch {

double forward_flops_per_token(const ModelConfig& c, int64_t T) {
  const double d = static_cast<double>(c.d), dh = static_cast<double>(c.head_dim());
  const double attn_weights =
      d * dh * (2.0 * static_cast<double>(c.n_q) + 2.0 * static_cast<double>(c.n_kv));
  const double attn_scores =
      2.0 * 2.0 * static_cast<double>(c.n_q) * dh * (static_cast<double>(T) + 1) / 2.0;
  const double ffn_weights = 2.0 * d * static_cast<double>(c.d_ff);
  const double F = static_cast<double>(c.gss_f), H = static_cast<double>(c.gss_h);
  const double gss_weights = F * d + H * d + F * H + d * F;
  const double n_fft = 2.0 * static_cast<double>(T);
  const double gss_fft = 3.0 * 2.5 * n_fft * std::log2(n_fft) * H / static_cast<double>(T);
  double per_layer = 0;
  if (c.block.serial) {
    per_layer = 2.0 * (attn_weights + ffn_weights) + attn_scores;
  } else {
    if (c.block.attention) per_layer += 2.0 * attn_weights + attn_scores;
    if (c.block.ffn) per_layer += 2.0 * ffn_weights;
    if (c.block.gss) per_layer += 2.0 * gss_weights + gss_fft;
  }
  const double head = 2.0 * static_cast<double>(c.vocab_padded()) * d;
  return static_cast<double>(c.n_layers) * per_layer + head;
}

double recompute_flops_per_token(const ModelConfig& c, int64_t T, Recompute mode) {
  if (mode == Recompute::none) return 0;
  const double d = static_cast<double>(c.d), dh = static_cast<double>(c.head_dim());
  const double layers = static_cast<double>(c.n_layers);
  const double head = 2.0 * static_cast<double>(c.vocab_padded()) * d;
  if (mode == Recompute::full) {
    const double ffn_out = c.block.serial ? 2.0 * d * static_cast<double>(c.d_ff) : 0.0;
    return forward_flops_per_token(c, T) - head - layers * ffn_out;
  }
  const double qkv = 2.0 * d * dh * static_cast<double>(c.n_q + 2 * c.n_kv);
  const double ffn_in = 2.0 * d * static_cast<double>(c.d_ff);
  const double F = static_cast<double>(c.gss_f), H = static_cast<double>(c.gss_h);
  const double gss_in = 2.0 * (F * d + H * d + F * H);
  double per_layer = 0;
  if (c.block.serial || c.block.attention) per_layer += qkv;
  if (c.block.serial || c.block.ffn) per_layer += ffn_in;
  if (!c.block.serial && c.block.gss) per_layer += gss_in;
  return layers * per_layer;
}

double measure_matmul_peak(Backend& backend, int64_t n, int repeats, DType dtype) {
  SizeTable table;
  table.add("a", {n, n}, dtype);
  table.add("b", {n, n}, dtype);
  table.add("c", {n, n}, dtype);
  Arena arena(backend, table, "matmul peak probe");
  backend.fill(arena.get("a"), 0.5);
  backend.fill(arena.get("b"), 0.25);
  double best = 1e30;
  for (int r = 0; r <= repeats; ++r) {
    backend.synchronize();
    const auto start = std::chrono::steady_clock::now();
    backend.matmul(arena.get("a"), false, arena.get("b"), false, arena.get("c"));
    backend.synchronize();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (r > 0) best = std::min(best, seconds);  // the first run warms caches and threads
  }
  return 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n) / best;
}

}  // namespace pha::launch
