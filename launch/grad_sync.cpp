#include "launch/grad_sync.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/cuda_plugin.h"
#include "optim/clip.h"
#include "parallel/abort.h"

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

int zero_stage(int zero, const Distributed& dist) {
  PHA_REQUIRE(zero >= 0 && zero <= 2, "ZeRO stage {} does not exist: use 0, 1 or 2", zero);
  return dist.grad_size() > 1 ? zero : 0;
}

// Overlapping the dp average with backward leaves dp all-reduces in flight while backward issues
// tp and pp collectives. On NCCL (device tensors) kernels of different communicators then deadlock
// unless the GPU runs them in host issue order (nccl_orders_communicators()); without that the
// overlap is kept only where no other group communicates (tp = pp = 1).
bool overlap_is_safe(Model& model, const Distributed& dist) {
  if (model.backend().device() == Device::cpu) return true;
  const parallel::Layout& layout = dist.grid.layout();
  if (layout.tp == 1 && layout.pp == 1) return true;
  const NcclPlugin* nccl = nccl_plugin();
  if (nccl != nullptr && nccl->orders_communicators()) return true;
  if (nccl != nullptr && parallel::world_rank() == 0)
    fmt::print(stderr,
               "pha: the dp gradient average does not overlap backward: with tp {} x pp {} on "
               "NCCL that needs NCCL >= 2.26 with NCCL_LAUNCH_ORDER_IMPLICIT=1\n",
               layout.tp, layout.pp);
  return false;
}

}  // namespace

std::vector<ElementRange> GradientSync::owned_ranges(const Model& model, const Distributed& dist,
                                                     int zero) {
  const SizeTable& table = model.param_table();
  if (zero_stage(zero, dist) == 0) return full_ranges(table);
  return ZeroShard{dist.grad_size(), dist.grad_rank()}.ranges(table);
}

GradientSync::GradientSync(Model& model, Distributed& dist, int zero, bool overlap,
                           double grad_scale, int64_t bucket_elements, int64_t buckets_in_flight)
    : backend_(model.backend()),
      dist_(dist),
      zero_(zero_stage(zero, dist)),
      overlap_(overlap && zero_ != 2 && dist.grad_size() > 1 && overlap_is_safe(model, dist)),
      // ZeRO-2 scales and averages in its gradient window (window_): the buckets do nothing.
      buckets_(model.grads(), bucket_elements,
               dist.grad_size() > 1 && zero_ != 2 ? &dist.grad : nullptr,
               zero_ == 2 ? 1.0 : grad_scale, buckets_in_flight),
      shard_{dist.grad_size(), dist.grad_rank()} {
  const SizeTable& table = model.param_table();
  if (zero_ > 0) {
    owned_ = shard_.ranges(table);
    chunk_elements_ = shard_.chunk_elements(table);
    PHA_REQUIRE(model.part().flat_chunks == shard_.count && model.part().flat_chunk == shard_.index,
                "ZeRO on dp rank {} of {} needs the model's parameters in {} chunks with chunk {} "
                "its own; it has chunk {} of {} (ModelPart::flat_chunks, flat_chunk)",
                shard_.index, shard_.count, shard_.count, shard_.index, model.part().flat_chunk,
                model.part().flat_chunks);
  }
  PHA_REQUIRE((zero_ == 2) == (model.grad_window() != nullptr),
              "ZeRO stage {} needs a model {} a gradient window (GradientSync::with_grad_window)",
              zero_, zero_ == 2 ? "with" : "without");
  // ZeRO-2 reduces during backward whatever `overlap` says (the window must be emptied), but
  // one group at a time where a dp reduction must not be in flight beside tp or pp collectives.
  if (zero_ == 2)
    window_ = std::make_unique<GradWindowReduce>(model, dist.grad, grad_scale,
                                                 overlap_is_safe(model, dist));
  // Replicated parameters are identical on every tp rank: counted on tp rank 0 only. The tied
  // embedding's last-stage copy is the first stage's: counted there only.
  for (const ParamSpec& spec : model.param_specs()) {
    bool counts = spec.split != TpSplit::replicated || dist.tp_rank() == 0;
    if (spec.name == "embedding.weight" && tied_copy_on_both_ends(model, dist) &&
        !dist.first_stage())
      counts = false;
    counted_.push_back(counts);
    norm_ranges_.push_back(counts ? ElementRange{0, spec.shape.numel()} : ElementRange{});
  }
  staging_ =
      Arena(model.backend(), staging_table(model.config(), model.part(), dist.n_stages(), table),
            "gradient sync staging");
}

