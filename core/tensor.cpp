#include "core/tensor.h"

#include <fmt/format.h>

namespace pha {

Shape::Shape(std::initializer_list<int64_t> list) {
  PHA_REQUIRE(list.size() <= static_cast<size_t>(max_rank), "a shape has at most {} dims, got {}",
              max_rank, list.size());
  for (int64_t d : list) {
    PHA_REQUIRE(d >= 0, "negative dimension {} in a shape", d);
    dims[static_cast<size_t>(rank++)] = d;
  }
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank; ++i) n *= dims[static_cast<size_t>(i)];
  return n;
}

bool Shape::operator==(const Shape& other) const {
  if (rank != other.rank) return false;
  for (int i = 0; i < rank; ++i)
    if (dims[static_cast<size_t>(i)] != other.dims[static_cast<size_t>(i)]) return false;
  return true;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < rank; ++i)
    s += fmt::format("{}{}", i ? ", " : "", dims[static_cast<size_t>(i)]);
  return s + "]";
}

Tensor Tensor::view(Shape new_shape) const {
  PHA_REQUIRE(new_shape.numel() == numel(), "cannot view {} as {}: element counts differ",
              shape.str(), new_shape.str());
  return Tensor(data, dtype, device, new_shape);
}

Tensor Tensor::slice0(int64_t begin, int64_t count) const {
  PHA_REQUIRE(rank() >= 1 && begin >= 0 && count >= 0 && begin + count <= dim(0),
              "slice [{}, {}) is outside dim 0 of {}", begin, begin + count, shape.str());
  Shape s = shape;
  s.dims[0] = count;
  const size_t row_bytes = dim(0) == 0 ? 0 : bytes() / static_cast<size_t>(dim(0));
  return Tensor(static_cast<char*>(data) + static_cast<size_t>(begin) * row_bytes, dtype, device,
                s);
}

std::string Tensor::describe() const {
  return fmt::format("{}{} on {}", dtype_name(dtype), shape.str(), device_name(device));
}

void require_shape(const char* op, const char* what, const Tensor& t, const Shape& expected) {
  PHA_REQUIRE(t.shape == expected, "{}: {} has shape {}, expected {}", op, what, t.shape.str(),
              expected.str());
}

void require_last_dim(const char* op, const char* what, const Tensor& t, int64_t expected) {
  PHA_REQUIRE(t.rank() >= 1 && t.shape.last() == expected,
              "{}: {} has shape {}, its last dim must be {}", op, what, t.shape.str(), expected);
}

void require_same_shape(const char* op, const char* a_name, const Tensor& a, const char* b_name,
                        const Tensor& b) {
  PHA_REQUIRE(a.shape == b.shape, "{}: {} has shape {} but {} has shape {}; they must match", op,
              a_name, a.shape.str(), b_name, b.shape.str());
}

void require_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  PHA_REQUIRE(a.dtype == b.dtype, "{}: mixed element types {} and {}", op, dtype_name(a.dtype),
              dtype_name(b.dtype));
}

void require_rank(const char* op, const char* what, const Tensor& t, int rank) {
  PHA_REQUIRE(t.rank() == rank, "{}: {} must have {} dims, has shape {}", op, what, rank,
              t.shape.str());
}

}  // namespace pha
