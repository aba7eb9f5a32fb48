// The branch mixer: per-layer weights w [n, C] (C = 1 or d) from alpha, and the weighted sum of
// the n branch outputs [rows, d] added to the residual stream.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/cpu/cpu_backend.h"
#include "core/cpu/parallel.h"
#include "core/cpu/simd.h"
#include "core/math/mixer.h"

namespace pha {
namespace {

using cpu::for_rows;

constexpr int kScratchSlot = 0;  // the dw partial sums [kParts, n, C]

// alpha-like tensors are [n, C] with n >= 1 branches.
void require_weights(const char* op, const char* name, const Tensor& t) {
  PHA_REQUIRE(t.rank() == 2 && t.dim(0) >= 1, "{}: {} must be [n, C] with n >= 1, has shape {}", op,
              name, t.shape.str());
}

// branches: n tensors shaped like `ref` ([rows, d]), or null where the op reads none; w [n, 1] or
// [n, d]. Returns C.
int64_t require_mixer(const char* op, const char* ref_name, const Tensor& ref,
                      const Tensor* branches, int n, const Tensor& w) {
  PHA_REQUIRE(n >= 1, "{}: needs at least one branch, got {}", op, n);
  PHA_REQUIRE(ref.rank() >= 1, "{}: {} {} needs a last dim", op, ref_name, ref.shape.str());
  const int64_t d = ref.shape.last();
  PHA_REQUIRE(w.rank() == 2 && w.dim(0) == n && (w.dim(1) == 1 || w.dim(1) == d),
              "{}: w has shape {}, expected [{}, 1] or [{}, {}] for {} branches of {} {}", op,
              w.shape.str(), n, n, d, n, ref_name, ref.shape.str());
  require_same_dtype(op, w, ref);
  for (int i = 0; branches != nullptr && i < n; ++i) {
    PHA_REQUIRE(branches[i].shape == ref.shape,
                "{}: branch {} has shape {} but {} has shape {}; they must match", op, i,
                branches[i].shape.str(), ref_name, ref.shape.str());
    require_same_dtype(op, branches[i], ref);
  }
  return w.dim(1);
}

}  // namespace

// w[:, c] = softmax over the n branches of alpha[:, c] (normalize), else w = alpha.
void CpuBackend::mixer_weights_forward(const Tensor& alpha, const Tensor& w, bool normalize) {
  const char* op = "mixer_weights_forward";
  require_weights(op, "alpha", alpha);
  require_same_shape(op, "w", w, "alpha", alpha);
  require_same_dtype(op, w, alpha);
  const int64_t n = alpha.dim(0), C = alpha.dim(1);
  dispatch_float(op, alpha.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* a = alpha.as<T>();  // [n, C]
    T* o = w.as<T>();            // [n, C]
    for (int64_t c = 0; c < C; ++c) {
      if (!normalize) {
        for (int64_t i = 0; i < n; ++i) o[i * C + c] = a[i * C + c];
        continue;
      }
      double m = a[c], s = 0;
      for (int64_t i = 1; i < n; ++i) m = std::max(m, static_cast<double>(a[i * C + c]));
      for (int64_t i = 0; i < n; ++i) s += std::exp(a[i * C + c] - m);
      for (int64_t i = 0; i < n; ++i) o[i * C + c] = static_cast<T>(std::exp(a[i * C + c] - m) / s);
    }
  });
}

// dalpha += J^T dw (core/math/mixer.h; dw_weighted: dw holds w * dloss/dw, softmax only).
void CpuBackend::mixer_weights_backward(const Tensor& w, const Tensor& dw, const Tensor& dalpha,
                                        bool normalize, bool dw_weighted) {
  const char* op = "mixer_weights_backward";
  require_weights(op, "w", w);
  require_same_shape(op, "dw", dw, "w", w);
  require_same_shape(op, "dalpha", dalpha, "w", w);
  require_same_dtype(op, dw, w);
  require_same_dtype(op, dalpha, w);
  PHA_REQUIRE(normalize || !dw_weighted,
              "{}: a weighted dw (w * dloss/dw) needs the softmax mixer (normalize)", op);
  const int64_t n = w.dim(0), C = w.dim(1);
  dispatch_float(op, w.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *p = w.as<T>(), *g = dw.as<T>();  // [n, C]
    T* o = dalpha.as<T>();                    // [n, C]
    for (int64_t c = 0; c < C; ++c) {
      auto wj = [&](int64_t j) { return static_cast<double>(p[j * C + c]); };
      auto gj = [&](int64_t j) { return static_cast<double>(g[j * C + c]); };
      for (int64_t i = 0; i < n; ++i)
        o[i * C + c] += static_cast<T>(mixer_alpha_gradient(wj, gj, n, i, normalize, dw_weighted));
    }
  });
}

