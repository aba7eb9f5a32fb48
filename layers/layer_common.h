#pragma once
// What every layer's make_* function needs: the config, the micro-batch shape, its name prefix.
#include <string>

#include "layers/model_config.h"
#include "layers/planner.h"
#include "parallel/communicator.h"
#include "parallel/context_split.h"

namespace pha {

using parallel::Communicator;

struct LayerShape {
  const ModelConfig& cfg;
  int64_t batch;    // B (under context parallelism 2 B: two chunks of each sequence)
  int64_t seq_len;  // T (under context parallelism the chunk length C = T / (2 cp))
  TpPosition tp;    // this rank's tensor-parallel position: split dims are divided by tp.size
  parallel::ContextSplit cp{};      // this rank's context-parallel position
  Communicator* cp_comm = nullptr;  // required when cp.size > 1 (nullptr in a declare pass)
  int64_t rows() const { return batch * seq_len; }
  int64_t local(int64_t global_dim) const { return global_dim / tp.size; }
  // The whole sequence's length (T, whatever the split).
  int64_t global_seq_len() const { return cp.size > 1 ? seq_len * cp.chunks() : seq_len; }
};

// Sums a partial result over the tensor-parallel group (nothing to do without one).
inline void tp_all_reduce(Communicator* tp, const Tensor& t) {
  if (tp) tp->all_reduce(t, parallel::ReduceOp::sum);
}

// The branch output projections are scaled down with depth (model.md, "Initialisation").
inline double output_proj_stddev(const ModelConfig& cfg) {
  return 0.02 / std::sqrt(2.0 * static_cast<double>(cfg.n_layers));
}

// Zeroes a gradient scratch buffer before a backward op accumulates into it.
inline void zero(Backend& backend, const Tensor& t) {
  backend.memset_zero(t.data, t.bytes());
}

}  // namespace pha
