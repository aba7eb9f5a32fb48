#include "launch/hf_config.h"

#include <fmt/format.h>

#include "core/error.h"
#include "io/json_reader.h"

namespace pha::launch {

namespace {
// Fixed by the spec (model.md): RoPE base 10000 (half-split), RMSNorm epsilon 1e-5.
constexpr double kRopeTheta = 10000.0;
}  // namespace

std::string hf_config_json(const TrainConfig& cfg, io::SafetensorsDType dtype) {
  const ModelConfig& m = cfg.model;
  std::string s = "{\n";
  auto add = [&s](const std::string& key, const std::string& json) {
    s += fmt::format("{}  {}: {}", s.size() > 2 ? ",\n" : "", io::json_quote(key), json);
  };
  auto str = [](const std::string& v) { return io::json_quote(v); };
  add("model_type", str("pha"));
  add("torch_dtype", str(dtype == io::SafetensorsDType::f32 ? "float32" : "bfloat16"));
  add("vocab_size", std::to_string(m.vocab));
  add("padded_vocab_size", std::to_string(m.vocab_padded()));
  add("hidden_size", std::to_string(m.d));
  add("num_hidden_layers", std::to_string(m.n_layers));
  add("num_attention_heads", std::to_string(m.n_q));
  add("num_key_value_heads", std::to_string(m.n_kv));
  add("head_dim", std::to_string(m.head_dim()));
  add("intermediate_size", std::to_string(m.d_ff));
  add("gss_gate_size", std::to_string(m.gss_f));
  add("gss_state_channels", std::to_string(m.gss_h));
  add("dss_modes", std::to_string(m.dss_n));
  add("block", str(m.block.str()));
  add("mixer", str(mixer_name(m.mixer)));
  add("dss_init", str(dss_init_name(m.dss_init)));
  add("gss_conv", str(cfg.conv));
  add("tie_word_embeddings", m.tie_embeddings ? "true" : "false");
  add("rope_theta", fmt::format("{:.1f}", kRopeTheta));
  add("max_position_embeddings", std::to_string(m.max_seq_len));
  add("attn_window", std::to_string(m.attn_window));
  add("rms_norm_eps", fmt::format("{}", m.norm_eps));
  return s + "\n}\n";
}

void apply_hf_config(const io::JsonValue& json, const std::string& source, TrainConfig& cfg) {
  PHA_REQUIRE(json.is(io::JsonValue::Kind::object), "{}: expected a JSON object", source);
  auto get = [&](const char* key) -> const io::JsonValue& {
    const io::JsonValue* v = json.find(key);
    PHA_REQUIRE(v != nullptr, "{} has no '{}': it is not a config.json written by pha export",
                source, key);
    return *v;
  };
  auto what = [&](const char* key) { return fmt::format("{}: {}", source, key); };
  auto integer = [&](const char* key) { return get(key).as_int(what(key)); };
  const std::string& type = get("model_type").as_string(what("model_type"));
  PHA_REQUIRE(type == "pha", "{}: model_type is '{}', but pha imports only model_type 'pha'",
              source, type);
  ModelConfig& m = cfg.model;
  m.vocab = integer("vocab_size");
  m.d = integer("hidden_size");
  m.n_layers = integer("num_hidden_layers");
  m.n_q = integer("num_attention_heads");
  m.n_kv = integer("num_key_value_heads");
  m.d_h = integer("head_dim");
  m.d_ff = integer("intermediate_size");
  m.gss_f = integer("gss_gate_size");
  m.gss_h = integer("gss_state_channels");
  m.dss_n = integer("dss_modes");
  m.max_seq_len = integer("max_position_embeddings");
  m.attn_window = integer("attn_window");
  m.tie_embeddings = get("tie_word_embeddings").as_bool(what("tie_word_embeddings"));
  cfg.block = get("block").as_string(what("block"));
  cfg.mixer = get("mixer").as_string(what("mixer"));
  cfg.dss_init = get("dss_init").as_string(what("dss_init"));
  cfg.conv = get("gss_conv").as_string(what("gss_conv"));
  const double theta = get("rope_theta").as_double(what("rope_theta"));
  PHA_REQUIRE(theta == kRopeTheta, "{}: rope_theta = {}, but pha's RoPE base is fixed at {}",
              source, theta, kRopeTheta);
  const double eps = get("rms_norm_eps").as_double(what("rms_norm_eps"));
  PHA_REQUIRE(eps == m.norm_eps, "{}: rms_norm_eps = {}, but pha's RMSNorm epsilon is fixed at {}",
              source, eps, m.norm_eps);
  if (const io::JsonValue* padded = json.find("padded_vocab_size"))
    PHA_REQUIRE(padded->as_int(what("padded_vocab_size")) == m.vocab_padded(),
                "{}: padded_vocab_size = {} but vocab_size {} pads to {}", source, padded->text,
                m.vocab, m.vocab_padded());
}

}  // namespace pha::launch
