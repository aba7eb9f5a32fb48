#pragma once
// Incremental decoding: the model one token at a time, O(1) work per token in the sequence length
// for GSS and O(t) for attention, instead of a full forward over the whole prefix.
//
// Per layer the decoder keeps
// - attention: a KV cache [n_kv, T_max, d_h] (keys after RoPE at their absolute position; GQA
//   reads the shared kv head, nothing is repeated), honouring the sliding window;
// - GSS: the DSS kernel as a diagonal recurrence. With a_n = exp(Lambda_n) and
//   Ct[h, n] as in model.md, K[t, h] = Re(sum_n Ct[h, n] a_n^t), so the causal convolution
//   c[t, h] = sum_{s<=t} K[t-s, h] zn[s, h] = Re(sum_n S_t[h, n]) with the complex state
//   S_t[h, n] = a_n S_{t-1}[h, n] + Ct[h, n] zn[t, h]: one step per token, no T-long convolution.
//   The state and a_n, Ct are kept in double whatever the model's type.
// Everything else (norms, projections, GELU, LayerNorm, FFN, mixer, head) runs the model's own
// layer code and backend ops on one row.
//
// Single rank (tp 1, one pipeline stage), CPU backend, f32 or f64 (the model's type).
#include <vector>

#include "core/math/dss.h"
#include "layers/block.h"
#include "layers/embedding.h"
#include "layers/head.h"
#include "layers/model.h"

namespace pha {

class Decoder {
 public:
  // Reads (never copies) the parameters of `model`, which must outlive the decoder. Positions
  // 0 .. max_len-1 can be decoded (max_len <= model.max_seq_len, the RoPE positions it trained on).
  Decoder(Model& model, int64_t max_len);
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Feeds `token` at the next position and returns the logits [1, V_pad] that predict the token
  // after it (valid until the next call). Refuses a token outside the vocabulary or a position
  // past max_len.
  const Tensor& step(int32_t token);
  // As step, without computing the logits (prompt tokens whose prediction is not needed).
  void feed(int32_t token);
  // Forgets every token: the next step is position 0.
  void reset();
  int64_t position() const { return position_; }
  int64_t max_len() const { return max_len_; }
  const ModelConfig& config() const { return cfg_; }

 private:
  // The recurrent state of one GSS layer (double complex, see above).
  struct GssState {
    std::vector<Cplx<double>> decay;  // a_n = exp(Lambda_n) [N]
    std::vector<Cplx<double>> ct;     // Ct [H, N]
    std::vector<Cplx<double>> state;  // S [H, N]
  };
  void advance(int32_t token);
  void plan(Planner& p);
  void attention_step(size_t layer, const Tensor& h, const Tensor& out);
  void gss_step(size_t layer, const Tensor& h, const Tensor& out);

  Backend& be_;
  ModelConfig cfg_;
  int64_t max_len_;
  int64_t position_ = 0;
  Arena acts_, scratch_, compute_;
  Tensor rope_;          // [max_len, d_h/2, 2]
  Tensor token_, x_[2];  // i32 [1, 1]; the residual stream [1, 1, d], ping-pong
  EmbeddingLayer embedding_;
  std::vector<BlockLayer> blocks_;
  HeadLayer head_;
  std::vector<Tensor> k_cache_, v_cache_;  // per layer [n_kv, max_len, d_h] (empty: no attention)
  std::vector<GssState> gss_;              // per layer (empty state: no GSS)
  std::vector<double> scores_;             // [max_len] attention scores of one query head
};

}  // namespace pha
