#pragma once
// The per-dataset checksum of a checkpoint (docs/checkpoint-format.md, "Checksums"), computable
// from any partition of the dataset into blocks: each rank sums the terms of the elements it
// writes, from memory, and the partial sums add up (mod 2^64) to the dataset's checksum whatever
// the layout that wrote it.
//
//   idxsum64 = sum over i of fmix64((i << 32) | bits(x_i))  (mod 2^64)
//
// i: the element's index in row-major order of the GLOBAL shape (< 2^32), bits(x_i): its float32
// bit pattern, fmix64: MurmurHash3's 64-bit finaliser. A changed value or a value written to
// another place changes its term. Checkpoints written before this checksum carry `fnv1a64:`
// (FNV-1a 64 over the little-endian bytes in global order), still verified on read.
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace pha::ckpt {

// The sum of the terms of `block` (row-major, shape `block`) of a dataset of shape `global`,
// placed at `offset` along `dim` (dim -1: the block is the whole dataset).
uint64_t partial_checksum(const float* block_values, const Shape& block, const Shape& global,
                          int dim, int64_t offset);

// "idxsum64:<16 hex digits>"
std::string checksum_text(uint64_t sum);

// Empty when `attribute` (idxsum64: or the older fnv1a64:) matches the whole dataset `values`
// (row-major, global order), else what is wrong.
std::string checksum_problem(const std::string& attribute, const std::vector<float>& values);

}  // namespace pha::ckpt
