#pragma once
// The GSS causal long convolution over a sequence split across the cp ranks (zigzag,
// parallel/context_split.h), exact: block-Toeplitz. With chunks of C positions, output chunk j is
//   c_j = sum_{i <= j} T(K, j - i) zn_i,
// where T(K, 0) is the causal convolution with K[0, C) and, for d = j - i >= 1, T(K, d) zn_i is the
// upper half of the causal convolution (FFT, length 2C) of zn_i followed by C zeros with the kernel
// window K[(d - 1) C, (d + 1) C): at output t + C it sums K[d C + t - s] zn_i[s] over s < C.
// Each rank receives every earlier chunk's zn from its owner (layers/context_exchange.h). Rank c
// computes c + 1 products for chunk c and 2 cp - c for chunk 2 cp - 1 - c: 2 cp + 1 on every rank.
// It needs the kernel up to (2 cp - c) C only (context_kernel_len), and generates no more.
// Backward: the transposed products; the input gradients for a peer's chunks go back to it, the
// kernel gradient stays with this rank's kernel prefix (the DSS parameters' gradients are summed
// over cp with the other gradients).
//
// Shapes: zn, conv, d_zn, d_conv [2B, C, H] (slot-major); kernel, d_kernel [T, H].
#include "layers/layer_common.h"

namespace pha {

struct ContextConv {
  parallel::ContextSplit split;
  Communicator* comm = nullptr;
  int64_t batch = 0, chunk_len = 0;  // B, C
  Tensor zn_in[2];                   // scratch [2B, C, H]: received inputs (double buffer)
  Tensor dzn_out, dzn_in;            // scratch [2B, C, H]: gradients for a peer's, from a peer
  Tensor pad_u, pad_y, pad_du;       // scratch [B, 2C, H]: the zero-padded products
};

ContextConv make_context_conv(Planner& plan, const LayerShape& s, int64_t H);
// Kernel positions [0, len) that this rank's products read.
int64_t context_kernel_len(const ContextConv& cc);

void context_conv_forward(Backend& be, const ContextConv& cc, const Tensor& zn,
                          const Tensor& kernel, const Tensor& conv, ConvAlgo algo);
// d_zn, d_kernel += the gradients.
void context_conv_backward(Backend& be, const ContextConv& cc, const Tensor& d_conv,
                           const Tensor& zn, const Tensor& kernel, const Tensor& d_zn,
                           const Tensor& d_kernel, ConvAlgo algo);

}  // namespace pha
