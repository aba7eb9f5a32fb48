// Tensor views, shape checks and the arena built from a size table.
#include <gtest/gtest.h>

#include <vector>

#include "core/arena.h"
#include "core/cpu/cpu_backend.h"
#include "tests/test_util.h"

namespace pha {
namespace {

TEST(Tensor, ViewAndSlice) {
  test::Owned<float> o({4, 3, 2});
  for (size_t i = 0; i < o.size(); ++i) o[i] = static_cast<float>(i);
  const Tensor v = o.t.view({12, 2});
  EXPECT_EQ(v.dim(0), 12);
  EXPECT_EQ(v.shape.rows(), 12);
  const Tensor s = o.t.slice0(1, 2);
  EXPECT_EQ(s.shape, Shape({2, 3, 2}));
  EXPECT_EQ(s.as<float>()[0], 6.0f);
  test::expect_error([&] { (void)o.t.view({5, 2}); }, "element counts differ");
  test::expect_error([&] { (void)o.t.slice0(3, 2); }, "outside dim 0");
  test::expect_error([&] { (void)o.t.as<double>(); }, "was read as f64");
  test::expect_error([] { (void)Shape({1, 2, 3, 4, 5}); }, "at most 4 dims");
}

TEST(Arena, CarvesAlignedTensorsFromOneAllocation) {
  CpuBackend backend;
  SizeTable table;
  table.add("a", {3, 5});
  table.add("b", {7}, DType::f64);
  table.add("c", {2, 2, 2}, DType::i32);
  EXPECT_EQ(table.total_elements(), 15 + 7 + 8);
  Arena arena(backend, table, "test");
  EXPECT_EQ(arena.bytes(), table.total_bytes());
  const char* base = static_cast<const char*>(arena.base());
  for (const Tensor& t : arena.tensors()) {
    const char* p = static_cast<const char*>(t.data);
    EXPECT_EQ((p - base) % 64, 0);
    EXPECT_LE(p + t.bytes(), base + arena.bytes());
  }
  EXPECT_EQ(arena.get("b").dtype, DType::f64);
  EXPECT_EQ(arena.get("b").as<double>()[6], 0.0);  // zeroed on creation
  test::expect_error([&] { (void)arena.get("missing"); }, "no tensor named 'missing'");
  SizeTable twice;
  twice.add("x", {1});
  twice.add("x", {1});
  test::expect_error([&] { Arena bad(backend, twice, "twice"); }, "listed twice");
}

// memset_zero splits large buffers over the threads in 64 KiB chunks: an odd length past the
// threshold, at an odd offset, is zeroed exactly, and the bytes around it are left alone.
TEST(CpuBackend, MemsetZeroLargeOddBuffer) {
  CpuBackend backend;
  for (size_t bytes : {size_t{1000}, (size_t{3} << 20) + 12345}) {
    std::vector<unsigned char> buf(bytes + 2, 0xab);
    backend.memset_zero(buf.data() + 1, bytes);
    EXPECT_EQ(buf.front(), 0xab) << bytes;
    EXPECT_EQ(buf.back(), 0xab) << bytes;
    size_t nonzero = 0;
    for (size_t i = 1; i <= bytes; ++i) nonzero += buf[i] != 0;
    EXPECT_EQ(nonzero, 0u) << bytes;
  }
}

}  // namespace
}  // namespace pha
