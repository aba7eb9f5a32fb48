#pragma once
// Small models for tests: odd sizes, the rest of the configuration from the tiny preset.
#include <cstdint>

#include "layers/model_config.h"

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

}  // namespace pha::test
