// Causal GQA attention, flash style (Dao et al.): queries and keys are processed in tiles, so the
// [T, T] score matrix is never stored and each thread's scratch depends on the tile sizes, not on
// T. Forward keeps a running max and sum per query row (online softmax) and saves lse [B, n_q, T];
// backward recomputes the probabilities from lse.
// q, dq, out, dout [B, T, n_q, d_h]; k, v, dk, dv [B, T, n_kv, d_h].
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>

#include "core/cpu/cpu_backend.h"
#include "core/cpu/simd.h"
#include "core/cpu/tile_gemm.h"
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

// A tile's rows are the columns of its transposed blocks (queries [d_h, cols], scores and
// probabilities [keys, cols], outputs [d_h, cols]), cols = rows rounded up to whole registers: the
// softmax then runs down the key rows with one register holding several query rows, and every
// block GEMM has contiguous rows of B and C. The padding columns hold zeros and see no key.
template <typename T>
int64_t tile_cols(int64_t rows) {
  return simd::padded<T>(rows);
}

// Per column r: the key rows [lo[r], hi[r]] of k (indices into seq_k) that row r sees; lo > hi
// for the padding columns. Returns the key rows every row of the tile sees (empty: first > last):
// a block inside them needs no mask (the padding columns' results are never read).
template <typename Int>
std::pair<int64_t, int64_t> visible_keys(const Dims& d, const Tile& tile, int64_t window,
                                         int64_t cols, Int* lo, Int* hi) {
  const int64_t rows = tile.rows(d);
  int64_t all_first = 0, all_last = std::numeric_limits<int64_t>::max();
  for (int64_t r = 0; r < cols; ++r) {
    if (r >= rows) {
      lo[r] = 1;
      hi[r] = 0;
      continue;
    }
    const int64_t t = d.q_pos + tile.position(d, r);  // global position of the query
    lo[r] = static_cast<Int>(attention_first_key(t, window) - d.k_pos);
    hi[r] = static_cast<Int>(t - d.k_pos);
    all_first = std::max<int64_t>(all_first, lo[r]);
    all_last = std::min<int64_t>(all_last, hi[r]);
  }
  return {all_first, all_last};
}

// dst[i * cols + r] = scale * src[tile.q_at(r) + i] for the tile's rows, 0 in the padding columns:
// blocks of width x width go through registers (whole-register loads of the rows, transposed by
// shuffles) instead of one strided scalar store per element.
template <typename T>
void load_transposed(const Dims& d, const Tile& tile, const T* src, T scale, int64_t cols, T* dst) {
  using S = simd::Simd<T>;
  using Vec = typename S::Vec;
  constexpr int64_t w = S::width;
  const int64_t rows = tile.rows(d), dh = d.d_h;
  for (int64_t r0 = 0; r0 < cols; r0 += w) {
    const T* row[w];  // the block's rows (nullptr: padding), found without a division per row
    int64_t position = tile.t0 + r0 / d.group, head = tile.g * d.group + r0 % d.group;
    for (int64_t u = 0; u < w; ++u) {
      row[u] = r0 + u < rows ? src + ((tile.b * d.seq + position) * d.n_q + head) * dh : nullptr;
      if (++head == (tile.g + 1) * d.group) {
        head = tile.g * d.group;
        ++position;
      }
    }
    for (int64_t i0 = 0; i0 < dh; i0 += w) {
      const int64_t width = std::min(w, dh - i0);
      Vec block[w];
      for (int64_t u = 0; u < w; ++u) {
        block[u] = Vec{};
        if (row[u] == nullptr) continue;
        if (width == w) {
          block[u] = S::load(row[u] + i0) * scale;
        } else {
          for (int64_t e = 0; e < width; ++e) block[u][e] = row[u][i0 + e] * scale;
        }
      }
      S::transpose(block);
      for (int64_t e = 0; e < width; ++e) S::store(dst + (i0 + e) * cols + r0, block[e]);
    }
  }
}

int64_t forward_scratch(const Dims& d, int64_t cols) {
  return 2 * d.d_h * cols + kKeyBlock * cols + 4 * cols;
}

