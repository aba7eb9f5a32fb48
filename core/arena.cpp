#include "core/arena.h"

#include <utility>

#include "core/backend.h"

namespace pha {

namespace {
size_t align_up(size_t n, size_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}
}  // namespace

size_t SizeTable::add(std::string name, Shape shape, DType dtype) {
  entries_.push_back(TensorSpec{std::move(name), shape, dtype});
  return entries_.size() - 1;
}

size_t SizeTable::total_bytes(size_t alignment) const {
  size_t total = 0;
  for (const auto& e : entries_)
    total += align_up(static_cast<size_t>(e.shape.numel()) * dtype_size(e.dtype), alignment);
  return total;
}

int64_t SizeTable::total_elements() const {
  int64_t total = 0;
  for (const auto& e : entries_) total += e.shape.numel();
  return total;
}

Arena::Arena(Backend& backend, const SizeTable& table, std::string label)
    : backend_(&backend), table_(table), label_(std::move(label)) {
  bytes_ = table_.total_bytes();
  base_ = bytes_ ? backend_->allocate(bytes_, label_) : nullptr;
  size_t offset = 0;
  tensors_.reserve(table_.size());
  for (const auto& e : table_.entries()) {
    PHA_REQUIRE(index_.count(e.name) == 0, "arena '{}': tensor '{}' is listed twice", label_,
                e.name);
    index_[e.name] = tensors_.size();
    tensors_.emplace_back(static_cast<char*>(base_) + offset, e.dtype, backend_->device(), e.shape);
    offset +=
        align_up(static_cast<size_t>(e.shape.numel()) * dtype_size(e.dtype), SizeTable::kAlignment);
  }
  zero();
}

Arena::~Arena() {
  if (base_) backend_->release(base_);
}

Arena::Arena(Arena&& other) noexcept {
  *this = std::move(other);
}

Arena& Arena::operator=(Arena&& other) noexcept {
  if (this != &other) {
    if (base_) backend_->release(base_);
    backend_ = other.backend_;
    table_ = std::move(other.table_);
    label_ = std::move(other.label_);
    base_ = std::exchange(other.base_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
    tensors_ = std::move(other.tensors_);
    index_ = std::move(other.index_);
  }
  return *this;
}

const Tensor& Arena::get(const std::string& name) const {
  auto it = index_.find(name);
  PHA_REQUIRE(it != index_.end(), "arena '{}' has no tensor named '{}'", label_, name);
  return tensors_[it->second];
}

void Arena::zero() {
  if (base_) backend_->memset_zero(base_, bytes_);
}

}  // namespace pha
