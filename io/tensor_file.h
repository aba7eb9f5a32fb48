#pragma once
// Whole-file tensor I/O: named host tensors and string attributes in one serial HDF5 file.
// Used for test fixtures, reference comparisons and exporting weights; sharded checkpoints use
// h5::File directly.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace pha {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Writes `path` anew: each tensor as a dataset at its name ("model/layers.0.attn.wq"; groups are
// created), each attribute as a string attribute of the root group.
void save_tensors(const std::string& path, const NamedTensors& tensors,
                  const std::map<std::string, std::string>& attributes = {});

// Fills each host tensor from the dataset at its name. The dataset's shape must equal the tensor's
// (the error names the dataset and both shapes); f32 and f64 convert into each other.
void load_tensors(const std::string& path, const NamedTensors& tensors);

// Every root attribute of `path` as text (numbers formatted; see h5::File::attribute_text).
std::map<std::string, std::string> load_attributes(const std::string& path);

}  // namespace pha
