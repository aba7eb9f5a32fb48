#pragma once
// The PHA model on one rank: embedding, L blocks, final norm, head and loss, with every buffer
// planned up front. No autograd: backward() calls each layer's backward in reverse.
#include <memory>
#include <vector>

#include "layers/block.h"
#include "layers/embedding.h"
#include "layers/head.h"

namespace pha {

struct MemoryFigures {
  size_t parameter_bytes = 0;   // parameters + gradients
  size_t activation_bytes = 0;  // forward activations kept for backward
  size_t scratch_bytes = 0;     // backward temporaries shared by all layers
};

class Model {
 public:
  // A model for micro-batches of `batch` sequences of `seq_len` tokens, computing in `real`
  // (f32; f64 for whole-model gradient checks).
  Model(Backend& backend, const ModelConfig& cfg, int64_t batch, int64_t seq_len,
        DType real = DType::f32);

  void init_parameters(uint64_t seed);
  // tokens: host [B * T] ids in [0, V). Returns the mean loss over (b, t < T-1).
  double forward(const int32_t* tokens);
  // Gradients of the last forward's loss, accumulated (+=) into the gradient arena.
  void backward();
  void zero_grads() { grads_.zero(); }

  const ModelConfig& config() const { return cfg_; }
  int64_t batch() const { return batch_; }
  int64_t seq_len() const { return seq_len_; }
  const std::vector<ParamSpec>& param_specs() const { return param_specs_; }
  const Arena& params() const { return params_; }
  const Arena& grads() const { return grads_; }
  // Forward activations, in forward order (to name the first non-finite one).
  const Arena& activations() const { return acts_; }
  int64_t parameter_count() const { return params_.table().total_elements(); }
  MemoryFigures memory() const;
  // Logits of the last forward [B*T, V_pad] (valid until backward()).
  const Tensor& logits() const { return head_.logits; }
  // Per layer: the mixing weights w ([n] or [n * d]); empty for serial blocks.
  std::vector<std::vector<float>> mixing_weights();
  Backend& backend() { return backend_; }

 private:
  void plan(Planner& planner);
  const Tensor& head_weight() const;
  const Tensor& head_weight_grad() const;

  Backend& backend_;
  ModelConfig cfg_;
  int64_t batch_, seq_len_;
  DType real_;
  std::vector<ParamSpec> param_specs_;
  Arena params_, grads_, acts_, scratch_;
  EmbeddingLayer embedding_;
  std::vector<BlockLayer> blocks_;
  HeadLayer head_;
  std::vector<Tensor> x_;           // residual stream [L+1] x [B, T, d]
  Tensor tokens_, targets_, rope_;  // [B*T] i32, [B*T] i32, [T, d_h/2, 2]
  Tensor d_res_;                    // scratch [B, T, d]
  std::vector<int32_t> host_targets_;
  int64_t counted_rows_ = 0;
};

// Parameter count of a configuration (from the same size table that allocates the model).
int64_t count_parameters(const ModelConfig& cfg);

}  // namespace pha
