#pragma once
// Launchers of the CUDA kernels, defined in the .cu files: plain C++ entry points that the
// CudaBackend members call after validating shapes and dtypes. fmt-free (see cuda_check.h).
//
// Element-wise kernels take n elements of one storage dtype: f32 and bf16 are computed in f32,
// f64 in f64. Every kernel is launched on l.stream and returns without waiting.
//
// Mixed dtypes (see cuda_backend.h): `act` is the activations' storage dtype, `param` a
// parameter's (act, or f32 under bf16 activations); row statistics (rstd, mean, lse, losses) are
// in the compute type (float for f32 and bf16, double for f64). `partial` buffers hold the
// doubles that launch_plan.h's plan_columns / plan_sum ask for.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"
#include "core/math/adamw.h"

namespace pha::cuda {

constexpr int kBlock = 256;  // threads per block of the grid-stride kernels

struct Launch {
  cudaStream_t stream = nullptr;
  int64_t max_blocks = 1;  // grid-stride kernels launch at most this many blocks
};

// p[i] = value (f32, f64, bf16 or i32).
void fill(const Launch& l, DType dtype, void* p, int64_t n, double value);
// dst[i] = src[i] converted (f32, f64, bf16 in any pair; to bf16 rounds to nearest even).
void convert(const Launch& l, DType from, const void* src, DType to, void* dst, int64_t n);
void add(const Launch& l, DType dtype, const void* a, const void* b, void* out, int64_t n);
void mul(const Launch& l, DType dtype, const void* a, const void* b, void* out, int64_t n);
// da[i] += dy[i] * b[i]; db[i] += dy[i] * a[i]. A null da or db is skipped.
void mul_backward(const Launch& l, DType dtype, const void* dy, const void* a, const void* b,
                  void* da, void* db, int64_t n);
void scale(const Launch& l, DType dtype, const void* x, double s, void* out, int64_t n);
// y[i] += s * x[i]
void axpy(const Launch& l, DType dtype, double s, const void* x, void* y, int64_t n);
// y[i] = gelu(x[i]) (y may alias x); dx[i] += gelu'(x[i]) * dy[i].
void gelu_forward(const Launch& l, DType dtype, const void* x, void* y, int64_t n);
void gelu_backward(const Launch& l, DType dtype, const void* x, const void* dy, void* dx,
                   int64_t n);

void softmax_forward(const Launch& l, DType dtype, const void* x, void* y, int64_t rows,
                     int64_t cols);
// dx += y (dy - sum(y dy)) per row.
void softmax_backward(const Launch& l, DType dtype, const void* y, const void* dy, void* dx,
                      int64_t rows, int64_t cols);

// ---- norms: x, y, dy, dx [rows, cols]; g, gamma, beta and their gradients [cols] ----
void rmsnorm_forward(const Launch& l, DType act, DType param, const void* x, const void* g, void* y,
                     void* rstd, int64_t rows, int64_t cols, double eps);
// dx += ...; dg += ... (partial: plan_columns(rows, cols)).
void rmsnorm_backward(const Launch& l, DType act, DType param, const void* dy, const void* x,
                      const void* g, const void* rstd, void* dx, void* dg, int64_t rows,
                      int64_t cols, double* partial);
void layernorm_forward(const Launch& l, DType act, DType param, const void* x, const void* gamma,
                       const void* beta, void* y, void* mean, void* rstd, int64_t rows,
                       int64_t cols, double eps);
// partial: plan_columns(rows, 2 * cols) (dgamma and dbeta side by side).
void layernorm_backward(const Launch& l, DType act, DType param, const void* dy, const void* x,
                        const void* gamma, const void* mean, const void* rstd, void* dx,
                        void* dgamma, void* dbeta, int64_t rows, int64_t cols, double* partial);

// ---- RoPE: x, y [batch, seq, heads, d_h]; table [>= seq, d_h / 2, 2] of `table_dtype` ----
void rope_forward(const Launch& l, DType dtype, DType table_dtype, const void* x, const void* table,
                  void* y, int64_t batch, int64_t seq, int64_t heads, int64_t d_h);
// dx += R^T dy (dx must not alias dy).
void rope_backward(const Launch& l, DType dtype, DType table_dtype, const void* dy,
                   const void* table, void* dx, int64_t batch, int64_t seq, int64_t heads,
                   int64_t d_h);

// ---- embedding: tokens i32 [n], table [vocab, d] (param), out [n, d] (act) ----
// A token outside [0, vocab) gives a row of NaN (forward) and no gradient (backward).
void embedding_forward(const Launch& l, DType act, DType param, const int32_t* tokens, int64_t n,
                       const void* table, int64_t vocab, int64_t d, void* out);
// dtable[tokens[i]] += dout[i] in ascending i; counts: `vocab` ints of scratch.
void embedding_backward(const Launch& l, DType act, DType param, const int32_t* tokens, int64_t n,
                        const void* dout, void* dtable, int64_t vocab, int64_t d, int32_t* counts);

// ---- cross-entropy: logits [rows, vocab]; targets i32 [rows]; losses, lse [rows] ----
// A target >= vocab gives a NaN loss (and a NaN gradient row); a negative one ignores the row.
void cross_entropy_forward(const Launch& l, DType dtype, const void* logits, const int32_t* targets,
                           void* losses, void* lse, int64_t rows, int64_t vocab);
// Writes dlogits (may alias logits).
void cross_entropy_backward(const Launch& l, DType dtype, const void* logits, const void* lse,
                            const int32_t* targets, double scale, void* dlogits, int64_t rows,
                            int64_t vocab);

// ---- vocab-parallel cross-entropy: logits, dlogits [rows, vocab] (this shard's columns, of
// `dtype`); targets i32 [rows] of global ids; row_max, losses, lse [rows] and stats [2, rows] in
// the compute type (see backend.h for the sequence and the all-reduces between the calls) ----
void vocab_parallel_max(const Launch& l, DType dtype, const void* logits, void* row_max,
                        int64_t rows, int64_t vocab);
void vocab_parallel_sums(const Launch& l, DType dtype, const void* logits, const int32_t* targets,
                         int64_t vocab_offset, const void* row_max, void* stats, int64_t rows,
                         int64_t vocab);
// stat: the compute type (f32 or f64). A sum of exps below 1 gives that row NaN lse and loss.
void vocab_parallel_loss(const Launch& l, DType stat, const void* row_max, const void* stats,
                         const int32_t* targets, void* losses, void* lse, int64_t rows);
// Writes dlogits (may alias logits).
void vocab_parallel_backward(const Launch& l, DType dtype, const void* logits, const void* lse,
                             const int32_t* targets, int64_t vocab_offset, double scale,
                             void* dlogits, int64_t rows, int64_t vocab);

// ---- channel FMA: x, c, y, dy, dx, dc [rows, cols] (act); d, dd [cols] (param) ----
void channel_fma_forward(const Launch& l, DType act, DType param, const void* x, const void* d,
                         const void* c, void* y, int64_t rows, int64_t cols);
// Null outputs are skipped; partial: plan_columns(rows, cols).
void channel_fma_backward(const Launch& l, DType act, DType param, const void* dy, const void* x,
                          const void* d, void* dx, void* dd, void* dc, int64_t rows, int64_t cols,
                          double* partial);

// ---- mixer: alpha, w, dw, dalpha [n, wcols] (param); branches [rows, d] (act) ----
constexpr int kMaxBranches = 8;
void mixer_weights_forward(const Launch& l, DType dtype, const void* alpha, void* w, int64_t n,
                           int64_t wcols, bool normalize);
void mixer_weights_backward(const Launch& l, DType dtype, const void* w, const void* dw,
                            void* dalpha, int64_t n, int64_t wcols, bool normalize,
                            bool dw_weighted);
// out += sum_i w[i, c] branches[i] (w[i, 0] when wcols is 1).
void mixer_forward(const Launch& l, DType act, DType param, const void* const* branches, int n,
                   const void* w, int64_t wcols, void* out, int64_t rows, int64_t d);
// dbranches[i] += w[i, c] dout (null entries skipped); dw (+)= sums (null: skipped). partial:
// plan_sum(rows * d) when wcols is 1, else plan_columns(rows, d).
void mixer_backward(const Launch& l, DType act, DType param, const void* dout,
                    const void* const* branches, int n, const void* w, int64_t wcols,
                    void* const* dbranches, void* dw, int64_t rows, int64_t d, double* partial);
// *out += sum of a[k] b[k], k < count (a, b: act; out: one param element); partial:
// plan_sum(count).
void dot_accumulate(const Launch& l, DType act, DType param, const void* a, const void* b,
                    int64_t count, void* out, double* partial);

// ---- reductions ----
// *result = sum of x[i] (or of x[i]^2), in double; partial: plan_sum(n).
void sum(const Launch& l, DType dtype, const void* x, int64_t n, bool squares, double* partial,
         double* result);
// out[c] += sum_r x[r, c]; partial: plan_columns(rows, cols).
void sum_rows(const Launch& l, DType act, DType param, const void* x, void* out, int64_t rows,
              int64_t cols, double* partial);
// *flag = 1 when some x[i] is NaN or +-Inf (flag left as it was otherwise).
void flag_nonfinite(const Launch& l, DType dtype, const void* x, int64_t n, int32_t* flag);
// adamw_update (core/math/adamw.h) on elements [begin, end) of four f32 or f64 tensors.
void adamw(const Launch& l, DType dtype, void* param, const void* grad, void* exp_avg,
           void* exp_avg_sq, int64_t begin, int64_t end, const AdamWScalars<double>& scalars);

// ---- attention (flash style): q, out, dout, dq [B, T, n_q, d_h]; k, v, dk, dv [B, T, n_kv,
// d_h]; lse [B, n_q, T] in the compute type ----
struct AttentionShape {
  int64_t batch, seq, n_q, n_kv, d_h, window;
};
void attention_forward(const Launch& l, DType dtype, const AttentionShape& s, const void* q,
                       const void* k, const void* v, void* out, void* lse);
// dq, dk, dv +=; delta: B * n_q * T values of scratch in the compute type.
void attention_backward(const Launch& l, DType dtype, const AttentionShape& s, const void* dout,
                        const void* q, const void* k, const void* v, const void* out,
                        const void* lse, void* dq, void* dk, void* dv, void* delta);

// ---- causal convolution: u, y [batch, seq, h] (storage dtype); kernel [seq, h]. The FFT path
// works on time-major buffers in the compute type: real [n, batch * h], spectra [n/2 + 1,
// batch * h] (cuFFT complex) ----
// buf[t, b h + j] = src[b, t, j] for t < seq, 0 up to n.
void conv_load(const Launch& l, DType dtype, const void* src, void* buf, int64_t batch, int64_t seq,
               int64_t h, int64_t n);
// dst[b, t, j] (+)= scale buf[t, b h + j] for t < seq.
void conv_store(const Launch& l, DType dtype, const void* buf, void* dst, int64_t batch,
                int64_t seq, int64_t h, double scale, bool accumulate);
// x[f, b h + j] = k[f, j] x[f, b h + j] (conj_k: conj(k[f, j]) x).
void conv_multiply(const Launch& l, bool f64, const void* k, void* x, int64_t bins, int64_t batch,
                   int64_t h, bool conj_k);
// acc[f, j] = sum_b conj(u[f, b h + j]) g[f, b h + j], b in order.
void conv_correlate(const Launch& l, bool f64, const void* u, const void* g, void* acc,
                    int64_t bins, int64_t batch, int64_t h);
// The O(T^2) sums in ascending order (ConvAlgo::direct): y = ...; du +=, dk += (null: skipped).
void conv_direct_forward(const Launch& l, DType dtype, const void* u, const void* kernel, void* y,
                         int64_t batch, int64_t seq, int64_t h);
void conv_direct_backward(const Launch& l, DType dtype, const void* dy, const void* u,
                          const void* kernel, void* du, void* dkernel, int64_t batch, int64_t seq,
                          int64_t h);

// ---- DSS kernel (f32 or f64): lambda_re, lambda_im [n]; c_re, c_im [h, n]; kernel [t, h] ----
// modes: 6 doubles per mode (Lambda, f(Lambda), f'(Lambda)).
void dss_modes(const Launch& l, DType dtype, const void* lambda_re, const void* lambda_im,
               double* modes, int64_t n);
// a [t, 2n]: a[s, i] = Re exp(Lambda_i s), a[s, n + i] = -Im exp(Lambda_i s).
void dss_vandermonde(const Launch& l, DType dtype, const double* modes, void* a, int64_t t,
                     int64_t n);
// ct [h, 2n] = [Re | Im] of C f(Lambda).
void dss_ct(const Launch& l, DType dtype, const double* modes, const void* c_re, const void* c_im,
            void* ct, int64_t h, int64_t n);
// tdk[s, j] = s dk[s, j].
void dss_time_scaled(const Launch& l, DType dtype, const void* dk, void* tdk, int64_t t, int64_t h);
// The per-mode chain rule from g = dK^T a and w = (s dK)^T a (both [h, 2n]; w null when no
// lambda gradient is wanted); each gradient (null: skipped) +=.
void dss_param_grads(const Launch& l, DType dtype, const double* modes, const void* g,
                     const void* w, const void* c_re, const void* c_im, void* dc_re, void* dc_im,
                     void* dlambda_re, void* dlambda_im, int64_t h, int64_t n);

// For the launchers' dtype dispatch: the CudaBackend members refuse other dtypes first, with the
// op's own message, so reaching this is a bug.
[[noreturn]] void refuse_dtype(const char* op, DType dtype);

}  // namespace pha::cuda
