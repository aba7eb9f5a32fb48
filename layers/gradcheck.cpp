#include "layers/gradcheck.h"

#include <cmath>

namespace pha {

std::vector<GradCheckResult> check_model_gradients(Model& model, const std::vector<int32_t>& tokens,
                                                   int64_t points_per_param, double step) {
  Backend& be = model.backend();
  PHA_REQUIRE(model.params().tensors().empty() || model.params()[0].dtype == DType::f64,
              "the gradient check needs a model computing in f64");
  model.zero_grads();
  model.forward(tokens.data());
  model.backward();
  std::vector<GradCheckResult> results;
  for (const ParamSpec& spec : model.param_specs()) {
    const Tensor value = model.params().get(spec.name);
    const Tensor grad = model.grads().get(spec.name);
    const int64_t n = value.numel();
    std::vector<double> host(static_cast<size_t>(n)), analytic(static_cast<size_t>(n));
    be.copy_to_host(value, host.data());
    be.copy_to_host(grad, analytic.data());
    const int64_t stride = std::max<int64_t>(1, n / points_per_param);
    double num2 = 0, diff2 = 0;
    GradCheckResult r{spec.name, 0, 0};
    for (int64_t i = 0; i < n; i += stride) {
      const double saved = host[static_cast<size_t>(i)];
      auto loss_at = [&](double v) {
        host[static_cast<size_t>(i)] = v;
        be.copy_from_host(value, host.data());
        return model.forward(tokens.data());
      };
      const double numeric = (loss_at(saved + step) - loss_at(saved - step)) / (2 * step);
      host[static_cast<size_t>(i)] = saved;
      be.copy_from_host(value, host.data());
      const double d = analytic[static_cast<size_t>(i)] - numeric;
      diff2 += d * d;
      num2 += numeric * numeric;
      ++r.points;
    }
    r.rel_error = std::sqrt(diff2) / std::max(std::sqrt(num2), 1e-300);
    results.push_back(r);
  }
  return results;
}

}  // namespace pha
