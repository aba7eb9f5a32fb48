#include "launch/weights_file.h"

#include <fmt/format.h>

#include <cstring>
#include <map>
#include <vector>

#include "io/h5_file.h"

namespace pha::launch {

namespace {

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

// This rank's block of `spec` in the file: (dim, offset), dim -1 for the whole tensor.
std::pair<int, int64_t> block_of(const ParamSpec& spec) {
  switch (spec.split) {
    case TpSplit::replicated:
      return {-1, 0};
    case TpSplit::rows:
      return {0, spec.offset};
    case TpSplit::cols:
      return {1, spec.offset};
  }
  return {-1, 0};
}

// Host copy of a device tensor (the identity on the CPU backend).
std::vector<char> host_bytes(Backend& be, const Tensor& t) {
  std::vector<char> bytes(t.bytes());
  be.copy_to_host(t, bytes.data());
  return bytes;
}

}  // namespace

void save_weights(const std::string& path, Model& model, const Arena& masters,
                  const std::string& config_ini, MPI_Comm comm, const parallel::GridCoord& coord) {
  h5::File file = h5::File::create(path, comm);
  // Structure first, identically on every rank (HDF5 wants it collective).
  for (const ParamSpec& spec : model_param_specs(model.config()))
    file.create_dataset("model/" + spec.name, DType::f32, spec.global_shape);
  auto attributes = model_attributes(model.config());
  attributes["config"] = config_ini;
  for (const auto& [key, value] : attributes) file.set_string_attribute("", key, value);
  // Then each owner writes its block (independent transfers).
  if (coord.dp == 0 && coord.cp == 0) {
    for (const ParamSpec& spec : model.param_specs()) {
      const bool tied_copy = spec.name == "embedding.weight" && !model.part().has_embedding;
      if (tied_copy || (spec.split == TpSplit::replicated && coord.tp != 0)) continue;
      const Tensor value = masters.get(spec.name);
      std::vector<char> bytes = host_bytes(model.backend(), value);
      std::vector<float> f32(static_cast<size_t>(value.numel()));
      if (value.dtype == DType::f64) {
        const double* src = reinterpret_cast<const double*>(bytes.data());
        for (size_t i = 0; i < f32.size(); ++i) f32[i] = static_cast<float>(src[i]);
      } else {
        std::memcpy(f32.data(), bytes.data(), bytes.size());
      }
      const Tensor host(f32.data(), DType::f32, Device::cpu, value.shape);
      const auto [dim, offset] = block_of(spec);
      if (dim < 0)
        file.write("model/" + spec.name, host);
      else
        file.write_block("model/" + spec.name, host, dim, offset);
    }
  }
  file.close();
}

void load_weights(const std::string& path, Model& model, MPI_Comm comm) {
  h5::File file = h5::File::open(path, comm);
  std::vector<float> values;
  for (size_t i = 0; i < model.param_specs().size(); ++i) {
    const ParamSpec& spec = model.param_specs()[i];
    const std::string name = "model/" + spec.name;
    PHA_REQUIRE(file.is_dataset(name),
                "'{}' has no dataset '{}': it was written for another model configuration", path,
                name);
    const Shape stored = file.shape(name);
    PHA_REQUIRE(stored == spec.global_shape,
                "'{}': dataset '{}' has shape {} but this model's is {}: another configuration",
                path, name, stored.str(), spec.global_shape.str());
    values.resize(static_cast<size_t>(spec.shape.numel()));
    const Tensor host(values.data(), DType::f32, Device::cpu, spec.shape);
    const auto [dim, offset] = block_of(spec);
    if (dim < 0)
      file.read(name, host);
    else
      file.read_block(name, host, dim, offset);
    model.write_master(i, values.data());  // and its compute copy
  }
  file.close();
}

std::string weights_config_text(const std::string& path) {
  h5::File file = h5::File::open(path);
  PHA_REQUIRE(file.has_attribute("", "config"),
              "'{}' has no 'config' attribute: it was not written by pha train", path);
  return file.string_attribute("", "config");
}

}  // namespace pha::launch
