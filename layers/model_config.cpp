#include "layers/model_config.h"

#include <fmt/format.h>

#include <sstream>

namespace pha {

std::string BlockKind::str() const {
  if (serial) return "serial";
  if (attention && gss && ffn) return "pha";
  std::string s;
  if (attention) s += "attention";
  if (gss) s += s.empty() ? "gss" : "+gss";
  if (ffn) s += s.empty() ? "ffn" : "+ffn";
  return s;
}

BlockKind BlockKind::parse(const std::string& text) {
  BlockKind k;
  if (text == "pha") return k;
  if (text == "serial") {
    k.serial = true;
    return k;
  }
  k.attention = k.gss = k.ffn = false;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, '+')) {
    if (part == "attention" || part == "attn")
      k.attention = true;
    else if (part == "gss")
      k.gss = true;
    else if (part == "ffn")
      k.ffn = true;
    else
      fail(
          "block '{}': unknown branch '{}'; use pha, serial, or a '+'-joined subset of "
          "attention, gss, ffn",
          text, part);
  }
  PHA_REQUIRE(k.n_active() > 0, "block '{}' has no branch", text);
  return k;
}

std::string mixer_name(MixerKind m) {
  switch (m) {
    case MixerKind::softmax:
      return "softmax";
    case MixerKind::scalar:
      return "scalar";
    case MixerKind::channel:
      return "channel";
  }
  return "?";
}

MixerKind parse_mixer(const std::string& text) {
  if (text == "softmax") return MixerKind::softmax;
  if (text == "scalar") return MixerKind::scalar;
  if (text == "channel") return MixerKind::channel;
  fail("mixer '{}' is unknown; use softmax, scalar or channel", text);
}

std::string dss_init_name(DssInit i) {
  return i == DssInit::random ? "random" : "s4d";
}

DssInit parse_dss_init(const std::string& text) {
  if (text == "random") return DssInit::random;
  if (text == "s4d") return DssInit::s4d;
  fail("dss_init '{}' is unknown; use random or s4d", text);
}

void ModelConfig::validate() const {
  auto positive = [](const char* name, int64_t v) {
    PHA_REQUIRE(v > 0, "model.{} = {}: must be positive", name, v);
  };
  positive("d", d);
  positive("n_layers", n_layers);
  positive("vocab", vocab);
  positive("max_seq_len", max_seq_len);
  PHA_REQUIRE(attn_window >= 0, "model.attn_window = {}: must be 0 (full) or positive",
              attn_window);
  const bool uses_attention = block.serial || block.attention;
  const bool uses_ffn = block.serial || block.ffn;
  if (uses_attention) {
    positive("n_q", n_q);
    positive("n_kv", n_kv);
    PHA_REQUIRE(d_h > 0 || d % n_q == 0,
                "model.d = {} is not divisible by model.n_q = {}: set d to a multiple of n_q, or "
                "set d_h explicitly",
                d, n_q);
    PHA_REQUIRE(n_q % n_kv == 0,
                "model.n_q = {} is not a multiple of model.n_kv = {}: GQA shares each key/value "
                "head among n_q/n_kv query heads",
                n_q, n_kv);
    PHA_REQUIRE(head_dim() % 2 == 0,
                "head width d_h = {} is odd: RoPE rotates pairs (x_i, x_(i+d_h/2)), so d_h must "
                "be even",
                head_dim());
  }
  if (uses_ffn) positive("d_ff", d_ff);
  if (!block.serial && block.gss) {
    positive("gss_f", gss_f);
    positive("gss_h", gss_h);
    positive("dss_n", dss_n);
  }
}

std::string ModelConfig::summary() const {
  return fmt::format(
      "block {} mixer {} L {} d {} n_q {} n_kv {} d_h {} d_ff {} F {} H {} N {} V {} (padded {}) "
      "window {} tied {}",
      block.str(), mixer_name(mixer), n_layers, d, n_q, n_kv, head_dim(), d_ff, gss_f, gss_h, dss_n,
      vocab, vocab_padded(), attn_window, tie_embeddings);
}

namespace {
ModelConfig gpt2_shaped(int64_t layers, bool serial) {
  ModelConfig c;
  c.d = 768;
  c.n_q = 12;
  c.n_kv = serial ? 12 : 4;
  c.d_h = 64;
  c.d_ff = serial ? 3072 : 2048;
  c.gss_f = 1024;
  c.gss_h = 256;
  c.dss_n = 512;
  c.n_layers = layers;
  c.vocab = 50257;
  c.max_seq_len = 8192;
  c.block.serial = serial;
  return c;
}
}  // namespace

const char* model_preset_names() {
  return "tiny, small, pha-90m, pha-125m, pha-180m, serial-90m, serial-125m, serial-180m";
}

ModelConfig model_preset(const std::string& name) {
  if (name == "tiny") {
    ModelConfig c;  // the defaults above are the tiny preset
    return c;
  }
  if (name == "small") {
    ModelConfig c;
    c.d = 512;
    c.n_q = 8;
    c.n_kv = 4;
    c.d_ff = 1536;
    c.gss_f = 768;
    c.gss_h = 128;
    c.dss_n = 256;
    c.n_layers = 6;
    c.vocab = 8192;
    c.max_seq_len = 2048;
    return c;
  }
  const struct {
    const char* suffix;
    int64_t layers;
  } sizes[] = {{"90m", 7}, {"125m", 12}, {"180m", 20}};
  for (const auto& s : sizes) {
    if (name == fmt::format("pha-{}", s.suffix)) return gpt2_shaped(s.layers, false);
    if (name == fmt::format("serial-{}", s.suffix)) return gpt2_shaped(s.layers, true);
  }
  fail("model preset '{}' is unknown; presets: {}", name, model_preset_names());
}

}  // namespace pha
