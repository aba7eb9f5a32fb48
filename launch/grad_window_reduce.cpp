#include "launch/grad_window_reduce.h"

#include <algorithm>

namespace pha::launch {

namespace {

Tensor flat_slice(const Tensor& t, int64_t begin, int64_t count) {
  return Tensor(static_cast<char*>(t.data) + static_cast<size_t>(begin) * dtype_size(t.dtype),
                t.dtype, t.device, Shape{count});
}

bool overlap(std::pair<size_t, size_t> a, std::pair<size_t, size_t> b) {
  return a.first < b.second && b.first < a.second;
}

}  // namespace

SizeTable GradWindowReduce::shard_table(const SizeTable& params, int dp) {
  return ZeroShard{dp, 0}.chunk_table(params, "gradient_shard");
}

size_t GradWindowReduce::max_in_flight_bytes(const GradWindow& window, bool overlap_on) {
  const size_t n = window.order.size();
  std::vector<std::pair<size_t, size_t>> in_flight;  // their regions
  size_t most = 0;
  auto prepare = [&](const GradGroup& g) {
    const auto region = window.region(g);
    std::erase_if(in_flight, [&](const auto& r) { return overlap(region, r); });
  };
  // Two backwards: the second starts with the first one's last groups still in flight.
  for (size_t k = 0; k < 2 * n; ++k) {
    in_flight.push_back(window.region(window.order[k % n]));
    size_t bytes = 0;
    for (const auto& [begin, end] : in_flight) bytes += end - begin;
    most = std::max(most, bytes);
    if (!overlap_on) in_flight.clear();
    const size_t next = (k + 1) % n;
    if (!window.with_previous[next]) {
      prepare(window.order[next]);
      if (window.with_previous[(next + 1) % n]) prepare(window.order[(next + 1) % n]);
    }
  }
  return most;
}

GradWindowReduce::GradWindowReduce(Model& model, parallel::Communicator& dp, double scale,
                                   bool overlap)
    : model_(model),
      backend_(model.backend()),
      dp_(dp),
      scale_(scale),
      overlap_(overlap),
      window_(*model.grad_window()) {
  const SizeTable& params = model.param_table();
  const ZeroShard zero{dp.size(), dp.rank()};
  owned_ = zero.ranges(params);
  shard_ = Arena(backend_, shard_table(params, dp.size()), "gradient shard");
  owned_grads_ = zero.views_in_chunk(params, shard_[0]);
  chunk_elements_ = zero.chunk_elements(params);
  const std::vector<size_t> packed = params.byte_offsets();
  for (size_t i = 0; i < params.size(); ++i)
    packed_elements_.push_back(
        static_cast<int64_t>(packed[i] / dtype_size(params.entries()[i].dtype)));
  poller_.start(overlap_ && backend_.device() == Device::cpu);
}

bool GradWindowReduce::poll_in_flight() {
  bool all_done = true;
  for (InFlight& f : in_flight_)
    if (!dp_.progress(f.request)) all_done = false;
  return all_done;
}

GradsReadyHook GradWindowReduce::hook() {
  return [this](size_t first, size_t end) { completed(first, end); };
}

Tensor GradWindowReduce::place(const GradGroup& group) const {
  const auto [begin, end] = window_.region(group);
  const Arena& grads = model_.grads();
  const DType dtype = grads[0].dtype;
  const size_t element = dtype_size(dtype);
  return Tensor(static_cast<char*>(grads.base()) + begin, dtype, grads[0].device,
                Shape{static_cast<int64_t>((end - begin) / element)});
}

std::vector<int64_t> GradWindowReduce::parts(const GradGroup& group) const {
  // The place holds packed elements [begin, end) of the flat parameter arena; dp rank r's part
  // is what of it lies in chunk r.
  const auto [first_byte, end_byte] = window_.region(group);
  const size_t element = dtype_size(model_.grads()[0].dtype);
  const int64_t begin = packed_elements_[group.first];
  const int64_t end = begin + static_cast<int64_t>((end_byte - first_byte) / element);
  std::vector<int64_t> counts;
  for (int r = 0; r < dp_.size(); ++r) {
    const int64_t lo = std::max(begin, chunk_elements_ * r);
    const int64_t hi = std::min(end, chunk_elements_ * (r + 1));
    counts.push_back(std::max<int64_t>(0, hi - lo));
  }
  return counts;
}

void GradWindowReduce::completed(size_t first, size_t end) {
  const GradGroup group{first, end};
  // The kept copy of the tied embedding is reduced by the caller after the last backward.
  if (std::find(window_.kept.begin(), window_.kept.end(), group) != window_.kept.end()) return;
  PHA_REQUIRE(group == window_.order[next_],
              "gradient window: backward completed parameters [{}, {}) where [{}, {}) was due",
              first, end, window_.order[next_].first, window_.order[next_].end);
  // Held throughout: the progress thread stays off the requests while they start and are waited.
  const std::lock_guard<std::mutex> lock(poller_.mutex());
  in_flight_.push_back(
      {group, dp_.reduce_scatter_start(place(group), parts(group), parallel::ReduceOp::avg)});
  if (!overlap_) finish_in_flight();
  const size_t n = window_.order.size();
  next_ = (next_ + 1) % n;
  // The next backward writes the next group (and the one written with it): zero their places.
  if (!window_.with_previous[next_]) {
    prepare(window_.order[next_]);
    if (window_.with_previous[(next_ + 1) % n]) prepare(window_.order[(next_ + 1) % n]);
  }
  if (poller_.running())
    poller_.notify();
  else
    poll_in_flight();  // MPI advances them only inside MPI calls: at least between the layers
}

void GradWindowReduce::prepare(const GradGroup& group) {
  const auto region = window_.region(group);
  for (size_t i = 0; i < in_flight_.size();) {
    if (overlap(region, window_.region(in_flight_[i].group))) {
      dp_.wait(in_flight_[i].request);
      add(in_flight_[i].group);
      in_flight_.erase(in_flight_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
  backend_.memset_zero(static_cast<char*>(model_.grads().base()) + region.first,
                       region.second - region.first);
}

void GradWindowReduce::finish_in_flight() {
  for (InFlight& f : in_flight_) {
    dp_.wait(f.request);
    add(f.group);
  }
  in_flight_.clear();
}

void GradWindowReduce::finish() {
  const std::lock_guard<std::mutex> lock(poller_.mutex());
  finish_in_flight();
  PHA_REQUIRE(next_ == 0, "gradient window: the step ended after {} of the {} groups of a backward",
              next_, window_.order.size());
}

void GradWindowReduce::end_reduction() {
  if (shard_is_stale_) shard_.zero();  // nothing was added this step
  shard_is_stale_ = true;              // the next step's first add starts from zero
}

void GradWindowReduce::add_kept(const GradGroup& group) {
  add(group);
}

void GradWindowReduce::add(const GradGroup& group) {
  if (shard_is_stale_) {
    shard_.zero();
    shard_is_stale_ = false;
  }
  const Arena& grads = model_.grads();
  for (size_t i = group.first; i < group.end; ++i) {
    const ElementRange r = owned_[i];
    if (r.size() == 0) continue;
    backend_.axpy(scale_, flat_slice(grads[i], r.begin, r.size()), owned_grads_[i]);
  }
}

}  // namespace pha::launch
