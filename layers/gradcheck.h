#pragma once
// Whole-model gradient check: backward() against central finite differences of forward(), for a
// model computing in f64. Used by `pha check` and by the tests.
#include <string>
#include <vector>

#include "layers/model.h"

namespace pha {

struct GradCheckResult {
  std::string name;      // parameter name
  int64_t points = 0;    // elements perturbed
  double rel_error = 0;  // ||analytic - numeric|| / ||numeric|| over those elements
};

// Checks up to `points_per_param` elements of every parameter (evenly spread). The model must be
// f64 and initialised; `tokens` is one micro-batch [B * T].
std::vector<GradCheckResult> check_model_gradients(Model& model, const std::vector<int32_t>& tokens,
                                                   int64_t points_per_param, double step = 1e-5);

}  // namespace pha
