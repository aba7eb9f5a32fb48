#include "layers/model.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "core/element_range.h"
#include "core/rope_table.h"
#include "layers/init.h"
#include "layers/scratch_layout.h"

namespace pha {

Model::Model(DeclareOnly, Backend& backend, const ModelConfig& cfg, int64_t batch, int64_t seq_len,
             Precision precision, ModelPart part)
    : backend_(backend),
      cfg_(cfg),
      batch_(batch),
      seq_len_(seq_len),
      precision_(precision),
      part_(part) {}

Planner Model::declare_pass() {
  cfg_.validate();
  PHA_REQUIRE(batch_ > 0, "batch size {} must be positive", batch_);
  PHA_REQUIRE(seq_len_ >= 2, "sequence length {} is too short: the loss needs T >= 2", seq_len_);
  PHA_REQUIRE(seq_len_ <= cfg_.max_seq_len,
              "sequence length {} exceeds model.max_seq_len = {}: raise max_seq_len or shorten "
              "the sequences",
              seq_len_, cfg_.max_seq_len);
  if (part_.n_layers < 0) part_.n_layers = cfg_.n_layers;
  PHA_REQUIRE(part_.first_layer >= 0 && part_.first_layer + part_.n_layers <= cfg_.n_layers,
              "layers [{}, {}) are outside the model's {} layers", part_.first_layer,
              part_.first_layer + part_.n_layers, cfg_.n_layers);
  PHA_REQUIRE(part_.slots >= 1, "a model needs at least one activation slot");
  PHA_REQUIRE(
      part_.flat_chunks >= 1 && part_.flat_chunk >= 0 && part_.flat_chunk < part_.flat_chunks,
      "the parameter arena cannot split into {} chunks with this rank owning chunk {}",
      part_.flat_chunks, part_.flat_chunk);
  if (part_.tp.size == 1) part_.tp_comm = nullptr;
  const parallel::ContextSplit& cp = part_.cp;
  PHA_REQUIRE(cp.size >= 1 && cp.rank >= 0 && cp.rank < cp.size,
              "context-parallel position {} of {} is invalid", cp.rank, cp.size);
  PHA_REQUIRE(cp.size == 1 || seq_len_ % cp.chunks() == 0,
              "context parallelism cp = {} splits each sequence into 2 x cp = {} equal chunks, but "
              "T = {} is not divisible by {}: choose train.seq_len as a multiple of {}",
              cp.size, cp.chunks(), seq_len_, cp.chunks(), cp.chunks());
  if (cp.size == 1) part_.cp_comm = nullptr;
  PHA_REQUIRE(!compute_in_chunks() || precision_.param == DType::f32,
              "sharded masters (ZeRO with compute copies) are f32; this model's are {}",
              dtype_name(precision_.param));
  local_batch_ = cp.size > 1 ? 2 * batch_ : batch_;
  local_seq_ = cp.size > 1 ? seq_len_ / cp.chunks() : seq_len_;
  slots_.resize(static_cast<size_t>(part_.slots));
  Planner declare(precision_, part_.tp, part_.recompute);
  plan(declare, slots_[0]);
  return declare;
}

PlannedTables Model::plan_tables(Backend& backend, const ModelConfig& cfg, int64_t batch,
                                 int64_t seq_len, Precision precision, ModelPart part) {
  Model m(DeclareOnly{}, backend, cfg, batch, seq_len, precision, part);
  const Planner declare = m.declare_pass();
  PlannedTables t;
  t.params = declare.param_table();
  t.compute = declare.compute_table();
  t.acts = declare.act_table();
  t.scratch = declare.scratch_table();
  t.recompute = declare.recompute_table();
  t.param_bytes = t.params.chunked_bytes(m.part_.flat_chunks);
  t.master_bytes = m.compute_in_chunks() ? whole_master_table(t.params, t.compute).total_bytes() +
                                               m.master_shard_table(t.params).total_bytes()
                                         : t.param_bytes;
  if (m.part_.grad_window) t.window = m.plan_window(t.params);
  t.grad_bytes = t.window ? t.window->bytes : t.param_bytes;
  t.compute_bytes = m.compute_in_chunks() ? m.chunked_compute_layout(t.params, t.compute).bytes
                                          : t.compute.total_bytes();
  t.slots = m.part_.slots;
  t.specs = declare.param_specs();
  return t;
}

Model::Model(Backend& backend, const ModelConfig& cfg, int64_t batch, int64_t seq_len,
             Precision precision, ModelPart part)
    : Model(DeclareOnly{}, backend, cfg, batch, seq_len, precision, part) {
  PHA_REQUIRE(precision_.act != DType::bf16 || backend_.device() == Device::cuda,
              "{} precision needs the CUDA backend: the CPU backend computes in f32 or f64 (use "
              "fp32 there)",
              precision_.str());
  PHA_REQUIRE(part_.tp.size == 1 || part_.tp_comm != nullptr,
              "a tensor-parallel model part needs its tp communicator");
  PHA_REQUIRE(part_.cp.size == 1 || part_.cp_comm != nullptr,
              "a context-parallel model part needs its cp communicator");
  const Planner declare = declare_pass();
  param_specs_ = declare.param_specs();
  param_table_ = declare.param_table();
  const size_t param_bytes = param_table_.chunked_bytes(part_.flat_chunks);
  if (compute_in_chunks()) {
    // Sharded masters: the matmul weights' masters only in this rank's chunk.
    params_ = Arena(backend_, whole_master_table(param_table_, declare.compute_table()),
                    "parameters without compute copies (whole)");
    master_shard_ = Arena(backend_, master_shard_table(param_table_),
                          "master shard (this dp rank's chunk of the parameters)");
    const ZeroShard chunk{part_.flat_chunks, part_.flat_chunk};
    owned_ = chunk.ranges(param_table_);
    owned_masters_ = chunk.views_in_chunk(param_table_, master_shard_[0]);
    for (size_t i = 0; i < param_specs_.size(); ++i) {
      if (!params_.contains(param_specs_[i].name)) continue;
      const Tensor& whole = params_.get(param_specs_[i].name);
      owned_masters_[i] = whole.view({whole.numel()}).slice0(owned_[i].begin, owned_[i].size());
    }
  } else {
    params_ = Arena(backend_, param_table_, "parameters", param_bytes);
  }
  if (part_.grad_window) {
    window_ = plan_window(declare.param_table());
    grads_ =
        Arena(backend_, declare.param_table(), window_->offsets, "gradient window", window_->bytes);
  } else {
    grads_ = Arena(backend_, declare.param_table(), "gradients", param_bytes);
  }
  if (compute_in_chunks()) {
    const ComputeLayout layout =
        chunked_compute_layout(declare.param_table(), declare.compute_table());
    compute_ = Arena(backend_, declare.compute_table(), layout.offsets,
                     "compute copies of the matmul weights (in dp chunks)", layout.bytes);
  } else {
    compute_ = Arena(backend_, declare.compute_table(), "compute copies of the matmul weights");
  }
  const ScratchLayout scratch_places = scratch_layout(declare.scratch_table());
  scratch_ = Arena(backend_, declare.scratch_table(), scratch_places.offsets, "backward scratch",
                   scratch_places.bytes);
  recompute_ = Arena(backend_, declare.recompute_table(), "recompute buffer");
  for (int s = 0; s < part_.slots; ++s) {
    acts_.emplace_back(backend_, declare.act_table(), fmt::format("activations (slot {})", s));
    Planner bind(precision_, part_.tp, params_, grads_, compute_, acts_.back(), scratch_,
                 part_.recompute, &recompute_);
    plan(bind, slots_[static_cast<size_t>(s)]);
  }
  if (cfg_.block.serial || cfg_.block.attention) rope_table_fill(backend_, rope_);
  // Targets are the next tokens; the last position of each sequence has none.
  host_targets_.assign(static_cast<size_t>(batch_ * seq_len_), -1);
  host_local_tokens_.resize(static_cast<size_t>(batch_ * seq_len_));
  host_tokens_.resize(static_cast<size_t>(batch_ * seq_len_));
  counted_rows_ = batch_ * (seq_len_ - 1);
}

GradWindow Model::plan_window(const SizeTable& params) const {
  // The order stage_backward reports groups in (see there); the tied embedding's copy on either
  // end of a pipeline is kept whole: the two ends' halves are summed after the last backward.
  const GradGroup head{head_params_.first, head_params_.second};
  const GradGroup embedding{embedding_params_.first, embedding_params_.second};
  const bool tied_here = cfg_.tie_embeddings && part_.has_head && part_.has_embedding;
  const bool kept = cfg_.tie_embeddings && part_.has_head != part_.has_embedding;
  std::vector<GradGroup> order;
  std::vector<char> with_previous;
  auto add = [&](GradGroup g, bool with_head = false) {
    if (g.first == g.end) return;
    order.push_back(g);
    with_previous.push_back(with_head);
  };
  add(head);
  if (tied_here) add(embedding, true);  // the head's half of the tied embedding's gradient
  for (size_t l = block_params_.size(); l-- > 0;)
    add({block_params_[l].first, block_params_[l].second});
  if (!kept) add(embedding);
  return plan_grad_window(
      params, order, with_previous,
      kept && embedding.first < embedding.end ? std::vector{embedding} : std::vector<GradGroup>{});
}

SizeTable Model::whole_master_table(const SizeTable& params, const SizeTable& compute) {
  std::unordered_set<std::string> copied;
  for (const TensorSpec& e : compute.entries()) copied.insert(e.name);
  SizeTable whole;
  for (const TensorSpec& e : params.entries())
    if (!copied.count(e.name)) whole.add(e.name, e.shape, e.dtype);
  return whole;
}

SizeTable Model::master_shard_table(const SizeTable& params) const {
  return ZeroShard{part_.flat_chunks, part_.flat_chunk}.chunk_table(params, "master_shard");
}

Model::ComputeLayout Model::chunked_compute_layout(const SizeTable& params,
                                                   const SizeTable& compute) const {
  const size_t param_size = dtype_size(params.entries().front().dtype);
  const size_t act_size = dtype_size(precision_.act);
  const std::vector<size_t> param_offsets = params.byte_offsets();
  std::unordered_map<std::string, size_t> element_offset;
  for (size_t i = 0; i < params.size(); ++i)
    element_offset[params.entries()[i].name] = param_offsets[i] / param_size;
  ComputeLayout layout;
  for (const TensorSpec& e : compute.entries())
    layout.offsets.push_back(element_offset.at(e.name) * act_size);
  layout.bytes = params.chunked_bytes(part_.flat_chunks) / param_size * act_size;
  return layout;
}

void Model::plan(Planner& p, Slot& slot) {
  const LayerShape s{cfg_, local_batch_, local_seq_, part_.tp, part_.cp, part_.cp_comm};
  const int64_t B = local_batch_, T = local_seq_;
  // The tied head needs E on the last stage too: the same parameter, its own copy.
  const bool declaring = !p.binding();
  if (part_.has_embedding || (part_.has_head && cfg_.tie_embeddings))
    embedding_ = make_embedding(p, s);
  if (declaring) embedding_params_ = {0, p.param_specs().size()};
  slot.tokens = p.act("tokens", {B * T}, DType::i32);
  slot.local_tokens = p.act("local_tokens", {B * T}, DType::i32);
  slot.targets = p.act("targets", {B * T}, DType::i32);
  if (cfg_.block.serial || cfg_.block.attention) {
    // One table for all slots: it lives in whichever arena the first bind pass hands out.
    const Tensor table = p.stat("rope.table", {seq_len_, cfg_.head_dim() / 2, 2});
    if (rope_.empty()) rope_ = table;
  }
  slot.x.resize(static_cast<size_t>(part_.n_layers + 1));
  for (int64_t l = 0; l <= part_.n_layers; ++l)
    slot.x[static_cast<size_t>(l)] =
        p.act(fmt::format("x.{}", part_.first_layer + l), {B, T, cfg_.d});
  slot.blocks.clear();
  if (declaring) block_params_.clear();
  for (int64_t l = 0; l < part_.n_layers; ++l) {
    const size_t first = p.param_specs().size();
    slot.blocks.push_back(make_block(p, part_.first_layer + l, s));
    if (declaring) block_params_.emplace_back(first, p.param_specs().size());
  }
  const size_t head_first = p.param_specs().size();
  if (part_.has_head) slot.head = make_head(p, s, part_.head_chunk_rows);
  if (declaring) head_params_ = {head_first, p.param_specs().size()};
  d_res_ = p.scratch("model.d_res", {B, T, cfg_.d});
}

void Model::init_parameters(uint64_t seed) {
  std::vector<float> host32;
  std::vector<double> host64;
  for (size_t i = 0; i < param_specs_.size(); ++i) {
    const ParamSpec& spec = param_specs_[i];
    const size_t n = static_cast<size_t>(spec.shape.numel());
    if (precision_.param == DType::f64) {
      const Tensor& value = params_.get(spec.name);
      host64.resize(n);
      for (size_t j = 0; j < n; ++j)
        host64[j] = initial_value(spec, seed, spec.global_index(static_cast<int64_t>(j)));
      backend_.copy_from_host(value, host64.data());
      if (compute_.contains(spec.name)) backend_.copy(value, compute_.get(spec.name));
    } else if (!compute_in_chunks() && params_.get(spec.name).dtype == DType::f32) {
      // In slices: staging the whole of the largest parameter would add its size to the peak
      // memory for good (E: 147 MiB at pha-125m).
      const Tensor& value = params_.get(spec.name);
      constexpr int64_t kSlice = int64_t{1} << 20;
      const Tensor flat = value.view({value.numel()});
      for (int64_t begin = 0; begin < value.numel(); begin += kSlice) {
        const int64_t count = std::min(kSlice, value.numel() - begin);
        host32.resize(static_cast<size_t>(count));
        initial_values(spec, seed, begin, host32);
        backend_.copy_from_host(flat.slice0(begin, count), host32.data());
      }
      if (compute_.contains(spec.name)) backend_.copy(value, compute_.get(spec.name));
    } else {
      host32.resize(n);
      initial_values(spec, seed, 0, host32);
      write_master(i, host32.data());
    }
  }
}

void Model::write_master(size_t i, const float* whole) {
  const ParamSpec& spec = param_specs_.at(i);
  const bool copied = compute_.contains(spec.name);
  if (compute_in_chunks() && copied) {
    // The owned elements into the shard; the whole tensor, through a device f32 buffer, into
    // the copy (the cast GradientSync::step applies to the shard: the same copies everywhere).
    if (owned_[i].size() > 0) backend_.copy_from_host(owned_masters_[i], whole + owned_[i].begin);
    SizeTable one;
    one.add(spec.name, spec.shape, DType::f32);
    const Arena staging(backend_, one, "staging of a master for its compute copy");
    backend_.copy_from_host(staging[0], whole);
    backend_.copy(staging[0], compute_.get(spec.name));
    return;
  }
  const Tensor& value = params_.get(spec.name);
  if (value.dtype == DType::f32) {
    backend_.copy_from_host(value, whole);
  } else {
    const std::vector<double> d(whole, whole + value.numel());
    backend_.copy_from_host(value, d.data());
  }
  if (copied) backend_.copy(value, compute_.get(spec.name));
}

void Model::refresh_compute_weights() {
  PHA_REQUIRE(!compute_in_chunks(),
              "refresh_compute_weights: the masters are sharded; GradientSync::step casts this "
              "rank's shard into the copies");
  for (size_t i = 0; i < compute_.tensors().size(); ++i)
    backend_.copy(params_.get(compute_.table().entries()[i].name), compute_[i]);
}

const Tensor& Model::head_weight() const {
  return cfg_.tie_embeddings ? embedding_->weight.compute : slots_[0].head.untied_weight.compute;
}

const Tensor& Model::head_weight_grad() const {
  return cfg_.tie_embeddings ? embedding_->weight.grad : slots_[0].head.untied_weight.grad;
}

namespace {
// Position p of sequence b sits at row (a B + b) C + t of this rank (slot a, chunk offset t)
// under context parallelism, else at row b T + p. Calls f(row, b, p) for every row.
template <typename F>
void for_each_row(const parallel::ContextSplit& cp, int64_t B, int64_t T, F&& f) {
  if (cp.size == 1) {
    for (int64_t i = 0; i < B * T; ++i) f(i, i / T, i % T);
    return;
  }
  const int64_t C = T / cp.chunks();
  for (int a = 0; a < 2; ++a)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < C; ++t) f((a * B + b) * C + t, b, cp.chunk(a) * C + t);
}
}  // namespace

