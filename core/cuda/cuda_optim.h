#pragma once
// The optimiser's kernels for GPU tensors, with the semantics of optim/cpu_kernels.h (elements
// [begin, end) of a tensor; f32 or f64, computed in the tensor's type). They see only tensors, so
// they run on the stream of the process's CUDA backend (CudaBackend::instance()), ordered after
// the backward that wrote the gradients. Plain C++: the optimiser (host compiler) includes it in
// builds with PHA_HAVE_CUDA_BUILD.
#include <cstdint>

#include "core/math/adamw.h"
#include "core/tensor.h"

namespace pha::cuda {

// adamw_update on elements [begin, end) of four tensors of one shape and dtype.
void adamw_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                const Tensor& exp_avg_sq, int64_t begin, int64_t end,
                const AdamWScalars<double>& scalars);

// Sum of x^2 over [begin, end), in double, in a fixed order (bit-reproducible). Waits for it.
double sum_squares_range(const Tensor& t, int64_t begin, int64_t end);

// t *= factor, every element.
void scale_in_place(const Tensor& t, double factor);

// False when any element is NaN or +-Inf. Waits for it.
bool all_finite(const Tensor& t);

}  // namespace pha::cuda
