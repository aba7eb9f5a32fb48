// Owned-range AdamW (the ZeRO building block): an optimiser that owns part of each tensor keeps
// moments for that part alone and updates it exactly as the full optimiser would; ZeRO chunks
// cover every element once, and together equal one full step. The 300 x 200 tensor is large
// enough for the multi-threaded loop.
#include <gtest/gtest.h>

#include <memory>

#include "optim/adamw.h"
#include "tests/optim/optim_test_util.h"
#include "tests/test_util.h"

namespace pha {
namespace {

using test::TinyModel;

TinyModel mixed_model() {
  return TinyModel(DType::f32, {{"a", {7, 5}, ParamGroup::decay},
                                {"b", {13}, ParamGroup::no_decay},
                                {"big", {300, 200}, ParamGroup::decay},
                                {"c", {3, 4}, ParamGroup::dss}});
}

// Same random parameters in both models; gradients for step t drawn from seed 100 + t.
void fill(TinyModel& m, int64_t step, bool params_too) {
  uint64_t seed = 1;
  for (const ParamSpec& s : m.specs) {
    ++seed;
    if (params_too)
      m.set<float>(m.params, s.name, test::random_tensor<float>(s.shape, seed, 0.5).data);
    m.set<float>(
        m.grads, s.name,
        test::random_tensor<float>(s.shape, seed * 1000 + static_cast<uint64_t>(step)).data);
  }
}

AdamWConfig config() {
  AdamWConfig c;
  c.lr = 0.01;
  return c;
}

TEST(ZeroShard, ChunksCoverEveryElementOnce) {
  // Arena offsets in f32 elements (64-byte aligned): 0, 48, 64, 60064; 240320 bytes = 60080
  // elements, padded to 3 chunks of 20027.
  const TinyModel m = mixed_model();
  const SizeTable& table = m.params.table();
  EXPECT_EQ(table.chunked_bytes(3), 3u * 20027u * 4u);
  EXPECT_EQ((ZeroShard{3, 0}.ranges(table)),
            (std::vector<ElementRange>{{0, 35}, {0, 13}, {0, 19963}, {0, 0}}));
  EXPECT_EQ((ZeroShard{3, 2}.ranges(table)),
            (std::vector<ElementRange>{{35, 35}, {13, 13}, {39990, 60000}, {0, 12}}));
  for (int count : {1, 2, 3, 7}) {
    std::vector<int64_t> covered(table.size(), 0);
    for (int r = 0; r < count; ++r) {
      const auto ranges = ZeroShard{count, r}.ranges(table);
      for (size_t i = 0; i < ranges.size(); ++i) covered[i] += ranges[i].size();
    }
    for (size_t i = 0; i < table.size(); ++i)
      EXPECT_EQ(covered[i], table.entries()[i].shape.numel()) << count << " chunks, tensor " << i;
  }
  test::expect_error(
      [&] {
        (void)ZeroShard{2, 2}.chunk_elements(table);
      },
      "ZeRO shard 2 of 2 does not exist");
}

TEST(AdamW, OwnedRangeUpdateEqualsFullUpdateThere) {
  TinyModel full = mixed_model(), part = mixed_model();
  const std::vector<ElementRange> ranges = {{2, 9}, {0, 0}, {1000, 45000}, {11, 12}};
  AdamW full_opt(full.backend, full.params.table(), config());
  AdamW part_opt(part.backend, part.params.table(), config(), ranges);
  fill(full, 0, true);
  fill(part, 0, true);
  std::vector<std::vector<float>> initial;
  for (const Tensor& t : part.params.tensors()) initial.push_back(TinyModel::values<float>(t));
  for (int64_t step = 1; step <= 2; ++step) {
    fill(full, step, false);
    fill(part, step, false);
    full_opt.step(full.params, full.grads, full.specs, step);
    part_opt.step(part.params, part.grads, part.specs, step);
  }
  for (size_t i = 0; i < ranges.size(); ++i) {
    const std::string& name = full.specs[i].name;
    const auto p_full = TinyModel::values<float>(full.params[i]);
    const auto p_part = TinyModel::values<float>(part.params[i]);
    const auto m_full = TinyModel::values<float>(full_opt.exp_avg(name));
    const auto m_part = TinyModel::values<float>(part_opt.exp_avg(name));
    const auto v_full = TinyModel::values<float>(full_opt.exp_avg_sq(name));
    const auto v_part = TinyModel::values<float>(part_opt.exp_avg_sq(name));
    // Moments only for the owned elements.
    ASSERT_EQ(static_cast<int64_t>(m_part.size()), ranges[i].size()) << name;
    ASSERT_EQ(static_cast<int64_t>(v_part.size()), ranges[i].size()) << name;
    for (int64_t k = 0; k < static_cast<int64_t>(p_full.size()); ++k) {
      const size_t j = static_cast<size_t>(k);
      if (k >= ranges[i].begin && k < ranges[i].end) {
        const size_t o = static_cast<size_t>(k - ranges[i].begin);
        ASSERT_EQ(p_part[j], p_full[j]) << name << "[" << k << "]";
        ASSERT_EQ(m_part[o], m_full[j]) << name << "[" << k << "]";
        ASSERT_EQ(v_part[o], v_full[j]) << name << "[" << k << "]";
      } else {
        ASSERT_EQ(p_part[j], initial[i][j]) << name << "[" << k << "] moved outside the range";
      }
    }
  }
}

TEST(AdamW, ZeroShardsTogetherEqualOneFullStepInAThirdOfTheMemory) {
  TinyModel full = mixed_model(), sharded = mixed_model();
  const SizeTable& table = sharded.params.table();
  AdamW full_opt(full.backend, full.params.table(), config());
  const int n_shards = 3;
  std::vector<std::unique_ptr<AdamW>> shard_opts;
  for (int r = 0; r < n_shards; ++r)
    shard_opts.push_back(std::make_unique<AdamW>(sharded.backend, table, config(),
                                                 ZeroShard{n_shards, r}.ranges(table)));
  for (int64_t step = 1; step <= 3; ++step) {
    fill(full, step, step == 1);
    fill(sharded, step, step == 1);
    full_opt.step(full.params, full.grads, full.specs, step);
    for (auto& opt : shard_opts) opt->step(sharded.params, sharded.grads, sharded.specs, step);
  }
  for (size_t i = 0; i < full.specs.size(); ++i) {
    const std::string& name = full.specs[i].name;
    EXPECT_EQ(TinyModel::values<float>(full.params[i]), TinyModel::values<float>(sharded.params[i]))
        << name;
    std::vector<float> m, v;  // the shards' moments in order
    for (auto& opt : shard_opts) {
      for (float x : TinyModel::values<float>(opt->exp_avg(name))) m.push_back(x);
      for (float x : TinyModel::values<float>(opt->exp_avg_sq(name))) v.push_back(x);
    }
    EXPECT_EQ(TinyModel::values<float>(full_opt.exp_avg(name)), m) << name;
    EXPECT_EQ(TinyModel::values<float>(full_opt.exp_avg_sq(name)), v) << name;
  }
  // Each shard allocates about a third of the moments (alignment padding aside).
  const double whole = static_cast<double>(full_opt.state().bytes());
  for (auto& opt : shard_opts) {
    EXPECT_EQ(opt->state().bytes(), AdamW::state_bytes(table, opt->owned()));
    EXPECT_NEAR(static_cast<double>(opt->state().bytes()) / whole, 1.0 / n_shards, 0.01);
  }
}

}  // namespace
}  // namespace pha
