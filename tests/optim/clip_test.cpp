// Global gradient norm, clipping, scaling and the NaN/Inf check against hand-computed values.
#include "optim/clip.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <limits>

#include "tests/optim/optim_test_util.h"
#include "tests/test_util.h"

namespace pha {
namespace {

using test::TinyModel;

// a = [3, 4], b = [12]: sum of squares 9 + 16 + 144 = 169, norm 13.
struct ThreeFourTwelve : TinyModel {
  ThreeFourTwelve()
      : TinyModel(DType::f64, {{"a", {2}, ParamGroup::decay}, {"b", {1}, ParamGroup::no_decay}}) {
    set<double>(grads, "a", {3.0, 4.0});
    set<double>(grads, "b", {12.0});
  }
};

TEST(GradientNorm, SumOfSquaresAndRanges) {
  const ThreeFourTwelve m;
  EXPECT_EQ(gradient_sum_squares(m.grads), 169.0);
  // Only a[1] and nothing of b: 16 (a shard, or a tensor another rank counts).
  EXPECT_EQ(gradient_sum_squares(m.grads, {{1, 2}, {0, 0}}), 16.0);
  test::expect_error(
      [&] {
        (void)gradient_sum_squares(m.grads, {{0, 3}, {0, 1}});
      },
      "range [0, 3) is outside 'a' (2 elements)");
}

TEST(GradientNorm, ClipsToMaxNorm) {
  ThreeFourTwelve m;
  // max_norm 6.5: factor 6.5 / (13 + 1e-6) = 0.49999996153846...; a = [3, 4] * factor.
  const double factor = 6.5 / (13.0 + 1e-6);
  EXPECT_EQ(clip_by_global_norm(m.grads, gradient_sum_squares(m.grads), 6.5), 13.0);
  const auto a = TinyModel::values<double>(m.grads.get("a"));
  EXPECT_DOUBLE_EQ(a[0], 3.0 * factor);
  EXPECT_DOUBLE_EQ(a[1], 4.0 * factor);
  EXPECT_DOUBLE_EQ(TinyModel::values<double>(m.grads.get("b"))[0], 12.0 * factor);
  EXPECT_NEAR(std::sqrt(gradient_sum_squares(m.grads)), 6.5, 1e-6);
  // Below max_norm nothing changes: norm 13 < 20.
  ThreeFourTwelve small;
  EXPECT_EQ(clip_by_global_norm(small.grads, 169.0, 20.0), 13.0);
  EXPECT_EQ(TinyModel::values<double>(small.grads.get("a")), (std::vector<double>{3.0, 4.0}));
}

TEST(GradientNorm, NonFiniteIsReturnedAndNamed) {
  for (double bad :
       {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    ThreeFourTwelve m;
    EXPECT_EQ(first_nonfinite(m.grads), std::nullopt);
    m.set<double>(m.grads, "b", {bad});
    const double norm = clip_by_global_norm(m.grads, gradient_sum_squares(m.grads), 1.0);
    EXPECT_FALSE(std::isfinite(norm));
    EXPECT_EQ(TinyModel::values<double>(m.grads.get("a")), (std::vector<double>{3.0, 4.0}))
        << "gradients must be left alone when the norm is not finite";
    EXPECT_EQ(first_nonfinite(m.grads), std::optional<std::string>("b"));
  }
  ThreeFourTwelve m;
  m.params.get("a").as<double>()[1] = -std::numeric_limits<double>::infinity();
  EXPECT_EQ(first_nonfinite(m.params), std::optional<std::string>("a"));
}

TEST(GradientNorm, F32LargeTensorIsExactAndThreadCountFree) {
  // 100000 elements of 0.5: sum of squares exactly 25000 (double accumulation).
  TinyModel m(DType::f32, {{"w", {400, 250}, ParamGroup::decay}});
  m.set<float>(m.grads, "w", std::vector<float>(100000, 0.5f));
  EXPECT_EQ(gradient_sum_squares(m.grads), 25000.0);
  // Random values: the same bits whatever the thread count.
  m.set<float>(m.grads, "w", test::random_tensor<float>({400, 250}, 5).data);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const double one = gradient_sum_squares(m.grads);
  omp_set_num_threads(3);
  const double three = gradient_sum_squares(m.grads);
  omp_set_num_threads(threads);
  EXPECT_EQ(one, three);
  // Clip to norm 1 and measure again.
  EXPECT_EQ(clip_by_global_norm(m.grads, one, 1.0), std::sqrt(one));
  EXPECT_NEAR(std::sqrt(gradient_sum_squares(m.grads)), 1.0, 1e-5);
}

TEST(GradientNorm, ScaleForAccumulation) {
  ThreeFourTwelve m;
  scale_gradients(m.grads, 0.25);  // 4 micro-batches
  EXPECT_EQ(TinyModel::values<double>(m.grads.get("a")), (std::vector<double>{0.75, 1.0}));
  EXPECT_EQ(TinyModel::values<double>(m.grads.get("b"))[0], 3.0);
}

TEST(GradientNorm, RefusesBadArguments) {
  ThreeFourTwelve m;
  test::expect_error([&] { (void)clip_by_global_norm(m.grads, 169.0, 0.0); },
                     "max_norm = 0 must be > 0");
  test::expect_error([&] { (void)clip_by_global_norm(m.grads, -1.0, 1.0); },
                     "sum of squared gradients -1 is negative");
  test::expect_error([&] { scale_gradients(m.grads, std::nan("")); }, "factor nan must be finite");
}

}  // namespace
}  // namespace pha
