// CudaBackend embedding gather / scatter-add: checks, then the kernels of cuda_embedding.cu.
// tokens i32 [...] on the GPU; table, dtable [V, d] (parameters); out, dout [..., d].
// The token ids stay on the GPU (reading them back would stall the stream): an id outside [0, V)
// gives a NaN row in out, which the trainer's non-finite check reports, and no gradient.
#include "core/cuda/cuda_backend.h"

namespace pha {

namespace {

void require_embedding(const char* op, const Tensor& tokens, const Tensor& table,
                       const char* rows_name, const Tensor& rows) {
  cuda::require_on_gpu(op, "tokens", tokens);
  PHA_REQUIRE(tokens.dtype == DType::i32, "{}: tokens must be i32, got {}", op, tokens.describe());
  PHA_REQUIRE(tokens.rank() < Shape::max_rank, "{}: tokens {} have too many dims", op,
              tokens.shape.str());
  cuda::require_float_on_gpu(op, rows_name, rows);
  require_rank(op, "table", table, 2);
  Shape expected = tokens.shape;
  expected.dims[static_cast<size_t>(expected.rank++)] = table.dim(1);
  require_shape(op, rows_name, rows, expected);
  cuda::require_param(op, "table", table, table.shape, rows);
}

}  // namespace

void CudaBackend::embedding_forward(const Tensor& tokens, const Tensor& table, const Tensor& out) {
  require_embedding("embedding_forward", tokens, table, "out", out);
  cuda::embedding_forward(launch(), out.dtype, table.dtype,
                          static_cast<const int32_t*>(tokens.data), tokens.numel(), table.data,
                          table.dim(0), table.dim(1), out.data);
}

void CudaBackend::embedding_backward(const Tensor& tokens, const Tensor& dout,
                                     const Tensor& dtable) {
  require_embedding("embedding_backward", tokens, dtable, "dout", dout);
  int32_t* counts = scratch<int32_t>(cuda::slot::a, static_cast<size_t>(dtable.dim(0)));
  cuda::embedding_backward(launch(), dout.dtype, dtable.dtype,
                           static_cast<const int32_t*>(tokens.data), tokens.numel(), dout.data,
                           dtable.data, dtable.dim(0), dtable.dim(1), counts);
}

}  // namespace pha
