// The incremental decoder (KV cache + GSS recurrence) against the full forward: at every position
// its logits must equal Model::forward's logits for the same tokens, on random weights, for
// several block kinds, mixers and odd sizes, in f64 (<= 1e-12 relative) and f32 (<= 1e-5).
#include "layers/decoder.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/cpu/cpu_backend.h"
#include "core/philox.h"
#include "tests/model_test_util.h"
#include "tests/test_util.h"

namespace pha {
namespace {

// Odd sizes, GQA (4 query heads on 2 kv heads), two layers.
ModelConfig odd_model() {
  ModelConfig c = test::sized_model({.d = 40,
                                     .n_q = 4,
                                     .n_kv = 2,
                                     .d_ff = 72,
                                     .gss_f = 36,
                                     .gss_h = 13,
                                     .dss_n = 11,
                                     .n_layers = 2,
                                     .vocab = 97});
  c.max_seq_len = 64;
  return c;
}

// Adds normal(0, 0.3) noise to every parameter so that no path is trivial at the initialisation
// (mixer alpha 0, LayerNorm bias 0, gains 1).
void perturb(Model& model, uint64_t seed) {
  Backend& be = model.backend();
  for (const ParamSpec& spec : model.param_specs()) {
    const Tensor value = model.params().get(spec.name);
    std::vector<double> host(static_cast<size_t>(value.numel()));
    std::vector<float> host32(host.size());
    if (value.dtype == DType::f64) {
      be.copy_to_host(value, host.data());
    } else {
      be.copy_to_host(value, host32.data());
      for (size_t i = 0; i < host.size(); ++i) host[i] = host32[i];
    }
    const uint64_t stream = stream_of(spec.name.c_str());
    for (size_t i = 0; i < host.size(); ++i) host[i] += 0.3 * philox_normal(seed, stream, i);
    if (value.dtype == DType::f64) {
      be.copy_from_host(value, host.data());
    } else {
      for (size_t i = 0; i < host.size(); ++i) host32[i] = static_cast<float>(host[i]);
      be.copy_from_host(value, host32.data());
    }
  }
}

struct Comparison {
  double worst_rel = 0;  // max over positions of max|decoder - forward| / max|forward|
  int64_t worst_position = -1;
};

// Decodes T random tokens one at a time and compares every position's logits with one forward.
Comparison compare(const ModelConfig& c, DType dtype, int64_t T, uint64_t seed) {
  CpuBackend be;
  Model model(be, c, 1, T, dtype);
  model.init_parameters(seed);
  perturb(model, seed);
  const auto tokens = test::random_tokens({T}, static_cast<int32_t>(c.vocab), seed + 1);
  model.forward(tokens.data.data());
  const int64_t V = c.vocab_padded();
  std::vector<double> full(static_cast<size_t>(T * V));
  const auto to_double = [&](const Tensor& t, double* out) {
    if (t.dtype == DType::f64) {
      be.copy_to_host(t, out);
    } else {
      const std::vector<float> f = be.to_host_f32(t);
      for (size_t i = 0; i < f.size(); ++i) out[i] = f[i];
    }
  };
  to_double(model.logits(), full.data());

  Decoder decoder(model, T);
  Comparison r;
  std::vector<double> row(static_cast<size_t>(V));
  for (int64_t t = 0; t < T; ++t) {
    to_double(decoder.step(tokens.data[static_cast<size_t>(t)]), row.data());
    double diff = 0, scale = 0;
    for (int64_t v = 0; v < V; ++v) {
      const double ref = full[static_cast<size_t>(t * V + v)];
      diff = std::max(diff, std::fabs(row[static_cast<size_t>(v)] - ref));
      scale = std::max(scale, std::fabs(ref));
    }
    if (diff / scale > r.worst_rel) r = {diff / scale, t};
  }
  return r;
}

struct Case {
  const char* name;
  ModelConfig cfg;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  out.push_back({"pha softmax, GQA", odd_model()});
  ModelConfig c = odd_model();
  c.mixer = MixerKind::channel;
  out.push_back({"pha channel mixer", c});
  c = odd_model();
  c.mixer = MixerKind::scalar;
  c.attn_window = 5;
  out.push_back({"pha scalar mixer, window 5", c});
  c = odd_model();
  c.block = BlockKind::parse("serial");
  c.n_kv = 4;
  out.push_back({"serial, MHA", c});
  c = odd_model();
  c.block = BlockKind::parse("gss");
  c.tie_embeddings = false;
  out.push_back({"gss only, untied head", c});
  c = odd_model();
  c.block = BlockKind::parse("attention+ffn");
  c.d_h = 6;
  c.n_layers = 3;
  out.push_back({"attention+ffn, d_h 6 != d / n_q", c});
  c = odd_model();
  c.dss_init = DssInit::s4d;
  out.push_back({"pha, s4d DSS init", c});
  return out;
}

TEST(Decoder, MatchesFullForwardInDouble) {
  for (const Case& k : cases()) {
    const Comparison r = compare(k.cfg, DType::f64, 37, 5);
    std::printf("  f64 %-34s worst relative difference %.2e (position %lld)\n", k.name, r.worst_rel,
                static_cast<long long>(r.worst_position));
    EXPECT_LE(r.worst_rel, 1e-12) << k.name << " at position " << r.worst_position;
  }
}

TEST(Decoder, MatchesFullForwardInFloat) {
  for (const Case& k : cases()) {
    const Comparison r = compare(k.cfg, DType::f32, 37, 8);
    std::printf("  f32 %-34s worst relative difference %.2e (position %lld)\n", k.name, r.worst_rel,
                static_cast<long long>(r.worst_position));
    EXPECT_LE(r.worst_rel, 1e-5) << k.name << " at position " << r.worst_position;
  }
}

// 400 steps of the recurrence (slowly decaying s4d modes) against the directly computed kernel.
TEST(Decoder, LongSequenceStaysWithinTolerance) {
  ModelConfig c = odd_model();
  c.dss_init = DssInit::s4d;
  c.max_seq_len = 400;
  for (DType dtype : {DType::f64, DType::f32}) {
    const Comparison r = compare(c, dtype, 400, 11);
    std::printf("  %s T = 400: worst relative difference %.2e (position %lld)\n",
                dtype == DType::f64 ? "f64" : "f32", r.worst_rel,
                static_cast<long long>(r.worst_position));
    EXPECT_LE(r.worst_rel, dtype == DType::f64 ? 1e-12 : 1e-5);
  }
}

TEST(Decoder, ResetStartsOverAndFeedSkipsOnlyTheHead) {
  const ModelConfig c = odd_model();
  CpuBackend be;
  Model model(be, c, 1, 8, DType::f64);
  model.init_parameters(2);
  perturb(model, 2);
  Decoder decoder(model, 8);
  const std::vector<int32_t> tokens{5, 17, 3, 96, 40};
  std::vector<double> first(static_cast<size_t>(c.vocab_padded())), again(first.size());
  for (size_t i = 0; i + 1 < tokens.size(); ++i) decoder.step(tokens[i]);
  be.copy_to_host(decoder.step(tokens.back()), first.data());
  decoder.reset();
  EXPECT_EQ(decoder.position(), 0);
  for (size_t i = 0; i + 1 < tokens.size(); ++i) decoder.feed(tokens[i]);
  be.copy_to_host(decoder.step(tokens.back()), again.data());
  EXPECT_EQ(first, again);
}

TEST(Decoder, RefusesBadTokensAndTooManyPositions) {
  const ModelConfig c = odd_model();
  CpuBackend be;
  Model model(be, c, 1, 4);
  model.init_parameters(1);
  test::expect_error([&] { Decoder(model, 65); },
                     "the decoder's length 65 must be in [1, model.max_seq_len = 64]");
  Decoder decoder(model, 2);
  test::expect_error([&] { decoder.step(97); }, "token id 97 is outside the vocabulary [0, 97)");
  decoder.step(1);
  decoder.step(2);
  test::expect_error([&] { decoder.step(3); }, "the decoder holds 2 positions and all are used");
}

}  // namespace
}  // namespace pha
