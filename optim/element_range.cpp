#include "optim/element_range.h"

#include <algorithm>

namespace pha {

std::vector<ElementRange> full_ranges(const SizeTable& table) {
  std::vector<ElementRange> ranges;
  ranges.reserve(table.size());
  for (const TensorSpec& e : table.entries()) ranges.push_back({0, e.shape.numel()});
  return ranges;
}

std::vector<ElementRange> shard_ranges(const SizeTable& table, int64_t begin, int64_t end) {
  const int64_t total = table.total_elements();
  PHA_REQUIRE(0 <= begin && begin <= end && end <= total,
              "shard [{}, {}) is not inside the {} flattened parameter elements", begin, end,
              total);
  std::vector<ElementRange> ranges;
  ranges.reserve(table.size());
  int64_t offset = 0;  // flat index of the tensor's first element
  for (const TensorSpec& e : table.entries()) {
    const int64_t n = e.shape.numel();
    const int64_t lo = std::clamp(begin - offset, int64_t{0}, n);
    const int64_t hi = std::clamp(end - offset, int64_t{0}, n);
    ranges.push_back({lo, std::max(lo, hi)});
    offset += n;
  }
  return ranges;
}

void require_ranges_fit(const char* op, const Arena& arena,
                        const std::vector<ElementRange>& ranges) {
  PHA_REQUIRE(ranges.size() == arena.tensors().size(),
              "{}: {} element ranges for the {} tensors of '{}'; pass one range per tensor", op,
              ranges.size(), arena.tensors().size(), arena.label());
  for (size_t i = 0; i < ranges.size(); ++i) {
    const ElementRange& r = ranges[i];
    const int64_t n = arena[i].numel();
    PHA_REQUIRE(0 <= r.begin && r.begin <= r.end && r.end <= n,
                "{}: range [{}, {}) is outside '{}' ({} elements)", op, r.begin, r.end,
                arena.table().entries()[i].name, n);
  }
}

}  // namespace pha
