#pragma once
// Ring attention: causal GQA attention over a sequence split across the cp ranks (zigzag,
// parallel/context_split.h). Each rank keeps its queries and sends its keys and values to the
// ranks whose queries see them (layers/context_exchange.h); partial results over each peer's keys
// are merged by online softmax (Backend::attention_block_forward). Backward receives the keys and
// values again, and the key/value gradients it computes for a peer go back to that peer.
//
// Shapes (slot-major, B sequences per micro-batch, C = T / (2 cp) positions per chunk):
//   q, o, d_o, dq [2B, C, n_q, d_h]; k, v, dk, dv [2B, C, n_kv, d_h]; lse [2B, n_q, C].
// Chunk pairs that the mask hides (a later key chunk, or one beyond the window) are skipped.
#include "layers/layer_common.h"
#include "parallel/context_split.h"

namespace pha {

struct ContextRing {
  parallel::ContextSplit split;
  Communicator* comm = nullptr;
  int64_t batch = 0;      // B: sequences per slot
  int64_t chunk_len = 0;  // C
  // Scratch [2B, C, n_kv, d_h]: two received (k, v) sets, the gradients for a peer's (k, v) and
  // the gradients a peer returns for this rank's.
  Tensor k_in[2], v_in[2], dk_out, dv_out, dk_in, dv_in;
};

// Declares the ring's scratch (names shared by every layer) for kv heads of width d_h.
ContextRing make_context_ring(Planner& plan, const LayerShape& s, int64_t n_kv, int64_t d_h);

void ring_attention_forward(Backend& be, const ContextRing& ring, const Tensor& q, const Tensor& k,
                            const Tensor& v, const Tensor& o, const Tensor& lse, int64_t window);
// dq, dk, dv += the gradients (zeroed by the caller for fresh values).
void ring_attention_backward(Backend& be, const ContextRing& ring, const Tensor& d_o,
                             const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& o,
                             const Tensor& lse, const Tensor& dq, const Tensor& dk,
                             const Tensor& dv, int64_t window);

}  // namespace pha
