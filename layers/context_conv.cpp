#include "layers/context_conv.h"

#include "layers/context_exchange.h"

namespace pha {

ContextConv make_context_conv(Planner& plan, const LayerShape& s, int64_t H) {
  ContextConv cc;
  cc.split = s.cp;
  cc.comm = s.cp_comm;
  cc.batch = s.batch / 2;
  cc.chunk_len = s.seq_len;
  const Shape local{s.batch, s.seq_len, H}, padded{cc.batch, 2 * s.seq_len, H};
  cc.zn_in[0] = plan.scratch("cp.conv.zn0", local);
  cc.zn_in[1] = plan.scratch("cp.conv.zn1", local);
  cc.dzn_out = plan.scratch("cp.conv.dzn_out", local);
  cc.dzn_in = plan.scratch("cp.conv.dzn_in", local);
  cc.pad_u = plan.scratch("cp.conv.pad_u", padded);
  cc.pad_y = plan.scratch("cp.conv.pad_y", padded);
  cc.pad_du = plan.scratch("cp.conv.pad_du", padded);
  return cc;
}

int64_t context_kernel_len(const ContextConv& cc) {
  // The largest lag: the last chunk this rank outputs (2 cp - 1 - c) from chunk 0.
  return (cc.split.chunks() - cc.split.rank) * cc.chunk_len;
}

namespace {

// Sequence b of slot a of a slot-major [2B, C, H] tensor, as [C, H].
Tensor seq(const Tensor& t, int64_t batch, int a, int64_t b) {
  const int64_t C = t.dim(1);
  return t.view({t.dim(0) * C, t.dim(2)}).slice0((a * batch + b) * C, C);
}
// Half h (0: positions [0, C), 1: [C, 2C)) of sequence b of a padded [B, 2C, H] tensor.
Tensor half(const Tensor& t, int64_t b, int h) {
  const int64_t C2 = t.dim(1), C = C2 / 2;
  return t.view({t.dim(0) * C2, t.dim(2)}).slice0(b * C2 + h * C, C);
}
Tensor slot(const Tensor& t, int64_t batch, int a) {
  return t.slice0(a * batch, batch);
}

// Calls f(output slot a, input slot b, lag d = j - i) for each product this rank computes with
// `owner`'s input chunks; the own lag-0 products come first (they write, the others add).
template <typename F>
void products(const ContextConv& cc, int owner, F&& f) {
  const parallel::ContextSplit& sp = cc.split;
  if (owner == sp.rank)
    for (int a = 0; a < 2; ++a) f(a, a, 0);
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b) {
      const int j = sp.chunk(a), i = sp.chunk_of(owner, b);
      if (i < j) f(a, b, j - i);
    }
}

bool needs(const parallel::ContextSplit& sp, int receiver, int owner) {
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b)
      if (sp.chunk_of(owner, b) < sp.chunk_of(receiver, a)) return true;
  return false;
}

}  // namespace

void context_conv_forward(Backend& be, const ContextConv& cc, const Tensor& zn,
                          const Tensor& kernel, const Tensor& conv, ConvAlgo algo) {
  const int64_t B = cc.batch, C = cc.chunk_len;
  zero(be, cc.pad_u);  // the upper halves stay zero
  auto apply = [&](const Tensor& input, const Poll& poll) {
    return [&, input](int a, int b, int64_t d) {
      if (d == 0) {
        be.causal_conv_forward(slot(input, B, b), kernel.slice0(0, C), slot(conv, B, a), algo);
      } else {
        for (int64_t s = 0; s < B; ++s) be.copy(seq(input, B, b, s), half(cc.pad_u, s, 0));
        be.causal_conv_forward(cc.pad_u, kernel.slice0((d - 1) * C, 2 * C), cc.pad_y, algo);
        for (int64_t s = 0; s < B; ++s) be.axpy(1.0, half(cc.pad_y, s, 1), seq(conv, B, a, s));
      }
      if (poll) poll();
    };
  };
  auto local = [&](const Poll& poll) { products(cc, cc.split.rank, apply(zn, poll)); };
  if (cc.split.size == 1) return local({});
  const parallel::ContextSplit sp = cc.split;
  ContextExchange x{*cc.comm,
                    [sp](int r, int o) { return needs(sp, r, o); },
                    {zn},
                    {{cc.zn_in[0]}, {cc.zn_in[1]}}};
  exchange_with_peers(x, local, [&](int peer, const std::vector<Tensor>& in, const Poll& poll) {
    products(cc, peer, apply(in[0], poll));
  });
}

void context_conv_backward(Backend& be, const ContextConv& cc, const Tensor& d_conv,
                           const Tensor& zn, const Tensor& kernel, const Tensor& d_zn,
                           const Tensor& d_kernel, ConvAlgo algo) {
  const int64_t B = cc.batch, C = cc.chunk_len;
  zero(be, cc.pad_u);
  auto transposed = [&](const Tensor& input, const Tensor& d_input, const Poll& poll) {
    return [&, input, d_input](int a, int b, int64_t d) {
      if (poll) poll();
      if (d == 0) {
        be.causal_conv_backward(slot(d_conv, B, a), slot(input, B, b), kernel.slice0(0, C),
                                slot(d_input, B, b), d_kernel.slice0(0, C), algo);
        return;
      }
      // Only the upper half of the padded product was kept: its gradient is d_conv there, 0 below.
      zero(be, cc.pad_y);
      zero(be, cc.pad_du);
      for (int64_t s = 0; s < B; ++s) {
        be.copy(seq(input, B, b, s), half(cc.pad_u, s, 0));
        be.copy(seq(d_conv, B, a, s), half(cc.pad_y, s, 1));
      }
      be.causal_conv_backward(cc.pad_y, cc.pad_u, kernel.slice0((d - 1) * C, 2 * C), cc.pad_du,
                              d_kernel.slice0((d - 1) * C, 2 * C), algo);
      for (int64_t s = 0; s < B; ++s) be.axpy(1.0, half(cc.pad_du, s, 0), seq(d_input, B, b, s));
    };
  };
  auto local = [&](const Poll& poll) { products(cc, cc.split.rank, transposed(zn, d_zn, poll)); };
  if (cc.split.size == 1) return local({});
  const parallel::ContextSplit sp = cc.split;
  ContextExchange x{*cc.comm,     [sp](int r, int o) { return needs(sp, r, o); },
                    {zn},         {{cc.zn_in[0]}, {cc.zn_in[1]}},
                    {cc.dzn_out}, {cc.dzn_in}};
  exchange_with_peers(
      x, local,
      [&](int peer, const std::vector<Tensor>& in, const Poll& poll) {
        zero(be, cc.dzn_out);
        products(cc, peer, transposed(in[0], cc.dzn_out, poll));
      },
      [&](const std::vector<Tensor>& returned) { be.axpy(1.0, returned[0], d_zn); });
}

}  // namespace pha
