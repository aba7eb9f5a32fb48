// Mixed precision's compute copies: which parameters get one, and that every update reaches them.
// On the CPU the copies have the masters' type (Precision::separate_copies), so a model with
// copies must train bit-identically to one without: a stale copy (an update not refreshed) shows
// as a different loss. bf16 copies are checked on the GPU (tests/gpu/cuda_model_test.cpp).
#include <gtest/gtest.h>

#include <cstring>

#include "core/cpu/cpu_backend.h"
#include "core/element_range.h"
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

// ZeRO with compute copies shards the masters (ModelPart::compute_in_chunks): each of `chunks` dp
// ranks holds its chunk of the flat parameter arena and the parameters without copies whole, and
// initialisation casts every whole tensor into its copy, so every rank computes what a model with
// whole masters does.
TEST(ComputeCopies, ShardedMastersHoldTheirChunkAndWholeCopies) {
  for (bool tie : {false, true}) {
    CpuBackend be;
    const ModelConfig c = small_config(tie);
    const int chunks = 3;
    ModelPart whole_part;
    whole_part.flat_chunks = chunks;
    Model whole(be, c, 2, 9, with_copies(), whole_part);
    whole.init_parameters(5);
    const auto tokens = test::random_tokens({2 * 9}, 70, 43);
    const double loss = whole.forward(tokens.data.data());
    size_t held = 0;
    for (int r = 0; r < chunks; ++r) {
      ModelPart part = whole_part;
      part.flat_chunk = r;
      part.compute_in_chunks = true;
      Model sharded(be, c, 2, 9, with_copies(), part);
      ASSERT_TRUE(sharded.compute_in_chunks());
      sharded.init_parameters(5);
      const Arena& copies = sharded.compute_copies();
      for (const TensorSpec& e : copies.table().entries())
        EXPECT_EQ(be.to_host_f32(copies.get(e.name)),
                  be.to_host_f32(whole.compute_copies().get(e.name)))
            << e.name << " rank " << r << " tie " << tie;
      const std::vector<ElementRange> owned = ZeroShard{chunks, r}.ranges(whole.param_table());
      for (size_t i = 0; i < owned.size(); ++i) {
        const std::vector<float> all = be.to_host_f32(whole.params()[i]);
        EXPECT_EQ(be.to_host_f32(sharded.owned_masters()[i]),
                  std::vector<float>(all.begin() + owned[i].begin, all.begin() + owned[i].end))
            << whole.param_specs()[i].name << " rank " << r;
        held += static_cast<size_t>(owned[i].size());
      }
      for (const TensorSpec& e : sharded.params().table().entries()) {
        EXPECT_FALSE(copies.contains(e.name)) << e.name << " is held whole and has a copy";
        EXPECT_EQ(be.to_host_f32(sharded.params().get(e.name)),
                  be.to_host_f32(whole.params().get(e.name)));
      }
      // The masters: a chunk of the flat arena, and the small parameters whole.
      EXPECT_EQ(sharded.master_bytes(), whole.params().bytes() / chunks + sharded.params().bytes());
      EXPECT_LT(sharded.params().bytes() * 20, whole.params().bytes());
      EXPECT_EQ(sharded.forward(tokens.data.data()), loss) << "rank " << r << " tie " << tie;
    }
    EXPECT_EQ(held, static_cast<size_t>(whole.parameter_count()));  // the chunks cover each once
  }
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
