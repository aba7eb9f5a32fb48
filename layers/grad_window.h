#pragma once
// ZeRO-2's gradient window (docs/parallelism.md, "ZeRO"): instead of one gradient per parameter
// for the whole step, backward writes each group of parameters (the head's, one block's, the
// embedding's: what Model::stage_backward reports complete together) into a region of a small
// reusable buffer, and the data-parallel reduction moves each completed group into the rank's
// owned shard (launch/grad_window_reduce.h) before the region is reused.
//
// Layout: the groups a backward completes, in that order, are placed one after another in a
// ring of twice the largest group's bytes, so a group's reduction normally runs while the next
// group's backward writes elsewhere; a group placed over one still being reduced waits for it.
// A group's tensors keep their relative layout of the parameter arena (same alignment). A group
// that appears twice in `order` (the tied embedding with pp = 1: the head writes it first, the
// embedding last) has one place. `kept` groups (the tied embedding's copy on either end of a
// pipeline: its two halves live on different stages and are summed after the last backward) get
// places of their own in front of the ring and stay whole for the step.
#include <cstddef>
#include <utility>
#include <vector>

#include "core/arena.h"

namespace pha {

// Parameters [first, end) of the parameter table.
struct GradGroup {
  size_t first = 0, end = 0;
  bool operator==(const GradGroup&) const = default;
};

struct GradWindow {
  std::vector<GradGroup> order;  // the ring's groups in the order a backward completes them
  // Per entry of order: written by the previous entry's backward (the tied embedding's half
  // from the head), so its place is zeroed together with the previous one's.
  std::vector<char> with_previous;
  std::vector<GradGroup> kept;  // whole for the step (reduced after the last backward)
  std::vector<size_t> offsets;  // per parameter: its byte offset in the window
  std::vector<size_t> sizes;    // per parameter: its bytes, aligned
  size_t bytes = 0;             // the window's allocation
  // Bytes [begin, end) of the window a group occupies (tensor alignment padding included).
  std::pair<size_t, size_t> region(const GradGroup& g) const;
};

// The window for `params` (the parameter table, one dtype). Groups must be non-empty, inside the
// table, and together with `kept` cover every parameter.
GradWindow plan_grad_window(const SizeTable& params, const std::vector<GradGroup>& order,
                            const std::vector<char>& with_previous,
                            const std::vector<GradGroup>& kept);

}  // namespace pha
