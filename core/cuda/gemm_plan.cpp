#include "core/cuda/gemm_plan.h"

#include <algorithm>
#include <utility>

namespace pha::cuda {

GemmPlan plan_gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, const Tensor& c) {
  for (const auto& [what, t] : {std::pair<const char*, const Tensor&>{"a", a}, {"b", b}, {"c", c}})
    PHA_REQUIRE(t.rank() == 2 || t.rank() == 3, "matmul: {} has shape {}; it must be 2-D or 3-D",
                what, t.shape.str());
  const bool batched = a.rank() == 3 || b.rank() == 3;
  PHA_REQUIRE(c.rank() == (batched ? 3 : 2),
              "matmul: c has shape {} but a {} and b {}: c must be 3-D when a or b is, else 2-D",
              c.shape.str(), a.shape.str(), b.shape.str());
  const int64_t batch = batched ? c.dim(0) : 1;
  const int ra = a.rank(), rb = b.rank(), rc = c.rank();
  const int64_t M = trans_a ? a.dim(ra - 1) : a.dim(ra - 2);
  const int64_t K = trans_a ? a.dim(ra - 2) : a.dim(ra - 1);
  const int64_t Kb = trans_b ? b.dim(rb - 1) : b.dim(rb - 2);
  const int64_t N = trans_b ? b.dim(rb - 2) : b.dim(rb - 1);
  PHA_REQUIRE(K == Kb && c.dim(rc - 2) == M && c.dim(rc - 1) == N &&
                  (ra == 2 || a.dim(0) == batch) && (rb == 2 || b.dim(0) == batch),
              "matmul: shapes do not fit: a {}{} x b {}{} -> c {}", a.shape.str(),
              trans_a ? "^T" : "", b.shape.str(), trans_b ? "^T" : "", c.shape.str());

  GemmPlan p;
  p.trans_first = trans_b;
  p.trans_second = trans_a;
  p.m = N;
  p.n = M;
  p.k = K;
  // cuBLAS refuses a leading dim of 0 even when the matrix is empty (K = 0).
  p.ld_first = std::max<int64_t>(1, b.dim(rb - 1));
  p.ld_second = std::max<int64_t>(1, a.dim(ra - 1));
  p.ld_c = std::max<int64_t>(1, N);
  p.stride_first = rb == 3 ? K * N : 0;
  p.stride_second = ra == 3 ? M * K : 0;
  p.stride_c = M * N;
  p.batch_count = batch;
  if (ra == 3 && rb == 2 && !trans_a) {
    // A batched a against a shared b is one matrix [batch * M, K] x [K, N]: a single larger GEMM
    // is faster than `batch` small ones.
    p.n = batch * M;
    p.stride_second = 0;
    p.stride_c = batch * M * N;
    p.batch_count = 1;
  }
  return p;
}

}  // namespace pha::cuda