double Model::stage_forward(int slot_index, const int32_t* tokens, ForwardOptions options) {
  Slot& slot = slots_.at(static_cast<size_t>(slot_index));
  const int64_t B = batch_, T = seq_len_;
  for (int64_t i = 0; i < B * T; ++i)
    PHA_REQUIRE(tokens[i] >= 0 && tokens[i] < cfg_.vocab,
                "token id {} at position {} of the batch is outside the vocabulary [0, {}): the "
                "data does not match model.vocab",
                tokens[i], i, cfg_.vocab);
  Communicator* tp = part_.tp_comm;
  // This rank's tokens and targets (the next tokens; the last position of a sequence has none).
  for_each_row(part_.cp, B, T, [&](int64_t row, int64_t b, int64_t p) {
    host_tokens_[static_cast<size_t>(row)] = tokens[b * T + p];
    host_targets_[static_cast<size_t>(row)] = p + 1 < T ? tokens[b * T + p + 1] : -1;
  });
  if (part_.has_embedding) {
    local_token_ids(*embedding_, host_tokens_.data(), B * T, host_local_tokens_.data());
    backend_.copy_from_host(slot.local_tokens, host_local_tokens_.data());
    embedding_forward(backend_, *embedding_, slot.local_tokens.view({local_batch_, local_seq_}),
                      slot.x[0], tp);
  }
  for (size_t l = 0; l < slot.blocks.size(); ++l)
    block_forward(backend_, slot.blocks[l], slot.x[l], rope_, slot.x[l + 1], tp);
  if (!part_.has_head) return std::numeric_limits<double>::quiet_NaN();
  backend_.copy_from_host(slot.targets, host_targets_.data());
  // A head in chunks takes the gradient now, with the scale of head_backward's.
  const bool take_gradient = options.head_gradient && slot.head.chunk_rows > 0;
  const HeadGradient gradient{head_weight_grad(), loss_gradient_scale()};
  slot.predictions.clear();
  double loss_sum = head_forward(backend_, slot.head, slot.x.back(), head_weight(), slot.targets,
                                 tp, take_gradient ? &gradient : nullptr,
                                 options.predict ? &slot.predictions : nullptr);
  slot.head_gradient_taken = take_gradient;
  if (part_.cp_comm)
    part_.cp_comm->all_reduce(Tensor(&loss_sum, DType::f64, Device::cpu, Shape{1}),
                              parallel::ReduceOp::sum);
  return loss_sum / static_cast<double>(counted_rows_);
}

