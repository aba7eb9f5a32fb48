#include "optim/clip.h"

#include <algorithm>
#include <cmath>

#include "optim/cpu_kernels.h"
#include "optim/cuda_kernels.h"

namespace pha {

namespace {

// The kernels of the tensor's device.
double sum_squares_on(const Tensor& t, ElementRange range) {
  return t.device == Device::cuda ? sum_squares_cuda(t, range) : sum_squares_cpu(t, range);
}
void scale_on(const Tensor& t, double factor) {
  if (t.device == Device::cuda)
    scale_cuda(t, factor);
  else
    scale_cpu(t, factor);
}
bool all_finite_on(const Tensor& t) {
  return t.device == Device::cuda ? all_finite_cuda(t) : all_finite_cpu(t);
}

}  // namespace

double gradient_sum_squares(const Arena& grads, const std::vector<ElementRange>& ranges) {
  if (!ranges.empty()) require_ranges_fit("gradient norm", grads, ranges);
  double total = 0.0;
  for (size_t i = 0; i < grads.tensors().size(); ++i) {
    const ElementRange range = ranges.empty() ? ElementRange{0, grads[i].numel()} : ranges[i];
    total += sum_squares_on(grads[i], range);
  }
  return total;
}

namespace {
// The clip factor for a global norm, or 1 (no clipping, or a non-finite norm).
double clip_factor(double sum_squares, double max_norm) {
  PHA_REQUIRE(std::isfinite(max_norm) && max_norm > 0.0,
              "gradient clipping: max_norm = {} must be > 0", max_norm);
  PHA_REQUIRE(!(sum_squares < 0.0),
              "gradient clipping: the sum of squared gradients {} is negative", sum_squares);
  const double norm = std::sqrt(sum_squares);
  return std::isfinite(norm) ? std::min(1.0, max_norm / (norm + 1e-6)) : 1.0;
}
}  // namespace

double clip_by_global_norm(const Arena& grads, double sum_squares, double max_norm) {
  const double factor = clip_factor(sum_squares, max_norm);
  if (factor < 1.0) scale_gradients(grads, factor);
  return std::sqrt(sum_squares);
}

double clip_by_global_norm(const Tensor& grads, double sum_squares, double max_norm) {
  const double factor = clip_factor(sum_squares, max_norm);
  if (factor < 1.0) scale_tensor(grads, factor);
  return std::sqrt(sum_squares);
}

double tensor_sum_squares(const Tensor& t) {
  return sum_squares_on(t, ElementRange{0, t.numel()});
}

bool all_finite(const Tensor& t) {
  return all_finite_on(t);
}

void scale_gradients(const Arena& grads, double factor) {
  PHA_REQUIRE(std::isfinite(factor), "scale_gradients: factor {} must be finite", factor);
  for (const Tensor& g : grads.tensors()) scale_on(g, factor);
}

void scale_tensor(const Tensor& t, double factor) {
  PHA_REQUIRE(std::isfinite(factor), "scale_tensor: factor {} must be finite", factor);
  scale_on(t, factor);
}

std::optional<std::string> first_nonfinite(const Arena& tensors) {
  // Integer tensors (token ids, targets) are always finite.
  for (size_t i = 0; i < tensors.tensors().size(); ++i)
    if (tensors[i].dtype != DType::i32 && !all_finite_on(tensors[i]))
      return tensors.table().entries()[i].name;
  return std::nullopt;
}

}  // namespace pha
