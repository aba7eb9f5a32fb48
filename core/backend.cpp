#include "core/backend.h"

#include <algorithm>
#include <cstring>

namespace pha {

std::vector<float> Backend::to_host_f32(const Tensor& src) {
  std::vector<float> out(static_cast<size_t>(src.numel()));
  switch (src.dtype) {
    case DType::f32:
      copy_to_host(src, out.data());
      break;
    case DType::f64: {
      std::vector<double> wide(out.size());
      copy_to_host(src, wide.data());
      std::copy(wide.begin(), wide.end(), out.begin());
      break;
    }
    case DType::bf16: {
      // bf16 is the high half of an f32.
      std::vector<uint16_t> half(out.size());
      copy_to_host(src, half.data());
      for (size_t i = 0; i < half.size(); ++i) {
        const uint32_t bits = static_cast<uint32_t>(half[i]) << 16;
        std::memcpy(&out[i], &bits, sizeof(float));
      }
      break;
    }
    case DType::i32:
      fail("to_host_f32: {} holds integers", src.describe());
  }
  return out;
}

void Backend::linear_forward(const Tensor& x, const Tensor& w, const Tensor& y, double beta) {
  require_rank("linear_forward", "w", w, 2);
  require_last_dim("linear_forward", "x", x, w.dim(1));
  require_last_dim("linear_forward", "y", y, w.dim(0));
  PHA_REQUIRE(x.shape.rows() == y.shape.rows(), "linear_forward: x {} and y {} differ in rows",
              x.shape.str(), y.shape.str());
  const Tensor x2 = x.view({x.shape.rows(), x.shape.last()});
  const Tensor y2 = y.view({y.shape.rows(), y.shape.last()});
  matmul(x2, false, w, true, y2, 1.0, beta);
}

void Backend::linear_backward(const Tensor& dy, const Tensor& x, const Tensor& w, const Tensor& dx,
                              const Tensor& dw, double dx_beta) {
  require_rank("linear_backward", "w", w, 2);
  require_last_dim("linear_backward", "x", x, w.dim(1));
  require_last_dim("linear_backward", "dy", dy, w.dim(0));
  const Tensor dy2 = dy.view({dy.shape.rows(), dy.shape.last()});
  if (!dx.empty()) {
    require_same_shape("linear_backward", "dx", dx, "x", x);
    matmul(dy2, false, w, false, dx.view({dx.shape.rows(), dx.shape.last()}), 1.0, dx_beta);
  }
  if (!dw.empty()) {
    require_same_shape("linear_backward", "dw", dw, "w", w);
    matmul(dy2, true, x.view({x.shape.rows(), x.shape.last()}), false, dw, 1.0, 1.0);
  }
}

}  // namespace pha

namespace pha {

void Backend::attention_block_forward(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                      const Tensor&, int64_t, int64_t, int64_t, bool) {
  fail(
      "attention_block_forward: the {} backend has no block attention (context parallelism, "
      "parallel.cp > 1, runs on the CPU backend)",
      name());
}

void Backend::attention_block_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                       const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                       const Tensor&, int64_t, int64_t, int64_t) {
  fail(
      "attention_block_backward: the {} backend has no block attention (context parallelism, "
      "parallel.cp > 1, runs on the CPU backend)",
      name());
}

}  // namespace pha