SizeTable GradientSync::staging_table(const ModelConfig& cfg, const ModelPart& part, int n_stages,
                                      const SizeTable& params) {
  SizeTable staging;
  staging.add("norm_partial", {1}, DType::f64);
  // The tied embedding's gradient from the other end of the pipeline.
  if (cfg.tie_embeddings && n_stages > 1 && (part.has_embedding || part.has_head))
    for (const TensorSpec& e : params.entries())
      if (e.name == "embedding.weight") staging.add("tied_embedding_grad", e.shape, e.dtype);
  return staging;
}

GradsReadyHook GradientSync::last_backward_hook() {
  if (!overlap_) return {};
  return [this](size_t first, size_t end) { buckets_.complete(first, end); };
}

GradsReadyHook GradientSync::every_backward_hook() {
  return window_ ? window_->hook() : GradsReadyHook{};
}

ModelPart GradientSync::with_grad_window(ModelPart part, int zero, int dp) {
  part.grad_window = zero == 2 && dp > 1;
  part.compute_in_chunks = zero > 0 && dp > 1;
  return part;
}

size_t GradientSync::gradient_bytes(const Model& model) const {
  return window_ ? window_->shard().bytes() : model.grads().bytes();
}

const Arena& GradientSync::gradient_shard() const {
  PHA_REQUIRE(window_, "gradient_shard: only ZeRO-2 keeps a gradient shard");
  return window_->shard();
}

const std::vector<Tensor>& GradientSync::owned_gradients() const {
  PHA_REQUIRE(window_, "owned_gradients: only ZeRO-2 keeps a gradient shard");
  return window_->owned_grads();
}

void GradientSync::reduce(Model& model) {
  buckets_.finish();
  if (!window_) {
    if (tied_copy_on_both_ends(model, dist_)) tied_embedding_sync(model);
    return;
  }
  window_->finish();
  // The tied embedding's copy on either end of the pipeline stayed whole in the window (kept):
  // averaged over dp here, summed with the other end's, then this rank's chunk of it added.
  for (const GradGroup& kept : model.grad_window()->kept) {
    dist_.grad.all_reduce(model.grads().get("embedding.weight"), ReduceOp::avg);
    tied_embedding_sync(model);
    window_->add_kept(kept);
  }
  window_->end_reduction();
}

Tensor GradientSync::flat(const Arena& arena) const {
  return Tensor(arena.base(), arena[0].dtype, arena[0].device,
                Shape{chunk_elements_ * shard_.count});
}

Tensor GradientSync::chunk(const Arena& arena) const {
  return flat_slice(flat(arena), chunk_elements_ * shard_.index, chunk_elements_);
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
  double local = 0;
  if (window_) {
    const std::vector<Tensor>& owned = window_->owned_grads();
    for (size_t i = 0; i < owned.size(); ++i)
      if (counted_[i] && owned[i].numel() > 0) local += tensor_sum_squares(owned[i]);
  } else {
    local = gradient_sum_squares(model.grads(), norm_ranges_);
  }
  const double stage = sum_over(dist_.tp, zero_ == 2 ? sum_over(dist_.grad, local) : local);
  return sum_over(dist_.pp, stage);
}

double GradientSync::sum_over(parallel::Communicator& group, double value) {
  const Tensor scalar = staging_.get("norm_partial");
  backend_.copy_from_host(scalar, &value);
  group.all_reduce(scalar, ReduceOp::sum);
  backend_.copy_to_host(scalar, &value);
  return value;
}

double GradientSync::clip(Model& model, double sum_squares, double max_norm) {
  if (window_) return clip_by_global_norm(window_->shard()[0], sum_squares, max_norm);
  return clip_by_global_norm(model.grads(), sum_squares, max_norm);
}

