#pragma once
// The model's configuration: sizes and the selectable choices of ../shared/spec/model.md.
#include <cstdint>
#include <string>

#include "core/backend.h"

namespace pha {

enum class MixerKind : uint8_t { softmax, scalar, channel };
enum class DssInit : uint8_t { random, s4d };

// Which branches a block runs. serial = the standard pre-norm Transformer (attention then FFN).
struct BlockKind {
  bool attention = true, gss = true, ffn = true;
  bool serial = false;
  int n_active() const { return serial ? 2 : int(attention) + int(gss) + int(ffn); }
  std::string str() const;  // "pha", "serial", "attention+ffn", ...
  static BlockKind parse(const std::string& text);
};

struct ModelConfig {
  int64_t d = 256;       // model width
  int64_t n_q = 8;       // query heads
  int64_t n_kv = 2;      // key/value heads
  int64_t d_h = 0;       // head width; 0 = d / n_q
  int64_t d_ff = 768;    // FFN width
  int64_t gss_f = 384;   // GSS gate width F
  int64_t gss_h = 64;    // GSS state channels H
  int64_t dss_n = 64;    // DSS modes N
  int64_t n_layers = 4;  // L
  int64_t vocab = 512;   // V as the tokenizer sees it; padded to a multiple of 64 for E
  int64_t max_seq_len = 1024;
  int64_t attn_window = 0;  // 0 = full causal attention
  BlockKind block;
  MixerKind mixer = MixerKind::softmax;
  DssInit dss_init = DssInit::random;
  bool tie_embeddings = true;
  ConvAlgo conv_algo = ConvAlgo::fft;
  double norm_eps = 1e-5;

  int64_t head_dim() const { return d_h > 0 ? d_h : d / n_q; }
  int64_t vocab_padded() const { return (vocab + 63) / 64 * 64; }
  // Refuses an inconsistent configuration with one message naming the value and the rule.
  void validate() const;
  // One-line summary for logs.
  std::string summary() const;
};

// tiny, small, pha-90m, pha-125m, pha-180m, serial-90m, serial-125m, serial-180m.
ModelConfig model_preset(const std::string& name);
const char* model_preset_names();

std::string mixer_name(MixerKind m);
MixerKind parse_mixer(const std::string& text);
std::string dss_init_name(DssInit i);
DssInit parse_dss_init(const std::string& text);

}  // namespace pha
