// Causal GQA attention, flash style (Dao et al.): queries and keys are processed in tiles, so the
// [T, T] score matrix is never stored and each thread's scratch depends on the tile sizes, not on
// T. Forward keeps a running max and sum per query row (online softmax) and saves lse [B, n_q, T];
// backward recomputes the probabilities from lse.
// q, dq, out, dout [B, T, n_q, d_h]; k, v, dk, dv [B, T, n_kv, d_h].
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "core/cpu/cpu_backend.h"
#include "core/math/attention.h"

namespace pha {

namespace {

constexpr int kScratchSlot = 0;
constexpr int64_t kKeyBlock = 64;  // keys per block
constexpr int64_t kTileRows = 64;  // query rows per tile: positions x the query heads of a group
// Below this many multiply-adds (well under a millisecond) an OpenMP team costs more than it saves.
constexpr int64_t kParallelMin = int64_t{1} << 21;

// seq: query positions of q; seq_k: key positions of k and v. Query row t sits at global position
// q_pos + t, key row j at k_pos + j (both 0 for the whole-sequence ops); the mask compares global
// positions.
struct Dims {
  int64_t batch, seq, n_q, n_kv, d_h, group;
  int64_t seq_k, q_pos, k_pos;
  int64_t kv_row() const { return n_kv * d_h; }  // stride of k and v between positions
  // Query positions per tile; each position brings the `group` heads that share one kv head.
  int64_t tile_positions() const { return std::max<int64_t>(1, kTileRows / group); }
  int64_t max_rows() const { return tile_positions() * group; }
};

// Multiply-adds of one pass over all score rows (an upper bound: every pair of the block).
int64_t score_work(const Dims& d) {
  return d.batch * d.n_q * d.seq * d.seq_k * d.d_h / (d.q_pos == d.k_pos ? 2 : 1);
}

// same_length: q and k must have the same T (the whole-sequence ops).
Dims check_attention(const char* op, const Tensor& q, const Tensor& k, const Tensor& v,
                     const Tensor& out, const Tensor& lse, int64_t window, bool same_length = true,
                     int64_t q_pos = 0, int64_t k_pos = 0) {
  require_rank(op, "q", q, 4);
  require_rank(op, "k", k, 4);
  require_same_shape(op, "v", v, "k", k);
  const int64_t batch = q.dim(0), seq = q.dim(1), n_q = q.dim(2), n_kv = k.dim(2), d_h = q.dim(3);
  PHA_REQUIRE(k.dim(0) == batch && (!same_length || k.dim(1) == seq) && k.dim(3) == d_h,
              "{}: q has shape {} and k {}; they must agree in B, {}d_h (q [B, T, n_q, d_h], "
              "k and v [B, T, n_kv, d_h])",
              op, q.shape.str(), k.shape.str(), same_length ? "T and " : "");
  PHA_REQUIRE(q_pos >= 0 && k_pos >= 0, "{}: positions must be >= 0, got q {} and k {}", op, q_pos,
              k_pos);
  PHA_REQUIRE(d_h > 0 && n_kv > 0, "{}: k has shape {}; n_kv and d_h must be positive", op,
              k.shape.str());
  PHA_REQUIRE(
      n_q % n_kv == 0,
      "{}: n_q = {} query heads is not a multiple of n_kv = {} key/value heads (q {}, k {})", op,
      n_q, n_kv, q.shape.str(), k.shape.str());
  require_same_shape(op, "out", out, "q", q);
  require_shape(op, "lse", lse, Shape{batch, n_q, seq});
  PHA_REQUIRE(window >= 0, "{}: window must be >= 0 (0 = full causal), got {}", op, window);
  for (const Tensor* t : {&k, &v, &out, &lse}) require_same_dtype(op, q, *t);
  return Dims{batch, seq, n_q, n_kv, d_h, n_q / n_kv, k.dim(1), q_pos, k_pos};
}

// One AVX2 register of T (GCC vector extension): the compiler keeps arrays of these in registers.
template <typename T>
struct Simd {
  typedef T Vec __attribute__((vector_size(32)));
  static constexpr int64_t width = sizeof(Vec) / sizeof(T);
};

// Columns [0, kV * width) of one row of the GEMM below: c (+)= sum_p a[p * a_col] b[p * ldb + :].
template <int kV, typename T>
void gemm_chunk(int64_t kk, const T* a, int64_t a_col, const T* b, int64_t ldb, T* c,
                bool accumulate) {
  using Vec = typename Simd<T>::Vec;
  constexpr int64_t kWidth = Simd<T>::width;
  Vec acc[kV];
#pragma GCC unroll 8
  for (int v = 0; v < kV; ++v) {
    acc[v] = Vec{};
    if (accumulate) std::memcpy(&acc[v], c + v * kWidth, sizeof(Vec));
  }
  for (int64_t p = 0; p < kk; ++p) {
    const Vec x = Vec{} + a[p * a_col];
    const T* bp = b + p * ldb;
#pragma GCC unroll 8
    for (int v = 0; v < kV; ++v) {
      Vec bv;
      std::memcpy(&bv, bp + v * kWidth, sizeof(Vec));
      acc[v] += x * bv;
    }
  }
#pragma GCC unroll 8
  for (int v = 0; v < kV; ++v) std::memcpy(c + v * kWidth, &acc[v], sizeof(Vec));
}

// C[i, c] (+)= sum_p A[i * a_row + p * a_col] B[p * ldb + c] for i < m, c < n, p < kk: a small
// GEMM whose B and C rows are contiguous and whose A is read one scalar at a time (so A may be
// transposed). Columns go in chunks of 8, 4 and 1 registers, then scalars.
template <typename T>
void gemm(int64_t m, int64_t n, int64_t kk, const T* a, int64_t a_row, int64_t a_col, const T* b,
          int64_t ldb, T* c, int64_t ldc, bool accumulate) {
  constexpr int64_t w = Simd<T>::width;
  for (int64_t i = 0; i < m; ++i) {
    const T* ai = a + i * a_row;
    T* ci = c + i * ldc;
    int64_t c0 = 0;
    for (; c0 + 8 * w <= n; c0 += 8 * w)
      gemm_chunk<8>(kk, ai, a_col, b + c0, ldb, ci + c0, accumulate);
    if (c0 + 4 * w <= n) {
      gemm_chunk<4>(kk, ai, a_col, b + c0, ldb, ci + c0, accumulate);
      c0 += 4 * w;
    }
    for (; c0 + w <= n; c0 += w) gemm_chunk<1>(kk, ai, a_col, b + c0, ldb, ci + c0, accumulate);
    for (; c0 < n; ++c0) {
      T acc = accumulate ? ci[c0] : T(0);
      for (int64_t p = 0; p < kk; ++p) acc += ai[p * a_col] * b[p * ldb + c0];
      ci[c0] = acc;
    }
  }
}

// Key columns rounded up to whole registers (kKeyBlock is a multiple): the score GEMMs then have
// no scalar tail; the padding columns hold zeros and are never read back.
template <typename T>
int64_t padded_keys(int64_t n) {
  return (n + Simd<T>::width - 1) / Simd<T>::width * Simd<T>::width;
}

// row[c] = exp(row[c] - shift) for the visible columns c in [c0, c1), 0 for the other columns up
// to padded_keys(n); returns the sum. f32 runs Cephes' expf on whole registers (glibc's expf is
// vectorised only under -ffast-math): about 1 ulp, with arguments clamped to [-87, 88] (below,
// 1e-38 stands in for 0 next to a row sum >= 1). f64 keeps std::exp: it serves the gradient checks.
template <typename T>
T exp_row(T* row, int64_t n, int64_t c0, int64_t c1, T shift) {
  if constexpr (std::is_same_v<T, float>) {
    using Vec = Simd<float>::Vec;
    typedef int32_t IVec __attribute__((vector_size(32)));
    constexpr int64_t kWidth = Simd<float>::width;
    const Vec lo = Vec{} - 87.0f, hi = Vec{} + 88.0f;
    IVec lane;
    for (int32_t u = 0; u < kWidth; ++u) lane[u] = u;
    Vec total{};
    for (int64_t c = 0; c < padded_keys<float>(n); c += kWidth) {
      Vec x;
      std::memcpy(&x, row + c, sizeof(Vec));
      x -= shift;
      x = x < lo ? lo : x;
      x = x > hi ? hi : x;
      // x = k ln 2 + r, k = round(x / ln 2) by the 1.5 * 2^23 trick, ln 2 split in two parts.
      const Vec k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
      const Vec r = x - k * 0.693359375f + k * 2.12194440e-4f;
      Vec e = Vec{} + 1.9875691500e-4f;
      e = e * r + 1.3981999507e-3f;
      e = e * r + 8.3334519073e-3f;
      e = e * r + 4.1665795894e-2f;
      e = e * r + 1.6666665459e-1f;
      e = e * r + 5.0000001201e-1f;
      e = e * r * r + r + 1.0f;
      const IVec bits = (__builtin_convertvector(k, IVec) + 127) << 23;  // 2^k
      Vec scale;
      std::memcpy(&scale, &bits, sizeof(Vec));
      const IVec col = lane + static_cast<int32_t>(c);
      const IVec visible = (col >= static_cast<int32_t>(c0)) & (col < static_cast<int32_t>(c1));
      e = visible ? e * scale : Vec{};
      std::memcpy(row + c, &e, sizeof(Vec));
      total += e;
    }
    float sum = 0;
    for (int64_t u = 0; u < kWidth; ++u) sum += total[u];
    return sum;
  } else {
    T sum = 0;
    for (int64_t c = 0; c < padded_keys<T>(n); ++c) {
      row[c] = c >= c0 && c < c1 ? std::exp(row[c] - shift) : T(0);
      sum += row[c];
    }
    return sum;
  }
}

// dst [d_h, kKeyBlock] = the n rows [d_h] of src (stride `row`), transposed; columns up to
// padded_keys(n) are zero.
template <typename T>
void transpose_block(const T* src, int64_t row, int64_t n, int64_t d_h, T* dst) {
  for (int64_t i = 0; i < d_h; ++i) {
    for (int64_t c = 0; c < n; ++c) dst[i * kKeyBlock + c] = src[c * row + i];
    for (int64_t c = n; c < padded_keys<T>(n); ++c) dst[i * kKeyBlock + c] = T(0);
  }
}

// Query rows [t0, t1) x the heads of kv group g in batch b. Row r is query row t0 + r / group
// (global position q_pos + t0 + r / group) and query head g * group + r % group.
struct Tile {
  int64_t b, g, t0, t1;
  int64_t rows(const Dims& d) const { return (t1 - t0) * d.group; }
  int64_t position(const Dims& d, int64_t r) const { return t0 + r / d.group; }
  int64_t head(const Dims& d, int64_t r) const { return g * d.group + r % d.group; }
  // Offset of row r's [d_h] vector in a [B, T, n_q, d_h] tensor, and of its lse [B, n_q, T].
  int64_t q_at(const Dims& d, int64_t r) const {
    return ((b * d.seq + position(d, r)) * d.n_q + head(d, r)) * d.d_h;
  }
  int64_t lse_at(const Dims& d, int64_t r) const {
    return (b * d.n_q + head(d, r)) * d.seq + position(d, r);
  }
  // Offset of k[b, 0, g, :] (and v, dk, dv).
  int64_t kv_at(const Dims& d) const { return (b * d.seq_k * d.n_kv + g) * d.d_h; }
  // The key rows any row of the tile sees lie in [first_block, key_end): the first rounded down
  // to a whole block, key_end just past the last row's own position. Empty when the block of keys
  // lies wholly after the tile or before its window.
  int64_t first_block(const Dims& d, int64_t window) const {
    const int64_t first = attention_first_key(d.q_pos + t0, window) - d.k_pos;
    return std::max<int64_t>(0, first) / kKeyBlock * kKeyBlock;
  }
  int64_t key_end(const Dims& d) const {
    return std::max<int64_t>(0, std::min(d.seq_k, d.q_pos + t1 - d.k_pos));
  }
};

// The keys row r sees in the block of key rows [k0, k0 + n), as columns [c0, c1) (empty when
// c0 >= c1).
std::pair<int64_t, int64_t> visible_columns(const Dims& d, const Tile& tile, int64_t r,
                                            int64_t window, int64_t k0, int64_t n) {
  const int64_t t = d.q_pos + tile.position(d, r);  // global position of the query
  const int64_t first = attention_first_key(t, window) - d.k_pos, last = t - d.k_pos;
  return {std::max(first, k0) - k0, std::min(last + 1, k0 + n) - k0};
}

int64_t forward_scratch(const Dims& d) {
  const int64_t r = d.max_rows();
  return 2 * r * d.d_h + d.d_h * kKeyBlock + r * kKeyBlock + 2 * r;
}

// merge: out and lse already hold the attention over other keys; the tile's result is merged in.
template <typename T>
void forward_tile(const Dims& d, const Tile& tile, int64_t window, bool merge, const T* q,
                  const T* k, const T* v, T* out, T* lse, T* scratch) {
  const int64_t rows = tile.rows(d), dh = d.d_h, kv_row = d.kv_row();
  T* qs = scratch;               // [rows, d_h] scaled queries
  T* o = qs + rows * dh;         // [rows, d_h] outputs before the division by the sum
  T* kt = o + rows * dh;         // [d_h, kKeyBlock] keys of the block, transposed
  T* s = kt + dh * kKeyBlock;    // [rows, kKeyBlock] scores, then probabilities
  T* mx = s + rows * kKeyBlock;  // [rows] running max
  T* sum = mx + rows;            // [rows] running sum of exp(score - max)
  const T scale = attention_scale<T>(dh);
  for (int64_t r = 0; r < rows; ++r) {
    const T* qr = q + tile.q_at(d, r);
    for (int64_t i = 0; i < dh; ++i) qs[r * dh + i] = scale * qr[i];
    mx[r] = -std::numeric_limits<T>::infinity();
    sum[r] = 0;
  }
  std::fill(o, o + rows * dh, T(0));
  const T* kb = k + tile.kv_at(d);
  const T* vb = v + tile.kv_at(d);
  const int64_t key_end = tile.key_end(d);
  for (int64_t k0 = tile.first_block(d, window); k0 < key_end; k0 += kKeyBlock) {
    const int64_t n = std::min(kKeyBlock, key_end - k0);
    transpose_block(kb + k0 * kv_row, kv_row, n, dh, kt);
    gemm(rows, padded_keys<T>(n), dh, qs, dh, 1, kt, kKeyBlock, s, kKeyBlock, false);
    for (int64_t r = 0; r < rows; ++r) {
      T* sr = s + r * kKeyBlock;
      const auto [c0, c1] = visible_columns(d, tile, r, window, k0, n);
      if (c0 >= c1) {
        std::fill(sr, sr + n, T(0));
        continue;
      }
      T m = mx[r];
      for (int64_t c = c0; c < c1; ++c) m = std::max(m, sr[c]);
      const T rescale = std::exp(mx[r] - m);  // 0 on the row's first block (mx = -inf)
      for (int64_t i = 0; i < dh; ++i) o[r * dh + i] *= rescale;
      const T block_sum = exp_row(sr, n, c0, c1, m);
      sum[r] = sum[r] * rescale + block_sum;
      mx[r] = m;
    }
    gemm(rows, dh, n, s, kKeyBlock, 1, vb + k0 * kv_row, kv_row, o, dh, true);
  }
  for (int64_t r = 0; r < rows; ++r) {
    T* out_r = out + tile.q_at(d, r);
    T& lse_r = lse[tile.lse_at(d, r)];
    if (sum[r] == T(0)) {  // the row sees none of these keys
      if (!merge) {
        std::fill(out_r, out_r + dh, T(0));
        lse_r = -std::numeric_limits<T>::infinity();
      }
      continue;
    }
    const T block_lse = mx[r] + std::log(sum[r]);
    if (!merge || lse_r == -std::numeric_limits<T>::infinity()) {
      const T inv = T(1) / sum[r];
      for (int64_t i = 0; i < dh; ++i) out_r[i] = o[r * dh + i] * inv;
      lse_r = block_lse;
      continue;
    }
    // Online-softmax merge of two partial results: weights exp(lse_part - lse_both).
    const T both = std::max(lse_r, block_lse) + std::log1p(std::exp(-std::abs(lse_r - block_lse)));
    const T keep = std::exp(lse_r - both), add = std::exp(mx[r] - both);  // add: exp(m)/... * sum
    for (int64_t i = 0; i < dh; ++i) out_r[i] = out_r[i] * keep + o[r * dh + i] * add;
    lse_r = both;
  }
}

int64_t backward_scratch(const Dims& d) {
  const int64_t r = d.max_rows();
  return 3 * r * d.d_h + 2 * d.d_h * kKeyBlock + 2 * r * kKeyBlock + 2 * r;
}

// Adds one query tile's contribution to dq (its own rows) and to dk, dv of (b, g).
template <typename T>
void backward_tile(const Dims& d, const Tile& tile, int64_t window, const T* dout, const T* q,
                   const T* k, const T* v, const T* out, const T* lse, T* dq, T* dk, T* dv,
                   T* scratch) {
  const int64_t rows = tile.rows(d), dh = d.d_h, kv_row = d.kv_row();
  T* qs = scratch;                   // [rows, d_h] scaled queries
  T* gs = qs + rows * dh;            // [rows, d_h] output gradients
  T* dqs = gs + rows * dh;           // [rows, d_h] dq / scale
  T* kt = dqs + rows * dh;           // [d_h, kKeyBlock] keys, transposed
  T* vt = kt + dh * kKeyBlock;       // [d_h, kKeyBlock] values, transposed
  T* p = vt + dh * kKeyBlock;        // [rows, kKeyBlock] probabilities
  T* ds = p + rows * kKeyBlock;      // [rows, kKeyBlock] dout . v, then dL/dscore
  T* big_d = ds + rows * kKeyBlock;  // [rows] D = dout . out = sum_s p_s dout . v_s
  T* row_lse = big_d + rows;         // [rows]
  const T scale = attention_scale<T>(dh);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t at = tile.q_at(d, r);
    T dot = 0;
    for (int64_t i = 0; i < dh; ++i) {
      qs[r * dh + i] = scale * q[at + i];
      gs[r * dh + i] = dout[at + i];
      dot += dout[at + i] * out[at + i];
    }
    big_d[r] = dot;
    row_lse[r] = lse[tile.lse_at(d, r)];
  }
  std::fill(dqs, dqs + rows * dh, T(0));
  const int64_t kv = tile.kv_at(d), key_end = tile.key_end(d);
  for (int64_t k0 = tile.first_block(d, window); k0 < key_end; k0 += kKeyBlock) {
    const int64_t n = std::min(kKeyBlock, key_end - k0), at = kv + k0 * kv_row;
    transpose_block(k + at, kv_row, n, dh, kt);
    transpose_block(v + at, kv_row, n, dh, vt);
    gemm(rows, padded_keys<T>(n), dh, qs, dh, 1, kt, kKeyBlock, p, kKeyBlock, false);
    gemm(rows, padded_keys<T>(n), dh, gs, dh, 1, vt, kKeyBlock, ds, kKeyBlock, false);
    // p = exp(score - lse) where visible, else 0; dL/dscore = p (dout . v - D).
    for (int64_t r = 0; r < rows; ++r) {
      const auto [c0, c1] = visible_columns(d, tile, r, window, k0, n);
      T* pr = p + r * kKeyBlock;
      T* dsr = ds + r * kKeyBlock;
      exp_row(pr, n, c0, c1, row_lse[r]);
      const T dr = big_d[r];
      for (int64_t c = 0; c < n; ++c) dsr[c] = pr[c] * (dsr[c] - dr);
    }
    // dv += p^T dout;  dk += ds^T (scale q);  dq += scale ds k (the scale applied at the end).
    gemm(n, dh, rows, p, 1, kKeyBlock, gs, dh, dv + at, kv_row, true);
    gemm(n, dh, rows, ds, 1, kKeyBlock, qs, dh, dk + at, kv_row, true);
    gemm(rows, dh, n, ds, kKeyBlock, 1, k + at, kv_row, dqs, dh, true);
  }
  for (int64_t r = 0; r < rows; ++r) {
    T* dq_r = dq + tile.q_at(d, r);
    for (int64_t i = 0; i < dh; ++i) dq_r[i] += scale * dqs[r * dh + i];
  }
}

// Per-thread scratch of `per_thread` elements each, padded to 64 bytes (no false sharing).
template <typename T>
T* thread_scratch(CpuBackend& cpu, int64_t per_thread, int64_t& stride) {
  const int64_t pad = 64 / static_cast<int64_t>(sizeof(T));
  stride = (per_thread + pad - 1) / pad * pad;
  return cpu.scratch<T>(kScratchSlot, static_cast<size_t>(stride * omp_get_max_threads()));
}

void attention_forward_dims(CpuBackend& cpu, const Dims& d, const Tensor& q, const Tensor& k,
                            const Tensor& v, const Tensor& out, const Tensor& lse, int64_t window,
                            bool merge) {
  dispatch_float("attention_forward", q.dtype, [&](auto tag) {
    using T = decltype(tag);
    const int64_t tq = d.tile_positions(), tiles = (d.seq + tq - 1) / tq;
    int64_t stride = 0;
    T* scratch = thread_scratch<T>(cpu, forward_scratch(d), stride);
#pragma omp parallel if (score_work(d) >= kParallelMin)
    {
      T* mine = scratch + stride * omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
      for (int64_t task = 0; task < d.batch * d.n_kv * tiles; ++task) {
        // Late tiles see more keys: hand them out first.
        const int64_t tile = tiles - 1 - task % tiles, bg = task / tiles;
        const Tile t{bg / d.n_kv, bg % d.n_kv, tile * tq, std::min(d.seq, (tile + 1) * tq)};
        forward_tile(d, t, window, merge, q.as<T>(), k.as<T>(), v.as<T>(), out.as<T>(), lse.as<T>(),
                     mine);
      }
    }
  });
}

void attention_backward_dims(CpuBackend& cpu, const char* op, const Dims& d, const Tensor& dout,
                             const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                             const Tensor& lse, const Tensor& dq, const Tensor& dk,
                             const Tensor& dv, int64_t window) {
  require_same_shape(op, "dout", dout, "q", q);
  require_same_shape(op, "dq", dq, "q", q);
  require_same_shape(op, "dk", dk, "k", k);
  require_same_shape(op, "dv", dv, "v", v);
  for (const Tensor* t : {&dout, &dq, &dk, &dv}) require_same_dtype(op, q, *t);
  dispatch_float(op, q.dtype, [&](auto tag) {
    using T = decltype(tag);
    const int64_t tq = d.tile_positions();
    int64_t stride = 0;
    T* scratch = thread_scratch<T>(cpu, backward_scratch(d), stride);
    // One task owns dk, dv of one (b, kv head) and the dq rows of its query heads: no two
    // threads write the same gradient row, and every sum runs in a fixed order.
#pragma omp parallel if (score_work(d) >= kParallelMin)
    {
      T* mine = scratch + stride * omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
      for (int64_t bg = 0; bg < d.batch * d.n_kv; ++bg)
        for (int64_t t0 = 0; t0 < d.seq; t0 += tq) {
          const Tile t{bg / d.n_kv, bg % d.n_kv, t0, std::min(d.seq, t0 + tq)};
          backward_tile(d, t, window, dout.as<T>(), q.as<T>(), k.as<T>(), v.as<T>(), out.as<T>(),
                        lse.as<T>(), dq.as<T>(), dk.as<T>(), dv.as<T>(), mine);
        }
    }
  });
}

}  // namespace

