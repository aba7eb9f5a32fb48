#include "layers/grad_window.h"

#include <algorithm>

namespace pha {

namespace {

size_t aligned(size_t bytes) {
  return (bytes + SizeTable::kAlignment - 1) / SizeTable::kAlignment * SizeTable::kAlignment;
}

size_t tensor_bytes(const TensorSpec& e) {
  return static_cast<size_t>(e.shape.numel()) * dtype_size(e.dtype);
}

}  // namespace

std::pair<size_t, size_t> GradWindow::region(const GradGroup& g) const {
  return {offsets[g.first], offsets[g.end - 1] + sizes[g.end - 1]};
}

GradWindow plan_grad_window(const SizeTable& params, const std::vector<GradGroup>& order,
                            const std::vector<char>& with_previous,
                            const std::vector<GradGroup>& kept) {
  PHA_REQUIRE(with_previous.size() == order.size() && (order.empty() || !with_previous[0]),
              "gradient window: {} with_previous flags for {} groups (the first has none)",
              with_previous.size(), order.size());
  const std::vector<size_t> packed = params.byte_offsets();
  const size_t n = params.size();
  // A group's bytes in the packed parameter layout (alignment included).
  auto group_bytes = [&](const GradGroup& g) {
    PHA_REQUIRE(g.first < g.end && g.end <= n,
                "gradient window: group [{}, {}) is empty or outside the {} parameters", g.first,
                g.end, n);
    return packed[g.end - 1] + aligned(tensor_bytes(params.entries()[g.end - 1])) - packed[g.first];
  };
  GradWindow w;
  w.order = order;
  w.with_previous = with_previous;
  w.kept = kept;
  w.offsets.assign(n, 0);
  for (const TensorSpec& e : params.entries()) w.sizes.push_back(aligned(tensor_bytes(e)));
  std::vector<char> placed(n, 0);
  auto place = [&](const GradGroup& g, size_t at) {
    for (size_t i = g.first; i < g.end; ++i) {
      PHA_REQUIRE(!placed[i], "gradient window: parameter {} is in two groups", i);
      placed[i] = 1;
      w.offsets[i] = at + packed[i] - packed[g.first];
    }
  };
  size_t front = 0;
  for (const GradGroup& g : kept) {
    place(g, front);
    front += group_bytes(g);
  }
  size_t largest = 0;
  for (const GradGroup& g : order) largest = std::max(largest, group_bytes(g));
  const size_t ring = 2 * largest;
  size_t cursor = 0;
  std::vector<GradGroup> seen;
  for (const GradGroup& g : order) {
    if (std::find(seen.begin(), seen.end(), g) != seen.end()) continue;  // placed already
    seen.push_back(g);
    const size_t bytes = group_bytes(g);
    if (cursor + bytes > ring) cursor = 0;
    place(g, front + cursor);
    cursor += bytes;
  }
  for (size_t i = 0; i < n; ++i)
    PHA_REQUIRE(placed[i], "gradient window: parameter '{}' is in no group",
                params.entries()[i].name);
  w.bytes = front + ring;
  return w;
}

}  // namespace pha
