// Activation recomputation (train.recompute): with selective and full recomputation the losses
// and every gradient are bit-identical to none's, for every block kind, mixer, a window and two
// micro-batches in flight (two activation slots sharing one recompute buffer, their backwards
// interleaved as 1F1B does); and the activation memory shrinks: full < selective < none, with the
// recompute buffer holding one layer.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/cpu/cpu_backend.h"
#include "layers/model.h"
#include "tests/model_test_util.h"
#include "tests/test_util.h"

namespace pha {
namespace {

constexpr int64_t kBatch = 2, kSeq = 13;

ModelConfig odd_config(const std::string& block, const std::string& mixer) {
  ModelConfig c;
  c.d = 20;
  c.n_q = 4;
  c.n_kv = 2;
  c.d_h = 6;  // n_q * d_h = 24 != d
  c.d_ff = 26;
  c.gss_f = 14;
  c.gss_h = 7;
  c.dss_n = 5;
  c.n_layers = 3;
  c.vocab = 37;
  c.max_seq_len = kSeq;
  c.block = BlockKind::parse(block);
  c.mixer = parse_mixer(mixer);
  return c;
}

struct Outcome {
  double loss[2] = {0, 0};
  std::vector<char> grads;
  size_t activation_bytes = 0;
};

// Two micro-batches in slots 0 and 1: forward 0, forward 1, backward 1, backward 0.
Outcome run(const ModelConfig& cfg, Recompute mode) {
  CpuBackend be;
  ModelPart part;
  part.slots = 2;
  part.recompute = mode;
  Model model(be, cfg, kBatch, kSeq, DType::f32, part);
  model.init_parameters(11);
  test::randomize_parameters<float>(be, model, 3);
  const auto t0 = test::random_tokens({kBatch * kSeq}, static_cast<int32_t>(cfg.vocab), 21);
  const auto t1 = test::random_tokens({kBatch * kSeq}, static_cast<int32_t>(cfg.vocab), 22);
  model.zero_grads();
  Outcome o;
  o.loss[0] = model.stage_forward(0, t0.data.data());
  o.loss[1] = model.stage_forward(1, t1.data.data());
  model.stage_backward(1);
  model.stage_backward(0);
  const Arena& g = model.grads();
  o.grads.resize(g.bytes());
  std::memcpy(o.grads.data(), g.base(), g.bytes());
  o.activation_bytes = model.memory().activation_bytes;
  return o;
}

class Recomputation : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

void expect_identical(const ModelConfig& cfg) {
  const Outcome none = run(cfg, Recompute::none);
  size_t previous_bytes = none.activation_bytes;
  for (Recompute mode : {Recompute::selective, Recompute::full}) {
    const Outcome got = run(cfg, mode);
    const char* name = recompute_name(mode);
    for (int m = 0; m < 2; ++m)
      EXPECT_EQ(std::memcmp(&got.loss[m], &none.loss[m], sizeof(double)), 0)
          << name << ": loss of micro-batch " << m << " " << got.loss[m] << " vs " << none.loss[m];
    ASSERT_EQ(got.grads.size(), none.grads.size());
    const float* a = reinterpret_cast<const float*>(got.grads.data());
    const float* b = reinterpret_cast<const float*>(none.grads.data());
    size_t differ = 0, first = 0;
    for (size_t i = 0; i < got.grads.size() / sizeof(float); ++i)
      if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0 && differ++ == 0) first = i;
    EXPECT_EQ(differ, 0u) << name << ": " << differ << " gradient elements differ from none's, "
                          << "the first at " << first << " (" << a[first] << " vs " << b[first]
                          << ")";
    EXPECT_LT(got.activation_bytes, previous_bytes) << name << " does not shrink the activations";
    std::printf(
        "  %-9s activations %zu bytes (%.3f of none)\n", name, got.activation_bytes,
        static_cast<double>(got.activation_bytes) / static_cast<double>(none.activation_bytes));
    previous_bytes = got.activation_bytes;
  }
}

TEST_P(Recomputation, LossesAndGradientsBitIdenticalToNone) {
  const auto& [block, mixer] = GetParam();
  expect_identical(odd_config(block, mixer));
}

INSTANTIATE_TEST_SUITE_P(
    BlockKinds, Recomputation,
    ::testing::Values(std::make_tuple("pha", "softmax"), std::make_tuple("pha", "channel"),
                      std::make_tuple("pha", "scalar"), std::make_tuple("serial", "softmax"),
                      std::make_tuple("attention+gss", "softmax"),
                      std::make_tuple("gss+ffn", "channel"),
                      std::make_tuple("attention", "softmax"), std::make_tuple("gss", "scalar"),
                      std::make_tuple("ffn", "softmax")),
    [](const auto& info) {
      std::string name = std::get<0>(info.param) + "_" + std::get<1>(info.param);
      for (char& ch : name)
        if (ch == '+') ch = '_';
      return name;
    });

TEST(Recomputation, WindowUntiedDirectConv) {
  ModelConfig c = odd_config("pha", "softmax");
  c.attn_window = 4;
  c.tie_embeddings = false;
  c.conv_algo = ConvAlgo::direct;
  expect_identical(c);
}

// The softmax mixer's weight gradient comes from the output projections' backward, so its blocks
// keep no branch outputs; the scalar and channel mixers read theirs (3 x [B, T, d] per layer).
// The gradients themselves are checked against PyTorch (reference_test) and finite differences
// (model_gradcheck_test) for every mixer.
TEST(Recomputation, SoftmaxMixerKeepsNoBranchOutputs) {
  for (Recompute mode : {Recompute::none, Recompute::selective, Recompute::full}) {
    const auto bytes = [&](const std::string& mixer) {
      CpuBackend be;
      ModelPart part;
      part.recompute = mode;
      return Model(be, odd_config("pha", mixer), kBatch, kSeq, DType::f32, part)
          .memory()
          .activation_bytes;
    };
    // 3 layers x 3 branches of [B, T, 20] floats, each aligned in the arena.
    const size_t align = SizeTable::kAlignment,
                 one = (kBatch * kSeq * 20 * sizeof(float) + align - 1) / align * align;
    const size_t branch_outputs = 3 * 3 * one;
    const size_t softmax = bytes("softmax"), scalar = bytes("scalar");
    if (mode == Recompute::full) {
      // Full recomputation refills the branch outputs of a scalar mixer from one layer buffer.
      EXPECT_LT(softmax, scalar) << recompute_name(mode);
    } else {
      EXPECT_EQ(scalar - softmax, branch_outputs) << recompute_name(mode);
    }
  }
}

TEST(Recomputation, UnknownModeIsRefused) {
  EXPECT_THROW(parse_recompute("partial"), Error);
  EXPECT_EQ(parse_recompute("selective"), Recompute::selective);
}

}  // namespace
}  // namespace pha