std::optional<std::string> GradientSync::first_nonfinite_gradient(const Model& model) const {
  if (!window_) return first_nonfinite(model.grads());
  const std::vector<Tensor>& owned = window_->owned_grads();
  for (size_t i = 0; i < owned.size(); ++i)
    if (owned[i].numel() > 0 && !all_finite(owned[i])) return model.param_specs()[i].name;
  return std::nullopt;
}

void GradientSync::step(Model& model, AdamW& optimizer, int64_t step_number) {
  if (model.compute_in_chunks()) {
    // Sharded masters: AdamW on this rank's chunk of them (the master shard and its part of the
    // small parameters); the shard becomes this rank's chunk of the copies (a cast), the copies
    // are gathered, and the small parameters are shared whole.
    optimizer.step(model.owned_masters(),
                   window_ ? window_->owned_grads() : range_views(model.grads(), owned_),
                   model.param_specs(), step_number);
    const Arena& copies = model.compute_copies();
    backend_.copy(model.master_shard()[0], chunk(copies));
    dist_.grad.all_gather(chunk(copies), flat(copies));
    share_small_masters(model);
    return;
  }
  if (window_)
    optimizer.step(model.params(), window_->owned_grads(), model.param_specs(), step_number);
  else
    optimizer.step(model.params(), model.grads(), model.param_specs(), step_number);
  if (zero_ > 0) dist_.grad.all_gather(chunk(model.params()), flat(model.params()));
  model.refresh_compute_weights();
}

void GradientSync::share_small_masters(Model& model) {
  // Each rank's owned elements, -0 elsewhere, summed over dp: x + (-0) == x for every x, so each
  // element arrives bit for bit from its owner.
  for (size_t i = 0; i < model.param_specs().size(); ++i) {
    const std::string& name = model.param_specs()[i].name;
    if (model.compute_copies().contains(name)) continue;
    const Tensor& p = model.params().get(name);
    const ElementRange mine = owned_[i];
    if (mine.begin > 0) backend_.fill(flat_slice(p, 0, mine.begin), -0.0);
    if (mine.end < p.numel()) backend_.fill(flat_slice(p, mine.end, p.numel() - mine.end), -0.0);
    dist_.grad.all_reduce(p, ReduceOp::sum);
  }
}

const Arena& GradientSync::whole_buffer(Model& model) {
  if (!window_) return model.grads();
  if (gather_buffer_.bytes() == 0)
    gather_buffer_ = Arena(backend_, model.param_table(), "ZeRO-2 checkpoint gather buffer",
                           model.param_table().chunked_bytes(shard_.count));
  return gather_buffer_;
}

const Arena& GradientSync::gather_masters(Model& model) {
  if (!model.compute_in_chunks()) return model.params();
  const Arena& whole = whole_buffer(model);
  backend_.copy(model.master_shard()[0], chunk(whole));
  dist_.grad.all_gather(chunk(whole), flat(whole));
  // The small parameters' slots of the shard are unused: they are whole on every rank.
  const Arena& small = model.params();
  for (size_t i = 0; i < small.tensors().size(); ++i)
    backend_.copy(small[i], whole.get(small.table().entries()[i].name));
  return whole;
}

const Arena& GradientSync::gather_moment(Model& model, const AdamW& optimizer, bool squared) {
  PHA_REQUIRE(zero_ > 0, "gather_moment: without ZeRO every rank holds the whole moments");
  const Arena& whole = whole_buffer(model);
  const std::vector<ElementRange>& owned = optimizer.owned();
  for (size_t i = 0; i < owned.size(); ++i) {
    if (owned[i].size() == 0) continue;
    const std::string& name = model.param_specs()[i].name;
    const Tensor& moment = squared ? optimizer.exp_avg_sq(name) : optimizer.exp_avg(name);
    backend_.copy(moment.view({owned[i].size()}),
                  flat_slice(whole[i], owned[i].begin, owned[i].size()));
  }
  dist_.grad.all_gather(chunk(whole), flat(whole));
  return whole;
}

}  // namespace pha::launch