void Model::stage_backward(int slot_index, const GradsReadyHook& ready) {
  Slot& slot = slots_.at(static_cast<size_t>(slot_index));
  Communicator* tp = part_.tp_comm;
  auto tell = [&](std::pair<size_t, size_t> range) {
    if (ready && range.first < range.second) ready(range.first, range.second);
  };
  if (part_.has_head) {
    PHA_REQUIRE(slot.head.chunk_rows == 0 || slot.head_gradient_taken,
                "stage_backward: the head keeps its logits in chunks (head_chunk_rows {}), so its "
                "forward takes the gradient: run stage_forward with ForwardOptions::head_gradient "
                "before each backward",
                slot.head.chunk_rows);
    slot.head_gradient_taken = false;
    head_backward(backend_, slot.head, slot.x.back(), head_weight(), head_weight_grad(),
                  slot.targets, loss_gradient_scale(), d_res_, tp);
    tell(head_params_);
    // The window reduces the head's half of the tied embedding's gradient now (its place is
    // reused by the blocks); the embedding's half is reported at the end.
    if (window_ && cfg_.tie_embeddings && part_.has_embedding) tell(embedding_params_);
  }
  for (size_t l = slot.blocks.size(); l-- > 0;) {
    block_backward(backend_, slot.blocks[l], slot.x[l], rope_, d_res_, tp);
    tell(block_params_[l]);
  }
  // The embedding (or the tied head's copy of E) is written by the head's and the embedding's
  // backward: complete only now.
  if (part_.has_embedding)
    embedding_backward(backend_, *embedding_, slot.local_tokens.view({local_batch_, local_seq_}),
                       d_res_);
  tell(embedding_params_);
}

