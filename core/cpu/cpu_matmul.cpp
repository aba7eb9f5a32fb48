// CpuBackend::matmul: OpenBLAS sgemm/dgemm on row-major 2-D or batched 3-D operands.
// OpenBLAS threads each call itself (on pha's OpenMP team: docs/cli.md, "One thread pool"), so it
// is never called from inside an OpenMP region.
#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>

#include "core/cpu/cpu_backend.h"

namespace pha {
namespace {

// An operand as stored (before its transpose). batch 0: a 2-D operand shared by every batch.
struct Operand {
  int64_t batch, rows, cols;
};

void gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda,
          const float* b, int ldb, float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm(bool ta, bool tb, int m, int n, int k, double alpha, const double* a, int lda,
          const double* b, int ldb, double beta, double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// OpenBLAS computes row-major C = op(a) op(b) as column-major C^T = op(b)^T op(a)^T and packs
// op(a)^T in panels as wide as C's rows (up to its GEMM_R), one buffer per thread: the head's
// weight gradient (M = V_pad = 50304 rows, K = 256) left each of 2 threads' buffers 25 MiB
// resident for the rest of the run (+50 MiB RSS; +4 MiB for 4096 rows). Rows in blocks of this
// many: each element's sum over k is the same, in the same order.
constexpr int64_t kRowBlock = 4096;

// From this many bytes of C on, beta = 0 is done as memset_zero (on the OpenMP team) and beta = 1.
// OpenBLAS zeroes C with its own beta kernel before accumulating, a pass like ours and no faster
// (0.99-1.04x the time of ours, medians over five of the model's shapes, 2 threads, Zen 3), so
// callers that pass beta 0 instead of zeroing first (linear_backward's dx_beta) cost the CPU
// nothing. Below it OpenBLAS may take its small-matrix path, which writes C without a pass.
constexpr size_t kZeroFirstBytes = size_t{1} << 20;

bool overlaps(const Tensor& x, const Tensor& y) {
  const char* x0 = static_cast<const char*>(x.data);
  const char* y0 = static_cast<const char*>(y.data);
  return x.bytes() > 0 && y.bytes() > 0 && x0 < y0 + y.bytes() && y0 < x0 + x.bytes();
}

}  // namespace

void CpuBackend::matmul(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b,
                        const Tensor& c, double alpha, double beta) {
  // The message prefix, built only when a check fails.
  const auto what = [&] {
    return fmt::format("matmul: a {}{} x b {}{} -> c {}", a.describe(), trans_a ? "^T" : "",
                       b.describe(), trans_b ? "^T" : "", c.describe());
  };
  for (const Tensor* t : {&a, &b, &c})
    PHA_REQUIRE(t->rank() == 2 || t->rank() == 3, "{}: every operand must be 2-D or 3-D", what());
  PHA_REQUIRE(a.dtype == c.dtype && b.dtype == c.dtype, "{}: mixed element types", what());
  const auto operand = [](const Tensor& t) {
    return t.rank() == 2 ? Operand{0, t.dim(0), t.dim(1)} : Operand{t.dim(0), t.dim(1), t.dim(2)};
  };
  const Operand A = operand(a), B = operand(b), C = operand(c);
  const int64_t M = trans_a ? A.cols : A.rows, K = trans_a ? A.rows : A.cols;
  const int64_t Kb = trans_b ? B.cols : B.rows, N = trans_b ? B.rows : B.cols;
  PHA_REQUIRE(K == Kb, "{}: inner dims differ (op(a) is [{}, {}], op(b) is [{}, {}])", what(), M, K,
              Kb, N);
  PHA_REQUIRE(C.rows == M && C.cols == N, "{}: c must be [{}, {}] per batch", what(), M, N);
  if (C.batch == 0) {
    PHA_REQUIRE(A.batch == 0 && B.batch == 0, "{}: a 2-D c needs 2-D a and b", what());
  } else {
    PHA_REQUIRE(A.batch > 0 || B.batch > 0, "{}: a 3-D c needs a 3-D a or b", what());
    PHA_REQUIRE((A.batch == 0 || A.batch == C.batch) && (B.batch == 0 || B.batch == C.batch),
                "{}: batch dims differ", what());
  }
  PHA_REQUIRE(!overlaps(c, a) && !overlaps(c, b), "{}: c overlaps an input", what());
  const int64_t batches = C.batch == 0 ? 1 : C.batch;
  // A batched a (not transposed) times a shared b folds its batch into M: one large gemm.
  const bool fold = A.batch > 0 && B.batch == 0 && !trans_a;
  for (int64_t dim : {fold ? batches * M : M, N, K, A.cols, B.cols})
    PHA_REQUIRE(dim <= INT_MAX, "{}: a dim of {} exceeds the BLAS int range", what(), dim);

  dispatch_float("matmul", c.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.as<T>();
    const T* pb = b.as<T>();
    T* pc = c.as<T>();
    if (M == 0 || N == 0) return;
    if (K == 0) {  // op(a) op(b) is all zeros; BLAS refuses lda = 0, so scale c here
      for (int64_t i = 0; i < c.numel(); ++i)
        pc[i] = beta == 0 ? T(0) : static_cast<T>(beta) * pc[i];
      return;
    }
    const auto call = [&](int64_t m, const T* ai, const T* bi, T* ci) {
      for (int64_t i = 0; i < m; i += kRowBlock) {
        const int64_t rows = std::min(kRowBlock, m - i);
        // Rows i.. of op(a): columns i.. of a when it is transposed, else its rows i...
        const T* a_i = ai + (trans_a ? i : i * A.cols);
        T* c_i = ci + i * N;
        double block_beta = beta;
        if (const size_t bytes = static_cast<size_t>(rows * N) * sizeof(T);
            beta == 0 && bytes >= kZeroFirstBytes) {
          memset_zero(c_i, bytes);  // C's old contents (NaN even) are never read
          block_beta = 1;
        }
        gemm(trans_a, trans_b, static_cast<int>(rows), static_cast<int>(N), static_cast<int>(K),
             static_cast<T>(alpha), a_i, static_cast<int>(A.cols), bi, static_cast<int>(B.cols),
             static_cast<T>(block_beta), c_i, static_cast<int>(N));
      }
    };
    if (fold) {
      call(batches * M, pa, pb, pc);
      return;
    }
    const int64_t stride_a = A.batch ? A.rows * A.cols : 0,
                  stride_b = B.batch ? B.rows * B.cols : 0;
    for (int64_t i = 0; i < batches; ++i)
      call(M, pa + i * stride_a, pb + i * stride_b, pc + i * M * N);
  });
}

}  // namespace pha
