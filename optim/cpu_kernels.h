#pragma once
// The optimiser's kernels for host tensors (f32 or f64, computed in the tensor's type), OpenMP
// over elements. A CUDA backend provides the same set for device tensors; the callers in adamw.cpp
// and clip.cpp dispatch on Tensor::device.
#include "core/element_range.h"
#include "core/math/adamw.h"
#include "core/tensor.h"

namespace pha {

// adamw_update on elements [range.begin, range.end) of four tensors of one shape and dtype.
void adamw_cpu(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
               const Tensor& exp_avg_sq, ElementRange range, const AdamWScalars<double>& scalars);

// Sum of x^2 over the range, accumulated in double. The order of additions is fixed (independent
// of the thread count), so the result is bit-reproducible.
double sum_squares_cpu(const Tensor& t, ElementRange range);

// t *= factor, every element.
void scale_cpu(const Tensor& t, double factor);

// False when any element is NaN or +-Inf.
bool all_finite_cpu(const Tensor& t);

}  // namespace pha
