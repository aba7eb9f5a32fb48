#pragma once
// Parameter initialisation from (seed, parameter name, element index) with Philox: the same seed
// gives the same model on any backend and any parallel layout.
#include <cstdint>
#include <vector>

#include "layers/planner.h"

namespace pha {

// The initial value of element `index` of parameter `spec` (a global index into its full shape).
double initial_value(const ParamSpec& spec, uint64_t seed, int64_t index);

// Fills `out` (host, f32) with this rank's local elements [begin, begin + out.size()).
void initial_values(const ParamSpec& spec, uint64_t seed, int64_t begin, std::vector<float>& out);

}  // namespace pha
