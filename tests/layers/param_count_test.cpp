// The parameter count of every preset against the formula of model.md, written out by hand here
// (independently of the size table that allocates the model).
#include <gtest/gtest.h>

#include "layers/model.h"
#include "tests/test_util.h"

namespace pha {
namespace {

int64_t spec_formula(const ModelConfig& c) {
  const int64_t d = c.d, dh = c.head_dim(), V = (c.vocab + 63) / 64 * 64;
  const int64_t attention = c.n_q * dh * d * 2 + c.n_kv * dh * d * 2;  // wq, wo, wk, wv
  const int64_t ffn = 2 * c.d_ff * d;
  const int64_t F = c.gss_f, H = c.gss_h, N = c.dss_n;
  const int64_t gss = F * d + H * d + F * H + d * F + 2 * H + 2 * N + 2 * H * N + H;
  int64_t per_layer = 0;
  if (c.block.serial) {
    per_layer = 2 * d + attention + ffn;
  } else {
    const int64_t n = c.block.n_active();
    per_layer = d + (c.mixer == MixerKind::channel ? n * d : n);
    if (c.block.attention) per_layer += attention;
    if (c.block.gss) per_layer += gss;
    if (c.block.ffn) per_layer += ffn;
  }
  return V * d + c.n_layers * per_layer + d + (c.tie_embeddings ? 0 : V * d);
}

TEST(ParamCount, EveryPresetMatchesTheSpecFormula) {
  for (const char* name : {"tiny", "small", "pha-90m", "pha-125m", "pha-180m", "serial-90m",
                           "serial-125m", "serial-180m"}) {
    const ModelConfig c = model_preset(name);
    const int64_t counted = count_parameters(c);
    std::printf("  %-12s %12lld parameters\n", name, static_cast<long long>(counted));
    EXPECT_EQ(counted, spec_formula(c)) << name;
  }
}

TEST(ParamCount, PublishedSizes) {
  // model.md: ~87.7M, ~122.8M, ~178.9M.
  EXPECT_NEAR(count_parameters(model_preset("pha-90m")) / 1e6, 87.7, 0.05);
  EXPECT_NEAR(count_parameters(model_preset("pha-125m")) / 1e6, 122.8, 0.05);
  EXPECT_NEAR(count_parameters(model_preset("pha-180m")) / 1e6, 178.9, 0.05);
}

TEST(ParamCount, VariantsAndMixers) {
  for (const char* block :
       {"pha", "attention", "gss", "ffn", "attention+ffn", "gss+ffn", "attention+gss", "serial"})
    for (const char* mixer : {"softmax", "scalar", "channel"}) {
      ModelConfig c = model_preset("tiny");
      c.block = BlockKind::parse(block);
      c.mixer = parse_mixer(mixer);
      c.tie_embeddings = std::string(block) != "gss";
      EXPECT_EQ(count_parameters(c), spec_formula(c)) << block << " " << mixer;
    }
}

TEST(ModelConfig, InconsistentConfigsAreRefusedWithTheRule) {
  ModelConfig c = model_preset("tiny");
  c.d = 250;
  test::expect_error([&] { c.validate(); }, "d = 250 is not divisible by model.n_q = 8");
  c = model_preset("tiny");
  c.n_kv = 3;
  test::expect_error([&] { c.validate(); }, "n_q = 8 is not a multiple of model.n_kv = 3");
  c = model_preset("tiny");
  c.d_h = 7;
  test::expect_error([&] { c.validate(); }, "d_h = 7 is odd");
  test::expect_error([] { (void)BlockKind::parse("attention+mlp"); }, "unknown branch 'mlp'");
  test::expect_error([] { (void)model_preset("pha-1b"); }, "preset 'pha-1b' is unknown");
  test::expect_error([] { (void)parse_mixer("max"); }, "mixer 'max' is unknown");
}

}  // namespace
}  // namespace pha