// merge: out and lse already hold the attention over other keys; the tile's result is merged in.
template <typename T>
void forward_tile(const Dims& d, const Tile& tile, int64_t window, bool merge, const T* q,
                  const T* k, const T* v, T* out, T* lse, T* scratch) {
  using S = simd::Simd<T>;
  using Vec = typename S::Vec;
  using IVec = typename S::IVec;
  using Int = typename S::Int;
  constexpr int64_t w = S::width;
  const int64_t rows = tile.rows(d), cols = tile_cols<T>(rows), dh = d.d_h, kv_row = d.kv_row();
  T* qt = scratch;                // [d_h, cols] scaled queries
  T* ot = qt + dh * cols;         // [d_h, cols] outputs before the division by the sum
  T* st = ot + dh * cols;         // [kKeyBlock, cols] scores, then probabilities
  T* mx = st + kKeyBlock * cols;  // [cols] running max
  T* sum = mx + cols;             // [cols] running sum of exp(score - max)
  Int* lo = reinterpret_cast<Int*>(sum + cols);  // [cols] first and last key seen, as Int
  Int* hi = lo + cols;
  load_transposed(d, tile, q, attention_scale<T>(dh), cols, qt);
  const auto [all_first, all_last] = visible_keys(d, tile, window, cols, lo, hi);
  std::fill(ot, ot + dh * cols, T(0));
  std::fill(mx, mx + cols, -std::numeric_limits<T>::infinity());
  std::fill(sum, sum + cols, T(0));
  const T* kb = k + tile.kv_at(d);
  const T* vb = v + tile.kv_at(d);
  const int64_t key_end = tile.key_end(d);
  for (int64_t k0 = tile.first_block(d, window); k0 < key_end; k0 += kKeyBlock) {
    const int64_t n = std::min(kKeyBlock, key_end - k0);
    tile_gemm(n, cols, dh, kb + k0 * kv_row, kv_row, 1, qt, cols, st, cols, false);
    // The softmax step, with the mask only where some row of the tile misses some key.
    auto softmax = [&](auto masked) {
      for (int64_t c = 0; c < cols; c += w) {
        const IVec first = S::load(lo + c), last = S::load(hi + c);
        auto visible = [&](int64_t j) {
          if constexpr (decltype(masked)::value) {
            const IVec key = S::splat_int(static_cast<Int>(k0 + j));
            return (first <= key) & (key <= last);
          } else {
            return S::splat_int(-1);
          }
        };
        Vec block_max = S::minus_infinity();
        for (int64_t j = 0; j < n; ++j) {
          const Vec s = S::load(st + j * cols + c);
          block_max = visible(j) & (s > block_max) ? s : block_max;
        }
        const Vec old_max = S::load(mx + c), new_max = S::max(old_max, block_max);
        // A column that has seen no key yet keeps max -inf: shift by 0 (its exps are masked).
        const Vec shift = new_max == S::minus_infinity() ? Vec{} : new_max;
        const Vec rescale = simd::exp(old_max - shift);  // ~0 on the column's first visible block
        Vec total = S::load(sum + c) * rescale;
        for (int64_t i = 0; i < dh; ++i)
          S::store(ot + i * cols + c, S::load(ot + i * cols + c) * rescale);
        for (int64_t j = 0; j < n; ++j) {
          const Vec p = visible(j) ? simd::exp(S::load(st + j * cols + c) - shift) : Vec{};
          S::store(st + j * cols + c, p);
          total += p;
        }
        S::store(mx + c, new_max);
        S::store(sum + c, total);
      }
    };
    if (k0 >= all_first && k0 + n - 1 <= all_last) {
      softmax(std::false_type{});
    } else {
      softmax(std::true_type{});
    }
    // ot [d_h, cols] += v^T [d_h, n] p [n, cols]
    tile_gemm(dh, cols, n, vb + k0 * kv_row, 1, kv_row, st, cols, ot, cols, true);
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
      for (int64_t i = 0; i < dh; ++i) out_r[i] = ot[i * cols + r] * inv;
      lse_r = block_lse;
      continue;
    }
    // Online-softmax merge of two partial results: weights exp(lse_part - lse_both).
    const T both = std::max(lse_r, block_lse) + std::log1p(std::exp(-std::abs(lse_r - block_lse)));
    const T keep = std::exp(lse_r - both), add = std::exp(mx[r] - both);  // add: exp(m)/... * sum
    for (int64_t i = 0; i < dh; ++i) out_r[i] = out_r[i] * keep + ot[i * cols + r] * add;
    lse_r = both;
  }
}

int64_t backward_scratch(const Dims& d, int64_t cols) {
  return 2 * d.d_h * cols + 2 * kKeyBlock * cols + 4 * cols + 3 * d.max_rows() * d.d_h;
}