double Model::loss_gradient_scale() const {
  // The loss is the mean over all cp ranks' rows; the gradients are then averaged over the
  // dp x cp group like replicas', so each cp rank's share is scaled up by cp to make that
  // average their sum.
  return static_cast<double>(part_.cp.size) / static_cast<double>(counted_rows_);
}

const Tensor& Model::logits(int slot) const {
  const HeadLayer& head = slots_.at(static_cast<size_t>(slot)).head;
  PHA_REQUIRE(head.chunk_rows == 0,
              "logits(): this model's head computes its logits in chunks of {} rows and keeps "
              "none (ModelPart::head_chunk_rows); build the model with head_chunk_rows = 0 to "
              "read them, or ask the forward for predictions()",
              head.chunk_rows);
  return head.logits;
}

const std::vector<int32_t>& Model::predictions(int slot) const {
  return slots_.at(static_cast<size_t>(slot)).predictions;
}

MemoryFigures Model::memory() const {
  size_t acts = recompute_.bytes();
  for (const Arena& a : acts_) acts += a.bytes();
  return MemoryFigures{master_bytes() + grads_.bytes() + compute_.bytes(), acts, scratch_.bytes()};
}

std::vector<std::vector<float>> Model::mixing_weights() {
  std::vector<std::vector<float>> out;
  for (const BlockLayer& b : slots_[0].blocks)
    out.push_back(b.mixer ? backend_.to_host_f32(b.mixer->w) : std::vector<float>{});
  return out;
}

std::optional<Param> Model::embedding_param() const {
  if (!embedding_) return std::nullopt;
  return embedding_->weight;
}

std::vector<ParamSpec> model_param_specs(const ModelConfig& cfg) {
  cfg.validate();
  Planner declare;
  const LayerShape s{cfg, 1, 2, {}};
  make_embedding(declare, s);
  for (int64_t l = 0; l < cfg.n_layers; ++l) make_block(declare, l, s);
  make_head(declare, s);
  return declare.param_specs();
}

int64_t count_parameters(const ModelConfig& cfg) {
  int64_t total = 0;
  for (const ParamSpec& p : model_param_specs(cfg)) total += p.shape.numel();
  return total;
}

}  // namespace pha
