#pragma once
// Gradient norm, clipping, scaling and the NaN/Inf check of a training step. The squared norm is
// computed apart from the clipping so that a parallel caller can sum the per-rank parts (an
// all-reduce over the ranks' shards) before clipping with the global value.
#include <optional>
#include <string>
#include <vector>

#include "core/arena.h"
#include "core/element_range.h"

namespace pha {

// Sum of g^2 over the gradient arena, accumulated in double in a fixed order (bit-reproducible).
// ranges: one per tensor, to count only those elements (a rank's shard; an empty range skips a
// tensor another rank counts); empty means every element.
double gradient_sum_squares(const Arena& grads, const std::vector<ElementRange>& ranges = {});

// Clips to a global norm: norm = sqrt(sum_squares); every gradient is scaled by
// min(1, max_norm / (norm + 1e-6)). Returns norm, the norm before clipping. A non-finite norm
// (NaN or Inf gradients) is returned unchanged and the gradients are left as they are, so the
// caller can skip the step and report first_nonfinite(grads).
double clip_by_global_norm(const Arena& grads, double sum_squares, double max_norm);

// The same on one flat gradient buffer (ZeRO-2's shard): every element scaled by the factor.
double clip_by_global_norm(const Tensor& grads, double sum_squares, double max_norm);

// Sum of t^2 over every element of one tensor (a flat slice of a shard), in double.
double tensor_sum_squares(const Tensor& t);
// True when t holds no NaN or Inf.
bool all_finite(const Tensor& t);

// grads *= factor, every tensor. Gradient accumulation: backward() adds the mean loss gradient of
// each micro-batch, so after M micro-batches factor = 1 / M makes the mean over the global batch.
void scale_gradients(const Arena& grads, double factor);
// t *= factor for one tensor (a flat slice of the gradient arena, say): the same per-element
// product as scale_gradients.
void scale_tensor(const Tensor& t, double factor);

// The name of the first tensor, in arena order, that holds a NaN or Inf (parameters or
// gradients); nullopt when all are finite.
std::optional<std::string> first_nonfinite(const Arena& tensors);

}  // namespace pha