// Adds one query tile's contribution to dq (its own rows) and to dk, dv of (b, g).
template <typename T>
void backward_tile(const Dims& d, const Tile& tile, int64_t window, const T* dout, const T* q,
                   const T* k, const T* v, const T* out, const T* lse, T* dq, T* dk, T* dv,
                   T* scratch) {
  using S = simd::Simd<T>;
  using Vec = typename S::Vec;
  using IVec = typename S::IVec;
  using Int = typename S::Int;
  constexpr int64_t w = S::width;
  const int64_t rows = tile.rows(d), cols = tile_cols<T>(rows), dh = d.d_h, kv_row = d.kv_row();
  T* qt = scratch;                                 // [d_h, cols] scaled queries
  T* gt = qt + dh * cols;                          // [d_h, cols] output gradients
  T* pt = gt + dh * cols;                          // [kKeyBlock, cols] probabilities
  T* dst = pt + kKeyBlock * cols;                  // [kKeyBlock, cols] dout . v, then dL/dscore
  T* row_lse = dst + kKeyBlock * cols;             // [cols]
  T* big_d = row_lse + cols;                       // [cols] D = dout . out = sum_s p_s dout . v_s
  Int* lo = reinterpret_cast<Int*>(big_d + cols);  // [cols] first and last key seen, as Int
  Int* hi = lo + cols;
  T* qs = reinterpret_cast<T*>(hi + cols);  // [rows, d_h] scaled queries
  T* gs = qs + rows * dh;                   // [rows, d_h] output gradients
  T* dqs = gs + rows * dh;                  // [rows, d_h] dq / scale
  const T scale = attention_scale<T>(dh);
  load_transposed(d, tile, q, scale, cols, qt);
  load_transposed(d, tile, dout, T(1), cols, gt);
  const auto [all_first, all_last] = visible_keys(d, tile, window, cols, lo, hi);
  for (int64_t r = 0; r < cols; ++r) {
    row_lse[r] = T(0);
    big_d[r] = T(0);
  }
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t at = tile.q_at(d, r);
    for (int64_t i = 0; i < dh; ++i) {
      qs[r * dh + i] = scale * q[at + i];
      gs[r * dh + i] = dout[at + i];
    }
    big_d[r] = simd::dot(dout + at, out + at, dh);
    row_lse[r] = lse[tile.lse_at(d, r)];
  }
  std::fill(dqs, dqs + rows * dh, T(0));
  const int64_t kv = tile.kv_at(d), key_end = tile.key_end(d);
  for (int64_t k0 = tile.first_block(d, window); k0 < key_end; k0 += kKeyBlock) {
    const int64_t n = std::min(kKeyBlock, key_end - k0), at = kv + k0 * kv_row;
    tile_gemm(n, cols, dh, k + at, kv_row, 1, qt, cols, pt, cols, false);
    tile_gemm(n, cols, dh, v + at, kv_row, 1, gt, cols, dst, cols, false);
    // p = exp(score - lse) where visible, else 0; dL/dscore = p (dout . v - D).
    auto gradient = [&](auto masked) {
      for (int64_t c = 0; c < cols; c += w) {
        const IVec first = S::load(lo + c), last = S::load(hi + c);
        const Vec row_l = S::load(row_lse + c), row_d = S::load(big_d + c);
        for (int64_t j = 0; j < n; ++j) {
          Vec p = simd::exp(S::load(pt + j * cols + c) - row_l);
          if constexpr (decltype(masked)::value) {
            const IVec key = S::splat_int(static_cast<Int>(k0 + j));
            p = (first <= key) & (key <= last) ? p : Vec{};
          }
          S::store(pt + j * cols + c, p);
          S::store(dst + j * cols + c, p * (S::load(dst + j * cols + c) - row_d));
        }
      }
    };
    if (k0 >= all_first && k0 + n - 1 <= all_last) {
      gradient(std::false_type{});
    } else {
      gradient(std::true_type{});
    }
    // dv += p^T dout;  dk += ds^T (scale q);  dq += scale ds k (the scale applied at the end).
    tile_gemm(n, dh, rows, pt, cols, 1, gs, dh, dv + at, kv_row, true);
    tile_gemm(n, dh, rows, dst, cols, 1, qs, dh, dk + at, kv_row, true);
    tile_gemm(rows, dh, n, dst, 1, cols, k + at, kv_row, dqs, dh, true);
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
    T* scratch = thread_scratch<T>(cpu, forward_scratch(d, tile_cols<T>(d.max_rows())), stride);
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
    T* scratch = thread_scratch<T>(cpu, backward_scratch(d, tile_cols<T>(d.max_rows())), stride);
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
