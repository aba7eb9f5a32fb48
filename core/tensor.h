#pragma once
// Tensor: a typed, non-owning view of up to 4 dims over memory that an Arena owns.
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "core/dtype.h"
#include "core/error.h"

namespace pha {

struct Shape {
  static constexpr int max_rank = 4;
  int rank = 0;
  std::array<int64_t, max_rank> dims{};

  Shape() = default;
  Shape(std::initializer_list<int64_t> list);
  int64_t operator[](int i) const { return dims[static_cast<size_t>(i)]; }
  int64_t numel() const;
  // Product of all dims but the last: the row count when an op works on the last dim.
  int64_t rows() const {
    int64_t n = 1;
    for (int i = 0; i + 1 < rank; ++i) n *= dims[static_cast<size_t>(i)];
    return n;
  }
  int64_t last() const { return rank == 0 ? 1 : dims[static_cast<size_t>(rank - 1)]; }
  bool operator==(const Shape& other) const;
  bool operator!=(const Shape& other) const { return !(*this == other); }
  std::string str() const;  // "[2, 3, 4]"
};

struct Tensor {
  void* data = nullptr;
  DType dtype = DType::f32;
  Device device = Device::cpu;
  Shape shape;

  Tensor() = default;
  Tensor(void* data_, DType dtype_, Device device_, Shape shape_)
      : data(data_), dtype(dtype_), device(device_), shape(shape_) {}

  int64_t numel() const { return shape.numel(); }
  size_t bytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
  int64_t dim(int i) const { return shape[i]; }
  int rank() const { return shape.rank; }
  bool empty() const { return data == nullptr; }

  template <typename T>
  T* as() const {
    PHA_REQUIRE(dtype == DTypeOf<T>::value, "tensor holds {} but was read as {}", dtype_name(dtype),
                dtype_name(DTypeOf<T>::value));
    return static_cast<T*>(data);
  }
  // Same memory, another shape of the same element count.
  Tensor view(Shape new_shape) const;
  // Rows [begin, begin + count) of the first dimension.
  Tensor slice0(int64_t begin, int64_t count) const;
  std::string describe() const;  // "f32[2, 3] on cpu"
};

// Shape checks shared by every op: each refuses with a message naming the op and the tensors.
void require_shape(const char* op, const char* what, const Tensor& t, const Shape& expected);
void require_last_dim(const char* op, const char* what, const Tensor& t, int64_t expected);
void require_same_shape(const char* op, const char* a_name, const Tensor& a, const char* b_name,
                        const Tensor& b);
void require_same_dtype(const char* op, const Tensor& a, const Tensor& b);
void require_rank(const char* op, const char* what, const Tensor& t, int rank);

}  // namespace pha
