// ZeRO-2's gradient window (layers/grad_window.h): every parameter gets one aligned place, a group
// keeps its packed relative layout, a group and the one written with it never share bytes, kept
// groups stand apart from the ring, the ring is twice the largest group; bad groupings are
// refused. And a Model built with a window binds its gradients there, as planned.
#include "layers/grad_window.h"

#include <gtest/gtest.h>

#include "core/cpu/cpu_backend.h"
#include "layers/model.h"

namespace pha {
namespace {

// Odd sizes: 7 parameters; "embedding" 0, blocks [1, 3) and [3, 5), "head" [5, 7).
SizeTable odd_table() {
  SizeTable t;
  for (int64_t n : {300, 13, 101, 7, 250, 5, 33}) t.add(fmt::format("p{}", t.size()), {n});
  return t;
}

bool disjoint(std::pair<size_t, size_t> a, std::pair<size_t, size_t> b) {
  return a.second <= b.first || b.second <= a.first;
}

TEST(GradWindow, PlacesEveryParameterOnceAlignedAndKeepsGroupsPacked) {
  const SizeTable t = odd_table();
  const std::vector<size_t> packed = t.byte_offsets();
  const GradGroup e{0, 1}, b0{1, 3}, b1{3, 5}, head{5, 7};
  // The tied embedding on one stage: after the head, then again at the end.
  const GradWindow w = plan_grad_window(t, {head, e, b1, b0, e}, {0, 1, 0, 0, 0}, {});
  const size_t largest = 300 * 4 + 64 - 300 * 4 % 64;  // the embedding: 1200 bytes -> 1216
  EXPECT_EQ(w.bytes, 2 * largest);
  for (size_t i = 0; i < t.size(); ++i) {
    EXPECT_EQ(w.offsets[i] % SizeTable::kAlignment, 0u) << i;
    EXPECT_LE(w.offsets[i] + static_cast<size_t>(t.entries()[i].shape.numel()) * 4, w.bytes);
  }
  for (const GradGroup& g : {e, b0, b1, head})
    for (size_t i = g.first; i < g.end; ++i)
      EXPECT_EQ(w.offsets[i] - w.offsets[g.first], packed[i] - packed[g.first]) << i;
  // The head writes its group and the embedding's: they must not share bytes.
  EXPECT_TRUE(disjoint(w.region(head), w.region(e)));
  // Consecutive groups that fit side by side in the ring do not overlap (the reduction of one
  // runs while the next one's backward writes).
  EXPECT_TRUE(disjoint(w.region(b1), w.region(b0)));
}

TEST(GradWindow, KeptGroupsStandApartFromTheRing) {
  const SizeTable t = odd_table();
  const GradGroup e{0, 1};
  const GradWindow w = plan_grad_window(t, {{5, 7}, {3, 5}, {1, 3}}, {0, 0, 0}, {e});
  for (const GradGroup& g : w.order) EXPECT_TRUE(disjoint(w.region(g), w.region(e)));
  EXPECT_EQ(w.region(e).first, 0u);
  const size_t ring_largest =
      250 * 4 + 64 - 250 * 4 % 64 + 64;  // p3 (28 -> 64) + p4 (1000 -> 1024)
  EXPECT_EQ(w.bytes, w.region(e).second + 2 * ring_largest);
}

TEST(GradWindow, RefusesParametersInNoGroupOrInTwo) {
  const SizeTable t = odd_table();
  EXPECT_THROW(plan_grad_window(t, {{5, 7}, {1, 5}}, {0, 0}, {}), Error);  // p0 in none
  EXPECT_THROW(plan_grad_window(t, {{5, 7}, {0, 5}, {3, 5}}, {0, 0, 0}, {}), Error);
  EXPECT_THROW(plan_grad_window(t, {{5, 7}, {0, 5}}, {1, 0}, {}), Error);  // first with_previous
  EXPECT_THROW(plan_grad_window(t, {{5, 9}, {0, 5}}, {0, 0}, {}), Error);  // outside the table
}

TEST(GradWindow, ModelBindsItsGradientsIntoThePlannedWindow) {
  CpuBackend backend;
  ModelConfig cfg;
  cfg.n_layers = 3;
  cfg.max_seq_len = 16;
  ModelPart part;
  part.flat_chunks = 4;
  part.grad_window = true;
  Model model(backend, cfg, 2, 9, {}, part);
  const GradWindow* w = model.grad_window();
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(model.grads().bytes(), w->bytes);
  EXPECT_EQ(Model::plan_tables(backend, cfg, 2, 9, {}, part).grad_bytes, w->bytes);
  // Tied embedding on one stage: head, the embedding's head half, 3 blocks, the embedding.
  ASSERT_EQ(w->order.size(), 6u);
  EXPECT_EQ(w->order[1], w->order[5]);
  EXPECT_TRUE(w->with_previous[1]);
  for (size_t i = 0; i < model.param_specs().size(); ++i)
    EXPECT_EQ(static_cast<char*>(model.grads()[i].data) - static_cast<char*>(model.grads().base()),
              static_cast<std::ptrdiff_t>(w->offsets[i]));
  // Smaller than the whole gradient arena (the tiny preset's blocks are a fraction of it).
  EXPECT_LT(w->bytes, model.params().bytes());
  ModelPart whole = part;
  whole.grad_window = false;
  EXPECT_EQ(Model(backend, cfg, 2, 9, {}, whole).grad_window(), nullptr);
}

}  // namespace
}  // namespace pha
