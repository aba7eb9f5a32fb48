#include "launch/grad_sync.h"

#include <algorithm>

#include "optim/clip.h"
#if PHA_WITH_NCCL
#include <fmt/format.h>

#include "parallel/abort.h"
#include "parallel/make_nccl_communicator.h"
#endif

namespace pha::launch {

using parallel::ReduceOp;

namespace {

bool tied_copy_on_both_ends(const Model& model, const Distributed& dist) {
  return model.config().tie_embeddings && dist.n_stages() > 1;
}

// The flat view [count] of elements [begin, begin + count) of `t`.
Tensor flat_slice(const Tensor& t, int64_t begin, int64_t count) {
  return Tensor(static_cast<char*>(t.data) + static_cast<size_t>(begin) * dtype_size(t.dtype),
                t.dtype, t.device, Shape{count});
}

// Overlapping the dp average with backward leaves dp all-reduces in flight while backward issues
// tp and pp collectives. On NCCL (device tensors) kernels of different communicators then deadlock
// unless the GPU runs them in host issue order (nccl_orders_communicators()); without that the
// overlap is kept only where no other group communicates (tp = pp = 1).
bool overlap_is_safe(Model& model, const Distributed& dist) {
  if (model.backend().device() == Device::cpu) return true;
  const parallel::Layout& layout = dist.grid.layout();
  if (layout.tp == 1 && layout.pp == 1) return true;
#if PHA_WITH_NCCL
  if (parallel::nccl_orders_communicators()) return true;
  if (parallel::world_rank() == 0)
    fmt::print(stderr,
               "pha: the dp gradient average does not overlap backward: with tp {} x pp {} on "
               "NCCL that needs NCCL >= 2.26 with NCCL_LAUNCH_ORDER_IMPLICIT=1\n",
               layout.tp, layout.pp);
#endif
  return false;
}

}  // namespace

GradientSync::GradientSync(Model& model, Distributed& dist, bool zero1, bool overlap,
                           double grad_scale, int64_t bucket_elements)
    : backend_(model.backend()),
      dist_(dist),
      zero1_(zero1 && dist.grid.layout().dp > 1),
      overlap_(overlap && dist.grid.layout().dp > 1 && overlap_is_safe(model, dist)),
      buckets_(model.grads(), bucket_elements, dist.grid.layout().dp > 1 ? &dist.dp : nullptr,
               grad_scale) {
  const SizeTable& table = model.params().table();
  // Replicated parameters are identical on every tp rank: counted on tp rank 0 only. The tied
  // embedding's last-stage copy is the first stage's: counted there only.
  for (const ParamSpec& spec : model.param_specs()) {
    bool counts = spec.split != TpSplit::replicated || dist.tp_rank() == 0;
    if (spec.name == "embedding.weight" && tied_copy_on_both_ends(model, dist) &&
        !dist.first_stage())
      counts = false;
    norm_ranges_.push_back(counts ? ElementRange{0, spec.shape.numel()} : ElementRange{});
  }
  SizeTable staging;
  staging.add("norm_partial", {1}, DType::f64);
  if (tied_copy_on_both_ends(model, dist) && (dist.first_stage() || dist.last_stage()))
    staging.add("tied_embedding_grad", model.params().get("embedding.weight").shape,
                model.params().get("embedding.weight").dtype);
  const int64_t total = table.total_elements();
  if (zero1_) {
    const int dp = dist.grid.layout().dp;
    shard_elements_ = (total + dp - 1) / dp;
    const int64_t begin = std::min(total, shard_elements_ * dist.dp_rank());
    update_ranges_ = shard_ranges(table, begin, std::min(total, begin + shard_elements_));
    const DType real = model.params()[0].dtype;
    staging.add("zero1_send", {shard_elements_}, real);
    staging.add("zero1_gathered", {shard_elements_ * dp}, real);
  } else {
    update_ranges_ = full_ranges(table);
  }
  staging_ = Arena(model.backend(), staging, "gradient sync staging");
}

GradsReadyHook GradientSync::last_backward_hook() {
  if (!overlap_) return {};
  return [this](size_t first, size_t end) { buckets_.complete(first, end); };
}

void GradientSync::reduce(Model& model) {
  buckets_.finish();
  if (tied_copy_on_both_ends(model, dist_)) tied_embedding_sync(model);
}

void GradientSync::tied_embedding_sync(Model& model) {
  if (!dist_.first_stage() && !dist_.last_stage()) return;
  const Tensor grad = model.grads().get("embedding.weight");
  const Tensor other = staging_.get("tied_embedding_grad");
  // First sends then receives, last receives then sends: no two blocking sends face each other.
  // Both add the same two tensors (a + b == b + a), so the copies stay bit-identical.
  if (dist_.first_stage()) {
    dist_.pp.send(grad, dist_.n_stages() - 1);
    dist_.pp.recv(other, dist_.n_stages() - 1);
  } else {
    dist_.pp.recv(other, 0);
    dist_.pp.send(grad, 0);
  }
  model.backend().axpy(1.0, other, grad);
}

double GradientSync::global_sum_squares(Model& model) {
  const double local = gradient_sum_squares(model.grads(), norm_ranges_);
  return sum_over(dist_.pp, sum_over(dist_.tp, local));
}

double GradientSync::sum_over(parallel::Communicator& group, double value) {
  const Tensor scalar = staging_.get("norm_partial");
  backend_.copy_from_host(scalar, &value);
  group.all_reduce(scalar, ReduceOp::sum);
  backend_.copy_to_host(scalar, &value);
  return value;
}

void GradientSync::step(Model& model, AdamW& optimizer, int64_t step_number) {
  optimizer.step(model.params(), model.grads(), model.param_specs(), step_number, update_ranges_);
  if (zero1_) all_gather_slices(model, [&](size_t i) { return model.params()[i]; });
}

void GradientSync::gather_moments(Model& model, const AdamW& optimizer) {
  if (!zero1_) return;
  const auto& specs = model.param_specs();
  all_gather_slices(model, [&](size_t i) { return optimizer.exp_avg(specs[i].name); });
  all_gather_slices(model, [&](size_t i) { return optimizer.exp_avg_sq(specs[i].name); });
}

void GradientSync::all_gather_slices(Model& model, const std::function<Tensor(size_t)>& tensor_of) {
  Backend& be = model.backend();
  const Arena& params = model.params();
  const Tensor send = staging_.get("zero1_send");
  const Tensor gathered = staging_.get("zero1_gathered");
  // Pack this rank's slice of the flat parameters, gather every rank's, unpack them all.
  auto walk = [&](int rank, const Tensor& buffer, bool pack) {
    const int64_t total = params.table().total_elements();
    const int64_t begin = std::min(total, shard_elements_ * rank);
    const auto ranges =
        shard_ranges(params.table(), begin, std::min(total, begin + shard_elements_));
    int64_t offset = 0;
    for (size_t i = 0; i < ranges.size(); ++i) {
      if (ranges[i].size() == 0) continue;
      const Tensor piece = flat_slice(tensor_of(i), ranges[i].begin, ranges[i].size());
      const Tensor staged = flat_slice(buffer, offset, ranges[i].size());
      pack ? be.copy(piece, staged) : be.copy(staged, piece);
      offset += ranges[i].size();
    }
  };
  walk(dist_.dp_rank(), send, true);
  dist_.dp.all_gather(send, gathered);
  for (int r = 0; r < dist_.grid.layout().dp; ++r)
    walk(r, flat_slice(gathered, shard_elements_ * r, shard_elements_), false);
}

}  // namespace pha::launch
