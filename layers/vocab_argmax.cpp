#include "layers/vocab_argmax.h"

#include <algorithm>
#include <limits>

#include "core/arena.h"

namespace pha {

std::vector<int32_t> vocab_parallel_argmax(Backend& be, parallel::Communicator* tp,
                                           const Tensor& logits) {
  const int64_t rows = logits.dim(0), V = logits.dim(1);
  const std::vector<float> values = be.to_host_f32(logits);
  const int64_t vocab_offset = tp ? V * tp->rank() : 0;
  std::vector<float> best(static_cast<size_t>(rows));
  std::vector<int32_t> column(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = &values[static_cast<size_t>(r * V)];
    const float* top = std::max_element(row, row + V);
    best[static_cast<size_t>(r)] = *top;
    column[static_cast<size_t>(r)] = static_cast<int32_t>(vocab_offset + (top - row));
  }
  if (!tp || tp->size() == 1) return column;
  SizeTable table;
  table.add("argmax.row_max", Shape{rows}, DType::f32);
  table.add("argmax.minus_first_column", Shape{rows}, DType::i32);
  const Arena reduce(be, table, "vocab-parallel argmax");
  std::vector<float> row_max(static_cast<size_t>(rows));
  be.copy_from_host(reduce[0], best.data());
  tp->all_reduce(reduce[0], parallel::ReduceOp::max);
  be.copy_to_host(reduce[0], row_max.data());
  // Ranks whose maximum is not the row's offer the lowest int32, which never wins the max.
  constexpr int32_t none = std::numeric_limits<int32_t>::min();
  std::vector<int32_t> minus_column(static_cast<size_t>(rows));
  for (size_t r = 0; r < minus_column.size(); ++r)
    minus_column[r] = best[r] == row_max[r] ? -column[r] : none;
  be.copy_from_host(reduce[1], minus_column.data());
  tp->all_reduce(reduce[1], parallel::ReduceOp::max);
  be.copy_to_host(reduce[1], minus_column.data());
  for (size_t r = 0; r < minus_column.size(); ++r)
    column[r] = minus_column[r] == none ? -1 : -minus_column[r];
  return column;
}

}  // namespace pha
