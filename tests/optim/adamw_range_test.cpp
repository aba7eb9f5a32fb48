// Range-restricted AdamW (the ZeRO-1 building block): a range update equals the full update on
// that range and leaves everything else alone; shards that cover the parameters equal one full
// step. The 300 x 200 tensor is large enough for the multi-threaded loop.
#include <gtest/gtest.h>

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

TEST(ShardRanges, SplitsTheFlattenedParameters) {
  // Tensors of 35, 13, 60000, 12 elements: flat offsets 0, 35, 48, 60048; total 60060.
  const TinyModel m = mixed_model();
  const SizeTable& table = m.params.table();
  EXPECT_EQ(shard_ranges(table, 30, 50),
            (std::vector<ElementRange>{{30, 35}, {0, 13}, {0, 2}, {0, 0}}));
  EXPECT_EQ(shard_ranges(table, 60040, 60060),
            (std::vector<ElementRange>{{35, 35}, {13, 13}, {59992, 60000}, {0, 12}}));
  EXPECT_EQ(shard_ranges(table, 0, 60060), full_ranges(table));
  test::expect_error([&] { (void)shard_ranges(table, 10, 60061); },
                     "shard [10, 60061) is not inside the 60060 flattened parameter elements");
}

TEST(AdamW, RangeUpdateEqualsFullUpdateOnTheRange) {
  TinyModel full = mixed_model(), part = mixed_model();
  AdamW full_opt(full.backend, full.params.table(), config());
  AdamW part_opt(part.backend, part.params.table(), config());
  const std::vector<ElementRange> ranges = {{2, 9}, {0, 0}, {1000, 45000}, {11, 12}};
  fill(full, 0, true);
  fill(part, 0, true);
  std::vector<std::vector<float>> initial;
  for (const Tensor& t : part.params.tensors()) initial.push_back(TinyModel::values<float>(t));
  for (int64_t step = 1; step <= 2; ++step) {
    fill(full, step, false);
    fill(part, step, false);
    full_opt.step(full.params, full.grads, full.specs, step);
    part_opt.step(part.params, part.grads, part.specs, step, ranges);
  }
  for (size_t i = 0; i < ranges.size(); ++i) {
    const std::string& name = full.specs[i].name;
    const auto p_full = TinyModel::values<float>(full.params[i]);
    const auto p_part = TinyModel::values<float>(part.params[i]);
    const auto m_full = TinyModel::values<float>(full_opt.exp_avg(name));
    const auto m_part = TinyModel::values<float>(part_opt.exp_avg(name));
    const auto v_full = TinyModel::values<float>(full_opt.exp_avg_sq(name));
    const auto v_part = TinyModel::values<float>(part_opt.exp_avg_sq(name));
    for (int64_t k = 0; k < static_cast<int64_t>(p_full.size()); ++k) {
      const size_t j = static_cast<size_t>(k);
      if (k >= ranges[i].begin && k < ranges[i].end) {
        ASSERT_EQ(p_part[j], p_full[j]) << name << "[" << k << "]";
        ASSERT_EQ(m_part[j], m_full[j]) << name << "[" << k << "]";
        ASSERT_EQ(v_part[j], v_full[j]) << name << "[" << k << "]";
      } else {
        ASSERT_EQ(p_part[j], initial[i][j]) << name << "[" << k << "] moved outside the range";
        ASSERT_EQ(m_part[j], 0.0f) << name << "[" << k << "]";
        ASSERT_EQ(v_part[j], 0.0f) << name << "[" << k << "]";
      }
    }
  }
}

TEST(AdamW, ShardsTogetherEqualOneFullStep) {
  TinyModel full = mixed_model(), sharded = mixed_model();
  AdamW full_opt(full.backend, full.params.table(), config());
  AdamW shard_opt(sharded.backend, sharded.params.table(), config());
  const int64_t total = full.params.table().total_elements();
  const int64_t n_shards = 3;
  for (int64_t step = 1; step <= 3; ++step) {
    fill(full, step, step == 1);
    fill(sharded, step, step == 1);
    full_opt.step(full.params, full.grads, full.specs, step);
    for (int64_t r = 0; r < n_shards; ++r)
      shard_opt.step(
          sharded.params, sharded.grads, sharded.specs, step,
          shard_ranges(sharded.params.table(), total * r / n_shards, total * (r + 1) / n_shards));
  }
  for (size_t i = 0; i < full.specs.size(); ++i) {
    EXPECT_EQ(TinyModel::values<float>(full.params[i]), TinyModel::values<float>(sharded.params[i]))
        << full.specs[i].name;
    EXPECT_EQ(TinyModel::values<float>(full_opt.state()[i]),
              TinyModel::values<float>(shard_opt.state()[i]))
        << full.specs[i].name;
  }
}

}  // namespace
}  // namespace pha
