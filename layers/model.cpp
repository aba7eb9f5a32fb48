#include "layers/model.h"

#include <fmt/format.h>

#include "core/rope_table.h"
#include "layers/init.h"

namespace pha {

Model::Model(Backend& backend, const ModelConfig& cfg, int64_t batch, int64_t seq_len, DType real)
    : backend_(backend), cfg_(cfg), batch_(batch), seq_len_(seq_len), real_(real) {
  cfg_.validate();
  PHA_REQUIRE(batch > 0, "batch size {} must be positive", batch);
  PHA_REQUIRE(seq_len >= 2, "sequence length {} is too short: the loss needs T >= 2", seq_len);
  PHA_REQUIRE(seq_len <= cfg_.max_seq_len,
              "sequence length {} exceeds model.max_seq_len = {}: raise max_seq_len or shorten "
              "the sequences",
              seq_len, cfg_.max_seq_len);
  Planner declare(real_);
  plan(declare);
  param_specs_ = declare.param_specs();
  params_ = Arena(backend_, declare.param_table(), "parameters");
  grads_ = Arena(backend_, declare.param_table(), "gradients");
  acts_ = Arena(backend_, declare.act_table(), "activations");
  scratch_ = Arena(backend_, declare.scratch_table(), "backward scratch");
  Planner bind(real_, params_, grads_, acts_, scratch_);
  plan(bind);
  if (cfg_.block.serial || cfg_.block.attention) rope_table_fill(backend_, rope_);
  // Targets are the next tokens; the last position of each sequence has none.
  host_targets_.assign(static_cast<size_t>(batch_ * seq_len_), -1);
  counted_rows_ = batch_ * (seq_len_ - 1);
}

void Model::plan(Planner& p) {
  const LayerShape s{cfg_, batch_, seq_len_};
  const int64_t B = batch_, T = seq_len_;
  embedding_ = make_embedding(p, s);
  tokens_ = p.act("tokens", {B * T}, DType::i32);
  targets_ = p.act("targets", {B * T}, DType::i32);
  if (cfg_.block.serial || cfg_.block.attention)
    rope_ = p.act("rope.table", {T, cfg_.head_dim() / 2, 2});
  x_.resize(static_cast<size_t>(cfg_.n_layers + 1));
  for (int64_t l = 0; l <= cfg_.n_layers; ++l)
    x_[static_cast<size_t>(l)] = p.act(fmt::format("x.{}", l), {B, T, cfg_.d});
  blocks_.clear();
  for (int64_t l = 0; l < cfg_.n_layers; ++l) blocks_.push_back(make_block(p, l, s));
  head_ = make_head(p, s);
  d_res_ = p.scratch("model.d_res", {B, T, cfg_.d});
}

void Model::init_parameters(uint64_t seed) {
  std::vector<float> host32;
  std::vector<double> host64;
  for (const ParamSpec& spec : param_specs_) {
    const Tensor& value = params_.get(spec.name);
    const size_t n = static_cast<size_t>(spec.shape.numel());
    if (value.dtype == DType::f64) {
      host64.resize(n);
      for (size_t i = 0; i < n; ++i) host64[i] = initial_value(spec, seed, spec.global_index(static_cast<int64_t>(i)));
      backend_.copy_from_host(value, host64.data());
    } else {
      host32.resize(n);
      initial_values(spec, seed, 0, host32);
      backend_.copy_from_host(value, host32.data());
    }
  }
}

const Tensor& Model::head_weight() const {
  return cfg_.tie_embeddings ? embedding_.weight.value : head_.untied_weight.value;
}

const Tensor& Model::head_weight_grad() const {
  return cfg_.tie_embeddings ? embedding_.weight.grad : head_.untied_weight.grad;
}

double Model::forward(const int32_t* tokens) {
  const int64_t B = batch_, T = seq_len_;
  for (int64_t i = 0; i < B * T; ++i)
    PHA_REQUIRE(tokens[i] >= 0 && tokens[i] < cfg_.vocab,
                "token id {} at position {} of the batch is outside the vocabulary [0, {}): the "
                "data does not match model.vocab",
                tokens[i], i, cfg_.vocab);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t + 1 < T; ++t)
      host_targets_[static_cast<size_t>(b * T + t)] = tokens[b * T + t + 1];
  backend_.copy_from_host(tokens_, tokens);
  backend_.copy_from_host(targets_, host_targets_.data());

  embedding_forward(backend_, embedding_, tokens_.view({B, T}), x_[0]);
  for (size_t l = 0; l < blocks_.size(); ++l) block_forward(backend_, blocks_[l], x_[l], rope_, x_[l + 1]);
  const double loss_sum = head_forward(backend_, head_, x_.back(), head_weight(), targets_);
  return loss_sum / static_cast<double>(counted_rows_);
}

void Model::backward() {
  head_backward(backend_, head_, x_.back(), head_weight(), head_weight_grad(), targets_,
                1.0 / static_cast<double>(counted_rows_), d_res_);
  for (size_t l = blocks_.size(); l-- > 0;) block_backward(backend_, blocks_[l], x_[l], rope_, d_res_);
  embedding_backward(backend_, embedding_, tokens_.view({batch_, seq_len_}), d_res_);
}

MemoryFigures Model::memory() const {
  return MemoryFigures{params_.bytes() + grads_.bytes(), acts_.bytes(), scratch_.bytes()};
}

std::vector<std::vector<float>> Model::mixing_weights() {
  std::vector<std::vector<float>> out;
  for (const BlockLayer& b : blocks_)
    out.push_back(b.mixer ? mixer_weights(backend_, *b.mixer) : std::vector<float>{});
  return out;
}

int64_t count_parameters(const ModelConfig& cfg) {
  cfg.validate();
  Planner declare;
  const LayerShape s{cfg, 1, 2};
  int64_t total = 0;
  make_embedding(declare, s);
  for (int64_t l = 0; l < cfg.n_layers; ++l) make_block(declare, l, s);
  make_head(declare, s);
  for (const ParamSpec& p : declare.param_specs()) total += p.shape.numel();
  return total;
}

}  // namespace pha
