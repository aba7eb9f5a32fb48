#pragma once
// Arena: one allocation, sized up front from a size table, carved into named tensors (as llm.c does
// for parameters, gradients, optimizer state and activations). Nothing is allocated per op.
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/tensor.h"

namespace pha {

class Backend;

struct TensorSpec {
  std::string name;
  Shape shape;
  DType dtype = DType::f32;
};

// The size table: an ordered list of tensors; their order fixes the layout of the flat buffer.
class SizeTable {
 public:
  size_t add(std::string name, Shape shape, DType dtype = DType::f32);
  const std::vector<TensorSpec>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }
  // Bytes needed, each tensor aligned to `alignment` bytes.
  size_t total_bytes(size_t alignment = kAlignment) const;
  int64_t total_elements() const;
  // Where each tensor starts in the flat buffer, in bytes (the layout Arena uses).
  std::vector<size_t> byte_offsets(size_t alignment = kAlignment) const;
  // total_bytes() rounded up so the buffer splits into `chunks` equal runs of whole elements
  // (every tensor one dtype): ZeRO gathers and reduce-scatters the flat buffer in dp chunks.
  size_t chunked_bytes(int chunks) const;
  static constexpr size_t kAlignment = 64;

 private:
  std::vector<TensorSpec> entries_;
};

class Arena {
 public:
  Arena() = default;
  // bytes: the allocation, at least table.total_bytes() (0: exactly that); the tail past the
  // last tensor stays zero.
  Arena(Backend& backend, const SizeTable& table, std::string label, size_t bytes = 0);
  // Tensor i at byte offsets[i] of a `bytes` allocation instead of the table's packed layout:
  // tensors may share memory (ZeRO-2's gradient window, layers/grad_window.h). Each must fit.
  Arena(Backend& backend, const SizeTable& table, const std::vector<size_t>& offsets,
        std::string label, size_t bytes);
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  Arena(Arena&& other) noexcept;
  Arena& operator=(Arena&& other) noexcept;

  const Tensor& operator[](size_t index) const { return tensors_.at(index); }
  const Tensor& get(const std::string& name) const;
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  const std::vector<Tensor>& tensors() const { return tensors_; }
  const SizeTable& table() const { return table_; }
  size_t bytes() const { return bytes_; }
  void* base() const { return base_; }
  const std::string& label() const { return label_; }
  // Sets every byte to zero (e.g. gradients before a step).
  void zero();

 private:
  Backend* backend_ = nullptr;
  SizeTable table_;
  std::string label_;
  void* base_ = nullptr;
  size_t bytes_ = 0;
  std::vector<Tensor> tensors_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace pha
