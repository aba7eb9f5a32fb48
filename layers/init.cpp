#include "layers/init.h"

#include <cmath>

#include "core/philox.h"

namespace pha {

namespace {
// s4d: dt_n log-uniform in [1e-3, 1e-1], one draw per mode shared by lambda_re and lambda_im.
double s4d_dt(const std::string& param_name, uint64_t seed, int64_t n) {
  const std::string prefix = param_name.substr(0, param_name.rfind('.') + 1);
  const double u =
      philox_uniform(seed, stream_of((prefix + "dt").c_str()), static_cast<uint64_t>(n));
  return std::exp(std::log(1e-3) + u * (std::log(1e-1) - std::log(1e-3)));
}
}  // namespace

double initial_value(const ParamSpec& spec, uint64_t seed, int64_t index) {
  // `index` is global: s4d modes are indexed by n along an unsplit [N] parameter.
  switch (spec.init) {
    case InitKind::normal:
      return spec.stddev *
             philox_normal(seed, stream_of(spec.name.c_str()), static_cast<uint64_t>(index));
    case InitKind::ones:
      return 1.0;
    case InitKind::zeros:
      return 0.0;
    case InitKind::s4d_lambda_re:
      return std::log(0.5 * s4d_dt(spec.name, seed, index));
    case InitKind::s4d_lambda_im:
      return std::log(M_PI * (static_cast<double>(index) + 0.5) * s4d_dt(spec.name, seed, index));
  }
  return 0.0;
}

void initial_values(const ParamSpec& spec, uint64_t seed, int64_t begin, std::vector<float>& out) {
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<float>(
        initial_value(spec, seed, spec.global_index(begin + static_cast<int64_t>(i))));
}

}  // namespace pha