void CpuBackend::attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                   const Tensor& out, const Tensor& lse, int64_t window) {
  const Dims d = check_attention("attention_forward", q, k, v, out, lse, window);
  attention_forward_dims(*this, d, q, k, v, out, lse, window, false);
}

void CpuBackend::attention_block_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                         const Tensor& out, const Tensor& lse, int64_t window,
                                         int64_t q_pos, int64_t k_pos, bool merge) {
  const Dims d =
      check_attention("attention_block_forward", q, k, v, out, lse, window, false, q_pos, k_pos);
  attention_forward_dims(*this, d, q, k, v, out, lse, window, merge);
}

void CpuBackend::attention_backward(const Tensor& dout, const Tensor& q, const Tensor& k,
                                    const Tensor& v, const Tensor& out, const Tensor& lse,
                                    const Tensor& dq, const Tensor& dk, const Tensor& dv,
                                    int64_t window) {
  const char* op = "attention_backward";
  const Dims d = check_attention(op, q, k, v, out, lse, window);
  attention_backward_dims(*this, op, d, dout, q, k, v, out, lse, dq, dk, dv, window);
}

void CpuBackend::attention_block_backward(const Tensor& dout, const Tensor& q, const Tensor& k,
                                          const Tensor& v, const Tensor& out, const Tensor& lse,
                                          const Tensor& dq, const Tensor& dk, const Tensor& dv,
                                          int64_t window, int64_t q_pos, int64_t k_pos) {
  const char* op = "attention_block_backward";
  const Dims d = check_attention(op, q, k, v, out, lse, window, false, q_pos, k_pos);
  attention_backward_dims(*this, op, d, dout, q, k, v, out, lse, dq, dk, dv, window);
}

}  // namespace pha
