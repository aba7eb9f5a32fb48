#include "launch/weights_file.h"

#include <fmt/format.h>

#include <map>

#include "io/tensor_file.h"

namespace pha::launch {

namespace {

NamedTensors model_tensors(Model& model) {
  NamedTensors tensors;
  for (const ParamSpec& spec : model.param_specs())
    tensors.emplace_back("model/" + spec.name, model.params().get(spec.name));
  return tensors;
}

std::map<std::string, std::string> model_attributes(const ModelConfig& c) {
  return {{"d", std::to_string(c.d)},
          {"n_q", std::to_string(c.n_q)},
          {"n_kv", std::to_string(c.n_kv)},
          {"d_h", std::to_string(c.head_dim())},
          {"d_ff", std::to_string(c.d_ff)},
          {"F", std::to_string(c.gss_f)},
          {"H", std::to_string(c.gss_h)},
          {"N", std::to_string(c.dss_n)},
          {"L", std::to_string(c.n_layers)},
          {"V", std::to_string(c.vocab_padded())},
          {"block", c.block.str()},
          {"mixer", mixer_name(c.mixer)},
          {"attn_window", std::to_string(c.attn_window)},
          {"tie_embeddings", c.tie_embeddings ? "1" : "0"}};
}

}  // namespace

void save_weights(const std::string& path, Model& model, const std::string& config_ini) {
  PHA_REQUIRE(model.backend().device() == Device::cpu,
              "save_weights reads host tensors; copy the model to the host first");
  auto attributes = model_attributes(model.config());
  attributes["config"] = config_ini;
  save_tensors(path, model_tensors(model), attributes);
}

void load_weights(const std::string& path, Model& model) {
  load_tensors(path, model_tensors(model));
}

std::string weights_config_text(const std::string& path) {
  const auto attributes = load_attributes(path);
  auto it = attributes.find("config");
  PHA_REQUIRE(it != attributes.end(),
              "'{}' has no 'config' attribute: it was not written by pha train; pass the "
              "configuration with --config",
              path);
  return it->second;
}

}  // namespace pha::launch
