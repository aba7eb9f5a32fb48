#include "optim/clip.h"

#include <cmath>

#include "optim/cpu_kernels.h"

namespace pha {

namespace {

void require_cpu(const char* op, const Arena& arena, size_t i) {
  PHA_REQUIRE(arena[i].device == Device::cpu,
              "{}: '{}' of '{}' is on {}; these kernels take cpu tensors only", op,
              arena.table().entries()[i].name, arena.label(), device_name(arena[i].device));
}

}  // namespace

double gradient_sum_squares(const Arena& grads, const std::vector<ElementRange>& ranges) {
  if (!ranges.empty()) require_ranges_fit("gradient norm", grads, ranges);
  double total = 0.0;
  for (size_t i = 0; i < grads.tensors().size(); ++i) {
    require_cpu("gradient norm", grads, i);
    const ElementRange range = ranges.empty() ? ElementRange{0, grads[i].numel()} : ranges[i];
    total += sum_squares_cpu(grads[i], range);
  }
  return total;
}

double clip_by_global_norm(const Arena& grads, double sum_squares, double max_norm) {
  PHA_REQUIRE(std::isfinite(max_norm) && max_norm > 0.0,
              "gradient clipping: max_norm = {} must be > 0", max_norm);
  PHA_REQUIRE(!(sum_squares < 0.0),
              "gradient clipping: the sum of squared gradients {} is negative", sum_squares);
  const double norm = std::sqrt(sum_squares);
  if (!std::isfinite(norm)) return norm;
  const double factor = max_norm / (norm + 1e-6);
  if (factor < 1.0) scale_gradients(grads, factor);
  return norm;
}

void scale_gradients(const Arena& grads, double factor) {
  PHA_REQUIRE(std::isfinite(factor), "scale_gradients: factor {} must be finite", factor);
  for (size_t i = 0; i < grads.tensors().size(); ++i) require_cpu("scale_gradients", grads, i);
  for (const Tensor& g : grads.tensors()) scale_cpu(g, factor);
}

std::optional<std::string> first_nonfinite(const Arena& tensors) {
  for (size_t i = 0; i < tensors.tensors().size(); ++i) {
    require_cpu("first_nonfinite", tensors, i);
    if (!all_finite_cpu(tensors[i])) return tensors.table().entries()[i].name;
  }
  return std::nullopt;
}

}  // namespace pha
