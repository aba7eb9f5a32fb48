#include "core/element_range.h"

#include <algorithm>

namespace pha {

std::vector<ElementRange> full_ranges(const SizeTable& table) {
  std::vector<ElementRange> ranges;
  ranges.reserve(table.size());
  for (const TensorSpec& e : table.entries()) ranges.push_back({0, e.shape.numel()});
  return ranges;
}

int64_t ZeroShard::chunk_elements(const SizeTable& table) const {
  PHA_REQUIRE(count >= 1 && index >= 0 && index < count, "ZeRO shard {} of {} does not exist",
              index, count);
  if (table.size() == 0) return 0;
  const size_t element = dtype_size(table.entries()[0].dtype);
  return static_cast<int64_t>(table.chunked_bytes(count) / element) / count;
}

std::vector<ElementRange> ZeroShard::ranges(const SizeTable& table) const {
  const int64_t chunk = chunk_elements(table);
  const int64_t begin = chunk * index, end = begin + chunk;
  const std::vector<size_t> offsets = table.byte_offsets();
  std::vector<ElementRange> ranges;
  ranges.reserve(table.size());
  for (size_t i = 0; i < table.size(); ++i) {
    const TensorSpec& e = table.entries()[i];
    const int64_t first = static_cast<int64_t>(offsets[i] / dtype_size(e.dtype));
    const int64_t n = e.shape.numel();
    const int64_t lo = std::clamp(begin - first, int64_t{0}, n);
    const int64_t hi = std::clamp(end - first, int64_t{0}, n);
    ranges.push_back({lo, std::max(lo, hi)});
  }
  return ranges;
}

SizeTable ZeroShard::chunk_table(const SizeTable& table, const std::string& name) const {
  SizeTable chunk;
  chunk.add(name, {chunk_elements(table)}, table.entries().at(0).dtype);
  return chunk;
}

std::vector<Tensor> ZeroShard::views_in_chunk(const SizeTable& table, const Tensor& chunk) const {
  const int64_t chunk_begin = chunk_elements(table) * index;
  PHA_REQUIRE(chunk.numel() == chunk_elements(table),
              "a chunk of {} elements holds {}: it is not chunk {} of {}", chunk_elements(table),
              chunk.numel(), index, count);
  const std::vector<ElementRange> owned = ranges(table);
  const std::vector<size_t> offsets = table.byte_offsets();
  const Tensor flat = chunk.view({chunk.numel()});
  std::vector<Tensor> views;
  views.reserve(table.size());
  for (size_t i = 0; i < table.size(); ++i) {
    const int64_t first = static_cast<int64_t>(offsets[i] / dtype_size(table.entries()[i].dtype));
    views.push_back(owned[i].size() == 0
                        ? flat.slice0(0, 0)
                        : flat.slice0(first + owned[i].begin - chunk_begin, owned[i].size()));
  }
  return views;
}

std::vector<Tensor> range_views(const Arena& arena, const std::vector<ElementRange>& ranges) {
  require_ranges_fit("range_views", arena, ranges);
  std::vector<Tensor> views;
  views.reserve(ranges.size());
  for (size_t i = 0; i < ranges.size(); ++i)
    views.push_back(arena[i].view({arena[i].numel()}).slice0(ranges[i].begin, ranges[i].size()));
  return views;
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
