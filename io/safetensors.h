#pragma once
// The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of JSON
// ({"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
// "__metadata__": {"key": "string", ...}}, padded with spaces to a multiple of 8), then the
// tensors' raw little-endian bytes, contiguous: offsets are relative to the end of the header,
// with no holes and no overlap, and the last tensor ends at the end of the file. pha writes
// tensors in name order and reads F32 and BF16 (values are handed out as f32).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pha::io {

enum class SafetensorsDType { f32, bf16 };

std::string safetensors_dtype_name(SafetensorsDType dtype);  // "F32", "BF16"
// "f32" | "bf16" (the command-line spelling), else refused.
SafetensorsDType parse_safetensors_dtype(const std::string& text);

struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;                       // row-major; [] is a scalar
  std::vector<float> values;                        // numel(shape) values
  SafetensorsDType stored = SafetensorsDType::f32;  // the dtype in the file (read)
};

struct SafetensorsContents {
  std::vector<NamedTensor> tensors;  // in name order
  std::map<std::string, std::string> metadata;
};

// "[3, 5]": a shape as messages print it.
std::string shape_text(const std::vector<int64_t>& shape);

// f32 -> bf16 rounding to nearest, ties to even (NaN stays a quiet NaN, infinities stay).
uint16_t f32_to_bf16(float value);
float bf16_to_f32(uint16_t bits);

// Writes `tensors` (names unique) as `dtype` with `metadata` into `path` (via PATH.tmp and a
// rename, so a reader never sees a half-written file).
void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       SafetensorsDType dtype, const std::map<std::string, std::string>& metadata);
// Reads and validates a whole file; refuses (naming the file and the fault) a missing or
// truncated file, a malformed header, offsets that do not tile the data, an unknown dtype.
SafetensorsContents read_safetensors(const std::string& path);

}  // namespace pha::io
