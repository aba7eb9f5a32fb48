// `pha export`: a run's weights as model.safetensors (the parameter names of model.md, global
// shapes) plus a Hugging Face-style config.json, for tools outside pha.
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <filesystem>
#include <fstream>

#include "core/version.h"
#include "io/h5_file.h"
#include "io/safetensors.h"
#include "launch/command_options.h"
#include "launch/commands.h"
#include "launch/distributed.h"
#include "launch/hf_config.h"
#include "launch/ini_config.h"
#include "launch/weights_file.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace pha::launch {

int run_export(const std::vector<std::string>& args) {
  MpiSession mpi(nullptr, nullptr);
  std::string run_dir, weights, out_dir, format = "safetensors", dtype_name = "f32";
  po::options_description opts(
      "pha export (--run DIR | --weights FILE) [--format safetensors] [--dtype f32|bf16] "
      "[--out DIR]");
  opts.add_options()("help,h", "print this help")(
      "run", po::value(&run_dir), "a run directory of pha train (reads DIR/weights.h5)")(
      "weights", po::value(&weights), "a weights file written by pha train or pha import")(
      "format", po::value(&format)->default_value(format), "output format: safetensors")(
      "dtype", po::value(&dtype_name)->default_value(dtype_name),
      "f32 (bit-exact) | bf16 (rounded to nearest even)")(
      "out", po::value(&out_dir),
      "output directory for model.safetensors and config.json (default: export/ beside the "
      "weights file)");
  po::variables_map vm;
  if (!parse_command_options(opts, args, vm)) return 0;
  PHA_REQUIRE(format == "safetensors", "--format {}: the only format is safetensors", format);
  const io::SafetensorsDType dtype = io::parse_safetensors_dtype(dtype_name);
  weights = weights_of(run_dir, weights, "pha export");
  if (out_dir.empty()) out_dir = (fs::path(weights).parent_path() / "export").string();

  const std::string ini = weights_config_text(weights);
  TrainConfig cfg = config_from_ini(ini);
  cfg.finalize();
  std::vector<io::NamedTensor> tensors;
  int64_t parameters = 0;
  h5::File file = h5::File::open(weights);
  for (const ParamSpec& spec : model_param_specs(cfg.model)) {
    const std::string name = "model/" + spec.name;
    PHA_REQUIRE(file.is_dataset(name), "'{}' has no dataset '{}': not written by pha train",
                weights, name);
    const Shape stored = file.shape(name);
    PHA_REQUIRE(stored == spec.global_shape,
                "'{}': dataset '{}' has shape {} but its configuration gives {}", weights, name,
                stored.str(), spec.global_shape.str());
    io::NamedTensor t;
    t.name = spec.name;
    t.shape.assign(stored.dims.begin(), stored.dims.begin() + stored.rank);
    t.values.resize(static_cast<size_t>(stored.numel()));
    file.read(name, Tensor(t.values.data(), DType::f32, Device::cpu, stored));
    parameters += stored.numel();
    tensors.push_back(std::move(t));
  }
  file.close();

  fs::create_directories(out_dir);
  const std::string st_path = (fs::path(out_dir) / "model.safetensors").string();
  const std::string config_path = (fs::path(out_dir) / "config.json").string();
  // "format": "pt" lets transformers' loaders accept the file; the run's whole configuration
  // travels along so that `pha import` restores data and training settings too.
  io::write_safetensors(st_path, tensors, dtype,
                        {{"format", "pt"}, {"pha.config", ini}, {"pha.version", PHA_VERSION}});
  std::ofstream config(config_path);
  config << hf_config_json(cfg, dtype);
  config.close();
  PHA_REQUIRE(config.good(), "cannot write '{}'", config_path);
  fmt::print("exported {} tensors ({} parameters) of {} as {} to {} and {}\n", tensors.size(),
             parameters, weights, io::safetensors_dtype_name(dtype), st_path, config_path);
  return 0;
}

}  // namespace pha::launch
