#pragma once
// The shape contract of the DSS kernel ops, shared by every backend: lambda_re, lambda_im [N];
// c_re, c_im [H, N]; kernel (or its gradient) [T, H]; one dtype.
#include "core/tensor.h"

namespace pha {

struct DssDims {
  int64_t n, h, t;
};

// Refuses any tensor that breaks the contract, naming the op and the shapes.
DssDims check_dss_shapes(const char* op, const Tensor& lambda_re, const Tensor& lambda_im,
                         const Tensor& c_re, const Tensor& c_im, const Tensor& kernel,
                         const char* kernel_name);

}  // namespace pha
