// Embedding lookup and its scatter-add backward.
#include <algorithm>
#include <cstring>

#include "core/cpu/cpu_backend.h"

namespace pha {
namespace {

constexpr int64_t kParallelMin = 1 << 15;  // elements below which threads cost more than they save
constexpr int64_t kColBlock = 16;          // backward columns per task: one cache line of f32

// tokens i32 [...], table [V, d], rows [..., d] (out or dout); refuses any token outside [-1, V),
// naming the first offender (-1: a token this vocabulary shard does not hold).
void check_embedding(const char* op, const Tensor& tokens, const Tensor& table,
                     const char* rows_name, const Tensor& rows) {
  PHA_REQUIRE(tokens.dtype == DType::i32, "{}: tokens must be i32, got {}", op, tokens.describe());
  require_rank(op, "table", table, 2);
  require_same_dtype(op, table, rows);
  PHA_REQUIRE(tokens.rank() < Shape::max_rank, "{}: tokens {} have too many dims", op,
              tokens.shape.str());
  Shape expected = tokens.shape;
  expected.dims[static_cast<size_t>(expected.rank++)] = table.dim(1);
  require_shape(op, rows_name, rows, expected);
  const int32_t* tok = tokens.as<int32_t>();
  const int64_t vocab = table.dim(0);
  for (int64_t i = 0; i < tokens.numel(); ++i)
    PHA_REQUIRE(tok[i] >= -1 && tok[i] < vocab,
                "{}: token id {} at position {} is outside the vocabulary [0, {})", op, tok[i], i,
                vocab);
}

}  // namespace

// out[i, :] = table[tokens[i], :]   tokens [n], table [V, d], out [n, d]
void CpuBackend::embedding_forward(const Tensor& tokens, const Tensor& table, const Tensor& out) {
  check_embedding("embedding_forward", tokens, table, "out", out);
  const int64_t n = tokens.numel(), d = table.dim(1);
  const int32_t* tok = tokens.as<int32_t>();
  const size_t row_bytes = static_cast<size_t>(d) * dtype_size(table.dtype);
  const char* src = static_cast<const char*>(table.data);
  char* dst = static_cast<char*>(out.data);
#pragma omp parallel for schedule(static) if (n * d >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    if (tok[i] < 0)
      std::memset(dst + static_cast<size_t>(i) * row_bytes, 0, row_bytes);
    else
      std::memcpy(dst + static_cast<size_t>(i) * row_bytes,
                  src + static_cast<size_t>(tok[i]) * row_bytes, row_bytes);
  }
}

// dtable[tokens[i], :] += dout[i, :]. Each task owns a block of columns and walks the tokens in
// order, so repeated tokens never race and the sums are the same for any thread count.
void CpuBackend::embedding_backward(const Tensor& tokens, const Tensor& dout,
                                    const Tensor& dtable) {
  check_embedding("embedding_backward", tokens, dtable, "dout", dout);
  const int64_t n = tokens.numel(), d = dtable.dim(1);
  const int32_t* tok = tokens.as<int32_t>();
  dispatch_float("embedding_backward", dtable.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* dy = dout.as<T>();  // [n, d]
    T* dt = dtable.as<T>();      // [V, d]
    const int64_t blocks = (d + kColBlock - 1) / kColBlock;
#pragma omp parallel for schedule(static) if (n * d >= kParallelMin)
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const int64_t c0 = blk * kColBlock, c1 = std::min(d, c0 + kColBlock);
      for (int64_t i = 0; i < n; ++i) {
        if (tok[i] < 0) continue;
        T* row = dt + tok[i] * d;
        const T* g = dy + i * d;
        for (int64_t c = c0; c < c1; ++c) row[c] += g[c];
      }
    }
  });
}

}  // namespace pha
