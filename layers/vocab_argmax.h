#pragma once
// The most likely token of each row of the head's logits, over the whole vocabulary also when
// tensor parallelism splits the logits by vocabulary columns (recall scoring).
#include <cstdint>
#include <vector>

#include "core/backend.h"
#include "parallel/communicator.h"

namespace pha {

// logits [rows, V_pad / tp] on `be`'s device, tp rank r holding columns [r V, (r + 1) V) of the
// V_pad: the global column of each row's first maximum (what std::max_element over the whole row
// gives), -1 for a row with no maximum (NaNs). Collective over `tp` when tp.size() > 1: each rank
// finds its columns' first maximum, a max all-reduce gives the row's maximum, and a max
// all-reduce of minus the column of every rank holding it picks the lowest such column. The two
// reductions move small tensors on `be`'s device (NCCL moves device memory only). tp nullptr:
// one rank.
std::vector<int32_t> vocab_parallel_argmax(Backend& be, parallel::Communicator* tp,
                                           const Tensor& logits);

}  // namespace pha
