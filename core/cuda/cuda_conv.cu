// Kernels of the causal long convolution (cuda_conv.cpp drives them around cuFFT):
// copies between [B, T, H] activations and time-major FFT buffers [n, B H] in the compute type,
// the spectral products, and the direct O(T^2) sums of ConvAlgo::direct.
#include <cufft.h>

#include "core/cuda/cuda_common.cuh"

namespace pha::cuda {

namespace {

template <typename S>
struct ConvLoad {
  const S* src;       // [batch, seq, h]
  compute_t<S>* buf;  // [n, batch h]
  int64_t batch, seq, h;
  __device__ void operator()(int64_t idx) const {
    const int64_t cols = batch * h, t = idx / cols, col = idx % cols;
    const int64_t b = col / h, j = col % h;
    buf[idx] =
        t < seq ? static_cast<compute_t<S>>(load(src, (b * seq + t) * h + j)) : compute_t<S>(0);
  }
};

template <typename S>
struct ConvStore {
  const compute_t<S>* buf;
  S* dst;
  int64_t batch, seq, h;
  compute_t<S> scale;
  bool accumulate;
  __device__ void operator()(int64_t idx) const {  // idx over dst [batch, seq, h]
    const int64_t j = idx % h, t = (idx / h) % seq, b = idx / (h * seq);
    const compute_t<S> v = scale * buf[t * batch * h + b * h + j];
    store(dst, idx, accumulate ? load(dst, idx) + v : v);
  }
};

template <typename Cx>
__device__ Cx cmul(Cx a, Cx b, bool conj_a) {
  const auto ai = conj_a ? -a.y : a.y;
  return {a.x * b.x - ai * b.y, a.x * b.y + ai * b.x};
}

template <typename Cx>
struct Multiply {
  const Cx* k;  // [bins, h]
  Cx* x;        // [bins, batch h]
  int64_t batch, h;
  bool conj_k;
  __device__ void operator()(int64_t idx) const {
    const int64_t cols = batch * h, f = idx / cols, j = idx % h;
    x[idx] = cmul(k[f * h + j], x[idx], conj_k);
  }
};

template <typename Cx>
struct Correlate {
  const Cx* u;  // [bins, batch h]
  const Cx* g;
  Cx* acc;  // [bins, h]
  int64_t batch, h;
  __device__ void operator()(int64_t idx) const {
    const int64_t f = idx / h, j = idx % h;
    Cx s{0, 0};
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t at = f * batch * h + b * h + j;
      const Cx p = cmul(u[at], g[at], true);
      s.x += p.x;
      s.y += p.y;
    }
    acc[idx] = s;
  }
};

// y[b, t, j] = sum_{s <= t} K[t - s, j] u[b, s, j], s ascending: y[t] never reads u past t.
template <typename S>
struct DirectForward {
  const S* u;
  const S* k;
  S* y;
  int64_t seq, h;
  __device__ void operator()(int64_t idx) const {
    const int64_t j = idx % h, t = (idx / h) % seq, b = idx / (h * seq);
    compute_t<S> acc = 0;
    for (int64_t s = 0; s <= t; ++s)
      acc += static_cast<compute_t<S>>(load(k, (t - s) * h + j)) * load(u, (b * seq + s) * h + j);
    store(y, idx, acc);
  }
};

// du[b, s, j] += sum_{t >= s} K[t - s, j] dy[b, t, j].
template <typename S>
struct DirectInputGrad {
  const S* dy;
  const S* k;
  S* du;
  int64_t seq, h;
  __device__ void operator()(int64_t idx) const {
    const int64_t j = idx % h, s = (idx / h) % seq, b = idx / (h * seq);
    compute_t<S> acc = load(du, idx);
    for (int64_t t = s; t < seq; ++t)
      acc += static_cast<compute_t<S>>(load(k, (t - s) * h + j)) * load(dy, (b * seq + t) * h + j);
    store(du, idx, acc);
  }
};

// dK[lag, j] += sum_b sum_{t >= lag} dy[b, t, j] u[b, t - lag, j], b then t ascending.
template <typename S>
struct DirectKernelGrad {
  const S* dy;
  const S* u;
  S* dk;
  int64_t batch, seq, h;
  __device__ void operator()(int64_t idx) const {
    const int64_t j = idx % h, lag = idx / h;
    compute_t<S> acc = load(dk, idx);
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t t = lag; t < seq; ++t)
        acc += static_cast<compute_t<S>>(load(dy, (b * seq + t) * h + j)) *
               load(u, (b * seq + t - lag) * h + j);
    store(dk, idx, acc);
  }
};

