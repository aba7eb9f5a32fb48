#pragma once
// Per-row kernels of the incremental decoder (decoder.h): one query row against the KV cache, and
// one step of the GSS state recurrence. Host memory only (the decoder runs on the CPU backend).
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/math/attention.h"
#include "core/math/dss.h"

namespace pha::decoder_rows {

struct CacheDims {
  int64_t n_q, n_kv, d_h;
  int64_t max_len;  // positions per kv head in the cache
};

// out [n_q, d_h] = softmax(q k^T / sqrt(d_h)) v over cached positions [first, last] for every
// query head: q [n_q, d_h] (after RoPE); k_cache, v_cache [n_kv, max_len, d_h]; query head j reads
// kv head j / (n_q / n_kv). Scores and sums in double; scores [max_len] is scratch.
template <typename T>
void attend_cached(const T* q, const T* k_cache, const T* v_cache, const CacheDims& d,
                   int64_t first, int64_t last, double* scores, T* out) {
  const double scale = attention_scale<double>(d.d_h);
  for (int64_t j = 0; j < d.n_q; ++j) {
    const int64_t g = attention_kv_head(j, d.n_q, d.n_kv);
    const T* qj = q + j * d.d_h;
    const T* k = k_cache + g * d.max_len * d.d_h;
    const T* v = v_cache + g * d.max_len * d.d_h;
    double max_score = -INFINITY;
    for (int64_t s = first; s <= last; ++s) {
      double dot = 0;
      for (int64_t i = 0; i < d.d_h; ++i) dot += static_cast<double>(qj[i]) * k[s * d.d_h + i];
      scores[s] = dot * scale;
      max_score = std::max(max_score, scores[s]);
    }
    double sum = 0;
    for (int64_t s = first; s <= last; ++s) {
      scores[s] = std::exp(scores[s] - max_score);
      sum += scores[s];
    }
    T* oj = out + j * d.d_h;
    for (int64_t i = 0; i < d.d_h; ++i) {
      double acc = 0;
      for (int64_t s = first; s <= last; ++s) acc += scores[s] * v[s * d.d_h + i];
      oj[i] = static_cast<T>(acc / sum);
    }
  }
}

// One token of the DSS convolution as a recurrence, for every channel h < H and mode n < N:
//   S[h, n] = decay[n] S[h, n] + ct[h, n] zn[h],   conv[h] = Re(sum_n S[h, n]).
// decay [N] = exp(Lambda_n), ct [H, N] = Ct of model.md, state [H, N]; zn, conv [H].
template <typename T>
void dss_recurrence_step(const Cplx<double>* decay, const Cplx<double>* ct, Cplx<double>* state,
                         const T* zn, int64_t H, int64_t N, T* conv) {
  for (int64_t h = 0; h < H; ++h) {
    const double z = static_cast<double>(zn[h]);
    Cplx<double>* s = state + h * N;
    const Cplx<double>* c = ct + h * N;
    double acc = 0;
    for (int64_t n = 0; n < N; ++n) {
      s[n] = decay[n] * s[n] + Cplx<double>{c[n].re * z, c[n].im * z};
      acc += s[n].re;
    }
    conv[h] = static_cast<T>(acc);
  }
}

}  // namespace pha::decoder_rows
