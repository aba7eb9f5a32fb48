#include "layers/ring_attention.h"

#include <fmt/format.h>

#include "layers/context_exchange.h"

namespace pha {

ContextRing make_context_ring(Planner& plan, const LayerShape& s, int64_t n_kv, int64_t d_h) {
  ContextRing ring;
  ring.split = s.cp;
  ring.comm = s.cp_comm;
  ring.batch = s.batch / 2;
  ring.chunk_len = s.seq_len;
  const Shape kv{s.batch, s.seq_len, n_kv, d_h};
  for (int i = 0; i < 2; ++i) {
    ring.k_in[i] = plan.scratch(fmt::format("cp.ring.k{}", i), kv);
    ring.v_in[i] = plan.scratch(fmt::format("cp.ring.v{}", i), kv);
  }
  ring.dk_out = plan.scratch("cp.ring.dk_out", kv);
  ring.dv_out = plan.scratch("cp.ring.dv_out", kv);
  ring.dk_in = plan.scratch("cp.ring.dk_in", kv);
  ring.dv_in = plan.scratch("cp.ring.dv_in", kv);
  return ring;
}

namespace {

// Slot a of a slot-major tensor: rows [a B, (a + 1) B).
Tensor slot(const Tensor& t, int64_t batch, int a) {
  return t.slice0(a * batch, batch);
}

// Calls f(query slot, key slot, q position, k position) for every pair of this rank's query
// chunks and `owner`'s key chunks that the mask lets through; the diagonal pairs (each query
// chunk with itself) come first, so they start each row's result.
template <typename F>
void visible_pairs(const ContextRing& ring, int owner, int64_t window, F&& f) {
  const parallel::ContextSplit& sp = ring.split;
  const int64_t C = ring.chunk_len;
  // Own rank: diagonals first, then the other pairs.
  if (owner == sp.rank)
    for (int a = 0; a < 2; ++a) f(a, a, sp.chunk(a) * C, sp.chunk(a) * C);
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b) {
      if (owner == sp.rank && a == b) continue;
      const int qi = sp.chunk(a), ki = sp.chunk_of(owner, b);
      if (parallel::chunk_sees(qi, ki, C, window)) f(a, b, qi * C, ki * C);
    }
}

std::function<bool(int, int)> sees(const ContextRing& ring, int64_t window) {
  return [&ring, window](int receiver, int owner) {
    return parallel::rank_sees(ring.split, receiver, owner, ring.chunk_len, window);
  };
}

}  // namespace

void ring_attention_forward(Backend& be, const ContextRing& ring, const Tensor& q, const Tensor& k,
                            const Tensor& v, const Tensor& o, const Tensor& lse, int64_t window) {
  const int64_t B = ring.batch;
  auto attend = [&](int owner, const Tensor& keys, const Tensor& values, const Poll& poll) {
    visible_pairs(ring, owner, window, [&](int a, int b, int64_t q_pos, int64_t k_pos) {
      // The own diagonal pair opens each query slot's result; everything else merges into it.
      const bool opens = owner == ring.split.rank && a == b;
      be.attention_block_forward(slot(q, B, a), slot(keys, B, b), slot(values, B, b), slot(o, B, a),
                                 slot(lse, B, a), window, q_pos, k_pos, !opens);
      if (poll) poll();
    });
  };
  auto local = [&](const Poll& poll) { attend(ring.split.rank, k, v, poll); };
  if (ring.split.size == 1) return local({});
  ContextExchange x{*ring.comm,
                    sees(ring, window),
                    {k, v},
                    {{ring.k_in[0], ring.v_in[0]}, {ring.k_in[1], ring.v_in[1]}}};
  exchange_with_peers(x, local, [&](int peer, const std::vector<Tensor>& kv, const Poll& poll) {
    attend(peer, kv[0], kv[1], poll);
  });
}

void ring_attention_backward(Backend& be, const ContextRing& ring, const Tensor& d_o,
                             const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& o,
                             const Tensor& lse, const Tensor& dq, const Tensor& dk,
                             const Tensor& dv, int64_t window) {
  const int64_t B = ring.batch;
  auto grads = [&](int owner, const Tensor& keys, const Tensor& values, const Tensor& d_keys,
                   const Tensor& d_values, const Poll& poll) {
    visible_pairs(ring, owner, window, [&](int a, int b, int64_t q_pos, int64_t k_pos) {
      be.attention_block_backward(slot(d_o, B, a), slot(q, B, a), slot(keys, B, b),
                                  slot(values, B, b), slot(o, B, a), slot(lse, B, a),
                                  slot(dq, B, a), slot(d_keys, B, b), slot(d_values, B, b), window,
                                  q_pos, k_pos);
      if (poll) poll();
    });
  };
  auto local = [&](const Poll& poll) { grads(ring.split.rank, k, v, dk, dv, poll); };
  if (ring.split.size == 1) return local({});
  ContextExchange x{*ring.comm,
                    sees(ring, window),
                    {k, v},
                    {{ring.k_in[0], ring.v_in[0]}, {ring.k_in[1], ring.v_in[1]}},
                    {ring.dk_out, ring.dv_out},
                    {ring.dk_in, ring.dv_in}};
  exchange_with_peers(
      x, local,
      [&](int peer, const std::vector<Tensor>& kv, const Poll& poll) {
        zero(be, ring.dk_out);
        zero(be, ring.dv_out);
        grads(peer, kv[0], kv[1], ring.dk_out, ring.dv_out, poll);
      },
      [&](const std::vector<Tensor>& returned) {
        be.axpy(1.0, returned[0], dk);
        be.axpy(1.0, returned[1], dv);
      });
}

}  // namespace pha
