#include "core/rope_table.h"

#include <cmath>
#include <vector>

#include "core/math/rope.h"

namespace pha {

Shape rope_table_shape(int64_t t_max, int64_t d_h) {
  PHA_REQUIRE(d_h > 0 && d_h % 2 == 0,
              "rope: the head width d_h = {} must be even and positive (half-split RoPE rotates "
              "the pairs (x_i, x_(i+d_h/2)))",
              d_h);
  PHA_REQUIRE(t_max >= 0, "rope: negative table length {}", t_max);
  return Shape{t_max, d_h / 2, 2};
}

namespace {

// Fills a host copy in T, then uploads it (the table may live on a GPU).
template <typename T>
void fill_table(Backend& backend, const Tensor& table, double base) {
  const int64_t t_max = table.dim(0), half = table.dim(1), d_h = 2 * half;
  std::vector<T> host(static_cast<size_t>(table.numel()));
  for (int64_t i = 0; i < half; ++i) {
    const double theta = rope_theta(i, d_h, base);
    for (int64_t p = 0; p < t_max; ++p) {
      const double angle = static_cast<double>(p) * theta;
      const size_t at = static_cast<size_t>((p * half + i) * 2);
      host[at] = static_cast<T>(std::cos(angle));
      host[at + 1] = static_cast<T>(std::sin(angle));
    }
  }
  backend.copy_from_host(table, host.data());
}

}  // namespace

void rope_table_fill(Backend& backend, const Tensor& table, double base) {
  PHA_REQUIRE(table.rank() == 3 && table.dim(2) == 2 && table.dim(1) > 0,
              "rope_table_fill: the table has shape {}, expected [T_max, d_h/2, 2]",
              table.shape.str());
  PHA_REQUIRE(base > 0, "rope_table_fill: the base must be positive, got {}", base);
  switch (table.dtype) {
    case DType::f32:
      fill_table<float>(backend, table, base);
      return;
    case DType::f64:
      fill_table<double>(backend, table, base);
      return;
    default:
      fail("rope_table_fill: the table must be f32 or f64, got {}", dtype_name(table.dtype));
  }
}

}  // namespace pha
