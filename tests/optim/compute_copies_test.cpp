// Mixed precision's compute copies: which parameters get one, and that every update reaches them.
// On the CPU the copies have the masters' type (Precision::separate_copies), so a model with
// copies must train bit-identically to one without: a stale copy (an update not refreshed) shows
// as a different loss. bf16 copies are checked on the GPU (tests/gpu/cuda_model_test.cpp).
#include <gtest/gtest.h>

#include <cstring>

#include "core/cpu/cpu_backend.h"
#include "layers/model.h"
#include "optim/adamw.h"
#include "tests/model_test_util.h"
#include "tests/test_util.h"

namespace pha {
namespace {

ModelConfig small_config(bool tie) {
  ModelConfig c = test::sized_model({.d = 48,
                                     .n_q = 4,
                                     .n_kv = 2,
                                     .d_ff = 80,
                                     .gss_f = 40,
                                     .gss_h = 12,
                                     .dss_n = 8,
                                     .n_layers = 2,
                                     .vocab = 70});
  c.tie_embeddings = tie;
  return c;
}

Precision with_copies() {
  Precision p(DType::f32);
  p.separate_copies = true;
  return p;
}

TEST(ComputeCopies, OnlyTheMatmulWeightsHaveOne) {
  CpuBackend be;
  const ModelConfig c = small_config(false);
  Model plain(be, c, 2, 9);
  Model copied(be, c, 2, 9, with_copies());
  size_t copied_bytes = 0;
  for (const ParamSpec& spec : copied.param_specs())
    if (spec.group == ParamGroup::decay && spec.shape.rank == 2)
      copied_bytes += static_cast<size_t>(spec.shape.numel()) * sizeof(float);
  EXPECT_GT(copied_bytes, 0u);
  // Each copy adds its bytes (up to the arena's alignment padding).
  const size_t extra = copied.memory().parameter_bytes - plain.memory().parameter_bytes;
  EXPECT_GE(extra, copied_bytes);
  EXPECT_LT(extra, copied_bytes + 4096 * copied.param_specs().size());
}

// Trains `steps` AdamW steps on random tokens; returns every step's loss.
std::vector<double> train(Model& model, int steps) {
  Backend& be = model.backend();
  AdamWConfig cfg;
  cfg.lr = 3e-2;  // large: each step visibly changes the weights
  AdamW opt(be, model.params().table(), cfg);
  std::vector<double> losses;
  for (int s = 1; s <= steps; ++s) {
    const auto tokens = test::random_tokens({model.batch() * model.seq_len()}, 70, 40 + s);
    model.zero_grads();
    losses.push_back(model.forward(tokens.data.data()));
    model.backward();
    opt.step(model.params(), model.grads(), model.param_specs(), s);
    model.refresh_compute_weights();
  }
  return losses;
}

TEST(ComputeCopies, TrainingWithCopiesIsBitIdentical) {
  for (bool tie : {false, true}) {
    CpuBackend be;
    const ModelConfig c = small_config(tie);
    Model plain(be, c, 2, 11);
    Model copied(be, c, 2, 11, with_copies());
    plain.init_parameters(5);
    copied.init_parameters(5);
    const std::vector<double> a = train(plain, 4), b = train(copied, 4);
    for (size_t i = 0; i < a.size(); ++i)
      EXPECT_EQ(a[i], b[i]) << "step " << i + 1 << " tie " << tie;
    EXPECT_NE(a.front(), a.back());  // the steps did change the model
  }
}

TEST(ComputeCopies, AStaleCopyIsVisible) {
  // Without the refresh the copies keep the initial weights: the losses must differ, or the test
  // above could not catch a missing refresh.
  CpuBackend be;
  const ModelConfig c = small_config(false);
  Model copied(be, c, 2, 11, with_copies());
  copied.init_parameters(5);
  AdamWConfig cfg;
  cfg.lr = 3e-2;
  AdamW opt(be, copied.params().table(), cfg);
  const auto tokens = test::random_tokens({2 * 11}, 70, 41);
  copied.zero_grads();
  copied.forward(tokens.data.data());
  copied.backward();
  opt.step(copied.params(), copied.grads(), copied.param_specs(), 1);
  const double stale = copied.forward(tokens.data.data());
  copied.refresh_compute_weights();
  const double fresh = copied.forward(tokens.data.data());
  EXPECT_NE(stale, fresh);
}

TEST(Precision, Bf16IsRefusedOnTheCpu) {
  CpuBackend be;
  try {
    Model model(be, small_config(true), 2, 9, Precision::parse("bf16"));
    FAIL() << "a bf16 model was built on the CPU backend";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bf16 precision needs the CUDA backend"),
              std::string::npos)
        << e.what();
  }
}

TEST(Precision, ParsesTheCommandLineNames) {
  EXPECT_EQ(Precision::parse("fp32").act, DType::f32);
  EXPECT_EQ(Precision::parse("bf16").act, DType::bf16);
  EXPECT_EQ(Precision::parse("bf16").param, DType::f32);
  EXPECT_EQ(Precision::parse("bf16").stat(), DType::f32);
  EXPECT_EQ(Precision(DType::f64).stat(), DType::f64);
  EXPECT_TRUE(Precision::parse("fp32-copies").compute_copies());
  EXPECT_EQ(Precision::parse("fp32-copies").act, DType::f32);
  EXPECT_EQ(Precision::parse("fp32-copies").str(), "fp32-copies");
  EXPECT_FALSE(Precision::parse("fp32").compute_copies());
  EXPECT_THROW(Precision::parse("fp16"), Error);
}

}  // namespace
}  // namespace pha
