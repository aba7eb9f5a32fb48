// Backward scratch of different exclusive scopes (each branch's, the head's) shares memory, the
// shared scope has its own region: the layout's arithmetic, and a PHA model's arena (the model's
// results with this layout are checked by the reference, gradient-check, recompute, head-chunk
// and layout tests).
#include "layers/scratch_layout.h"

#include <gtest/gtest.h>

#include "core/cpu/cpu_backend.h"
#include "layers/model.h"
#include "tests/model_test_util.h"

namespace pha {
namespace {

TEST(ScratchLayout, ScopesFromNames) {
  EXPECT_EQ(scratch_scope("model.d_res"), ScratchScope::shared);
  EXPECT_EQ(scratch_scope("block.d_branch1"), ScratchScope::shared);
  EXPECT_EQ(scratch_scope("mixer.d_w.3x1"), ScratchScope::shared);
  EXPECT_EQ(scratch_scope("attn.d_o"), ScratchScope::attention);
  EXPECT_EQ(scratch_scope("cp.ring.k0"), ScratchScope::attention);
  EXPECT_EQ(scratch_scope("gss.d_gated"), ScratchScope::gss);
  EXPECT_EQ(scratch_scope("cp.conv.pad_u"), ScratchScope::gss);
  EXPECT_EQ(scratch_scope("ffn.act"), ScratchScope::ffn);
  EXPECT_EQ(scratch_scope("head.logits"), ScratchScope::head);
  test::expect_error([] { scratch_scope("decoder.x"); },
                     "scratch 'decoder.x' has no scope in layers/scratch_layout.cpp");
}

TEST(ScratchLayout, ExclusiveScopesOverlapAfterTheSharedRegion) {
  SizeTable t;
  t.add("attn.a", {10});            // 40 -> 64 bytes
  t.add("model.x", {17});           // 68 -> 128
  t.add("ffn.b", {100});            // 400 -> 448
  t.add("attn.c", {33});            // 132 -> 192
  t.add("head.d", {3, 50});         // 600 -> 640
  t.add("block.y", {1});            // 4 -> 64
  t.add("gss.e", {5}, DType::f64);  // 40 -> 64
  const ScratchLayout l = scratch_layout(t);
  ASSERT_EQ(l.offsets.size(), 7u);
  EXPECT_EQ(l.offsets[1], 0u);    // model.x
  EXPECT_EQ(l.offsets[5], 128u);  // block.y
  const size_t shared = 192;
  EXPECT_EQ(l.offsets[0], shared);  // attention: a, then c
  EXPECT_EQ(l.offsets[3], shared + 64);
  EXPECT_EQ(l.offsets[6], shared);  // gss
  EXPECT_EQ(l.offsets[2], shared);  // ffn
  EXPECT_EQ(l.offsets[4], shared);  // head: the largest scope
  EXPECT_EQ(l.bytes, shared + 640);
  EXPECT_LT(l.bytes, t.total_bytes());
}

TEST(ScratchLayout, ModelArenaOverlapsTheHeadWithTheBranches) {
  ModelConfig c = test::sized_model({20, 4, 2, 26, 14, 7, 5, 2, 37});
  c.d_h = 6;
  c.max_seq_len = 13;
  CpuBackend be;
  ModelPart part;
  part.head_chunk_rows = 8;
  const PlannedTables t = Model::plan_tables(be, c, 2, 13, DType::f32, part);
  const ScratchLayout l = scratch_layout(t.scratch);
  size_t shared = 0, largest = 0;
  for (ScratchScope s : {ScratchScope::shared, ScratchScope::attention, ScratchScope::gss,
                         ScratchScope::ffn, ScratchScope::head}) {
    size_t bytes = 0;
    for (const TensorSpec& e : t.scratch.entries())
      if (scratch_scope(e.name) == s)
        bytes += (static_cast<size_t>(e.shape.numel()) * dtype_size(e.dtype) + 63) / 64 * 64;
    EXPECT_GT(bytes, 0u);
    if (s == ScratchScope::shared)
      shared = bytes;
    else
      largest = std::max(largest, bytes);
  }
  EXPECT_EQ(l.bytes, shared + largest);
  const Model model(be, c, 2, 13, DType::f32, part);
  EXPECT_EQ(model.memory().scratch_bytes, l.bytes);
}

}  // namespace
}  // namespace pha
