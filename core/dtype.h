#pragma once
// Element types a tensor can hold. bf16 is a storage type for the CUDA backend's compute copies.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pha {

enum class DType : uint8_t { f32, f64, bf16, i32 };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32:
      return 4;
    case DType::f64:
      return 8;
    case DType::bf16:
      return 2;
    case DType::i32:
      return 4;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32:
      return "f32";
    case DType::f64:
      return "f64";
    case DType::bf16:
      return "bf16";
    case DType::i32:
      return "i32";
  }
  return "?";
}

template <typename T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::f32;
};
template <>
struct DTypeOf<double> {
  static constexpr DType value = DType::f64;
};
template <>
struct DTypeOf<int32_t> {
  static constexpr DType value = DType::i32;
};

enum class Device : uint8_t { cpu, cuda };

constexpr std::string_view device_name(Device d) {
  return d == Device::cpu ? "cpu" : "cuda";
}

}  // namespace pha
