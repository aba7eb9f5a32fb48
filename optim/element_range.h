#pragma once
// Element ranges: the part of each tensor an optimiser kernel touches. A whole-model step uses the
// full ranges; a ZeRO rank owns one chunk of the flat parameter arena and passes the per-tensor
// pieces of that chunk (ZeroShard::ranges).
#include <cstdint>
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
};

// Refuses `ranges` unless it holds one range per tensor of `arena`, each inside its tensor.
void require_ranges_fit(const char* op, const Arena& arena,
                        const std::vector<ElementRange>& ranges);

}  // namespace pha
