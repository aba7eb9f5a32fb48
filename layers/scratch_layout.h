#pragma once
// Where each backward-scratch tensor lives. Scratch is one buffer per name for all layers; on top
// of that, tensors that are never live at the same time share memory: each branch's own scratch
// (attention's, GSS's, the FFN's, with their context-parallel transfer buffers) and the head's
// live only inside one call of that branch or of the head, and those calls never overlap, so
// their regions start at the same byte. The model's and the block's scratch (d_res, the norms'
// outputs, the branch outputs and their gradients, the mixer's) spans the branch calls and has
// its own region. Peak scratch: shared + the largest exclusive scope instead of their sum.
#include <string>
#include <vector>

#include "core/arena.h"

namespace pha {

// shared first and head last: scratch_layout indexes its per-scope tables by these values.
enum class ScratchScope : uint8_t { shared, attention, gss, ffn, head };

// By the name's prefix ("attn.", "cp.ring." -> attention, ...). Throws for a name without a
// rule, so a new scratch tensor cannot silently alias another.
ScratchScope scratch_scope(const std::string& name);

struct ScratchLayout {
  std::vector<size_t> offsets;  // per table entry, bytes
  size_t bytes = 0;             // the allocation
};
ScratchLayout scratch_layout(const SizeTable& table);

}  // namespace pha