// out[r, c] += sum_i w[i, c] * branches[i][r, c] (w[i, 0] when C = 1).
void CpuBackend::mixer_forward(const Tensor* branches, int n, const Tensor& w, const Tensor& out) {
  const char* op = "mixer_forward";
  PHA_REQUIRE(branches != nullptr, "{}: needs the branch outputs", op);
  const int64_t C = require_mixer(op, "out", out, branches, n, w);
  const int64_t rows = out.shape.rows(), d = out.shape.last();
  dispatch_float(op, out.dtype, [&](auto tag) {
    using T = decltype(tag);
    std::vector<const T*> b(static_cast<size_t>(n));  // n x [rows, d]
    for (int i = 0; i < n; ++i) b[static_cast<size_t>(i)] = branches[i].as<T>();
    const T* wt = w.as<T>();  // [n, C]
    T* o = out.as<T>();       // [rows, d]
    for_rows(rows, d, [&](int64_t r) {
      for (int64_t c = 0, k = r * d; c < d; ++c, ++k) {
        T acc = o[k];
        for (int i = 0; i < n; ++i)
          acc += wt[i * C + (C == 1 ? 0 : c)] * b[static_cast<size_t>(i)][k];
        o[k] = acc;
      }
    });
  });
}

// dbranches[i] += w[i, c] * dout; dw[i, c] += sum over rows of dout * branches[i] (and over c
// when C = 1). dbranches may be null, and any of its tensors or dw empty (not wanted); branches
// may be null when dw is empty.
void CpuBackend::mixer_backward(const Tensor& dout, const Tensor* branches, int n, const Tensor& w,
                                const Tensor* dbranches, const Tensor& dw) {
  const char* op = "mixer_backward";
  const int64_t C = require_mixer(op, "dout", dout, branches, n, w);
  if (!dw.empty()) {
    PHA_REQUIRE(branches != nullptr, "{}: dw needs the branch outputs", op);
    require_same_shape(op, "dw", dw, "w", w);
    require_same_dtype(op, dw, w);
  }
  for (int i = 0; dbranches != nullptr && i < n; ++i) {
    if (dbranches[i].empty()) continue;
    PHA_REQUIRE(dbranches[i].shape == dout.shape,
                "{}: dbranch {} has shape {} but dout has shape {}; they must match", op, i,
                dbranches[i].shape.str(), dout.shape.str());
    require_same_dtype(op, dbranches[i], dout);
  }
  const int64_t rows = dout.shape.rows(), d = dout.shape.last();
  dispatch_float(op, dout.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* g = dout.as<T>();                        // [rows, d]
    const T* wt = w.as<T>();                          // [n, C]
    std::vector<const T*> b(static_cast<size_t>(n));  // n x [rows, d]
    std::vector<T*> db(static_cast<size_t>(n));       // n x [rows, d] or null (not wanted)
    for (size_t i = 0; i < b.size(); ++i) {
      b[i] = branches != nullptr ? branches[i].as<T>() : nullptr;
      const bool want = dbranches != nullptr && !dbranches[i].empty();
      db[i] = want ? dbranches[i].as<T>() : nullptr;
    }
    const bool want_dw = !dw.empty();
    // One pass over dout: each row updates every dbranch and adds its dot products with the
    // branches to the dw sums (acc [n, C] per row range).
    const int64_t width = want_dw ? n * C : 1;
    double* partial = scratch<double>(kScratchSlot, static_cast<size_t>(cpu::kParts * width));
    cpu::row_pass_with_sums(rows, d, width, partial, want_dw ? dw.as<T>() : nullptr,
                            [&](int64_t r0, int64_t r1, double* acc) {
                              for (int64_t r = r0; r < r1; ++r) {
                                const T* gr = g + r * d;
                                for (size_t i = 0; i < b.size(); ++i) {
                                  const T* wi = wt + static_cast<int64_t>(i) * C;
                                  if (T* o = db[i] ? db[i] + r * d : nullptr; o && C == 1) {
                                    const T s = wi[0];
#pragma omp simd
                                    for (int64_t c = 0; c < d; ++c) o[c] += s * gr[c];
                                  } else if (o) {
#pragma omp simd
                                    for (int64_t c = 0; c < d; ++c) o[c] += wi[c] * gr[c];
                                  }
                                  if (!want_dw) continue;
                                  const T* br = b[i] + r * d;
                                  double* ai = acc + static_cast<int64_t>(i) * C;
                                  if (C == 1) {
                                    ai[0] += simd::dot_f64(gr, br, d);
                                  } else {
#pragma omp simd
                                    for (int64_t c = 0; c < d; ++c)
                                      ai[c] += static_cast<double>(gr[c]) * br[c];
                                  }
                                }
                              }
                            });
  });
}

// out[0] += sum of a * b over all elements, in double, in fixed row ranges (thread-count free).
void CpuBackend::dot_accumulate(const Tensor& a, const Tensor& b, const Tensor& out) {
  const char* op = "dot_accumulate";
  require_same_shape(op, "b", b, "a", a);
  require_same_dtype(op, b, a);
  require_same_dtype(op, out, a);
  PHA_REQUIRE(out.numel() == 1, "{}: out must hold one element, has shape {}", op, out.shape.str());
  const int64_t cols = a.rank() == 0 ? 1 : a.shape.last(), rows = a.numel() / cols;
  dispatch_float(op, a.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *x = a.as<T>(), *y = b.as<T>();  // [rows, cols]
    double* partial = scratch<double>(kScratchSlot, static_cast<size_t>(cpu::kParts));
    cpu::row_pass_with_sums(
        rows, cols, 1, partial, out.as<T>(), [&](int64_t r0, int64_t r1, double* acc) {
          acc[0] += simd::dot_f64(x + r0 * cols, y + r0 * cols, (r1 - r0) * cols);
        });
  });
}

}  // namespace pha