template <typename Fn>
void dispatch_complex(bool f64, Fn&& fn) {
  if (f64)
    fn(cufftDoubleComplex{});
  else
    fn(cufftComplex{});
}

}  // namespace

void conv_load(const Launch& l, DType dtype, const void* src, void* buf, int64_t batch, int64_t seq,
               int64_t h, int64_t n) {
  dispatch_float("causal_conv", dtype, [&](auto tag) {
    using S = decltype(tag);
    for_each(
        l, "conv_load", n * batch * h,
        ConvLoad<S>{static_cast<const S*>(src), static_cast<compute_t<S>*>(buf), batch, seq, h});
  });
}

void conv_store(const Launch& l, DType dtype, const void* buf, void* dst, int64_t batch,
                int64_t seq, int64_t h, double scale, bool accumulate) {
  dispatch_float("causal_conv", dtype, [&](auto tag) {
    using S = decltype(tag);
    for_each(l, "conv_store", batch * seq * h,
             ConvStore<S>{static_cast<const compute_t<S>*>(buf), static_cast<S*>(dst), batch, seq,
                          h, static_cast<compute_t<S>>(scale), accumulate});
  });
}

void conv_multiply(const Launch& l, bool f64, const void* k, void* x, int64_t bins, int64_t batch,
                   int64_t h, bool conj_k) {
  dispatch_complex(f64, [&](auto tag) {
    using Cx = decltype(tag);
    for_each(l, "conv_multiply", bins * batch * h,
             Multiply<Cx>{static_cast<const Cx*>(k), static_cast<Cx*>(x), batch, h, conj_k});
  });
}

void conv_correlate(const Launch& l, bool f64, const void* u, const void* g, void* acc,
                    int64_t bins, int64_t batch, int64_t h) {
  dispatch_complex(f64, [&](auto tag) {
    using Cx = decltype(tag);
    for_each(l, "conv_correlate", bins * h,
             Correlate<Cx>{static_cast<const Cx*>(u), static_cast<const Cx*>(g),
                           static_cast<Cx*>(acc), batch, h});
  });
}

void conv_direct_forward(const Launch& l, DType dtype, const void* u, const void* kernel, void* y,
                         int64_t batch, int64_t seq, int64_t h) {
  dispatch_float("causal_conv_forward", dtype, [&](auto tag) {
    using S = decltype(tag);
    for_each(l, "conv_direct_forward", batch * seq * h,
             DirectForward<S>{static_cast<const S*>(u), static_cast<const S*>(kernel),
                              static_cast<S*>(y), seq, h});
  });
}

void conv_direct_backward(const Launch& l, DType dtype, const void* dy, const void* u,
                          const void* kernel, void* du, void* dkernel, int64_t batch, int64_t seq,
                          int64_t h) {
  dispatch_float("causal_conv_backward", dtype, [&](auto tag) {
    using S = decltype(tag);
    if (du)
      for_each(l, "conv_direct_backward du", batch * seq * h,
               DirectInputGrad<S>{static_cast<const S*>(dy), static_cast<const S*>(kernel),
                                  static_cast<S*>(du), seq, h});
    if (dkernel)
      for_each(l, "conv_direct_backward dkernel", seq * h,
               DirectKernelGrad<S>{static_cast<const S*>(dy), static_cast<const S*>(u),
                                   static_cast<S*>(dkernel), batch, seq, h});
  });
}

}  // namespace pha::cuda
