#pragma once
// Small models for tests: odd sizes, the rest of the configuration from the tiny preset.
#include <cstdint>

#include "layers/model.h"
#include "layers/model_config.h"
#include "tests/test_util.h"

namespace pha::test {

struct ModelSizes {
  int64_t d, n_q, n_kv, d_ff, gss_f, gss_h, dss_n, n_layers, vocab;
};

inline ModelConfig sized_model(const ModelSizes& s) {
  ModelConfig c = model_preset("tiny");
  c.d = s.d;
  c.n_q = s.n_q;
  c.n_kv = s.n_kv;
  c.d_ff = s.d_ff;
  c.gss_f = s.gss_f;
  c.gss_h = s.gss_h;
  c.dss_n = s.dss_n;
  c.n_layers = s.n_layers;
  c.vocab = s.vocab;
  return c;
}

// Random values in every parameter (around 1 for those initialised to ones, else around 0; never
// the init's zeros and ones), so every path carries gradient, and different in every layer, so a
// tensor left over from another layer shows. T: the model's parameter type.
template <typename T>
void randomize_parameters(Backend& be, Model& model, uint64_t seed) {
  for (const ParamSpec& spec : model.param_specs()) {
    const auto noise =
        random_tensor<T>(spec.shape, ++seed, 0.3, spec.init == InitKind::ones ? 1.0 : 0.0);
    be.copy_from_host(model.params().get(spec.name), noise.data.data());
  }
}

}  // namespace pha::test
