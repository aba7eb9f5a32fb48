#pragma once
// The optimiser's kernels for GPU tensors, with optim/cpu_kernels.h's signatures and semantics, so
// adamw.cpp and clip.cpp dispatch on Tensor::device. In a build without CUDA each refuses.
#include "core/element_range.h"
#include "core/math/adamw.h"
#include "core/tensor.h"

namespace pha {

void adamw_cuda(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                const Tensor& exp_avg_sq, ElementRange range, const AdamWScalars<double>& scalars);
double sum_squares_cuda(const Tensor& t, ElementRange range);
void scale_cuda(const Tensor& t, double factor);
bool all_finite_cuda(const Tensor& t);

}  // namespace pha
