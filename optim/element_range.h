#pragma once
// Element ranges: the part of each tensor an optimiser kernel touches. A whole-model step uses the
// full ranges; a ZeRO-1 rank owns one contiguous slice of the flattened parameters and passes the
// per-tensor pieces of that slice (shard_ranges).
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

// The flattened parameters number their elements in table order, tensor after tensor, without the
// arena's alignment padding: element k of tensor i is flat index (sum of numel of tensors < i) + k.
// Returns, per tensor, the part of the flat range [begin, end) that falls inside it (tensors
// outside the range get an empty range). 0 <= begin <= end <= table.total_elements().
std::vector<ElementRange> shard_ranges(const SizeTable& table, int64_t begin, int64_t end);

// Refuses `ranges` unless it holds one range per tensor of `arena`, each inside its tensor.
void require_ranges_fit(const char* op, const Arena& arena,
                        const std::vector<ElementRange>& ranges);

}  // namespace pha
