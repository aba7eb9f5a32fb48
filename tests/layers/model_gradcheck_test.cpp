// The whole model's backward against central finite differences in double, for every block
// variant and mixer, with odd sizes. Every parameter is checked (a sample of its elements).
#include <gtest/gtest.h>

#include "core/cpu/cpu_backend.h"
#include "layers/gradcheck.h"
#include "tests/test_util.h"

namespace pha {
namespace {

ModelConfig odd_config(const std::string& block, const std::string& mixer) {
  ModelConfig c;
  c.d = 18;
  c.n_q = 3;  // d_h = 6
  c.n_kv = 1;
  c.d_ff = 22;
  c.gss_f = 14;
  c.gss_h = 7;
  c.dss_n = 5;
  c.n_layers = 2;
  c.vocab = 37;  // padded to 64: the padding rows take part in the softmax
  c.max_seq_len = 16;
  c.block = BlockKind::parse(block);
  c.mixer = parse_mixer(mixer);
  return c;
}

// `keep_init`: parameters that keep their initial values (e.g. the s4d DSS modes).
void check(const ModelConfig& cfg, int64_t batch, int64_t seq_len, uint64_t seed,
           bool (*keep_init)(const ParamSpec&) = nullptr) {
  CpuBackend backend;
  Model model(backend, cfg, batch, seq_len, DType::f64);
  model.init_parameters(seed);
  // Random values everywhere (never the init's zeros and ones), so every path carries gradient.
  for (const ParamSpec& spec : model.param_specs()) {
    if (keep_init && keep_init(spec)) continue;
    const auto noise = test::random_tensor<double>(spec.shape, seed + spec.shape.numel(), 0.3,
                                                   spec.init == InitKind::ones ? 1.0 : 0.0);
    backend.copy_from_host(model.params().get(spec.name), noise.data.data());
  }
  const auto tokens = test::random_tokens({batch * seq_len}, static_cast<int32_t>(cfg.vocab), seed);
  const auto results = check_model_gradients(model, tokens.data, 5);
  for (const auto& r : results) {
    std::printf("  %-26s points %3lld  rel error %.2e (tol 1e-6)\n", r.name.c_str(),
                static_cast<long long>(r.points), r.rel_error);
    EXPECT_LE(r.rel_error, 1e-6) << r.name;
  }
}

class BlockVariants : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(BlockVariants, GradientsMatchFiniteDifferences) {
  const auto& [block, mixer] = GetParam();
  check(odd_config(block, mixer), 2, 7, 17);
}

INSTANTIATE_TEST_SUITE_P(
    AllVariants, BlockVariants,
    ::testing::Values(std::make_tuple("pha", "softmax"), std::make_tuple("pha", "scalar"),
                      std::make_tuple("pha", "channel"), std::make_tuple("serial", "softmax"),
                      std::make_tuple("attention+ffn", "softmax"), std::make_tuple("gss", "scalar"),
                      std::make_tuple("gss+ffn", "channel"),
                      std::make_tuple("attention", "softmax")),
    [](const auto& info) {
      std::string name = std::get<0>(info.param) + "_" + std::get<1>(info.param);
      for (char& ch : name)
        if (ch == '+') ch = '_';
      return name;
    });

TEST(ModelGradients, WindowUntiedDirectConvAndWideHeads) {
  ModelConfig c = odd_config("pha", "softmax");
  c.attn_window = 3;
  c.tie_embeddings = false;
  c.conv_algo = ConvAlgo::direct;
  c.d_h = 8;  // n_q * d_h = 48 != d = 18
  check(c, 1, 9, 23);
}

TEST(ModelGradients, S4dInit) {
  ModelConfig c = odd_config("gss", "softmax");
  c.dss_init = DssInit::s4d;
  check(c, 2, 6, 5, [](const ParamSpec& spec) {
    return spec.init == InitKind::s4d_lambda_re || spec.init == InitKind::s4d_lambda_im;
  });
}

}  // namespace
}  // namespace pha
