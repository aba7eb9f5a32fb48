#pragma once
// The cuBLAS arguments for a row-major matmul c = alpha op(a) op(b) + beta c (the Backend
// contract), worked out apart from the cuBLAS call so that tests check them without a GPU.
//
// Row-major X [r, c] is column-major X^T with leading dim c. So the row-major product
// C = op(A) op(B), C [M, N], is computed as the column-major C^T = op(B)^T op(A)^T: cuBLAS gets
// b as its first operand and a as its second, each with its own transpose flag unchanged,
// m = N, n = M, ldc = N, and each ld = the stored row length of that operand.
#include <cstdint>

#include "core/tensor.h"

namespace pha::cuda {

struct GemmPlan {
  bool trans_first = false;   // cuBLAS transa, applied to b
  bool trans_second = false;  // cuBLAS transb, applied to a
  int64_t m = 0, n = 0, k = 0;
  int64_t ld_first = 1, ld_second = 1, ld_c = 1;
  int64_t stride_first = 0, stride_second = 0, stride_c = 0;  // 0: shared by every batch
  int64_t batch_count = 1;
  bool empty() const { return m == 0 || n == 0 || batch_count == 0; }
};

// Shapes: a [(batch,) M, K] ([.., K, M] when trans_a), b [(batch,) K, N] ([.., N, K] when
// trans_b), c [(batch,) M, N]; c is 3-D exactly when a or b is, and a 2-D a or b is shared by
// every batch. Throws pha::Error naming the shapes when they do not fit. Looks at shapes only.
GemmPlan plan_gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, const Tensor& c);

}  // namespace pha::cuda
