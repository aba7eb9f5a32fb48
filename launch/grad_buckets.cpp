#include "launch/grad_buckets.h"

#include <algorithm>

#include "optim/clip.h"

namespace pha::launch {

size_t GradBuckets::max_in_flight_bytes(size_t arena_bytes, size_t element, int64_t bucket_elements,
                                        int64_t max_in_flight) {
  const size_t bucket = static_cast<size_t>(bucket_elements) * element;
  const size_t count = (arena_bytes + bucket - 1) / bucket;
  if (max_in_flight <= 0 || static_cast<size_t>(max_in_flight) >= count) return arena_bytes;
  return static_cast<size_t>(max_in_flight) * bucket;  // full buckets: only the last is shorter
}

GradBuckets::GradBuckets(const Arena& grads, int64_t bucket_elements, parallel::Communicator* dp,
                         double scale, int64_t max_in_flight)
    : bucket_elements_(bucket_elements), dp_(dp), scale_(scale), max_in_flight_(max_in_flight) {
  PHA_REQUIRE(bucket_elements > 0, "gradient buckets: {} elements per bucket must be positive",
              bucket_elements);
  PHA_REQUIRE(max_in_flight >= 0,
              "gradient buckets: {} reductions in flight at most must be >= 0 (0: no limit)",
              max_in_flight);
  PHA_REQUIRE(!grads.tensors().empty(), "gradient buckets: the gradient arena is empty");
  const DType dtype = grads[0].dtype;
  const size_t element = dtype_size(dtype);
  for (const Tensor& g : grads.tensors()) {
    PHA_REQUIRE(g.dtype == dtype, "gradient buckets: the arena mixes {} and {} gradients",
                dtype_name(dtype), dtype_name(g.dtype));
    const size_t begin =
        static_cast<size_t>(static_cast<char*>(g.data) - static_cast<char*>(grads.base()));
    tensor_end_.push_back(static_cast<int64_t>(begin / element) + g.numel());
  }
  // The arena is one allocation whose alignment padding stays zero: reduced along with the rest.
  const int64_t total = static_cast<int64_t>(grads.bytes() / element);
  flat_ = Tensor(grads.base(), dtype, grads[0].device, Shape{total});
  bucket_count_ = (total + bucket_elements - 1) / bucket_elements;
  complete_.assign(grads.tensors().size(), 0);
  complete_from_ = complete_.size();
  unstarted_ = bucket_count_;
  poller_.start(dp_ != nullptr);
}

bool GradBuckets::poll_pending() {
  bool all_done = true;
  for (size_t i = 0; i < pending_.size(); ++i) {
    if (!done_[i] && dp_->progress(pending_[i])) done_[i] = 1;
    if (!done_[i]) all_done = false;
  }
  return all_done;
}

void GradBuckets::complete(size_t first, size_t end) {
  PHA_REQUIRE(first <= end && end <= complete_.size(),
              "gradient buckets: parameters [{}, {}) are not in the table of {}", first, end,
              complete_.size());
  std::fill(complete_.begin() + static_cast<std::ptrdiff_t>(first),
            complete_.begin() + static_cast<std::ptrdiff_t>(end), 1);
  while (complete_from_ > 0 && complete_[complete_from_ - 1]) --complete_from_;
  // Everything from the end of the last incomplete parameter on is final (padding included).
  const int64_t final_from = complete_from_ == 0 ? 0 : tensor_end_[complete_from_ - 1];
  const std::lock_guard<std::mutex> lock(poller_.mutex());
  const int64_t before = unstarted_;
  while (unstarted_ > 0 && (unstarted_ - 1) * bucket_elements_ >= final_from) start(--unstarted_);
  if (!dp_) return;
  if (poller_.running()) {
    if (unstarted_ != before) poller_.notify();
  } else {
    poll_pending();  // after each layer's backward
  }
}

void GradBuckets::finish() {
  // Holding the lock keeps the progress thread off the requests while they are waited for.
  const std::lock_guard<std::mutex> lock(poller_.mutex());
  while (unstarted_ > 0) start(--unstarted_);
  for (parallel::PendingReduce& p : pending_)
    if (p.pending()) dp_->wait(p);
  pending_.clear();
  done_.clear();
  std::fill(complete_.begin(), complete_.end(), 0);
  complete_from_ = complete_.size();
  unstarted_ = bucket_count_;
}

void GradBuckets::start(int64_t bucket) {
  const int64_t begin = bucket * bucket_elements_;
  const int64_t count = std::min(bucket_elements_, flat_.numel() - begin);
  const Tensor slice(
      static_cast<char*>(flat_.data) + static_cast<size_t>(begin) * dtype_size(flat_.dtype),
      flat_.dtype, flat_.device, Shape{count});
  if (scale_ != 1.0) scale_tensor(slice, scale_);
  if (!dp_) return;
  if (max_in_flight_ > 0) {
    // At the limit: wait for the oldest reductions not known complete (every rank starts and
    // waits for them in the same order).
    poll_pending();
    int64_t in_flight = std::count(done_.begin(), done_.end(), 0);
    for (size_t i = 0; i < pending_.size() && in_flight >= max_in_flight_; ++i) {
      if (done_[i]) continue;
      dp_->wait(pending_[i]);
      done_[i] = 1;
      --in_flight;
    }
  }
  pending_.push_back(dp_->all_reduce_start(slice, parallel::ReduceOp::avg));
  done_.push_back(0);
}

}  // namespace pha::launch
