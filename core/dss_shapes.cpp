#include "core/dss_shapes.h"

namespace pha {

DssDims check_dss_shapes(const char* op, const Tensor& lambda_re, const Tensor& lambda_im,
                         const Tensor& c_re, const Tensor& c_im, const Tensor& kernel,
                         const char* kernel_name) {
  require_rank(op, "lambda_re", lambda_re, 1);
  const int64_t n = lambda_re.dim(0);
  PHA_REQUIRE(n >= 1, "{}: lambda_re is empty; the kernel needs N >= 1 modes", op);
  require_shape(op, "lambda_im", lambda_im, Shape{n});
  require_rank(op, "c_re", c_re, 2);
  PHA_REQUIRE(c_re.dim(1) == n,
              "{}: c_re has shape {} but lambda_re has N = {} modes; c_re must be [H, N]", op,
              c_re.shape.str(), n);
  const int64_t h = c_re.dim(0);
  require_shape(op, "c_im", c_im, Shape{h, n});
  require_rank(op, kernel_name, kernel, 2);
  PHA_REQUIRE(kernel.dim(1) == h,
              "{}: {} has shape {} but c_re has H = {} channels; the kernel must be [T, H]", op,
              kernel_name, kernel.shape.str(), h);
  PHA_REQUIRE(h >= 1 && kernel.dim(0) >= 1, "{}: {} {} is empty", op, kernel_name,
              kernel.shape.str());
  for (const Tensor* t : {&lambda_im, &c_re, &c_im, &kernel}) require_same_dtype(op, lambda_re, *t);
  return {n, h, kernel.dim(0)};
}

}  // namespace pha
