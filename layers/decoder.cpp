#include "layers/decoder.h"

#include <fmt/format.h>

#include <cstring>

#include "core/cpu/cpu_backend.h"
#include "core/rope_table.h"
#include "layers/decoder_rows.h"

namespace pha {

Decoder::Decoder(Model& model, int64_t max_len)
    : be_(model.backend()), cfg_(model.config()), max_len_(max_len) {
  const ModelPart& part = model.part();
  PHA_REQUIRE(be_.device() == Device::cpu,
              "the incremental decoder runs on the CPU backend, not on {}", be_.name());
  PHA_REQUIRE(part.tp.size == 1 && part.first_layer == 0 && part.n_layers == cfg_.n_layers &&
                  part.has_embedding && part.has_head,
              "the incremental decoder needs the whole model on one rank (tp 1, one stage)");
  PHA_REQUIRE(!model.precision().compute_copies(),
              "the incremental decoder computes in one type (f32 or f64), not {}",
              model.precision().str());
  PHA_REQUIRE(max_len >= 1 && max_len <= cfg_.max_seq_len,
              "the decoder's length {} must be in [1, model.max_seq_len = {}]", max_len,
              cfg_.max_seq_len);
  Planner declare(model.precision());
  plan(declare);
  PHA_REQUIRE(declare.param_table().size() == model.params().table().size(),
              "the decoder plans {} parameters but the model holds {}",
              declare.param_table().size(), model.params().table().size());
  acts_ = Arena(be_, declare.act_table(), "decoder state");
  scratch_ = Arena(be_, declare.scratch_table(), "decoder scratch");
  compute_ = Arena(be_, declare.compute_table(), "decoder compute copies (none)");
  Planner bind(model.precision(), {}, model.params(), model.grads(), compute_, acts_, scratch_);
  plan(bind);
  if (!rope_.empty()) rope_table_fill(be_, rope_);

  // The GSS recurrences, from the kernel's definition (model.md) in double.
  gss_.resize(blocks_.size());
  for (size_t l = 0; l < blocks_.size(); ++l) {
    if (!blocks_[l].gss) continue;
    const GssLayer& g = *blocks_[l].gss;
    const int64_t H = cfg_.gss_h, N = cfg_.dss_n;
    const auto host = [&](const Tensor& t) {
      std::vector<double> v(static_cast<size_t>(t.numel()));
      dispatch_float("decoder", t.dtype, [&](auto tag) {
        using T = decltype(tag);
        const T* p = t.as<T>();
        for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(p[i]);
      });
      return v;
    };
    const std::vector<double> lr = host(g.lambda_re.value), li = host(g.lambda_im.value),
                              cr = host(g.c_re.value), ci = host(g.c_im.value);
    GssState& s = gss_[l];
    s.decay.resize(static_cast<size_t>(N));
    s.ct.resize(static_cast<size_t>(H * N));
    s.state.assign(static_cast<size_t>(H * N), Cplx<double>{0, 0});
    for (int64_t n = 0; n < N; ++n) {
      const Cplx<double> lambda =
          dss_lambda<double>(lr[static_cast<size_t>(n)], li[static_cast<size_t>(n)]);
      Cplx<double> f, df;
      dss_factor(lambda, &f, &df);
      s.decay[static_cast<size_t>(n)] = cexp(lambda);
      for (int64_t h = 0; h < H; ++h) {
        const size_t i = static_cast<size_t>(h * N + n);
        s.ct[i] = Cplx<double>{cr[i], ci[i]} * f;
      }
    }
  }
  scores_.resize(static_cast<size_t>(max_len_));
}

void Decoder::plan(Planner& p) {
  const LayerShape s{cfg_, 1, 1, {}};
  const bool attention = cfg_.block.serial || cfg_.block.attention;
  embedding_ = make_embedding(p, s);
  token_ = p.act("decoder.token", {1, 1}, DType::i32);
  x_[0] = p.act("decoder.x0", {1, 1, cfg_.d});
  x_[1] = p.act("decoder.x1", {1, 1, cfg_.d});
  if (attention) rope_ = p.stat("decoder.rope", {max_len_, cfg_.head_dim() / 2, 2});
  blocks_.clear();
  k_cache_.assign(static_cast<size_t>(cfg_.n_layers), Tensor());
  v_cache_.assign(static_cast<size_t>(cfg_.n_layers), Tensor());
  for (int64_t l = 0; l < cfg_.n_layers; ++l) {
    blocks_.push_back(make_block(p, l, s));
    if (!attention) continue;
    const Shape cache{cfg_.n_kv, max_len_, cfg_.head_dim()};
    k_cache_[static_cast<size_t>(l)] = p.act(fmt::format("decoder.{}.k_cache", l), cache);
    v_cache_[static_cast<size_t>(l)] = p.act(fmt::format("decoder.{}.v_cache", l), cache);
  }
  head_ = make_head(p, s);
}

void Decoder::reset() {
  position_ = 0;
  for (GssState& s : gss_) std::fill(s.state.begin(), s.state.end(), Cplx<double>{0, 0});
}

void Decoder::attention_step(size_t layer, const Tensor& h, const Tensor& out) {
  const AttentionLayer& L = *blocks_[layer].attention;
  const int64_t p = position_, d_h = cfg_.head_dim();
  attention_project(be_, L, h, rope_.slice0(p, 1));
  const decoder_rows::CacheDims dims{cfg_.n_q, cfg_.n_kv, d_h, max_len_};
  dispatch_float("decoder attention", h.dtype, [&](auto tag) {
    using T = decltype(tag);
    T* k_cache = k_cache_[layer].as<T>();
    T* v_cache = v_cache_[layer].as<T>();
    // k, v [1, 1, n_kv, d_h] go to position p of each kv head's cache.
    for (int64_t g = 0; g < cfg_.n_kv; ++g) {
      const size_t bytes = static_cast<size_t>(d_h) * sizeof(T);
      std::memcpy(k_cache + (g * max_len_ + p) * d_h, L.k.as<T>() + g * d_h, bytes);
      std::memcpy(v_cache + (g * max_len_ + p) * d_h, L.v.as<T>() + g * d_h, bytes);
    }
    decoder_rows::attend_cached(L.q.as<T>(), k_cache, v_cache, dims,
                                attention_first_key(p, L.window), p, scores_.data(), L.o.as<T>());
  });
  attention_output(be_, L, out);
}

void Decoder::gss_step(size_t layer, const Tensor& h, const Tensor& out) {
  const GssLayer& L = *blocks_[layer].gss;
  GssState& s = gss_[layer];
  gss_input(be_, L, h);
  dispatch_float("decoder gss", h.dtype, [&](auto tag) {
    using T = decltype(tag);
    decoder_rows::dss_recurrence_step(s.decay.data(), s.ct.data(), s.state.data(), L.zn.as<T>(),
                                      cfg_.gss_h, cfg_.dss_n, L.conv.as<T>());
  });
  gss_output(be_, L, out);
}

void Decoder::advance(int32_t token) {
  PHA_REQUIRE(token >= 0 && token < cfg_.vocab, "token id {} is outside the vocabulary [0, {})",
              token, cfg_.vocab);
  PHA_REQUIRE(position_ < max_len_,
              "the decoder holds {} positions and all are used: a sequence may be at most {} "
              "tokens (model.max_seq_len), prompt included",
              max_len_, max_len_);
  be_.copy_from_host(token_, &token);
  embedding_forward(be_, embedding_, token_, x_[0], nullptr);
  for (size_t l = 0; l < blocks_.size(); ++l) {
    const Tensor& x_in = x_[l % 2];
    const Tensor& x_out = x_[(l + 1) % 2];
    block_forward_with(
        be_, blocks_[l], x_in, x_out, nullptr,
        [&](const Tensor& h, const Tensor& out) { attention_step(l, h, out); },
        [&](const Tensor& h, const Tensor& out) { gss_step(l, h, out); });
  }
  ++position_;
}

void Decoder::feed(int32_t token) {
  advance(token);
}

const Tensor& Decoder::step(int32_t token) {
  advance(token);
  const Tensor& weight =
      cfg_.tie_embeddings ? embedding_.weight.compute : head_.untied_weight.compute;
  head_logits(be_, head_, x_[blocks_.size() % 2], weight);
  return head_.logits;
}

}  // namespace pha
