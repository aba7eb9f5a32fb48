#include "core/arena.h"

#include <algorithm>
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

std::vector<size_t> SizeTable::byte_offsets(size_t alignment) const {
  std::vector<size_t> offsets;
  offsets.reserve(entries_.size());
  size_t offset = 0;
  for (const auto& e : entries_) {
    offsets.push_back(offset);
    offset += align_up(static_cast<size_t>(e.shape.numel()) * dtype_size(e.dtype), alignment);
  }
  return offsets;
}

size_t SizeTable::chunked_bytes(int chunks) const {
  PHA_REQUIRE(chunks >= 1, "a flat buffer cannot split into {} chunks", chunks);
  if (entries_.empty()) return 0;
  const size_t element = dtype_size(entries_[0].dtype);
  for (const auto& e : entries_)
    PHA_REQUIRE(dtype_size(e.dtype) == element,
                "size table mixes {} and {} tensors: it cannot be split into whole elements",
                dtype_name(entries_[0].dtype), dtype_name(e.dtype));
  return align_up(total_bytes(), element * static_cast<size_t>(chunks));
}

Arena::Arena(Backend& backend, const SizeTable& table, std::string label, size_t bytes)
    : Arena(backend, table, table.byte_offsets(), std::move(label),
            std::max(table.total_bytes(), bytes)) {
  PHA_REQUIRE(bytes == 0 || bytes >= table_.total_bytes(),
              "arena '{}': {} bytes asked for, but its tensors need {}", label_, bytes,
              table_.total_bytes());
}

Arena::Arena(Backend& backend, const SizeTable& table, const std::vector<size_t>& offsets,
             std::string label, size_t bytes)
    : backend_(&backend), table_(table), label_(std::move(label)), bytes_(bytes) {
  PHA_REQUIRE(offsets.size() == table_.size(), "arena '{}': {} offsets for {} tensors", label_,
              offsets.size(), table_.size());
  for (size_t i = 0; i < table_.size(); ++i) {
    const TensorSpec& e = table_.entries()[i];
    PHA_REQUIRE(
        offsets[i] % dtype_size(e.dtype) == 0 &&
            offsets[i] + static_cast<size_t>(e.shape.numel()) * dtype_size(e.dtype) <= bytes_,
        "arena '{}': tensor '{}' at byte {} does not fit, aligned, in {} bytes", label_, e.name,
        offsets[i], bytes_);
  }
  base_ = bytes_ ? backend_->allocate(bytes_, label_) : nullptr;
  tensors_.reserve(table_.size());
  for (size_t i = 0; i < table_.size(); ++i) {
    const TensorSpec& e = table_.entries()[i];
    PHA_REQUIRE(index_.count(e.name) == 0, "arena '{}': tensor '{}' is listed twice", label_,
                e.name);
    index_[e.name] = tensors_.size();
    tensors_.emplace_back(static_cast<char*>(base_) + offsets[i], e.dtype, backend_->device(),
                          e.shape);
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
