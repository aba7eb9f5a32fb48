// Causality of the whole model: changing token t leaves the logits at positions < t unchanged —
// bit for bit with the direct-sum convolution, within 1e-5 relative with the FFT convolution.
#include <gtest/gtest.h>

#include <cmath>

#include "core/cpu/cpu_backend.h"
#include "layers/model.h"
#include "tests/model_test_util.h"
#include "tests/test_util.h"

namespace pha {
namespace {

struct Diff {
  double max_abs_before = 0, max_ref_before = 0;
  double max_abs_after = 0;
};

Diff change_token(ConvAlgo algo, const std::string& block, int64_t t_changed) {
  ModelConfig c = test::sized_model({.d = 64,
                                     .n_q = 4,
                                     .n_kv = 2,
                                     .d_ff = 96,
                                     .gss_f = 48,
                                     .gss_h = 16,
                                     .dss_n = 16,
                                     .n_layers = 2,
                                     .vocab = 100});
  c.conv_algo = algo;
  c.block = BlockKind::parse(block);
  const int64_t B = 2, T = 33;
  CpuBackend be;
  Model model(be, c, B, T);
  model.init_parameters(3);
  auto tokens = test::random_tokens({B * T}, 100, 9);
  model.forward(tokens.data.data());
  std::vector<float> before(static_cast<size_t>(model.logits().numel()));
  be.copy_to_host(model.logits(), before.data());
  for (int64_t b = 0; b < B; ++b)
    tokens.data[static_cast<size_t>(b * T + t_changed)] =
        (tokens.data[static_cast<size_t>(b * T + t_changed)] + 17) % 100;
  model.forward(tokens.data.data());
  std::vector<float> after(before.size());
  be.copy_to_host(model.logits(), after.data());
  const int64_t V = c.vocab_padded();
  Diff d;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t v = 0; v < V; ++v) {
        const size_t i = static_cast<size_t>((b * T + t) * V + v);
        const double diff = std::fabs(static_cast<double>(after[i]) - before[i]);
        if (t < t_changed) {
          d.max_abs_before = std::max(d.max_abs_before, diff);
          d.max_ref_before = std::max(d.max_ref_before, std::fabs(static_cast<double>(before[i])));
        } else {
          d.max_abs_after = std::max(d.max_abs_after, diff);
        }
      }
  return d;
}

TEST(Causality, DirectConvolutionIsBitExact) {
  for (const char* block : {"pha", "serial", "gss"})
    for (int64_t t : {1, 16, 32}) {
      const Diff d = change_token(ConvAlgo::direct, block, t);
      EXPECT_EQ(d.max_abs_before, 0.0) << block << " t=" << t;
      EXPECT_GT(d.max_abs_after, 0.0) << "changing token " << t << " must change later logits";
    }
}

TEST(Causality, FftConvolutionWithinRounding) {
  for (int64_t t : {1, 16, 32}) {
    const Diff d = change_token(ConvAlgo::fft, "pha", t);
    std::printf("  t=%lld: max |change| before t %.2e (logit scale %.2e), after %.2e\n",
                static_cast<long long>(t), d.max_abs_before, d.max_ref_before, d.max_abs_after);
    EXPECT_LE(d.max_abs_before, 1e-5 * d.max_ref_before);
    EXPECT_GT(d.max_abs_after, 0.0);
  }
}

}  // namespace
}  // namespace pha

namespace pha {
namespace {

TEST(ModelInput, TokenOutsideTheVocabularyIsRefused) {
  ModelConfig c = model_preset("tiny");
  c.n_layers = 1;
  c.max_seq_len = 8;
  CpuBackend be;
  test::expect_error([&] { Model(be, c, 1, 9); },
                     "sequence length 9 exceeds model.max_seq_len = 8");
  Model model(be, c, 1, 8);
  model.init_parameters(1);
  std::vector<int32_t> tokens(8, 3);
  tokens[5] = static_cast<int32_t>(c.vocab);  // the padded rows are not tokens
  test::expect_error([&] { model.forward(tokens.data()); },
                     "token id 512 at position 5 of the batch is outside the vocabulary [0, 512)");
}

}  // namespace
}  // namespace pha
