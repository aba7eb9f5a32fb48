#pragma once
// Element ranges: the part of each tensor an optimiser kernel touches. A whole-model step uses the
// full ranges; a ZeRO rank owns one chunk of the flat parameter arena and passes the per-tensor
// pieces of that chunk (ZeroShard::ranges).
#include <cstdint>
#include <string>
#include <vector>

#include "core/arena.h"

namespace pha {

// Elements [begin, end) of one tensor (flat, row-major). Empty when begin == end.
struct ElementRange {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
  bool operator==(const ElementRange&) const = default;
};

// [0, numel) for every tensor of the table, in table order.
std::vector<ElementRange> full_ranges(const SizeTable& table);

// ZeRO's split of a parameter (or gradient) arena across `count` dp ranks. The arena is one flat
// buffer, padded (SizeTable::chunked_bytes(count)) to count equal chunks of `chunk_elements`
// elements each, alignment padding included; rank `index` owns chunk `index`. Because the chunks
// are runs of the buffer itself, the parameters' all-gather and the gradients' reduce-scatter
// work in place on the arena.
struct ZeroShard {
  int count = 1, index = 0;
  // Elements per chunk (S): chunked_bytes(count) / element size / count.
  int64_t chunk_elements(const SizeTable& table) const;
  // Per tensor of the table, the part of it inside chunk `index` (empty for tensors outside).
  std::vector<ElementRange> ranges(const SizeTable& table) const;
  // A table of one flat tensor `name` [S] of the table's dtype: a buffer holding one chunk
  // (ZeRO-2's gradient shard, the master shard of ZeRO with compute copies).
  SizeTable chunk_table(const SizeTable& table, const std::string& name) const;
  // Per tensor of the table, the flat view [ranges()[i].size()] of its elements in `chunk`, a
  // buffer laid out like chunk `index` of the table's flat buffer (chunk_table); an empty view
  // (Shape{0}, at the chunk's start) for tensors outside it.
  std::vector<Tensor> views_in_chunk(const SizeTable& table, const Tensor& chunk) const;
};

// Per tensor of `arena`, the flat view of elements `ranges[i]` of it (the owned parts an
// optimiser step reads and writes).
std::vector<Tensor> range_views(const Arena& arena, const std::vector<ElementRange>& ranges);

// Refuses `ranges` unless it holds one range per tensor of `arena`, each inside its tensor.
void require_ranges_fit(const char* op, const Arena& arena,
                        const std::vector<ElementRange>& ranges);

}  // namespace pha
